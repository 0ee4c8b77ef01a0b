//! Building the guest's own binaries (agent + reference enforcer) as static executables.
//!
//! They are built by a nested cargo with its own target directory, so that the static-linking
//! flags never touch the host build, and cargo's own change tracking makes a warm call cost a
//! fraction of a second.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct GuestBinaries {
    pub guest: PathBuf,
    pub enforcer: PathBuf,
}

/// The workspace root (where `Cargo.toml` with `[workspace]` lives).
pub fn workspace_root() -> PathBuf {
    // harness/lockgate → ../..
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

pub fn build(quiet: bool) -> Result<GuestBinaries> {
    let root = workspace_root();
    let target_dir = root.join("target/guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--profile", "guest", "--target", "x86_64-unknown-linux-gnu", "-p", "lockgate-guest", "-p", "lockgate-enforcer"])
        .arg("--target-dir")
        .arg(&target_dir)
        // glibc, linked statically: the initramfs has no dynamic loader. Not position
        // independent: under TCG a static-pie binary's start-up (self-relocation, randomised
        // mappings) made each exec ~3x dearer (26 ms against 8 ms on the 6.1 tiny kernel), and
        // every case execs the runner twice and the enforcer once.
        .env("RUSTFLAGS", "-C target-feature=+crt-static -C relocation-model=static")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    if quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().context("cannot run cargo to build the guest binaries")?;
    if !status.success() {
        bail!("building the guest binaries failed (cargo build -p lockgate-guest -p lockgate-enforcer, static); see the errors above");
    }
    let dir = target_dir.join("x86_64-unknown-linux-gnu/guest");
    let bins = GuestBinaries { guest: dir.join("lockgate-guest"), enforcer: dir.join("lockgate-enforcer") };
    for b in [&bins.guest, &bins.enforcer] {
        if !b.exists() {
            bail!("cargo reported success but {} is missing", b.display());
        }
    }
    Ok(bins)
}
