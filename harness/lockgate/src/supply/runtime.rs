//! The OCI runtimes of the container environments: runc and crun, each from a pinned Debian
//! package, with the shared libraries they link (libseccomp, glibc and its loader; crun also
//! libcap, libsystemd, yajl) taken from the pinned Debian packages `images/runtime.yaml` lists,
//! found by reading each runtime's ELF headers (PT_INTERP, DT_NEEDED, recursively). They ride in
//! an archive of their own, appended to the base initramfs only for boots that run a container
//! environment, holding only the runtimes the run's environments name; bare boots stay as small
//! as ever.

use crate::cache::{sha256_bytes, Cache};
use crate::elf;
use crate::image::newc::Newc;
use crate::model::environment::RuntimeName;
use crate::model::kernel::PackageRef;
use crate::supply::Supply;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};

/// Bump when the archive's layout changes, so cached archives are rebuilt.
const LAYOUT_VERSION: u32 = 2;

/// Where a runtime lives in the guest (where its Debian package puts it).
pub fn in_guest(name: RuntimeName) -> &'static str {
    match name {
        RuntimeName::Runc => "/usr/sbin/runc",
        RuntimeName::Crun => "/usr/bin/crun",
        RuntimeName::Runsc => "/usr/bin/runsc",
        // Both nspawns are /usr/bin/systemd-nspawn in their packages; one guest may carry both.
        RuntimeName::SystemdNspawn252 => "/usr/bin/systemd-nspawn-252",
        RuntimeName::SystemdNspawn257 => "/usr/bin/systemd-nspawn-257",
    }
}

/// Where their libraries go: a directory glibc's loader searches without any configuration.
const LIB_DIR: &str = "/usr/lib/x86_64-linux-gnu";

pub use crate::model::runtime::RuntimeManifest;

/// One runtime in the archive, for provenance.
#[derive(Debug, Clone)]
pub struct Binary {
    pub name: RuntimeName,
    /// `runc <package version>`.
    pub version: String,
    /// The package's version alone.
    pub package_version: String,
    pub sha256: String,
}

/// The runtime archive, ready to append to an initramfs.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub archive: PathBuf,
    pub binaries: Vec<Binary>,
    /// What the archive holds: guest path ← package.
    pub files: Vec<(String, String)>,
}

impl Runtime {
    pub fn binary(&self, name: RuntimeName) -> Option<&Binary> {
        self.binaries.iter().find(|b| b.name == name)
    }
}

/// Fetches (or finds in the cache) the runtimes `needed` and their libraries and builds the
/// archive.
pub fn prepare(manifest_path: &Path, needed: &BTreeSet<RuntimeName>, supply: &mut Supply) -> Result<Runtime> {
    let cache = &supply.cache.clone();
    let manifest = RuntimeManifest::load(manifest_path)?;
    let mut binaries = Vec::new();
    let mut runtime_roots = Vec::new();
    for name in needed {
        let f = manifest.runtimes.get(name).with_context(|| {
            format!(
                "{} names no `{}` under `runtimes:`; an environment asks for it",
                manifest_path.display(),
                name.as_str()
            )
        })?;
        runtime_roots.push((*name, f, root_of(&f.package, manifest_path, supply)?));
    }
    let mut lib_roots = Vec::new();
    for pkg in &manifest.libraries {
        lib_roots.push((pkg.name.clone(), root_of(pkg, manifest_path, supply)?));
    }
    let mut resolved: BTreeMap<String, Resolved> = BTreeMap::new();
    let mut key = format!("runtime layout {LAYOUT_VERSION} merged-usr\n");
    let mut files = Vec::new();
    let mut bytes_of = Vec::new();
    for (name, f, root) in &runtime_roots {
        let path = root.join(f.file.trim_start_matches('/'));
        let bytes = std::fs::read(&path).with_context(|| format!("{} has no {}", f.package.lock_key(), f.file))?;
        let sha256 = sha256_bytes(&bytes);
        let libs = resolve(&bytes, name.as_str(), &lib_roots).with_context(|| {
            format!("{}'s libraries (packages listed in {})", name.as_str(), manifest_path.display())
        })?;
        resolved.extend(libs.into_iter().map(|r| (r.guest.clone(), r)));
        key.push_str(&format!("{} {sha256}\n", in_guest(*name)));
        files.push((in_guest(*name).to_string(), f.package.name.clone()));
        binaries.push(Binary {
            name: *name,
            version: format!("{} {}", name.as_str(), f.package.version),
            package_version: f.package.version.clone(),
            sha256,
        });
        bytes_of.push((in_guest(*name), bytes));
    }
    for r in resolved.values() {
        key.push_str(&format!("{} {}\n", r.guest, r.host.display()));
        files.push((r.guest.clone(), r.package.clone()));
    }
    let archive = cache.dir("images").join(format!("runtime-{}.cpio", &sha256_bytes(key.as_bytes())[..16]));
    if !archive.exists() {
        let mut a = Newc::new();
        for d in ["/usr", "/usr/sbin", "/usr/bin", "/usr/lib", LIB_DIR, "/lib64"] {
            a.dir(d, 0o755);
        }
        for (guest, bytes) in &bytes_of {
            a.file(guest, 0o755, bytes);
        }
        for f in resolved.values() {
            a.file(&f.guest, 0o755, &std::fs::read(&f.host)?);
        }
        crate::cache::write_atomic(&archive, &a.finish())?;
    }
    Ok(Runtime { archive, binaries, files })
}

/// A package of the manifest, fetched and unpacked.
pub fn root_of(pkg: &PackageRef, manifest_path: &Path, supply: &mut Supply) -> Result<PathBuf> {
    let deb =
        supply.image_package(pkg).with_context(|| format!("the container runtimes ({})", manifest_path.display()))?;
    unpacked(&supply.cache, &deb.path, &deb.sha256)
}

/// A .deb unpacked once into the cache, under its digest.
fn unpacked(cache: &Cache, deb: &Path, sha256: &str) -> Result<PathBuf> {
    let dir = cache.dir("unpacked").join(sha256);
    if dir.is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache.dir("unpacked"))?;
    let tmp = tempfile::tempdir_in(cache.dir("unpacked"))?;
    crate::supply::apt::unpack_deb(deb, tmp.path())?;
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

/// The loader and every library `binary` (called `name`) needs, recursively, found in `roots`
/// (package name, unpacked tree), in order.
pub fn resolve(binary: &[u8], name: &str, roots: &[(String, PathBuf)]) -> Result<Vec<Resolved>> {
    let top = elf::read(binary).map_err(anyhow::Error::msg)?;
    let mut out: BTreeMap<String, Resolved> = BTreeMap::new();
    let interp_name = top.interpreter.as_deref().and_then(|i| i.rsplit('/').next()).map(str::to_string);
    if let Some(interp) = &top.interpreter {
        let (host, package) = find_exact(roots, interp)
            .or_else(|| find_soname(roots, interp.rsplit('/').next().unwrap_or(interp)))
            .with_context(|| format!("no package carries the ELF interpreter {interp}"))?;
        out.insert(interp.clone(), Resolved { guest: interp.clone(), host, package });
    }
    let mut queue: VecDeque<(String, String)> = top.needed.into_iter().map(|n| (n, name.to_string())).collect();
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
        for n in elf::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", host.display()))?.needed {
            queue.push_back((n, soname.clone()));
        }
        out.insert(guest.clone(), Resolved { guest, host, package });
    }
    Ok(out.into_values().collect())
}

/// Directories a library can be in, in a Debian package (before and after the /usr merge); the
/// last is systemd's private one (libsystemd-shared-N.so, which systemd-nspawn's RUNPATH names):
/// in the guest it goes to LIB_DIR with the others, where the loader finds it without RUNPATH.
const LIB_DIRS: [&str; 7] = [
    "usr/lib/x86_64-linux-gnu",
    "lib/x86_64-linux-gnu",
    "usr/lib64",
    "lib64",
    "usr/lib",
    "lib",
    "usr/lib/x86_64-linux-gnu/systemd",
];

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
        let err = format!("{:#}", resolve(&sh, "sh", &[("empty".into(), PathBuf::from("/nonexistent"))]).unwrap_err());
        assert!(err.contains("ELF interpreter"), "{err}");
    }
}
