//! The release's static `lockgate` (`.github/workflows/release.yml`, job `binary`, which the
//! action installs instead of building lockgate): built here with the step's own command and
//! environment, read from the workflow, it is statically linked (`file`, `ldd`), prints its
//! version, and, copied into an empty directory with the checkout it was built from hidden (as
//! root, in a mount namespace of its own), makes a project with `lockgate init` and runs it on a
//! real kernel with no warning.
//!
//! A release build takes minutes on two cores, so the test is not part of `cargo xtask test`:
//! the nightly workflow runs it (`--ignored`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The release workflow's build step of the static binary: its `env` and its `run` command.
fn release_build_step() -> (Vec<(String, String)>, String) {
    let path = root().join(".github/workflows/release.yml");
    let wf: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let steps = wf["jobs"]["binary"]["steps"].as_sequence().expect("release.yml has a `binary` job with steps");
    let build = steps.iter().find(|s| s["name"] == "Build").expect("the binary job has a step named Build");
    let env = build["env"]
        .as_mapping()
        .map(|m| m.iter().map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap().into())).collect())
        .unwrap_or_default();
    (env, build["run"].as_str().expect("the Build step runs a command").trim().to_string())
}

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
#[ignore = "a release build of lockgate (minutes): the nightly workflow runs it"]
fn the_release_binary_is_static_and_runs_a_kernel_outside_the_checkout() {
    let (env, run) = release_build_step();
    assert!(env.iter().any(|(k, v)| k == "RUSTFLAGS" && v.contains("+crt-static")), "{env:?}");
    assert!(run.contains("--target x86_64-unknown-linux-gnu"), "{run}");
    let (ok, log) = output(Command::new("sh").arg("-c").arg(&run).current_dir(root()).envs(env));
    assert!(ok, "{run}:\n{log}");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let built = target.join("x86_64-unknown-linux-gnu/release/lockgate");

    let (_, file) = output(Command::new("file").arg(&built));
    assert!(file.contains("statically linked") || file.contains("static-pie linked"), "{file}");
    let (_, ldd) = output(Command::new("ldd").arg(&built));
    assert!(ldd.contains("not a dynamic executable") || ldd.contains("statically linked"), "{ldd}");

    // The binary alone, in a directory of its own, as the action installs it.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin/lockgate");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(&built, &bin).unwrap();
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = manifest.lines().find_map(|l| l.strip_prefix("version = \"")).unwrap().trim_end_matches('"');
    let (ok, printed) = output(Command::new(&bin).arg("--version"));
    assert!(ok && printed.trim() == format!("lockgate {version}"), "{printed}");

    // `lockgate init` then `lockgate run` from an empty directory; as root, with the checkout
    // hidden under an empty tmpfs, so nothing it reads can come from there.
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let script = format!(
        "set -e; {hide}cd {p:?}; {b:?} init .; {b:?} run --kernel debian-6.12 --env bare --accept",
        hide = if is_root() {
            format!("mount --make-rprivate / && mount -t tmpfs none {r:?} && test ! -e {r:?}/Cargo.toml; ", r = root())
        } else {
            String::new()
        },
        p = project,
        b = bin,
    );
    let mut cmd = match is_root() {
        true => Command::new("unshare"),
        false => Command::new("sh"),
    };
    if is_root() {
        cmd.args(["--mount", "sh"]);
    }
    let (ok, text) = output(cmd.arg("-c").arg(&script).env_remove("CI").env_remove("INSTA_UPDATE"));
    eprintln!("{text}");
    assert!(ok, "the static lockgate's init and run:\n{text}");
    assert!(text.contains("0 failed"), "{text}");
    for warning in ["statically linked applications", "getaddrinfo", "NSS"] {
        assert!(!text.contains(warning), "the static binary warned ({warning}):\n{text}");
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
