//! lockgate from its packaged crates alone (`cargo xtask package --verify-install`): the
//! `.crate` files are unpacked into an empty directory with no checkout around, built there, and
//! the binary so built makes a new project (`lockgate init`) and runs it on a real kernel. This
//! is what `cargo install lockgate` would build; it proves the package carries everything the
//! run needs (the guest's sources, the shipped kernels and images, under `bundle/`).
//!
//! A release build from nothing takes several minutes on two cores, so the test is not part of
//! `cargo xtask test`: the nightly workflow runs it (`--ignored`).

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "builds lockgate from its .crate files (minutes): the nightly workflow runs it"]
fn the_packaged_crate_builds_alone_and_runs_a_kernel() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let unpacked = dir.path().join("crates");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["xtask", "package", "--verify-install"])
        .arg(&unpacked)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo xtask package --verify-install failed:\n{log}");
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(bin.starts_with(&unpacked.display().to_string()), "built outside the unpacked crates: {bin}");

    // A new project, as a sandbox author starts one, with no lockgate checkout in sight.
    let project = dir.path().join("project");
    let init = Command::new(&bin).arg("init").arg(&project).output().unwrap();
    assert!(init.status.success(), "lockgate init: {}", String::from_utf8_lossy(&init.stderr));
    let run = Command::new(&bin)
        .current_dir(&project)
        .args(["run", "--kernel", "debian-6.12", "--env", "bare", "--accept"])
        .env_remove("CI")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "lockgate run from the packaged crate:\n{text}");
    assert!(text.contains("0 failed"), "{text}");
}
