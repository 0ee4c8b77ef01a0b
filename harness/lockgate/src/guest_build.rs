//! Building the guest's own binaries (agent + reference enforcer) as static executables.
//!
//! They are built by a nested cargo with its own target directory, so that the static-linking
//! flags never touch the host build. A warm run does not even start that cargo: the binaries
//! carry a stamp with the digest of everything they are built from (the guest crates' files,
//! the workspace manifest and lock, the flags below), and a stamp that matches, with binaries
//! whose digests match it too, is the answer. Content, not mtimes: a checkout that touches
//! every file but changes none rebuilds nothing.

use crate::cache::sha256_file;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct GuestBinaries {
    pub guest: PathBuf,
    pub enforcer: PathBuf,
    /// Their sha256, taken once here (the stamp, the base image's key and the provenance all
    /// need them).
    pub guest_sha256: String,
    pub enforcer_sha256: String,
}

/// glibc, linked statically: the initramfs has no dynamic loader. Not position independent:
/// under TCG a static-pie binary's start-up (self-relocation, randomised mappings) made each
/// exec ~3x dearer (26 ms against 8 ms on the 6.1 tiny kernel), and every case execs the runner
/// twice and the enforcer once.
const RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";
const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The crates the guest binaries are made of (the rest of the workspace is host-only).
const GUEST_CRATES: [&str; 3] = ["harness/guest", "harness/protocol", "harness/enforcer"];

/// The workspace root (where `Cargo.toml` with `[workspace]` lives).
pub fn workspace_root() -> PathBuf {
    // harness/lockgate → ../..
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

pub fn build(quiet: bool) -> Result<GuestBinaries> {
    let root = workspace_root();
    let target_dir = root.join("target/guest");
    let dir = target_dir.join(TARGET).join("guest");
    let (guest, enforcer) = (dir.join("lockgate-guest"), dir.join("lockgate-enforcer"));
    let stamp_path = target_dir.join("sources.stamp");
    let sources = sources_digest(&root)?;
    if let (Ok(recorded), Ok(bins)) = (std::fs::read_to_string(&stamp_path), hashed(guest.clone(), enforcer.clone())) {
        if recorded == stamp(&sources, &bins) {
            return Ok(bins);
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--profile", "guest", "--target", TARGET, "-p", "lockgate-guest", "-p", "lockgate-enforcer"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    if quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().context("cannot run cargo to build the guest binaries")?;
    if !status.success() {
        bail!("building the guest binaries failed (cargo build -p lockgate-guest -p lockgate-enforcer, static); see the errors above");
    }
    for b in [&guest, &enforcer] {
        if !b.exists() {
            bail!("cargo reported success but {} is missing", b.display());
        }
    }
    let bins = hashed(guest, enforcer)?;
    crate::cache::write_atomic(&stamp_path, stamp(&sources, &bins).as_bytes())?;
    Ok(bins)
}

fn hashed(guest: PathBuf, enforcer: PathBuf) -> Result<GuestBinaries> {
    Ok(GuestBinaries { guest_sha256: sha256_file(&guest)?, enforcer_sha256: sha256_file(&enforcer)?, guest, enforcer })
}

/// What the stamp says: the sources' digest and the binaries' digests.
fn stamp(sources: &str, bins: &GuestBinaries) -> String {
    format!("sources {sources}\nlockgate-guest {}\nlockgate-enforcer {}\n", bins.guest_sha256, bins.enforcer_sha256)
}

/// The digest of every input of the guest build: each file (path and content) under the guest
/// crates, the workspace's Cargo.toml and Cargo.lock (dependencies, the `guest` profile), and
/// the flags. The toolchain is left out on purpose: a binary built from the same sources by an
/// older rustc is still that program.
fn sources_digest(root: &Path) -> Result<String> {
    let mut files = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
    for krate in GUEST_CRATES {
        collect(&root.join(krate), &mut files)?;
    }
    files.sort();
    let mut h = Sha256::new();
    h.update(format!("{RUSTFLAGS}\n{TARGET}\n"));
    for f in &files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        h.update(format!("{}\n{}\n", f.strip_prefix(root).unwrap_or(f).display(), bytes.len()));
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["Cargo.toml", "Cargo.lock"] {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        for krate in GUEST_CRATES {
            std::fs::create_dir_all(dir.path().join(krate).join("src")).unwrap();
            std::fs::write(dir.path().join(krate).join("src/lib.rs"), "fn x() {}\n").unwrap();
        }
        dir
    }

    #[test]
    fn the_stamp_follows_content_not_mtimes() {
        let dir = tree();
        let before = sources_digest(dir.path()).unwrap();
        // Rewriting a file with the same bytes (what a checkout does) changes nothing.
        let lib = dir.path().join("harness/protocol/src/lib.rs");
        std::fs::write(&lib, "fn x() {}\n").unwrap();
        assert_eq!(sources_digest(dir.path()).unwrap(), before);
        // One changed byte in any guest crate, a new file, or the lock changes the digest.
        std::fs::write(&lib, "fn y() {}\n").unwrap();
        let edited = sources_digest(dir.path()).unwrap();
        assert_ne!(edited, before);
        std::fs::write(dir.path().join("harness/enforcer/src/new.rs"), "").unwrap();
        let added = sources_digest(dir.path()).unwrap();
        assert_ne!(added, edited);
        std::fs::write(dir.path().join("Cargo.lock"), "other").unwrap();
        assert_ne!(sources_digest(dir.path()).unwrap(), added);
    }
}
