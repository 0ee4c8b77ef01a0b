//! Issue 24: every word of a verdict true — attribution beyond permissions, denials whose
//! control run failed otherwise as evidence, the harness's sentinel, the run's own words. VM
//! tests boot real kernels (debian-6.12: Landlock ABI 6); nothing is mocked.

use crate::common;

use lockgate::internals::judge::Status;
use lockgate::internals::model::scenario::Denier;

/// The issue's first scenario, as written: three failures the same in both runs, expected
/// `by: sandbox`.
pub(crate) const SAME_ERRNO: &str = r#"
name: same-errno-not-dac
setup:
  paths: [{path: /lt, kind: dir, mode: "0700"}, {path: /lt/d, kind: dir, mode: "0700"}, {path: /lt/d/f, kind: file, mode: "0700"}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc, /dev], read_write: [/lt], ioctl_dev: [/dev]}
  network: {bind_tcp: [1024], connect_tcp: [1024]}
  landlock: {compatibility: best_effort}
expect:
  - {probe: ioctl_dev /dev/null, denied: ENOTTY, by: sandbox}
  - {probe: rmdir /lt/d, denied: ENOTEMPTY, by: sandbox}
  - {probe: tcp_bind 1024, denied: EADDRINUSE, by: sandbox}
  - {probe: tcp_connect 1024, allowed: true}
"#;

/// Items 2 and 3 on a real kernel: ENOTTY and ENOTEMPTY in both runs are the operation's own
/// failures, not permissions nor the sandbox; the bind on the connect probe's port is allowed
/// (the harness's listener is on its own address); the shipped `by: operation` version passes.
#[test]
fn the_same_failure_in_both_runs_is_the_operations_own() {
    // The correct enforcer, variant 1 of the shared Debian 6.12 run (`shared::debian_6_12`).
    let shared = crate::shared::debian_6_12();
    let cell = |name: &str| shared.cell("debian-6.12", "bare", name, 1).outcome.as_ref().unwrap();
    let v = cell("same-errno-not-dac");
    for (i, words) in [(0, "ENOTTY: inappropriate ioctl for device"), (1, "ENOTEMPTY: directory not empty")] {
        let x = &v.expectations[i];
        assert_eq!((x.status, x.denied_by), (Status::Fail, Some(Denier::Operation)), "{x:?}");
        let reason = x.reason.as_deref().unwrap();
        assert!(
            reason.contains(words) && reason.contains("the operation fails here without the sandbox too"),
            "{reason}"
        );
        assert!(!reason.contains("permissions"), "{reason}");
    }
    let bind = &v.expectations[2];
    assert_eq!((bind.status, bind.enforced.as_deref()), (Status::Fail, Some("allowed")), "{bind:?}");
    assert_eq!(v.expectations[3].status, Status::Pass);
    for name in ["same-errno-by-operation", "bind-and-connect-one-port"] {
        assert!(cell(name).passed(), "{name}: {:?}", cell(name).failures());
    }
}

/// Item 1's scenario: binds and connects on ports the policy does not name.
pub(crate) const BINDS: &str = r#"
name: binds-and-connects
setup:
  users: [{name: sandbox, uid: 998}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc]}
  network: {bind_tcp: [1024], connect_tcp: [1024]}
  landlock: {compatibility: best_effort}
  process: {run_as_user: sandbox}
expect:
  - {probe: tcp_bind 4096, denied: EACCES, by: sandbox}
  - {probe: tcp_bind 16384, denied: EACCES, by: sandbox}
  - {probe: tcp_connect 4096, denied: EACCES, by: sandbox}
  - {probe: tcp_connect 16384, denied: EACCES, by: sandbox}
"#;

/// Item 1: with connect unhandled (`no-connect-tcp`), binds the sandbox denied are the evidence
/// that a ruleset was in effect, whatever the control run got.
#[test]
fn denied_binds_are_evidence_when_a_connect_goes_through() {
    // `no-connect-tcp`, variant 2 of the shared Debian 6.12 run.
    let shared = crate::shared::debian_6_12();
    let v = shared.cell("debian-6.12", "bare", "binds-and-connects", 2).outcome.as_ref().unwrap();
    let reason = v.expectations[2].reason.as_deref().unwrap();
    assert!(
        reason.contains("a Landlock ruleset was in effect in this run (2 other steps denied by the sandbox: `probe tcp_bind 4096`, `probe tcp_bind 16384`"),
        "{reason}"
    );
    assert!(!reason.contains("nothing in this run shows"), "{reason}");
}

/// Items 5 and 6: with `baseline-rw` the deployed seed fails with words that say a ruleset was
/// in effect (the sentinel was denied) and the enforcer's rules grant the write; the fault
/// run's evidence files go under its own directory, and its provenance names the fault.
#[test]
fn baseline_rw_is_explained_by_the_sentinel_and_kept_apart() {
    // `baseline-rw`, variant 0 of the shared Debian 6.12 run (its cells have their files).
    let shared = crate::shared::debian_6_12();
    let v = shared.cell("debian-6.12", "bare", "openshell-803-deployed", 0).outcome.as_ref().unwrap();
    assert!(!v.passed(), "baseline-rw must be caught");
    let reason = v.expectations[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("a Landlock ruleset was in effect in this run (the harness's sentinel `probe mknod_reg /lockgate-sentinel/f`, in a directory of the harness's own that no path of the policy covers, was denied EACCES, so the ruleset handles MAKE_REG), so the enforcer's effective rules grant this access, which the scenario expects its policy to deny"),
        "{reason}"
    );
    let snapshots = shared.dir.path().join("scenarios/snapshots");
    let cell = "openshell-803-deployed@debian-6.12@bare";
    assert!(!snapshots.join(format!("{cell}.output.txt")).exists(), "the reference run's place is left alone");
    let faults = snapshots.join("faults/baseline-rw");
    assert_eq!(v.evidence.output_file.as_deref(), Some(faults.join(format!("{cell}.output.txt")).as_path()));
    let output = std::fs::read_to_string(faults.join(format!("{cell}.output.txt"))).unwrap();
    assert!(
        output.contains("\n=== the harness's sentinel: probe mknod_reg /lockgate-sentinel/f\ncontrol: allowed\n"),
        "{output}"
    );
    assert!(output.contains("enforced: denied EACCES\n"), "{output}");
    let provenance = std::fs::read_to_string(faults.join(format!("{cell}.provenance.json"))).unwrap();
    assert!(provenance.contains("\"enforcer_faults\": [\n      \"baseline-rw\"\n    ]"), "{provenance}");
}

/// Item 6: a kernel that cannot be fetched is reported once, with what to do, and the summary
/// counts no boot for it (nothing boots here: its bzImage does not exist).
#[test]
fn a_kernel_that_cannot_be_fetched_is_said_once_and_boots_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = lockgate::internals::supply::guest::workspace_root();
    let repo = dir.path().join("repo");
    let kernels = repo.join("kernels");
    std::fs::create_dir_all(&kernels).unwrap();
    std::fs::create_dir_all(repo.join("scenarios")).unwrap();
    std::fs::copy(root.join("kernels/lock.yaml"), kernels.join("lock.yaml")).unwrap();
    std::fs::write(kernels.join("gone.yaml"), "name: gone\nabi: 4\nsource: {path: /nonexistent/bzImage}\n").unwrap();
    std::os::unix::fs::symlink(root.join("images"), repo.join("images")).unwrap();
    for name in ["openshell-803", "dac-only"] {
        std::fs::write(repo.join(format!("scenarios/{name}.yaml")), common::shipped(name)).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .args(["run", "--repo", repo.to_str().unwrap(), "--kernel", "gone", "--env", "bare", "--no-snapshots"])
        .env_remove("CI")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("ERROR kernel gone (2 cells not judged):").count(), 1, "said once: {text}");
    assert!(
        !text.contains("ERROR openshell-803@gone") && !text.contains("ERROR dac-only@gone"),
        "not once per cell: {text}"
    );
    assert!(text.contains("what to do:"), "{text}");
    assert!(text.contains("; 0 kernel boots;"), "nothing booted: {text}");
}
