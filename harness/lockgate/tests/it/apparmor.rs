//! VM tests of the AppArmor environments (issue 27, item 3) on Ubuntu's 6.8 kernel, which starts
//! AppArmor and has the restriction on unprivileged user namespaces: noble's parser loads noble's
//! profiles in the guest, and what AppArmor refuses is said to be AppArmor's, from the kernel's
//! audit records and the control run under the same policy.

use crate::common;
use lockgate::internals::judge::Status;
use lockgate::internals::model::scenario::Denier;
use lockgate::internals::run::run;

/// bubblewrap under Ubuntu 24.04's policy: refused (its namespace loses every capability in
/// `unprivileged_userns`), refused outright where no profile takes it in, let through by a
/// profile that grants it `userns`. One boot.
#[test]
fn apparmor_refuses_bubblewrap_its_namespaces_unless_a_profile_grants_userns() {
    let (file, _) = common::fetched("bubblewrap");
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::shipped("bubblewrap-sandbox");
    let envs = ["apparmor-noble", "apparmor-noble-bwrap", "apparmor-userns-restricted"];
    let mut o = common::options(&["ubuntu-6.8"], &envs, &[("bubblewrap-sandbox", &scenario)], dir.path());
    o.enforcer.adapter_file = Some(file);
    let r = run(&o).unwrap();
    let cell = |env: &str| r.cells.iter().find(|c| c.env == env).unwrap().outcome.as_ref().expect("a verdict");
    let granted = cell("apparmor-noble-bwrap");
    assert!(granted.passed(), "{:?}", granted.failures());
    for (env, record) in [
        ("apparmor-noble", r#"operation="capable" class="cap" profile="unprivileged_userns" comm="bwrap""#),
        ("apparmor-userns-restricted", r#"operation="userns_create""#),
    ] {
        let refused = cell(env);
        for e in &refused.expectations {
            assert_eq!(e.status, Status::Fail, "{env}: {}", e.expect);
            let why = e.reason.as_deref().unwrap();
            assert!(
                why.contains("AppArmor refused the sandbox its namespaces (the kernel logged `apparmor=\"DENIED\""),
                "{env}: {why}"
            );
            assert!(why.contains(record), "{env}: {why}");
        }
    }
}

/// A plain process (the reference enforcer): under noble's policy the user namespace is made;
/// with the restriction and no profile it is refused EACCES in both runs, with the kernel's
/// record, so the denial is AppArmor's; a file plain permissions refuse in the same runs stays
/// theirs. One boot.
#[test]
fn a_denial_by_apparmor_is_attributed_to_apparmor() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::shipped("apparmor-userns");
    let envs = ["apparmor-noble", "apparmor-userns-restricted"];
    let o = common::options(&["ubuntu-6.8"], &envs, &[("apparmor-userns", &scenario)], dir.path());
    let r = run(&o).unwrap();
    let cell = |env: &str| r.cells.iter().find(|c| c.env == env).unwrap().outcome.as_ref().expect("a verdict");
    for env in envs {
        assert!(cell(env).passed(), "{env}: {:?}", cell(env).failures());
    }
    let restricted = cell("apparmor-userns-restricted");
    let by = |what: &str| {
        restricted
            .expectations
            .iter()
            .find(|e| e.expect.starts_with(what) && e.status == Status::Pass)
            .unwrap()
            .denied_by
    };
    assert_eq!(by("probe syscall unshare CLONE_NEWUSER"), Some(Denier::AppArmor));
    assert_eq!(by("probe read /data/root-only"), Some(Denier::Dac));
    let noble = cell("apparmor-noble");
    let unshare = noble.expectations.iter().find(|e| e.expect.starts_with("probe syscall unshare")).unwrap();
    assert_eq!((unshare.status, unshare.enforced.as_deref()), (Status::Pass, Some("allowed")));
}
