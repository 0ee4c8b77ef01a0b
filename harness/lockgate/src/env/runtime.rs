//! The OCI runtime of the container environments: runc from a pinned Debian package, with the
//! shared libraries it links (libseccomp, glibc and its loader) taken from the pinned Debian
//! packages `images/runtime.yaml` lists, found by reading runc's ELF headers (PT_INTERP,
//! DT_NEEDED, recursively). They ride in an archive of their own, appended to the base
//! initramfs only for boots that run a container environment; bare boots stay as small as ever.

use super::elf;
use crate::cache::{sha256_bytes, Cache};
use crate::fetch::{Fetcher, PackagedFile};
use crate::image::newc::Newc;
use crate::model::kernel::PackageRef;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Component, Path, PathBuf};

/// Bump when the archive's layout changes, so cached archives are rebuilt.
const LAYOUT_VERSION: u32 = 2;

/// Where runc lives in the guest.
pub const RUNC_IN_GUEST: &str = "/usr/sbin/runc";
/// Where its libraries go: a directory glibc's loader searches without any configuration.
const LIB_DIR: &str = "/usr/lib/x86_64-linux-gnu";

/// `images/runtime.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeManifest {
    /// The runc package and the path of the binary in it.
    pub runc: PackagedFile,
    /// Packages searched, in order, for the libraries runc needs.
    pub libraries: Vec<PackageRef>,
}

impl RuntimeManifest {
    pub fn load(path: &Path) -> Result<RuntimeManifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        crate::model::parse_yaml(path, &text)
    }

    pub fn packages(&self) -> Vec<&PackageRef> {
        std::iter::once(&self.runc.package).chain(&self.libraries).collect()
    }
}

/// The runtime archive, ready to append to an initramfs.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub archive: PathBuf,
    /// `runc <package version>`, for provenance.
    pub version: String,
    pub runc_sha256: String,
    /// What the archive holds: guest path ← package.
    pub files: Vec<(String, String)>,
}

/// Fetches (or finds in the cache) runc and its libraries and builds the archive.
pub fn prepare(manifest_path: &Path, fetcher: &mut Fetcher, cache: &Cache) -> Result<Runtime> {
    let manifest = RuntimeManifest::load(manifest_path)?;
    let mut roots = Vec::new();
    for pkg in manifest.packages() {
        let deb = fetcher
            .image_package(pkg)
            .with_context(|| format!("the container runtime ({})", manifest_path.display()))?;
        roots.push((pkg.name.clone(), unpacked(cache, &deb.path, &deb.sha256)?));
    }
    let digests: Vec<String> =
        roots.iter().map(|(_, p)| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    let key = sha256_bytes(
        format!("runtime layout {LAYOUT_VERSION} merged-usr\n{}\n{}", manifest.runc.file, digests.join("\n"))
            .as_bytes(),
    );
    let archive = cache.dir("images").join(format!("runtime-{}.cpio", &key[..16]));
    let runc_path = roots[0].1.join(manifest.runc.file.trim_start_matches('/'));
    let runc = std::fs::read(&runc_path)
        .with_context(|| format!("{} has no {}", manifest.runc.package.lock_key(), manifest.runc.file))?;
    let resolved = resolve(&runc, &roots)
        .with_context(|| format!("runc's libraries (packages listed in {})", manifest_path.display()))?;
    let files: Vec<(String, String)> = std::iter::once((RUNC_IN_GUEST.to_string(), manifest.runc.package.name.clone()))
        .chain(resolved.iter().map(|f| (f.guest.clone(), f.package.clone())))
        .collect();
    if !archive.exists() {
        let mut a = Newc::new();
        for d in ["/usr", "/usr/sbin", "/usr/lib", LIB_DIR, "/lib64"] {
            a.dir(d, 0o755);
        }
        a.file(RUNC_IN_GUEST, 0o755, &runc);
        for f in &resolved {
            a.file(&f.guest, 0o755, &std::fs::read(&f.host)?);
        }
        crate::cache::write_atomic(&archive, &a.finish())?;
    }
    Ok(Runtime {
        archive,
        version: format!("runc {}", manifest.runc.package.version),
        runc_sha256: crate::cache::sha256_bytes(&runc),
        files,
    })
}

/// A .deb unpacked once into the cache, under its digest.
fn unpacked(cache: &Cache, deb: &Path, sha256: &str) -> Result<PathBuf> {
    let dir = cache.dir("unpacked").join(sha256);
    if dir.is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache.dir("unpacked"))?;
    let tmp = tempfile::tempdir_in(cache.dir("unpacked"))?;
    crate::fetch::apt::unpack_deb(deb, tmp.path())?;
    let staged = tmp.keep();
    if let Err(e) = std::fs::rename(&staged, &dir) {
        let _ = std::fs::remove_dir_all(&staged);
        if !dir.is_dir() {
            return Err(e).with_context(|| format!("cannot move the unpacked {} into the cache", deb.display()));
        }
    }
    Ok(dir)
}

/// A library (or the loader) found for the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub guest: String,
    pub host: PathBuf,
    pub package: String,
}

/// The loader and every library `binary` needs, recursively, found in `roots` (package name,
/// unpacked tree), in order.
pub fn resolve(binary: &[u8], roots: &[(String, PathBuf)]) -> Result<Vec<Resolved>> {
    let top = elf::needs(binary).map_err(anyhow::Error::msg)?;
    let mut out: BTreeMap<String, Resolved> = BTreeMap::new();
    let interp_name = top.interpreter.as_deref().and_then(|i| i.rsplit('/').next()).map(str::to_string);
    if let Some(interp) = &top.interpreter {
        let (host, package) = find_exact(roots, interp)
            .or_else(|| find_soname(roots, interp.rsplit('/').next().unwrap_or(interp)))
            .with_context(|| format!("no package carries the ELF interpreter {interp}"))?;
        out.insert(interp.clone(), Resolved { guest: interp.clone(), host, package });
    }
    let mut queue: VecDeque<(String, String)> = top.needed.into_iter().map(|n| (n, "runc".to_string())).collect();
    while let Some((soname, wanted_by)) = queue.pop_front() {
        // The loader satisfies its own soname; it is already in place.
        if Some(&soname) == interp_name.as_ref() {
            continue;
        }
        let guest = format!("{LIB_DIR}/{soname}");
        if out.contains_key(&guest) {
            continue;
        }
        let searched: Vec<&str> = roots.iter().map(|(n, _)| n.as_str()).collect();
        let (host, package) = find_soname(roots, &soname).with_context(|| {
            format!(
                "{wanted_by} needs {soname}, which none of the packages carries (searched: {})",
                searched.join(", ")
            )
        })?;
        let bytes = std::fs::read(&host)?;
        for n in elf::needs(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", host.display()))?.needed {
            queue.push_back((n, soname.clone()));
        }
        out.insert(guest.clone(), Resolved { guest, host, package });
    }
    Ok(out.into_values().collect())
}

/// Directories a library can be in, in a Debian package (before and after the /usr merge).
const LIB_DIRS: [&str; 6] =
    ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib64", "lib64", "usr/lib", "lib"];

fn find_soname(roots: &[(String, PathBuf)], soname: &str) -> Option<(PathBuf, String)> {
    roots.iter().find_map(|(pkg, root)| {
        LIB_DIRS.iter().find_map(|d| follow(root, &format!("/{d}/{soname}"), 0)).map(|p| (p, pkg.clone()))
    })
}

/// An absolute path as the guest will see it (`/lib64/ld-linux-x86-64.so.2`), also under /usr.
fn find_exact(roots: &[(String, PathBuf)], path: &str) -> Option<(PathBuf, String)> {
    roots.iter().find_map(|(pkg, root)| {
        follow(root, path, 0).or_else(|| follow(root, &format!("/usr{path}"), 0)).map(|p| (p, pkg.clone()))
    })
}

/// `path` inside `root`, following symlinks as if `root` were `/`; a regular file or nothing.
fn follow(root: &Path, path: &str, depth: usize) -> Option<PathBuf> {
    if depth > 16 {
        return None;
    }
    let host = root.join(path.trim_start_matches('/'));
    let meta = std::fs::symlink_metadata(&host).ok()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&host).ok()?;
        let next = if target.is_absolute() { target } else { Path::new(path).parent()?.join(target) };
        return follow(root, &normalize(&next), depth + 1);
    }
    meta.is_file().then_some(host)
}

fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_followed_inside_the_package_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib64")).unwrap();
        std::fs::write(root.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "x").unwrap();
        std::os::unix::fs::symlink(
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            root.join("usr/lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        std::fs::write(root.join("usr/lib/x86_64-linux-gnu/libseccomp.so.2.6.0"), "y").unwrap();
        std::os::unix::fs::symlink("libseccomp.so.2.6.0", root.join("usr/lib/x86_64-linux-gnu/libseccomp.so.2"))
            .unwrap();
        let roots = vec![("libc6".to_string(), root.to_path_buf())];
        let (p, pkg) = find_exact(&roots, "/lib64/ld-linux-x86-64.so.2").unwrap();
        assert!(p.ends_with("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2") && pkg == "libc6");
        assert!(find_soname(&roots, "libseccomp.so.2").unwrap().0.ends_with("libseccomp.so.2.6.0"));
        assert!(find_soname(&roots, "libnope.so.1").is_none());
    }

    #[test]
    fn a_missing_library_names_who_needs_it() {
        let sh = std::fs::read("/bin/sh").unwrap();
        let err = format!("{:#}", resolve(&sh, &[("empty".into(), PathBuf::from("/nonexistent"))]).unwrap_err());
        assert!(err.contains("ELF interpreter"), "{err}");
    }
}
