//! `cargo xtask bench`: where a run's time goes, as ratios measured in one run.
//!
//! For each kernel: the floor (the bare kernel with an init that powers off at once), the cell
//! with one scenario and with every scenario, and the guest's own account of the full cell
//! (kernel boot, preflight, cases, the rest); then, per environment on one kernel, what a case
//! costs there against the same case bare; the whole default matrix (its every environment) against
//! the bare-only matrix; the bare matrix with `-j 1` against `-j cores`, and the host-side work
//! of a warm start, step by step. Medians over `--repeat` runs. Each figure is checked against
//! the target it serves (issues 6 and 17); the table goes to stdout, everything to
//! `target/bench.json`.

use anyhow::{bail, Context, Result};
use lockgate::internals::run::{run, BootSummary, RunOptions, RunReport};
use lockgate::internals::vm::console::{boot, Ended, Watch};
use lockgate::internals::vm::qemu::{Accel, Boot};
use lockgate_protocol::{CaseTiming, GuestTiming};
use serde::Serialize;
use std::time::Duration;

/// The targets: (all scenarios) / floor; one more scenario / floor; seconds a container
/// environment adds per case over the same case bare; the whole default matrix / the bare-only
/// matrix; `-j cores` / `-j 1`; seconds of host-side work before a warm run's first boot.
const ALL_TO_FLOOR: f64 = 1.25;
const PER_SCENARIO_OF_FLOOR: f64 = 0.02;
const CONTAINER_PER_CASE_S: f64 = 0.1;
const MATRIX_TO_BARE: f64 = 1.5;
const JN_TO_J1: f64 = 0.6;
const WARM_HOST_S: f64 = 0.5;
/// Issue 30: the mutation gate / the whole default matrix; the gate's boots per kernel; seconds
/// the host spends judging, snapshotting and reporting a cell of 100,000 expectations.
const GATE_TO_MATRIX: f64 = 1.5;
const GATE_BOOTS_PER_KERNEL: f64 = 1.0;
const LARGE_HOST_S: f64 = 10.0;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Kernels to measure, comma-separated; default: the default matrix.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// The kernel on which each environment is measured; default: the first measured.
    #[arg(long)]
    pub container_kernel: Option<String>,
    /// The environments measured one by one against bare, comma-separated; default: every
    /// environment (the whole-matrix figures always take them all).
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// The scenarios of the per-kernel, per-environment and whole-matrix figures,
    /// comma-separated; default: every scenario. The mutation gate takes the same (a mode
    /// that runs none of them is left out), so that its ratio to the whole matrix compares like
    /// with like. The bench's own test takes a few: it checks that the figures hold together,
    /// not what they are.
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Where to write the JSON (default: target/bench.json).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Only the generated scenario of many expectations, on the first kernel measured.
    #[arg(long)]
    pub only_large: bool,
    /// The generated scenario's expectations (its target is set for 100,000).
    #[arg(long, default_value_t = crate::bench_scale::LARGE_EXPECTATIONS)]
    pub large_expectations: usize,
}

/// Where a cell's wall time went, by the guest's clock (medians, seconds).
#[derive(Serialize, Default, Clone)]
struct Breakdown {
    /// QEMU start to the agent's first instruction: firmware, kernel, initramfs.
    to_agent_s: f64,
    /// Mounts, plan, preflight record.
    preflight_s: f64,
    /// Every case.
    cases_s: f64,
    /// After the done record: power-off, QEMU's exit, and QEMU's start-up before the kernel.
    rest_s: f64,
    /// Per case, mean: the whole case, the control run's processes, the enforced run's, and the
    /// rest (accounts, tmpfs trees, listeners).
    case_s: f64,
    case_control_s: f64,
    case_enforced_s: f64,
    case_other_s: f64,
}

#[derive(Serialize)]
struct KernelRow {
    kernel: String,
    floor_s: f64,
    one_scenario_s: f64,
    all_scenarios_s: f64,
    scenarios: usize,
    ratio_all_to_floor: f64,
    per_added_scenario_s: f64,
    per_added_scenario_of_floor: f64,
    breakdown: Breakdown,
    peak_rss_mib: f64,
}

/// One environment on one kernel: every scenario in it, against every scenario bare.
#[derive(Serialize)]
struct EnvRow {
    env: String,
    kernel: String,
    scenarios: usize,
    /// The cell's wall time, and bare's in the same repeat.
    cell_s: f64,
    bare_s: f64,
    /// (cell − bare) / scenarios: what a case costs here above the same case bare, the
    /// environment's one-off costs (its container's start) included.
    added_per_case_s: f64,
    /// Per case, mean, by the guest's clock: the whole case, and both runs' processes.
    case_s: f64,
    case_runs_s: f64,
    peak_rss_mib: f64,
}

#[derive(Serialize)]
struct Target {
    what: String,
    measured: f64,
    limit: f64,
    met: bool,
}

#[derive(Serialize)]
struct Bench {
    accel: String,
    repeat: usize,
    kernels: Vec<KernelRow>,
    envs: Vec<EnvRow>,
    /// The whole default matrix (every environment of it) and the bare-only one, `-j cores`.
    matrix_all_envs_s: f64,
    matrix_bare_s: f64,
    ratio_matrix_to_bare: f64,
    /// What that ratio would be if every case cost what it costs bare, on the kernel the
    /// environments were measured on: (floor + envs × n × bare case) / (floor + n × bare case).
    /// The default matrix has `envs` times the bare matrix's cases, so the ratio cannot go below.
    ratio_matrix_floor: f64,
    matrix_kernels: usize,
    matrix_j1_s: f64,
    matrix_jn_s: f64,
    jobs: usize,
    ratio_jn_to_j1: f64,
    warm_host_setup_s: f64,
    warm_host_phases: Vec<(String, f64)>,
    /// The mutation gate on the same kernels, in the same run.
    gate: crate::bench_scale::GateRow,
    ratio_gate_to_matrix: f64,
    /// The generated scenario of 100,000 expectations.
    large: crate::bench_scale::LargeRow,
    targets: Vec<Target>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn bench(args: &BenchArgs) -> Result<bool> {
    let repeat = args.repeat.max(1);
    // The floor: the same trivial init as the boot soak, powering off at once.
    let crate::floor::Floor { root, model, mut supply, tmp, initrd } =
        crate::floor::Floor::open("floor.cpio", crate::floor::Exit::Poweroff)?;
    let names: Vec<String> = lockgate::internals::plan::select_kernels(&model, &args.kernel)?
        .into_iter()
        .map(|i| model.kernels[i].value.name.to_string())
        .collect();
    let all: Vec<String> = model.scenarios.iter().map(|s| s.value.name.to_string()).collect();
    if let Some(s) = args.scenario.iter().find(|s| !all.contains(s)) {
        bail!("--scenario {s}: no such scenario in {}", root.join("scenarios").display());
    }
    // The measured scenarios: an empty selection is every one.
    let chosen = &args.scenario;
    let scenarios = if chosen.is_empty() { all.len() } else { chosen.len() };
    let first_scenario =
        if chosen.is_empty() { all.iter().min() } else { chosen.iter().min() }.cloned().context("no scenarios")?;
    let one_scenario = std::slice::from_ref(&first_scenario);
    let mut base = RunOptions::new(root.clone());
    base.snapshots = false;
    base.jobs = 1;
    // Decide the accelerator once (a hanging KVM is detected by the first run), and warm every
    // cache so that no measured run fetches or builds anything.
    let probe = run(&RunOptions { selection: sel(&names, one_scenario, "bare"), ..base.clone() })?;
    let accel = probe.kernels[0].boot.as_ref().map(|b| b.accel).unwrap_or(Accel::Tcg);
    base.accel = match accel {
        Accel::Kvm => lockgate::internals::vm::accel::AccelChoice::Kvm,
        Accel::Tcg => lockgate::internals::vm::accel::AccelChoice::Tcg,
    };
    if args.only_large {
        let l = crate::bench_scale::large(&base, &names[0], tmp.path(), args.large_expectations)?;
        println!("{}", serde_json::to_string_pretty(&l)?);
        return Ok(l.host_s() <= LARGE_HOST_S);
    }

    let mut rows = Vec::new();
    for name in &names {
        let k = &model.kernels.iter().find(|k| k.value.name.as_str() == name).context("kernel vanished")?.value;
        let kernel = supply.kernel(k)?;
        let records = tmp.path().join("floor.records");
        let (mut floor, mut one, mut all, mut rss) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut guests = Vec::new();
        for _ in 0..repeat {
            let b = Boot {
                kernel: &kernel.path,
                initrd: &initrd,
                extra_cmdline: &k.cmdline,
                records: &records,
                accel,
                memory_mb: 256,
            };
            let out = boot(
                &b,
                &Watch {
                    deadline: Duration::from_secs(60),
                    pace: None,
                    silence_limit: None,
                    echo: None,
                    interactive: false,
                },
            )?;
            anyhow::ensure!(
                out.ended == Ended::PoweredOff,
                "{name}: the floor boot did not power off: {:?}\n{}",
                out.ended,
                out.console_tail(10)
            );
            floor.push(out.wall.as_secs_f64());
            one.push(cell(&base, name, one_scenario, "bare")?.wall.as_secs_f64());
            let full = cell(&base, name, chosen, "bare")?;
            all.push(full.wall.as_secs_f64());
            rss.push(full.peak_rss_kib.unwrap_or(0) as f64 / 1024.0);
            guests.push(full);
        }
        let (f, o, a) = (median(floor), median(one), median(all));
        let per = if scenarios > 1 { (a - o) / (scenarios - 1) as f64 } else { 0.0 };
        eprintln!("bench: {name}: floor {f:.2}s, 1 scenario {o:.2}s, {scenarios} scenarios {a:.2}s");
        rows.push(KernelRow {
            kernel: name.clone(),
            floor_s: f,
            one_scenario_s: o,
            all_scenarios_s: a,
            scenarios,
            ratio_all_to_floor: a / f,
            per_added_scenario_s: per,
            per_added_scenario_of_floor: per / f,
            breakdown: breakdown(&guests),
            peak_rss_mib: median(rss),
        });
    }

    // The default matrix's environments (those a run without `--env` takes), as the kernels.
    let env_names: Vec<String> =
        lockgate::internals::plan::select_environments(&model, &lockgate::internals::plan::Selection::default())?
            .into_iter()
            .map(|e| e.name.clone())
            .collect();
    if let Some(e) = args.env.iter().find(|e| !env_names.contains(e)) {
        bail!("--env {e}: no such environment of the default matrix; they are {}", env_names.join(", "));
    }
    let measured: Vec<String> =
        env_names.iter().filter(|e| args.env.is_empty() || args.env.contains(e)).cloned().collect();
    let env_kernel = args.container_kernel.as_deref().unwrap_or(&names[0]);
    let envs = env_rows(&base, env_kernel, &measured, repeat, chosen, scenarios)?;

    // The whole matrix (every measured kernel and scenario): every environment against bare
    // only at -j cores, then bare at -j 1.
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let matrix = |j: usize, env: &str| -> Result<f64> {
        let mut selection = sel(&names, chosen, env);
        if env.is_empty() {
            selection.envs.clear();
        }
        let r = checked(run(&RunOptions { jobs: j, selection, ..base.clone() })?)?;
        Ok(r.wall.as_secs_f64() - r.host_setup.as_secs_f64())
    };
    let jn = matrix(jobs, "bare")?;
    let all_envs = matrix(jobs, "")?;
    eprintln!("bench: matrix of {} kernels at -j {jobs}: bare {jn:.1}s, every environment {all_envs:.1}s", names.len());
    let j1 = matrix(1, "bare")?;

    // A warm start: everything is cached and built; what is left is host-side work.
    let mut warm = Vec::new();
    for _ in 0..repeat {
        warm.push(run(&RunOptions { selection: sel(&names[..1], one_scenario, "bare"), ..base.clone() })?);
    }
    warm.sort_by_key(|r| r.host_setup);
    let warm = &warm[warm.len() / 2];

    let gate = crate::bench_scale::gate(&base, &names, chosen)?;
    let large = crate::bench_scale::large(&base, &names[0], tmp.path(), args.large_expectations)?;

    let matrix_floor = rows.iter().find(|r| r.kernel == env_kernel).map_or(f64::NAN, |r| {
        let per_cell = scenarios as f64 * r.breakdown.case_s;
        (r.floor_s + env_names.len() as f64 * per_cell) / (r.floor_s + per_cell)
    });
    let mut targets = Vec::new();
    for r in &rows {
        let measured = match chosen.is_empty() {
            true => "all scenarios".to_string(),
            false => format!("{scenarios} scenarios"),
        };
        targets.push(target(format!("{}: {measured} / floor", r.kernel), r.ratio_all_to_floor, ALL_TO_FLOOR));
        targets.push(target(
            format!("{}: one more scenario / floor", r.kernel),
            r.per_added_scenario_of_floor,
            PER_SCENARIO_OF_FLOOR,
        ));
    }
    for e in envs.iter().filter(|e| e.env != "bare") {
        targets.push(target(
            format!("{} on {}: seconds per case above bare", e.env, e.kernel),
            e.added_per_case_s,
            CONTAINER_PER_CASE_S,
        ));
    }
    targets.push(target(
        format!("matrix of {} kernels: every environment / bare only", names.len()),
        all_envs / jn,
        MATRIX_TO_BARE,
    ));
    targets.push(target(format!("matrix of {} kernels: -j {jobs} / -j 1", names.len()), jn / j1, JN_TO_J1));
    targets.push(target(
        "warm start: host-side seconds before the first boot".into(),
        warm.host_setup.as_secs_f64(),
        WARM_HOST_S,
    ));

    // The gate's time includes its host-side setup; the matrix's does not (warm, it is well
    // under a second: see the warm start's figure).
    let gate_to_matrix = gate.wall_s / all_envs;
    targets.push(target(
        format!("mutation gate / whole matrix, {} kernels", names.len()),
        gate_to_matrix,
        GATE_TO_MATRIX,
    ));
    targets.push(target(
        "mutation gate: boots per kernel".into(),
        gate.boots as f64 / gate.kernels.max(1) as f64,
        GATE_BOOTS_PER_KERNEL,
    ));
    targets.push(target(
        format!("{} expectations: seconds to judge, snapshot and report", large.expectations),
        large.host_s(),
        LARGE_HOST_S,
    ));
    let b = Bench {
        accel: accel.to_string(),
        repeat,
        kernels: rows,
        envs,
        matrix_all_envs_s: all_envs,
        matrix_bare_s: jn,
        ratio_matrix_to_bare: all_envs / jn,
        ratio_matrix_floor: matrix_floor,
        matrix_kernels: names.len(),
        matrix_j1_s: j1,
        matrix_jn_s: jn,
        jobs,
        ratio_jn_to_j1: jn / j1,
        warm_host_setup_s: warm.host_setup.as_secs_f64(),
        warm_host_phases: warm.host_phases.iter().map(|(n, d)| (n.to_string(), d.as_secs_f64())).collect(),
        gate,
        ratio_gate_to_matrix: gate_to_matrix,
        large,
        targets,
    };
    print_table(&b);
    let out = args.json.clone().unwrap_or_else(|| root.join("target/bench.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&b)?)?;
    println!("\n(JSON: {})", out.display());
    Ok(true)
}

fn target(what: String, measured: f64, limit: f64) -> Target {
    Target { what, measured, limit, met: measured <= limit }
}

fn sel(kernels: &[String], scenarios: &[String], env: &str) -> lockgate::internals::plan::Selection {
    lockgate::internals::plan::Selection {
        kernels: kernels.to_vec(),
        scenarios: scenarios.to_vec(),
        envs: vec![env.to_string()],
        ..Default::default()
    }
}

/// A measured run must have run: a harness error or a failing cell makes its time meaningless.
fn checked(r: RunReport) -> Result<RunReport> {
    for k in &r.kernels {
        anyhow::ensure!(
            k.error.is_none(),
            "{}: {}",
            k.name,
            k.error.as_ref().map(|e| e.to_string()).unwrap_or_default()
        );
    }
    anyhow::ensure!(r.ok(), "a cell failed during the benchmark; run `cargo xtask vm-test` to see which");
    Ok(r)
}

/// One kernel's boot running these scenarios (all when empty) in `env`.
fn cell(base: &RunOptions, kernel: &str, scenarios: &[String], env: &str) -> Result<BootSummary> {
    let r = checked(run(&RunOptions { selection: sel(&[kernel.to_string()], scenarios, env), ..base.clone() })?)?;
    r.kernels[0].boot.clone().context("no boot")
}

/// The mean over a boot's cases of `f`.
fn case_mean(g: &GuestTiming, f: impl Fn(&CaseTiming) -> f64) -> f64 {
    g.cases.iter().map(f).sum::<f64>() / g.cases.len().max(1) as f64
}

fn breakdown(boots: &[BootSummary]) -> Breakdown {
    let guest: Vec<(f64, &GuestTiming)> =
        boots.iter().filter_map(|b| Some((b.wall.as_secs_f64(), b.guest.as_ref()?))).collect();
    let m = |f: &dyn Fn(f64, &GuestTiming) -> f64| median(guest.iter().map(|(w, g)| f(*w, g)).collect());
    Breakdown {
        to_agent_s: m(&|_, g| g.agent_start),
        preflight_s: m(&|_, g| g.preflight_end - g.agent_start),
        cases_s: m(&|_, g| g.done - g.preflight_end),
        rest_s: m(&|w, g| w - g.done),
        case_s: m(&|_, g| case_mean(g, |c| c.total)),
        case_control_s: m(&|_, g| case_mean(g, |c| c.control)),
        case_enforced_s: m(&|_, g| case_mean(g, |c| c.enforced)),
        case_other_s: m(&|_, g| case_mean(g, |c| c.total - c.control - c.enforced)),
    }
}

/// Every environment on one kernel, each against bare in the same repeat (bare first, so that
/// its row reads 0 added).
fn env_rows(
    base: &RunOptions,
    kernel: &str,
    envs: &[String],
    repeat: usize,
    scenarios: &[String],
    n: usize,
) -> Result<Vec<EnvRow>> {
    let mut rows = Vec::new();
    let mut order: Vec<&String> = envs.iter().filter(|e| *e == "bare").collect();
    order.extend(envs.iter().filter(|e| *e != "bare"));
    for env in order {
        let (mut bare, mut cell_s, mut case, mut runs, mut rss) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeat {
            let b = cell(base, kernel, scenarios, "bare")?;
            let c = if env == "bare" { b.clone() } else { cell(base, kernel, scenarios, env)? };
            bare.push(b.wall.as_secs_f64());
            cell_s.push(c.wall.as_secs_f64());
            rss.push(c.peak_rss_kib.unwrap_or(0) as f64 / 1024.0);
            let g = c.guest.as_ref().context("no guest timing")?;
            case.push(case_mean(g, |t| t.total));
            runs.push(case_mean(g, |t| t.control + t.enforced));
        }
        let (b, c) = (median(bare), median(cell_s));
        eprintln!("bench: {env} on {kernel}: {n} scenarios {c:.2}s against {b:.2}s bare");
        rows.push(EnvRow {
            env: env.clone(),
            kernel: kernel.into(),
            scenarios: n,
            cell_s: c,
            bare_s: b,
            added_per_case_s: (c - b) / n.max(1) as f64,
            case_s: median(case),
            case_runs_s: median(runs),
            peak_rss_mib: median(rss),
        });
    }
    Ok(rows)
}

fn print_table(b: &Bench) {
    println!("\naccelerator: {}, median of {}", b.accel, b.repeat);
    println!(
        "{:<24} {:>7} {:>8} {:>9} {:>9} {:>10} {:>8}   {:>8} {:>9} {:>7} {:>6}   {:>7} {:>7} {:>8} {:>6}  {:>7}",
        "kernel",
        "floor",
        "1 scen.",
        "all",
        "all/floor",
        "+scenario",
        "of floor",
        "to agent",
        "preflight",
        "cases",
        "rest",
        "case",
        "control",
        "enforced",
        "other",
        "QEMU RSS"
    );
    for r in &b.kernels {
        let d = &r.breakdown;
        println!(
            "{:<24} {:>6.2}s {:>7.2}s {:>8.2}s {:>9.2} {:>8.1}ms {:>7.1}%   {:>7.2}s {:>8.3}s {:>6.2}s {:>5.2}s   {:>5.1}ms {:>5.1}ms {:>6.1}ms {:>4.1}ms  {:>5.0}MiB",
            r.kernel,
            r.floor_s,
            r.one_scenario_s,
            r.all_scenarios_s,
            r.ratio_all_to_floor,
            1000.0 * r.per_added_scenario_s,
            100.0 * r.per_added_scenario_of_floor,
            d.to_agent_s,
            d.preflight_s,
            d.cases_s,
            d.rest_s,
            1000.0 * d.case_s,
            1000.0 * d.case_control_s,
            1000.0 * d.case_enforced_s,
            1000.0 * d.case_other_s,
            r.peak_rss_mib
        );
    }
    println!("(to agent … rest: where the all-scenario cell's wall time went, by the guest's clock; case, control, enforced, other: per case, mean)");
    println!(
        "\nper environment on {}: every scenario, against bare in the same repeat",
        b.envs.first().map(|e| e.kernel.as_str()).unwrap_or("?")
    );
    println!(
        "{:<16} {:>9} {:>8} {:>9} {:>12} {:>9} {:>9}  {:>7}",
        "environment", "scenarios", "cell", "bare", "+ per case", "case", "runs", "QEMU RSS"
    );
    for e in &b.envs {
        println!(
            "{:<16} {:>9} {:>7.2}s {:>8.2}s {:>10.1}ms {:>7.1}ms {:>7.1}ms  {:>5.0}MiB",
            e.env,
            e.scenarios,
            e.cell_s,
            e.bare_s,
            1000.0 * e.added_per_case_s,
            1000.0 * e.case_s,
            1000.0 * e.case_runs_s,
            e.peak_rss_mib
        );
    }
    println!("(+ per case: (cell − bare) / scenarios, the container's start included; case, runs: per case, mean, by the guest's clock)");
    println!(
        "whole default matrix ({} kernels × every environment) at -j {}: {:.1}s against {:.1}s bare only, ratio {:.2}",
        b.matrix_kernels, b.jobs, b.matrix_all_envs_s, b.matrix_bare_s, b.ratio_matrix_to_bare
    );
    println!(
        "  (its floor, were every case as cheap as bare: {:.2} — {} environments give {} times the bare matrix's cases)",
        b.ratio_matrix_floor,
        b.envs.len(),
        b.envs.len()
    );
    println!(
        "bare matrix ({} kernels): -j 1 {:.1}s, -j {} {:.1}s, ratio {:.2}",
        b.matrix_kernels, b.matrix_j1_s, b.jobs, b.matrix_jn_s, b.ratio_jn_to_j1
    );
    let phases: Vec<String> = b.warm_host_phases.iter().map(|(n, s)| format!("{n} {:.0}ms", 1000.0 * s)).collect();
    println!("warm start, host-side work before the first boot: {:.2}s ({})", b.warm_host_setup_s, phases.join(", "));
    let (g, l) = (&b.gate, &b.large);
    println!(
        "mutation gate ({} kernels, {} boots): {:.1}s, {:.2} × the whole matrix ({}passed)",
        g.kernels,
        g.boots,
        g.wall_s,
        b.ratio_gate_to_matrix,
        if g.passed { "" } else { "NOT " }
    );
    println!(
        "{} expectations ({} operations) on {}: boot {:.1}s; judged in {:.2}s, output files {:.2}s, snapshot {:.2}s, reports {:.2}s",
        l.expectations, l.operations, l.kernel, l.boot_s, l.judge_s, l.files_s, l.snapshot_s, l.report_s
    );
    println!("\ntargets:");
    for t in &b.targets {
        println!("  {:<5} {:<60} {:>8.3} (limit {})", if t.met { "met" } else { "MISS" }, t.what, t.measured, t.limit);
    }
}
