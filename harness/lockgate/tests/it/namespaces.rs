//! VM test of a namespace sandbox (issue 27): bubblewrap from Debian's package, fetched by its
//! adapter's pinned recipe, on Debian 6.12 bare and under Docker 26.1.5 (one boot). Bare, its
//! denials carry the namespaces' errnos (EROFS, ENOENT, ECONNREFUSED), each the sandbox's by the
//! control run, and the runner shows the namespaces it made; in the container the profile
//! refuses them, and every failed expectation says so.

use crate::common;
use lockgate::internals::judge::Status;
use lockgate::internals::run::run;

#[test]
fn bubblewrap_confines_by_namespaces_and_docker_refuses_them() {
    let (file, _) = common::fetched("bubblewrap");
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::shipped("bubblewrap-sandbox");
    let mut o =
        common::options(&["debian-6.12"], &["bare", "docker-26.1.5"], &[("bubblewrap-sandbox", &scenario)], dir.path());
    o.enforcer.adapter_file = Some(file);
    let r = run(&o).unwrap();
    let cell = |env: &str| r.cells.iter().find(|c| c.env == env).unwrap().outcome.as_ref().expect("a verdict");
    let bare = cell("bare");
    assert!(bare.passed(), "{:?}", bare.failures());
    let seen = |what: &str| bare.expectations.iter().find(|e| e.expect.starts_with(what)).unwrap();
    assert_eq!(seen("probe write /data/file").enforced.as_deref(), Some("denied EROFS"));
    assert_eq!(seen("probe read /tmp/guest-file").enforced.as_deref(), Some("denied ENOENT"));
    assert_eq!(seen("probe tcp_connect 8080").enforced.as_deref(), Some("denied ECONNREFUSED"));
    assert_eq!(seen("probe pid_visible outside").control.as_deref(), Some("allowed"));
    let ns = seen("mechanism namespaces").enforced.as_deref().unwrap();
    assert!(ns.starts_with("new namespaces:") && ns.contains("user") && ns.contains("net"), "{ns}");
    let docker = cell("docker-26.1.5");
    assert!(!docker.passed());
    for e in &docker.expectations {
        assert_eq!(e.status, Status::Fail, "{}", e.expect);
        let why = e.reason.as_deref().unwrap();
        assert!(why.contains("has no rule allowing `unshare`") && why.contains("answers EPERM"), "{why}");
    }
}
