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

/// `cargo xtask vm-test ARGS` in the project; (exit code, stdout + stderr).
fn xtask(project: &Path, args: &[&str]) -> (i32, String) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(project)
        .args(["xtask", "vm-test"])
        .args(args)
        // Its own target directory, kept between runs (the xtask build with lockgate in it is
        // the expensive part); not this workspace's, which the running `cargo test` holds.
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

    // The bug of OpenShell #905, seeded: read-only paths granted read-write as well.
    let main = project.join("enforcer/src/main.rs");
    let src = std::fs::read_to_string(&main).unwrap();
    let line = r#"let read_write = paths("LL_FS_RW");"#;
    assert!(src.contains(line), "{src}");
    std::fs::write(&main, src.replace(line, r#"let read_write = [paths("LL_FS_RW"), paths("LL_FS_RO")].concat();"#))
        .unwrap();
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

/// The enforcer's sha256 in a cell's provenance record.
fn enforcer_digest(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d =
        v["common"]["enforcer_sha256"].as_str().unwrap_or_else(|| panic!("no enforcer_sha256 in {text}")).to_string();
    assert_eq!(d.len(), 64, "{text}");
    d
}
