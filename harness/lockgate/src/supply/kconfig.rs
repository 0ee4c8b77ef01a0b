//! Files out of a fetched .deb (a kernel image from a `url:` package, a kernel's config file),
//! and the host-side half of the preflight: a kernel's build configuration, read from the
//! package's `boot/config-*` (or a built kernel's `.config`) when the guest has no
//! `/proc/config.gz`.

use super::{Artifact, Supply};
use crate::model::kernel::{KernelManifest, KernelSource};
use anyhow::{bail, Context, Result};
use lockgate_protocol::KernelConfig;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where a package keeps the config of the kernel at `image`: `boot/vmlinuz-V` → `boot/config-V`,
/// `usr/lib/modules/V/vmlinuz` → `usr/lib/modules/V/config`.
pub fn config_path_for(image: &str) -> Option<String> {
    let (dir, file) = image.rsplit_once('/').unwrap_or(("", image));
    let config = if let Some(v) = file.strip_prefix("vmlinuz-").or_else(|| file.strip_prefix("vmlinux-")) {
        format!("config-{v}")
    } else if file == "vmlinuz" || file == "vmlinux" || file == "bzImage" {
        "config".to_string()
    } else {
        return None;
    };
    Some(if dir.is_empty() { config } else { format!("{dir}/{config}") })
}

impl Supply {
    /// One file of a fetched .deb, cached by (package digest, inner path).
    pub(super) fn file_of_deb(&mut self, deb: &Artifact, inner: &str) -> Result<Artifact> {
        match self.optional_file_of_deb(&deb.sha256, inner)? {
            Some(a) => Ok(a),
            None => bail!(
                "{} has no {inner}; list it with `dpkg-deb -c {}` and fix the manifest's `image:`",
                deb.path.display(),
                deb.path.display()
            ),
        }
    }

    /// As [`Supply::file_of_deb`], `None` when the package has no such file (remembered, so a
    /// warm run does not unpack the package again to find out).
    /// The package is found in the cache by its digest, and only read when the index does not
    /// answer already.
    fn optional_file_of_deb(&mut self, deb_sha256: &str, inner: &str) -> Result<Option<Artifact>> {
        let index = self.cache.dir("index").join(format!("{deb_sha256}-{}", super::sanitize(inner)));
        if let Ok(text) = std::fs::read_to_string(&index) {
            let digest = text.trim();
            if digest == "absent" {
                return Ok(None);
            }
            if let Some(path) = self.cache.blob(digest)? {
                return Ok(Some(Artifact { path, sha256: digest.to_string() }));
            }
        }
        let Some(deb_path) = self.cache.blob(deb_sha256)? else { return Ok(None) };
        let work = self.cache.tempdir()?;
        let member = format!("./{}", inner.trim_start_matches("./").trim_start_matches('/'));
        // tar fails for a member the archive lacks; the file's absence is what tells.
        let _ = Command::new("bash")
            .args(["-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" -f - -- \"$3\"", "extract"])
            .arg(&deb_path)
            .arg(work.path())
            .arg(&member)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run dpkg-deb and tar (packages dpkg, tar)")?;
        let out = work.path().join(member.trim_start_matches("./"));
        if !out.is_file() {
            crate::cache::write_atomic(&index, b"absent")?;
            return Ok(None);
        }
        let (digest, path) = self.cache.insert(&out, None, inner)?;
        crate::cache::write_atomic(&index, digest.as_bytes())?;
        Ok(Some(Artifact { path, sha256: digest }))
    }

    /// The build configuration of a kernel, read on the host: the package's config file, a built
    /// kernel's `.config`, or the `.config` of the build tree a `path:` bzImage sits in. `None`
    /// when there is none (Ubuntu keeps it in linux-modules-*, sid's linux-binary-* has none);
    /// the guest's `/proc/config.gz`, when the kernel has it, is preferred over this anyway.
    /// Never downloads: a kernel that is not cached yet has no host-side config.
    pub fn kernel_config(&mut self, k: &KernelManifest) -> Result<Option<KernelConfig>> {
        let (file, label): (PathBuf, String) = match &k.source {
            KernelSource::Package { package, image, .. } => {
                let Some(inner) = config_path_for(image) else { return Ok(None) };
                let Some(deb) = self.kernel_lock.get(&package.lock_key()).map(str::to_string) else { return Ok(None) };
                match self.optional_file_of_deb(&deb, &inner)? {
                    Some(a) => (a.path, format!("{inner} in {}", package.name)),
                    None => return Ok(None),
                }
            }
            KernelSource::Url { url, image: Some(image) } => {
                let Some(inner) = config_path_for(image) else { return Ok(None) };
                let Some(deb) = self.kernel_lock.get(&KernelSource::url_lock_key(url)).map(str::to_string) else {
                    return Ok(None);
                };
                match self.optional_file_of_deb(&deb, &inner)? {
                    Some(a) => (a.path, format!("{inner} in {url}")),
                    None => return Ok(None),
                }
            }
            KernelSource::Url { image: None, .. } => return Ok(None),
            KernelSource::Build(b) => match self.cached_build(b)? {
                Some(built) => (
                    built.config.path,
                    format!(".config of the build ({} + {})", k.source.describe(), b.fragment_names()),
                ),
                None => return Ok(None),
            },
            KernelSource::Path { path } => {
                let p = Path::new(path);
                let tree_config = p
                    .ends_with("arch/x86/boot/bzImage")
                    .then(|| p.parent()?.parent()?.parent()?.parent().map(|t| t.join(".config")))
                    .flatten();
                match tree_config.filter(|c| c.is_file()) {
                    Some(c) => (c.clone(), c.display().to_string()),
                    None => return Ok(None),
                }
            }
        };
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        Ok(Some(KernelConfig::parse(&text, &label)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_beside_images() {
        assert_eq!(
            config_path_for("boot/vmlinuz-6.1.0-50-cloud-amd64").as_deref(),
            Some("boot/config-6.1.0-50-cloud-amd64")
        );
        assert_eq!(
            config_path_for("usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz").as_deref(),
            Some("usr/lib/modules/7.2.13+deb14-cloud-amd64/config")
        );
        assert_eq!(config_path_for("boot/kernel.img"), None);
    }
}
