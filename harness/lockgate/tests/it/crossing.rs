//! Issue 28 on a real kernel (the shared Debian 6.12 run, `shared::debian_6_12`): what crosses
//! the boundary (a descriptor the enforcer leaves open) and rights per rule with a stated
//! handled set, each passing with the correct enforcer and caught with its known-bad mode.

use lockgate::internals::judge::Status;
use lockgate::CellResult;

/// The scenario's cell with the correct enforcer (variant 1), which must pass, and its cell
/// with the known-bad variant.
fn correct_and_faulty(scenario: &str, faulty: usize) -> &'static CellResult {
    let shared = crate::shared::debian_6_12();
    let correct = shared.cell("debian-6.12", "bare", scenario, 1).outcome.as_ref().unwrap();
    assert!(correct.passed(), "{:?}", correct.failures());
    shared.cell("debian-6.12", "bare", scenario, faulty)
}

/// `leak-fd`: the write through the leaked descriptor fails the cell, and the reason names the
/// descriptor; with the correct enforcer the command inherits none.
#[test]
fn a_leaked_descriptor_is_caught_and_named() {
    let leaked = correct_and_faulty("inherited-descriptor", 3).outcome.as_ref().unwrap();
    let x = &leaked.expectations[0];
    assert_eq!(
        (x.status, x.enforced.as_deref(), x.control.as_deref()),
        (Status::Fail, Some("allowed"), Some("denied EBADF"))
    );
    let reason = x.reason.as_deref().unwrap();
    assert!(
        reason.contains("the command wrote to /sandbox/app.conf through descriptor ")
            && reason.contains(" (O_RDWR), open for writing when it started; the control run (no enforcer) was denied EBADF, so the enforcer passed it in"),
        "{reason}"
    );
}

/// `rights-per-rule`: write without truncate, make_reg handled and granted nowhere, make_dir
/// not handled; an enforcer that handles only what its rules grant lets `create` through.
#[test]
fn rights_per_rule_hold_and_a_handled_set_made_of_the_rules_is_caught() {
    let faulty = correct_and_faulty("rights-per-rule", 4).outcome.as_ref().unwrap();
    let failed: Vec<&str> =
        faulty.expectations.iter().filter(|e| e.status == Status::Fail).map(|e| e.expect.as_str()).collect();
    assert!(failed.contains(&"probe create /work/new → denied EACCES by sandbox"), "{failed:?}");
    assert!(failed.contains(&"probe truncate /work/f → denied EACCES by sandbox"), "{failed:?}");
}
