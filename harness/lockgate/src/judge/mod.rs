//! Judge: a pure function of (scenario, observations) → verdicts. No VM is needed to test it.
//!
//! Every denial is attributed from the control run (same uid, same environment, no enforcer):
//! denied only under the enforcer → `sandbox`; denied the same way without it → `dac`, or
//! `seccomp` when the environment's filter answers that errno. The enforcer's claim is checked
//! against what happened: claiming enforcement where Landlock is unavailable is a lie.

pub mod blocked;
pub mod cells;

use crate::enforcer::claim::{ClaimReader, Reading, NO_CLAIM_MADE, NO_CLAIM_PRINTED};
use crate::model::cond::Facts;
use crate::model::scenario::{Action, Check, Claim, Denier, Scenario, Wanted};
use lockgate_protocol::{AbiProbe, CaseObservation, Limits, Outcome, ProbeOp, RunObservation, StepResult};
use serde::Serialize;
use std::cell::OnceCell;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Its `when:` does not hold here.
    Skipped,
}

/// One expectation's verdict, with what was seen. Field order is the snapshot's order.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationVerdict {
    pub expect: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforced: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<Denier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed: Option<String>,
    /// Why it failed (or was skipped), in one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The judged cell: this is what the snapshot holds (stable fields only).
#[derive(Debug, Clone, Serialize)]
pub struct CellVerdict {
    pub scenario: String,
    pub kernel: String,
    pub environment: String,
    /// The raw Landlock probe where the runs happened.
    pub landlock: String,
    /// The kernel's own probe, when it differs from the one where the runs happened (the
    /// environment took Landlock away).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_landlock: Option<String>,
    /// The enforcer's claim line, as printed.
    pub enforcer_claim: String,
    pub enforcer_exit: String,
    /// The policy's paths that did not exist where the runs happened, each marked when the
    /// scenario means it to be missing (`setup.absent`). A missing rule path is a test input:
    /// an enforcer must neither fail open on it nor grant anything through it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_paths: Vec<String>,
    pub expectations: Vec<ExpectationVerdict>,
    /// Checks that apply to every cell (the enforcer's honesty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Set when every expectation was skipped: nothing was checked in this cell, which is not a
    /// pass. Says why, and whether the scenario says so is intended (`may_skip_all: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nothing_checked: Option<String>,
    /// The scenario says a cell that checks nothing is intended.
    #[serde(skip)]
    pub nothing_checked_intended: bool,
    /// What was observed in full, for the failure report; never in the snapshot.
    #[serde(skip)]
    pub evidence: Evidence,
}

/// The raw observations behind a verdict, kept out of snapshots (output, uids, errors vary).
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Per expectation (same index): the step and both runs' results, for operations.
    pub steps: Vec<Option<StepEvidence>>,
    pub control: RunEvidence,
    pub enforced: RunEvidence,
    /// The claim as read from the enforced run's stderr.
    pub claim: Option<Claim>,
    /// The file holding both runs' whole (bounded) output, once written beside the reports.
    pub output_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEvidence {
    /// The command or probe as it was run.
    pub command: String,
    pub control: Option<StepResult>,
    pub enforced: Option<StepResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEvidence {
    pub exit: String,
    /// What the top process printed on stderr (bounded by the guest).
    pub stderr: String,
    pub setup_error: Option<String>,
    /// The uid the probe runner ran as, when it ran.
    pub uid: Option<u32>,
}

impl RunEvidence {
    fn of(run: &RunObservation) -> RunEvidence {
        RunEvidence {
            exit: run.exit.clone(),
            stderr: run.stderr.clone(),
            setup_error: run.setup_error.clone(),
            uid: run.runner.as_ref().map(|r| r.uid),
        }
    }
}

impl CellVerdict {
    /// No expectation failed and no finding was made (a cell that checked nothing has no
    /// failure either: see [`CellVerdict::checked_nothing`]).
    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.expectations.iter().all(|e| e.status != Status::Fail)
    }

    /// Every expectation was skipped.
    pub fn checked_nothing(&self) -> bool {
        self.nothing_checked.is_some()
    }

    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self.findings.clone();
        out.extend(
            self.expectations
                .iter()
                .filter(|e| e.status == Status::Fail)
                .map(|e| format!("{}: {}", e.expect, e.reason.as_deref().unwrap_or("failed"))),
        );
        out
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "allowed".into(),
        Outcome::Err(e) => format!("denied {e}"),
        Outcome::Timeout => "timed out".into(),
    }
}

/// Who denied an operation, given both runs. `None` when the enforced run was not denied.
pub fn attribute(control: &Outcome, enforced: &Outcome, seccomp_errno: Option<&str>) -> Option<Denier> {
    // A step cut at its time limit was not denied by anyone: the reason names the limit.
    let Outcome::Err(e) = enforced else { return None };
    Some(match control {
        Outcome::Ok => Denier::Sandbox,
        Outcome::Err(c) if c == e && seccomp_errno == Some(e.as_str()) => Denier::Seccomp,
        Outcome::Err(c) if c == e => Denier::Dac,
        _ => Denier::Unknown,
    })
}

fn step(run: &RunObservation, i: usize) -> Option<&StepResult> {
    run.steps.get(i)
}

/// The enforcer enforced, then could not execute the probe runner: its own policy denied it
/// (the runner never reported, and the enforcer's message names the runner and a denial). An
/// enforcer may call that "refused"; it is not a refusal to start.
pub fn runner_exec_denied(run: &RunObservation) -> Option<String> {
    if run.runner.is_some() || !run.stderr.contains(lockgate_protocol::GUEST_BIN) {
        return None;
    }
    let denied = ["Permission denied", "EACCES", "Operation not permitted", "EPERM"];
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(lockgate_protocol::GUEST_BIN) && denied.iter().any(|d| l.contains(d)))?;
    Some(format!(
        "the enforcer started, then its policy denied executing the probe runner {} ({}): every policy must let the runner execute (/usr, or /bin, which links to /usr/bin, in read_only or read_write)",
        lockgate_protocol::GUEST_BIN,
        line.trim()
    ))
}

/// Why a run has no result for a step: the enforcer refused, setup failed, the runner crashed,
/// the run was killed at its time limit.
fn missing_reason(which: &str, run: &RunObservation, claims: &ClaimReader, limits: &Limits) -> String {
    if let Some(e) = &run.setup_error {
        return format!("not observed: the {which} run's setup failed: {e}");
    }
    if let Some(why) = runner_exec_denied(run) {
        return format!("not observed: {why}");
    }
    if run.exit == "timeout" {
        return format!(
            "not observed: the {which} run was killed at the run limit ({}s) before this step's result came back; if the run needs longer, set `limits: {{run: N}}` (seconds) in the scenario",
            limits.run_seconds
        );
    }
    let claim = claims.read(&run.stderr).claim().map(|(_, l)| format!(" ({l})")).unwrap_or_default();
    format!("not observed: the {which} run ended ({}) before this step ran{claim}", run.exit)
}

pub struct CellInput<'a> {
    pub scenario: &'a Scenario,
    pub kernel: &'a str,
    pub env: &'a str,
    pub obs: &'a CaseObservation,
    pub step_of: &'a [Option<usize>],
    /// The errno the environment's seccomp filter returns for what it blocks (None for bare).
    pub seccomp_errno: Option<&'a str>,
    /// How to read the enforcer's claim (its adapter's rules).
    pub claims: &'a ClaimReader,
    /// Why Landlock is missing where the runs happened although the kernel offers it (a
    /// container's seccomp profile blocks it, [`blocked::landlock_blocked`]): added to the
    /// reason of each expectation that fails for want of Landlock.
    pub landlock_blocked: Option<&'a str>,
    /// The Landlock probe of the kernel itself (the preflight's, on the bare guest): `abi` in
    /// `when:` is what the kernel offers, so an environment that takes Landlock away fails the
    /// expectations guarded on it instead of skipping them.
    pub kernel_landlock: &'a AbiProbe,
    /// Judge by the expectations of the bare environment on this kernel: `when:` sees `env ==
    /// bare` and Landlock available wherever the kernel offers it. The mutation gate judges a
    /// container environment so, to catch one that takes Landlock away even from a scenario
    /// that accepts it (`landlock == blocked`).
    pub judge_as_bare: bool,
    /// Parts of the policy the enforcer cannot express (its adapter's `cannot_express:`): the
    /// expectations on what they govern, and on the claim, are not asked for, not failed.
    pub not_asked: &'a [crate::enforcer::Feature],
}

/// Why an expectation is not asked for: the enforcer cannot express a part of the policy that
/// governs it (an operation it decides, or the claim, which then speaks of another policy).
fn not_asked(features: &[crate::enforcer::Feature], check: &Check) -> Option<String> {
    let relevant: Vec<&str> = features
        .iter()
        .filter(|f| match check {
            Check::Operation { action: Action::Probe { op, .. }, .. } => f.governs(*op),
            Check::Operation { action: Action::Run(_), .. } => false,
            Check::Enforcement(_) => true,
        })
        .map(|f| f.field())
        .collect();
    (!relevant.is_empty()).then(|| {
        format!(
            "not asked for: the enforcer's adapter says it cannot express `{}`, so its policy went without it",
            relevant.join("`, `")
        )
    })
}

pub fn judge(input: &CellInput) -> CellVerdict {
    let obs = input.obs;
    // Where the runs happened (the container, for container environments).
    let abi = obs.landlock.abi();
    let kernel_abi = input.kernel_landlock.abi();
    let facts = match input.judge_as_bare {
        true => Facts { abi: kernel_abi, env_abi: kernel_abi, kernel: input.kernel, env: "bare" },
        false => Facts { abi: kernel_abi, env_abi: abi, kernel: input.kernel, env: input.env },
    };
    let landlock_here = if input.kernel_landlock == &obs.landlock {
        obs.landlock.to_string()
    } else {
        let kernel = match input.kernel_landlock {
            AbiProbe::Abi(n) => format!("the kernel offers ABI {n}"),
            AbiProbe::Errno(e) => format!("the kernel's probe answered {e}"),
        };
        format!("{kernel}, here {}", obs.landlock)
    };
    let reading = input.claims.read(&obs.enforced.stderr);
    let claim = reading.claim().map(|(c, l)| (c, l.to_string()));
    let claim_text = match &reading {
        Reading::Claimed(_, l) => l.clone(),
        Reading::Nothing => NO_CLAIM_PRINTED.into(),
        Reading::Unsupported => NO_CLAIM_MADE.into(),
    };
    let mut evidence = Evidence {
        steps: Vec::new(),
        control: RunEvidence::of(&obs.control),
        enforced: RunEvidence::of(&obs.enforced),
        claim: claim.as_ref().map(|(c, _)| *c),
        output_file: None,
    };
    let steps = input.step_of.iter().flatten().map(|k| k + 1).max().unwrap_or(0);
    let limits = input.scenario.limits.resolve(steps);
    let mut expectations = Vec::new();
    let denials = Denials { input, all: OnceCell::new() };
    for (i, e) in input.scenario.expect.iter().enumerate() {
        let expect = describe(&e.check);
        let mut v = ExpectationVerdict {
            expect,
            when: e.when.as_ref().map(|w| w.to_string()),
            status: Status::Pass,
            control: None,
            enforced: None,
            denied_by: None,
            claimed: None,
            reason: None,
        };
        evidence.steps.push(input.step_of.get(i).copied().flatten().map(|k| StepEvidence {
            command: match &e.check {
                Check::Operation { action: Action::Run(cmd), .. } => cmd.clone(),
                Check::Operation { action, .. } => action.to_string(),
                Check::Enforcement(_) => String::new(),
            },
            control: step(&obs.control, k).cloned(),
            enforced: step(&obs.enforced, k).cloned(),
        }));
        if let Some(w) = &e.when {
            if !w.holds(&facts) {
                v.status = Status::Skipped;
                v.reason = Some(format!("`{w}` does not hold here (landlock: {landlock_here})"));
                expectations.push(v);
                continue;
            }
        }
        if let Some(why) = not_asked(input.not_asked, &e.check) {
            v.status = Status::Skipped;
            v.reason = Some(why);
            expectations.push(v);
            continue;
        }
        match &e.check {
            Check::Enforcement(want) => {
                v.claimed = Some(claim.as_ref().map(|(c, _)| c.to_string()).unwrap_or_else(|| "nothing".into()));
                match &claim {
                    None if reading == Reading::Unsupported => fail(
                        &mut v,
                        format!("cannot check `enforcement: {want}`: this enforcer makes no claim about its enforcement (its adapter says `claim: unsupported`); only the probes say what it enforced"),
                    ),
                    None => fail(&mut v, format!("expected the enforcer to claim `{want}`, but it printed no claim line (exit {})", obs.enforced.exit)),
                    Some((Claim::Refused, line)) if runner_exec_denied(&obs.enforced).is_some() => fail(
                        &mut v,
                        format!(
                            "expected the enforcer to claim `{want}`; it said `refused` ({line}), but it did not refuse to start: {}",
                            runner_exec_denied(&obs.enforced).unwrap_or_default()
                        ),
                    ),
                    Some((got, line)) if got != want => fail(&mut v, format!("expected the enforcer to claim `{want}`, it claimed `{got}`: {line}")),
                    Some((Claim::Refused, _)) if obs.enforced.exit == "exit:0" || !obs.enforced.steps.is_empty() => {
                        fail(&mut v, format!("the enforcer claimed it refused, yet the command ran (exit {})", obs.enforced.exit))
                    }
                    Some(_) => {}
                }
            }
            Check::Operation { action, result, by } => {
                let i_step = input.step_of[i].expect("an operation expectation always has a step");
                let (Some(c), Some(en)) = (step(&obs.control, i_step), step(&obs.enforced, i_step)) else {
                    v.control = step(&obs.control, i_step).map(|s| show(&s.outcome));
                    v.enforced = step(&obs.enforced, i_step).map(|s| show(&s.outcome));
                    let why = if step(&obs.control, i_step).is_none() {
                        missing_reason("control", &obs.control, input.claims, &limits)
                    } else {
                        missing_reason("enforced", &obs.enforced, input.claims, &limits)
                    };
                    fail(&mut v, why);
                    expectations.push(v);
                    continue;
                };
                v.control = Some(show(&c.outcome));
                v.enforced = Some(show(&en.outcome));
                v.denied_by = attribute(&c.outcome, &en.outcome, input.seccomp_errno);
                if let Some(why) = cut_at_limit(action, &c.outcome, &en.outcome, &limits) {
                    fail(&mut v, why);
                    expectations.push(v);
                    continue;
                }
                let context = RunContext {
                    claim: claim.as_ref().map(|(c, l)| (*c, l.as_str())),
                    landlock: &obs.landlock,
                    denials: &denials,
                    this: i_step,
                };
                judge_operation(&mut v, action, result, *by, &c.outcome, &en.outcome, &context);
            }
        }
        // A denial that did not happen, or a claim short of the one expected, because the
        // environment took Landlock away: say so.
        let for_want_of_landlock = match &e.check {
            Check::Enforcement(_) => true,
            Check::Operation { result: Wanted::Denied(_), .. } => v.enforced.as_deref() == Some("allowed"),
            Check::Operation { .. } => false,
        };
        if let (Status::Fail, true, Some(blocked)) = (v.status, for_want_of_landlock, input.landlock_blocked) {
            v.reason = Some(format!("{}; {blocked}", v.reason.take().unwrap_or_default()));
        }
        expectations.push(v);
    }
    let mut findings = Vec::new();
    if let (Some(enforced), Some(control)) = (&obs.enforced.runner, &obs.control.runner) {
        if enforced.uid != control.uid {
            findings.push(format!(
                "the command ran as uid {} under the enforcer but as uid {} in the control run (the policy's user): the enforcer did not switch to the policy's user, so the control run is no comparison; an adapter for an enforcer that does not drop privileges says `drop_privileges: harness`",
                enforced.uid, control.uid
            ));
        }
    }
    if let Some((c @ (Claim::Full | Claim::Partial), line)) = &claim {
        if abi.is_none() {
            findings.push(format!(
                "the enforcer lied: it claimed `{c}` enforcement, but Landlock is not available here (the probe answered {}): {line}",
                obs.landlock
            ));
        }
    }
    // What the guest saw missing (the enforced run's tree; the control run's if that one
    // could not be made).
    let seen_missing = match obs.enforced.setup_error {
        None => &obs.enforced.missing_paths,
        Some(_) => &obs.control.missing_paths,
    };
    let absent = &input.scenario.setup.absent;
    let missing_paths = seen_missing
        .iter()
        .map(|p| match absent.iter().any(|a| a.as_str() == p) {
            true => format!("{p} (setup.absent)"),
            false => p.clone(),
        })
        .collect();
    let observed = obs.enforced.setup_error.is_none() || obs.control.setup_error.is_none();
    for a in absent.iter().filter(|a| observed && !seen_missing.iter().any(|p| p == a.as_str())) {
        findings.push(format!(
            "`{}` exists here, but the scenario means it to be missing (setup.absent): the cell does not test what it says",
            a.as_str()
        ));
    }
    let intended = input.scenario.may_skip_all;
    let nothing_checked = (!expectations.is_empty() && expectations.iter().all(|e| e.status == Status::Skipped)).then(|| {
        let why = format!("every expectation's `when:` fails here (landlock: {landlock_here}), so nothing was checked");
        if intended {
            format!("{why}; the scenario says that is intended (`may_skip_all: true`)")
        } else {
            format!("{why}: not a pass; if the scenario means to check nothing on this kernel and environment, say `may_skip_all: true`")
        }
    });
    CellVerdict {
        scenario: input.scenario.name.to_string(),
        kernel: input.kernel.to_string(),
        environment: input.env.to_string(),
        landlock: obs.landlock.to_string(),
        kernel_landlock: (input.kernel_landlock != &obs.landlock).then(|| input.kernel_landlock.to_string()),
        enforcer_claim: claim_text,
        enforcer_exit: obs.enforced.exit.clone(),
        missing_paths,
        expectations,
        findings,
        nothing_checked,
        nothing_checked_intended: intended,
        evidence,
    }
}

fn fail(v: &mut ExpectationVerdict, reason: String) {
    v.status = Status::Fail;
    v.reason = Some(reason);
}

fn describe(c: &Check) -> String {
    match c {
        Check::Enforcement(claim) => format!("enforcement {claim}"),
        Check::Operation { action, result, by } => {
            let r = match result {
                Wanted::Allowed => "allowed".to_string(),
                Wanted::Denied(e) => format!("denied {e}"),
            };
            let by = by.map(|b| format!(" by {b}")).unwrap_or_default();
            format!("{action} → {r}{by}")
        }
    }
}

/// A step killed at its time limit in either run: which limit, in which run. Nothing was
/// denied, so nothing is attributed.
fn cut_at_limit(action: &Action, control: &Outcome, enforced: &Outcome, limits: &Limits) -> Option<String> {
    let runs = match (matches!(control, Outcome::Timeout), matches!(enforced, Outcome::Timeout)) {
        (false, false) => return None,
        (true, true) => "in both runs",
        (false, true) => "in the enforced run",
        (true, false) => "in the control run",
    };
    let (what, limit) = match action {
        Action::Run(cmd) => (
            format!("`{cmd}`"),
            format!(
                "the step limit ({}s; set `limits: {{step: N}}` in the scenario if it needs longer)",
                limits.step_seconds
            ),
        ),
        a => (format!("`{a}`"), "the probe's own limit (10s for the program an exec probe starts)".to_string()),
    };
    Some(format!(
        "{what} did not finish {runs}: it was killed at {limit}; it was not denied (control run: {}, enforced run: {})",
        show(control),
        show(enforced)
    ))
}

/// What the rest of the enforced run shows, for explaining an operation that was not denied.
struct RunContext<'a> {
    /// The enforcer's claim and its line, as printed.
    claim: Option<(Claim, &'a str)>,
    /// The Landlock probe where the runs happened.
    landlock: &'a AbiProbe,
    /// The steps of this run that the sandbox denied (the control run allowed them).
    denials: &'a Denials<'a>,
    /// The step being judged.
    this: usize,
}

/// The steps the enforced run was denied and the control run was allowed, worked out once per
/// cell and only when an explanation needs them, so that judging stays linear in the
/// expectations: each entry is (step, index of its command in `commands`), in expectation order.
struct Denials<'a> {
    input: &'a CellInput<'a>,
    all: OnceCell<Denied>,
}

/// (step, index into the commands) per denial, in expectation order; the commands, each once.
type Denied = (Vec<(usize, usize)>, Vec<String>);

impl Denials<'_> {
    /// The commands of the steps, other than `this`, that the sandbox denied: proof that a
    /// ruleset was in effect in that run. Each command once, in the order first met.
    fn except(&self, this: usize) -> Vec<String> {
        let (entries, commands) = self.all.get_or_init(|| sandbox_denied(self.input));
        let mut taken = vec![false; commands.len()];
        let mut out = Vec::new();
        for &(_, what) in entries.iter().filter(|(k, _)| *k != this) {
            if !std::mem::replace(&mut taken[what], true) {
                out.push(commands[what].clone());
            }
        }
        out
    }
}

/// Every (step, command) the sandbox denied, in expectation order, and the commands, each once.
fn sandbox_denied(input: &CellInput) -> Denied {
    let obs = input.obs;
    let (mut entries, mut commands, mut index) = (Vec::new(), Vec::new(), HashMap::new());
    for (i, e) in input.scenario.expect.iter().enumerate() {
        let (Some(k), Check::Operation { action, .. }) = (input.step_of.get(i).copied().flatten(), &e.check) else {
            continue;
        };
        if let (Some(c), Some(en)) = (step(&obs.control, k), step(&obs.enforced, k)) {
            if attribute(&c.outcome, &en.outcome, input.seccomp_errno) == Some(Denier::Sandbox) {
                let what = match action {
                    Action::Run(cmd) => format!("`{cmd}`"),
                    a => format!("`{a}`"),
                };
                let at = *index.entry(what.clone()).or_insert_with(|| {
                    commands.push(what);
                    commands.len() - 1
                });
                entries.push((k, at));
            }
        }
    }
    (entries, commands)
}

/// The Landlock ABI that first has a right restricting `action`, when it is above 1.
fn right_from_abi(action: &Action) -> Option<(u32, &'static str)> {
    match action {
        Action::Probe { op: ProbeOp::Truncate, .. } => Some((3, "TRUNCATE")),
        Action::Probe { op: ProbeOp::TcpBind, .. } => Some((4, "NET_BIND_TCP")),
        Action::Probe { op: ProbeOp::TcpConnect, .. } => Some((4, "NET_CONNECT_TCP")),
        _ => None,
    }
}

/// Why an operation that should have been denied was allowed, as far as the run shows it: the
/// control run allowed it too, so only the enforcer could have denied it.
fn why_not_denied(what: &str, action: &Action, ctx: &RunContext) -> String {
    let Some(abi) = ctx.landlock.abi() else {
        return format!(
            "the control run (no enforcer) allowed it too, and Landlock is not available here (the probe answered {}), so nothing could deny it",
            ctx.landlock
        );
    };
    let right = match right_from_abi(action) {
        Some((from, name)) if abi < from => format!(
            "; Landlock here is ABI {abi}, which has no right restricting {what} ({name} came with ABI {from})"
        ),
        Some((from, name)) => format!(
            "; Landlock here is ABI {abi}, which restricts {what} ({name}, ABI {from}) only for a ruleset that handles that right"
        ),
        None => String::new(),
    };
    match ctx.denials.except(ctx.this).as_slice() {
        [] => format!(
            "the control run (no enforcer) allowed it too, and no other step of this run was denied by the sandbox: nothing shows a Landlock ruleset in effect in this run{right}"
        ),
        denied => {
            let n = denied.len();
            let steps = if n == 1 { "step" } else { "steps" };
            format!(
                "the control run (no enforcer) allowed it too; a Landlock ruleset was in effect in this run ({n} other {steps} denied by the sandbox: {}), so that ruleset granted this access or did not handle the right it needs{right}",
                denied.join(", ")
            )
        }
    }
}

fn judge_operation(
    v: &mut ExpectationVerdict,
    action: &Action,
    result: &Wanted,
    by: Option<Denier>,
    control: &Outcome,
    enforced: &Outcome,
    ctx: &RunContext,
) {
    let what = match action {
        Action::Run(cmd) => format!("`{cmd}`"),
        a => format!("`{a}`"),
    };
    match (result, enforced) {
        (Wanted::Allowed, Outcome::Ok) => {}
        (Wanted::Allowed, got) => {
            let who = v
                .denied_by
                .map(|d| format!(" (denied by {d}; the control run was {})", show(control)))
                .unwrap_or_default();
            fail(v, format!("expected {what} to be allowed, it was {}{who}", show(got)));
        }
        (Wanted::Denied(want), Outcome::Ok) => {
            let control_says = match control {
                Outcome::Ok => why_not_denied(&what, action, ctx),
                other => format!("the control run was {}", show(other)),
            };
            let landlock = ctx.landlock;
            let lead = match ctx.claim {
                Some((c @ (Claim::Full | Claim::Partial), _)) => {
                    format!("the enforcer claimed {c} enforcement, yet {what} succeeded")
                }
                Some((Claim::None, _)) => {
                    format!("{what} succeeded; the enforcer said it enforced nothing (landlock here: {landlock})")
                }
                _ => format!("{what} succeeded"),
            };
            fail(v, format!("expected {want}: {lead}; {control_says}"));
        }
        (Wanted::Denied(want), Outcome::Err(got)) if got != want => {
            fail(
                v,
                format!(
                    "expected {what} to be denied with {want}, it was denied with {got} (control run: {})",
                    show(control)
                ),
            );
        }
        (Wanted::Denied(_), Outcome::Timeout) => fail(v, format!("{what} timed out in the enforced run")),
        (Wanted::Denied(want), Outcome::Err(_)) => {
            if let (Some(want_by), Some(got_by)) = (by, v.denied_by) {
                if want_by != got_by {
                    let why = match got_by {
                        Denier::Dac => "the control run (same uid, no enforcer) was denied the same way, so plain permissions did it".to_string(),
                        Denier::Sandbox => "the control run was allowed, so the sandbox did it".to_string(),
                        Denier::Seccomp => "the control run got the seccomp filter's errno too".to_string(),
                        Denier::Unknown => format!("the control run was {}", show(control)),
                    };
                    fail(v, format!("denied with {want} as expected, but by {got_by}, not {want_by}: {why}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::RunObservation;

    fn scenario(expect: &str) -> Scenario {
        serde_yaml::from_str(&format!(
            "name: t\npolicy: {{filesystem_policy: {{read_only: [/bin]}}}}\nexpect:\n{expect}"
        ))
        .unwrap()
    }

    fn run(outcomes: &[Outcome], stderr: &str, exit: &str) -> RunObservation {
        RunObservation {
            exit: exit.into(),
            stderr: stderr.into(),
            steps: outcomes
                .iter()
                .map(|o| StepResult {
                    outcome: o.clone(),
                    exit_code: None,
                    stdout: String::new(),
                    stderr: String::new(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn reference_claims() -> ClaimReader {
        crate::enforcer::reference(&[]).unwrap().claims
    }

    const FULL: &str = "lockgate-enforcer: enforcement=full abi=4 reason=all rules enforced\n";

    fn judge_one(s: &Scenario, abi: AbiProbe, control: RunObservation, enforced: RunObservation) -> CellVerdict {
        let steps: Vec<Option<usize>> = {
            let mut n = 0;
            s.expect
                .iter()
                .map(|e| {
                    if matches!(e.check, Check::Operation { .. }) {
                        n += 1;
                        Some(n - 1)
                    } else {
                        None
                    }
                })
                .collect()
        };
        let obs = CaseObservation { id: "t@bare".into(), landlock: abi, environment_error: None, control, enforced };
        let kernel = obs.landlock.clone();
        judge(&CellInput {
            scenario: s,
            kernel: "k",
            env: "bare",
            obs: &obs,
            step_of: &steps,
            seccomp_errno: None,
            claims: &reference_claims(),
            landlock_blocked: None,
            kernel_landlock: &kernel,
            judge_as_bare: false,
            not_asked: &[],
        })
    }

    /// Missing policy paths are reported, marked when meant; a path meant to be missing that
    /// exists fails the cell, since the cell does not test what the scenario says.
    #[test]
    fn missing_policy_paths_are_reported_and_meant_ones_checked() {
        let s: Scenario = serde_yaml::from_str(
            "name: t\nsetup: {absent: [/app, /var/log]}\npolicy: {filesystem_policy: {read_only: [/usr, /app, /opt]}}\nexpect: [{run: 'true', allowed: true}]\n",
        )
        .unwrap();
        let seen = |missing: &[&str]| {
            let mut r = run(&[Outcome::Ok], "", "exit:0");
            r.missing_paths = missing.iter().map(|p| p.to_string()).collect();
            r
        };
        let v =
            judge_one(&s, AbiProbe::Abi(6), seen(&["/app", "/opt", "/var/log"]), seen(&["/app", "/opt", "/var/log"]));
        assert_eq!(v.missing_paths, ["/app (setup.absent)", "/opt", "/var/log (setup.absent)"]);
        assert!(v.passed(), "{:?}", v.failures());
        let v = judge_one(&s, AbiProbe::Abi(6), seen(&["/app"]), seen(&["/app"]));
        assert!(!v.passed());
        assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
        assert!(v.findings[0].starts_with("`/var/log` exists here, but the scenario means it to be missing"));
    }

    #[test]
    fn what_the_enforcer_cannot_express_is_not_asked_for() {
        use crate::enforcer::Feature;
        let s = scenario("  - {probe: signal outside, denied: EPERM}\n  - {probe: ioctl_dev /dev/null, denied: EACCES}\n  - {run: true, allowed: true}\n  - {enforcement: full}\n");
        let checks: Vec<&Check> = s.expect.iter().map(|e| &e.check).collect();
        let asked = |f: &[Feature]| checks.iter().map(|c| not_asked(f, c).is_none()).collect::<Vec<_>>();
        assert_eq!(asked(&[]), [true, true, true, true]);
        assert_eq!(asked(&[Feature::Scoped]), [false, true, true, false]);
        assert_eq!(asked(&[Feature::IoctlDev]), [true, false, true, false]);
        let why = not_asked(&[Feature::Scoped], checks[0]).unwrap();
        assert!(why.starts_with("not asked for") && why.contains("`landlock.scoped`"), "{why}");
    }

    #[test]
    fn denial_by_the_sandbox_passes() {
        let s = scenario("  - {run: touch /sandbox/x, denied: EACCES, by: sandbox}\n  - {enforcement: full}\n");
        let v = judge_one(
            &s,
            AbiProbe::Abi(4),
            run(&[Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Err("EACCES".into())], FULL, "exit:0"),
        );
        assert!(v.passed(), "{:?}", v.failures());
        assert_eq!(v.expectations[0].denied_by, Some(Denier::Sandbox));
    }

    #[test]
    fn a_dac_denial_is_not_a_sandbox_denial() {
        let s = scenario("  - {run: touch /sandbox/x, denied: EACCES, by: sandbox}\n");
        let v = judge_one(
            &s,
            AbiProbe::Abi(4),
            run(&[Outcome::Err("EACCES".into())], "", "exit:0"),
            run(&[Outcome::Err("EACCES".into())], FULL, "exit:0"),
        );
        assert!(!v.passed());
        assert_eq!(v.expectations[0].denied_by, Some(Denier::Dac));
        assert!(v.expectations[0].reason.as_ref().unwrap().contains("by dac, not sandbox"));
    }

    #[test]
    fn an_unconfined_write_under_a_full_claim_names_the_lie() {
        let s = scenario("  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox}\n");
        let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[Outcome::Ok], FULL, "exit:0"));
        let r = v.expectations[0].reason.clone().unwrap();
        assert!(r.contains("claimed full enforcement, yet `touch /sandbox/testfile` succeeded"), "{r}");
        assert!(r.contains("the control run (no enforcer) allowed it too, and no other step of this run was denied by the sandbox: nothing shows a Landlock ruleset in effect in this run"), "{r}");
    }

    /// Issue 18: Landlock was in effect (another step was denied by the sandbox) and the ruleset
    /// did not handle truncate (an enforcer pinned to ABI 2): the reason must not say Landlock
    /// was not in effect.
    #[test]
    fn an_unhandled_right_under_an_enforced_ruleset_says_the_ruleset_was_in_effect() {
        let s = scenario(
            "  - {probe: truncate /sandbox/owned, denied: EACCES, by: sandbox}\n  - {probe: write /sandbox/owned, denied: EACCES, by: sandbox}\n",
        );
        let abi2 = "lockgate-enforcer: enforcement=full abi=2 reason=all rules enforced\n";
        let v = judge_one(
            &s,
            AbiProbe::Abi(4),
            run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Ok, Outcome::Err("EACCES".into())], abi2, "exit:0"),
        );
        let r = v.expectations[0].reason.clone().unwrap();
        assert!(!r.contains("not in effect"), "{r}");
        assert!(r.contains("a Landlock ruleset was in effect in this run (1 other step denied by the sandbox: `probe write /sandbox/owned`), so that ruleset granted this access or did not handle the right it needs"), "{r}");
        assert!(r.contains("Landlock here is ABI 4, which restricts `probe truncate /sandbox/owned` (TRUNCATE, ABI 3) only for a ruleset that handles that right"), "{r}");
        // Where the kernel's Landlock has no such right, the reason says so.
        let v = judge_one(
            &s,
            AbiProbe::Abi(2),
            run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Ok, Outcome::Err("EACCES".into())], abi2, "exit:0"),
        );
        let r = v.expectations[0].reason.clone().unwrap();
        assert!(r.contains("Landlock here is ABI 2, which has no right restricting `probe truncate /sandbox/owned` (TRUNCATE came with ABI 3)"), "{r}");
        // Without Landlock, that is what the reason says.
        let v = judge_one(
            &s,
            AbiProbe::Errno("ENOSYS".into()),
            run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
        );
        let r = v.expectations[0].reason.clone().unwrap();
        assert!(
            r.contains("Landlock is not available here (the probe answered ENOSYS), so nothing could deny it"),
            "{r}"
        );
    }

    #[test]
    fn claiming_enforcement_without_landlock_is_a_lie() {
        let s = scenario("  - {run: touch /sandbox/x, allowed: true, when: 'abi == none'}\n");
        let v = judge_one(
            &s,
            AbiProbe::Errno("ENOSYS".into()),
            run(&[Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Ok], FULL, "exit:0"),
        );
        assert!(!v.passed());
        assert!(v.findings[0].starts_with("the enforcer lied"), "{:?}", v.findings);
    }

    #[test]
    fn when_conditions_skip_and_missing_steps_fail() {
        let s = scenario(
            "  - {run: a, denied: EACCES, when: 'abi >= 3'}\n  - {run: b, allowed: true}\n  - {enforcement: refused}\n",
        );
        let refused = "lockgate-enforcer: enforcement=refused abi=none reason=kernel has no Landlock (ENOSYS)\n";
        let v = judge_one(
            &s,
            AbiProbe::Errno("ENOSYS".into()),
            run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
            run(&[], refused, "exit:1"),
        );
        assert_eq!(v.expectations[0].status, Status::Skipped);
        assert_eq!(v.expectations[1].status, Status::Fail);
        assert!(v.expectations[1].reason.as_ref().unwrap().contains("not observed"));
        assert_eq!(v.expectations[2].status, Status::Pass);
    }

    #[test]
    fn wrong_errno_and_seccomp_attribution() {
        let s = scenario("  - {run: a, denied: EACCES}\n");
        let v = judge_one(
            &s,
            AbiProbe::Abi(1),
            run(&[Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Err("EPERM".into())], FULL, "exit:0"),
        );
        assert!(v.expectations[0].reason.as_ref().unwrap().contains("denied with EPERM"));
        let e = Outcome::Err("EPERM".into());
        assert_eq!(attribute(&e, &e, Some("EPERM")), Some(Denier::Seccomp));
        assert_eq!(attribute(&e, &e, None), Some(Denier::Dac));
        assert_eq!(attribute(&Outcome::Ok, &Outcome::Ok, None), None);
    }

    #[test]
    fn an_environment_that_takes_landlock_away_fails_what_the_kernel_owes() {
        // The portable scenario of issue 19: guarded on `abi >= 1`, run where Docker 20.10.5's
        // profile left the container ENOSYS on a kernel that offers ABI 4.
        let s = scenario(
            "  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox, when: 'abi >= 1'}\n  - {enforcement: full, when: 'abi >= 1'}\n  - {run: touch /sandbox/testfile, allowed: true, when: 'env == docker-20.10.5'}\n",
        );
        let none = "lockgate-enforcer: enforcement=none abi=none reason=kernel has no Landlock (ENOSYS)\n";
        let obs = CaseObservation {
            id: "t@docker-20.10.5".into(),
            landlock: AbiProbe::Errno("ENOSYS".into()),
            environment_error: None,
            control: run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"),
            enforced: run(&[Outcome::Ok, Outcome::Ok], none, "exit:0"),
        };
        let steps = [Some(0), None, Some(1)];
        let blocked = "seccomp blocked Landlock: in `docker-20.10.5` the probe answered ENOSYS from runc's stub";
        let claims = reference_claims();
        let kernel = AbiProbe::Abi(4);
        let input = |s, judge_as_bare| CellInput {
            scenario: s,
            kernel: "ubuntu-6.8",
            env: "docker-20.10.5",
            obs: &obs,
            step_of: &steps,
            seccomp_errno: Some("EPERM"),
            claims: &claims,
            landlock_blocked: Some(blocked),
            kernel_landlock: &kernel,
            judge_as_bare,
            not_asked: &[],
        };
        let v = judge(&input(&s, false));
        assert!(!v.passed(), "`abi` is the kernel's: the denial is due, and it did not happen");
        let denial = v.expectations[0].reason.clone().unwrap();
        assert!(denial.contains("`touch /sandbox/testfile` succeeded") && denial.ends_with(blocked), "{denial}");
        assert!(v.expectations[1].reason.as_ref().unwrap().ends_with(blocked));
        assert_eq!(v.expectations[2].status, Status::Pass);
        assert_eq!(v.kernel_landlock.as_deref(), Some("ABI 4"), "the snapshot shows what the kernel offered");
        let as_bare = judge(&input(&s, true));
        assert!(!as_bare.passed());
        assert_eq!(as_bare.expectations[2].status, Status::Skipped, "`env == docker-20.10.5` does not hold as bare");

        // A scenario that accepts the environment says so; then what is checked there is the
        // enforcer's honesty, and the mutation gate (judging as bare) still catches the block.
        let accepting = scenario(
            "  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox, when: 'abi >= 1 && landlock != blocked'}\n  - {enforcement: none, when: 'landlock == blocked'}\n  - {run: touch /sandbox/testfile, allowed: true, when: 'landlock == blocked'}\n",
        );
        let v = judge(&input(&accepting, false));
        assert!(v.passed() && !v.checked_nothing(), "{:?}", v.failures());
        assert_eq!(v.expectations[0].status, Status::Skipped);
        assert!(
            v.expectations[0].reason.as_ref().unwrap().contains("the kernel offers ABI 4, here ENOSYS"),
            "{:?}",
            v.expectations[0].reason
        );
        let as_bare = judge(&input(&accepting, true));
        assert!(!as_bare.passed(), "as on bare, Landlock is available: the denial is due");
    }

    #[test]
    fn a_cell_that_skips_every_expectation_checked_nothing() {
        let s = scenario("  - {run: touch /sandbox/x, denied: EACCES, by: sandbox, when: 'abi >= 1'}\n  - {enforcement: full, when: 'abi >= 1'}\n");
        let none = "lockgate-enforcer: enforcement=none abi=none reason=kernel has no Landlock (ENOSYS)\n";
        let v = judge_one(
            &s,
            AbiProbe::Errno("ENOSYS".into()),
            run(&[Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Ok], none, "exit:0"),
        );
        assert!(v.passed() && v.checked_nothing(), "no failure, but nothing checked: {v:?}");
        assert!(v.nothing_checked.as_ref().unwrap().contains("not a pass"), "{:?}", v.nothing_checked);
        let mut intended = s.clone();
        intended.may_skip_all = true;
        let v = judge_one(
            &intended,
            AbiProbe::Errno("ENOSYS".into()),
            run(&[Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Ok], none, "exit:0"),
        );
        assert!(v.nothing_checked_intended && v.nothing_checked.as_ref().unwrap().contains("intended"));
    }
}
