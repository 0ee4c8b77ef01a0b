//! Building the guest's own binaries (agent + reference enforcer) as static executables, from
//! the sources that travel inside the lockgate crate ([`crate::shipped::GUEST_SOURCES`]), so
//! that a project depending on lockgate, or an installed `lockgate`, builds them as lockgate's
//! own checkout does.
//!
//! The sources are unpacked into the cache under their digest (with the build flags), built by
//! a nested cargo with a target directory of its own in the cache (shared by every digest, so a
//! changed source rebuilds incrementally; the static-linking flags never touch a host build),
//! and the two binaries are kept at `<cache>/guest/<digest>/`. A warm run finds them there and
//! starts no cargo. Content, not mtimes: a checkout that touches every file but changes none
//! rebuilds nothing.

use crate::cache::{sha256_file, Cache};
use crate::shipped;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct GuestBinaries {
    pub guest: PathBuf,
    pub enforcer: PathBuf,
    /// Their sha256, taken once here (the base image's key and the provenance need them).
    pub guest_sha256: String,
    pub enforcer_sha256: String,
}

/// glibc, linked statically: the initramfs has no dynamic loader. Not position independent:
/// under TCG a static-pie binary's start-up (self-relocation, randomised mappings) made each
/// exec ~3x dearer (26 ms against 8 ms on the 6.1 tiny kernel), and every case execs the runner
/// twice and the enforcer once.
pub const RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// lockgate's own checkout: for its xtask and its tests, which work on that tree. A run never
/// reads it: what a run needs travels inside the crate ([`crate::shipped`]).
pub fn workspace_root() -> PathBuf {
    // harness/lockgate → ../..
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

pub fn build(cache: &Cache, quiet: bool) -> Result<GuestBinaries> {
    let key = shipped::digest(shipped::GUEST_SOURCES, &format!("{RUSTFLAGS}\n{TARGET}"));
    let dir = cache.dir("guest").join(&key);
    let (guest, enforcer) = (dir.join("lockgate-guest"), dir.join("lockgate-enforcer"));
    if guest.is_file() && enforcer.is_file() {
        return hashed(guest, enforcer);
    }
    crate::event::emit(crate::event::Event::Build(format!(
        "building the guest binaries (static, once per version of their sources) in {}",
        cache.dir("guest-target").display()
    )));
    let src = shipped::unpacked(cache, "guest-src", shipped::GUEST_SOURCES, &key)?;
    let target_dir = cache.dir("guest-target");
    let built = cargo_build(&src, "guest", &["-p", "lockgate-guest", "-p", "lockgate-enforcer"], &target_dir, quiet)
        .context("building the guest binaries (cargo build -p lockgate-guest -p lockgate-enforcer, static)")?;
    for (name, dest) in [("lockgate-guest", &guest), ("lockgate-enforcer", &enforcer)] {
        keep(&built.join(name), dest)?;
    }
    hashed(guest, enforcer)
}

/// `cargo build --profile PROFILE ARGS` in the workspace at `workspace`, static for the guest,
/// into `target_dir`; returns the directory the binaries are in.
pub fn cargo_build(workspace: &Path, profile: &str, args: &[&str], target_dir: &Path, quiet: bool) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--profile", profile, "--target", TARGET])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo failed in {}; see its errors above", workspace.display());
    }
    // cargo names the dev profile's directory `debug`; every other profile's by its name.
    Ok(target_dir.join(TARGET).join(if profile == "dev" { "debug" } else { profile }))
}

/// Copy a freshly built binary to its place in the cache, atomically and executable.
pub fn keep(built: &Path, dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bytes =
        std::fs::read(built).with_context(|| format!("cargo reported success but {} is missing", built.display()))?;
    crate::cache::write_atomic(dest, &bytes)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", dest.display()))
}

fn hashed(guest: PathBuf, enforcer: PathBuf) -> Result<GuestBinaries> {
    Ok(GuestBinaries { guest_sha256: sha256_file(&guest)?, enforcer_sha256: sha256_file(&enforcer)?, guest, enforcer })
}
