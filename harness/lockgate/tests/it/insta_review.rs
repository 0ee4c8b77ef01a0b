//! `cargo insta review` on a project's snapshots, with the real cargo-insta (the version of the
//! insta crate lockgate writes them with, installed once by the test command's set-up): a
//! project made by `lockgate init`, one real run on Debian 6.12 that leaves a new snapshot (the
//! init scenario, never recorded) and a changed one (a scenario whose recorded snapshot its edit
//! makes stale) pending; cargo-insta lists both, accepts the new one and rejects the changed
//! one; the files left are what lockgate reads back: the next run matches the accepted snapshot
//! and finds the rejected one still changed.

use lockgate::internals::setup::{ensure_cargo_insta, CARGO_INSTA_VERSION};
use lockgate::internals::supply::guest::workspace_root;
use std::path::{Path, PathBuf};
use std::process::Command;

const NEW: &str = "read-only-tree@debian-6.12@bare";
const CHANGED: &str = "dac-only@debian-6.12@bare";

/// `lockgate run` on Debian 6.12, bare, in `project`, as a developer runs it (not in CI: insta
/// writes the `.snap.new` files); (exit code, output).
fn lockgate_run(project: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .current_dir(project)
        .args(["run", "--kernel", "debian-6.12", "--env", "bare"])
        .env_remove("CI")
        .env_remove("INSTA_UPDATE")
        .env_remove("INSTA_FORCE_PASS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("lockgate run:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// `cargo insta ARGS` on `project`'s snapshots, run in its `scenarios/` (whose `Cargo.toml`,
/// written by `lockgate init`, makes the package cargo-insta looks in), with the installed
/// cargo-insta first on the PATH; its output, or a panic naming the command and what it printed.
fn cargo_insta(bin: &Path, project: &Path, args: &[&str]) -> String {
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(project.join("scenarios"))
        .env("PATH", path)
        .env_remove("CI")
        .args(["insta"])
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cargo insta {}:\n{text}", args.join(" "));
    text
}

fn snap(project: &Path, name: &str, ext: &str) -> PathBuf {
    project.join("scenarios/snapshots").join(format!("{name}.{ext}"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The snapshot's body: what follows its metadata header.
fn body(text: &str) -> &str {
    text.splitn(3, "---\n").nth(2).unwrap_or_else(|| panic!("no snapshot header in:\n{text}"))
}

#[test]
fn cargo_insta_reviews_a_projects_new_and_changed_snapshots() {
    let bin = ensure_cargo_insta(lockgate::internals::supply::open_cache(None).expect("lockgate's cache").root())
        .expect("cargo-insta (the test command's set-up installs it)");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let init = Command::new(env!("CARGO_BIN_EXE_lockgate")).arg("init").arg(&project).output().unwrap();
    assert!(init.status.success(), "lockgate init: {}", String::from_utf8_lossy(&init.stderr));

    // A scenario recorded before (lockgate's own `dac-only` and its snapshot on this kernel),
    // then edited: its second expectation dropped, so its recorded snapshot is stale.
    let scenario = crate::common::shipped("dac-only");
    let edited: String =
        scenario.lines().filter(|l| !l.contains("probe: create /sandbox/probe")).map(|l| format!("{l}\n")).collect();
    assert_ne!(edited, scenario);
    std::fs::write(project.join("scenarios/dac-only.yaml"), edited).unwrap();
    std::fs::create_dir_all(project.join("scenarios/snapshots")).unwrap();
    let recorded = read(&workspace_root().join("scenarios/snapshots").join(format!("{CHANGED}.snap")));
    std::fs::write(snap(&project, CHANGED, "snap"), &recorded).unwrap();

    let (code, text) = lockgate_run(&project);
    assert_eq!(code, 1, "a new and a changed snapshot fail the run:\n{text}");
    let new_pending = read(&snap(&project, NEW, "snap.new"));
    let changed_pending = read(&snap(&project, CHANGED, "snap.new"));
    assert!(!snap(&project, NEW, "snap").exists());
    assert!(body(&changed_pending).contains("touch /sandbox/testfile"), "{changed_pending}");
    assert!(!body(&changed_pending).contains("create /sandbox/probe"), "{changed_pending}");
    assert!(body(&recorded).contains("create /sandbox/probe"), "{recorded}");

    // cargo-insta sees both pending.
    let listed = cargo_insta(&bin, &project, &["pending-snapshots"]);
    for name in [NEW, CHANGED] {
        assert!(listed.contains(&format!("{name}.snap")), "pending-snapshots names no {name}:\n{listed}");
    }

    // Accept the new one, reject the change.
    cargo_insta(&bin, &project, &["accept", "--snapshot", &format!("{NEW}.snap")]);
    cargo_insta(&bin, &project, &["reject", "--snapshot", &format!("{CHANGED}.snap")]);
    assert!(!snap(&project, NEW, "snap.new").exists() && !snap(&project, CHANGED, "snap.new").exists());
    assert_eq!(body(&read(&snap(&project, NEW, "snap"))), body(&new_pending), "accepted as written by the run");
    assert_eq!(read(&snap(&project, CHANGED, "snap")), recorded, "the rejected change left the recorded snapshot");
    let listed = cargo_insta(&bin, &project, &["pending-snapshots"]);
    assert!(!listed.contains(".snap"), "nothing pending after the review:\n{listed}");
    // The package is only a place for cargo-insta: nothing of it was built.
    assert!(!project.join("scenarios/target").exists());

    // lockgate reads the files back: the accepted snapshot matches, the rejected one is still
    // changed (and pending again).
    let (code, text) = lockgate_run(&project);
    assert_eq!(code, 1, "{text}");
    assert!(!snap(&project, NEW, "snap.new").exists(), "the accepted snapshot did not match:\n{text}");
    assert_eq!(body(&read(&snap(&project, CHANGED, "snap.new"))), body(&changed_pending));
}

/// The cargo-insta the set-up installs is the version of the insta crate that writes the
/// snapshots (a bump of one without the other fails here).
#[test]
fn cargo_insta_is_the_version_of_the_insta_crate() {
    let lock = read(&workspace_root().join("Cargo.lock"));
    let insta = lock.split("[[package]]").find(|p| p.contains("\nname = \"insta\"\n")).expect("insta in Cargo.lock");
    assert!(insta.contains(&format!("\nversion = \"{CARGO_INSTA_VERSION}\"\n")), "{insta}");
}
