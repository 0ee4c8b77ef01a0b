//! A scenario carrying its enforcer's own policy document (a native policy), on real kernels:
//! OpenShell's format as a deployment writes it — JSON here, with network policies, device
//! nodes, /proc, a path the image lacks and no /bin — handed byte for byte to the reference
//! enforcer, which reads OpenShell's format natively. lockgate finds the user and the rule
//! paths through the adapter's `native:` selectors.

use lockgate::internals::judge::Status;

pub(crate) const NATIVE: &str = r#"name: native-openshell
about: an OpenShell policy as deployed, handed over as written
setup:
  users: [{name: sandbox, uid: 998}]
  paths:
    - {path: /sandbox, kind: dir, owner: sandbox}
    - {path: /sandbox/data, kind: dir, owner: sandbox}
  absent: [/app]
policy: |
  {"version": 1,
   "filesystem_policy": {"include_workdir": false,
     "read_only": ["/usr", "/lib", "/etc", "/proc", "/dev/urandom", "/app", "/sandbox"],
     "read_write": ["/tmp", "/dev/null", "/sandbox/data"]},
   "landlock": {"compatibility": "best_effort"},
   "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
   "network_policies": {"api": {"name": "api", "endpoints": [{"host": "api.example.test", "port": 443}],
     "binaries": [{"path": "/usr/bin/curl"}]}}}
expect:
  - {run: touch /sandbox/x, denied: EACCES, by: sandbox, when: "abi >= 1"}
  - {run: touch /sandbox/data/x, allowed: true}
  - {run: head -c 8 /dev/urandom > /dev/null, allowed: true}
  - {run: cat /proc/self/status, allowed: true}
  - {enforcement: full, when: "abi >= 1"}
"#;

/// The correct enforcer passes on ABI 6 and ABI 1, the cell reports the missing /app as meant,
/// and the control run was the policy's user, found in the document.
#[test]
fn a_native_openshell_policy_runs_unchanged() {
    // The correct enforcer's cells of two shared runs: variant 1 of Debian 6.12's, the bare
    // cell of Ubuntu 5.15's (`shared`).
    let cells = [
        crate::shared::debian_6_12().cell("debian-6.12", "bare", "native-openshell", 1),
        crate::shared::ubuntu_5_15().cell("ubuntu-5.15", "bare", "native-openshell", 0),
    ];
    for c in cells {
        let v = c.outcome.as_ref().expect("a verdict, not a harness error");
        assert!(v.passed(), "{}: {:?}", c.kernel, v.failures());
        assert_eq!(v.missing_paths, ["/app (setup.absent)"], "{}", c.kernel);
        assert_eq!(v.evidence.control.uid, Some(998), "the document's run_as_user");
        assert!(v.expectations.iter().all(|e| e.status == Status::Pass), "{}: {:?}", c.kernel, v.expectations);
    }
}

/// The document's network policies reach the enforcer: `baseline-rw`, which widens read-only
/// paths only in proxy mode, makes /sandbox writable, and the cell fails.
#[test]
fn the_network_section_of_a_native_policy_reaches_the_enforcer() {
    // `baseline-rw`, variant 0 of the shared Debian 6.12 run.
    let c = crate::shared::debian_6_12().cell("debian-6.12", "bare", "native-openshell", 0);
    let v = c.outcome.as_ref().expect("a verdict, not a harness error");
    assert!(!v.passed());
    assert_eq!(v.expectations[0].status, Status::Fail, "{:?}", v.expectations[0]);
    assert_eq!(v.expectations[0].enforced.as_deref(), Some("allowed"));
}
