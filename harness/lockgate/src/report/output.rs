//! A cell's whole output: both runs' exit, setup error, the enforcer's stderr (bounded by the
//! guest to 16 KiB), and each step's result with its stdout and stderr (2 KiB each), with the
//! third run where the case had one (`unlayered`, `outside`: what attributed a denial to the
//! outer layers or to the environment's runtime), written
//! beside the cell's snapshot as `<cell>.output.txt` for passing and failing cells alike. The
//! failure report shows excerpts and points here.

use crate::judge::{CellVerdict, RunEvidence, StepEvidence};
use lockgate_protocol::{Outcome, StepResult};

/// `<scenario>@<kernel>@<environment>.output.txt`.
pub fn file_name(v: &CellVerdict) -> String {
    format!("{}@{}@{}.output.txt", v.scenario, v.kernel, v.environment)
}

pub fn render(v: &CellVerdict) -> String {
    let e = &v.evidence;
    let mut out = format!(
        "cell {}@{}@{}\nlandlock {}\nclaim {}\n",
        v.scenario, v.kernel, v.environment, v.landlock, v.enforcer_claim
    );
    let third = [("unlayered", e.unlayered.as_ref()), ("outside", e.outside.as_ref())];
    for (name, run) in [("control", Some(&e.control)), ("enforced", Some(&e.enforced))].into_iter().chain(third) {
        let Some(run) = run else { continue };
        out.push_str(&format!("\n=== {name} run\n"));
        run_part(run, &mut out);
    }
    let has = |name: &str| third.iter().any(|(n, r)| *n == name && r.is_some());
    fn parts<'s>(s: &'s StepEvidence, has: &dyn Fn(&str) -> bool) -> Vec<(&'static str, &'s Option<StepResult>)> {
        let mut p = vec![("control", &s.control), ("enforced", &s.enforced)];
        p.extend([("unlayered", &s.unlayered), ("outside", &s.outside)].into_iter().filter(|(n, _)| has(n)));
        p
    }
    for (i, step) in e.steps.iter().enumerate() {
        let Some(step) = step else { continue };
        out.push_str(&format!("\n=== expectation {i}: {}\n", step.command));
        for (name, r) in parts(step, &has) {
            step_part(name, r.as_ref(), &mut out);
        }
    }
    // The harness's own steps, after the scenario's: judged by nobody, read by the verdicts.
    for s in &e.sentinels {
        out.push_str(&format!("\n=== the harness's sentinel: {}\n", s.command));
        for (name, r) in parts(s, &has) {
            step_part(name, r.as_ref(), &mut out);
        }
    }
    out
}

fn run_part(run: &RunEvidence, out: &mut String) {
    out.push_str(&format!("exit: {}\n", if run.exit.is_empty() { "none" } else { &run.exit }));
    if let Some(e) = &run.setup_error {
        out.push_str(&format!("setup error: {e}\n"));
    }
    match run.uid {
        Some(u) => out.push_str(&format!("probe runner: reported, as uid {u}\n")),
        None => out.push_str("probe runner: no report\n"),
    }
    block("stderr", &run.stderr, out);
}

fn step_part(name: &str, r: Option<&StepResult>, out: &mut String) {
    let Some(r) = r else {
        out.push_str(&format!("{name}: not observed\n"));
        return;
    };
    let outcome = match &r.outcome {
        Outcome::Ok => "allowed".to_string(),
        Outcome::Err(e) => format!("denied {e}"),
        Outcome::Timeout => "timed out (killed at its time limit)".to_string(),
    };
    let exit = r.exit_code.map(|c| format!(", exit {c}")).unwrap_or_default();
    out.push_str(&format!("{name}: {outcome}{exit}\n"));
    block(&format!("{name} stdout"), &r.stdout, out);
    block(&format!("{name} stderr"), &r.stderr, out);
}

fn block(label: &str, text: &str, out: &mut String) {
    if text.is_empty() {
        out.push_str(&format!("{label}: (empty)\n"));
        return;
    }
    out.push_str(&format!("{label}:\n"));
    for line in text.lines() {
        out.push_str(&format!("  | {line}\n"));
    }
}
