//! Issue 18: what runs from outside hit — a verdict's explanation as true as the verdict, the
//! snapshot state kept apart from the verdict, named limits, checked input, case isolation.
//! VM tests boot real kernels; nothing is mocked.

mod common;

use lockgate::judge::Status;
use lockgate::run::run;

/// A ruleset pinned to ABI 2 (the reference enforcer's `abi2` fault) on a kernel with ABI 4: the
/// truncate goes through although Landlock was in effect (the write beside it was denied by the
/// sandbox). The reason must say so, not that Landlock was not in effect.
#[test]
fn an_unhandled_right_is_not_explained_as_landlock_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::options(
        &["ubuntu-6.8"],
        &["bare"],
        &[("truncate-read-only", &common::shipped("truncate-read-only"))],
        dir.path(),
    );
    o.enforcer.faults = vec!["abi2".into()];
    let r = run(&o).unwrap();
    let v = r.cells[0].outcome.as_ref().expect("a verdict");
    assert!(!v.passed(), "the abi2 fault must be caught");
    let truncate = &v.expectations[0];
    assert_eq!(truncate.status, Status::Fail);
    let reason = truncate.reason.as_deref().unwrap();
    assert!(!reason.contains("not in effect"), "{reason}");
    assert!(
        reason.contains("a Landlock ruleset was in effect in this run (1 other step denied by the sandbox: `probe write /sandbox/owned`)"),
        "{reason}"
    );
    assert!(reason.contains("Landlock here is ABI 4, which restricts"), "{reason}");
}

/// A misspelt `--enforcer-fault` is refused before anything boots, with the valid modes.
#[test]
fn a_misspelt_enforcer_fault_is_refused_before_booting() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::options(
        &["debian-5.10"],
        &["bare"],
        &[("openshell-803", &common::shipped("openshell-803"))],
        dir.path(),
    );
    o.enforcer.faults = vec!["baseline_rw".into()];
    let start = std::time::Instant::now();
    let e = format!("{:#}", run(&o).expect_err("a mode the enforcer does not have is an input error"));
    assert!(
        e.contains(
            "--enforcer-fault baseline_rw: lockgate-enforcer has no such fault mode; did you mean `baseline-rw`?"
        ),
        "{e}"
    );
    for m in ["drop-first", "ignore-status", "abi2", "baseline-rw", "no-nnp"] {
        assert!(e.contains(m), "the valid modes are listed: {e}");
    }
    assert!(start.elapsed().as_secs() < 5, "nothing booted: {:?}", start.elapsed());
}
