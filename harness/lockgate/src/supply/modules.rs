//! The kernel modules the guest loads before its cases (issue 26 item 3, issue 28 item 5):
//! distribution kernels build overlayfs as a module, and the guest has no modprobe or udev to
//! load it when a mount asks for it. So each packaged kernel's modules come out of its own
//! package (Debian's image package, Ubuntu's `linux-modules-*`, named by the manifest's
//! `modules:`), decompressed here (`.ko.xz`, `.ko.zst`, `.ko.gz`: the guest loads plain `.ko`,
//! which every kernel's finit_module takes), with the modules they depend on (their
//! `.modinfo` `depends=`, which depmod's modules.dep is made from; the package ships no
//! modules.dep, depmod writes it on install), into an archive of their own laid over the base
//! image for that kernel's boots only (`MODULES_DIR`).
//!
//! A kernel built here from `tiny.config` has no modules (and no overlayfs): it gets no archive,
//! and its preflight says `overlayfs: false`.

use super::{Artifact, Supply, Which};
use crate::image::newc::Newc;
use crate::model::kernel::{KernelManifest, KernelSource, PackageRef};
use anyhow::{bail, Context, Result};
use lockgate_protocol::MODULES_DIR;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The modules a case may need: overlayfs (an `overlay` setup path, a container's root).
pub const WANTED: [&str; 1] = ["overlay"];

/// Bump when the archive's layout changes, so cached archives are remade.
const LAYOUT_VERSION: u32 = 1;

impl Supply {
    /// The package holding the modules of a packaged kernel, fetched and verified against the
    /// kernel lock (`kernels lock` pins it); `None` for kernels that come otherwise (a URL's
    /// .deb is its own modules package: see [`Supply::kernel_modules`]).
    pub fn modules_package(&mut self, k: &KernelManifest) -> Result<Option<Artifact>> {
        let KernelSource::Package { package, modules, .. } = &k.source else { return Ok(None) };
        let pkg = match modules {
            Some(name) => PackageRef { name: name.clone(), ..package.clone() },
            None => package.clone(),
        };
        let cached = self.kernel_lock.get(&pkg.lock_key()).is_some_and(|d| self.cache.blob_path(d).exists());
        let _fetching = if cached { None } else { Some(self.cache.lock()?) };
        self.package(&pkg, Which::Kernels).map(Some).with_context(|| format!("kernel `{}`: its modules", k.name))
    }

    /// The archive of the [`WANTED`] modules of kernel `k` and their dependencies, cached under
    /// the digest of the package they come from; `None` for a kernel with no package to take
    /// them from (built here, or a bzImage). An archive may hold no module: the kernel has them
    /// built in, or not at all.
    pub fn kernel_modules(&mut self, k: &KernelManifest) -> Result<Option<PathBuf>> {
        let deb = match &k.source {
            KernelSource::Package { .. } => self.modules_package(k)?,
            KernelSource::Url { url, image: Some(_) } => Some(self.url_artifact(url, Which::Kernels)?),
            KernelSource::Url { image: None, .. } | KernelSource::Path { .. } | KernelSource::Build(_) => None,
        };
        let Some(deb) = deb else { return Ok(None) };
        let key = crate::cache::sha256_bytes(
            format!("modules layout {LAYOUT_VERSION}\n{}\n{}", deb.sha256, WANTED.join(",")).as_bytes(),
        );
        let path = self.cache.dir("images").join(format!("modules-{}.cpio", &key[..16]));
        if path.exists() {
            return Ok(Some(path));
        }
        let work = self.cache.tempdir()?;
        let found = extract(&deb.path, &WANTED, work.path())
            .with_context(|| format!("kernel `{}`: modules from {}", k.name, deb.path.display()))?;
        let mut a = Newc::new();
        a.dir(MODULES_DIR, 0o755);
        let mut order = String::new();
        for (name, bytes) in &found {
            a.file(&format!("{MODULES_DIR}/{name}.ko"), 0o644, bytes);
            order.push_str(name);
            order.push('\n');
        }
        a.file(&format!("{MODULES_DIR}/order"), 0o644, order.as_bytes());
        crate::cache::write_atomic(&path, &a.finish())?;
        Ok(Some(path))
    }
}

/// A module's name as the kernel knows it: its file name without `.ko[.xz|.zst|.gz]`, `-` as `_`.
fn module_name(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"].iter().find_map(|ext| file.strip_suffix(ext))?;
    Some(stem.replace('-', "_"))
}

/// Every module file of the package (`…/modules/<release>/kernel/…`), by name.
fn list(deb: &Path) -> Result<BTreeMap<String, String>> {
    let out = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .stdin(Stdio::null())
        .output()
        .context("cannot run dpkg-deb (package dpkg)")?;
    if !out.status.success() {
        bail!("dpkg-deb -c {} failed: {}", deb.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.contains("/modules/") && p.contains("/kernel/"))
        .filter_map(|p| Some((module_name(p)?, p.to_string())))
        .collect())
}

/// The modules `wanted` and those they depend on, decompressed, dependencies first; a wanted
/// module the package lacks is left out (built in, or absent: the guest's preflight tells).
fn extract(deb: &Path, wanted: &[&str], work: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let files = list(deb)?;
    let mut done: Vec<(String, Vec<u8>)> = Vec::new();
    let mut visiting: Vec<String> = Vec::new();
    for name in wanted {
        if files.contains_key(*name) {
            visit(name, &files, deb, work, &mut done, &mut visiting)?;
        }
    }
    Ok(done)
}

/// Depth first: a module's dependencies go before it.
fn visit(
    name: &str,
    files: &BTreeMap<String, String>,
    deb: &Path,
    work: &Path,
    done: &mut Vec<(String, Vec<u8>)>,
    visiting: &mut Vec<String>,
) -> Result<()> {
    if done.iter().any(|(n, _)| n == name) {
        return Ok(());
    }
    if visiting.iter().any(|n| n == name) {
        bail!("modules depend on each other in a cycle: {} → {name}", visiting.join(" → "));
    }
    let Some(member) = files.get(name) else {
        bail!("module `{name}` is needed ({}) but the package has no {name}.ko", visiting.join(" → "));
    };
    let bytes = decompressed(deb, member, work)?;
    let depends = crate::elf::module_depends(&bytes).map_err(|e| anyhow::anyhow!("{member}: {e}"))?;
    visiting.push(name.to_string());
    for dep in &depends {
        visit(&dep.replace('-', "_"), files, deb, work, done, visiting)?;
    }
    visiting.pop();
    done.push((name.to_string(), bytes));
    Ok(())
}

/// One member of the package, decompressed by the tool its suffix names.
fn decompressed(deb: &Path, member: &str, work: &Path) -> Result<Vec<u8>> {
    let status = Command::new("bash")
        .args(["-c", "set -o pipefail; dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" -f - -- \"$3\"", "extract"])
        .arg(deb)
        .arg(work)
        .arg(member)
        .stdin(Stdio::null())
        .status()
        .context("cannot run dpkg-deb and tar (packages dpkg, tar)")?;
    let file = work.join(member.trim_start_matches("./"));
    if !status.success() || !file.is_file() {
        bail!("cannot extract {member} from {}", deb.display());
    }
    let tool = match member.rsplit('.').next() {
        Some("xz") => Some(("xz", "xz-utils")),
        Some("zst") => Some(("zstd", "zstd")),
        Some("gz") => Some(("gzip", "gzip")),
        _ => None,
    };
    let Some((tool, package)) = tool else {
        return std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()));
    };
    super::decompress(tool, &["-d", "-c", "--"], package, &file, member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_as_the_kernel_knows_them() {
        let p = "./usr/lib/modules/6.12.117+deb13-cloud-amd64/kernel/fs/overlayfs/overlay.ko.xz";
        assert_eq!(module_name(p).as_deref(), Some("overlay"));
        assert_eq!(module_name("./lib/modules/6.1.0/kernel/net/ipv4/tcp-bbr.ko").as_deref(), Some("tcp_bbr"));
        assert_eq!(module_name("./lib/modules/6.1.0/kernel/fs/overlayfs/").as_deref(), None);
        assert_eq!(module_name("./lib/modules/6.8.0/kernel/fs/x.ko.zst").as_deref(), Some("x"));
    }
}
