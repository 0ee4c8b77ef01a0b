//! VM tests of external enforcers: an adapter file, a binary from the host (with its shared
//! libraries) copied into the guest, a real kernel. Nothing here is in lockgate's own image.

use crate::common;

use lockgate::internals::judge::Status;
use lockgate::internals::model::scenario::Denier;
use lockgate::internals::run::{run, RunOptions};
use std::path::Path;

fn options(dir: &Path, adapter: &str) -> RunOptions {
    let mut o =
        common::options(&["debian-6.12"], &["bare"], &[("openshell-803", &common::shipped("openshell-803"))], dir);
    let file = dir.join("adapter.yaml");
    std::fs::write(&file, adapter).unwrap();
    o.enforcer.adapter_file = Some(file);
    o
}

/// `env` from the host's coreutils, a dynamic binary, as an "enforcer" that confines nothing:
/// it must run in the guest (its libc came along), as the policy's user (the harness dropped
/// privileges), and the seed must fail with the reasons a person needs.
#[test]
fn an_external_enforcer_that_enforces_nothing_is_caught() {
    let env = ["/usr/bin/env", "/bin/env"].into_iter().find(|p| Path::new(p).exists()).expect("env(1) on the host");
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!("name: env-only\nbinary: {env}\ninvoke: {{style: command_line, command: 'env {{cmd}}'}}\ndrop_privileges: harness\nclaim: unsupported\n");
    let r = run(&options(dir.path(), &adapter)).unwrap();
    let v = r.cells[0].outcome.as_ref().expect("a verdict, not a harness error");
    assert!(!v.passed());
    assert_eq!(
        v.evidence.enforced.uid,
        Some(998),
        "the harness starts the enforcer as run_as_user: {:?}",
        v.evidence.enforced
    );
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    let touch = &v.expectations[0];
    assert_eq!(touch.status, Status::Fail);
    assert_eq!(touch.enforced.as_deref(), Some("allowed"));
    let reason = touch.reason.as_deref().unwrap();
    assert!(
        reason.contains("`touch /sandbox/testfile` succeeded")
            && reason.contains("the control run (no enforcer) allowed it too")
            && reason.contains("the harness's sentinel `probe mknod_reg /lockgate-sentinel/f`")
            && reason.contains("was allowed too: no Landlock ruleset handling MAKE_REG was in effect in this run"),
        "{reason}"
    );
    let claim = v.expectations.iter().find(|e| e.expect == "enforcement full").unwrap();
    assert!(claim.reason.as_deref().unwrap().contains("makes no claim about its enforcement"), "{:?}", claim.reason);
    assert!(r.enforcer.starts_with("env-only (adapter "), "{}", r.enforcer);
}

/// The reference enforcer, handed to lockgate as if it were someone else's: a policy-file
/// adapter with a claim regex must give the verdicts the built-in reference gives.
#[test]
fn the_reference_enforcer_through_a_policy_file_adapter_passes() {
    let bins = lockgate::internals::supply::guest::build(&lockgate::internals::supply::open_cache(None).unwrap(), true)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!(
        "name: reference-as-external\nbinary: {}\ninstall_as: /opt/external/enforcer\ninvoke:\n  style: policy_file\n  command: '{{binary}} --policy {{policy_file}} -- {{cmd}}'\nclaim:\n  - {{regex: 'enforcement=(?P<claim>full|partial|none|refused)'}}\n",
        bins.enforcer.display()
    );
    let r = run(&options(dir.path(), &adapter)).unwrap();
    let v = r.cells[0].outcome.as_ref().expect("a verdict, not a harness error");
    assert!(v.passed(), "{:?}", v.failures());
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Sandbox));
    assert!(v.enforcer_claim.contains("enforcement=full abi=6"), "{}", v.enforcer_claim);
}

/// Issue 13: an enforcer nobody here wrote, from a package registry — Codex's Linux sandbox,
/// the static binary of the npm package `@openai/codex`, fetched by its adapter's pinned recipe
/// (as `cargo xtask enforcers fetch` does) — handed its own JSON policy on its command line, on
/// a real kernel: it denies the seed's write with Landlock, lets the read-write path through,
/// and says nothing about itself, which an `enforcement:` expectation reports.
#[test]
fn codex_linux_sandbox_from_npm_enforces_its_own_policy() {
    let root = lockgate::internals::supply::guest::workspace_root();
    let file = root.join("enforcers/codex-linux-sandbox.yaml");
    let (name, recipe) = lockgate::internals::supply::recipe::recipe_in(&file).unwrap().expect("a fetched binary");
    let cache = lockgate::internals::supply::open_cache(None).unwrap();
    let mut supply = lockgate::internals::supply::for_repo(&root, &root.join("kernels"), cache, false).unwrap();
    let binary = recipe.fetch(&name, &mut supply).unwrap();
    assert!(lockgate::internals::supply::recipe::calls_landlock(&binary).unwrap());
    let scenario = "name: codex-seed
setup:
  users: [{name: sandbox, uid: 998}]
  paths:
    - {path: /sandbox, kind: dir, owner: sandbox, mode: \"0755\"}
    - {path: /sandbox/.data, kind: dir, owner: sandbox}
policy:
  filesystem_policy: {read_only: [/sandbox, /usr, /bin, /lib, /etc], read_write: [/tmp, /sandbox/.data]}
  process: {run_as_user: sandbox}
expect:
  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox}
  - {run: touch /sandbox/.data/ok, allowed: true}
  - {run: cat /etc/passwd, allowed: true}
  - {enforcement: full}
";
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::options(&["debian-6.12"], &["bare"], &[("codex-seed", scenario)], dir.path());
    o.enforcer.adapter_file = Some(file);
    let r = run(&o).unwrap();
    let v = r.cells[0].outcome.as_ref().expect("a verdict, not a harness error");
    let status: Vec<(&str, Status)> = v.expectations.iter().map(|e| (e.expect.as_str(), e.status)).collect();
    assert_eq!(
        status,
        vec![
            ("run `touch /sandbox/testfile` → denied EACCES by sandbox", Status::Pass),
            ("run `touch /sandbox/.data/ok` → allowed", Status::Pass),
            ("run `cat /etc/passwd` → allowed", Status::Pass),
            ("enforcement full", Status::Fail),
        ],
        "{:#?}",
        v.expectations
    );
    let claim = v.expectations[3].reason.as_deref().unwrap();
    assert!(claim.contains("printed no claim line"), "{claim}");
}

/// Issue 25: a real seccomp filter — sandbox-runtime's static `apply-seccomp`, out of the npm
/// package by its adapter's pinned recipe, a filter-only enforcer (no Landlock in its code) —
/// holds the shipped scenario that states its two filters on a real kernel: unix sockets and
/// user namespaces refused EPERM by its filter, clone3 ENOSYS, the i386 entry killed, inet
/// sockets left alone. Under Docker's profile it cannot make the user namespace it needs and
/// refuses, with its own line as the claim.
#[test]
fn sandbox_runtime_apply_seccomp_holds_its_documented_filter() {
    let root = lockgate::internals::supply::guest::workspace_root();
    let file = root.join("enforcers/sandbox-runtime-seccomp.yaml");
    let (name, recipe) = lockgate::internals::supply::recipe::recipe_in(&file).unwrap().expect("a fetched binary");
    let cache = lockgate::internals::supply::open_cache(None).unwrap();
    let mut supply = lockgate::internals::supply::for_repo(&root, &root.join("kernels"), cache, false).unwrap();
    let binary = recipe.fetch(&name, &mut supply).unwrap();
    assert!(!lockgate::internals::supply::recipe::calls_landlock(&binary).unwrap());
    assert!(lockgate::internals::supply::recipe::installs_seccomp_filter(&binary).unwrap());
    let scenario = common::shipped("sandbox-runtime-filter");
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::options(
        &["debian-6.12"],
        &["bare", "docker-26.1.5"],
        &[("sandbox-runtime-filter", &scenario)],
        dir.path(),
    );
    o.enforcer.adapter_file = Some(file);
    let r = run(&o).unwrap();
    let cell = |env: &str| r.cells.iter().find(|c| c.env == env).unwrap().outcome.as_ref().expect("a verdict");
    let bare = cell("bare");
    assert!(bare.failures().is_empty(), "{:#?}", bare.expectations);
    let unix = bare.expectations.iter().find(|e| e.expect.starts_with("probe socket AF_UNIX SOCK_STREAM")).unwrap();
    assert_eq!((unix.status, unix.denied_by), (Status::Pass, Some(Denier::Filter)), "{unix:#?}");
    let docker = cell("docker-26.1.5");
    let first = docker.failures().into_iter().next().expect("a failure under Docker");
    assert!(first.contains("unshare(CLONE_NEWUSER)") || first.contains("exit:1"), "{first}");
}
