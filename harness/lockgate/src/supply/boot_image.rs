//! The kernel as QEMU boots it. A bzImage is a small decompressor with the compressed kernel as
//! its payload; under TCG the guest then spends 1–3 s of every boot decompressing it (Debian's
//! and Ubuntu's payloads are zstd, or LZ4 on Debian's 5.10 and 6.1: 11.7 MB in debian-6.12's
//! image, 14.9 MB in ubuntu-6.8's), before the kernel's own clock starts. QEMU's `-kernel` also
//! takes the uncompressed kernel, an ELF, when it carries a PVH entry point (CONFIG_PVH: every
//! distribution kernel of the default matrix has one), and loads its segments
//! from the host at no cost to the guest. So the payload is decompressed once, here, checked
//! against the size the kernel's build appended to it, and cached by the bzImage's digest; the
//! image's own digest stays what provenance names (the ELF is a function of it). A kernel with
//! no PVH note, or a payload this host cannot decompress, boots as its bzImage, as before.
//!
//! Measured: debian-6.12, one scenario bare, four pairs of boots back to back: the time outside
//! the kernel's clock (firmware, decompression, power-off) 1.7–2.7 s as a bzImage, 0.6–1.1 s as
//! its ELF; the cell 6.6–7.4 s against 5.3–6.3 s.

use super::{Artifact, Supply};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Bump when the extraction changes what it makes.
const RECIPE: &str = "lockgate-pvh-v1";

/// Recorded for a bzImage that has no bootable ELF, so that it is not tried again.
const NONE: &str = "none";

impl Supply {
    /// The uncompressed kernel of `image` when it boots by PVH, from the cache or made now;
    /// `None` for an image that cannot: one without a PVH note (recorded), or one this host
    /// could not decompress (said, and tried again next time).
    pub fn pvh_image(&self, image: &Artifact) -> Result<Option<Artifact>> {
        let index = self
            .cache
            .dir("index")
            .join(format!("pvh-{}", crate::cache::sha256_bytes(format!("{RECIPE}\n{}\n", image.sha256).as_bytes(),)));
        if let Ok(text) = std::fs::read_to_string(&index) {
            let digest = text.trim();
            if digest == NONE {
                return Ok(None);
            }
            if let Some(path) = self.cache.blob(digest)? {
                return Ok(Some(Artifact { path, sha256: digest.to_string() }));
            }
        }
        let bytes = std::fs::read(&image.path).with_context(|| format!("cannot read {}", image.path.display()))?;
        let work = self.cache.tempdir()?;
        match uncompressed(&bytes, work.path()) {
            Ok(Some(elf)) => {
                let file = work.path().join("vmlinux");
                std::fs::write(&file, &elf)?;
                let (digest, path) = self.cache.insert(&file, None, "a kernel's uncompressed ELF")?;
                crate::cache::write_atomic(&index, digest.as_bytes())?;
                Ok(Some(Artifact { path, sha256: digest }))
            }
            // A kernel built without CONFIG_PVH (lockgate's tiny ones: LZ4, which decompresses
            // fast) boots as its bzImage, as it should.
            Ok(None) => {
                crate::cache::write_atomic(&index, NONE.as_bytes())?;
                Ok(None)
            }
            // Not recorded: what failed may be this host's (a decompressor not installed yet);
            // the next run tries again, and says so again.
            Err(why) => {
                crate::event::emit(crate::event::Event::Warning(format!(
                    "{} boots as its bzImage (decompressed in the guest, 1-2 s slower under TCG): {why:#}",
                    image.path.display()
                )));
                Ok(None)
            }
        }
    }
}

/// The compressed kernel inside a bzImage and how it is compressed: from the setup header
/// (boot protocol 2.08+: `payload_offset`, `payload_length`, relative to the protected-mode
/// code, which starts after `setup_sects` + 1 sectors).
fn payload(bz: &[u8]) -> Result<(&[u8], Format)> {
    let u32_at = |at: usize| bz.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if bz.get(0x202..0x206) != Some(b"HdrS") {
        bail!("not a bzImage (no HdrS setup header)");
    }
    let version = bz.get(0x206..0x208).map(|b| u16::from_le_bytes([b[0], b[1]])).unwrap_or(0);
    if version < 0x208 {
        bail!("boot protocol {version:#x} has no payload fields (2.08 and later do)");
    }
    let setup_sects = match bz[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let (offset, length) = (u32_at(0x248).unwrap_or(0) as usize, u32_at(0x24c).unwrap_or(0) as usize);
    let start = (setup_sects + 1) * 512 + offset;
    let data = bz.get(start..start + length).context("the payload lies outside the file")?;
    Ok((data, Format::of(data)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Gzip,
    Xz,
    Lzma,
    Lz4,
    Zstd,
}

impl Format {
    fn of(data: &[u8]) -> Result<Format> {
        Ok(match data {
            [0x1f, 0x8b, ..] => Format::Gzip,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Format::Xz,
            [0x5d, 0, 0, ..] => Format::Lzma,
            [0x02, 0x21, 0x4c, 0x18, ..] => Format::Lz4,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Format::Zstd,
            _ => bail!("the payload's compression is none lockgate decompresses (gzip, xz, lzma, lz4, zstd)"),
        })
    }

    /// The decompressing command (tool, arguments, Debian package).
    fn tool(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            Format::Gzip => ("gzip", &["-d", "-c"], "gzip"),
            Format::Xz => ("xz", &["-d", "-c"], "xz-utils"),
            Format::Lzma => ("xz", &["--format=lzma", "-d", "-c"], "xz-utils"),
            Format::Lz4 => ("lz4", &["-d", "-c"], "lz4"),
            Format::Zstd => ("zstd", &["-d", "-c"], "zstd"),
        }
    }

    /// Every format but gzip (whose own trailer says it) is built with the uncompressed size
    /// appended, 4 bytes little-endian (the kernel's `*_with_size` commands).
    fn appends_size(self) -> bool {
        self != Format::Gzip
    }
}

/// The bzImage's kernel, decompressed and checked: its length is the one the build appended,
/// and it is an x86-64 ELF; `None` when it has no PVH entry.
fn uncompressed(bz: &[u8], work: &Path) -> Result<Option<Vec<u8>>> {
    let (data, format) = payload(bz)?;
    let (stream, size) = match format.appends_size() {
        true => {
            let (stream, tail) = data.split_at(data.len().checked_sub(4).context("an empty payload")?);
            (stream, Some(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize))
        }
        false => (data, None),
    };
    let input = work.join("payload");
    std::fs::write(&input, stream)?;
    let (tool, args, package) = format.tool();
    let elf = super::decompress(tool, args, package, &input, "the kernel's payload")?;
    if let Some(size) = size.filter(|&s| s != elf.len()) {
        bail!("the payload decompressed to {} bytes, the build says {size}", elf.len());
    }
    match crate::elf::has_pvh_entry(&elf) {
        Ok(true) => Ok(Some(elf)),
        Ok(false) => Ok(None),
        Err(e) => bail!("the payload is not a kernel ELF: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bzImage's setup header around `payload`: HdrS, protocol 2.15, one setup sector.
    fn bz_image(payload: &[u8]) -> Vec<u8> {
        let mut bz = vec![0u8; 2 * 512];
        bz[0x1f1] = 1;
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        bz[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        bz[0x248..0x24c].copy_from_slice(&16u32.to_le_bytes());
        bz[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        bz.extend_from_slice(&[0u8; 16]);
        bz.extend_from_slice(payload);
        bz
    }

    #[test]
    fn the_payload_is_found_by_the_setup_header() {
        let zstd = [0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5];
        let bz = bz_image(&zstd);
        let (data, format) = payload(&bz).unwrap();
        assert_eq!((data, format), (&zstd[..], Format::Zstd));
        assert!(payload(&bz[..bz.len() - 1]).is_err(), "a payload cut short is an error");
        assert!(payload(b"not a kernel").is_err());
        let e = payload(&bz_image(b"BZh91AY")).unwrap_err().to_string();
        assert!(e.contains("compression"), "{e}");
    }

    /// A real compressor's stream with the size appended, decompressed by the real tool: the
    /// size is checked, and what is not a PVH kernel is refused.
    #[test]
    fn a_payload_that_is_not_a_pvh_kernel_is_refused_after_its_size_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let plain = b"not an ELF at all".repeat(100);
        std::fs::write(dir.path().join("plain"), &plain).unwrap();
        let out = std::process::Command::new("xz")
            .args(["-c", "--check=crc32"])
            .arg(dir.path().join("plain"))
            .output()
            .unwrap();
        let mut stream = out.stdout;
        stream.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        let e = uncompressed(&bz_image(&stream), dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a kernel ELF"), "{e}");
        let wrong = stream.len() - 4;
        stream[wrong..].copy_from_slice(&7u32.to_le_bytes());
        let e = uncompressed(&bz_image(&stream), dir.path()).unwrap_err().to_string();
        assert!(e.contains("the build says 7"), "{e}");
    }

    /// An image whose payload cannot be decompressed boots as its bzImage, and that is not
    /// recorded in the cache: what failed may be the host's, and the next run tries again.
    #[test]
    fn a_failed_decompression_is_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = crate::cache::Cache::at(dir.path().join("cache")).unwrap();
        let root = crate::supply::guest::workspace_root();
        let supply = crate::supply::for_repo(&root, &root.join("kernels"), cache, false).unwrap();
        let image = dir.path().join("bzImage");
        // zstd's magic, then no zstd frame.
        std::fs::write(&image, bz_image(&[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5])).unwrap();
        let art = Artifact { path: image, sha256: "0".repeat(64) };
        assert!(supply.pvh_image(&art).unwrap().is_none());
        let recorded: Vec<_> = std::fs::read_dir(dir.path().join("cache/index"))
            .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n.to_string_lossy().starts_with("pvh-")).collect())
            .unwrap_or_default();
        assert!(recorded.is_empty(), "{recorded:?}");
    }
}
