//! `cargo xtask boot-soak`: boot a kernel N times with a trivial init (busybox, then power off)
//! and count the boots that hang, to back the choice of QEMU machine type with a measurement.
//!
//! `--machine pc` uses lockgate's own QEMU command line (`-machine pc -nodefaults`, exactly what
//! a run uses); `--machine microvm` the same devices on QEMU's microvm, optionally with
//! `tsc_early_khz=<host TSC kHz>` (microvm has no PIT-calibrated TSC under TCG otherwise).
//! A boot that does not end within the deadline is a hang; QEMU is killed.

use crate::floor::Exit;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use lockgate::internals::vm::qemu::{self, Accel, Boot};
use serde::Serialize;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Machine {
    /// `-machine pc -nodefaults`: what lockgate runs.
    Pc,
    /// `-machine microvm`.
    Microvm,
}

#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Kernels (names from kernels/*.yaml), comma-separated; default: the matrix.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// Boots per kernel.
    #[arg(long, default_value_t = 100)]
    pub boots: usize,
    /// Machine types to try, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pc")]
    pub machine: Vec<Machine>,
    /// microvm only: pass `tsc_early_khz=` with this value; `auto` reads the host's TSC
    /// frequency, `off` passes nothing.
    #[arg(long, default_value = "auto")]
    pub tsc_khz: String,
    /// How the trivial init ends the boot.
    #[arg(long, value_enum, default_value = "poweroff")]
    pub exit: Exit,
    /// A boot not over within this many seconds is a hang.
    #[arg(long, default_value_t = 30)]
    pub deadline: u64,
    /// Accelerator: tcg (default: the worst case, and what the measurements are about) or kvm.
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Write the results as JSON here (default: target/boot-soak.json).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct Row {
    kernel: String,
    machine: Machine,
    cmdline: String,
    boots: usize,
    clean: usize,
    hangs: usize,
    /// Ended otherwise: a panic, QEMU failing.
    failed: usize,
    median_s: f64,
    p90_s: f64,
    max_s: f64,
    first_failure: Option<String>,
}

/// The host's TSC frequency in kHz: the guest's TSC under TCG ticks with the host's.
fn host_tsc_khz() -> Option<u64> {
    if let Ok(s) = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/tsc_freq_khz") {
        if let Ok(v) = s.trim().parse() {
            return Some(v);
        }
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = cpuinfo.lines().find_map(|l| l.strip_prefix("cpu MHz")?.split(':').nth(1)?.trim().parse().ok())?;
    Some((mhz * 1000.0).round() as u64)
}

fn command(machine: Machine, b: &Boot, tsc: Option<u64>) -> Command {
    match machine {
        Machine::Pc => qemu::command(b),
        Machine::Microvm => {
            let mut cmdline = format!("console=ttyS0 panic=-1 rdinit=/init reboot=t {}", b.extra_cmdline);
            if let Some(khz) = tsc {
                cmdline.push_str(&format!(" tsc_early_khz={khz}"));
            }
            let mut cmd = Command::new(qemu::qemu_binary());
            cmd.args(["-machine", "microvm", "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none"])
                .args(["-accel", &b.accel.to_string()])
                .args(["-m", &b.memory_mb.to_string(), "-smp", "1"])
                .arg("-kernel")
                .arg(b.kernel)
                .arg("-initrd")
                .arg(b.initrd)
                .args(["-append", cmdline.trim()])
                .args(["-serial", "stdio"])
                .arg("-serial")
                .arg(format!("file:{}", b.records.display()));
            cmd
        }
    }
}

enum End {
    Clean,
    Hang,
    Failed(String),
}

/// One boot: QEMU's console to a file, killed at the deadline.
fn boot_once(cmd: &mut Command, console: &Path, deadline: Duration) -> Result<(End, Duration)> {
    let out = std::fs::File::create(console)?;
    let start = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(out).stderr(Stdio::piped()).spawn().context("cannot start QEMU")?;
    loop {
        if let Some(status) = child.try_wait()? {
            let wall = start.elapsed();
            let text = std::fs::read_to_string(console).unwrap_or_default();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            if text.contains("Kernel panic") {
                let line = text.lines().find(|l| l.contains("Kernel panic")).unwrap_or("").to_string();
                return Ok((End::Failed(line), wall));
            }
            if !status.success() {
                return Ok((End::Failed(format!("QEMU: {status}: {}", err.trim())), wall));
            }
            if !text.contains("SOAK-INIT") {
                return Ok((End::Failed(format!("QEMU exited before init ran; console tail: {}", tail(&text))), wall));
            }
            return Ok((End::Clean, wall));
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok((End::Hang, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(2)..].join(" | ")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn run(args: &SoakArgs) -> Result<bool> {
    lockgate::internals::setup::ensure_host_tools()?;
    let crate::floor::Floor { root, model, mut supply, tmp, initrd } =
        crate::floor::Floor::open("soak.cpio", args.exit)?;
    let accel = match args.accel.as_str() {
        "tcg" => Accel::Tcg,
        "kvm" => Accel::Kvm,
        other => bail!("--accel {other}: write tcg or kvm"),
    };
    let tsc = match args.tsc_khz.as_str() {
        _ if !args.machine.contains(&Machine::Microvm) => None,
        "off" => None,
        "auto" => {
            Some(host_tsc_khz().context("cannot read the host's TSC frequency; pass --tsc-khz N or --tsc-khz off")?)
        }
        n => Some(n.parse().with_context(|| format!("--tsc-khz {n}: write a number of kHz, auto or off"))?),
    };
    let deadline = Duration::from_secs(args.deadline);
    // Every (kernel, machine) pair boots once per round, round after round: under a varying
    // load (a shared machine), each pair sees the same conditions, so their times compare.
    struct Config {
        name: String,
        machine: Machine,
        kernel: std::path::PathBuf,
        extra: String,
        walls: Vec<f64>,
        hangs: usize,
        failed: usize,
        first_failure: Option<String>,
        cmdline: String,
    }
    let mut configs = Vec::new();
    for i in lockgate::internals::plan::select_kernels(&model, &args.kernel)? {
        let k = &model.kernels[i].value;
        let kernel = supply.kernel(k)?;
        for &machine in &args.machine {
            configs.push(Config {
                name: k.name.to_string(),
                machine,
                kernel: kernel.path.clone(),
                extra: k.cmdline.clone(),
                walls: Vec::new(),
                hangs: 0,
                failed: 0,
                first_failure: None,
                cmdline: String::new(),
            });
        }
    }
    let records = tmp.path().join("records");
    let console = tmp.path().join("console");
    let started = Instant::now();
    for n in 1..=args.boots {
        for c in configs.iter_mut() {
            let b = Boot {
                kernel: &c.kernel,
                initrd: &initrd,
                extra_cmdline: &c.extra,
                records: &records,
                accel,
                memory_mb: 256,
            };
            let mut cmd = command(c.machine, &b, if c.machine == Machine::Microvm { tsc } else { None });
            if c.cmdline.is_empty() {
                c.cmdline = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
            }
            let (end, wall) = boot_once(&mut cmd, &console, deadline)?;
            match end {
                End::Clean => c.walls.push(wall.as_secs_f64()),
                End::Hang => {
                    c.hangs += 1;
                    let text = std::fs::read_to_string(&console).unwrap_or_default();
                    c.first_failure.get_or_insert_with(|| {
                        format!("boot {n}: no power-off within {}s; console tail: {}", deadline.as_secs(), tail(&text))
                    });
                }
                End::Failed(why) => {
                    c.failed += 1;
                    c.first_failure.get_or_insert_with(|| format!("boot {n}: {why}"));
                }
            }
        }
        if n % 10 == 0 || n == args.boots {
            let hung: usize = configs.iter().map(|c| c.hangs).sum();
            let failed: usize = configs.iter().map(|c| c.failed).sum();
            eprintln!(
                "boot-soak: round {n}/{} ({} boots each), {hung} hung, {failed} failed, {:.0}s",
                args.boots,
                configs.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let rows: Vec<Row> = configs
        .into_iter()
        .map(|mut c| {
            c.walls.sort_by(|a, b| a.partial_cmp(b).unwrap());
            Row {
                kernel: c.name,
                machine: c.machine,
                cmdline: c.cmdline,
                boots: args.boots,
                clean: c.walls.len(),
                hangs: c.hangs,
                failed: c.failed,
                median_s: pct(&c.walls, 0.5),
                p90_s: pct(&c.walls, 0.9),
                max_s: c.walls.last().copied().unwrap_or(0.0),
                first_failure: c.first_failure,
            }
        })
        .collect();
    println!(
        "\naccelerator {accel}, trivial init ({:?}), deadline {}s{}",
        args.exit,
        args.deadline,
        tsc.map(|t| format!(", microvm tsc_early_khz={t}")).unwrap_or_default()
    );
    // Medians relative to the slowest pair's, measured in the same rounds.
    let slowest = rows.iter().map(|r| r.median_s).fold(0.0, f64::max);
    println!(
        "{:<24} {:<8} {:>6} {:>6} {:>6} {:>7} {:>8} {:>8} {:>8} {:>10}",
        "kernel", "machine", "boots", "clean", "hangs", "failed", "median", "p90", "max", "÷slowest"
    );
    for r in &rows {
        println!(
            "{:<24} {:<8} {:>6} {:>6} {:>6} {:>7} {:>7.2}s {:>7.2}s {:>7.2}s {:>10.2}",
            r.kernel,
            format!("{:?}", r.machine).to_lowercase(),
            r.boots,
            r.clean,
            r.hangs,
            r.failed,
            r.median_s,
            r.p90_s,
            r.max_s,
            if slowest > 0.0 { r.median_s / slowest } else { 0.0 }
        );
    }
    for r in rows.iter().filter(|r| r.first_failure.is_some()) {
        println!("  {} {:?}: {}", r.kernel, r.machine, r.first_failure.as_deref().unwrap_or(""));
    }
    let json = args.json.clone().unwrap_or_else(|| root.join("target/boot-soak.json"));
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?)?;
    println!("\n(JSON: {})", json.display());
    Ok(rows.iter().all(|r| r.hangs == 0 && r.failed == 0))
}
