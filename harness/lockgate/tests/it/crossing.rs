//! Issue 28 on a real kernel (the shared Debian 6.12 run, `shared::debian_6_12`): what crosses
//! the boundary (a descriptor the enforcer leaves open) and rights per rule with a stated
//! handled set, outer layers and directories opened before the sandbox, each passing with the
//! correct enforcer and caught with its known-bad mode.

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

/// Layers: a denial of the outer layer is `layer` (its control run, inside the layer, was denied
/// too; the run outside it was not), one of the enforcer's own layer `sandbox`.
#[test]
fn the_outer_layer_and_the_enforcers_own_are_told_apart() {
    let shared = crate::shared::debian_6_12();
    let cell = shared.cell("debian-6.12", "bare", "landlock-layers", 1).outcome.as_ref().unwrap();
    assert!(cell.passed(), "{:?}", cell.failures());
    let by = |expect: &str| cell.expectations.iter().find(|e| e.expect == expect).unwrap().denied_by;
    use lockgate::internals::model::scenario::Denier;
    assert_eq!(by("probe write /sandbox/ro/f → denied EACCES by layer"), Some(Denier::Layer));
    assert_eq!(by("probe write /sandbox/rw/f → denied EACCES by sandbox"), Some(Denier::Sandbox));
}

/// 16 outer layers: the enforcer's restrict_self fails with E2BIG; swallowed, its claim of
/// `full` fails the cell.
#[test]
fn a_swallowed_restrict_error_under_sixteen_layers_is_caught_by_the_claim() {
    let faulty = correct_and_faulty("landlock-max-layers", 5).outcome.as_ref().unwrap();
    let x = &faulty.expectations[0];
    assert_eq!((x.status, x.claimed.as_deref()), (Status::Fail, Some("full")));
}

/// `leak-dirfd`: listing the drop box through the leaked directory descriptor fails the cell,
/// and the reason names the descriptor; with the correct enforcer only the harness's own
/// descriptor (on /project) crosses, and it grants nothing beneath it.
#[test]
fn a_leaked_directory_descriptor_is_caught_and_named() {
    let faulty = correct_and_faulty("descriptors-before-sandbox", 6).outcome.as_ref().unwrap();
    let x = faulty.expectations.iter().find(|e| e.expect == "probe inherited_readdir /inbox → denied EBADF").unwrap();
    assert_eq!((x.status, x.control.as_deref()), (Status::Fail, Some("denied EBADF")));
    let reason = x.reason.as_deref().unwrap();
    assert!(reason.contains("the command listed /inbox through descriptor "), "{reason}");
}
