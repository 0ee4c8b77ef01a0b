//! Command-line arguments shared by `lockgate run` and `cargo xtask vm-test`.

use crate::plan::parse_shard;
use crate::run::{RunOptions, RunReport};
use crate::vm::accel::AccelChoice;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct VmTestArgs {
    /// Kernels to boot (names from kernels/*.yaml), comma-separated; default: all.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// Scenarios to run (names), comma-separated; default: all.
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Environments, comma-separated; default: all.
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// Run shard i of n (1-based); shards split whole kernels.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Accelerator: auto (KVM when it works, else TCG), kvm or tcg.
    #[arg(long, default_value = "auto")]
    pub accel: AccelChoice,
    /// Guests booted at once; default: the number of cores.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Run the reference enforcer with a known-bad mode (repeatable): drop-first,
    /// ignore-status, abi2, baseline-rw, no-nnp.
    #[arg(long = "enforcer-fault")]
    pub enforcer_fault: Vec<String>,
    /// Accept changed or new snapshots instead of failing.
    #[arg(long)]
    pub accept: bool,
    /// Do not compare snapshots.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Stream the guest console.
    #[arg(long, short)]
    pub verbose: bool,
    /// Per-boot deadline in seconds (default scales with cases and accelerator).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Repository root (default: this workspace).
    #[arg(long)]
    pub repo: Option<PathBuf>,
}

impl VmTestArgs {
    pub fn options(&self) -> RunOptions {
        let mut o = RunOptions::new(self.repo.clone().unwrap_or_else(crate::guest_build::workspace_root));
        o.selection.kernels = self.kernel.clone();
        o.selection.scenarios = self.scenario.clone();
        o.selection.envs = self.env.clone();
        o.selection.shard = self.shard;
        o.accel = self.accel;
        if let Some(j) = self.jobs {
            o.jobs = j.max(1);
        }
        o.enforcer.faults = self.enforcer_fault.clone();
        o.accept = self.accept;
        o.snapshots = !self.no_snapshots && self.enforcer_fault.is_empty();
        o.verbose = self.verbose;
        o.timeout = self.timeout.map(Duration::from_secs);
        o
    }
}

/// Print the run's summary; returns whether it passed.
pub fn print_report(r: &RunReport) -> bool {
    print_report_with(r, &[])
}

/// As [`print_report`], with the enforcer faults of the run (for the reproduction commands).
pub fn print_report_with(r: &RunReport, enforcer_faults: &[String]) -> bool {
    println!();
    print!("{}", crate::report::table::render(&r.cells));
    println!();
    for k in &r.kernels {
        if let Some(b) = &k.boot {
            let abi = k.preflight.as_ref().map(|p| p.landlock.to_string()).unwrap_or_else(|| "?".into());
            let ready = b.ready_after.map(|d| format!("{:.1}s", d.as_secs_f64())).unwrap_or_else(|| "-".into());
            println!("  {:<14} {}  landlock {abi:<8} agent ready {ready}, powered off {:.1}s", k.name, b.accel, b.wall.as_secs_f64());
        }
    }
    for c in &r.cells {
        match &c.outcome {
            Ok(v) if !v.passed() => {
                println!("\nFAIL {}@{}@{}:", c.scenario, c.kernel, c.env);
                for f in v.failures() {
                    println!("  - {f}");
                }
            }
            Err(e) => println!("\nERROR {}@{}@{}:\n{e}", c.scenario, c.kernel, c.env),
            _ => {}
        }
        if let Some(s) = &c.snapshot_error {
            println!("\nSNAPSHOT {}@{}@{}: {s}", c.scenario, c.kernel, c.env);
        }
        if !c.ok() {
            println!("  reproduce: {}", c.repro_command(enforcer_faults));
        }
    }
    let failed = r.cells.iter().filter(|c| !c.ok()).count();
    println!(
        "\n{} cells: {} passed, {} failed; {} kernel boots; QEMU {}; {:.1}s",
        r.cells.len(),
        r.cells.len() - failed,
        failed,
        r.kernels.len(),
        r.qemu_version,
        r.wall.as_secs_f64()
    );
    r.ok()
}
