//! Issue 18: what runs from outside hit — a verdict's explanation as true as the verdict, the
//! snapshot state kept apart from the verdict, named limits, checked input, case isolation.
//! VM tests boot real kernels; nothing is mocked.

use crate::common;

use lockgate::internals::judge::Status;
use lockgate::internals::run::run;

/// A ruleset pinned to ABI 2 (the reference enforcer's `abi2` fault) on a kernel with ABI 4: the
/// truncate goes through although Landlock was in effect (the write beside it was denied by the
/// sandbox). The reason must say so, not that Landlock was not in effect.
#[test]
fn an_unhandled_right_is_not_explained_as_landlock_off() {
    // `abi2`, variant 1 of the shared Ubuntu 6.8 run (`shared::ubuntu_6_8`).
    let c = crate::shared::ubuntu_6_8().cell("ubuntu-6.8", "bare", "truncate-read-only", 1);
    let v = c.outcome.as_ref().expect("a verdict");
    assert!(!v.passed(), "the abi2 fault must be caught");
    let truncate = &v.expectations[0];
    assert_eq!(truncate.status, Status::Fail);
    let reason = truncate.reason.as_deref().unwrap();
    assert!(!reason.contains("not in effect"), "{reason}");
    assert!(
        reason.contains("a Landlock ruleset was in effect in this run (1 other step denied by the sandbox: `probe write /sandbox/owned`; the harness's sentinel"),
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

/// A repository for the `lockgate` CLI: the real kernels and images, and `scenarios` holding
/// only the scenarios given (no snapshots recorded).
fn repo_with(dir: &std::path::Path, scenarios: &[(&str, &str)]) -> std::path::PathBuf {
    let root = lockgate::internals::supply::guest::workspace_root();
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("scenarios")).unwrap();
    for link in ["kernels", "images", "enforcers"] {
        std::os::unix::fs::symlink(root.join(link), repo.join(link)).unwrap();
    }
    for (name, text) in scenarios {
        std::fs::write(repo.join("scenarios").join(format!("{name}.yaml")), text).unwrap();
    }
    repo
}

fn lockgate(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .arg("run")
        .args(args)
        .env_remove("CI")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A first run of a new scenario: its verdict passes and its snapshot is new. The two are kept
/// apart in the table, the summary line and JUnit; the run still fails (as insta's would), says
/// how to accept the snapshot, and insta does not say it "stopped on the first failure".
#[test]
fn a_new_snapshot_is_not_a_failed_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(dir.path(), &[("openshell-803", &common::shipped("openshell-803"))]);
    let junit = dir.path().join("junit.xml");
    let (code, out, err) = lockgate(&[
        "--repo",
        repo.to_str().unwrap(),
        "--kernel",
        "debian-5.10",
        "--env",
        "bare",
        "-j",
        "1",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let all = format!("{out}\n{err}");
    assert_eq!(code, 1, "an unrecorded snapshot fails the run: {all}");
    let row = out.lines().find(|l| l.starts_with("debian-5.10")).unwrap_or_else(|| panic!("{all}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..5], ["debian-5.10", "bare", "openshell-803", "pass", "NEW"], "{row}");
    assert!(out.contains("1 cells: 1 passed, 0 failed;"), "{all}");
    assert!(
        out.contains("snapshots: 1 new, not recorded: the run fails until they are; check the verdict, then record it with `cargo insta review` (in scenarios/) or by rerunning with --accept"),
        "{all}"
    );
    assert!(!all.contains("Stopped on the first failure"), "{all}");
    assert!(!out.contains("reproduce:"), "nothing to reproduce: the verdict passed: {all}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("type=\"snapshot-new\""), "{xml}");
    assert!(
        repo.join("scenarios/snapshots/openshell-803@debian-5.10@bare.snap.new").exists(),
        "for `cargo insta review`"
    );
}

/// Makes /app (a tmpfs root of its setup) and writes into it.
const MAKES_APP: &str = r#"
name: a-makes-app
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /app, kind: dir, owner: sandbox}, {path: /app/data, kind: dir, owner: sandbox}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/tmp, /app]}
  process: {run_as_user: sandbox}
expect:
  - {probe: create /app/data/x, allowed: true}
"#;

/// Does not make /app: it must not exist, whatever ran before (an enforcer that skips missing
/// rule paths would otherwise see it only after another scenario had run).
const EXPECTS_NO_APP: &str = r#"
name: b-expects-no-app
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: sandbox}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/tmp, /sandbox]}
  process: {run_as_user: sandbox}
expect:
  - {probe: readdir /app, denied: ENOENT}
  - {probe: readdir /sandbox, allowed: true}
"#;

/// Case isolation: a directory made for one case (a tmpfs mount point, on the VM or by runc in
/// a container) is gone when the next case of the same boot starts.
#[test]
fn every_case_starts_from_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::options(
        &["debian-5.10"],
        &["bare", "docker-26.1.5"],
        &[("a-makes-app", MAKES_APP), ("b-expects-no-app", EXPECTS_NO_APP)],
        dir.path(),
    );
    let r = run(&o).unwrap();
    let order: Vec<(&str, &str)> = r.cells.iter().map(|c| (c.env.as_str(), c.scenario.as_str())).collect();
    assert!(
        order.iter().position(|c| *c == ("bare", "a-makes-app"))
            < order.iter().position(|c| *c == ("bare", "b-expects-no-app")),
        "the case that makes /app runs first: {order:?}"
    );
    for c in &r.cells {
        let v = c.outcome.as_ref().unwrap_or_else(|e| panic!("{}@{}: {e}", c.scenario, c.env));
        assert!(v.passed(), "{}@{}: {:?}", c.scenario, c.env, v.failures());
    }
}

/// A step that never ends, with the scenario's own limits: the step limit cuts it in both runs
/// and the reason names that limit (nothing is "denied by unknown"); a run with more such steps
/// than its run limit allows is killed at the run limit, named too.
const HANGS: &str = r#"
name: hangs
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: sandbox}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/tmp, /sandbox]}
  process: {run_as_user: sandbox}
limits: {step: 2}
expect:
  - {run: sleep 600, allowed: true}
"#;

const HANGS_PAST_THE_RUN_LIMIT: &str = r#"
name: hangs-past-the-run-limit
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: sandbox}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/tmp, /sandbox]}
  process: {run_as_user: sandbox}
limits: {step: 2, run: 3}
expect:
  - {run: sleep 601, allowed: true}
  - {run: sleep 602, allowed: true}
"#;

#[test]
fn a_step_or_run_cut_at_its_limit_names_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::options(
        &["debian-5.10"],
        &["bare"],
        &[("hangs", HANGS), ("hangs-past-the-run-limit", HANGS_PAST_THE_RUN_LIMIT)],
        dir.path(),
    );
    let r = run(&o).unwrap();
    let cell = |name: &str| r.cells.iter().find(|c| c.scenario == name).unwrap().outcome.as_ref().unwrap().clone();
    let v = cell("hangs");
    let e = &v.expectations[0];
    assert_eq!(e.status, Status::Fail);
    assert_eq!(e.denied_by, None, "a step that was killed was not denied by anyone");
    assert_eq!(
        e.reason.as_deref(),
        Some("`sleep 600` did not finish in both runs: it was killed at the step limit (2s; set `limits: {step: N}` in the scenario if it needs longer); it was not denied (control run: timed out, enforced run: timed out)")
    );
    let v = cell("hangs-past-the-run-limit");
    let last = v.expectations[1].reason.as_deref().unwrap();
    assert!(
        last.contains("was killed at the run limit (3s) before this step's result came back; if the run needs longer, set `limits: {run: N}`"),
        "{last}"
    );
}

/// A boot killed at its deadline names the limit and the case that was running; the deadline
/// by default covers the guest's own limits (each case's two runs at their run limit).
#[test]
fn a_boot_killed_at_its_deadline_names_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let slow = HANGS.replace("limits: {step: 2}", "limits: {step: 100, run: 100}").replace("name: hangs", "name: slow");
    let mut o = common::options(&["debian-5.10"], &["bare"], &[("slow", &slow)], dir.path());
    o.timeout = Some(std::time::Duration::from_secs(12));
    let r = run(&o).unwrap();
    let e = r.cells[0].outcome.as_ref().unwrap_err().to_string();
    assert!(
        e.contains("no power-off within the boot deadline of 12s set by --timeout; QEMU was killed while case slow@bare was running (0 of 1 cases had sent their records)"),
        "{e}"
    );
    let boot = r.kernels[0].boot.as_ref().unwrap();
    assert_ne!(boot.ended, "powered off", "the summary must not say it powered off");
}

/// Item 6: for an adapter that joins paths with `:` (Landlock's sandboxer convention), a rule
/// path holding a colon is refused before anything boots, naming file, field and adapter.
#[test]
fn a_colon_in_a_joined_rule_path_is_refused_before_booting() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::shipped("openshell-803").replace("read_write: [/tmp, /sandbox/.data]", "read_write: [/tmp, /sandbox/.data, '/sandbox/a:b']").replace(
        "    - {path: /sandbox/.data, kind: dir, owner: sandbox}",
        "    - {path: /sandbox/.data, kind: dir, owner: sandbox}\n    - {path: '/sandbox/a:b', kind: dir, owner: sandbox}",
    );
    assert!(scenario.contains("/sandbox/a:b']"), "{scenario}");
    let mut o = common::options(&["debian-5.10"], &["bare"], &[("openshell-803", &scenario)], dir.path());
    let adapter = dir.path().join("env-adapter.yaml");
    std::fs::write(
        &adapter,
        "name: colon-joiner\nbinary: /usr/bin/env\ninvoke: {style: landlock_env}\ndrop_privileges: harness\nclaim: unsupported\n",
    )
    .unwrap();
    o.enforcer.adapter_file = Some(adapter);
    let start = std::time::Instant::now();
    let e = format!("{:#}", run(&o).expect_err("refused"));
    assert!(e.contains("openshell-803.yaml: filesystem_policy.read_write[2]: `/sandbox/a:b` contains `:`, the separator the enforcer colon-joiner joins its {rw:} list with (the variable LL_FS_RW)"), "{e}");
    assert!(start.elapsed().as_secs() < 10, "nothing booted");
}

/// A policy that does not let the probe runner (/bin/lockgate-guest, in /usr/bin on the guest's
/// merged-/usr root) execute: neither /usr nor /bin is in it. The reference
/// enforcer enforces, then cannot execute it. An adapter whose claim rule calls that `refused`
/// (as Landlock's sandboxer's "Failed to …" does) is told apart from a refusal to start.
const NO_BIN: &str = r#"
name: no-bin
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: sandbox}]
policy:
  filesystem_policy: {read_only: [/lib, /etc], read_write: [/tmp, /sandbox]}
  process: {run_as_user: sandbox}
expect:
  - {probe: create /sandbox/x, allowed: true}
  - {enforcement: refused}
"#;

#[test]
fn a_policy_that_denies_the_runner_is_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::options(&["debian-6.12"], &["bare"], &[("no-bin", NO_BIN)], dir.path());
    let adapter = dir.path().join("refuses-on-exec.yaml");
    std::fs::write(
        &adapter,
        "name: refuses-on-exec\nbinary: {in_image: /bin/lockgate-enforcer}\ninvoke: {style: policy_file, command: '{binary} --policy {policy_file} -- {cmd}'}\ndrop_privileges: enforcer\nclaim:\n  - {regex: 'cannot execute', claim: refused}\n  - {regex: 'enforcement=(?P<claim>\\w+)'}\n",
    )
    .unwrap();
    o.enforcer.adapter_file = Some(adapter);
    let r = run(&o).unwrap();
    let v = r.cells[0].outcome.as_ref().expect("a verdict");
    let create = v.expectations[0].reason.as_deref().unwrap();
    assert!(
        create.starts_with("not observed: the enforcer started, then its policy denied executing the probe runner /bin/lockgate-guest (lockgate-enforcer: cannot execute /bin/lockgate-guest: Permission denied"),
        "{create}"
    );
    assert!(
        create.ends_with("every policy must let the runner execute (/usr, or /bin, which links to /usr/bin, in read_only or read_write)"),
        "{create}"
    );
    let refused = &v.expectations[1];
    assert_eq!(refused.status, Status::Fail, "it did not refuse to start: {refused:?}");
    assert!(refused.reason.as_deref().unwrap().contains("but it did not refuse to start"), "{refused:?}");
    let text = lockgate::internals::report::failure::render(v, &Default::default());
    assert!(!text.contains("never started"), "{text}");
    assert!(
        text.contains("exit:127, no report from the probe runner (it was not started, or ended before reporting)"),
        "{text}"
    );
}

/// Item 3: every judged cell, passing or failing, gets its whole output (both runs, every step)
/// in a file beside the reports; a failing cell's report points to it.
#[test]
fn every_cell_keeps_its_whole_output_in_a_file() {
    // `baseline-rw` (which widens read-only paths when the policy has network policies, as the
    // deployed seed's has), variant 0 of the shared Debian 6.12 run: its own cells have files.
    let shared = crate::shared::debian_6_12();
    let cells: Vec<_> = ["openshell-803-deployed", "dac-only"]
        .into_iter()
        .map(|name| shared.cell("debian-6.12", "bare", name, 0))
        .collect();
    let dir = shared.dir.path();
    for c in &cells {
        let v = c.outcome.as_ref().unwrap();
        let file = v.evidence.output_file.as_ref().unwrap_or_else(|| panic!("{} has no output file", c.scenario));
        assert!(file.starts_with(dir.join("scenarios/snapshots")), "{}", file.display());
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains("=== control run\nexit: exit:0\n"), "{text}");
        assert!(text.contains("=== enforced run\nexit: exit:0\n"), "{text}");
        assert!(text.contains("  | lockgate-enforcer: enforcement=full abi=6"), "the enforcer's stderr, whole: {text}");
        assert!(text.contains("=== expectation 0: "), "{text}");
    }
    let seed = cells[0].outcome.as_ref().unwrap();
    assert!(!seed.passed(), "baseline-rw must be caught");
    let report = lockgate::internals::report::failure::render(seed, &Default::default());
    let file = seed.evidence.output_file.as_ref().unwrap();
    assert!(report.contains(&format!("  all output   {} (both runs, every step)\n", file.display())), "{report}");
    assert!(cells[1].outcome.as_ref().unwrap().passed(), "a passing cell (dac-only) has its file too");
}
