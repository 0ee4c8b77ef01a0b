//! Judge: a pure function of (scenario, observations) → verdicts. No VM is needed to test it.
//!
//! Every denial is attributed from the control run (same uid, same environment, no enforcer):
//! denied only under the enforcer → `sandbox`; denied the same way without it → `seccomp` when
//! the environment's filter answers that errno, `dac` when it is a permission check's errno
//! (EACCES, EPERM), else `operation` (the operation fails by itself: ENOTTY, ENOTEMPTY, …). The
//! enforcer's claim is checked against what happened: claiming enforcement where Landlock is
//! unavailable is a lie. The harness's own sentinels ([`Sentinel`]) are judged by nobody; they
//! tell the explanations whether a Landlock ruleset was in effect in the enforced run.

mod apparmor;
pub mod blocked;
pub mod cells;
pub mod mechanism;
#[cfg(test)]
mod templates;

use crate::enforcer::claim::{ClaimReader, Reading, NO_CLAIM_MADE, NO_CLAIM_PRINTED};
use crate::model::cond::Facts;
use crate::model::errno;
use crate::model::scenario::{Action, Check, Claim, Denier, Mechanism, Scenario, Wanted};
pub use crate::plan::Sentinel;
use lockgate_protocol::{AbiProbe, CaseObservation, Limits, Outcome, ProbeOp, RunObservation, StepResult};
use serde::Serialize;
use std::cell::OnceCell;
use std::collections::HashSet;

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
    /// What the place where the runs happened made of the setup otherwise than the scenario
    /// asks (under gVisor the workspace is a directory, not a bind mount), as the guest said it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub setup_notes: Vec<String>,
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
    /// The harness's sentinels (judged by nobody): each with both runs' results.
    pub sentinels: Vec<StepEvidence>,
    pub control: RunEvidence,
    pub enforced: RunEvidence,
    /// A case with outer layers: the control run outside them.
    pub unlayered: Option<RunEvidence>,
    /// Under a runtime lockgate has no table of (gVisor, systemd-nspawn): the control run made
    /// on the VM outside it.
    pub outside: Option<RunEvidence>,
    /// That runtime (`CellInput::runtime`), for the report's words.
    pub outside_of: Option<Denier>,
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
    /// A case with outer layers: the step in the control run outside them.
    pub unlayered: Option<StepResult>,
    /// Under gVisor or systemd-nspawn: the step in the control run outside it.
    pub outside: Option<StepResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEvidence {
    pub exit: String,
    /// What the top process printed on stderr (bounded by the guest).
    pub stderr: String,
    pub setup_error: Option<String>,
    /// The uid the probe runner ran as, when it ran.
    pub uid: Option<u32>,
    /// The AppArmor denials the kernel logged during the run.
    pub apparmor_denials: Vec<String>,
}

impl RunEvidence {
    fn of(run: &RunObservation) -> RunEvidence {
        RunEvidence {
            exit: run.exit.clone(),
            stderr: run.stderr.clone(),
            setup_error: run.setup_error.clone(),
            uid: run.runner.as_ref().map(|r| r.uid),
            apparmor_denials: run.apparmor_denials.clone(),
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
        Outcome::Err(c) if c == e && errno::is_permission_denial(e) => Denier::Dac,
        // No permission check answers ENOTTY, ENOTEMPTY or EADDRINUSE: the operation failed by
        // itself, with the sandbox or without it.
        Outcome::Err(c) if c == e => Denier::Operation,
        _ => Denier::Unknown,
    })
}

/// Why a denial is the outer layers' (`setup.layers`), in one sentence.
pub const LAYER_DENIED: &str = "the control run, started inside the same outer layers without the enforcer, was denied the same way, and a run outside the layers was allowed: the outer layers denied it (a layer the enforcer adds cannot grant what an earlier one denies)";

/// With outer layers (`setup.layers`) the control run starts inside them, so a denial both runs
/// share is the layers' when the run outside them (`unlayered`) was allowed; plain permissions'
/// (or the operation's, or the environment's filter's) only when that run was denied the same
/// way too; unknown when it shows neither. A denial only the enforced run got stays the
/// enforcer's.
pub fn through_layers(base: Option<Denier>, enforced: &Outcome, unlayered: Option<&Outcome>) -> Option<Denier> {
    match base {
        Some(Denier::Dac | Denier::Operation | Denier::Seccomp) => match unlayered {
            Some(Outcome::Ok) => Some(Denier::Layer),
            Some(u) if u == enforced => base,
            _ => Some(Denier::Unknown),
        },
        other => other,
    }
}

/// Why a denial is gVisor's (`Denier::Gvisor`), in one sentence.
pub const GVISOR_DENIED: &str = "both runs inside gVisor, whose Sentry answers every system call of the container in place of the VM's kernel, were denied the same way, and the same control run made on the VM outside gVisor, on the same kernel, was allowed: gVisor answered it (a call or a flag its Sentry does not implement, or the container it makes), not the kernel, the sandbox or plain permissions";

/// Why a denial is systemd-nspawn's (`Denier::Nspawn`), in one sentence.
pub const NSPAWN_DENIED: &str = "both runs inside the container systemd-nspawn makes were denied the same way, and the same control run made on the VM outside it, as the same user on the same kernel, was allowed: nspawn's container denied it (its built-in seccomp allow-list, the capabilities it drops, or what it mounts read-only or leaves out of the container's tree: lockgate does not tell these apart), not the kernel, the sandbox or plain permissions";

/// The runtime that a denial of `d` names, as reasons and the failure report say it; `None`
/// for every denier that is no runtime of its own.
pub fn runtime_of(d: Denier) -> Option<(&'static str, &'static str)> {
    match d {
        Denier::Gvisor => Some(("gVisor", GVISOR_DENIED)),
        Denier::Nspawn => Some(("systemd-nspawn", NSPAWN_DENIED)),
        _ => None,
    }
}

/// Under a runtime lockgate has no table of (`CellInput::runtime`: gVisor, systemd-nspawn; the
/// guest then makes the control run again outside it, `outside`), a denial both runs in the
/// container share, which the run outside was allowed, is `runtime`'s: the container denied it,
/// and the VM's kernel, which answered the run outside as the same user, would not have.
/// Where the run outside failed too (the same way or another) the kernel may fail it as well,
/// and the attribution stands (a root-only file read as a non-root user stays `dac`). A denial
/// only the enforced run got stays the enforcer's.
pub fn through_runtime(base: Option<Denier>, outside: Option<&Outcome>, runtime: Denier) -> Option<Denier> {
    match (base, outside) {
        (Some(Denier::Dac | Denier::Operation), Some(Outcome::Ok)) => Some(runtime),
        (other, _) => other,
    }
}

/// The run outside the runtime, when it can tell the runtime's denials apart: the environment's
/// runtime is one lockgate has no table of, and the probe runner ran as the same uid there as in
/// the control run inside (a run as another user proves nothing about this one's denials).
/// Otherwise, when both runners reported different uids, the finding that says so.
fn outside_run<'o>(input: &CellInput<'o>) -> (Option<(&'o RunObservation, Denier)>, Option<String>) {
    let (Some(outside), Some(runtime)) = (&input.obs.outside, input.runtime) else { return (None, None) };
    let uid = |r: &RunObservation| r.runner.as_ref().map(|r| r.uid);
    match (uid(outside), uid(&input.obs.control)) {
        (Some(out), Some(inside)) if out != inside => {
            let name = runtime_of(runtime).map_or("the runtime", |(n, _)| n);
            let finding = format!(
                "the control run made on the VM outside {name} ran as uid {out}, the control run inside as uid {inside}: no comparison, so no denial is put down to {name}"
            );
            (None, Some(finding))
        }
        _ => (Some((outside, runtime)), None),
    }
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

/// The setup the place where the runs happen refused to make (a container without the
/// capability, a kernel without the file system: `RunObservation::setup_refused`), as the
/// guest worded it.
fn setup_refused(obs: &CaseObservation) -> Option<&str> {
    [&obs.enforced, &obs.control].into_iter().find(|r| r.setup_refused).and_then(|r| r.setup_error.as_deref())
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
    // The runner reports each step when it is done: a step without a report may have started.
    format!("not observed: the {which} run ended ({}) before this step's result came back{claim}", run.exit)
}

pub struct CellInput<'a> {
    pub scenario: &'a Scenario,
    pub kernel: &'a str,
    pub env: &'a str,
    pub obs: &'a CaseObservation,
    pub step_of: &'a [Option<usize>],
    /// The errno the environment's seccomp filter returns for what it blocks (None for bare).
    pub seccomp_errno: Option<&'a str>,
    /// The profile's rules that answer one syscall with an errno of their own (`EnvFacts`).
    pub errno_rules: &'a [(String, String)],
    /// The syscalls the profile allows whatever their arguments (`EnvFacts::allowed`).
    pub profile_allows: &'a [String],
    /// How to read the enforcer's claim (its adapter's rules).
    pub claims: &'a ClaimReader,
    /// Why Landlock is missing where the runs happened although the kernel offers it (a
    /// container's seccomp profile blocks it, [`blocked::landlock_blocked`]): added to the
    /// reason of each expectation that fails for want of Landlock.
    pub landlock_blocked: Option<&'a str>,
    /// Why the environment refuses to make namespaces (`EnvFacts::namespaces_refused`): added
    /// to the reasons of a namespace sandbox that never ran the command.
    pub namespaces_refused: Option<&'a str>,
    /// The kernel's AppArmor restriction on unprivileged user namespaces is on (the preflight's
    /// `userns_restricted`): said of a namespace sandbox that never ran the command.
    pub userns_restricted: bool,
    /// The Landlock probe of the kernel itself (the preflight's, on the bare guest): `abi` in
    /// `when:` is what the kernel offers, so an environment that takes Landlock away fails the
    /// expectations guarded on it instead of skipping them.
    pub kernel_landlock: &'a AbiProbe,
    /// The kernel's other system call entries, as its preflight found them (`when: ia32`).
    pub entries: Option<&'a lockgate_protocol::Entries>,
    /// Whether the kernel has overlayfs, as its preflight found it once the staged modules were
    /// loaded (`when: overlayfs`); `None` from a guest that did not say.
    pub overlayfs: Option<bool>,
    /// Yama's ptrace_scope, as the kernel's preflight read it (None: no Yama, or not said).
    pub yama_ptrace_scope: Option<u8>,
    /// Judge by the expectations of the bare environment on this kernel: `when:` sees `env ==
    /// bare` and Landlock available wherever the kernel offers it. The mutation gate judges a
    /// container environment so, to catch one that takes Landlock away even from a scenario
    /// that accepts it (`landlock == blocked`).
    pub judge_as_bare: bool,
    /// The environment's runtime when lockgate has no table of what it denies (gVisor,
    /// systemd-nspawn: `EnvFacts::runtime`): the guest makes the control run again outside it
    /// (`CaseObservation::outside`), and a denial both runs share that the run outside was
    /// allowed is this runtime's ([`through_runtime`]). `None` elsewhere.
    pub runtime: Option<Denier>,
    /// Parts of the policy the enforcer cannot express (its adapter's `cannot_express:`): the
    /// expectations on what they govern, and on the claim, are not asked for, not failed.
    pub not_asked: &'a [crate::enforcer::Feature],
    /// The harness's own operations after the scenario's steps (the plan's), outside every rule
    /// of the policy: judged by nobody, read by the explanations.
    pub sentinels: &'a [Sentinel],
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
            // What the runner shows is the enforcer's, whatever its policy went without.
            Check::Mechanism(_) => false,
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
    let (ia32, x32) = input.entries.map_or((false, false), |e| (e.ia32.available(), e.x32.available()));
    let overlayfs = input.overlayfs.unwrap_or(false);
    let facts = match input.judge_as_bare {
        true => Facts { abi: kernel_abi, env_abi: kernel_abi, kernel: input.kernel, env: "bare", ia32, x32, overlayfs },
        false => Facts { abi: kernel_abi, env_abi: abi, kernel: input.kernel, env: input.env, ia32, x32, overlayfs },
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
    let (outside, outside_finding) = outside_run(input);
    let mut evidence = Evidence {
        steps: Vec::new(),
        control: RunEvidence::of(&obs.control),
        enforced: RunEvidence::of(&obs.enforced),
        unlayered: obs.unlayered.as_ref().map(RunEvidence::of),
        outside: obs.outside.as_ref().map(RunEvidence::of),
        outside_of: obs.outside.as_ref().and(input.runtime),
        claim: claim.as_ref().map(|(c, _)| *c),
        output_file: None,
        sentinels: input
            .sentinels
            .iter()
            .map(|s| StepEvidence {
                command: s.what.clone(),
                control: step(&obs.control, s.step).cloned(),
                enforced: step(&obs.enforced, s.step).cloned(),
                unlayered: obs.unlayered.as_ref().and_then(|u| step(u, s.step)).cloned(),
                outside: obs.outside.as_ref().and_then(|u| step(u, s.step)).cloned(),
            })
            .collect(),
    };
    let steps = input.step_of.iter().flatten().map(|k| k + 1).max().unwrap_or(0);
    let limits = input.scenario.limits.resolve(steps);
    let mut expectations = Vec::new();
    // Worked out once per cell: an explanation of any step may need them.
    let denials = Denials { input, all: OnceCell::new() };
    let sentinels = sentinels_seen(input);
    // Which mechanism of the enforcer denied what (issue 25): only where it installed a filter.
    let own_filter = mechanism::own_filter(&obs.control, &obs.enforced) == Some(true);
    let own_pid_ns = mechanism::own_pid_ns(&obs.control, &obs.enforced);
    let filter_errnos = match own_filter {
        false => Vec::new(),
        true => mechanism::filter_errnos(input.scenario.expect.iter().enumerate().filter_map(|(i, e)| {
            let Check::Operation { action, .. } = &e.check else { return None };
            let k = input.step_of.get(i).copied().flatten()?;
            let control = &step(&obs.control, k)?.outcome;
            let env_errno =
                mechanism::env_errno(action, control, input.errno_rules, input.profile_allows, input.seccomp_errno);
            let enforced = &step(&obs.enforced, k)?.outcome;
            (!mechanism::hidden_by_pid_ns(action, enforced, own_pid_ns))
                .then_some((action, control, enforced, env_errno))
        })),
    };
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
                Check::Enforcement(_) | Check::Mechanism(_) => String::new(),
            },
            control: step(&obs.control, k).cloned(),
            enforced: step(&obs.enforced, k).cloned(),
            unlayered: obs.unlayered.as_ref().and_then(|u| step(u, k)).cloned(),
            outside: obs.outside.as_ref().and_then(|u| step(u, k)).cloned(),
        }));
        if let Some(w) = &e.when {
            if !w.holds(&facts) {
                v.status = Status::Skipped;
                let overlayfs = match (w.mentions_overlayfs(), overlayfs) {
                    (false, _) => "",
                    (true, true) => "; overlayfs: the kernel has it",
                    (true, false) => {
                        "; overlayfs: the kernel has none (not built in, and no overlay module was staged for it)"
                    }
                };
                v.reason = Some(format!("`{w}` does not hold here (landlock: {landlock_here}{overlayfs})"));
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
        if let Some(refusal) = setup_refused(obs) {
            v.status = Status::Skipped;
            v.reason = Some(format!("not checked here: {refusal}"));
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
                    Some((Claim::Refused, _)) if !obs.enforced.steps.is_empty() => fail(
                        &mut v,
                        format!(
                            "the enforcer claimed it refused, yet the command ran ({} of its steps reported; exit {})",
                            obs.enforced.steps.len(),
                            obs.enforced.exit
                        ),
                    ),
                    Some((Claim::Refused, _)) if obs.enforced.exit == "exit:0" => fail(
                        &mut v,
                        "the enforcer claimed it refused, yet it exited 0, as a command that succeeded would (no step reported)".into(),
                    ),
                    Some(_) => {}
                }
            }
            Check::Mechanism(want) => {
                v.claimed = input.claims.mechanism(&obs.enforced.stderr).map(|(m, _)| m.to_string());
                let seen = mechanism::seen(*want, &obs.control, &obs.enforced, input.claims);
                v.control = Some(seen.control);
                v.enforced = Some(seen.enforced);
                if let Some(why) = seen.failure {
                    fail(&mut v, why);
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
                    fail(
                        &mut v,
                        match namespaces_refused(input) {
                            Some(refused) => format!("{why}; {refused}"),
                            None => why,
                        },
                    );
                    expectations.push(v);
                    continue;
                };
                v.control = Some(show(&c.outcome));
                v.enforced = Some(show(&en.outcome));
                // The errno the environment's profile answers this call with: a rule of its own
                // for one of its syscalls, else its default action's, unless it allows them all.
                let env_errno = mechanism::env_errno(
                    action,
                    &c.outcome,
                    input.errno_rules,
                    input.profile_allows,
                    input.seccomp_errno,
                );
                let base = attribute(&c.outcome, &en.outcome, env_errno);
                let refined = match mechanism::hidden_by_pid_ns(action, &en.outcome, own_pid_ns) {
                    true => base,
                    false => {
                        mechanism::refine(base, action, &c.outcome, &en.outcome, own_filter, env_errno, &filter_errnos)
                    }
                };
                v.denied_by = apparmor::refined(refined, action, obs);
                if let Some(unlayered) = &obs.unlayered {
                    let u = step(unlayered, i_step).map(|s| &s.outcome);
                    v.denied_by = through_layers(v.denied_by, &en.outcome, u);
                }
                if let Some((outside, runtime)) = outside {
                    v.denied_by = through_runtime(v.denied_by, step(outside, i_step).map(|s| &s.outcome), runtime);
                }
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
                    sentinels: &sentinels,
                    own_filter,
                    yama_ptrace_scope: input.yama_ptrace_scope,
                    said: &en.stdout,
                    apparmor_denial: apparmor::explaining(action, obs),
                };
                judge_operation(&mut v, action, result, *by, &c.outcome, &en.outcome, &context);
            }
        }
        // A denial that did not happen, or a claim short of the one expected, because the
        // environment took Landlock away: say so.
        let for_want_of_landlock = match &e.check {
            Check::Enforcement(_) => true,
            Check::Mechanism(_) => false,
            Check::Operation { result: Wanted::Denied(_), .. } => v.enforced.as_deref() == Some("allowed"),
            Check::Operation { .. } => false,
        };
        if let (Status::Fail, true, Some(blocked)) = (v.status, for_want_of_landlock, input.landlock_blocked) {
            v.reason = Some(format!("{}; {blocked}", v.reason.take().unwrap_or_default()));
        }
        // The enforcer could not make its namespaces where the environment refuses them: say
        // what refused them.
        if let (Status::Fail, Some(refused)) = (v.status, namespaces_refused(input)) {
            v.reason = Some(format!("{}; {refused}", v.reason.take().unwrap_or_default()));
        }
        expectations.push(v);
    }
    let mut findings: Vec<String> = outside_finding.into_iter().collect();
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
    // The filter it claims must be where the command runs: the runner shows the filters it
    // runs under, the control run those of the environment alone.
    if let (Some((true, line)), Some(false)) =
        (input.claims.filter(&obs.enforced.stderr), mechanism::own_filter(&obs.control, &obs.enforced))
    {
        let count = |run: &RunObservation| run.runner.as_ref().and_then(|r| r.filters()).unwrap_or_default();
        findings.push(format!(
            "the enforcer lied: it claimed a seccomp filter (`filter=on`), but the command it executed runs under {} seccomp filter(s), no more than in the control run without the enforcer ({}): no filter of the enforcer's applies where the command runs: {line}",
            count(&obs.enforced),
            count(&obs.control)
        ));
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
        // Skipped by `when:`, or not asked for (the adapter cannot express what it governs).
        let by_when = input.scenario.expect.iter().zip(&expectations).filter(|(e, _)| e.when.as_ref().is_some_and(|w| !w.holds(&facts))).count();
        let why = match expectations.len() - by_when {
            _ if setup_refused(obs).is_some() => format!(
                "nothing was checked: {}; what the scenario tests cannot be set up here",
                setup_refused(obs).unwrap_or_default()
            ),
            0 => format!("every expectation's `when:` fails here (landlock: {landlock_here}), so nothing was checked"),
            not_asked => format!(
                "every expectation was skipped here ({by_when} by a `when:` that fails here (landlock: {landlock_here}), {not_asked} not asked for: the enforcer's adapter cannot express what they govern), so nothing was checked"
            ),
        };
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
        setup_notes: setup_notes(obs),
        expectations,
        findings,
        nothing_checked,
        nothing_checked_intended: intended,
        evidence,
    }
}

/// Both runs' setup notes, each once.
fn setup_notes(obs: &CaseObservation) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for n in obs.control.setup_notes.iter().chain(&obs.enforced.setup_notes) {
        if !notes.contains(n) {
            notes.push(n.clone());
        }
    }
    notes
}

fn fail(v: &mut ExpectationVerdict, reason: String) {
    v.status = Status::Fail;
    v.reason = Some(reason);
}

/// Why a namespace sandbox never ran the command here: it said so in a line its adapter reads
/// as the namespaces mechanism, the runner never started, and the container's profile refuses
/// to make namespaces.
fn namespaces_refused(input: &CellInput) -> Option<String> {
    let run = &input.obs.enforced;
    let denial = apparmor::first(input.obs);
    let refused = match (input.namespaces_refused, input.userns_restricted) {
        (Some(r), _) => r.to_string(),
        (None, _) if denial.is_some() => format!(
            "AppArmor refused the sandbox its namespaces (the kernel logged `{}`)",
            denial.unwrap_or_default()
        ),
        (None, true) => "AppArmor refuses unprivileged user namespaces on this kernel (kernel.apparmor_restrict_unprivileged_userns=1, as Ubuntu 24.04 sets it) unless a profile allows them".to_string(),
        (None, false) => return None,
    };
    let (mechanism, line) = input.claims.mechanism(&run.stderr)?;
    (run.runner.is_none() && mechanism == Mechanism::Namespaces)
        .then(|| format!("{refused}, and the enforcer could not make its namespaces (`{line}`)"))
}

fn describe(c: &Check) -> String {
    match c {
        Check::Enforcement(claim) => format!("enforcement {claim}"),
        Check::Mechanism(m) => format!("mechanism {m}"),
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
    /// The steps of this run that the sandbox denied (the control run allowed them, or failed
    /// them otherwise), worked out once per cell ([`Denials`]).
    denials: &'a Denials<'a>,
    /// The step being judged (its own denial is no evidence for it).
    this: usize,
    /// What each of the harness's sentinels showed in this run (once per cell).
    sentinels: &'a [(Sentinel, Seen)],
    /// The enforced run shows a seccomp filter of the enforcer's own ([`mechanism::own_filter`]).
    own_filter: bool,
    /// Yama's ptrace_scope on this kernel (the preflight's).
    yama_ptrace_scope: Option<u8>,
    /// What the probe said beside its outcome in the enforced run (the descriptor an
    /// `inherited_write` wrote through).
    said: &'a str,
    /// The AppArmor record that explains the step's denial (the enforced run's, else the
    /// control run's).
    apparmor_denial: Option<&'a str>,
}

/// The steps the enforced run was denied, worked out once per cell and only when an
/// explanation needs them, so that judging stays linear in the expectations (issue 30).
struct Denials<'a> {
    input: &'a CellInput<'a>,
    all: OnceCell<Vec<(usize, Denial)>>,
}

impl Denials<'_> {
    /// The denials of the steps other than `this`, each once, in the order first met.
    fn except(&self, this: usize) -> Vec<Denial> {
        let all = self.all.get_or_init(|| sandbox_denials(self.input));
        let mut seen = HashSet::new();
        all.iter().filter(|(k, d)| *k != this && seen.insert(d.what.as_str())).map(|(_, d)| d.clone()).collect()
    }
}

/// Another step of the run that the sandbox denied.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Denial {
    /// The step, and what the control run got when it was not allowed.
    what: String,
    /// Denied with an errno only Landlock's rights give here (EACCES, EXDEV).
    landlock: bool,
}

/// What a sentinel showed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Allowed in the control run, denied EACCES in the enforced run: a Landlock ruleset
    /// handling its right was in effect, and no rule of it granted the sentinel.
    Denied,
    /// Allowed in both runs.
    Allowed,
    /// Neither: why it shows nothing (not observed, or the control run failed it too).
    Nothing(String),
}

/// What the harness's sentinels showed in this case's runs.
fn sentinels_seen(input: &CellInput) -> Vec<(Sentinel, Seen)> {
    let obs = input.obs;
    input
        .sentinels
        .iter()
        .map(|s| {
            let result = |run: &RunObservation| step(run, s.step).map(|r| r.outcome.clone());
            let seen = match (result(&obs.control), result(&obs.enforced)) {
                (Some(Outcome::Ok), Some(Outcome::Err(e))) if e == "EACCES" => Seen::Denied,
                (Some(Outcome::Ok), Some(Outcome::Ok)) => Seen::Allowed,
                (_, None) => Seen::Nothing("the enforced run ended before it ran".into()),
                (None, _) => Seen::Nothing("the control run ended before it ran".into()),
                (Some(c), Some(e)) => Seen::Nothing(format!("control run {}, enforced run {}", show(&c), show(&e))),
            };
            (s.clone(), seen)
        })
        .collect()
}

/// The commands of the steps (each with its step) that the enforced run was denied and the control
/// run was allowed — or was denied with a permission check's errno (EACCES, EPERM) where the
/// control run failed with another (a bind denied EACCES whose control run got EADDRINUSE: the
/// sandbox's check comes first) — proof that a ruleset was in effect in that run.
fn sandbox_denials(input: &CellInput) -> Vec<(usize, Denial)> {
    let obs = input.obs;
    let mut out = Vec::new();
    for (i, e) in input.scenario.expect.iter().enumerate() {
        let (Some(k), Check::Operation { action, .. }) = (input.step_of.get(i).copied().flatten(), &e.check) else {
            continue;
        };
        if let (Some(c), Some(en)) = (step(&obs.control, k), step(&obs.enforced, k)) {
            let what = match action {
                Action::Run(cmd) => format!("`{cmd}`"),
                a => format!("`{a}`"),
            };
            let (what, e) = match (&c.outcome, &en.outcome) {
                (Outcome::Ok, Outcome::Err(e)) => (what, e),
                (Outcome::Err(ce), Outcome::Err(e)) if ce != e && errno::is_permission_denial(e) => {
                    (format!("{what} ({e}; the control run got {ce})"), e)
                }
                _ => continue,
            };
            out.push((k, Denial { what, landlock: matches!(e.as_str(), "EACCES" | "EXDEV") }));
        }
    }
    out
}

/// The Landlock ABI that first has a right restricting `action`, when it is above 1.
fn right_from_abi(action: &Action) -> Option<(u32, &'static str)> {
    match action {
        Action::Probe { op: ProbeOp::Truncate | ProbeOp::OpenTrunc | ProbeOp::Ftruncate, .. } => Some((3, "TRUNCATE")),
        Action::Probe { op: ProbeOp::TcpBind | ProbeOp::Tcp6Bind, .. } => Some((4, "NET_BIND_TCP")),
        Action::Probe { op: ProbeOp::TcpConnect, .. } => Some((4, "NET_CONNECT_TCP")),
        _ => None,
    }
}

/// The words for a failure the same in both runs with an errno no permission check gives.
fn failed_without_sandbox(action: &Action, errno: &str) -> String {
    // The harness listens for connect probes on its own address (127.0.0.2), never on the
    // 127.0.0.1 a bind probe asks for.
    let not_ours = match action {
        Action::Probe { op: ProbeOp::TcpBind, .. } => {
            "; the harness's own listeners for connect probes are on 127.0.0.2, not on the 127.0.0.1 this bind asks for, so none of them holds it".to_string()
        }
        _ => String::new(),
    };
    format!(
        "the control run (same uid, no enforcer) failed the same way ({}{not_ours}): the operation fails here without the sandbox too, and no permission check answers {errno}",
        errno::with_meaning(errno)
    )
}

/// Why an operation that should have been denied was allowed, as far as the run shows it: the
/// control run allowed it too, so only the enforcer could have denied it.
fn why_not_denied(what: &str, action: &Action, ctx: &RunContext) -> String {
    let Some(abi) = ctx.landlock.abi() else {
        return format!(
            "the control run (no enforcer) allowed it too, and Landlock is not available here (the probe answered {}), so no Landlock ruleset could deny it",
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
    let mut evidence = Vec::new();
    let sandbox_denials = ctx.denials.except(ctx.this);
    if !sandbox_denials.is_empty() {
        let n = sandbox_denials.len();
        let steps = if n == 1 { "step" } else { "steps" };
        let list: Vec<&str> = sandbox_denials.iter().map(|d| d.what.as_str()).collect();
        evidence.push(format!("{n} other {steps} denied by the sandbox: {}", list.join(", ")));
    }
    let denied: Vec<&Sentinel> =
        ctx.sentinels.iter().filter(|(_, seen)| *seen == Seen::Denied).map(|(s, _)| s).collect();
    for s in &denied {
        evidence.push(format!(
            "the harness's sentinel `{}`, {}, was denied EACCES, so the ruleset handles {}",
            s.what, s.outside, s.right
        ));
    }
    if evidence.is_empty() {
        return no_ruleset_shown(ctx, &right);
    }
    // A sentinel denied for the very right this operation needs: the ruleset handles it, so
    // the operation got through only because the enforcer's rules grant it there.
    let needs = action_right(action);
    let grant = match denied.iter().find(|s| Some(s.right) == needs) {
        Some(s) => format!(
            "so the enforcer's effective rules grant {} here, which the scenario expects its policy to deny",
            s.right
        ),
        None => "so the enforcer's effective rules grant this access, which the scenario expects its policy to deny — unless it needs a right that ruleset does not handle".to_string(),
    };
    // Landlock answers EACCES (files, TCP) or EXDEV (refer); a denial only with EPERM could be
    // a seccomp filter's as well as a Landlock scope's.
    let landlock = !denied.is_empty() || sandbox_denials.iter().any(|d| d.landlock);
    let what = match landlock {
        true => "a Landlock ruleset was in effect in this run",
        false => {
            "the enforcer's sandbox was in effect in this run (a Landlock scope or a seccomp filter: both answer EPERM)"
        }
    };
    format!("the control run (no enforcer) allowed it too; {what} ({}), {grant}{right}", evidence.join("; "))
}

/// Nothing in the run shows a ruleset in effect: what the sentinels say instead, when they say
/// anything.
fn no_ruleset_shown(ctx: &RunContext, right: &str) -> String {
    let lead = "the control run (no enforcer) allowed it too; no other step of this run was denied by the sandbox";
    let allowed: Vec<&Sentinel> =
        ctx.sentinels.iter().filter(|(_, seen)| *seen == Seen::Allowed).map(|(s, _)| s).collect();
    if !allowed.is_empty() {
        let what: Vec<String> = allowed.iter().map(|s| format!("`{}`, {},", s.what, s.outside)).collect();
        let rights: Vec<&str> = allowed.iter().map(|s| s.right).collect();
        return format!(
            "{lead}, and the harness's {} {} {} allowed too: no Landlock ruleset handling {} was in effect in this run, or the enforcer's effective rules grant {} as well{right}",
            if allowed.len() == 1 { "sentinel" } else { "sentinels" },
            what.join(" and "),
            if allowed.len() == 1 { "was" } else { "were" },
            rights.join(" or "),
            if allowed.len() == 1 { "that" } else { "those" },
        );
    }
    let why: Vec<String> = ctx
        .sentinels
        .iter()
        .filter_map(|(s, seen)| match seen {
            Seen::Nothing(why) => Some(format!("`{}`: {why}", s.what)),
            _ => None,
        })
        .collect();
    let sentinels = match why.is_empty() {
        true => "this case has no sentinel of the harness (a path of its policy, or its own setup, reaches the sentinel's directory, and it has no network section)".to_string(),
        false => format!("the harness's sentinels show nothing ({})", why.join("; ")),
    };
    format!("{lead}, and {sentinels}: nothing in this run shows whether a Landlock ruleset was in effect{right}")
}

/// Why a write through an inherited descriptor went through: which descriptor, and how it got
/// there.
fn crossed(target: &lockgate_protocol::ProbeTarget, said: &str, control: &Outcome) -> String {
    passed_in(
        format!("wrote to {target}"),
        said,
        "open for writing",
        control,
        "a descriptor opened before the sandbox keeps the access it was opened with across execve (Landlock checks access when a file is opened, never revokes a descriptor), so it must be closed or opened O_CLOEXEC",
    )
}

/// An `inherited_readdir` that listed a directory it was expected not to: through which
/// descriptor, and who passed it in.
fn listed_through(target: &lockgate_protocol::ProbeTarget, said: &str, control: &Outcome) -> String {
    passed_in(
        format!("listed {target}"),
        said,
        "open on it",
        control,
        "Landlock checks read_dir when a directory is opened, never on a descriptor opened before the sandbox, so a directory descriptor must be opened O_PATH, or closed or opened O_CLOEXEC",
    )
}

/// What the command did through a descriptor it started with, and who passed that in, by the
/// control run.
fn passed_in(did: String, said: &str, open: &str, control: &Outcome, why: &str) -> String {
    let through = match said.is_empty() {
        true => "a descriptor".to_string(),
        false => said.to_string(),
    };
    let control = match control {
        Outcome::Ok => "the control run (no enforcer) found one too, so the harness itself passed it in".to_string(),
        other => format!("the control run (no enforcer) was {}, so the enforcer passed it in", show(other)),
    };
    format!("the command {did} through {through}, {open} when it started; {control}: {why}")
}

/// The right an operation needs, where a probe names it exactly (as a sentinel's right is named).
fn action_right(action: &Action) -> Option<&'static str> {
    match action {
        Action::Probe { op: ProbeOp::MknodReg | ProbeOp::Create, .. } => Some("MAKE_REG"),
        Action::Probe { op: ProbeOp::TcpBind, .. } => Some("NET_BIND_TCP"),
        _ => None,
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
            let who = match (v.denied_by, got) {
                (Some(Denier::Operation), Outcome::Err(e)) => {
                    format!(": {}; nobody denied it", failed_without_sandbox(action, e))
                }
                (Some(d), _) => match runtime_of(d) {
                    Some((runtime, why)) => format!(" by {runtime}: {why}"),
                    None => format!(" (denied by {d}; the control run was {})", show(control)),
                },
                (None, _) => String::new(),
            };
            fail(v, format!("expected {what} to be allowed, it was {}{who}", show(got)));
        }
        (Wanted::Denied(want), Outcome::Ok) => {
            let control_says = match (action, control) {
                (Action::Probe { op: ProbeOp::InheritedWrite, target }, _) => crossed(target, ctx.said, control),
                (Action::Probe { op: ProbeOp::InheritedReaddir, target }, _) => {
                    listed_through(target, ctx.said, control)
                }
                (_, Outcome::Ok) => why_not_denied(&what, action, ctx),
                (_, other) => format!("the control run was {}", show(other)),
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
        // A step cut at its limit was failed, with its limit named, before (`cut_at_limit`).
        (Wanted::Denied(_), Outcome::Timeout) => {}
        (Wanted::Denied(want), Outcome::Err(_)) => {
            if let (Some(want_by), Some(got_by)) = (by, v.denied_by) {
                if !want_by.admits(got_by) {
                    let why = match got_by {
                        Denier::Dac => match (action, ctx.yama_ptrace_scope) {
                            (Action::Probe { op: ProbeOp::PtraceAttach, .. }, Some(scope)) if scope >= 1 => format!("the control run (same uid, no enforcer) was denied the same way: Yama's ptrace_scope is {scope} on this kernel, which refuses attaching to a process that is not a descendant, with or without a sandbox"),
                            _ => "the control run (same uid, no enforcer) was denied the same way, so plain permissions did it".to_string(),
                        },
                        Denier::Operation => failed_without_sandbox(action, want),
                        Denier::Sandbox if ctx.own_filter => "the control run was allowed, so the sandbox did it; its seccomp filter was seen answering that errno too, so the run cannot tell its filter from its Landlock ruleset".to_string(),
                        Denier::Sandbox => "the control run was allowed, so the sandbox did it".to_string(),
                        Denier::Seccomp if ctx.own_filter => "the control run got the environment's seccomp filter's errno too, so that filter alone explains the denial and the run cannot show the enforcer's filter denied it as well".to_string(),
                        Denier::Seccomp => "the control run got the seccomp filter's errno too".to_string(),
                        Denier::Unknown => format!("the control run was {}", show(control)),
                        Denier::Filter => "the enforcer installed a seccomp filter (the runner shows more filters than in the control run), and its Landlock ruleset cannot answer this call with that errno".to_string(),
                        Denier::Landlock => "the control run was allowed, the errno is one Landlock gives for this call, and the run never saw the enforcer's filter give it".to_string(),
                        Denier::AppArmor => format!("the control run, under the same AppArmor policy, was denied the same way, and the kernel logged AppArmor refusing it: {}", ctx.apparmor_denial.unwrap_or("(no record)")),
                        Denier::Layer => LAYER_DENIED.to_string(),
                        Denier::Gvisor => GVISOR_DENIED.to_string(),
                        Denier::Nspawn => NSPAWN_DENIED.to_string(),
                    };
                    fail(v, format!("denied with {want} as expected, but by {got_by}, not {want_by}: {why}"));
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use lockgate_protocol::RunObservation;

    pub(super) fn scenario(expect: &str) -> Scenario {
        serde_yaml::from_str(&format!(
            "name: t\npolicy: {{filesystem_policy: {{read_only: [/bin]}}}}\nexpect:\n{expect}"
        ))
        .unwrap()
    }

    pub(super) fn run(outcomes: &[Outcome], stderr: &str, exit: &str) -> RunObservation {
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

    pub(super) fn reference_claims() -> ClaimReader {
        crate::enforcer::reference(&[]).unwrap().claims
    }

    pub(super) const FULL: &str = "lockgate-enforcer: enforcement=full abi=4 reason=all rules enforced\n";

    pub(super) fn judge_one(
        s: &Scenario,
        abi: AbiProbe,
        control: RunObservation,
        enforced: RunObservation,
    ) -> CellVerdict {
        judge_with(s, abi, control, enforced, &[])
    }

    /// As [`judge_one`], with the harness's sentinels at the given steps.
    pub(super) fn judge_with(
        s: &Scenario,
        abi: AbiProbe,
        control: RunObservation,
        enforced: RunObservation,
        sentinels: &[Sentinel],
    ) -> CellVerdict {
        let obs = CaseObservation {
            id: "t@bare".into(),
            landlock: abi,
            environment_error: None,
            control,
            enforced,
            unlayered: None,
            outside: None,
        };
        judge_obs_with(s, &obs, sentinels, None)
    }

    /// As [`judge_one`], with the whole observation (an unlayered run, say).
    pub(super) fn judge_obs(s: &Scenario, obs: &CaseObservation) -> CellVerdict {
        judge_obs_with(s, obs, &[], None)
    }

    /// As [`judge_obs`], in an environment whose runtime lockgate has no table of (the guest
    /// then makes the run `outside` it).
    pub(super) fn judge_under(s: &Scenario, obs: &CaseObservation, runtime: Denier) -> CellVerdict {
        judge_obs_with(s, obs, &[], Some(runtime))
    }

    fn judge_obs_with(
        s: &Scenario,
        obs: &CaseObservation,
        sentinels: &[Sentinel],
        runtime: Option<Denier>,
    ) -> CellVerdict {
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
        let kernel = obs.landlock.clone();
        judge(&CellInput {
            scenario: s,
            kernel: "k",
            env: "bare",
            obs,
            step_of: &steps,
            seccomp_errno: None,
            errno_rules: &[],
            profile_allows: &[],
            yama_ptrace_scope: None,
            claims: &reference_claims(),
            landlock_blocked: None,
            namespaces_refused: None,
            userns_restricted: false,
            kernel_landlock: &kernel,
            entries: None,
            overlayfs: None,
            judge_as_bare: false,
            runtime,
            not_asked: &[],
            sentinels,
        })
    }

    /// Issue 27: a namespace sandbox that never ran the command where AppArmor restricts user
    /// namespaces (or a container's profile refuses them) fails each expectation with that cause.
    #[test]
    fn a_namespace_sandbox_refused_by_the_kernel_or_the_profile_says_by_what() {
        let s = scenario("  - {probe: read /data/file, allowed: true}\n  - {mechanism: namespaces}\n");
        let claims = serde_yaml::from_str::<crate::model::claim::ClaimSpec>(
            "- {regex: '^bwrap: ', claim: refused, mechanism: namespaces}\n",
        )
        .unwrap()
        .0;
        let control = run(&[Outcome::Ok], "", "exit:0");
        let enforced = run(&[], "bwrap: Creating new namespace failed: Permission denied\n", "exit:1");
        let obs = CaseObservation {
            id: "t@bare".into(),
            landlock: AbiProbe::Abi(4),
            environment_error: None,
            control,
            enforced,
            unlayered: None,
            outside: None,
        };
        let verdict = |namespaces_refused: Option<&str>, userns_restricted: bool| {
            judge(&CellInput {
                scenario: &s,
                kernel: "k",
                env: "bare",
                obs: &obs,
                step_of: &[Some(0), None],
                seccomp_errno: None,
                errno_rules: &[],
                profile_allows: &[],
                yama_ptrace_scope: None,
                claims: &claims,
                landlock_blocked: None,
                namespaces_refused,
                userns_restricted,
                kernel_landlock: &AbiProbe::Abi(4),
                entries: None,
                overlayfs: None,
                judge_as_bare: false,
                runtime: None,
                not_asked: &[],
                sentinels: &[],
            })
        };
        let apparmor = verdict(None, true);
        for e in &apparmor.expectations {
            let why = e.reason.as_deref().unwrap();
            assert!(why.contains("AppArmor refuses unprivileged user namespaces on this kernel"), "{why}");
            assert!(why.ends_with("(`bwrap: Creating new namespace failed: Permission denied`)"), "{why}");
        }
        let docker = verdict(Some("the container's seccomp profile refuses it"), false);
        assert!(docker.expectations[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("the container's seccomp profile refuses it"));
        let neither = verdict(None, false);
        assert!(!neither.expectations[0].reason.as_deref().unwrap().contains("refuses"));
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
        // An enforcer without a filter of its own: the filter's probes, not Landlock's.
        let f = scenario("  - {probe: socket AF_INET SOCK_STREAM, denied: EPERM}\n  - {probe: tcp_bind 80, denied: EPERM}\n  - {probe: clone3 0, denied: ENOSYS}\n");
        let filter_asked: Vec<bool> =
            f.expect.iter().map(|e| not_asked(&[Feature::Seccomp], &e.check).is_none()).collect();
        assert_eq!(filter_asked, [false, true, false]);
        let why = not_asked(&[Feature::Scoped], checks[0]).unwrap();
        assert!(why.starts_with("not asked for") && why.contains("`landlock.scoped`"), "{why}");
    }

    /// Issue 28, layers: the control run starts inside the outer layers, so a denial both runs
    /// share is the layers' only when the run outside them was allowed.
    #[test]
    fn a_denial_both_runs_share_is_the_layers_only_when_the_unlayered_run_was_allowed() {
        let eacces = Outcome::Err("EACCES".into());
        let dac = Some(Denier::Dac);
        assert_eq!(through_layers(dac, &eacces, Some(&Outcome::Ok)), Some(Denier::Layer));
        assert_eq!(through_layers(dac, &eacces, Some(&eacces)), dac);
        assert_eq!(through_layers(dac, &eacces, None), Some(Denier::Unknown));
        assert_eq!(through_layers(dac, &eacces, Some(&Outcome::Err("EPERM".into()))), Some(Denier::Unknown));
        let operation = Some(Denier::Operation);
        assert_eq!(through_layers(operation, &eacces, Some(&eacces)), operation);
        // Denied only under the enforcer: its own layer, whatever the run outside the layers got.
        for d in [Some(Denier::Sandbox), Some(Denier::Landlock), None] {
            assert_eq!(through_layers(d, &eacces, Some(&Outcome::Ok)), d);
        }
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
        assert!(r.contains("the control run (no enforcer) allowed it too; no other step of this run was denied by the sandbox, and this case has no sentinel of the harness"), "{r}");
        assert!(r.contains("nothing in this run shows whether a Landlock ruleset was in effect"), "{r}");
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
        assert!(r.contains("a Landlock ruleset was in effect in this run (1 other step denied by the sandbox: `probe write /sandbox/owned`), so the enforcer's effective rules grant this access, which the scenario expects its policy to deny — unless it needs a right that ruleset does not handle"), "{r}");
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
            r.contains(
                "Landlock is not available here (the probe answered ENOSYS), so no Landlock ruleset could deny it"
            ),
            "{r}"
        );
    }

    /// Issue 24, item 1: binds the sandbox denied EACCES while the control run got EADDRINUSE
    /// are evidence of a ruleset in effect, like denials the control run did not get at all.
    #[test]
    fn denials_whose_control_run_failed_otherwise_are_evidence_of_a_ruleset() {
        let s = scenario(
            "  - {probe: tcp_bind 4096, denied: EACCES, by: sandbox}\n  - {probe: tcp_bind 16384, denied: EACCES, by: sandbox}\n  - {probe: tcp_connect 4096, denied: EACCES, by: sandbox}\n",
        );
        let inuse = || Outcome::Err("EADDRINUSE".into());
        let v = judge_one(
            &s,
            AbiProbe::Abi(6),
            run(&[inuse(), inuse(), Outcome::Ok], "", "exit:0"),
            run(&[Outcome::Err("EACCES".into()), Outcome::Err("EACCES".into()), Outcome::Ok], FULL, "exit:0"),
        );
        let r = v.expectations[2].reason.clone().unwrap();
        assert!(!r.contains("nothing shows"), "{r}");
        assert!(
            r.contains("a Landlock ruleset was in effect in this run (2 other steps denied by the sandbox: `probe tcp_bind 4096` (EACCES; the control run got EADDRINUSE), `probe tcp_bind 16384` (EACCES; the control run got EADDRINUSE))"),
            "{r}"
        );
    }

    /// Issue 24, item 2: a failure identical in both runs with an errno no permission check
    /// gives is not `dac`, and its words say the operation failed without the sandbox too.
    #[test]
    fn the_same_failure_in_both_runs_is_not_permissions_unless_the_errno_says_so() {
        let s = scenario(
            "  - {probe: ioctl_dev /dev/null, denied: ENOTTY, by: sandbox}\n  - {probe: rmdir /lt/d, denied: ENOTEMPTY, by: sandbox}\n  - {probe: tcp_bind 1024, denied: EADDRINUSE, by: sandbox}\n  - {probe: rmdir /lt/e, denied: ENOTEMPTY}\n",
        );
        let e = |n: &str| Outcome::Err(n.into());
        let outcomes = [e("ENOTTY"), e("ENOTEMPTY"), e("EADDRINUSE"), e("ENOTEMPTY")];
        let v = judge_one(&s, AbiProbe::Abi(6), run(&outcomes, "", "exit:0"), run(&outcomes, FULL, "exit:0"));
        for (x, meaning) in v.expectations[..3].iter().zip([
            "ENOTTY: inappropriate ioctl for device",
            "ENOTEMPTY: directory not empty",
            "EADDRINUSE: address already in use",
        ]) {
            assert_eq!(x.status, Status::Fail);
            assert_ne!(x.denied_by, Some(Denier::Dac), "{x:?}");
            let r = x.reason.clone().unwrap();
            assert!(!r.contains("permissions"), "{r}");
            assert!(r.contains("the control run (same uid, no enforcer) failed the same way"), "{r}");
            assert!(r.contains(meaning), "{r}");
        }
        assert_eq!(v.expectations[3].status, Status::Pass, "without `by:`, the errno is what is checked");
        assert_eq!(attribute(&e("EACCES"), &e("EACCES"), None), Some(Denier::Dac));
        assert_eq!(attribute(&e("EPERM"), &e("EPERM"), None), Some(Denier::Dac));
    }

    /// Issue 28, item 5: a setup the place refused (a container without CAP_MKNOD) is not the
    /// scenario's error and not a pass: every expectation is skipped with the refusal, and the
    /// cell says it checked nothing, and why.
    #[test]
    fn a_refused_setup_skips_with_its_reason() {
        let s = scenario("  - {run: a, allowed: true}\n  - {enforcement: full}\n");
        let why = "the environment refused to make the character device /sandbox/null: EPERM (Operation not permitted): this process has no CAP_MKNOD here (the container's capabilities lack it)";
        let refused = || RunObservation { setup_error: Some(why.into()), setup_refused: true, ..Default::default() };
        let v = judge_one(&s, AbiProbe::Abi(6), refused(), refused());
        assert!(v.expectations.iter().all(|e| e.status == Status::Skipped), "{:?}", v.expectations);
        assert_eq!(v.expectations[0].reason.as_deref(), Some(format!("not checked here: {why}").as_str()));
        let nothing = v.nothing_checked.clone().unwrap_or_default();
        assert!(
            nothing.starts_with(&format!("nothing was checked: {why}")) && nothing.contains("not a pass"),
            "{nothing}"
        );
        // As every cell that checked nothing: it fails under CI=true unless `may_skip_all`.
    }

    /// What the place made of the setup otherwise than asked (gVisor's workspace) is in the
    /// cell once, whichever run said it, and is no failure by itself.
    #[test]
    fn setup_notes_are_in_the_cell_once() {
        let s = scenario("  - {run: a, allowed: true}\n");
        let note = "under gVisor the workspace /workspace is a directory of the guest's root";
        let noted = || RunObservation { setup_notes: vec![note.into()], ..run(&[Outcome::Ok], "", "exit:0") };
        let v = judge_one(&s, AbiProbe::Abi(6), noted(), noted());
        assert_eq!(v.setup_notes, [note]);
        assert!(v.passed(), "{:?}", v.failures());
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
            unlayered: None,
            outside: None,
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
            errno_rules: &[],
            profile_allows: &[],
            yama_ptrace_scope: None,
            claims: &claims,
            landlock_blocked: Some(blocked),
            namespaces_refused: None,
            userns_restricted: false,
            kernel_landlock: &kernel,
            entries: None,
            overlayfs: None,
            judge_as_bare,
            runtime: None,
            not_asked: &[],
            sentinels: &[],
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
