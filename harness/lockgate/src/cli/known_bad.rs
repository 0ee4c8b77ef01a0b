//! `lockgate known-bad`: the mutation gate (issue 3), on the project's scenarios.
//!
//! lockgate is only worth its name if it fails the enforcers that shipped broken. The suite runs
//! once with the correct reference enforcer, where every cell must pass (a failure there is a
//! false alarm), then once per known-bad mode (`lockgate-enforcer --fault MODE`) on the kernels
//! where that mode can change anything. Each such (mode, kernel) must be *caught*: at least one
//! cell with a failing verdict. Nothing failing is MISSED; a harness error is ERROR. Any MISSED,
//! ERROR or false alarm fails the gate.

use crate::model::scenario::Scenario;
use crate::plan::Selection;
use crate::run::{RunOptions, RunReport, VariantOptions};
use crate::vm::accel::AccelChoice;
use anyhow::{Context, Result};
use clap::Args;
use lockgate_protocol::rights::Right;
use std::time::Instant;

#[derive(Debug, Clone, Args)]
pub struct KnownBadArgs {
    /// Kernels to run (names from kernels/*.yaml), comma-separated; default: the whole matrix.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// Accelerator: auto (KVM when it works, else TCG), kvm or tcg.
    #[arg(long, default_value = "auto")]
    pub accel: AccelChoice,
    /// Guests booted at once; default: the number of cores.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Scenarios to run (names), comma-separated; default: all. The correct enforcer runs them
    /// in every environment, each mode those of them it runs; a mode that runs none of them is
    /// left out of the table (not n.a.: it was not asked for).
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// The project whose scenarios the gate runs (set from `--project`, not a flag of its own).
    #[arg(skip)]
    pub project: std::path::PathBuf,
}

/// A known-bad mode of the reference enforcer, and on which kernels it can change anything
/// (`abi`: the kernel's Landlock ABI, `None` without Landlock). Where it cannot, the cell is
/// n.a. and not run. Without Landlock the enforcer builds no ruleset at all (it claims `none`),
/// so a fault in building or applying one changes nothing there. `scenarios`: the suite it runs
/// (empty: every scenario the mode can change, `changes`); a right's mode runs the scenario of
/// that right.
struct Mode {
    name: String,
    matters: Box<dyn Fn(Option<u32>) -> bool>,
    scenarios: Vec<String>,
    /// Whether the mode can change what the enforcer does with this scenario on a kernel of
    /// this ABI, read from the enforcer's code (`harness/enforcer/src/main.rs`). Where it
    /// cannot, the enforcer runs exactly as the correct one does, whose cell passes: that case
    /// could catch nothing, and the mode does not run it (issue 30).
    changes: fn(&Scenario, Option<u32>) -> bool,
    /// A system call entry the mode matters through: only known once the kernel booted (its
    /// preflight); where the kernel lacks it, the mode's cells are run but n.a.
    needs: Option<fn(&lockgate_protocol::Entries) -> bool>,
}

/// The shipped scenario of OpenShell's documented filter, which the filter's modes run.
pub(super) const SECCOMP_SCENARIO: &str = "openshell-seccomp";

/// The reference enforcer's filter faults, in its order (`FilterFault::ALL`).
pub(super) const FILTER_FAULTS: [&str; 10] = [
    "no-filter",
    "no-arch-check",
    "x32-allowed",
    "inet-allowed",
    "all-netlink",
    "clone3-eperm",
    "clone3-unfiltered",
    "filter-other-thread",
    "landlock-other-thread",
    "stacked-wrong-order",
];

impl Mode {
    fn whole_suite(name: &str, matters: fn(Option<u32>) -> bool) -> Mode {
        Mode { name: name.into(), matters: Box::new(matters), scenarios: Vec::new(), changes: |_, _| true, needs: None }
    }

    /// A mode that runs one scenario of its own.
    fn own_scenario(name: &str, scenario: &str, matters: fn(Option<u32>) -> bool) -> Mode {
        Mode {
            name: name.into(),
            matters: Box::new(matters),
            scenarios: vec![scenario.into()],
            changes: |_, _| true,
            needs: None,
        }
    }

    fn changing(self, changes: fn(&Scenario, Option<u32>) -> bool) -> Mode {
        Mode { changes, ..self }
    }
}

/// A policy document of the scenario's own (a native policy): what it holds is read only
/// through an adapter's selectors, so every mode is taken to change its run.
fn native(sc: &Scenario) -> bool {
    sc.native_policy.is_some()
}

fn modes() -> Vec<Mode> {
    let mut modes = vec![
        // Rule paths opened as the sandbox user: root-only-rule-path's /srv/app (in a 0700 root
        // directory) cannot be opened on any ABI, and the whole ruleset is dropped under `full`.
        Mode::whole_suite("drop-first", |abi| abi.is_some()),
        // It changes only the claim, and only where the honest claim is not `full`: without
        // Landlock (it claims `full abi=none`: "the enforcer lied" on every cell) and below ABI
        // 6, where a network section (below 4) or a scope (below 6) is enforced only in part
        // (tcp-bind-connect, right-scope-signal say `partial`, hard-requirement-partial
        // refuses). From ABI 6 the kernel enforces every right the suite asks for (ABI 9's
        // resolve_unix is asked for through read_write alone), so the status it ignores is
        // always FullyEnforced.
        Mode::whole_suite("ignore-status", |abi| abi.is_none_or(|a| a < 6)),
        // From ABI 3 truncate, from ABI 4 TCP go unrestricted (truncate-read-only,
        // tcp-bind-connect). On ABI 1-2 its filesystem rules are the honest ones, but a V2
        // enforcer knows nothing of the network section: it claims `full` where the honest one
        // says `partial`, and hard_requirement no longer refuses.
        // On ABI 1-2 the pin changes nothing in the ruleset (the kernel offers no more than
        // V2): only the claim of a policy with TCP rules, device ioctl rules or scopes, which
        // the honest enforcer calls partial there.
        Mode::whole_suite("abi2", |abi| abi.is_some()).changing(|sc, abi| {
            let p = &sc.policy;
            abi.is_some_and(|a| a >= 3)
                || p.network.is_some()
                || !p.filesystem_policy.ioctl_dev.is_empty()
                || !p.landlock.scoped.is_empty()
                || native(sc)
        }),
        // A read-only path made read-write, only when the policy has network policies (proxy
        // mode, as in OpenShell #905): openshell-803-deployed, the seed's policy as deployed,
        // catches it on every ABI (each has write rights to widen); the scenarios without
        // network policies cannot: the enforcer widens nothing there (`proxy_mode`).
        Mode::whole_suite("baseline-rw", |abi| abi.is_some())
            .changing(|sc, _| !sc.policy.network_policies.is_empty() || native(sc)),
        // restrict_self without no_new_privs or CAP_SYS_ADMIN is EPERM on every ABI; the bare
        // environment starts the enforcer without no_new_privs, so it runs unconfined.
        Mode::whole_suite("no-nnp", |abi| abi.is_some()),
        // A descriptor left open read-write on a rule file crosses execve into the command on
        // every kernel, Landlock or not: inherited-descriptor's `inherited_write` finds it.
        Mode::own_scenario("leak-fd", "inherited-descriptor", |_| true),
        // A handled set made of what the rules grant leaves make_reg and truncate unhandled in
        // rights-per-rule (no rule grants them); write_file read as every write right grants
        // them on /work: `create /work/new` goes through on every ABI.
        Mode::own_scenario("handled-from-rules", "rights-per-rule", |abi| abi.is_some()),
        Mode::own_scenario("write-implies-all", "rights-per-rule", |abi| abi.is_some()),
        // Started inside 16 outer layers (landlock-max-layers), the enforcer's restrict_self
        // fails with E2BIG wherever there is Landlock: swallowed, the claim is `full` where the
        // honest one says `none`.
        Mode::own_scenario("ignore-restrict-error", "landlock-max-layers", |abi| abi.is_some()),
        // A descriptor left open on each rule directory crosses execve on every kernel:
        // descriptors-before-sandbox's `inherited_readdir /inbox` lists the drop box through it.
        Mode::own_scenario("leak-dirfd", "descriptors-before-sandbox", |_| true),
        // A rule on a mount point tied to the directory the mount covers grants nothing inside
        // the mount: setup-mounts' create under its read_write tmpfs below /sandbox (read_only)
        // is denied on every ABI (issue 28, item 5).
        Mode::own_scenario("rule-under-mount", "setup-mounts", |abi| abi.is_some()),
        // Rule paths opened in the guest's root rather than the command's chroot: the rule on
        // the command's `/` covers the whole guest, so chroot-before-sandbox's `cat ../f`, from
        // a working directory kept outside the chroot, is allowed on every ABI.
        Mode::own_scenario("host-root-rules", "chroot-before-sandbox", |abi| abi.is_some()),
    ];
    // One right forgotten (or one scope not set): it matters from the ABI that brought the
    // right, and its own scenario (right-<name>) shows it.
    for right in Right::ALL {
        let first = right.abi();
        modes.push(Mode {
            name: right.fault(),
            matters: Box::new(move |abi| abi.is_some_and(|a| a >= first)),
            scenarios: vec![right.scenario()],
            changes: |_, _| true,
            needs: None,
        });
    }
    // The seccomp half (issue 25): openshell-seccomp states OpenShell's filter, which the
    // reference enforcer installs on every kernel of the matrix (all have seccomp filters, and
    // clone3 since 5.3). Without a filter where the command runs (none installed, or installed
    // on a thread that does not execute it), with AF_INET/AF_INET6 or AF_NETLINK left open, or
    // clone3 answered otherwise than ENOSYS, one of its probes gets another answer, and a
    // claimed `filter=on` the runner does not run under is a lie its filter count shows.
    // restrict_self on a thread that does not execute the command matters wherever there is
    // Landlock (its create under a read-only rule goes through). The other entries matter
    // where the kernel offers them: `needs`, read from each boot's preflight.
    for fault in FILTER_FAULTS {
        let matters: Box<dyn Fn(Option<u32>) -> bool> = match fault {
            "landlock-other-thread" => Box::new(|abi: Option<u32>| abi.is_some()),
            _ => Box::new(|_| true),
        };
        let needs: Option<fn(&lockgate_protocol::Entries) -> bool> = match fault {
            // Without its architecture check the filter lets the i386 entry through; without
            // its x32 check, x32 numbers: only where the kernel takes those calls.
            "no-arch-check" => Some(|e| e.ia32.available()),
            "x32-allowed" => Some(|e| e.x32.available()),
            _ => None,
        };
        modes.push(Mode {
            name: fault.into(),
            matters,
            scenarios: vec![SECCOMP_SCENARIO.into()],
            changes: |_, _| true,
            needs,
        });
    }
    modes
}

/// A known-bad *environment*: the enforcer is the correct one, the environment takes Landlock
/// away from it. The suite runs there and is judged by the expectations of the bare environment
/// on the same kernel (`when:` sees `env == bare` and `landlock == available`, so the shipped
/// suite's explicit acceptance of `landlock == blocked` does not apply): a transparent
/// environment passes them, this one must fail them. Where the kernel has no
/// Landlock there is nothing to take away: n.a.
struct EnvFault {
    name: &'static str,
    why: &'static str,
}

const ENV_FAULTS: [EnvFault; 1] = [EnvFault {
    name: "docker-20.10.5",
    // openshell-803's `touch /sandbox/testfile → denied EACCES by sandbox` succeeds there.
    why: "Docker 20.10.5's profile lacks the Landlock syscalls (moby#43199): runc's stub answers ENOSYS, best_effort runs unconfined",
}];

/// The table's columns after `correct`: the enforcer's modes, then the environments.
#[cfg(test)]
fn columns() -> Vec<String> {
    modes().into_iter().map(|m| m.name).chain(ENV_FAULTS.iter().map(|e| e.name.to_string())).collect()
}

/// What one run showed on one kernel.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Passed,
    /// The first failing verdict: `scenario: what failed`.
    Failed(String),
    Error(String),
    /// The mode cannot matter here; not run.
    NotApplicable,
}

/// The first harness error of `kernel`'s cells of `variant`, else the first failing verdict.
fn seen(report: &RunReport, kernel: &str, variant: usize) -> Seen {
    let cells: Vec<_> = report.cells.iter().filter(|c| c.kernel == kernel && c.variant == variant).collect();
    if cells.is_empty() {
        return Seen::Error("no cell ran on this kernel".into());
    }
    if let Some(e) = cells.iter().find_map(|c| c.outcome.as_ref().err()) {
        return Seen::Error(e.to_string().lines().next().unwrap_or_default().to_string());
    }
    cells
        .iter()
        .find_map(|c| {
            let v = c.outcome.as_ref().ok().filter(|v| !v.passed())?;
            Some(Seen::Failed(format!("{}: {}", c.scenario, v.failures().first()?)))
        })
        .unwrap_or(Seen::Passed)
}

/// A row of the table after `correct`: the variants of the run that hold its cells, each with
/// its kernels (none: it matters on none of the kernels); a mode whose scenarios differ by
/// kernel is one variant per set of scenarios.
struct Row {
    /// The mode's or the environment's name: the table's row.
    name: String,
    /// Whether the scenarios chosen (`--scenario`) include one it runs.
    chosen: bool,
    variants: Vec<(usize, Vec<String>)>,
    /// The mode's `needs`: n.a. on a kernel whose preflight lacks that entry.
    needs: Option<fn(&lockgate_protocol::Entries) -> bool>,
}

impl Row {
    /// The variant that holds the row's cells on `kernel`; `None` where the mode is n.a.
    fn variant_on(&self, kernel: &str) -> Option<usize> {
        self.variants.iter().find(|(_, ks)| ks.iter().any(|k| k == kernel)).map(|(v, _)| *v)
    }
}

/// The whole gate as one run: the correct enforcer on every environment (variant 0), then each
/// mode on the kernels where it matters and each environment fault, as variants of that run, so
/// that each kernel boots once for all of them (issue 30). The run's plan shares what is the
/// same: a fault mode's case borrows the correct enforcer's control run for the same
/// (scenario, environment) — the control run has no enforcer, so its inputs are equal (see
/// `lockgate::plan::plan_variants`) — and an environment fault's cases are the correct
/// enforcer's own cases in that environment, observed once and judged twice (as they are, and
/// as on bare).
///
/// A whole-suite mode runs, on each kernel, only the scenarios it can change there (`changes`);
/// should none be left on a kernel where the mode matters, it runs them all there, so that the
/// table shows what was observed (a MISSED), never an assumption.
fn gate_options(
    args: &KnownBadArgs,
    kernels: &[(String, Option<u32>)],
    scenarios: &[&Scenario],
) -> (RunOptions, Vec<Row>) {
    let mut opts = RunOptions::new(args.project.clone());
    opts.selection.kernels = kernels.iter().map(|(k, _)| k.clone()).collect();
    // `scenarios` are the chosen ones; a selection's empty list means every scenario.
    let some = !args.scenario.is_empty();
    let selected: Vec<String> =
        if some { scenarios.iter().map(|sc| sc.name.to_string()).collect() } else { Vec::new() };
    opts.selection.scenarios = selected.clone();
    // Snapshots record the correct enforcer; vm-test checks them. The gate judges verdicts.
    opts.snapshots = false;
    opts.accel = args.accel;
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    let on = |matters: &dyn Fn(Option<u32>) -> bool| -> Vec<String> {
        kernels.iter().filter(|(_, abi)| matters(*abi)).map(|(n, _)| n.clone()).collect()
    };
    let mut rows = Vec::new();
    // Each variant with its kernels; a variant without kernels would run on every kernel: it is
    // not planned at all.
    let mut add = |name: &str, chosen: bool, variants: Vec<VariantOptions>, needs, rows: &mut Vec<Row>| {
        let variants = variants
            .into_iter()
            .filter(|v| !v.within.kernels.is_empty())
            .map(|v| {
                let targets = v.within.kernels.clone();
                opts.variants.push(v);
                (opts.variants.len(), targets)
            })
            .collect();
        rows.push(Row { name: name.into(), chosen, variants, needs });
    };
    for mode in modes() {
        // A mode of its own scenarios runs those of them chosen (`--scenario`).
        let own: Vec<String> = mode.scenarios.iter().filter(|n| !some || selected.contains(n)).cloned().collect();
        // The kernels where the mode matters, grouped by the scenarios it runs there.
        let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for (kernel, abi) in kernels.iter().filter(|(_, abi)| (mode.matters)(*abi)) {
            let names = if mode.scenarios.is_empty() {
                let names: Vec<String> =
                    scenarios.iter().filter(|sc| (mode.changes)(sc, *abi)).map(|sc| sc.name.to_string()).collect();
                match names.len() {
                    // Of scenarios chosen, none it can change: it cannot matter to them (n.a.).
                    0 if some => continue,
                    // Every scenario, or none left (then every one runs, as said above): every
                    // chosen one, the selection's empty list when none was.
                    n if n == 0 || n == scenarios.len() => selected.clone(),
                    _ => names,
                }
            } else if own.is_empty() {
                continue;
            } else {
                own.clone()
            };
            match groups.iter_mut().find(|(n, _)| *n == names) {
                Some((_, ks)) => ks.push(kernel.clone()),
                None => groups.push((names, vec![kernel.clone()])),
            }
        }
        // With scenarios chosen, a mode that runs none of them is not in the table.
        let chosen = !some || !groups.is_empty();
        // An enforcer fault is the enforcer's wherever it runs: the bare environment shows it.
        let variants = groups
            .into_iter()
            .map(|(names, kernels)| {
                let within = Selection { kernels, scenarios: names, envs: vec!["bare".into()], shard: None };
                VariantOptions { faults: vec![mode.name.clone()], within, judge_as_bare: false }
            })
            .collect();
        add(&mode.name, chosen, variants, mode.needs, &mut rows);
    }
    for env in &ENV_FAULTS {
        let within = Selection {
            kernels: on(&|abi| abi.is_some()),
            scenarios: selected.clone(),
            envs: vec![env.name.into()],
            shard: None,
        };
        add(env.name, true, vec![VariantOptions { faults: Vec::new(), within, judge_as_bare: true }], None, &mut rows);
    }
    (opts, rows)
}

/// The table's word for a cell. `correct` is the row of the correct enforcer.
fn word(seen: &Seen, correct: bool) -> &'static str {
    match (seen, correct) {
        (Seen::Passed, true) => "pass",
        (Seen::Failed(_), true) => "FALSE ALARM",
        (Seen::Passed, false) => "MISSED",
        (Seen::Failed(_), false) => "caught",
        (Seen::Error(_), _) => "ERROR",
        (Seen::NotApplicable, _) => "n.a.",
    }
}

pub(super) fn run(project: &super::project::Project, args: &KnownBadArgs) -> Result<bool> {
    Ok(gate(&KnownBadArgs { project: project.root.clone(), ..args.clone() })?.passed)
}

/// What one run of the gate came to, for the bench.
pub struct Gate {
    pub passed: bool,
    pub wall_s: f64,
    pub kernels: usize,
    /// Guest boots (one per kernel since issue 30).
    pub boots: usize,
}

/// The gate, printed; whether it passed, its wall time and its boots.
pub fn gate(args: &KnownBadArgs) -> Result<Gate> {
    super::setup::ensure_host_tools()?;
    let start = Instant::now();
    // The gate is a command of its own (lockgate's xtask calls it too): its one cache.
    let cache = crate::supply::open_cache(None)?;
    let kernels = selected_kernels(&cache, &args.project, &args.kernel)?;
    let names: Vec<&str> = kernels.iter().map(|(n, _)| n.as_str()).collect();
    let matrix = crate::supply::shipped::matrix_of(&cache, &args.project, None)?;
    let scenarios_dir = RunOptions::new(args.project.clone()).scenarios_dir;
    let model = crate::model::load(&scenarios_dir, &matrix)?;
    let known: Vec<&str> = model.scenarios.iter().map(|s| s.value.name.as_str()).collect();
    crate::plan::check_names("scenario", &args.scenario, &known)
        .with_context(|| format!("known-bad --scenario, in {}", scenarios_dir.display()))?;
    let scenarios: Vec<&Scenario> = model
        .scenarios
        .iter()
        .map(|s| &s.value)
        .filter(|s| args.scenario.is_empty() || args.scenario.iter().any(|n| n == s.name.as_str()))
        .collect();
    let (opts, mut rows) = gate_options(args, &kernels, &scenarios);
    rows.retain(|r| r.chosen);
    eprintln!("known-bad: the correct enforcer on {}, every environment; in the same boots:", names.join(", "));
    for row in &rows {
        let name = &row.name;
        for (variant, targets) in &row.variants {
            let within = &opts.variants[variant - 1].within.scenarios;
            let which = match within.is_empty() {
                true => String::new(),
                false => format!(" ({})", within.join(", ")),
            };
            eprintln!("known-bad:   {name} on {}{which}", targets.join(", "));
        }
    }
    for env in &ENV_FAULTS {
        eprintln!("known-bad: environment {}: {}; judged as bare", env.name, env.why);
    }
    let report = crate::run::run_with(&opts, &cache);
    // Whether the kernel's preflight shows the entry a mode needs (unknown: it is run and judged).
    let offers = |needs: Option<fn(&lockgate_protocol::Entries) -> bool>, kernel: &str| {
        let entries = report
            .as_ref()
            .ok()
            .and_then(|r| r.kernels.iter().find(|k| k.name == kernel)?.preflight.as_ref()?.entries.clone());
        match (needs, entries) {
            (Some(needs), Some(entries)) => needs(&entries),
            _ => true,
        }
    };
    let seen_of = |variant: usize, kernel: &str| match &report {
        Ok(report) => seen(report, kernel, variant),
        Err(e) => Seen::Error(format!("{e:#}")),
    };
    let correct: Vec<Seen> = names.iter().map(|k| seen_of(0, k)).collect();
    let rows: Vec<(String, Vec<Seen>)> = rows
        .iter()
        .map(|row| {
            let seen = names
                .iter()
                .map(|k| match row.variant_on(k) {
                    Some(_) if !offers(row.needs, k) => Seen::NotApplicable,
                    Some(v) => seen_of(v, k),
                    None => Seen::NotApplicable,
                })
                .collect();
            (row.name.clone(), seen)
        })
        .collect();
    let boots = report.as_ref().map_or(0, |r| r.kernels.iter().filter(|k| k.boot.is_some()).count());
    eprintln!("known-bad: {boots} boots for {} kernels", names.len());
    print_table(&kernels, &correct, &rows);
    let wall_s = start.elapsed().as_secs_f64();
    let passed = print_details(&names, &correct, &rows, wall_s);
    Ok(Gate { passed, wall_s, kernels: names.len(), boots })
}

/// The matrix's kernels (or those named), by name, with the ABI their manifest expects.
fn selected_kernels(
    cache: &crate::cache::Cache,
    project: &std::path::Path,
    asked: &[String],
) -> Result<Vec<(String, Option<u32>)>> {
    let model = crate::model::load_matrix(&crate::supply::shipped::matrix_of(cache, project, None)?)?;
    // The default matrix when none is named (opt-in kernels only when asked for, or `all`).
    let mut kernels: Vec<(String, Option<u32>)> = crate::plan::select_kernels(&model, asked)?
        .into_iter()
        .map(|i| (model.kernels[i].value.name.to_string(), model.kernels[i].value.abi.0))
        .collect();
    kernels.sort();
    Ok(kernels)
}

fn count<'a>(seen: impl IntoIterator<Item = &'a Seen>, want: fn(&Seen) -> bool) -> usize {
    seen.into_iter().filter(|s| want(s)).count()
}

/// Why each caught cell failed (the verdict should name the fault), every problem, and the
/// totals. Returns whether the gate passed.
fn print_details(names: &[&str], correct: &[Seen], rows: &[(String, Vec<Seen>)], seconds: f64) -> bool {
    for (k, s) in names.iter().zip(correct) {
        match s {
            Seen::Failed(why) => println!("FALSE ALARM {k}: the correct enforcer failed {why}"),
            Seen::Error(e) => println!("ERROR {k} (correct enforcer): {e}"),
            _ => {}
        }
    }
    for (mode, row) in rows {
        for (k, s) in names.iter().zip(row) {
            match s {
                Seen::Failed(why) => println!("{mode} @ {k}: {why}"),
                Seen::Passed => println!("MISSED {mode} @ {k}: every cell passed"),
                Seen::Error(e) => println!("ERROR {mode} @ {k}: {e}"),
                Seen::NotApplicable => {}
            }
        }
    }
    let faulty = || rows.iter().flat_map(|(_, seen)| seen);
    let caught = count(faulty(), |s| matches!(s, Seen::Failed(_)));
    let missed = count(faulty(), |s| matches!(s, Seen::Passed));
    let fault_errors = count(faulty(), |s| matches!(s, Seen::Error(_)));
    let errors = fault_errors + count(correct, |s| matches!(s, Seen::Error(_)));
    let false_alarms = count(correct, |s| matches!(s, Seen::Failed(_)));
    let applicable = caught + missed + fault_errors;
    println!(
        "\nknown-bad: {caught}/{applicable} caught ({}%), {missed} missed, {errors} harness errors, {false_alarms} false alarms; {seconds:.0}s",
        (caught * 100).checked_div(applicable).unwrap_or(100),
    );
    // The plain closing line CI reads: each applicable (mode, kernel) pair and each correct
    // cell is one check; a miss, an error or a false alarm is a failure.
    let checks = applicable + correct.len();
    let failed = missed + errors + false_alarms;
    println!("known-bad: {} passed, {failed} failed", checks.saturating_sub(failed));
    failed == 0
}

/// One row per enforcer (correct, then each mode and environment), one column per kernel: a
/// Markdown table, as the book's mutation-gate chapter shows it.
fn print_table(kernels: &[(String, Option<u32>)], correct: &[Seen], rows: &[(String, Vec<Seen>)]) {
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(7).max(7);
    let cols: Vec<usize> = kernels.iter().map(|(n, _)| n.len().max(6)).collect();
    print!("\n| {:<width$} |", "mode");
    for ((name, _), w) in kernels.iter().zip(&cols) {
        print!(" {name:<w$} |");
    }
    print!("\n| {:<width$} |", "(ABI)");
    for ((_, abi), w) in kernels.iter().zip(&cols) {
        print!(" {:<w$} |", abi.map_or_else(|| "none".to_string(), |a| a.to_string()));
    }
    print!("\n| {} |", "-".repeat(width));
    for w in &cols {
        print!(" {} |", "-".repeat(*w));
    }
    println!();
    let line = |name: &str, seen: &[Seen], correct: bool| {
        print!("| {name:<width$} |");
        for (s, w) in seen.iter().zip(&cols) {
            print!(" {:<w$} |", word(s, correct));
        }
        println!();
    };
    line("correct", correct, true);
    for (name, row) in rows {
        line(name, row, false);
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fault the enforcer knows has a rule here, so a new one cannot skip the gate.
    #[test]
    fn every_enforcer_fault_has_a_mode() {
        let src = include_str!("../../../enforcer/src/faults.rs");
        let body = src.split("pub fn name(self)").nth(1).and_then(|s| s.split("pub fn").next()).unwrap();
        let mut names: Vec<String> = body.split('"').skip(1).step_by(2).map(String::from).collect();
        assert!(
            body.contains("Fault::Unhandled(right) => right.fault()"),
            "the per-right faults are named by the catalogue"
        );
        names.extend(Right::ALL.map(|r| r.fault()));
        let filter = src.split("impl FilterFault").nth(1).and_then(|s| s.split("fn summary").next()).unwrap();
        let filter = filter.split("fn name(self)").nth(1).unwrap();
        names.extend(filter.split('"').skip(1).step_by(2).map(String::from));
        assert_eq!(names, modes().into_iter().map(|m| m.name).collect::<Vec<_>>());
    }

    #[test]
    fn where_the_modes_matter() {
        let modes = modes();
        let matters = |name: &str, abi| (modes.iter().find(|m| m.name == name).unwrap().matters)(abi);
        for m in &modes {
            let filter = m.scenarios == [SECCOMP_SCENARIO] && m.name != "landlock-other-thread";
            let everywhere = m.name == "ignore-status" || m.name == "leak-fd" || m.name == "leak-dirfd" || filter;
            assert_eq!((m.matters)(None), everywhere, "{} without Landlock", m.name);
        }
        for m in modes.iter().take(5) {
            assert!((m.matters)(Some(1)), "{} on ABI 1", m.name);
        }
        assert!(!matters("ignore-status", Some(6)) && matters("ignore-status", Some(5)));
        assert!(matters("abi2", Some(6)));
        assert!(!matters("no-truncate", Some(2)) && matters("no-truncate", Some(3)));
        assert!(!matters("no-scope-signal", Some(5)) && matters("no-scope-signal", Some(10)));
        assert!(!matters("no-resolve-unix", Some(6)) && matters("no-resolve-unix", Some(9)));
        assert!(matters("no-make-char", Some(1)));
    }

    /// Each right's mode (and leak-fd, handled-from-rules, write-implies-all) runs its own
    /// scenario, which is shipped.
    #[test]
    fn right_modes_run_shipped_scenarios() {
        let root = crate::supply::guest::workspace_root();
        for m in modes().iter().skip(5) {
            assert_eq!(m.scenarios.len(), 1, "{}", m.name);
            assert!(root.join(format!("scenarios/{}.yaml", m.scenarios[0])).is_file(), "{}", m.scenarios[0]);
        }
    }

    #[test]
    fn the_gate_fails_on_missed_errors_and_false_alarms() {
        let gate =
            |correct: Seen, fault: Seen| print_details(&["k"], &[correct], &[("mode".to_string(), vec![fault])], 0.0);
        let failed = || Seen::Failed("x".into());
        assert!(gate(Seen::Passed, failed()));
        assert!(gate(Seen::Passed, Seen::NotApplicable));
        assert!(!gate(Seen::Passed, Seen::Passed), "missed");
        assert!(!gate(failed(), failed()), "false alarm");
        assert!(!gate(Seen::Error("e".into()), Seen::NotApplicable));
        assert!(!gate(Seen::Passed, Seen::Error("e".into())));
    }

    #[test]
    fn environment_faults_are_shipped_environments_the_suite_speaks_of() {
        let root = crate::supply::guest::workspace_root();
        let seed = std::fs::read_to_string(root.join("scenarios/openshell-803.yaml")).unwrap();
        for e in &ENV_FAULTS {
            assert!(root.join(format!("images/environments/{}.yaml", e.name)).is_file(), "{}", e.name);
        }
        // Since issue 19 the seed accepts an environment that takes Landlock away by the fact,
        // not by its name: it states what such an environment does with `landlock == blocked`.
        assert!(seed.contains("landlock == blocked"), "the seed states what a blocking environment does");
        assert_eq!(columns().len(), modes().len() + ENV_FAULTS.len());
    }

    /// lockgate's checkout and its shipped scenarios and kernels, loaded.
    fn shipped_model() -> (std::path::PathBuf, crate::model::Model) {
        let root = crate::supply::guest::workspace_root();
        let model =
            crate::model::load(&root.join("scenarios"), &crate::model::MatrixDirs::beside(&root.join("kernels")))
                .unwrap();
        (root, model)
    }

    /// Each whole-suite mode runs the scenarios it can change on each kernel: baseline-rw only
    /// the policy with network policies, abi2 on ABI 1-2 only policies whose claim it changes,
    /// one variant per set; the others every scenario; a right's mode its own scenario.
    #[test]
    fn modes_run_only_the_scenarios_they_can_change() {
        let (root, model) = shipped_model();
        let scenarios: Vec<&Scenario> = model.scenarios.iter().map(|s| &s.value).collect();
        let kernels = [("a-none".to_string(), None), ("b-abi2".to_string(), Some(2)), ("c-abi6".to_string(), Some(6))];
        let args = KnownBadArgs {
            kernel: Vec::new(),
            accel: AccelChoice::Auto,
            jobs: None,
            scenario: Vec::new(),
            project: root,
        };
        let (opts, rows) = gate_options(&args, &kernels, &scenarios);
        let row = |mode: &str| &rows[columns().iter().position(|c| c == mode).unwrap()];
        let within = |mode: &str, kernel: &str| {
            let v = row(mode).variant_on(kernel)?;
            Some(opts.variants[v - 1].within.scenarios.clone())
        };
        assert_eq!(within("baseline-rw", "b-abi2"), Some(vec!["openshell-803-deployed".to_string()]));
        assert_eq!(within("baseline-rw", "c-abi6"), within("baseline-rw", "b-abi2"));
        assert_eq!(within("baseline-rw", "a-none"), None, "n.a. without Landlock");
        assert_eq!(within("abi2", "c-abi6"), Some(Vec::new()), "every scenario from ABI 3");
        let low = within("abi2", "b-abi2").unwrap();
        assert!(
            low.contains(&"tcp-bind-connect".to_string()) && !low.contains(&"openshell-803".to_string()),
            "{low:?}"
        );
        assert_eq!(row("abi2").variants.len(), 2, "one variant per set of scenarios");
        for mode in ["drop-first", "no-nnp"] {
            assert_eq!(within(mode, "b-abi2"), Some(Vec::new()), "{mode}");
        }
        assert_eq!(within("ignore-status", "a-none"), Some(Vec::new()));
        assert_eq!(within("no-truncate", "c-abi6"), Some(vec!["right-truncate".to_string()]));
    }

    /// With scenarios chosen, the correct enforcer and each mode run only those; a mode of its
    /// own scenario not chosen, or a whole-suite mode that can change none of them, is left out.
    #[test]
    fn chosen_scenarios_leave_out_the_modes_that_run_none_of_them() {
        let (root, model) = shipped_model();
        let chosen = ["openshell-803".to_string(), "right-truncate".to_string()];
        let scenarios: Vec<&Scenario> =
            model.scenarios.iter().map(|s| &s.value).filter(|s| chosen.iter().any(|c| c == s.name.as_str())).collect();
        let kernels = [("b-abi2".to_string(), Some(2)), ("c-abi6".to_string(), Some(6))];
        let args = KnownBadArgs {
            kernel: Vec::new(),
            accel: AccelChoice::Auto,
            jobs: None,
            scenario: chosen.to_vec(),
            project: root,
        };
        let (opts, rows) = gate_options(&args, &kernels, &scenarios);
        assert_eq!(opts.selection.scenarios, chosen);
        let row = |mode: &str| rows.iter().find(|r| r.name == mode).unwrap();
        let within = |mode: &str, kernel: &str| {
            let v = row(mode).variant_on(kernel)?;
            Some(opts.variants[v - 1].within.scenarios.clone())
        };
        assert!(row("no-truncate").chosen);
        assert_eq!(within("no-truncate", "c-abi6"), Some(vec!["right-truncate".to_string()]));
        assert_eq!(within("no-truncate", "b-abi2"), None, "n.a. before ABI 3");
        assert!(!row("leak-fd").chosen && !row("no-refer").chosen && !row("no-arch-check").chosen);
        // baseline-rw changes only policies with network policies, which neither has.
        assert!(!row("baseline-rw").chosen);
        assert_eq!(within("drop-first", "b-abi2"), Some(chosen.to_vec()));
        assert!(row("docker-20.10.5").chosen);
        assert_eq!(opts.variants[row("docker-20.10.5").variants[0].0 - 1].within.scenarios, chosen);
    }

    #[test]
    fn words() {
        assert_eq!(word(&Seen::Failed("x".into()), false), "caught");
        assert_eq!(word(&Seen::Failed("x".into()), true), "FALSE ALARM");
        assert_eq!(word(&Seen::Passed, false), "MISSED");
        assert_eq!(word(&Seen::NotApplicable, false), "n.a.");
    }
}
