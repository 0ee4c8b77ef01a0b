//! What an enforcer binary needs in the guest besides itself: its ELF interpreter and the shared
//! libraries it links (DT_NEEDED, recursively), as the host's own loader resolves them.
//!
//! The binary must be an x86-64 ELF executable (the guest is x86-64). A static one needs
//! nothing; a dynamic one is listed with `<its PT_INTERP> --list <binary>` (what `ldd` runs),
//! falling back to `ldd`.
//!
//! The guest may hold another C library already (the container runtime brings its own glibc),
//! and a loader must match its libc exactly. So the enforcer's loader and libraries go in a
//! directory of their own ([`PRIVATE_LIB_DIR`]), the guest's copy of the binary names that
//! loader in its PT_INTERP (rewritten in place, as patchelf does when the new path fits), and
//! the enforcer is started with `LD_LIBRARY_PATH` pointing there.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The interpreter (PT_INTERP) of an x86-64 ELF executable, `None` when it is static.
pub fn interpreter(bytes: &[u8]) -> Result<Option<String>, String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        let hint =
            if bytes.starts_with(b"#!") { " (it is a script: point the adapter at the program itself)" } else { "" };
        return Err(format!("not an ELF executable{hint}"));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("not a 64-bit little-endian ELF: the guest is x86-64".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at =
        |o: usize| -> Option<u64> { bytes.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())) };
    let machine = u16_at(18);
    if machine != 62 {
        return Err(format!("built for ELF machine {machine}, not x86-64 (62): the guest is x86-64"));
    }
    let kind = u16_at(16);
    if kind != 2 && kind != 3 {
        return Err(format!("ELF type {kind} is not an executable"));
    }
    let phoff = u64_at(32).ok_or("truncated ELF header")? as usize;
    let phentsize = u16_at(54) as usize;
    let phnum = u16_at(56) as usize;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let Some(header) = bytes.get(ph..ph + 56) else { return Err("truncated program headers".into()) };
        let p_type = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        if p_type == 3 {
            let (off, size) = (u64_at(ph + 8).unwrap_or(0) as usize, u64_at(ph + 32).unwrap_or(0) as usize);
            let raw = bytes.get(off..off + size).ok_or("PT_INTERP points outside the file")?;
            let path = String::from_utf8_lossy(raw).trim_end_matches('\0').to_string();
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Where an external enforcer's loader and libraries live in the guest.
pub const PRIVATE_LIB_DIR: &str = "/lockgate/lib";
/// Its loader (short enough to replace any usual PT_INTERP in place).
pub const PRIVATE_INTERP: &str = "/lockgate/lib/ld.so";

/// Rewrites PT_INTERP in place to `new`, padding with NULs; the new path must fit.
pub fn set_interpreter(bytes: &mut [u8], new: &str) -> Result<(), String> {
    interpreter(bytes)?.ok_or("a static binary has no interpreter to replace")?;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default()) as usize;
    let (phoff, phentsize, phnum) = (
        u64_at(bytes, 32),
        u16::from_le_bytes([bytes[54], bytes[55]]) as usize,
        u16::from_le_bytes([bytes[56], bytes[57]]) as usize,
    );
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32::from_le_bytes([bytes[ph], bytes[ph + 1], bytes[ph + 2], bytes[ph + 3]]) == 3 {
            let (off, size) = (u64_at(bytes, ph + 8), u64_at(bytes, ph + 32));
            if new.len() + 1 > size {
                return Err(format!("`{new}` does not fit in the {size} bytes of PT_INTERP"));
            }
            let slot = &mut bytes[off..off + size];
            slot.fill(0);
            slot[..new.len()].copy_from_slice(new.as_bytes());
            return Ok(());
        }
    }
    Err("no PT_INTERP".into())
}

/// Parses the loader's `--list` (ldd) output into the files to copy. `linux-vdso` has no file;
/// a library the loader could not find is an error naming it.
pub fn parse_list(out: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, rest) = match line.split_once(" => ") {
            Some((n, r)) => (n.trim(), r.trim()),
            None => (line, line),
        };
        if rest.starts_with("not found") {
            missing.push(name.to_string());
            continue;
        }
        let path = rest.split(" (0x").next().unwrap_or(rest).trim();
        if path.starts_with('/') {
            files.push(PathBuf::from(path));
        }
    }
    if !missing.is_empty() {
        return Err(format!("the host's loader cannot find {}", missing.join(", ")));
    }
    Ok(files)
}

/// The host files a binary needs in the guest (its interpreter and libraries), each at the
/// path where the guest must find it. Empty for a static binary.
pub fn dependencies(binary: &Path) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let interp = match interpreter(&bytes) {
        Ok(i) => i,
        Err(e) => bail!("{}: {e}", binary.display()),
    };
    let Some(interp) = interp else { return Ok(Vec::new()) };
    let listed = Command::new(&interp).arg("--list").arg(binary).output();
    let out = match listed {
        Ok(o) if o.status.success() => o,
        _ => Command::new("ldd").arg(binary).output().with_context(|| {
            format!("cannot list the libraries of {}: neither `{interp} --list` nor `ldd` ran", binary.display())
        })?,
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "cannot list the libraries of {} (its loader {interp} said: {}{})",
            binary.display(),
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut files = parse_list(&text).map_err(|e| {
        anyhow::anyhow!("{}: {e}; install them on this host, or link the enforcer statically", binary.display())
    })?;
    let interp = PathBuf::from(interp);
    if !files.contains(&interp) {
        files.push(interp);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_output_is_parsed() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3e)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f3e)\n";
        assert_eq!(
            parse_list(out).unwrap(),
            vec![PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"), PathBuf::from("/lib64/ld-linux-x86-64.so.2")]
        );
        let err = parse_list("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(err.contains("cannot find libfoo.so.1"), "{err}");
    }

    #[test]
    fn static_and_dynamic_binaries_are_told_apart() {
        // The test binary itself is dynamic (or static under crt-static); /bin/sh on the host is
        // dynamic on every Debian/Ubuntu. What matters: a path comes back for a dynamic one.
        let sh = std::fs::read("/bin/sh").unwrap();
        let interp = interpreter(&sh).unwrap();
        assert!(interp.as_deref().is_some_and(|i| i.starts_with('/')), "{interp:?}");
        let deps = dependencies(Path::new("/bin/sh")).unwrap();
        assert!(deps.iter().any(|d| d.to_string_lossy().contains("libc.so")), "{deps:?}");
        assert!(deps.contains(&PathBuf::from(interp.unwrap())));
        assert!(interpreter(b"#!/bin/sh\necho hi\n").unwrap_err().contains("script"));
        let mut patched = sh.clone();
        set_interpreter(&mut patched, PRIVATE_INTERP).unwrap();
        assert_eq!(interpreter(&patched).unwrap().as_deref(), Some(PRIVATE_INTERP));
        assert_eq!(patched.len(), sh.len());
        assert!(set_interpreter(&mut patched, &"/x".repeat(40)).unwrap_err().contains("does not fit"));
        let mut arm = sh.clone();
        arm[18] = 183;
        assert!(interpreter(&arm).unwrap_err().contains("not x86-64"));
    }
}
