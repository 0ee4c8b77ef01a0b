//! Building the guest's own binaries (agent + reference enforcer) as static executables, from
//! the sources that travel inside the lockgate crate ([`crate::supply::shipped::GUEST_SOURCES`]), so
//! that a project depending on lockgate, or an installed `lockgate`, builds them as lockgate's
//! own checkout does.
//!
//! The sources are unpacked into the cache under their digest (with the build flags), built by
//! a nested cargo (`cargo.rs`, the one route to a static build) with a target directory of its own in the cache (shared by every digest, so a
//! changed source rebuilds incrementally; the static-linking flags never touch a host build),
//! and the two binaries are kept at `<cache>/guest/<digest>/`. A warm run finds them there and
//! starts no cargo. Content, not mtimes: a checkout that touches every file but changes none
//! rebuilds nothing.

use super::cargo::{self, StaticBuild, RUSTFLAGS, TARGET};
use crate::cache::{sha256_file, Cache};
use crate::supply::shipped;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct GuestBinaries {
    pub guest: PathBuf,
    pub enforcer: PathBuf,
    /// Their sha256, taken once here (the base image's key and the provenance need them).
    pub guest_sha256: String,
    pub enforcer_sha256: String,
}

/// lockgate's own checkout: for its xtask and its tests, which work on that tree. A run never
/// reads it: what a run needs travels inside the crate ([`crate::supply::shipped`]).
pub fn workspace_root() -> PathBuf {
    // harness/lockgate → ../..
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

pub fn build(cache: &Cache, quiet: bool) -> Result<GuestBinaries> {
    let key = shipped::digest(shipped::GUEST_SOURCES, &format!("{RUSTFLAGS}\n{TARGET}"));
    let build = StaticBuild {
        kept: cache.dir("guest").join(&key),
        bins: &["lockgate-guest", "lockgate-enforcer"],
        profile: "guest",
        args: &["-p", "lockgate-guest", "-p", "lockgate-enforcer"],
        target_dir: cache.dir("guest-target"),
        quiet,
        what: "building the guest binaries (cargo build -p lockgate-guest -p lockgate-enforcer, static)".into(),
    };
    let kept = cargo::static_build(&build, || {
        crate::event::emit(crate::event::Event::Build(format!(
            "building the guest binaries (static, once per version of their sources) in {}",
            cache.dir("guest-target").display()
        )));
        shipped::unpacked(cache, "guest-src", shipped::GUEST_SOURCES, &key)
    })?;
    let [guest, enforcer] = <[PathBuf; 2]>::try_from(kept).expect("one path per binary asked for");
    Ok(GuestBinaries { guest_sha256: sha256_file(&guest)?, enforcer_sha256: sha256_file(&enforcer)?, guest, enforcer })
}
