//! The action's install step (`harness/action/install.sh`), run as the action runs it: a
//! release's binary is used only when its sha256 and its version are right, a cached binary of
//! the version is used at once, and anything else falls back to building lockgate. The release
//! is a `file://` directory holding what the release workflow attaches; the binary is the one
//! this test suite was built with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A release directory holding `binary` as `lockgate-x86_64-linux` and, as its `.sha256`, the
/// digest of `listed` (the binary itself, unless the test tampers with it).
fn release(dir: &Path, binary: &[u8], listed: &[u8]) -> PathBuf {
    let rel = dir.join("release");
    std::fs::create_dir_all(&rel).unwrap();
    std::fs::write(rel.join("lockgate-x86_64-linux"), binary).unwrap();
    let digest = lockgate::internals::cache::sha256_bytes(listed);
    std::fs::write(rel.join("lockgate-x86_64-linux.sha256"), format!("{digest}  lockgate-x86_64-linux\n")).unwrap();
    rel
}

/// Runs the install step with `BIN_DIR` and `RELEASE_URL`; a `cargo` on the PATH that only
/// records that it was called stands for the fallback build (minutes, and not what is tested).
fn install(dir: &Path, bin_dir: &Path, release_url: &str) -> (Output, bool) {
    let fake = dir.join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let called = dir.join("cargo-called");
    let _ = std::fs::remove_file(&called);
    std::fs::write(fake.join("cargo"), format!("#!/bin/sh\ntouch {}\nexit 1\n", called.display())).unwrap();
    Command::new("chmod").arg("+x").arg(fake.join("cargo")).status().unwrap();
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg(root().join("harness/action/install.sh"))
        .env("ACTION_PATH", root())
        .env("BIN_DIR", bin_dir)
        .env("RELEASE_URL", release_url)
        .env("PATH", path)
        .output()
        .unwrap();
    (out, called.exists())
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_release_binary_is_used_when_its_digest_and_version_match_and_the_cache_after() {
    let dir = tempfile::tempdir().unwrap();
    let binary = std::fs::read(env!("CARGO_BIN_EXE_lockgate")).unwrap();
    let rel = release(dir.path(), &binary, &binary);
    let bin_dir = dir.path().join("cache");

    let started = Instant::now();
    let (out, built) = install(dir.path(), &bin_dir, &format!("file://{}", rel.display()));
    let took = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!built, "no build when the release's binary is right: {}", text(&out));
    assert!(text(&out).contains("the release's static binary"), "{}", text(&out));
    assert_eq!(std::fs::read(bin_dir.join("lockgate")).unwrap(), binary);
    eprintln!("install from the release binary: {:.2} s", took.as_secs_f64());

    // The next job with the cache restored: the cached binary, without touching the release.
    std::fs::remove_dir_all(&rel).unwrap();
    let started = Instant::now();
    let (out, built) = install(dir.path(), &bin_dir, &format!("file://{}", rel.display()));
    assert!(out.status.success() && !built, "{}", text(&out));
    assert!(text(&out).contains("from the cache"), "{}", text(&out));
    eprintln!("install from the cache: {:.2} s", started.elapsed().as_secs_f64());

    // A cached binary of the same version but other sources (a branch that moved) is not used.
    std::fs::write(bin_dir.join("lockgate.source"), "0000\n").unwrap();
    let (out, built) = install(dir.path(), &bin_dir, &format!("file://{}", rel.display()));
    assert!(built && !text(&out).contains("from the cache"), "a stale cache is rebuilt: {}", text(&out));
}

#[test]
fn a_binary_whose_digest_does_not_match_is_refused_and_lockgate_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let binary = std::fs::read(env!("CARGO_BIN_EXE_lockgate")).unwrap();
    let mut tampered = binary.clone();
    tampered.extend_from_slice(b"\0tampered");
    let rel = release(dir.path(), &tampered, &binary);
    let bin_dir = dir.path().join("cache");
    let (out, built) = install(dir.path(), &bin_dir, &format!("file://{}", rel.display()));
    assert!(text(&out).contains("does not match its .sha256: not used"), "{}", text(&out));
    assert!(built, "the fallback build is attempted: {}", text(&out));
    assert!(!out.status.success(), "the stand-in cargo fails, and so does the step: {}", text(&out));
    assert!(!bin_dir.join("lockgate").exists(), "nothing unverified is installed");
}

#[test]
fn a_binary_of_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = b"#!/bin/sh\necho 'lockgate 9.9.9'\n".to_vec();
    let rel = release(dir.path(), &other, &other);
    let bin_dir = dir.path().join("cache");
    let (out, built) = install(dir.path(), &bin_dir, &format!("file://{}", rel.display()));
    assert!(text(&out).contains("is not lockgate") && text(&out).contains("9.9.9"), "{}", text(&out));
    assert!(built, "{}", text(&out));
    assert!(!bin_dir.join("lockgate").exists());
}

#[test]
fn without_a_release_lockgate_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let (out, built) = install(dir.path(), &dir.path().join("cache"), "");
    assert!(built && text(&out).contains("cargo install lockgate"), "{}", text(&out));
}
