//! `cargo xtask bench`: where a run's time goes, as ratios measured in one run.
//!
//! For each kernel: the floor (the bare kernel with an init that powers off at once), the cell
//! with one scenario and with every scenario, and the guest's own account of the full cell
//! (kernel boot, preflight, cases, the rest); then what a container environment adds per
//! scenario, the whole matrix with `-j 1` against `-j cores`, and the host-side work of a warm
//! start, step by step. Medians over `--repeat` runs. Each figure is checked against the
//! target it serves (issue 6); the table goes to stdout, everything to `target/bench.json`.

use anyhow::{Context, Result};
use lockgate::run::{run, BootSummary, RunOptions, RunReport};
use lockgate::vm::console::{boot, Ended, Watch};
use lockgate::vm::qemu::{Accel, Boot};
use lockgate_protocol::{CaseTiming, GuestTiming};
use serde::Serialize;
use std::time::Duration;

/// The environment whose container start is measured.
const CONTAINER_ENV: &str = "docker-26.1.5";

/// The targets: (all scenarios) / floor; one more scenario / floor; seconds a container adds per
/// scenario; `-j cores` / `-j 1`; seconds of host-side work before a warm run's first boot.
const ALL_TO_FLOOR: f64 = 1.25;
const PER_SCENARIO_OF_FLOOR: f64 = 0.02;
const CONTAINER_PER_SCENARIO_S: f64 = 0.5;
const JN_TO_J1: f64 = 0.6;
const WARM_HOST_S: f64 = 0.5;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Kernels to measure, comma-separated; default: the default matrix.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// The kernel on which the container environment is measured; default: the first measured.
    #[arg(long)]
    pub container_kernel: Option<String>,
    /// Where to write the JSON (default: target/bench.json).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
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

#[derive(Serialize)]
struct ContainerRow {
    env: String,
    kernel: String,
    scenarios: usize,
    bare_s: f64,
    container_s: f64,
    added_per_scenario_s: f64,
    /// Per case, mean, by the guest's clock: runc's start, both runs in the container, the rest.
    case_start_s: f64,
    case_runs_s: f64,
    case_bare_s: f64,
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
    container: ContainerRow,
    matrix_kernels: usize,
    matrix_j1_s: f64,
    matrix_jn_s: f64,
    jobs: usize,
    ratio_jn_to_j1: f64,
    warm_host_setup_s: f64,
    warm_host_phases: Vec<(String, f64)>,
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
    let root = lockgate::guest_build::workspace_root();
    let model = lockgate::model::load(&root.join("scenarios"), &root.join("kernels"))?;
    let cache = lockgate::cache::Cache::from_env()?;
    let mut fetcher = lockgate::fetch::for_repo(&root, &root.join("kernels"), cache.clone(), false)?;
    let busybox = fetcher.busybox()?;
    let tmp = cache.tempdir()?;
    let initrd = tmp.path().join("floor.cpio");
    // The floor: the same trivial init as the boot soak, powering off at once.
    crate::soak::trivial_initrd(&busybox.path, crate::soak::Exit::Poweroff, &initrd)?;
    let names: Vec<String> = lockgate::plan::select_kernels(&model, &args.kernel)?
        .into_iter()
        .map(|i| model.kernels[i].value.name.to_string())
        .collect();
    let scenarios = model.scenarios.len();
    let first_scenario = model.scenarios.iter().map(|s| s.value.name.to_string()).min().context("no scenarios")?;
    let one_scenario = std::slice::from_ref(&first_scenario);
    let mut base = RunOptions::new(root.clone());
    base.snapshots = false;
    base.jobs = 1;
    // Decide the accelerator once (a hanging KVM is detected by the first run), and warm every
    // cache so that no measured run fetches or builds anything.
    let probe = run(&RunOptions { selection: sel(&names, one_scenario, "bare"), ..base.clone() })?;
    let accel = probe.kernels[0].boot.as_ref().map(|b| b.accel).unwrap_or(Accel::Tcg);
    base.accel = match accel {
        Accel::Kvm => lockgate::vm::accel::AccelChoice::Kvm,
        Accel::Tcg => lockgate::vm::accel::AccelChoice::Tcg,
    };

    let mut rows = Vec::new();
    for name in &names {
        let k = &model.kernels.iter().find(|k| k.value.name.as_str() == name).context("kernel vanished")?.value;
        let kernel = fetcher.kernel(k)?;
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
            let full = cell(&base, name, &[], "bare")?;
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

    let container = container_row(&base, args.container_kernel.as_deref().unwrap_or(&names[0]), repeat, scenarios)?;

    // The whole matrix (every measured kernel, every scenario, bare), -j 1 against -j cores.
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let matrix = |j: usize| -> Result<f64> {
        let r = checked(run(&RunOptions { jobs: j, selection: sel(&names, &[], "bare"), ..base.clone() })?)?;
        Ok(r.wall.as_secs_f64() - r.host_setup.as_secs_f64())
    };
    let j1 = matrix(1)?;
    let jn = matrix(jobs)?;

    // A warm start: everything is cached and built; what is left is host-side work.
    let mut warm = Vec::new();
    for _ in 0..repeat {
        warm.push(run(&RunOptions { selection: sel(&names[..1], one_scenario, "bare"), ..base.clone() })?);
    }
    warm.sort_by_key(|r| r.host_setup);
    let warm = &warm[warm.len() / 2];

    let mut targets = Vec::new();
    for r in &rows {
        targets.push(target(format!("{}: all scenarios / floor", r.kernel), r.ratio_all_to_floor, ALL_TO_FLOOR));
        targets.push(target(
            format!("{}: one more scenario / floor", r.kernel),
            r.per_added_scenario_of_floor,
            PER_SCENARIO_OF_FLOOR,
        ));
    }
    targets.push(target(
        format!("{} on {}: seconds added per scenario", container.env, container.kernel),
        container.added_per_scenario_s,
        CONTAINER_PER_SCENARIO_S,
    ));
    targets.push(target(format!("matrix of {} kernels: -j {jobs} / -j 1", names.len()), jn / j1, JN_TO_J1));
    targets.push(target(
        "warm start: host-side seconds before the first boot".into(),
        warm.host_setup.as_secs_f64(),
        WARM_HOST_S,
    ));

    let b = Bench {
        accel: accel.to_string(),
        repeat,
        kernels: rows,
        container,
        matrix_kernels: names.len(),
        matrix_j1_s: j1,
        matrix_jn_s: jn,
        jobs,
        ratio_jn_to_j1: jn / j1,
        warm_host_setup_s: warm.host_setup.as_secs_f64(),
        warm_host_phases: warm.host_phases.iter().map(|(n, d)| (n.to_string(), d.as_secs_f64())).collect(),
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

fn sel(kernels: &[String], scenarios: &[String], env: &str) -> lockgate::plan::Selection {
    lockgate::plan::Selection {
        kernels: kernels.to_vec(),
        scenarios: scenarios.to_vec(),
        envs: vec![env.to_string()],
        ..Default::default()
    }
}

/// A measured run must have run: a harness error or a failing cell makes its time meaningless.
fn checked(r: RunReport) -> Result<RunReport> {
    for k in &r.kernels {
        anyhow::ensure!(k.error.is_none(), "{}: {}", k.name, k.error.clone().unwrap_or_default());
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

/// What the container environment adds per scenario on one kernel: every scenario in it against
/// every scenario bare, and the container cases' own account (runc's start, the runs).
fn container_row(base: &RunOptions, kernel: &str, repeat: usize, n: usize) -> Result<ContainerRow> {
    let (mut bare, mut cont, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut starts, mut runs, mut bare_cases) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeat {
        let b = cell(base, kernel, &[], "bare")?;
        let c = cell(base, kernel, &[], CONTAINER_ENV)?;
        bare.push(b.wall.as_secs_f64());
        cont.push(c.wall.as_secs_f64());
        rss.push(c.peak_rss_kib.unwrap_or(0) as f64 / 1024.0);
        let (cg, bg) = (c.guest.as_ref().context("no guest timing")?, b.guest.as_ref().context("no guest timing")?);
        starts.push(case_mean(cg, |t| t.total - t.control - t.enforced));
        runs.push(case_mean(cg, |t| t.control + t.enforced));
        bare_cases.push(case_mean(bg, |t| t.total));
    }
    let (b, c) = (median(bare), median(cont));
    Ok(ContainerRow {
        env: CONTAINER_ENV.into(),
        kernel: kernel.into(),
        scenarios: n,
        bare_s: b,
        container_s: c,
        added_per_scenario_s: (c - b) / n.max(1) as f64,
        case_start_s: median(starts),
        case_runs_s: median(runs),
        case_bare_s: median(bare_cases),
        peak_rss_mib: median(rss),
    })
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
    let c = &b.container;
    println!(
        "\n{} on {}: {} scenarios {:.2}s against {:.2}s bare: {:.2}s per scenario (per case: runc start and teardown {:.2}s, both runs {:.2}s, bare case {:.2}s); QEMU RSS {:.0}MiB",
        c.env, c.kernel, c.scenarios, c.container_s, c.bare_s, c.added_per_scenario_s, c.case_start_s, c.case_runs_s, c.case_bare_s, c.peak_rss_mib
    );
    println!(
        "whole matrix ({} kernels, bare): -j 1 {:.1}s, -j {} {:.1}s, ratio {:.2}",
        b.matrix_kernels, b.matrix_j1_s, b.jobs, b.matrix_jn_s, b.ratio_jn_to_j1
    );
    let phases: Vec<String> = b.warm_host_phases.iter().map(|(n, s)| format!("{n} {:.0}ms", 1000.0 * s)).collect();
    println!("warm start, host-side work before the first boot: {:.2}s ({})", b.warm_host_setup_s, phases.join(", "));
    println!("\ntargets:");
    for t in &b.targets {
        println!("  {:<5} {:<60} {:>8.3} (limit {})", if t.met { "met" } else { "MISS" }, t.what, t.measured, t.limit);
    }
}
