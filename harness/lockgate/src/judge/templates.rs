//! Every sentence the judge and the failure report can say, each driven by the evidence it
//! claims (issue 24): a template that could be produced without its evidence is caught here.
//! The list (J: `judge/`, F: `report/failure.rs`; * changed by issue 24):
//!
//! | id | template | evidence it requires |
//! | --- | --- | --- |
//! | J1 | the enforcer started, then its policy denied executing the probe runner … | no runner report; the enforcer's stderr names the runner and a denial |
//! | J2 | not observed: the {run} run's setup failed: … | the run's setup error |
//! | J3 | not observed: {J1} | as J1 |
//! | J4 | not observed: the {run} run was killed at the run limit ({n}s) … | the run's exit is `timeout` |
//! | J5* | not observed: the {run} run ended ({exit}) before this step's result came back | no result for the step (it may have started: was "before this step ran") |
//! | J6 | `{when}` does not hold here (landlock: …) | the condition is false on the kernel's and environment's facts |
//! | J7 | not asked for: the enforcer's adapter says it cannot express `…` | the adapter's `cannot_express` governs the check |
//! | J8 | cannot check `enforcement: …`: this enforcer makes no claim … | the adapter says `claim: unsupported` |
//! | J9 | expected the enforcer to claim `…`, but it printed no claim line | no claim line read |
//! | J10 | … it said `refused` …, but it did not refuse to start: {J1} | a refused claim and J1's evidence |
//! | J11 | expected the enforcer to claim `…`, it claimed `…`: {line} | the claim line |
//! | J12* | the enforcer claimed it refused, yet the command ran (n of its steps reported) / yet it exited 0 … (no step reported) | steps reported / exit 0 (was one sentence saying "the command ran" on exit 0 alone) |
//! | J13 | …; {blocked} (B1–B3) | the environment's probe answered an errno where the kernel's found Landlock |
//! | J14 | the command ran as uid {e} under the enforcer but as uid {c} in the control run … | both runners' uids, different |
//! | J15 | the enforcer lied: it claimed `…` enforcement, but Landlock is not available here … | a full/partial claim; no Landlock where the runs happened |
//! | J16 | `{p}` exists here, but the scenario means it to be missing (setup.absent) … | the guest did not report it missing |
//! | J17* | every expectation's `when:` fails here … / every expectation was skipped here (n by a `when:` …, m not asked for …) | every expectation skipped, each by what skipped it (was "`when:` fails" whatever skipped them) |
//! | J18 | `…` did not finish {in which run}: it was killed at {limit}; it was not denied … | a `timeout` outcome in that run |
//! | J19a* | … Landlock is not available here (the probe answered …), so no Landlock ruleset could deny it | the probe where the runs happened (was "so nothing could deny it": an enforcer's seccomp filter could) |
//! | J19b | …; Landlock here is ABI {n}, which has no right restricting … / restricts … only for a ruleset that handles that right | the ABI and the right's first ABI |
//! | J19c* | a Landlock ruleset was in effect in this run (n other steps denied by the sandbox: …) | other steps allowed in the control run (or failed there with another errno: item 1) and denied in the enforced run; "Landlock" only for EACCES/EXDEV, else "the enforcer's sandbox was in effect (a Landlock scope or a seccomp filter …)" |
//! | J19d* | … (the harness's sentinel `…`, …, was denied EACCES, so the ruleset handles {RIGHT}), so the enforcer's effective rules grant this access, which the scenario expects its policy to deny — unless it needs a right that ruleset does not handle | the sentinel allowed in the control run, denied EACCES in the enforced run (item 5) |
//! | J19e* | … so the enforcer's effective rules grant {RIGHT} here … | J19d, and the operation needs exactly the sentinel's right |
//! | J19f* | … and the harness's sentinel … was allowed too: no Landlock ruleset handling {RIGHT} was in effect in this run, or the enforcer's effective rules grant that as well | the sentinel allowed in both runs |
//! | J19g* | … and the harness's sentinels show nothing (…) / this case has no sentinel …: nothing in this run shows whether a Landlock ruleset was in effect | no denial, no sentinel result that says anything (was "nothing shows a Landlock ruleset in effect", read as "none was") |
//! | J20* | expected … to be allowed, it was denied {e} (denied by {who}; the control run was …) / …: {J24-operation}; nobody denied it | the attribution from both runs |
//! | J21 | expected {e}: the enforcer claimed {c} enforcement, yet … succeeded / … the enforcer said it enforced nothing / … the control run was denied … | the claim as read; the control run's result |
//! | J22 | expected … to be denied with {want}, it was denied with {got} (control run: …) | the enforced errno |
//! | J23* | (removed) "… timed out in the enforced run" | unreachable: J18 says it, with the limit |
//! | J24* | denied with {e} as expected, but by {got}, not {want}: … — dac: plain permissions (EACCES/EPERM in both runs); operation: failed the same way ({errno}: {meaning}) …, no permission check answers it (tcp_bind: the harness's listeners are on 127.0.0.2); sandbox; seccomp; unknown | the attribution (item 2: `dac` only for EACCES/EPERM) |
//! | J25 | the enforcer lied: it claimed a seccomp filter (`filter=on`), but the command it executed runs under {e} seccomp filter(s), no more than in the control run … ({c}) … | a `filter=on` claim; both runners' `Seccomp_filters`, the enforced run's not above the control run's (issue 25) |
//! | J26 | denied with … as expected, but by filter / landlock / sandbox / seccomp, not …: (the enforcer installed a seccomp filter …, and its Landlock ruleset cannot answer this call with that errno) / (… the errno is one Landlock gives for this call, and the run never saw the enforcer's filter give it) / (… its seccomp filter was seen answering that errno too …) / (… the environment's seccomp filter's errno too, so that filter alone explains the denial …) | the runners' filter counts (the enforcer's own filter), the call, both errnos, the errnos the filter was seen answering (`judge/mechanism.rs`) |
//! | J27 | …; the command wrote to {path} through descriptor {n} ({mode}), open for writing when it started; the control run (no enforcer) was {…}, so the enforcer passed it in / found one too, so the harness itself passed it in: … | an `inherited_write` allowed in the enforced run, the descriptor as the probe named it, the control run's result (issue 28) |
//! | J28 | denied with … as expected, but by layer, not …: the control run, started inside the same outer layers without the enforcer, was denied the same way, and a run outside the layers was allowed: the outer layers denied it … | a case with `setup.layers`: both runs' errno, the unlayered run allowed (issue 28) |
//! | J29 | …; the command listed {dir} through descriptor {n}, open on it when it started; the control run (no enforcer) was {…}, so the enforcer passed it in / found one too, so the harness itself passed it in: … | an `inherited_readdir` allowed in the enforced run, the descriptor as the probe named it, the control run's result (issue 28) |
//! | J30 | denied with … as expected, but by gvisor, not …: both runs inside gVisor … were denied the same way, and the same control run made on the VM outside gVisor, on the same kernel, was allowed: gVisor answered it … / expected … to be allowed, it was denied … by gVisor: … | under gVisor (the guest makes the control run again outside it): both runs' errno the same (`dac`/`operation` before), the run outside allowed (issue 26) |
//! | J31 | denied with … as expected, but by nspawn, not …: both runs inside the container systemd-nspawn makes were denied the same way, and the same control run made on the VM outside it, as the same user on the same kernel, was allowed: nspawn's container denied it … / … by systemd-nspawn: … | under systemd-nspawn, as J30: both runs' errno the same, the run outside (same uid) allowed (issue 26) |
//! | J32 | the control run made on the VM outside {runtime} ran as uid {o}, the control run inside as uid {i}: no comparison … | the run outside's and the control run's runner uids, different |
//! | B1 | Landlock is blocked in `{env}`: its probe answered {e} while the kernel offers ABI {n} | both probes; nothing known of the environment |
//! | B2* | seccomp blocked Landlock: in `{env}` the probe answered {runc's stub / the profile's default action} … | the profile does not name landlock_create_ruleset, and the errno is the stub's or the default action's (was said whatever the errno) |
//! | B3* | Landlock is blocked in `{env}`: … although the profile names it / … but its default action answers {d}, not {e} | the profile and the errno, unexplained by seccomp |
//! | C1 | harness error on {kernel}: {environment error} | the guest's environment error for the case |
//! | F1 | kernel: release, Landlock ABI / no Landlock (the probe answered …); LSMs | the preflight |
//! | F2* | environment bare: … no container, no environment's seccomp filter | bare (was "no seccomp filter": the enforcer may install one) |
//! | F3 | enforced/control run: exit, probes ran as uid / killed at its run limit / killed by a signal / no report from the probe runner | the run's exit and runner report |
//! | F4* | not observed: its setup failed / the run ended (…) before this step's result came back | as J2/J5 |
//! | F5* | denied by: the sandbox / plain permissions, DAC / the environment's seccomp filter / unknown (the control run was {its result}) / nobody: the operation fails without the sandbox too ({errno}: {meaning}) / nobody: allowed / nobody: killed at its time limit / not known | the attribution and both results (unknown said "denied differently" for a control run that timed out) |
//! | F6 | claim, missing policy paths, its stderr, all output | the claim line, the guest's missing paths, stderr, the output file written |

use super::tests::{judge_obs, judge_one, judge_under, judge_with, reference_claims, run, scenario, FULL};
use super::*;
use lockgate_protocol::RunnerFacts;

fn err(e: &str) -> Outcome {
    Outcome::Err(e.into())
}

fn reason(v: &CellVerdict, i: usize) -> String {
    v.expectations[i].reason.clone().unwrap_or_default()
}

fn with_filters(mut r: RunObservation, filters: &str) -> RunObservation {
    r.runner = Some(RunnerFacts {
        uid: 998,
        gid: 998,
        seccomp: None,
        no_new_privs: None,
        seccomp_filters: Some(filters.into()),
        namespaces: Default::default(),
    });
    r
}

const FILTERED: &str = "lockgate-enforcer: enforcement=full abi=4 filter=on syscalls=27 reason=all rules enforced\n";

/// J25 — "the enforcer lied: it claimed a seccomp filter …": a `filter=on` claim, and the
/// runner under no more filters than in the control run. Not said when the runner shows one
/// more, nor when its count is unknown.
#[test]
fn claimed_filter_absent_where_the_command_runs() {
    let s = scenario("  - {run: a, allowed: true}\n");
    let control = || with_filters(run(&[Outcome::Ok], "", "exit:0"), "0");
    let v = judge_one(&s, AbiProbe::Abi(4), control(), with_filters(run(&[Outcome::Ok], FILTERED, "exit:0"), "0"));
    assert_eq!(
        v.findings,
        [format!("the enforcer lied: it claimed a seccomp filter (`filter=on`), but the command it executed runs under 0 seccomp filter(s), no more than in the control run without the enforcer (0): no filter of the enforcer's applies where the command runs: {}", FILTERED.trim())]
    );
    let v = judge_one(&s, AbiProbe::Abi(4), control(), with_filters(run(&[Outcome::Ok], FILTERED, "exit:0"), "2"));
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    let v = judge_one(&s, AbiProbe::Abi(4), control(), with_filters(run(&[Outcome::Ok], FILTERED, "exit:0"), "EACCES"));
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    // No claim of a filter, no finding.
    let v = judge_one(&s, AbiProbe::Abi(4), control(), with_filters(run(&[Outcome::Ok], FULL, "exit:0"), "0"));
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

/// J26 — who of the enforcer's mechanisms denied a call, each wrong `by:` with its evidence.
#[test]
fn filter_or_landlock_by_the_call_and_errno() {
    let s = scenario(
        "  - {probe: tcp_bind 8080, denied: EPERM, by: landlock}\n  - {probe: tcp_connect 80, denied: EACCES, by: filter}\n  - {probe: signal outside, denied: EPERM, by: landlock}\n  - {probe: tcp_bind 8081, denied: EPERM, by: sandbox}\n",
    );
    let outcomes = [err("EPERM"), err("EACCES"), err("EPERM"), err("EPERM")];
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        with_filters(run(&[Outcome::Ok, Outcome::Ok, Outcome::Ok, Outcome::Ok], "", "exit:0"), "0"),
        with_filters(run(&outcomes, FILTERED, "exit:0"), "2"),
    );
    let by: Vec<_> = v.expectations.iter().map(|e| e.denied_by).collect();
    assert_eq!(by, [Some(Denier::Filter), Some(Denier::Landlock), Some(Denier::Sandbox), Some(Denier::Filter)]);
    assert_eq!(reason(&v, 0), "denied with EPERM as expected, but by filter, not landlock: the enforcer installed a seccomp filter (the runner shows more filters than in the control run), and its Landlock ruleset cannot answer this call with that errno");
    assert_eq!(reason(&v, 1), "denied with EACCES as expected, but by landlock, not filter: the control run was allowed, the errno is one Landlock gives for this call, and the run never saw the enforcer's filter give it");
    assert_eq!(reason(&v, 2), "denied with EPERM as expected, but by sandbox, not landlock: the control run was allowed, so the sandbox did it; its seccomp filter was seen answering that errno too, so the run cannot tell its filter from its Landlock ruleset");
    // `by: sandbox` is either mechanism.
    assert_eq!(v.expectations[3].status, Status::Pass);
    // Without a filter of the enforcer's in the run, nothing is told apart.
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        with_filters(run(&[Outcome::Ok, Outcome::Ok, Outcome::Ok, Outcome::Ok], "", "exit:0"), "1"),
        with_filters(run(&outcomes, FULL, "exit:0"), "1"),
    );
    assert!(v.expectations.iter().all(|e| e.denied_by == Some(Denier::Sandbox)), "{:?}", v.expectations);
}

fn with_runner(mut r: RunObservation, uid: u32) -> RunObservation {
    r.runner = Some(RunnerFacts {
        uid,
        gid: uid,
        seccomp: None,
        no_new_privs: None,
        seccomp_filters: None,
        namespaces: Default::default(),
    });
    r
}

const REFUSED: &str = "lockgate-enforcer: enforcement=refused abi=4 reason=no\n";

fn sentinel(step: usize, what: &str, right: &'static str) -> Sentinel {
    Sentinel { step, what: what.into(), outside: "outside every rule".into(), right }
}

/// J2 — "not observed: the {run} run's setup failed: {e}": the run's setup error.
#[test]
fn not_observed_setup_failed() {
    let s = scenario("  - {run: a, allowed: true}\n");
    let mut enforced = run(&[], FULL, "");
    enforced.setup_error = Some("cannot mount tmpfs".into());
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), enforced);
    assert_eq!(reason(&v, 0), "not observed: the enforced run's setup failed: cannot mount tmpfs");
}

/// J1, J3 — "not observed: the enforcer started, then its policy denied executing the probe
/// runner …": no runner report, and the enforcer's stderr names the runner and a denial.
#[test]
fn not_observed_runner_exec_denied() {
    let s = scenario("  - {run: a, allowed: true}\n");
    let stderr = format!("{FULL}exec {}: Permission denied\n", lockgate_protocol::GUEST_BIN);
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[], &stderr, "exit:1"));
    assert!(
        reason(&v, 0)
            .starts_with("not observed: the enforcer started, then its policy denied executing the probe runner"),
        "{}",
        reason(&v, 0)
    );
    // Without the runner named, it is not said.
    let v =
        judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[], "Permission denied\n", "exit:1"));
    assert!(!reason(&v, 0).contains("probe runner"), "{}", reason(&v, 0));
}

/// J4 — "not observed: the {run} run was killed at the run limit ({n}s) …": exit `timeout`.
#[test]
fn not_observed_run_limit() {
    let s = scenario("  - {run: a, allowed: true}\n");
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[], FULL, "timeout"));
    assert!(
        reason(&v, 0).starts_with("not observed: the enforced run was killed at the run limit (60s)"),
        "{}",
        reason(&v, 0)
    );
}

/// J5 — "not observed: the {run} run ended ({exit}) before this step's result came back ({claim})".
#[test]
fn not_observed_run_ended() {
    let s = scenario("  - {run: a, allowed: true}\n");
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[], "", "signal:9"), run(&[Outcome::Ok], FULL, "exit:0"));
    assert_eq!(reason(&v, 0), "not observed: the control run ended (signal:9) before this step's result came back");
}

/// J6 — "`{when}` does not hold here (landlock: …)": the condition fails on these facts.
#[test]
fn skipped_by_when() {
    let s = scenario("  - {run: a, allowed: true, when: 'abi >= 5'}\n  - {run: b, allowed: true}\n");
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok, Outcome::Ok], FULL, "exit:0"),
    );
    assert_eq!(v.expectations[0].status, Status::Skipped);
    assert_eq!(reason(&v, 0), "`abi >= 5` does not hold here (landlock: ABI 4)");
}

/// J8 — "cannot check `enforcement: …`: this enforcer makes no claim …": `claim: unsupported`.
/// J9 — "expected the enforcer to claim `…`, but it printed no claim line (exit …)".
/// J11 — "expected the enforcer to claim `…`, it claimed `…`: {line}".
#[test]
fn claims_unsupported_missing_and_other() {
    let s = scenario("  - {enforcement: full}\n");
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[], "", "exit:0"), run(&[], "no claim here\n", "exit:0"));
    assert_eq!(reason(&v, 0), "expected the enforcer to claim `full`, but it printed no claim line (exit exit:0)");
    let partial = "lockgate-enforcer: enforcement=partial abi=4 reason=x\n";
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[], "", "exit:0"), run(&[], partial, "exit:0"));
    assert_eq!(reason(&v, 0), "expected the enforcer to claim `full`, it claimed `partial`: lockgate-enforcer: enforcement=partial abi=4 reason=x");
    let obs = CaseObservation {
        id: "t@bare".into(),
        landlock: AbiProbe::Abi(4),
        environment_error: None,
        unlayered: None,
        outside: None,
        control: run(&[], "", "exit:0"),
        enforced: run(&[], FULL, "exit:0"),
    };
    let v = judge(&CellInput {
        scenario: &s,
        kernel: "k",
        env: "bare",
        obs: &obs,
        step_of: &[None],
        seccomp_errno: None,
        errno_rules: &[],
        profile_allows: &[],
        yama_ptrace_scope: None,
        claims: &ClaimReader::Unsupported,
        landlock_blocked: None,
        namespaces_refused: None,
        userns_restricted: false,
        kernel_landlock: &obs.landlock,
        entries: None,
        overlayfs: None,
        judge_as_bare: false,
        runtime: None,
        not_asked: &[],
        sentinels: &[],
    });
    assert!(
        reason(&v, 0).starts_with("cannot check `enforcement: full`: this enforcer makes no claim"),
        "{}",
        reason(&v, 0)
    );
}

/// J10 — "expected the enforcer to claim `…`; it said `refused` (…), but it did not refuse to
/// start: …": a refused claim and the runner's exec denied.
/// J12 — "the enforcer claimed it refused, yet the command ran (n of its steps reported …)" and
/// "… yet it exited 0, as a command that succeeded would (no step reported)".
#[test]
fn refusals_that_were_not() {
    let s = scenario("  - {enforcement: full}\n");
    let stderr = format!("{REFUSED}cannot exec {}: EACCES\n", lockgate_protocol::GUEST_BIN);
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[], "", "exit:0"), run(&[], &stderr, "exit:1"));
    assert!(
        reason(&v, 0).contains("it said `refused`") && reason(&v, 0).contains("but it did not refuse to start"),
        "{}",
        reason(&v, 0)
    );
    let s = scenario("  - {run: a, allowed: true}\n  - {enforcement: refused}\n");
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[Outcome::Ok], REFUSED, "exit:1"));
    assert_eq!(
        reason(&v, 1),
        "the enforcer claimed it refused, yet the command ran (1 of its steps reported; exit exit:1)"
    );
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[], REFUSED, "exit:0"));
    assert_eq!(
        reason(&v, 1),
        "the enforcer claimed it refused, yet it exited 0, as a command that succeeded would (no step reported)"
    );
    // A refusal that exits non-zero without running anything is what it says.
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[], REFUSED, "exit:1"));
    assert_eq!(v.expectations[1].status, Status::Pass);
}

/// J14 — "the command ran as uid {e} under the enforcer but as uid {c} in the control run …":
/// both runners' uids, different. J15 — "the enforcer lied: it claimed `…` enforcement, but
/// Landlock is not available here …": a full or partial claim where the probe found none.
#[test]
fn findings_uid_and_lie() {
    let s = scenario("  - {run: a, allowed: true}\n");
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        with_runner(run(&[Outcome::Ok], "", "exit:0"), 998),
        with_runner(run(&[Outcome::Ok], FULL, "exit:0"), 0),
    );
    assert!(
        v.findings[0].starts_with("the command ran as uid 0 under the enforcer but as uid 998 in the control run"),
        "{:?}",
        v.findings
    );
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        with_runner(run(&[Outcome::Ok], "", "exit:0"), 998),
        with_runner(run(&[Outcome::Ok], FULL, "exit:0"), 998),
    );
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    let v = judge_one(
        &s,
        AbiProbe::Errno("EOPNOTSUPP".into()),
        run(&[Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok], FULL, "exit:0"),
    );
    assert!(v.findings[0].starts_with("the enforcer lied: it claimed `full` enforcement, but Landlock is not available here (the probe answered EOPNOTSUPP)"), "{:?}", v.findings);
}

/// J17 — "every expectation was skipped here (n by a `when:` …, m not asked for …)": the
/// skips that were not `when:`'s are not called `when:`'s.
#[test]
fn nothing_checked_says_why_each_was_skipped() {
    use crate::enforcer::Feature;
    let s =
        scenario("  - {probe: ioctl_dev /dev/null, denied: EACCES}\n  - {run: a, allowed: true, when: 'abi >= 7'}\n");
    let obs = CaseObservation {
        id: "t@bare".into(),
        landlock: AbiProbe::Abi(4),
        environment_error: None,
        unlayered: None,
        outside: None,
        control: run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
        enforced: run(&[Outcome::Ok, Outcome::Ok], FULL, "exit:0"),
    };
    let v = judge(&CellInput {
        scenario: &s,
        kernel: "k",
        env: "bare",
        obs: &obs,
        step_of: &[Some(0), Some(1)],
        seccomp_errno: None,
        errno_rules: &[],
        profile_allows: &[],
        yama_ptrace_scope: None,
        claims: &reference_claims(),
        landlock_blocked: None,
        namespaces_refused: None,
        userns_restricted: false,
        kernel_landlock: &obs.landlock,
        entries: None,
        overlayfs: None,
        judge_as_bare: false,
        runtime: None,
        not_asked: &[Feature::IoctlDev],
        sentinels: &[],
    });
    let n = v.nothing_checked.unwrap();
    assert!(n.starts_with("every expectation was skipped here (1 by a `when:` that fails here (landlock: ABI 4), 1 not asked for: the enforcer's adapter cannot express what they govern), so nothing was checked: not a pass"), "{n}");
}

/// J18 — "`…` did not finish {in which run}: it was killed at {limit}; it was not denied …":
/// a Timeout outcome, in the run it happened in.
#[test]
fn cut_at_a_limit() {
    let s = scenario("  - {run: sleep 99, denied: EACCES}\n  - {probe: exec /bin/x, allowed: true}\n");
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        run(&[Outcome::Ok, Outcome::Timeout], "", "exit:0"),
        run(&[Outcome::Timeout, Outcome::Timeout], FULL, "exit:0"),
    );
    assert!(
        reason(&v, 0)
            .starts_with("`sleep 99` did not finish in the enforced run: it was killed at the step limit (20s;"),
        "{}",
        reason(&v, 0)
    );
    assert!(
        reason(&v, 1)
            .starts_with("`probe exec /bin/x` did not finish in both runs: it was killed at the probe's own limit"),
        "{}",
        reason(&v, 1)
    );
    assert_eq!(v.expectations[0].denied_by, None, "nothing was denied");
}

/// J19a — "… Landlock is not available here (the probe answered …), so no Landlock ruleset
/// could deny it": the probe where the runs happened found no Landlock.
#[test]
fn not_denied_without_landlock() {
    let s = scenario("  - {run: touch /x, denied: EACCES}\n");
    let v = judge_one(
        &s,
        AbiProbe::Errno("ENOSYS".into()),
        run(&[Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok], "", "exit:0"),
    );
    assert_eq!(reason(&v, 0), "expected EACCES: `touch /x` succeeded; the control run (no enforcer) allowed it too, and Landlock is not available here (the probe answered ENOSYS), so no Landlock ruleset could deny it");
}

/// J19c — "a Landlock ruleset was in effect …" only from a denial with an errno of Landlock's
/// rights (EACCES, EXDEV); from EPERM alone, "the enforcer's sandbox was in effect".
#[test]
fn evidence_of_a_ruleset_names_what_it_can_be() {
    let s = scenario("  - {run: touch /x, denied: EACCES}\n  - {probe: signal outside, denied: EPERM}\n");
    let v = judge_one(
        &s,
        AbiProbe::Abi(6),
        run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok, err("EPERM")], FULL, "exit:0"),
    );
    let r = reason(&v, 0);
    assert!(r.contains("the enforcer's sandbox was in effect in this run (a Landlock scope or a seccomp filter: both answer EPERM) (1 other step denied by the sandbox: `probe signal outside`)"), "{r}");
    assert!(!r.contains("a Landlock ruleset was in effect"), "{r}");
}

/// J19d, J19e — a sentinel denied EACCES: "a Landlock ruleset was in effect in this run (the
/// harness's sentinel … was denied EACCES, so the ruleset handles {RIGHT})", and for an
/// operation that needs exactly that right, "the enforcer's effective rules grant {RIGHT} here".
#[test]
fn a_denied_sentinel_shows_the_ruleset_and_what_it_grants() {
    let s = scenario(
        "  - {run: touch /sandbox/x, denied: EACCES, by: sandbox}\n  - {probe: create /sandbox/y, denied: EACCES}\n",
    );
    let mknod = [sentinel(2, "probe mknod_reg /lockgate-sentinel/f", "MAKE_REG")];
    let v = judge_with(
        &s,
        AbiProbe::Abi(6),
        run(&[Outcome::Ok, Outcome::Ok, Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok, Outcome::Ok, err("EACCES")], FULL, "exit:0"),
        &mknod,
    );
    let r = reason(&v, 0);
    assert!(r.contains("a Landlock ruleset was in effect in this run (the harness's sentinel `probe mknod_reg /lockgate-sentinel/f`, outside every rule, was denied EACCES, so the ruleset handles MAKE_REG), so the enforcer's effective rules grant this access, which the scenario expects its policy to deny — unless it needs a right that ruleset does not handle"), "{r}");
    assert!(
        reason(&v, 1).contains(
            "so the enforcer's effective rules grant MAKE_REG here, which the scenario expects its policy to deny"
        ),
        "{}",
        reason(&v, 1)
    );
    // Denied with another errno (a seccomp filter's EPERM), the sentinel shows nothing.
    let v = judge_with(
        &s,
        AbiProbe::Abi(6),
        run(&[Outcome::Ok, Outcome::Ok, Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok, Outcome::Ok, err("EPERM")], FULL, "exit:0"),
        &mknod,
    );
    assert!(reason(&v, 0).contains("the harness's sentinels show nothing (`probe mknod_reg /lockgate-sentinel/f`: control run allowed, enforced run denied EPERM)"), "{}", reason(&v, 0));
}

/// J19f — a sentinel allowed in both runs: "… and the harness's sentinel … was allowed too: no
/// Landlock ruleset handling {RIGHT} was in effect in this run, or the enforcer's effective
/// rules grant that as well". J19g — a sentinel the runs did not reach shows nothing.
#[test]
fn an_allowed_or_unseen_sentinel_says_what_it_can() {
    let s = scenario("  - {run: touch /sandbox/x, denied: EACCES, by: sandbox}\n");
    let mknod = [sentinel(1, "probe mknod_reg /lockgate-sentinel/f", "MAKE_REG")];
    let v = judge_with(
        &s,
        AbiProbe::Abi(6),
        run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok, Outcome::Ok], FULL, "exit:0"),
        &mknod,
    );
    assert!(reason(&v, 0).ends_with("the control run (no enforcer) allowed it too; no other step of this run was denied by the sandbox, and the harness's sentinel `probe mknod_reg /lockgate-sentinel/f`, outside every rule, was allowed too: no Landlock ruleset handling MAKE_REG was in effect in this run, or the enforcer's effective rules grant that as well"), "{}", reason(&v, 0));
    let v = judge_with(
        &s,
        AbiProbe::Abi(6),
        run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
        run(&[Outcome::Ok], FULL, "exit:0"),
        &mknod,
    );
    assert!(reason(&v, 0).contains("the harness's sentinels show nothing (`probe mknod_reg /lockgate-sentinel/f`: the enforced run ended before it ran): nothing in this run shows whether a Landlock ruleset was in effect"), "{}", reason(&v, 0));
}

/// J20 — "expected … to be allowed, it was denied {e} (denied by {who}; the control run was …)",
/// and for a failure of both runs with a non-permission errno, the operation's own failure.
#[test]
fn allowed_expected_but_denied() {
    let s = scenario("  - {run: a, allowed: true}\n  - {probe: ioctl_dev /dev/null, allowed: true}\n");
    let v = judge_one(
        &s,
        AbiProbe::Abi(6),
        run(&[Outcome::Ok, err("ENOTTY")], "", "exit:0"),
        run(&[err("EACCES"), err("ENOTTY")], FULL, "exit:0"),
    );
    assert_eq!(
        reason(&v, 0),
        "expected `a` to be allowed, it was denied EACCES (denied by sandbox; the control run was allowed)"
    );
    assert_eq!(reason(&v, 1), "expected `probe ioctl_dev /dev/null` to be allowed, it was denied ENOTTY: the control run (same uid, no enforcer) failed the same way (ENOTTY: inappropriate ioctl for device): the operation fails here without the sandbox too, and no permission check answers ENOTTY; nobody denied it");
}

/// J21 — the lead of a denial that did not happen: the claim as made; J22 — "expected … to be
/// denied with {want}, it was denied with {got} (control run: …)".
#[test]
fn leads_and_wrong_errno() {
    let s = scenario("  - {run: a, denied: EACCES}\n");
    let none = "lockgate-enforcer: enforcement=none abi=4 reason=x\n";
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[Outcome::Ok], none, "exit:0"));
    assert!(
        reason(&v, 0).starts_with(
            "expected EACCES: `a` succeeded; the enforcer said it enforced nothing (landlock here: ABI 4);"
        ),
        "{}",
        reason(&v, 0)
    );
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[err("ENOENT")], "", "exit:0"), run(&[Outcome::Ok], "", "exit:0"));
    assert_eq!(reason(&v, 0), "expected EACCES: `a` succeeded; the control run was denied ENOENT");
    let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[err("EPERM")], FULL, "exit:0"));
    assert_eq!(reason(&v, 0), "expected `a` to be denied with EACCES, it was denied with EPERM (control run: allowed)");
}

/// J24 — "denied with {e} as expected, but by {got}, not {want}: …", one clause per denier,
/// each from the control run's result.
#[test]
fn denied_by_someone_else() {
    let s = scenario("  - {run: a, denied: EACCES, by: seccomp}\n  - {run: b, denied: EPERM, by: sandbox}\n  - {run: c, denied: EACCES, by: sandbox}\n");
    let v = judge_one(
        &s,
        AbiProbe::Abi(4),
        run(&[Outcome::Ok, err("EPERM"), err("ENOENT")], "", "exit:0"),
        run(&[err("EACCES"), err("EPERM"), err("EACCES")], FULL, "exit:0"),
    );
    assert_eq!(reason(&v, 0), "denied with EACCES as expected, but by sandbox, not seccomp: the control run was allowed, so the sandbox did it");
    assert_eq!(reason(&v, 1), "denied with EPERM as expected, but by dac, not sandbox: the control run (same uid, no enforcer) was denied the same way, so plain permissions did it");
    assert_eq!(
        reason(&v, 2),
        "denied with EACCES as expected, but by unknown, not sandbox: the control run was denied ENOENT"
    );
    let obs = CaseObservation {
        id: "t@d".into(),
        landlock: AbiProbe::Abi(4),
        environment_error: None,
        unlayered: None,
        outside: None,
        control: run(&[err("EPERM")], "", "exit:0"),
        enforced: run(&[err("EPERM")], FULL, "exit:0"),
    };
    let s = scenario("  - {run: a, denied: EPERM, by: sandbox}\n");
    let base = CellInput {
        scenario: &s,
        kernel: "k",
        env: "d",
        obs: &obs,
        step_of: &[Some(0)],
        seccomp_errno: Some("EPERM"),
        errno_rules: &[],
        profile_allows: &[],
        yama_ptrace_scope: None,
        claims: &reference_claims(),
        landlock_blocked: None,
        namespaces_refused: None,
        userns_restricted: false,
        kernel_landlock: &obs.landlock,
        entries: None,
        overlayfs: None,
        judge_as_bare: false,
        runtime: None,
        not_asked: &[],
        sentinels: &[],
    };
    let v = judge(&base);
    assert_eq!(reason(&v, 0), "denied with EPERM as expected, but by seccomp, not sandbox: the control run got the seccomp filter's errno too");
    // The Yama clause: under a profile whose default is EPERM but which allows `ptrace` whatever
    // its arguments, an attach denied EPERM in both runs is `dac`, and on a kernel with Yama's
    // ptrace_scope 1 the sentence says Yama refused it, not the profile.
    let s = scenario("  - {probe: ptrace_attach outside, denied: EPERM, by: seccomp}\n");
    let allowed = vec!["ptrace".to_string()];
    let input = |yama| CellInput { scenario: &s, profile_allows: &allowed, yama_ptrace_scope: yama, ..base };
    let v = judge(&input(Some(1)));
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Dac));
    assert_eq!(reason(&v, 0), "denied with EPERM as expected, but by dac, not seccomp: the control run (same uid, no enforcer) was denied the same way: Yama's ptrace_scope is 1 on this kernel, which refuses attaching to a process that is not a descendant, with or without a sandbox");
    let v = judge(&input(None));
    assert_eq!(reason(&v, 0), "denied with EPERM as expected, but by dac, not seccomp: the control run (same uid, no enforcer) was denied the same way, so plain permissions did it");
}

/// J27 — a write through an inherited descriptor names the descriptor the probe wrote through,
/// and who passed it in by the control run.
#[test]
fn inherited_descriptor_is_named() {
    let s = scenario("  - {probe: inherited_write /sandbox/f, denied: EBADF}\n");
    let mut enforced = run(&[Outcome::Ok], FULL, "exit:0");
    enforced.steps[0].stdout = "descriptor 3 (O_RDWR)".into();
    let v = judge_one(&s, AbiProbe::Abi(6), run(&[err("EBADF")], "", "exit:0"), enforced.clone());
    assert_eq!(reason(&v, 0), "expected EBADF: the enforcer claimed full enforcement, yet `probe inherited_write /sandbox/f` succeeded; the command wrote to /sandbox/f through descriptor 3 (O_RDWR), open for writing when it started; the control run (no enforcer) was denied EBADF, so the enforcer passed it in: a descriptor opened before the sandbox keeps the access it was opened with across execve (Landlock checks access when a file is opened, never revokes a descriptor), so it must be closed or opened O_CLOEXEC");
    let v = judge_one(&s, AbiProbe::Abi(6), run(&[Outcome::Ok], "", "exit:0"), enforced);
    assert!(
        reason(&v, 0).contains("the control run (no enforcer) found one too, so the harness itself passed it in"),
        "{}",
        reason(&v, 0)
    );
}

/// J28 — a denial both runs share, with layers, is the layers' when the unlayered run was
/// allowed; the sentence says how that was seen.
#[test]
fn a_denial_of_the_outer_layers_says_how_it_was_told() {
    let s = scenario("  - {probe: write /sandbox/f, denied: EACCES, by: sandbox}\n");
    let control = run(&[err("EACCES")], "", "exit:0");
    let enforced = run(&[err("EACCES")], FULL, "exit:0");
    let mut input_obs = CaseObservation {
        id: "t@bare".into(),
        landlock: AbiProbe::Abi(6),
        environment_error: None,
        control,
        enforced,
        unlayered: Some(run(&[Outcome::Ok], "", "exit:0")),
        outside: None,
    };
    let v = judge_obs(&s, &input_obs);
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Layer));
    assert_eq!(reason(&v, 0), "denied with EACCES as expected, but by layer, not sandbox: the control run, started inside the same outer layers without the enforcer, was denied the same way, and a run outside the layers was allowed: the outer layers denied it (a layer the enforcer adds cannot grant what an earlier one denies)");
    input_obs.unlayered = Some(run(&[err("EACCES")], "", "exit:0"));
    assert_eq!(judge_obs(&s, &input_obs).expectations[0].denied_by, Some(Denier::Dac));
}

/// J30 — under gVisor a denial both runs share is gVisor's when the control run made outside
/// gVisor, on the same kernel, was allowed; where that run failed too, the attribution stands.
#[test]
fn a_denial_of_gvisor_says_how_it_was_told() {
    let s = scenario(
        "  - {probe: rename_exchange /work/a /work/b, denied: EINVAL, by: operation}\n  - {probe: rename_exchange /work/a /work/b, allowed: true}\n",
    );
    let mut obs = CaseObservation {
        id: "t@gvisor".into(),
        landlock: AbiProbe::Errno("ENOSYS".into()),
        environment_error: None,
        control: run(&[err("EINVAL"), err("EINVAL")], "", "exit:0"),
        enforced: run(&[err("EINVAL"), err("EINVAL")], "", "exit:0"),
        unlayered: None,
        outside: Some(run(&[Outcome::Ok, Outcome::Ok], "", "exit:0")),
    };
    let v = judge_under(&s, &obs, Denier::Gvisor);
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Gvisor));
    assert_eq!(reason(&v, 0), "denied with EINVAL as expected, but by gvisor, not operation: both runs inside gVisor, whose Sentry answers every system call of the container in place of the VM's kernel, were denied the same way, and the same control run made on the VM outside gVisor, on the same kernel, was allowed: gVisor answered it (a call or a flag its Sentry does not implement, or the container it makes), not the kernel, the sandbox or plain permissions");
    assert!(reason(&v, 1).starts_with("expected `probe rename_exchange /work/a /work/b` to be allowed, it was denied EINVAL by gVisor: both runs inside gVisor"), "{}", reason(&v, 1));
    // The kernel outside gVisor fails it too: the operation's, as before.
    obs.outside = Some(run(&[err("EINVAL"), err("EINVAL")], "", "exit:0"));
    assert_eq!(judge_under(&s, &obs, Denier::Gvisor).expectations[0].denied_by, Some(Denier::Operation));
    // No run outside (not gVisor): nothing changes.
    obs.outside = None;
    assert_eq!(judge_under(&s, &obs, Denier::Gvisor).expectations[0].denied_by, Some(Denier::Operation));
    // A denial only the enforced run got stays the enforcer's.
    obs.control = run(&[Outcome::Ok, Outcome::Ok], "", "exit:0");
    obs.outside = Some(run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"));
    assert_eq!(judge_under(&s, &obs, Denier::Gvisor).expectations[0].denied_by, Some(Denier::Sandbox));
}

/// J31 — under systemd-nspawn, as under gVisor (one rule, `through_runtime`): a denial both runs
/// in nspawn's container share is nspawn's when the control run made on the VM outside it, as
/// the same user, was allowed; one the run outside got too stays `dac` (a root-only file read as
/// a non-root user); a run outside as another user proves nothing, and the cell says so; the
/// same observations in an environment lockgate has a table of are judged as before.
#[test]
fn a_denial_of_nspawn_says_how_it_was_told() {
    let s = scenario(
        "  - {probe: mount /work/m, denied: EPERM, by: dac}\n  - {probe: read /data/root-only, denied: EACCES, by: dac}\n  - {probe: mount /work/m, allowed: true}\n",
    );
    let both = |r: &[Outcome]| with_runner(run(r, "", "exit:0"), 0);
    let mut obs = CaseObservation {
        id: "t@systemd-nspawn-257".into(),
        landlock: AbiProbe::Abi(6),
        environment_error: None,
        control: both(&[err("EPERM"), err("EACCES"), err("EPERM")]),
        enforced: both(&[err("EPERM"), err("EACCES"), err("EPERM")]),
        unlayered: None,
        outside: Some(both(&[Outcome::Ok, err("EACCES"), Outcome::Ok])),
    };
    let v = judge_under(&s, &obs, Denier::Nspawn);
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Nspawn));
    assert_eq!(reason(&v, 0), "denied with EPERM as expected, but by nspawn, not dac: both runs inside the container systemd-nspawn makes were denied the same way, and the same control run made on the VM outside it, as the same user on the same kernel, was allowed: nspawn's container denied it (its built-in seccomp allow-list, the capabilities it drops, or what it mounts read-only or leaves out of the container's tree: lockgate does not tell these apart), not the kernel, the sandbox or plain permissions");
    // Denied outside too: plain permissions, as before.
    assert_eq!(v.expectations[1].denied_by, Some(Denier::Dac));
    assert_eq!(v.expectations[1].status, Status::Pass);
    assert!(reason(&v, 2).starts_with("expected `probe mount /work/m` to be allowed, it was denied EPERM by systemd-nspawn: both runs inside the container systemd-nspawn makes"), "{}", reason(&v, 2));
    assert_eq!(v.evidence.outside_of, Some(Denier::Nspawn));
    // The same observations where lockgate has the filter's table (no runtime named): the run
    // outside, had there been one, decides nothing.
    assert_eq!(judge_obs(&s, &obs).expectations[0].denied_by, Some(Denier::Dac));
    // The run outside as another user than the runs inside: no comparison, said as a finding.
    obs.outside = Some(with_runner(run(&[Outcome::Ok, Outcome::Ok, Outcome::Ok], "", "exit:0"), 998));
    let v = judge_under(&s, &obs, Denier::Nspawn);
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Dac));
    assert_eq!(v.findings, vec!["the control run made on the VM outside systemd-nspawn ran as uid 998, the control run inside as uid 0: no comparison, so no denial is put down to systemd-nspawn".to_string()]);
    assert!(!v.passed());
}

/// J29 — a listing through an inherited directory descriptor names the descriptor, and who
/// passed it in by the control run.
#[test]
fn inherited_directory_descriptor_is_named() {
    let s = scenario("  - {probe: inherited_readdir /inbox, denied: EBADF}\n");
    let mut enforced = run(&[Outcome::Ok], FULL, "exit:0");
    enforced.steps[0].stdout = "descriptor 5".into();
    let v = judge_one(&s, AbiProbe::Abi(6), run(&[err("EBADF")], "", "exit:0"), enforced);
    assert_eq!(reason(&v, 0), "expected EBADF: the enforcer claimed full enforcement, yet `probe inherited_readdir /inbox` succeeded; the command listed /inbox through descriptor 5, open on it when it started; the control run (no enforcer) was denied EBADF, so the enforcer passed it in: Landlock checks read_dir when a directory is opened, never on a descriptor opened before the sandbox, so a directory descriptor must be opened O_PATH, or closed or opened O_CLOEXEC");
}
