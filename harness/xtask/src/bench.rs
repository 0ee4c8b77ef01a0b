//! `cargo xtask bench`: where a run's time goes, as ratios measured in one run.
//!
//! For each kernel: the floor (the bare kernel with an init that powers off at once), the cell
//! with one scenario, the cell with every scenario; then the whole matrix with `-j 1` and with
//! `-j cores`, and the host-side work of a warm start. Medians over `--repeat` runs.

use anyhow::{Context, Result};
use lockgate::run::{run, RunOptions};
use lockgate::vm::console::{boot, Ended, Watch};
use lockgate::vm::qemu::{Accel, Boot};
use serde::Serialize;
use std::time::Duration;

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
}

#[derive(Serialize)]
struct Bench {
    accel: String,
    repeat: usize,
    kernels: Vec<KernelRow>,
    matrix_j1_s: f64,
    matrix_jn_s: f64,
    jobs: usize,
    ratio_jn_to_j1: f64,
    warm_host_setup_s: f64,
    container_env: String,
    container_added_per_scenario_s: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

pub fn bench(repeat: usize, kernels: Vec<String>) -> Result<bool> {
    let root = lockgate::guest_build::workspace_root();
    let model = lockgate::model::load(&root.join("scenarios"), &root.join("kernels"))?;
    let cache = lockgate::cache::Cache::from_env()?;
    let mut fetcher = lockgate::run::fetcher(&root, &root.join("kernels"), cache.clone(), false)?;
    let busybox = fetcher.busybox()?;
    let tmp = cache.tempdir()?;
    let initrd = tmp.path().join("floor.cpio");
    // The floor: the same trivial init as the boot soak, powering off at once.
    crate::soak::trivial_initrd(&busybox.path, crate::soak::Exit::Poweroff, &initrd)?;
    let names: Vec<String> = lockgate::plan::select_kernels(&model, &kernels)?.into_iter().map(|i| model.kernels[i].value.name.to_string()).collect();
    let first_scenario = model.scenarios.iter().map(|s| s.value.name.to_string()).min().context("no scenarios")?;
    let mut base = RunOptions::new(root.clone());
    base.snapshots = false;
    base.jobs = 1;
    // Decide the accelerator once (a hanging KVM is detected by the first run).
    let probe = run(&RunOptions { selection: sel(&names[..1], &[first_scenario.clone()]), ..base.clone() })?;
    let accel = probe.kernels[0].boot.as_ref().map(|b| b.accel).unwrap_or(Accel::Tcg);
    base.accel = match accel {
        Accel::Kvm => lockgate::vm::accel::AccelChoice::Kvm,
        Accel::Tcg => lockgate::vm::accel::AccelChoice::Tcg,
    };
    let mut rows = Vec::new();
    for name in &names {
        let k = &model.kernels.iter().find(|k| k.value.name.as_str() == name).unwrap().value;
        let kernel = fetcher.kernel(k)?;
        let records = tmp.path().join("floor.records");
        let mut floor = Vec::new();
        let mut one = Vec::new();
        let mut all = Vec::new();
        for _ in 0..repeat {
            let b = Boot { kernel: &kernel.path, initrd: &initrd, extra_cmdline: &k.cmdline, records: &records, accel, memory_mb: 256 };
            let out = boot(&b, &Watch { deadline: Duration::from_secs(60), silence_limit: None, echo: false, interactive: false })?;
            anyhow::ensure!(out.ended == Ended::PoweredOff, "{name}: the floor boot did not power off: {:?}\n{}", out.ended, out.console_tail(10));
            floor.push(out.wall.as_secs_f64());
            one.push(cell_time(&base, name, &[first_scenario.clone()])?);
            all.push(cell_time(&base, name, &[])?);
        }
        let scenarios = model.scenarios.len();
        let (f, o, a) = (median(floor), median(one), median(all));
        let per = if scenarios > 1 { (a - o) / (scenarios - 1) as f64 } else { 0.0 };
        rows.push(KernelRow {
            kernel: name.clone(),
            floor_s: f,
            one_scenario_s: o,
            all_scenarios_s: a,
            scenarios,
            ratio_all_to_floor: a / f,
            per_added_scenario_s: per,
            per_added_scenario_of_floor: per / f,
        });
        eprintln!("bench: {name}: floor {f:.2}s, 1 scenario {o:.2}s, {scenarios} scenarios {a:.2}s");
    }
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let matrix = |j: usize| -> Result<f64> {
        let r = run(&RunOptions { jobs: j, selection: sel(&names, &[]), ..base.clone() })?;
        Ok(r.wall.as_secs_f64() - r.host_setup.as_secs_f64())
    };
    let j1 = matrix(1)?;
    let jn = matrix(jobs)?;
    let warm = run(&RunOptions { selection: sel(&names[..1], &[first_scenario]), ..base.clone() })?;
    // What a container environment adds per scenario: the same kernel and scenarios in
    // docker-26.1.5 against bare (one container start per scenario).
    let container_env = "docker-26.1.5";
    let boot_of = |env: &str| -> Result<f64> {
        let r = run(&RunOptions { selection: sel_env(&names[..1], &[], env), ..base.clone() })?;
        let k = &r.kernels[0];
        anyhow::ensure!(k.error.is_none(), "{}", k.error.clone().unwrap_or_default());
        Ok(k.boot.as_ref().context("no boot")?.wall.as_secs_f64())
    };
    let (bare_all, container_all) = (boot_of("bare")?, boot_of(container_env)?);
    let container_per_scenario = (container_all - bare_all) / model.scenarios.len().max(1) as f64;
    let b = Bench {
        accel: accel.to_string(),
        repeat,
        kernels: rows,
        matrix_j1_s: j1,
        matrix_jn_s: jn,
        jobs,
        ratio_jn_to_j1: jn / j1,
        warm_host_setup_s: warm.host_setup.as_secs_f64(),
        container_env: container_env.to_string(),
        container_added_per_scenario_s: container_per_scenario,
    };
    print_table(&b);
    let json = serde_json::to_string_pretty(&b)?;
    let out = root.join("target/bench.json");
    std::fs::write(&out, &json)?;
    println!("\n(JSON: {})", out.display());
    Ok(true)
}

/// Kernel rows and the matrix are measured on the bare environment; containers have their own row.
fn sel(kernels: &[String], scenarios: &[String]) -> lockgate::plan::Selection {
    sel_env(kernels, scenarios, "bare")
}

fn sel_env(kernels: &[String], scenarios: &[String], env: &str) -> lockgate::plan::Selection {
    lockgate::plan::Selection { kernels: kernels.to_vec(), scenarios: scenarios.to_vec(), envs: vec![env.to_string()], ..Default::default() }
}

/// Wall time of one kernel's boot running these scenarios (all when empty).
fn cell_time(base: &RunOptions, kernel: &str, scenarios: &[String]) -> Result<f64> {
    let r = run(&RunOptions { selection: sel(&[kernel.to_string()], scenarios), ..base.clone() })?;
    let k = &r.kernels[0];
    anyhow::ensure!(k.error.is_none(), "{kernel}: {}", k.error.clone().unwrap_or_default());
    Ok(k.boot.as_ref().context("no boot")?.wall.as_secs_f64())
}

fn print_table(b: &Bench) {
    println!("\naccelerator: {}, median of {}", b.accel, b.repeat);
    println!("{:<24} {:>8} {:>8} {:>10} {:>9} {:>14} {:>10}", "kernel", "floor", "1 scen.", "all scen.", "all/floor", "per +scenario", "% of floor");
    for r in &b.kernels {
        println!(
            "{:<24} {:>7.2}s {:>7.2}s {:>9.2}s {:>9.2} {:>13.3}s {:>9.1}%",
            r.kernel,
            r.floor_s,
            r.one_scenario_s,
            r.all_scenarios_s,
            r.ratio_all_to_floor,
            r.per_added_scenario_s,
            100.0 * r.per_added_scenario_of_floor
        );
    }
    println!("\nwhole matrix: -j 1 {:.1}s, -j {} {:.1}s, ratio {:.2}", b.matrix_j1_s, b.jobs, b.matrix_jn_s, b.ratio_jn_to_j1);
    println!("warm start, host-side work before the first boot: {:.2}s", b.warm_host_setup_s);
    println!("{} adds {:.2}s per scenario over bare (on {})", b.container_env, b.container_added_per_scenario_s, b.kernels.first().map(|k| k.kernel.as_str()).unwrap_or("?"));
}
