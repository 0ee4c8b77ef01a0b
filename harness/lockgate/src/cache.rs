//! The content-addressed cache shared by every run on this machine.
//!
//! Blobs are named by their sha256 and written atomically (temporary file in the same directory,
//! then rename), so a crash or an interrupted download never leaves a half file under a real name.
//! Concurrent runs serialise their fetches with an advisory file lock.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at `root`, its directories made. Only [`crate::supply::open_cache`] (and tests)
    /// call it: a command opens its cache once and hands it down.
    pub fn at(root: PathBuf) -> Result<Cache> {
        for sub in ["blobs", "tmp", "apt", "images", "host"] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("cannot create cache directory {}", root.join(sub).display()))?;
        }
        Ok(Cache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, sub: &str) -> PathBuf {
        self.root.join(sub)
    }

    /// A fresh temporary directory inside the cache (same filesystem, so renames are atomic).
    pub fn tempdir(&self) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("work-")
            .tempdir_in(self.dir("tmp"))
            .context("cannot create a temporary directory in the cache")
    }

    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("blobs").join(sha256)
    }

    /// The blob with this digest, if present *and* intact. A corrupt blob is deleted so that the
    /// caller fetches it again.
    pub fn blob(&self, sha256: &str) -> Result<Option<PathBuf>> {
        let path = self.blob_path(sha256);
        if !path.exists() {
            return Ok(None);
        }
        let actual = sha256_file(&path)?;
        if actual != sha256 {
            crate::event::emit(crate::event::Event::CacheCorrupt { path: path.clone(), actual: actual.clone() });
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove corrupt cache entry {}", path.display()))?;
            return Ok(None);
        }
        Ok(Some(path))
    }

    /// Move `file` into the blob store under its digest; with `expected`, refuse a mismatch (and
    /// keep nothing). Returns (digest, blob path).
    pub fn insert(&self, file: &Path, expected: Option<&str>, what: &str) -> Result<(String, PathBuf)> {
        let actual = sha256_file(file)?;
        if let Some(expected) = expected {
            if actual != expected {
                let _ = std::fs::remove_file(file);
                bail!(
                    "digest mismatch for {what}: the lock file pins sha256 {expected}, but what was fetched has {actual}; nothing was cached. \
                     If the new artifact is the one you want, re-pin it with `{}`",
                    crate::invocation::command("kernels lock")
                );
            }
        }
        let dest = self.blob_path(&actual);
        std::fs::rename(file, &dest).with_context(|| format!("cannot move {} into the cache", file.display()))?;
        Ok((actual, dest))
    }

    /// Write `bytes` atomically to `dest` (temporary file + rename).
    pub fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        write_atomic(dest, bytes)
    }

    /// Hold the cache's fetch lock for the life of the returned guard.
    pub fn lock(&self) -> Result<CacheLock> {
        use fs4::fs_std::FileExt;
        let path = self.root.join("fetch.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if file.try_lock_exclusive().map(|locked| !locked).unwrap_or(true) {
            crate::event::emit(crate::event::Event::WaitingForCache { lock: path.clone() });
            file.lock_exclusive().with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Ok(CacheLock { _file: file })
    }
}

pub struct CacheLock {
    _file: File,
}

pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dest.parent().context("destination has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatched_digest_is_refused_and_nothing_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("c")).unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"hello").unwrap();
        let err = cache.insert(&f, Some("00"), "test artifact").unwrap_err().to_string();
        assert!(err.contains("digest mismatch for test artifact"), "{err}");
        assert!(!f.exists());
        assert_eq!(std::fs::read_dir(cache.dir("blobs")).unwrap().count(), 0);
    }

    #[test]
    fn corrupt_blob_is_detected_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("c")).unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"hello").unwrap();
        let (digest, path) = cache.insert(&f, None, "t").unwrap();
        assert_eq!(cache.blob(&digest).unwrap(), Some(path.clone()));
        std::fs::write(&path, b"hellO").unwrap();
        assert_eq!(cache.blob(&digest).unwrap(), None);
        assert!(!path.exists());
    }
}
