//! The failure report: what a person needs to act on a red cell, per failing expectation —
//! the kernel (release, ABI), the environment, the command, what was expected, what the enforced
//! and the control runs observed (exit, errno, an excerpt of their output), who denied it, the
//! enforcer's claim, and the verdict in one sentence.
//!
//! Everything here comes from the verdict and its [`Evidence`](crate::judge::Evidence), which is
//! kept out of snapshots: the report may show output and uids, the snapshot never does.

use crate::judge::{CellVerdict, RunEvidence, Status};
use crate::model::scenario::Denier;
use lockgate_protocol::{Outcome, StepResult};

/// What the report says about the cell beyond its verdict.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `uname -r` of the guest.
    pub release: Option<String>,
    /// The kernel's own Landlock probe (the preflight's, outside any environment).
    pub kernel_landlock: Option<String>,
    /// The LSM list the guest saw.
    pub lsm: Option<String>,
    /// The enforcer under test, in one line.
    pub enforcer: String,
    /// The environment in a few words (`bare` is described here when `None`).
    pub environment: Option<String>,
}

/// Lines of output shown per stream, and characters per line.
const EXCERPT_LINES: usize = 4;
const EXCERPT_WIDTH: usize = 160;

/// A bounded excerpt: the first (or last) few lines, each cut to a width, and what was left out.
pub fn excerpt(text: &str, from_end: bool) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    let n = lines.len();
    let shown: Vec<&str> = if from_end {
        lines[n.saturating_sub(EXCERPT_LINES)..].to_vec()
    } else {
        lines.iter().take(EXCERPT_LINES).copied().collect()
    };
    let mut out: Vec<String> = shown.iter().map(|l| cut(l, EXCERPT_WIDTH)).collect();
    if n > shown.len() {
        let more = format!("… ({} more line{})", n - shown.len(), if n - shown.len() == 1 { "" } else { "s" });
        if from_end {
            out.insert(0, more);
        } else {
            out.push(more);
        }
    }
    out
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() > width {
        format!("{}…", s.chars().take(width).collect::<String>())
    } else {
        s.to_string()
    }
}

fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "allowed".into(),
        Outcome::Err(e) => format!("denied {e}"),
        Outcome::Timeout => "timed out".into(),
    }
}

/// `denied EACCES, exit 1` plus the step's output, indented under the label.
fn step_lines(label: &str, step: Option<&StepResult>, run: &RunEvidence, out: &mut String) {
    let pad = " ".repeat(16);
    match step {
        Some(s) => {
            let exit = s.exit_code.map(|c| format!(", exit {c}")).unwrap_or_default();
            out.push_str(&format!("     {label:<10} {}{exit}\n", outcome(&s.outcome)));
            for (name, text) in [("stdout", &s.stdout), ("stderr", &s.stderr)] {
                for (i, line) in excerpt(text, false).iter().enumerate() {
                    let tag = if i == 0 { format!("{name}: ") } else { " ".repeat(name.len() + 2) };
                    out.push_str(&format!("{pad}{tag}{line}\n"));
                }
            }
        }
        None => {
            let why = match &run.setup_error {
                Some(e) => format!("its setup failed: {e}"),
                None => format!(
                    "the run ended ({}) before this step's result came back",
                    if run.exit.is_empty() { "no exit status" } else { &run.exit }
                ),
            };
            out.push_str(&format!("     {label:<10} not observed: {why}\n"));
        }
    }
}

fn denier(v: Option<Denier>, enforced: Option<&StepResult>, control: Option<&StepResult>) -> String {
    match (v, enforced) {
        (Some(Denier::Sandbox), _) => {
            "the sandbox (the control run, same uid without the enforcer, was allowed)".into()
        }
        (Some(Denier::Dac), _) => "plain permissions, DAC (the control run was denied the same way)".into(),
        (Some(Denier::Seccomp), _) => {
            "the environment's seccomp filter (the control run got the filter's errno too)".into()
        }
        (Some(Denier::Filter), _) => {
            "the enforcer's seccomp filter (the runner shows a filter of the enforcer's, and Landlock cannot answer this call with that errno, or the environment's profile answered another)".into()
        }
        (Some(Denier::AppArmor), _) => {
            "AppArmor (the control run, under the same AppArmor policy, was denied the same way, and the kernel logged AppArmor's denials)".into()
        }
        (Some(Denier::Landlock), _) => {
            "the enforcer's Landlock ruleset (the control run was allowed; the errno is Landlock's for this call, and the enforcer's filter was not seen giving it)".into()
        }
        (Some(Denier::Layer), _) => format!("the outer layers the runs started inside: {}", crate::judge::LAYER_DENIED),
        (Some(Denier::Gvisor), _) => format!("gVisor, the environment's runtime: {}", crate::judge::GVISOR_DENIED),
        (Some(Denier::Nspawn), _) => {
            format!("systemd-nspawn, the environment's runtime: {}", crate::judge::NSPAWN_DENIED)
        }
        (Some(Denier::Unknown), _) => format!(
            "unknown (the control run was {})",
            control.map(|c| outcome(&c.outcome)).unwrap_or_else(|| "not observed".into())
        ),
        (Some(Denier::Operation), Some(StepResult { outcome: Outcome::Err(e), .. })) => format!(
            "nobody: the operation fails without the sandbox too (the control run failed the same way, {})",
            crate::model::errno::with_meaning(e)
        ),
        (Some(Denier::Operation), _) => {
            "nobody: the operation fails without the sandbox too (the control run failed the same way)".into()
        }
        (None, Some(s)) if s.outcome == Outcome::Ok => "nobody: the enforced run was allowed".into(),
        (None, Some(s)) if s.outcome == Outcome::Timeout => "nobody: the step was killed at its time limit".into(),
        (None, _) => "not known: the enforced run has no result".into(),
    }
}

/// `exit:0, probes ran as uid 998`, or why the probe runner sent no report: the run was killed
/// (its time limit, a signal), or the runner did not start or ended before reporting.
fn run_line(run: &RunEvidence) -> String {
    let exit = if run.exit.is_empty() { "no exit status" } else { &run.exit };
    match (run.uid, exit) {
        (Some(u), _) => format!("{exit}, probes ran as uid {u}"),
        (None, "timeout") => format!("{exit}, the run was killed at its run limit before the probe runner reported"),
        (None, e) if e.starts_with("signal:") => {
            format!("{exit}, the run was killed by a signal before the probe runner reported")
        }
        (None, _) => format!("{exit}, no report from the probe runner (it was not started, or ended before reporting)"),
    }
}

/// `full: <the claim line>`, or why there is no claim.
fn claim_text(v: &CellVerdict) -> String {
    match v.evidence.claim {
        Some(c) => format!("{c}: {}", v.enforcer_claim),
        None => v.enforcer_claim.clone(),
    }
}

/// The report of one failing cell (empty when it passed). The first line is
/// `FAIL <scenario>@<kernel>@<environment>:`.
pub fn render(v: &CellVerdict, ctx: &Context) -> String {
    if v.passed() {
        return String::new();
    }
    let e = &v.evidence;
    let mut out = format!("FAIL {}@{}@{}:\n", v.scenario, v.kernel, v.environment);
    let release = ctx.release.as_deref().map(|r| format!("release {r}, ")).unwrap_or_default();
    let landlock = |probe: &str| {
        if probe.starts_with("ABI") {
            format!("Landlock {probe}")
        } else {
            format!("no Landlock (the probe answered {probe})")
        }
    };
    let kernel_landlock = ctx.kernel_landlock.clone().unwrap_or_else(|| v.landlock.clone());
    let lsm = ctx.lsm.as_deref().map(|l| format!("; LSMs {}", l.trim())).unwrap_or_default();
    out.push_str(&format!("  kernel       {}: {release}{}{lsm}\n", v.kernel, landlock(&kernel_landlock)));
    let env = match (
        ctx.environment.as_deref().map(|a| a.split_whitespace().collect::<Vec<_>>().join(" ")),
        v.environment.as_str(),
    ) {
        (Some(about), _) if !about.is_empty() => cut(&about, 2 * EXCERPT_WIDTH),
        (_, "bare") => {
            "the enforcer runs directly under the guest's PID 1: no container, no environment's seccomp filter".into()
        }
        _ => "a container environment (see its manifest)".into(),
    };
    out.push_str(&format!("  environment  {}: {env}\n", v.environment));
    if kernel_landlock != v.landlock {
        out.push_str(&format!("  landlock     where the runs happened: {}\n", landlock(&v.landlock)));
    }
    if !ctx.enforcer.is_empty() {
        out.push_str(&format!("  enforcer     {}\n", ctx.enforcer));
    }
    out.push_str(&format!("  enforced run {}\n  control run  {}\n", run_line(&e.enforced), run_line(&e.control)));
    // What AppArmor refused, as the kernel logged it (an AppArmor environment).
    for (label, run) in [("enforced", &e.enforced), ("control", &e.control)] {
        for d in &run.apparmor_denials {
            out.push_str(&format!("  {label} run AppArmor: {d}\n"));
        }
    }
    if let Some(u) = &e.unlayered {
        out.push_str(&format!("  unlayered    {} (the control run outside setup.layers)\n", run_line(u)));
    }
    if let Some(o) = &e.outside {
        let runtime = e.outside_of.and_then(crate::judge::runtime_of).map_or("the environment's runtime", |(n, _)| n);
        out.push_str(&format!(
            "  outside      {} (the control run made on the VM outside {runtime}, on the same kernel)\n",
            run_line(o)
        ));
    }
    let claim = claim_text(v);
    out.push_str(&format!("  claim        {claim}\n"));
    if !v.missing_paths.is_empty() {
        // A rule path the guest lacks is a test input; a failure may come from how the
        // enforcer took it.
        out.push_str(&format!("  missing      policy paths not in the guest: {}\n", v.missing_paths.join(", ")));
    }
    for note in &v.setup_notes {
        out.push_str(&format!("  setup        {note}\n"));
    }
    let stderr = excerpt(&e.enforced.stderr, true);
    for (i, line) in stderr.iter().enumerate() {
        out.push_str(&format!("  {:<12} {line}\n", if i == 0 { "its stderr" } else { "" }));
    }
    if let Some(f) = &e.output_file {
        out.push_str(&format!("  all output   {} (both runs, every step)\n", f.display()));
    }
    for (label, run) in [
        ("enforced", Some(&e.enforced)),
        ("control", Some(&e.control)),
        ("unlayered", e.unlayered.as_ref()),
        ("outside", e.outside.as_ref()),
    ] {
        let Some(run) = run else { continue };
        if let Some(err) = &run.setup_error {
            out.push_str(&format!("  {label} run setup failed: {err}\n"));
        }
    }
    for f in &v.findings {
        out.push_str(&format!("\n  ✗ {f}\n"));
    }
    for (i, x) in v.expectations.iter().enumerate() {
        if x.status != Status::Fail {
            continue;
        }
        let when = x.when.as_deref().map(|w| format!("   (when {w})")).unwrap_or_default();
        out.push_str(&format!("\n  ✗ {}{when}\n", x.expect));
        match e.steps.get(i).and_then(Option::as_ref) {
            Some(s) => {
                out.push_str(&format!("     {:<10} {}\n", "command", s.command));
                out.push_str(&format!(
                    "     {:<10} {}\n",
                    "expected",
                    x.expect.rsplit(" → ").next().unwrap_or(&x.expect)
                ));
                step_lines("enforced", s.enforced.as_ref(), &e.enforced, &mut out);
                step_lines("control", s.control.as_ref(), &e.control, &mut out);
                if let Some(u) = &e.unlayered {
                    step_lines("unlayered", s.unlayered.as_ref(), u, &mut out);
                }
                if let Some(o) = &e.outside {
                    step_lines("outside", s.outside.as_ref(), o, &mut out);
                }
                out.push_str(&format!(
                    "     {:<10} {}\n",
                    "denied by",
                    denier(x.denied_by, s.enforced.as_ref(), s.control.as_ref())
                ));
                out.push_str(&format!("     {:<10} {claim}\n", "claim"));
            }
            None => {
                // A mechanism: what the runner showed under the enforcer and in the control
                // run, and what the enforcer said. A claim: the one expected and the one made.
                let (said, nothing) = match x.expect.strip_prefix("mechanism ") {
                    Some(_) => {
                        out.push_str(&format!("     {:<10} {}\n", "expected", x.expect));
                        for (side, seen) in [("enforced", &x.enforced), ("control", &x.control)] {
                            out.push_str(&format!("     {:<10} {}\n", side, seen.as_deref().unwrap_or("not observed")));
                        }
                        ("said", "nothing about its mechanism")
                    }
                    None => {
                        let want = x.expect.trim_start_matches("enforcement ");
                        out.push_str(&format!("     {:<10} a claim of `{want}`\n", "expected"));
                        ("claimed", "nothing")
                    }
                };
                out.push_str(&format!(
                    "     {:<10} {} ({})\n",
                    said,
                    x.claimed.as_deref().unwrap_or(nothing),
                    v.enforcer_claim
                ));
                out.push_str(&format!("     {:<10} {}\n", "enforcer", v.enforcer_exit));
            }
        }
        out.push_str(&format!("     {:<10} {}\n", "verdict", x.reason.as_deref().unwrap_or("failed")));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enforcer::claim::ClaimReader;
    use crate::judge::{judge, CellInput};
    use crate::model::scenario::Scenario;
    use lockgate_protocol::{CaseObservation, RunObservation, RunnerFacts};

    const SEED: &str = "name: openshell-803\nsetup: {users: [{name: sandbox, uid: 998}]}\npolicy: {filesystem_policy: {read_only: [/sandbox]}, process: {run_as_user: sandbox}}\nexpect:\n  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox, when: 'abi >= 1'}\n  - {run: cat /etc/passwd, allowed: true}\n  - {enforcement: full, when: 'abi >= 1'}\n";

    fn step(o: Outcome, code: i32, stderr: &str) -> StepResult {
        StepResult { outcome: o, exit_code: Some(code), stdout: String::new(), stderr: stderr.into() }
    }

    fn run(steps: Vec<StepResult>, stderr: &str, uid: u32) -> RunObservation {
        RunObservation {
            exit: "exit:0".into(),
            stderr: stderr.into(),
            steps,
            runner: Some(RunnerFacts {
                uid,
                gid: uid,
                seccomp: Some("0".into()),
                no_new_privs: Some("1".into()),
                seccomp_filters: None,
                namespaces: Default::default(),
            }),
            ..Default::default()
        }
    }

    fn verdict(control: RunObservation, enforced: RunObservation, claims: &ClaimReader) -> CellVerdict {
        verdict_with(control, enforced, None, claims)
    }

    /// As [`verdict`], with the unlayered run of a case with `setup.layers`.
    fn verdict_with(
        control: RunObservation,
        enforced: RunObservation,
        unlayered: Option<RunObservation>,
        claims: &ClaimReader,
    ) -> CellVerdict {
        verdict_third(control, enforced, ("unlayered", unlayered), None, claims)
    }

    /// As [`verdict`], with a third run: `unlayered` (a case with `setup.layers`) or `outside`
    /// (under `runtime`, gVisor or systemd-nspawn).
    fn verdict_third(
        control: RunObservation,
        enforced: RunObservation,
        (key, third): (&str, Option<RunObservation>),
        runtime: Option<Denier>,
        claims: &ClaimReader,
    ) -> CellVerdict {
        let s: Scenario = serde_yaml::from_str(SEED).unwrap();
        // Built from JSON so that fields added to the record with defaults do not matter here.
        let mut obs = serde_json::json!({
            "id": "openshell-803@bare", "landlock": {"abi": 1}, "control": control, "enforced": enforced,
        });
        obs[key] = serde_json::json!(third);
        let obs: CaseObservation = serde_json::from_value(obs).unwrap();
        judge(&CellInput {
            scenario: &s,
            kernel: "ubuntu-5.15",
            env: "bare",
            obs: &obs,
            step_of: &[Some(0), Some(1), None],
            seccomp_errno: None,
            errno_rules: &[],
            profile_allows: &[],
            yama_ptrace_scope: None,
            claims,
            landlock_blocked: None,
            namespaces_refused: None,
            userns_restricted: false,
            kernel_landlock: &obs.landlock,
            entries: None,
            overlayfs: None,
            judge_as_bare: false,
            runtime,
            not_asked: &[],
            sentinels: &[crate::judge::Sentinel {
                step: 2,
                what: "probe mknod_reg /lockgate-sentinel/f".into(),
                outside: "in a directory of the harness's own that no path of the policy covers".into(),
                right: "MAKE_REG",
            }],
        })
    }

    fn ctx() -> Context {
        Context {
            release: Some("5.15.0-107-generic".into()),
            kernel_landlock: Some("ABI 1".into()),
            lsm: Some("lockdown,capability,landlock,yama,apparmor\n".into()),
            enforcer: "lockgate-enforcer (the reference)".into(),
            environment: None,
        }
    }

    #[test]
    fn an_unconfined_write_is_reported_with_both_runs_and_the_lie() {
        let claim = "lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced\n";
        // Three steps: the seed's two and the harness's sentinel, allowed in both runs.
        let control = run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let enforced =
            run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], claim, 998);
        let text = render(&verdict(control, enforced, &crate::enforcer::reference(&[]).unwrap().claims), &ctx());
        let want = "\
FAIL openshell-803@ubuntu-5.15@bare:
  kernel       ubuntu-5.15: release 5.15.0-107-generic, Landlock ABI 1; LSMs lockdown,capability,landlock,yama,apparmor
  environment  bare: the enforcer runs directly under the guest's PID 1: no container, no environment's seccomp filter
  enforcer     lockgate-enforcer (the reference)
  enforced run exit:0, probes ran as uid 998
  control run  exit:0, probes ran as uid 998
  claim        full: lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced
  its stderr   lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced

  ✗ run `touch /sandbox/testfile` → denied EACCES by sandbox   (when abi >= 1)
     command    touch /sandbox/testfile
     expected   denied EACCES by sandbox
     enforced   allowed, exit 0
     control    allowed, exit 0
     denied by  nobody: the enforced run was allowed
     claim      full: lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced
     verdict    expected EACCES: the enforcer claimed full enforcement, yet `touch /sandbox/testfile` succeeded; the control run (no enforcer) allowed it too; no other step of this run was denied by the sandbox, and the harness's sentinel `probe mknod_reg /lockgate-sentinel/f`, in a directory of the harness's own that no path of the policy covers, was allowed too: no Landlock ruleset handling MAKE_REG was in effect in this run, or the enforcer's effective rules grant that as well

";
        assert_eq!(text, want, "got:\n{text}");
    }

    #[test]
    fn output_is_excerpted_and_missing_steps_and_claims_say_why() {
        let noisy: String =
            (1..=9).map(|i| format!("touch: line {i} {}\n", "x".repeat(if i == 1 { 200 } else { 3 }))).collect();
        let control = run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let enforced = run(
            vec![step(Outcome::Err("EPERM".into()), 1, &noisy)],
            "Hint: update the kernel\nExecuting the sandboxed command...\n",
            0,
        );
        let v = verdict(control, enforced, &ClaimReader::Unsupported);
        let text = render(&v, &ctx());
        assert!(
            text.contains("     enforced   denied EPERM, exit 1\n                stderr: touch: line 1 xxx"),
            "{text}"
        );
        assert!(text.contains("…\n"), "long lines are cut: {text}");
        assert!(text.contains("                        … (5 more lines)\n"), "{text}");
        assert!(
            text.contains("     denied by  the sandbox (the control run, same uid without the enforcer, was allowed)"),
            "{text}"
        );
        assert!(
            text.contains("     enforced   not observed: the run ended (exit:0) before this step's result came back"),
            "{text}"
        );
        assert!(
            text.contains("  claim        (this enforcer makes no claim: its adapter says `claim: unsupported`)"),
            "{text}"
        );
        assert!(text.contains("cannot check `enforcement: full`: this enforcer makes no claim"), "{text}");
        assert!(
            text.contains("  ✗ the command ran as uid 0 under the enforcer but as uid 998 in the control run"),
            "{text}"
        );
        assert!(
            text.contains("  enforced run exit:0, probes ran as uid 0\n  control run  exit:0, probes ran as uid 998\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  its stderr   Hint: update the kernel\n               Executing the sandboxed command...\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_environment_that_hides_landlock_is_told_apart_from_the_kernel() {
        let control = run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let enforced = run(
            vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")],
            "lockgate-enforcer: enforcement=full abi=1 reason=x\n",
            998,
        );
        let mut v = verdict(control, enforced, &crate::enforcer::reference(&[]).unwrap().claims);
        v.environment = "docker-20.10.5".into();
        v.landlock = "ENOSYS".into();
        let mut c = ctx();
        c.environment = Some("Docker 20.10.5 as Debian 11 ships it:\n  its profile predates Landlock".into());
        let text = render(&v, &c);
        assert!(text.contains("  kernel       ubuntu-5.15: release 5.15.0-107-generic, Landlock ABI 1;"), "{text}");
        assert!(
            text.contains(
                "  environment  docker-20.10.5: Docker 20.10.5 as Debian 11 ships it: its profile predates Landlock\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  landlock     where the runs happened: no Landlock (the probe answered ENOSYS)\n"),
            "{text}"
        );
    }

    /// Every `denied by` line, each from the evidence it names (issue 24): who denied, from the
    /// control run's result; `nobody` for an operation that fails without the sandbox too.
    /// A case with outer layers: the unlayered run has its line, and each failed step its
    /// result there, which is how the denial was told to be the layers'.
    #[test]
    fn the_unlayered_run_is_shown_where_the_layers_denied() {
        let claim = "lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced\n";
        let eacces = || step(Outcome::Err("EACCES".into()), 1, "");
        let control = run(vec![eacces(), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let enforced = run(vec![eacces(), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], claim, 998);
        let unlayered =
            run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let claims = crate::enforcer::reference(&[]).unwrap().claims;
        let text = render(&verdict_with(control, enforced, Some(unlayered), &claims), &ctx());
        assert!(
            text.contains("  unlayered    exit:0, probes ran as uid 998 (the control run outside setup.layers)\n"),
            "{text}"
        );
        assert!(text.contains("     unlayered  allowed"), "{text}");
        assert!(text.contains("     denied by  the outer layers the runs started inside: "), "{text}");
    }

    /// Under gVisor: the control run made outside it has its line, and each failed step its
    /// result there, which is how the denial was told to be gVisor's.
    #[test]
    fn the_run_outside_gvisor_is_shown_where_gvisor_denied() {
        let claim = "lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced\n";
        let einval = || step(Outcome::Err("EINVAL".into()), 1, "");
        let control = run(vec![einval(), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let enforced = run(vec![einval(), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], claim, 998);
        let outside = run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let claims = crate::enforcer::reference(&[]).unwrap().claims;
        let third = ("outside", Some(outside.clone()));
        let text =
            render(&verdict_third(control.clone(), enforced.clone(), third, Some(Denier::Gvisor), &claims), &ctx());
        assert!(
            text.contains("  outside      exit:0, probes ran as uid 998 (the control run made on the VM outside gVisor, on the same kernel)\n"),
            "{text}"
        );
        assert!(text.contains("     outside    allowed"), "{text}");
        assert!(text.contains("     denied by  gVisor, the environment's runtime: both runs inside gVisor"), "{text}");
        // Under systemd-nspawn the same evidence names nspawn's container, and says what it did.
        let third = ("outside", Some(outside));
        let v = verdict_third(control, enforced, third, Some(Denier::Nspawn), &claims);
        // The cell's output file has the run outside, beside both runs, for each step.
        let output = crate::report::output::render(&v);
        assert!(output.contains("\n=== outside run\nexit: exit:0\nprobe runner: reported, as uid 998\n"), "{output}");
        assert!(output.contains("\nenforced stderr: (empty)\noutside: allowed, exit 0\n"), "{output}");
        let text = render(&v, &ctx());
        assert!(
            text.contains("  outside      exit:0, probes ran as uid 998 (the control run made on the VM outside systemd-nspawn, on the same kernel)\n"),
            "{text}"
        );
        assert!(text.contains("     denied by  systemd-nspawn, the environment's runtime: both runs inside the container systemd-nspawn makes were denied the same way"), "{text}");
        assert!(text.contains("nspawn's container denied it (its built-in seccomp allow-list, the capabilities it drops, or what it mounts read-only"), "{text}");
    }

    #[test]
    fn denied_by_lines_follow_the_evidence() {
        let s = |o: Outcome| step(o, 1, "");
        let e = |n: &str| Outcome::Err(n.into());
        assert_eq!(
            denier(Some(Denier::Sandbox), Some(&s(e("EACCES"))), Some(&s(Outcome::Ok))),
            "the sandbox (the control run, same uid without the enforcer, was allowed)"
        );
        assert_eq!(
            denier(Some(Denier::Dac), Some(&s(e("EACCES"))), Some(&s(e("EACCES")))),
            "plain permissions, DAC (the control run was denied the same way)"
        );
        assert_eq!(
            denier(Some(Denier::Seccomp), Some(&s(e("EPERM"))), Some(&s(e("EPERM")))),
            "the environment's seccomp filter (the control run got the filter's errno too)"
        );
        assert_eq!(
            denier(Some(Denier::Unknown), Some(&s(e("EACCES"))), Some(&s(Outcome::Timeout))),
            "unknown (the control run was timed out)"
        );
        assert_eq!(
            denier(Some(Denier::Operation), Some(&s(e("ENOTEMPTY"))), Some(&s(e("ENOTEMPTY")))),
            "nobody: the operation fails without the sandbox too (the control run failed the same way, ENOTEMPTY: directory not empty)"
        );
        assert_eq!(denier(None, Some(&s(Outcome::Ok)), None), "nobody: the enforced run was allowed");
        assert_eq!(denier(None, Some(&s(Outcome::Timeout)), None), "nobody: the step was killed at its time limit");
        assert_eq!(denier(None, None, None), "not known: the enforced run has no result");
    }

    /// The run lines: the runner's uid when it reported, else why it did not, from the exit.
    #[test]
    fn run_lines_follow_the_evidence() {
        let r = |exit: &str, uid: Option<u32>| RunEvidence { exit: exit.into(), uid, ..Default::default() };
        assert_eq!(run_line(&r("exit:0", Some(998))), "exit:0, probes ran as uid 998");
        assert_eq!(
            run_line(&r("timeout", None)),
            "timeout, the run was killed at its run limit before the probe runner reported"
        );
        assert_eq!(
            run_line(&r("signal:9", None)),
            "signal:9, the run was killed by a signal before the probe runner reported"
        );
        assert_eq!(
            run_line(&r("", None)),
            "no exit status, no report from the probe runner (it was not started, or ended before reporting)"
        );
    }

    #[test]
    fn a_passing_cell_has_no_report_and_excerpts_are_bounded() {
        let claim = "lockgate-enforcer: enforcement=full abi=1 reason=all rules enforced\n";
        let control = run(vec![step(Outcome::Ok, 0, ""), step(Outcome::Ok, 0, "")], "", 998);
        let enforced =
            run(vec![step(Outcome::Err("EACCES".into()), 1, "denied"), step(Outcome::Ok, 0, "")], claim, 998);
        assert_eq!(render(&verdict(control, enforced, &crate::enforcer::reference(&[]).unwrap().claims), &ctx()), "");
        let e = excerpt("a\nb\nc\nd\ne\nf\n", true);
        assert_eq!(e, vec!["… (2 more lines)", "c", "d", "e", "f"]);
        assert!(excerpt("", false).is_empty());
    }
}
