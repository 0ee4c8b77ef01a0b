//! The example sandbox project (`examples/sandbox`) adopting lockgate as a project would: copied
//! to a directory outside this checkout, its xtask's lockgate dependency pointed at this
//! checkout by path (as a git dependency would point at a checkout cargo makes), its own
//! enforcer built by lockgate from its workspace. `cargo xtask vm-test` on one real kernel
//! passes against the example's committed snapshots; with a bug seeded into the example's
//! enforcer (its read-only paths also granted read-write, OpenShell #905) the same run fails
//! with the usual failure report.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_name() == "target" {
            continue;
        }
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// This workspace's build directory: its target directory (`CARGO_TARGET_DIR` if set).
fn build_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// `cargo xtask vm-test ARGS` in the project; (exit code, stdout + stderr).
fn xtask(project: &Path, args: &[&str]) -> (i32, String) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(project)
        // The compiled crates (the build directory) are this workspace's: its xtask's build
        // compiled lockgate's dependencies already, and a dependency built with the same
        // version, features and profile is the same unit, which cargo reuses (it keys every
        // unit by a hash of those). From a fresh clone, the example's xtask otherwise compiled
        // every dependency of lockgate a second time (issue 30). Cargo locks the build
        // directory while it builds; the running `cargo test` has finished building.
        .arg("--config")
        .arg(format!("build.build-dir={:?}", build_dir().display().to_string()))
        // This workspace's dev profile (its Cargo.toml), which the profile is part of the key of.
        .args(["--config", "profile.dev.debug=false"])
        .args(["xtask", "vm-test"])
        .args(args)
        // Its final artefacts (its own `xtask` binary, whose name is this workspace's xtask's
        // too) in a target directory of its own, kept between runs.
        .env("CARGO_TARGET_DIR", root().join("target/example-project"))
        .env_remove("CI")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("cargo xtask vm-test {}:\n{text}", args.join(" "));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_example_project_passes_and_catches_a_seeded_enforcer_bug() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().starts_with(root()), "the copy is outside lockgate's checkout");
    let project = dir.path().join("sandbox");
    copy_tree(&root().join("examples/sandbox"), &project);
    let manifest = project.join("xtask/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let dep = r#"lockgate = { path = "../../../harness/lockgate" }"#;
    assert!(text.contains(dep), "{text}");
    let ours = format!("lockgate = {{ path = {:?} }}", root().join("harness/lockgate").display().to_string());
    std::fs::write(&manifest, text.replace(dep, &ours)).unwrap();

    let args = ["--kernel", "debian-6.12", "--env", "bare", "-j", "1"];
    let (code, out) = xtask(&project, &args);
    assert_eq!(code, 0, "the example passes on debian-6.12: {out}");
    assert!(out.contains("2 cells: 2 passed, 0 failed;"), "{out}");
    assert!(!project.join("harness").exists(), "nothing is written outside the project's lockgate directory");
    // Its enforcer, built by lockgate: the provenance names the binary's digest.
    let provenance = project.join("scenarios/snapshots/read-only-tree@debian-6.12@bare.provenance.json");
    let enforcer = enforcer_digest(&provenance);

    seed_905(&project);
    let (code, out) = xtask(&project, &args);
    assert_eq!(code, 1, "the seeded bug fails the run: {out}");
    assert!(out.contains("1 failed"), "{out}");
    assert!(
        out.contains("read-only-tree") && out.contains("create /srv/new"),
        "the report names the cell and the probe: {out}"
    );
    assert!(
        out.contains("reproduce: cargo xtask vm-test --kernel debian-6.12 --scenario read-only-tree --env bare"),
        "{out}"
    );
    assert_ne!(enforcer_digest(&provenance), enforcer, "the changed source was built again, and recorded");
}

/// The bug of OpenShell #905, seeded into the example's enforcer: its read-only paths granted
/// read-write as well.
fn seed_905(project: &Path) {
    let main = project.join("enforcer/src/main.rs");
    let src = std::fs::read_to_string(&main).unwrap();
    let line = r#"let read_write = paths("LL_FS_RW");"#;
    assert!(src.contains(line), "{src}");
    std::fs::write(&main, src.replace(line, r#"let read_write = [paths("LL_FS_RW"), paths("LL_FS_RO")].concat();"#))
        .unwrap();
}

/// The enforcer's sha256 in a cell's provenance record.
fn enforcer_digest(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d =
        v["common"]["enforcer_sha256"].as_str().unwrap_or_else(|| panic!("no enforcer_sha256 in {text}")).to_string();
    assert_eq!(d.len(), 64, "{text}");
    d
}

/// `lockgate ARGS` (the installed binary alone) in `dir`; (exit code, stdout + stderr).
fn lockgate(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .current_dir(dir)
        .args(args)
        .env_remove("CI")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("LOCKGATE_INVOKED_AS")
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("lockgate {}:\n{text}", args.join(" "));
    (out.status.code().unwrap_or(-1), text)
}

/// Issue 23, as a new user with only the `lockgate` binary: an empty directory says how to start;
/// `init` writes a project that `check` accepts; the example project copied anywhere (its
/// xtask untouched, lockgate's sources nowhere) is checked, lists its kernels without reading
/// its scenarios, fetches one enforcer, and runs on debian-6.12; with a bug seeded, the failing
/// cell's reproduce line is a `lockgate run …` command, and running that line reproduces the
/// failure and only that cell.
#[test]
fn the_binary_alone_starts_checks_fetches_runs_and_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, out) = lockgate(&empty, &["run"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a lockgate project") && out.contains("`lockgate init`"), "{out}");
    let (code, out) = lockgate(&empty, &["init"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lockgate(&empty, &["check"]);
    assert_eq!(code, 0, "init's project passes check: {out}");

    let project = dir.path().join("sandbox");
    copy_tree(&root().join("examples/sandbox"), &project);
    // One of lockgate's own adapters, to fetch: Landlock's sample, compiled from the pinned
    // Linux sources (the tiny kernels' package, so the cache usually has it).
    std::fs::copy(root().join("enforcers/landlock-sandboxer.yaml"), project.join("enforcers/landlock-sandboxer.yaml"))
        .unwrap();
    let (code, out) = lockgate(&project, &["check"]);
    assert_eq!(code, 0, "{out}");
    // A broken scenario does not concern the kernels: `kernels list` does not read scenarios.
    std::fs::write(project.join("scenarios/broken.yaml"), "name: [\n").unwrap();
    let (code, out) = lockgate(&project, &["kernels", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("debian-6.12") && out.contains("ubuntu-6.8"), "{out}");
    let (code, out) = lockgate(&project, &["check"]);
    assert_eq!(code, 1, "check reports the broken scenario: {out}");
    assert!(out.contains("broken.yaml:"), "{out}");
    std::fs::remove_file(project.join("scenarios/broken.yaml")).unwrap();
    let (code, out) = lockgate(&project, &["enforcers", "fetch", "landlock-sandboxer"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("calls landlock_create_ruleset"), "{out}");

    let args = ["run", "--kernel", "debian-6.12", "--env", "bare", "-j", "1"];
    let (code, out) = lockgate(&project, &args);
    assert_eq!(code, 0, "the example passes on debian-6.12 with the binary alone: {out}");
    assert!(out.contains("2 cells: 2 passed, 0 failed;"), "{out}");

    seed_905(&project);
    let (code, out) = lockgate(&project, &args);
    assert_eq!(code, 1, "the seeded bug fails the run: {out}");
    let repro = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .unwrap_or_else(|| panic!("a reproduce line: {out}"))
        .to_string();
    assert_eq!(repro, "lockgate run --kernel debian-6.12 --scenario read-only-tree --env bare", "{out}");
    let words: Vec<&str> = repro.split_whitespace().collect();
    let (code, again) = lockgate(&project, &words[1..]);
    assert_eq!(code, 1, "the reproduce line fails again: {again}");
    assert!(again.contains("1 cells: 0 passed, 1 failed"), "only that cell, failing: {again}");
}
