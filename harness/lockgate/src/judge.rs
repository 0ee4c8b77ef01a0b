//! Judge: a pure function of (scenario, observations) → verdicts. No VM is needed to test it.
//!
//! Every denial is attributed from the control run (same uid, same environment, no enforcer):
//! denied only under the enforcer → `sandbox`; denied the same way without it → `dac`, or
//! `seccomp` when the environment's filter answers that errno. The enforcer's claim is checked
//! against what happened: claiming enforcement where Landlock is unavailable is a lie.

use crate::model::cond::Facts;
use crate::model::scenario::{Action, Check, Claim, Denier, Scenario, Wanted};
use lockgate_protocol::{AbiProbe, CaseObservation, Outcome, RunObservation, StepResult};
use serde::Serialize;

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
    /// The enforcer's claim line, as printed.
    pub enforcer_claim: String,
    pub enforcer_exit: String,
    pub expectations: Vec<ExpectationVerdict>,
    /// Checks that apply to every cell (the enforcer's honesty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

impl CellVerdict {
    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.expectations.iter().all(|e| e.status != Status::Fail)
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

/// What the enforcer said about itself, read from its one claim line.
pub fn parse_claim(stderr: &str) -> Option<(Claim, String)> {
    let line = stderr.lines().rev().find(|l| l.contains("enforcement="))?;
    let word = line.split("enforcement=").nth(1)?.split_whitespace().next()?;
    let claim = match word {
        "full" => Claim::Full,
        "partial" => Claim::Partial,
        "none" => Claim::None,
        "refused" => Claim::Refused,
        _ => return None,
    };
    Some((claim, line.trim().to_string()))
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
    let Outcome::Err(e) = enforced else {
        return if matches!(enforced, Outcome::Timeout) { Some(Denier::Unknown) } else { None };
    };
    Some(match control {
        Outcome::Ok => Denier::Sandbox,
        Outcome::Err(c) if c == e && seccomp_errno == Some(e.as_str()) => Denier::Seccomp,
        Outcome::Err(c) if c == e => Denier::Dac,
        _ => Denier::Unknown,
    })
}

fn step<'a>(run: &'a RunObservation, i: usize) -> Option<&'a StepResult> {
    run.steps.get(i)
}

/// Why a run has no result for a step: the enforcer refused, setup failed, the runner crashed.
fn missing_reason(which: &str, run: &RunObservation) -> String {
    if let Some(e) = &run.setup_error {
        return format!("not observed: the {which} run's setup failed: {e}");
    }
    let claim = parse_claim(&run.stderr).map(|(_, l)| format!(" ({l})")).unwrap_or_default();
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
}

pub fn judge(input: &CellInput) -> CellVerdict {
    let obs = input.obs;
    let abi = obs.landlock.abi();
    let facts = Facts { abi, kernel: input.kernel, env: input.env };
    let claim = parse_claim(&obs.enforced.stderr);
    let claim_text = claim.as_ref().map(|(_, l)| l.clone()).unwrap_or_else(|| "(no claim printed)".into());
    let mut expectations = Vec::new();
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
        if let Some(w) = &e.when {
            if !w.holds(&facts) {
                v.status = Status::Skipped;
                v.reason = Some(format!("`{w}` does not hold here (landlock: {})", obs.landlock));
                expectations.push(v);
                continue;
            }
        }
        match &e.check {
            Check::Enforcement(want) => {
                v.claimed = Some(claim.as_ref().map(|(c, _)| c.to_string()).unwrap_or_else(|| "nothing".into()));
                match &claim {
                    None => fail(&mut v, format!("expected the enforcer to claim `{want}`, but it printed no claim line (exit {})", obs.enforced.exit)),
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
                    let why = if step(&obs.control, i_step).is_none() { missing_reason("control", &obs.control) } else { missing_reason("enforced", &obs.enforced) };
                    fail(&mut v, why);
                    expectations.push(v);
                    continue;
                };
                v.control = Some(show(&c.outcome));
                v.enforced = Some(show(&en.outcome));
                v.denied_by = attribute(&c.outcome, &en.outcome, input.seccomp_errno);
                judge_operation(&mut v, action, result, *by, &c.outcome, &en.outcome, claim.as_ref().map(|(c, _)| *c), &obs.landlock);
            }
        }
        expectations.push(v);
    }
    let mut findings = Vec::new();
    if let Some((c @ (Claim::Full | Claim::Partial), line)) = &claim {
        if abi.is_none() {
            findings.push(format!(
                "the enforcer lied: it claimed `{c}` enforcement, but Landlock is not available here (the probe answered {}): {line}",
                obs.landlock
            ));
        }
    }
    CellVerdict {
        scenario: input.scenario.name.to_string(),
        kernel: input.kernel.to_string(),
        environment: input.env.to_string(),
        landlock: obs.landlock.to_string(),
        enforcer_claim: claim_text,
        enforcer_exit: obs.enforced.exit.clone(),
        expectations,
        findings,
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

#[allow(clippy::too_many_arguments)]
fn judge_operation(
    v: &mut ExpectationVerdict,
    action: &Action,
    result: &Wanted,
    by: Option<Denier>,
    control: &Outcome,
    enforced: &Outcome,
    claim: Option<Claim>,
    landlock: &AbiProbe,
) {
    let what = match action {
        Action::Run(cmd) => format!("`{cmd}`"),
        a => format!("`{a}`"),
    };
    match (result, enforced) {
        (Wanted::Allowed, Outcome::Ok) => {}
        (Wanted::Allowed, got) => {
            let who = v.denied_by.map(|d| format!(" (denied by {d}; the control run was {})", show(control))).unwrap_or_default();
            fail(v, format!("expected {what} to be allowed, it was {}{who}", show(got)));
        }
        (Wanted::Denied(want), Outcome::Ok) => {
            let control_says = match control {
                Outcome::Ok => "the control run shows DAC allowed it too, so Landlock was not in effect".to_string(),
                other => format!("the control run was {}", show(other)),
            };
            let lead = match claim {
                Some(c @ (Claim::Full | Claim::Partial)) => format!("the enforcer claimed {c} enforcement, yet {what} succeeded"),
                Some(Claim::None) => format!("{what} succeeded; the enforcer said it enforced nothing (landlock here: {landlock})"),
                _ => format!("{what} succeeded"),
            };
            fail(v, format!("expected {want}: {lead}; {control_says}"));
        }
        (Wanted::Denied(want), Outcome::Err(got)) if got != want => {
            fail(v, format!("expected {what} to be denied with {want}, it was denied with {got} (control run: {})", show(control)));
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
        serde_yaml::from_str(&format!("name: t\npolicy: {{filesystem_policy: {{read_only: [/bin]}}}}\nexpect:\n{expect}")).unwrap()
    }

    fn run(outcomes: &[Outcome], stderr: &str, exit: &str) -> RunObservation {
        RunObservation {
            exit: exit.into(),
            stderr: stderr.into(),
            steps: outcomes.iter().map(|o| StepResult { outcome: o.clone(), exit_code: None, stdout: String::new(), stderr: String::new() }).collect(),
            ..Default::default()
        }
    }

    const FULL: &str = "lockgate-enforcer: enforcement=full abi=4 reason=all rules enforced\n";

    fn judge_one(s: &Scenario, abi: AbiProbe, control: RunObservation, enforced: RunObservation) -> CellVerdict {
        let steps: Vec<Option<usize>> = {
            let mut n = 0;
            s.expect.iter().map(|e| if matches!(e.check, Check::Operation { .. }) { n += 1; Some(n - 1) } else { None }).collect()
        };
        let obs = CaseObservation { id: "t@bare".into(), landlock: abi, control, enforced };
        judge(&CellInput { scenario: s, kernel: "k", env: "bare", obs: &obs, step_of: &steps, seccomp_errno: None })
    }

    #[test]
    fn denial_by_the_sandbox_passes() {
        let s = scenario("  - {run: touch /sandbox/x, denied: EACCES, by: sandbox}\n  - {enforcement: full}\n");
        let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Ok], "", "exit:0"), run(&[Outcome::Err("EACCES".into())], FULL, "exit:0"));
        assert!(v.passed(), "{:?}", v.failures());
        assert_eq!(v.expectations[0].denied_by, Some(Denier::Sandbox));
    }

    #[test]
    fn a_dac_denial_is_not_a_sandbox_denial() {
        let s = scenario("  - {run: touch /sandbox/x, denied: EACCES, by: sandbox}\n");
        let v = judge_one(&s, AbiProbe::Abi(4), run(&[Outcome::Err("EACCES".into())], "", "exit:0"), run(&[Outcome::Err("EACCES".into())], FULL, "exit:0"));
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
        assert!(r.contains("DAC allowed it too, so Landlock was not in effect"), "{r}");
    }

    #[test]
    fn claiming_enforcement_without_landlock_is_a_lie() {
        let s = scenario("  - {run: touch /sandbox/x, allowed: true, when: 'abi == none'}\n");
        let v = judge_one(&s, AbiProbe::Errno("ENOSYS".into()), run(&[Outcome::Ok], "", "exit:0"), run(&[Outcome::Ok], FULL, "exit:0"));
        assert!(!v.passed());
        assert!(v.findings[0].starts_with("the enforcer lied"), "{:?}", v.findings);
    }

    #[test]
    fn when_conditions_skip_and_missing_steps_fail() {
        let s = scenario("  - {run: a, denied: EACCES, when: 'abi >= 3'}\n  - {run: b, allowed: true}\n  - {enforcement: refused}\n");
        let refused = "lockgate-enforcer: enforcement=refused abi=none reason=kernel has no Landlock (ENOSYS)\n";
        let v = judge_one(&s, AbiProbe::Errno("ENOSYS".into()), run(&[Outcome::Ok, Outcome::Ok], "", "exit:0"), run(&[], refused, "exit:1"));
        assert_eq!(v.expectations[0].status, Status::Skipped);
        assert_eq!(v.expectations[1].status, Status::Fail);
        assert!(v.expectations[1].reason.as_ref().unwrap().contains("not observed"));
        assert_eq!(v.expectations[2].status, Status::Pass);
    }

    #[test]
    fn wrong_errno_and_seccomp_attribution() {
        let s = scenario("  - {run: a, denied: EACCES}\n");
        let v = judge_one(&s, AbiProbe::Abi(1), run(&[Outcome::Ok], "", "exit:0"), run(&[Outcome::Err("EPERM".into())], FULL, "exit:0"));
        assert!(v.expectations[0].reason.as_ref().unwrap().contains("denied with EPERM"));
        let e = Outcome::Err("EPERM".into());
        assert_eq!(attribute(&e, &e, Some("EPERM")), Some(Denier::Seccomp));
        assert_eq!(attribute(&e, &e, None), Some(Denier::Dac));
        assert_eq!(attribute(&Outcome::Ok, &Outcome::Ok, None), None);
    }
}
