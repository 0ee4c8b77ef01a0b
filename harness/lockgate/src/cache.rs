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

    /// Hold the cache's fetch lock for the life of the returned guard. Re-entrant within a
    /// thread ([`CacheLock`] says why); other threads and other processes wait.
    pub fn lock(&self) -> Result<CacheLock> {
        let path = self.root.join("fetch.lock");
        let me = std::thread::current().id();
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        let mut said = false;
        loop {
            match held.get_mut(&path) {
                Some(h) if h.thread == me => {
                    h.count += 1;
                    return Ok(CacheLock { path });
                }
                Some(_) => {
                    if !std::mem::replace(&mut said, true) {
                        crate::event::emit(crate::event::Event::WaitingForCache { lock: path.clone() });
                    }
                    held = RELEASED.wait(held).unwrap_or_else(|p| p.into_inner());
                }
                None => break,
            }
        }
        // This thread's claim, made before the flock so that the process's other threads wait
        // on it rather than on a second open file of their own; the map is not held while
        // another process keeps us waiting.
        held.insert(path.clone(), Holder { thread: me, count: 1, file: None });
        drop(held);
        let taken = flock(&path, said);
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        match taken {
            Ok(file) => {
                if let Some(h) = held.get_mut(&path) {
                    h.file = Some(file);
                }
                Ok(CacheLock { path })
            }
            Err(e) => {
                held.remove(&path);
                RELEASED.notify_all();
                Err(e)
            }
        }
    }
}

/// Opens `path` and takes its exclusive flock, saying so when another process makes us wait
/// (unless the wait was said already).
fn flock(path: &Path, said: bool) -> Result<File> {
    use fs4::fs_std::FileExt;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if file.try_lock_exclusive().map(|locked| !locked).unwrap_or(true) {
        if !said {
            crate::event::emit(crate::event::Event::WaitingForCache { lock: path.to_path_buf() });
        }
        file.lock_exclusive().with_context(|| format!("cannot lock {}", path.display()))?;
    }
    Ok(file)
}

/// The fetch lock of a cache, held by this process in one thread.
struct Holder {
    thread: std::thread::ThreadId,
    /// The guards handed out in that thread.
    count: usize,
    /// The locked file (`None` while the thread waits for another process); dropping it lets
    /// the flock go.
    file: Option<File>,
}

/// The fetch locks this process holds, by lock file.
static HELD: std::sync::Mutex<std::collections::BTreeMap<PathBuf, Holder>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());
/// Signalled whenever a holder lets its lock go.
static RELEASED: std::sync::Condvar = std::sync::Condvar::new();

/// The cache's fetch lock, until dropped. flock belongs to an open file, not to a process: a
/// second open of `fetch.lock` by the thread that holds it would wait for itself forever. That
/// happens whenever one thread has two fetchers alive (the bench keeps the supply that fetched
/// busybox while it starts runs with supplies of their own: from an empty cache it hung), so
/// the process opens the file once and counts the guards of the thread that holds it. Each
/// fetch holds a guard while it fetches, not longer: a run does not keep other runs waiting
/// through its boots.
pub struct CacheLock {
    path: PathBuf,
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = held.get_mut(&self.path) {
            h.count -= 1;
            if h.count == 0 {
                held.remove(&self.path);
                RELEASED.notify_all();
            }
        }
    }
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

    /// The thread that holds the lock takes it again through another open of the cache (two
    /// fetchers alive in one thread) without waiting for itself; another thread waits until
    /// every guard of the holder is gone. A regression would hang: the waits are bounded.
    #[test]
    fn the_fetch_lock_is_reentrant_in_its_thread_and_exclusive_across_threads() {
        use std::sync::mpsc::channel;
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        let (a, b) = (Cache::at(root.clone()).unwrap(), Cache::at(root.clone()).unwrap());
        let (step, steps) = channel();
        let (go, proceed) = channel::<()>();
        let holder = std::thread::spawn(move || {
            let outer = a.lock().unwrap();
            let inner = b.lock().unwrap();
            step.send("nested").unwrap();
            proceed.recv().unwrap();
            drop(outer);
            step.send("outer dropped").unwrap();
            proceed.recv().unwrap();
            drop(inner);
        });
        assert_eq!(steps.recv_timeout(Duration::from_secs(10)), Ok("nested"), "the holder waited for itself");
        let (tx, taken) = channel();
        let other = std::thread::spawn(move || {
            let _g = Cache::at(root).unwrap().lock().unwrap();
            tx.send(()).unwrap();
        });
        assert!(taken.recv_timeout(Duration::from_millis(300)).is_err(), "another thread got a held lock");
        go.send(()).unwrap();
        assert_eq!(steps.recv_timeout(Duration::from_secs(10)), Ok("outer dropped"));
        assert!(taken.recv_timeout(Duration::from_millis(300)).is_err(), "a guard of the holder is still alive");
        go.send(()).unwrap();
        taken.recv_timeout(Duration::from_secs(10)).expect("the other thread gets the lock once it is let go");
        holder.join().unwrap();
        other.join().unwrap();
    }
}
