//! What travels inside the lockgate crate: the guest binaries' sources and lockgate's shipped
//! defaults (kernel manifests and their lock, guest packages and their lock, container
//! environments), embedded at build time by `build.rs`. A project that takes lockgate as a
//! dependency, or an installed `lockgate`, has no lockgate checkout to read them from; they are
//! unpacked into the cache under the digest of their content, once per content.
//!
//! A project's own tree has the same layout as lockgate's (`scenarios/`, `kernels/`,
//! `images/environments/`, `enforcers/`); [`or_default`] takes a project's file or directory
//! where it has one and lockgate's shipped one otherwise.

use crate::cache::Cache;
use crate::model::MatrixDirs;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// A set of files, by path relative to the root they are unpacked at.
pub type Files = &'static [(&'static str, &'static [u8])];

/// The guest crates (`harness/guest`, `harness/protocol`, `harness/enforcer`), a workspace
/// manifest naming only them, and lockgate's Cargo.lock.
pub const GUEST_SOURCES: Files = embedded::GUEST_SOURCES;

/// `kernels/` and `images/` as lockgate ships them.
pub const DEFAULTS: Files = embedded::SHIPPED_FILES;

/// The digest of `files` (each path and content) and of `extra` (what else a product of them
/// depends on, such as build flags).
pub fn digest(files: &[(&str, &[u8])], extra: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{extra}\n"));
    for (path, bytes) in files {
        h.update(format!("{path}\n{}\n", bytes.len()));
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

/// `files` unpacked at `<cache>/<kind>/<digest>`: written into a temporary directory of the
/// cache, then renamed into place, so a directory under its final name is always complete.
pub fn unpacked(cache: &Cache, kind: &str, files: &[(&str, &[u8])], digest: &str) -> Result<PathBuf> {
    let dest = cache.dir(kind).join(digest);
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = cache.tempdir()?;
    for (rel, bytes) in files {
        let path = tmp.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::fs::create_dir_all(cache.dir(kind)).with_context(|| format!("cannot create {}", cache.dir(kind).display()))?;
    // Another run may have unpacked the same content meanwhile: theirs is as good as ours.
    if std::fs::rename(tmp.path(), &dest).is_err() && !dest.is_dir() {
        anyhow::bail!("cannot move the unpacked files into {}", dest.display());
    }
    Ok(dest)
}

/// lockgate's shipped defaults, unpacked in the command's cache.
pub fn defaults_dir(cache: &Cache) -> Result<PathBuf> {
    // The digest is the embedded bytes' own: taken once per process.
    static DIGEST: OnceLock<String> = OnceLock::new();
    unpacked(cache, "shipped", DEFAULTS, DIGEST.get_or_init(|| digest(DEFAULTS, "")))
        .context("cannot unpack lockgate's shipped kernels and images into the cache")
}

/// `project/rel` when the project has it, else lockgate's shipped `rel` (in `cache`).
pub fn or_default(cache: &Cache, project: &Path, rel: &str) -> Result<PathBuf> {
    let theirs = project.join(rel);
    if theirs.exists() {
        return Ok(theirs);
    }
    Ok(defaults_dir(cache)?.join(rel))
}

/// Where a project's matrix is read from: `kernels` when given, else the project's `kernels/`,
/// else lockgate's shipped ones; the environments beside those kernels (`../images/environments`),
/// else lockgate's shipped ones. Should the defaults fail to unpack, the project's `kernels/`
/// stays and loading it says what is missing; the cause is told first.
pub fn matrix_of(cache: &Cache, project: &Path, kernels: Option<&Path>) -> Result<MatrixDirs> {
    let kernels = match kernels {
        Some(k) => k.to_path_buf(),
        None => or_default(cache, project, "kernels").unwrap_or_else(|e| {
            crate::event::emit(crate::event::Event::Warning(format!("{e:#}")));
            project.join("kernels")
        }),
    };
    let environments = or_default(cache, kernels.parent().unwrap_or(Path::new(".")), "images/environments")?;
    Ok(MatrixDirs { kernels, environments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_sources_and_defaults_are_embedded() {
        let names: Vec<&str> = GUEST_SOURCES.iter().map(|(p, _)| *p).collect();
        for must in ["Cargo.toml", "Cargo.lock", "harness/guest/src/main.rs", "harness/enforcer/src/main.rs"] {
            assert!(names.contains(&must), "{must} is not embedded: {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("harness/lockgate")), "host crates are not guest sources");
        let manifest = GUEST_SOURCES.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        let manifest = std::str::from_utf8(manifest).unwrap();
        assert!(
            manifest.contains(r#"members = ["harness/guest", "harness/protocol", "harness/enforcer"]"#),
            "{manifest}"
        );
        assert!(!manifest.contains("default-members"), "{manifest}");
        let defaults: Vec<&str> = DEFAULTS.iter().map(|(p, _)| *p).collect();
        for must in
            ["kernels/lock.yaml", "kernels/debian-6.12.yaml", "images/lock.yaml", "images/environments/podman.yaml"]
        {
            assert!(defaults.contains(&must), "{must} is not shipped: {defaults:?}");
        }
    }

    #[test]
    fn the_digest_follows_content_and_names() {
        let a: &[(&str, &[u8])] = &[("a", b"x"), ("b", b"y")];
        let same: &[(&str, &[u8])] = &[("a", b"x"), ("b", b"y")];
        assert_eq!(digest(a, ""), digest(same, ""));
        assert_ne!(digest(a, ""), digest(&[("a", b"x"), ("b", b"z")], ""));
        assert_ne!(digest(a, ""), digest(&[("a", b"x"), ("c", b"y")], ""));
        // A byte moved across the boundary of two files is another content.
        assert_ne!(digest(a, ""), digest(&[("a", b"xy"), ("b", b"")], ""));
        assert_ne!(digest(a, ""), digest(a, "flags"));
    }

    #[test]
    fn unpacking_is_complete_under_its_name_and_done_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let files: &[(&str, &[u8])] = &[("x/y/z.txt", b"hello"), ("top", b"")];
        let d = digest(files, "");
        let at = unpacked(&cache, "t", files, &d).unwrap();
        assert_eq!(at, dir.path().join("t").join(&d));
        assert_eq!(std::fs::read(at.join("x/y/z.txt")).unwrap(), b"hello");
        // Present: not written again (a file changed in place stays as it is).
        std::fs::write(at.join("top"), "mine").unwrap();
        unpacked(&cache, "t", files, &d).unwrap();
        assert_eq!(std::fs::read_to_string(at.join("top")).unwrap(), "mine");
    }

    /// The shipped defaults go into the cache the command handed in (a run's `cache_dir`), not
    /// one found in the environment; a project's own directories win where it has them.
    #[test]
    fn the_defaults_are_unpacked_in_the_cache_handed_in() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("cache")).unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let m = matrix_of(&cache, &project, None).unwrap();
        assert!(m.kernels.starts_with(cache.root()) && m.kernels.join("lock.yaml").is_file(), "{m:?}");
        assert!(m.environments.starts_with(cache.root()) && m.environments.join("podman.yaml").is_file(), "{m:?}");
        std::fs::create_dir_all(project.join("kernels")).unwrap();
        let m = matrix_of(&cache, &project, None).unwrap();
        assert_eq!(m.kernels, project.join("kernels"));
        assert!(m.environments.starts_with(cache.root()), "a project without environments has lockgate's");
        std::fs::create_dir_all(project.join("images/environments")).unwrap();
        assert_eq!(matrix_of(&cache, &project, None).unwrap().environments, project.join("images/environments"));
    }
}
