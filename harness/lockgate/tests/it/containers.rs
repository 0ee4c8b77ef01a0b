//! VM tests of the container environments: the real runc from Debian's package, the real
//! seccomp profiles, real kernels under QEMU.

use crate::common;

use common::shipped;
use lockgate::internals::model::scenario::Denier;
use lockgate::internals::run::{run, RunOptions, VariantOptions};
use lockgate::internals::supply::guest::workspace_root;
use std::path::Path;

fn options(kernel: &str, envs: &[&str], scenarios: &[(&str, &str)], dir: &Path) -> RunOptions {
    common::options(&[kernel], envs, scenarios, dir)
}

/// The portable scenario of issue 19: its Landlock expectations guarded on `abi >= 1` only, so
/// that it also runs on kernels without Landlock; it does not accept an environment that takes
/// Landlock away.
pub(crate) const PORTABLE: &str = r#"
name: portable
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: sandbox, mode: "0755"}]
policy:
  filesystem_policy: {read_only: [/sandbox, /usr, /bin, /lib, /etc], read_write: [/tmp]}
  landlock: {compatibility: best_effort}
  process: {run_as_user: sandbox}
expect:
  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox, when: "abi >= 1"}
  - {enforcement: full, when: "abi >= 1"}
"#;

/// The acceptance of issues 4 and 19 on Debian 6.12 (Landlock ABI 6): Docker 20.10.5's profile
/// leaves the enforcer an ENOSYS, Docker 26.1.5's lets Landlock through. A scenario guarded on
/// `abi` alone fails where Docker 20.10.5 took Landlock away, with the seccomp reason; the
/// shipped ones accept it explicitly (`landlock == blocked`) and pass.
#[test]
fn docker_20_10_5_answers_enosys_where_the_kernel_has_landlock() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios =
        [("seed", shipped("openshell-803")), ("hard", shipped("hard-requirement")), ("portable", PORTABLE.to_string())];
    let scenarios: Vec<(&str, &str)> = scenarios.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let mut o = options("debian-6.12", &["bare", "docker-20.10.5", "docker-26.1.5"], &scenarios, dir.path());
    // Variant 1, in the same boot: the seed under Docker 20.10.5 judged as on the bare kernel
    // (as the mutation gate does). Its case is variant 0's own, observed once and judged twice:
    // judging is a pure function of the observation.
    let mut as_bare = VariantOptions { judge_as_bare: true, ..Default::default() };
    as_bare.within.envs = vec!["docker-20.10.5".into()];
    as_bare.within.scenarios = vec!["openshell-803".into()];
    o.variants = vec![as_bare];
    let r = run(&o).unwrap();
    assert_eq!(r.boots(), 1);
    let (judged_as_bare, cells): (Vec<_>, Vec<_>) = r.cells.iter().partition(|c| c.variant == 1);
    let failing: Vec<_> = cells.iter().filter(|c| !c.ok()).map(|c| (c.scenario.as_str(), c.env.as_str())).collect();
    assert_eq!(
        failing,
        [("portable", "docker-20.10.5")],
        "only the scenario that does not accept the block fails: {:?}",
        cells.iter().map(|c| (&c.scenario, &c.env, c.problems())).collect::<Vec<_>>()
    );
    let cell = |scenario: &str, env: &str| {
        cells.iter().find(|c| c.scenario == scenario && c.env == env).unwrap().outcome.as_ref().unwrap().clone()
    };
    assert_eq!(
        r.kernels[0].preflight.as_ref().unwrap().landlock.to_string(),
        "ABI 6",
        "the kernel itself has Landlock"
    );

    let old = cell("openshell-803", "docker-20.10.5");
    assert_eq!(old.landlock, "ENOSYS", "runc's stub answers the raw probe in the container");
    assert_eq!(old.kernel_landlock.as_deref(), Some("ABI 6"), "the verdict shows what the kernel offered");
    assert!(
        old.enforcer_claim.contains("enforcement=none"),
        "best_effort says it enforced nothing: {}",
        old.enforcer_claim
    );
    let touch = old
        .expectations
        .iter()
        .find(|e| e.when.as_deref() == Some("abi == none || landlock == blocked") && e.enforced.is_some())
        .unwrap();
    assert_eq!(touch.enforced.as_deref(), Some("allowed"), "the write to read-only /sandbox went through");
    let refused = cell("hard-requirement", "docker-20.10.5");
    assert!(
        refused.enforcer_claim.contains("enforcement=refused") && refused.enforcer_exit == "exit:1",
        "{} ({})",
        refused.enforcer_claim,
        refused.enforcer_exit
    );

    let new = cell("openshell-803", "docker-26.1.5");
    assert_eq!(new.landlock, "ABI 6");
    assert_eq!(new.kernel_landlock, None);
    assert_eq!(new.expectations[0].enforced.as_deref(), Some("denied EACCES"));
    assert_eq!(
        new.expectations[0].denied_by,
        Some(Denier::Sandbox),
        "the control run inside the container was allowed"
    );

    // The portable scenario: a pass bare, a failure with the seccomp reason under Docker 20.10.5.
    assert!(cell("portable", "bare").passed());
    let gone = cell("portable", "docker-20.10.5");
    assert!(!gone.passed() && !gone.checked_nothing());
    let why = gone.expectations[0].reason.clone().unwrap();
    assert!(why.contains("`touch /sandbox/testfile` succeeded"), "{why}");
    assert!(
        why.contains("seccomp blocked Landlock")
            && why.contains("ENOSYS from runc's stub")
            && why.contains("the kernel itself offers ABI 6"),
        "{why}"
    );
    assert!(
        gone.expectations[1].reason.as_ref().unwrap().contains("seccomp blocked Landlock"),
        "{:?}",
        gone.expectations[1].reason
    );

    // Judged as on the bare kernel (as the mutation gate does), even the seed, which accepts
    // the block, fails there, and the verdict says why.
    assert_eq!(judged_as_bare.len(), 1);
    let v = judged_as_bare[0].outcome.as_ref().unwrap();
    assert!(!v.passed());
    let why = v.expectations[0].reason.clone().unwrap();
    assert!(why.contains("`touch /sandbox/testfile` succeeded"), "{why}");
    assert!(
        why.contains("seccomp blocked Landlock")
            && why.contains("ENOSYS from runc's stub")
            && why.contains("the kernel itself offers ABI 6"),
        "{why}"
    );
}

/// The portable scenario on Ubuntu 5.15 (ABI 1, the kernel of the OpenShell #803 report): the
/// same failure under Docker 20.10.5, the same pass bare.
#[test]
fn the_portable_scenario_fails_where_docker_20_10_5_takes_landlock_from_ubuntu_5_15() {
    // The shared Ubuntu 5.15 run (`shared::ubuntu_5_15`): bare and Docker 20.10.5.
    let shared = crate::shared::ubuntu_5_15();
    let state = |env: &str| {
        let c = shared.cell("ubuntu-5.15", env, "portable", 0);
        (c.ok(), c.problems())
    };
    assert_eq!(state("bare"), (true, vec![]));
    let (ok, problems) = state("docker-20.10.5");
    assert!(!ok);
    assert!(
        problems[0].contains("seccomp blocked Landlock") && problems[0].contains("the kernel itself offers ABI 1"),
        "{problems:?}"
    );
}

/// A repository of one's own in `dir` with Debian 6.12 as its only kernel: its kernels directory
/// and its (empty) environments directory.
fn repo_with_debian_6_12(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let kernels = dir.join("kernels");
    let envs = dir.join("images/environments");
    std::fs::create_dir_all(&kernels).unwrap();
    std::fs::create_dir_all(&envs).unwrap();
    for f in ["debian-6.12.yaml", "lock.yaml"] {
        std::fs::copy(workspace_root().join("kernels").join(f), kernels.join(f)).unwrap();
    }
    (kernels, envs)
}

/// A profile of one's own, as a further environment; a denial by its filter is attributed to
/// seccomp by the control run in the same container.
#[test]
fn a_users_profile_is_an_environment_and_its_denials_are_seccomps() {
    let dir = tempfile::tempdir().unwrap();
    let (kernels, envs) = repo_with_debian_6_12(dir.path());
    std::fs::write(
        envs.join("no-truncate.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["truncate"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    std::fs::write(
        envs.join("no-truncate.yaml"),
        "name: no-truncate\nengine: docker\nseccomp: {path: no-truncate.json}\n",
    )
    .unwrap();
    let scenario = r#"
name: truncate-blocked
setup:
  users: [{name: sandbox, uid: 998}]
  paths:
    - {path: /sandbox, kind: dir, owner: sandbox}
    - {path: /sandbox/owned, kind: file, owner: sandbox, content: data}
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/tmp, /sandbox]}
  process: {run_as_user: sandbox}
expect:
  - {probe: truncate /sandbox/owned, denied: EPERM, by: seccomp}
  - {probe: create /sandbox/f, allowed: true}
"#;
    let mut o = options("debian-6.12", &["no-truncate"], &[("truncate-blocked", scenario)], dir.path());
    o.kernels_dir = Some(kernels);
    let r = run(&o).unwrap();
    let v = r.cells[0].outcome.as_ref().unwrap();
    assert!(v.passed(), "{:?}", v.failures());
    assert_eq!(v.environment, "no-truncate");
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Seccomp));
}

/// A scenario that looks for what the `other` one left and leaves its own traces: a process in
/// a session of its own (out of reach of a run's process-group kill) and a file in /dev/shm.
fn leaves_traces(me: &str, other: &str) -> String {
    format!(
        r#"
name: traces-{me}
setup:
  users: [{{name: sandbox, uid: 998}}]
  paths: [{{path: /sandbox, kind: dir, owner: sandbox}}]
policy:
  filesystem_policy: {{read_only: [/usr, /bin, /lib, /etc, /proc], read_write: [/tmp, /sandbox, /dev]}}
  process: {{run_as_user: sandbox}}
expect:
  - {{run: "for p in /proc/[0-9]*; do cat $p/cmdline; echo; done | tr '\\000' ' ' > /tmp/ps; grep -q run-steps /tmp/ps && ! grep -q 'slee[p] 30{other}' /tmp/ps", allowed: true}}
  - {{run: "test ! -e /dev/shm/left-by-{other} && test ! -e /sandbox/left-by-{other}", allowed: true}}
  - {{run: "setsid sleep 30{me} & touch /dev/shm/left-by-{me} /sandbox/left-by-{me}", allowed: true}}
"#
    )
}

/// The cases of a container environment share one container per boot; each still starts clean:
/// no process of an earlier case (even one that left its process group), no file it left in the
/// tree or in /dev/shm. Under runc (Docker) and crun (Podman), in one boot; whichever of the two
/// scenarios runs second would see the first one's traces.
#[test]
fn each_case_in_a_shared_container_starts_clean() {
    let (one, two) = (leaves_traces("1", "2"), leaves_traces("2", "1"));
    each_pair_passes(&["docker-26.1.5", "podman"], [("traces-1", &one), ("traces-2", &two)]);
}

/// Runs two scenarios that look for each other's traces in `envs` on Debian 6.12, in one boot:
/// every cell must pass, having checked something, with no setup note.
fn each_pair_passes(envs: &[&str], scenarios: [(&str, &str); 2]) {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&options("debian-6.12", envs, &scenarios, dir.path())).unwrap();
    assert_eq!(r.cells.len(), 2 * envs.len());
    for c in &r.cells {
        let v = c.outcome.as_ref().unwrap_or_else(|e| panic!("{}@{}: {e:?}", c.scenario, c.env));
        assert!(v.passed(), "{}@{}: {:?}\n{:#?}", c.scenario, c.env, v.failures(), v.evidence.steps);
        assert!(v.nothing_checked.is_none() && v.setup_notes.is_empty(), "{}@{}: {v:?}", c.scenario, c.env);
    }
}

/// A scenario with a workspace (`setup.workspace`) that checks, where its runs happen, that the
/// workspace is a mount point of its own whose root is the `_data` directory of another file
/// system (mountinfo's root and mount point fields), and that neither the `other` scenario's
/// file nor its own (left by its control run) is in it; then leaves its own.
fn workspace_traces(me: &str, other: &str) -> String {
    format!(
        r#"
name: ws-{me}
setup:
  users: [{{name: sandbox, uid: 998}}]
  workspace: /workspace
  paths: [{{path: /workspace, kind: dir, owner: sandbox}}]
policy:
  filesystem_policy: {{read_only: [/usr, /bin, /lib, /etc, /proc], read_write: [/tmp, /workspace]}}
  process: {{run_as_user: sandbox}}
expect:
  - {{run: "grep -q ' /_data /workspace ' /proc/self/mountinfo", allowed: true}}
  - {{run: "test ! -e /workspace/left-by-{other} && test ! -e /workspace/left-by-{me}", allowed: true}}
  - {{run: "touch /workspace/left-by-{me}", allowed: true}}
"#
    )
}

/// Issue 26, item 3: a scenario's workspace is a bind mount of a directory of the VM, a mount
/// point of its own where the runs happen, on the VM and in a container whose root is an
/// overlayfs (Docker 26.1.5's, on Debian 6.12), and every run finds it empty: nothing written
/// through it in one case (or in the control run) is seen in the next. Whichever of the two
/// scenarios runs second would see the first one's file.
#[test]
fn the_workspace_is_a_bind_mount_each_case_finds_empty() {
    let (one, two) = (workspace_traces("1", "2"), workspace_traces("2", "1"));
    each_pair_passes(&["bare", "docker-26.1.5"], [("ws-1", &one), ("ws-2", &two)]);
}

/// What crun answers for a syscall the profile does not name, against runc: Docker 20.10.5's
/// profile (no `landlock_*`, no defaultErrnoRet) started by each, on Debian 6.12 (Landlock ABI
/// 6). runc's stub answers ENOSYS above the highest syscall the profile names; crun builds the
/// filter with libseccomp alone, so the profile's default action answers: EPERM. (Podman's own
/// profile says defaultErrnoRet 38, ENOSYS, so there the two runtimes give the same answer.)
#[test]
fn crun_answers_the_profiles_default_errno_where_runc_answers_enosys() {
    let dir = tempfile::tempdir().unwrap();
    let (kernels, envs) = repo_with_debian_6_12(dir.path());
    let runc = std::fs::read_to_string(workspace_root().join("images/environments/docker-20.10.5.yaml")).unwrap();
    std::fs::write(envs.join("docker-20.10.5.yaml"), &runc).unwrap();
    let crun = runc.replace("name: docker-20.10.5", "name: on-crun").replace("runtime: runc", "runtime: crun");
    assert!(crun.contains("runtime: crun"));
    std::fs::write(envs.join("on-crun.yaml"), crun).unwrap();
    let seed = shipped("openshell-803");
    let mut o = options("debian-6.12", &["docker-20.10.5", "on-crun"], &[("openshell-803", &seed)], dir.path());
    o.kernels_dir = Some(kernels);
    let r = run(&o).unwrap();
    let probe = |env: &str| {
        let c = r.cells.iter().find(|c| c.env == env).unwrap();
        c.outcome.as_ref().unwrap_or_else(|e| panic!("{env}: {e:?}")).landlock.clone()
    };
    assert_eq!(probe("docker-20.10.5"), "ENOSYS", "runc's stub");
    assert_eq!(probe("on-crun"), "EPERM", "crun: the profile's default action");
}

/// Issue 26: Kubernetes' `RuntimeDefault` on containerd, its profile read from the Go source of
/// the pinned Debian packages. containerd 1.4's names no Landlock syscall (and faccessat2, 439, is
/// the newest it names), so runc's stub answers ENOSYS and a best_effort enforcer runs
/// unconfined; 1.7's allows them, and the seed's write is denied by Landlock. One boot.
#[test]
fn containerd_1_4_takes_landlock_away_and_1_7_lets_it_through() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = [("seed", shipped("openshell-803")), ("portable", PORTABLE.to_string())];
    let scenarios: Vec<(&str, &str)> = scenarios.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let o = options("debian-6.12", &["containerd-1.4", "containerd-1.7"], &scenarios, dir.path());
    let r = run(&o).unwrap();
    assert_eq!(r.boots(), 1);
    let cell = |scenario: &str, env: &str| {
        r.cells.iter().find(|c| c.scenario == scenario && c.env == env).unwrap().outcome.as_ref().unwrap().clone()
    };

    let old = cell("openshell-803", "containerd-1.4");
    assert!(old.passed(), "the seed accepts the block (`landlock == blocked`): {:?}", old.expectations);
    assert_eq!(old.landlock, "ENOSYS", "runc's stub answers above faccessat2, the newest syscall 1.4 names");
    assert_eq!(old.kernel_landlock.as_deref(), Some("ABI 6"));
    assert!(old.enforcer_claim.contains("enforcement=none"), "{}", old.enforcer_claim);
    let gone = cell("portable", "containerd-1.4");
    assert!(!gone.passed() && !gone.checked_nothing());
    let why = gone.expectations[0].reason.clone().unwrap();
    assert!(
        why.contains("`touch /sandbox/testfile` succeeded")
            && why.contains("seccomp blocked Landlock: in `containerd-1.4`")
            && why.contains("ENOSYS from runc's stub"),
        "{why}"
    );

    let new = cell("openshell-803", "containerd-1.7");
    assert!(new.passed(), "{:?}", new.expectations);
    assert_eq!(new.landlock, "ABI 6");
    assert_eq!(new.expectations[0].enforced.as_deref(), Some("denied EACCES"));
    assert_eq!(new.expectations[0].denied_by, Some(Denier::Sandbox));
    assert!(cell("portable", "containerd-1.7").passed());
}

/// Issue 26: gVisor (runsc from Debian's package) as the OCI runtime, in the TCG guest. Its own
/// kernel implements no Landlock: the probe answers ENOSYS while the host kernel offers ABI 6,
/// so `landlock == blocked`; the seed's best_effort enforcer says it enforced nothing and passes,
/// the same enforcer made to claim enforcement (`ignore-status`) fails, naming gVisor. A call
/// gVisor's Sentry refuses in both runs (RENAME_EXCHANGE: EINVAL) is `gvisor`'s, told by the
/// control run made again on the VM outside gVisor, which was allowed. One boot.
#[test]
fn gvisor_implements_no_landlock_and_a_claim_of_enforcement_there_fails() {
    let dir = tempfile::tempdir().unwrap();
    let exchange = "name: exchange\nsetup:\n  users: [{name: sandbox, uid: 998}]\n  paths:\n    - {path: /work, kind: dir, owner: sandbox}\n    - {path: /work/a, kind: file, owner: sandbox, content: \"a\\n\"}\n    - {path: /work/b, kind: file, owner: sandbox, content: \"b\\n\"}\npolicy:\n  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/work, /tmp]}\n  landlock: {compatibility: best_effort}\n  process: {run_as_user: sandbox}\nexpect:\n  - {probe: rename_exchange /work/a /work/b, denied: EINVAL, by: gvisor}\n";
    let scenarios = [("seed", shipped("openshell-803")), ("exchange", exchange.to_string())];
    let scenarios: Vec<(&str, &str)> = scenarios.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let mut o = options("debian-6.12", &["gvisor"], &scenarios, dir.path());
    let mut lying = VariantOptions { faults: vec!["ignore-status".into()], ..Default::default() };
    lying.within.envs = vec!["gvisor".into()];
    o.variants = vec![lying];
    let r = run(&o).unwrap();
    assert_eq!(r.boots(), 1);
    let of = |scenario: &str, variant: usize| {
        r.cells
            .iter()
            .find(|c| c.variant == variant && c.scenario == scenario)
            .unwrap()
            .outcome
            .as_ref()
            .unwrap()
            .clone()
    };
    let cell = |variant: usize| of("openshell-803", variant);

    let exchanged = of("exchange", 0);
    assert!(exchanged.passed(), "{:?}", exchanged.expectations);
    assert_eq!(exchanged.expectations[0].denied_by, Some(Denier::Gvisor));
    let seen = exchanged.evidence.steps[0].as_ref().expect("the step's evidence");
    assert_eq!(seen.outside.as_ref().map(|s| &s.outcome), Some(&lockgate_protocol::Outcome::Ok), "{seen:?}");

    let honest = cell(0);
    assert!(honest.passed(), "{:?}", honest.expectations);
    assert_eq!(honest.landlock, "ENOSYS", "gVisor's Sentry has no landlock_create_ruleset");
    assert_eq!(honest.kernel_landlock.as_deref(), Some("ABI 6"));
    assert!(honest.enforcer_claim.contains("enforcement=none"), "{}", honest.enforcer_claim);

    let lying = cell(1);
    assert!(!lying.passed(), "{:?}", lying.expectations);
    let reasons: Vec<String> = lying.expectations.iter().filter_map(|e| e.reason.clone()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("expected the enforcer to claim `none`, it claimed `full`")),
        "the claim of enforcement is what fails: {reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("gVisor implements no Landlock: in `gvisor`")), "{reasons:?}");
}

/// Issue 26: systemd-nspawn of systemd 252 (bookworm) and 257 (trixie), each from its pinned
/// package, starting the container on the bind of the guest's `/`. 252's built-in seccomp filter
/// answers EPERM to landlock_create_ruleset while the kernel offers ABI 6 (`landlock ==
/// blocked`): the seed's best_effort enforcer says it enforced nothing and passes; made to claim
/// enforcement (`ignore-status`) it fails, naming systemd-nspawn 252 and its version. 257 lets
/// the kernel's ABI through, and the seed's write is denied by the sandbox. What nspawn's
/// container denies of its own is told by the control run made again on the VM outside it, as
/// the same user: root's write to /proc/sys, which nspawn mounts read-only (EROFS in both runs,
/// allowed outside), is `nspawn`'s; a write plain permissions refuse the sandbox user
/// (`dac-only`) is refused outside too and stays `dac`. One boot.
#[test]
fn nspawn_252_blocks_landlock_and_257_lets_it_through() {
    let dir = tempfile::tempdir().unwrap();
    let proc_sys = "name: proc-sys\npolicy:\n  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/proc/sys/kernel/domainname, /tmp]}\n  landlock: {compatibility: best_effort}\nexpect:\n  - {probe: write /proc/sys/kernel/domainname, denied: EROFS, by: nspawn}\n";
    let scenarios =
        [("seed", shipped("openshell-803")), ("proc-sys", proc_sys.to_string()), ("dac-only", shipped("dac-only"))];
    let scenarios: Vec<(&str, &str)> = scenarios.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let mut o = options("debian-6.12", &["systemd-nspawn-252", "systemd-nspawn-257"], &scenarios, dir.path());
    let mut lying = VariantOptions { faults: vec!["ignore-status".into()], ..Default::default() };
    lying.within.envs = vec!["systemd-nspawn-252".into()];
    o.variants = vec![lying];
    let r = run(&o).unwrap();
    assert_eq!(r.boots(), 1);
    let of = |scenario: &str, env: &str, variant: usize| {
        r.cells
            .iter()
            .find(|c| c.scenario == scenario && c.env == env && c.variant == variant)
            .unwrap()
            .outcome
            .as_ref()
            .unwrap()
            .clone()
    };
    let cell = |env: &str, variant: usize| of("openshell-803", env, variant);
    for env in ["systemd-nspawn-252", "systemd-nspawn-257"] {
        let proc_sys = of("proc-sys", env, 0);
        assert!(proc_sys.passed(), "{env}: {:?}", proc_sys.expectations);
        assert_eq!(proc_sys.expectations[0].denied_by, Some(Denier::Nspawn), "{env}");
        let seen = proc_sys.evidence.steps[0].as_ref().expect("the step's evidence");
        assert_eq!(seen.outside.as_ref().map(|s| &s.outcome), Some(&lockgate_protocol::Outcome::Ok), "{seen:?}");
        assert_eq!(proc_sys.evidence.outside.as_ref().and_then(|o| o.uid), Some(0), "{env}: the run outside as root");
        let dac = of("dac-only", env, 0);
        assert!(dac.passed(), "{env}: {:?}", dac.expectations);
        let seen = dac.evidence.steps[0].as_ref().expect("the step's evidence");
        assert_eq!(dac.expectations[0].denied_by, Some(Denier::Dac), "{env}: {seen:?}");
        assert_eq!(seen.outside.as_ref().map(|s| &s.outcome), Some(&lockgate_protocol::Outcome::Err("EACCES".into())));
        assert_eq!(dac.evidence.outside.as_ref().and_then(|o| o.uid), dac.evidence.control.uid, "{env}: the same user");
    }

    let old = cell("systemd-nspawn-252", 0);
    assert!(old.passed(), "{:?}", old.expectations);
    assert_eq!(old.landlock, "EPERM", "nspawn 252's filter does not allow landlock_create_ruleset");
    assert_eq!(old.kernel_landlock.as_deref(), Some("ABI 6"));
    assert!(old.enforcer_claim.contains("enforcement=none"), "{}", old.enforcer_claim);

    let lying = cell("systemd-nspawn-252", 1);
    assert!(!lying.passed(), "{:?}", lying.expectations);
    let reasons: Vec<String> = lying.expectations.iter().filter_map(|e| e.reason.clone()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("systemd-nspawn 252.39-1~deb12u2 blocked Landlock: in `systemd-nspawn-252`")),
        "the failure names nspawn and its version: {reasons:?}"
    );

    let new = cell("systemd-nspawn-257", 0);
    assert!(new.passed(), "{:?}", new.expectations);
    assert_eq!(new.landlock, "ABI 6", "nspawn 257 lets the kernel's Landlock through");
}
