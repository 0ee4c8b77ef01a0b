//! `cargo xtask`: the project's tasks, in Rust so they run wherever cargo does.
//!
//! - `vm-test`: boot the kernel matrix and run the scenarios (the main job);
//! - `test`: everything CI runs: unit tests, then VM tests on real kernels;
//! - `kernels`: list, fetch or pin (lock) the matrix's kernels.

mod bench;
mod known_bad;
mod setup;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use lockgate::cli::VmTestArgs;
use std::process::Command;

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Boot each kernel of the matrix in QEMU, run every scenario, judge, snapshot.
    VmTest(VmTestArgs),
    /// The test suite CI runs: unit tests and VM tests on real kernels.
    Test,
    /// The mutation gate: the correct enforcer must pass, each known-bad mode must be caught.
    KnownBad(known_bad::KnownBadArgs),
    /// Measure where a run's time goes: floor boot vs cell, per added scenario, -j 1 vs -j N.
    Bench {
        /// Runs per measurement (the median is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Kernels to measure, comma-separated; default: all.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
    },
    /// Manage the kernel matrix.
    Kernels {
        #[command(subcommand)]
        cmd: KernelsCmd,
    },
}

#[derive(Subcommand)]
enum KernelsCmd {
    /// Name, source, expected ABI, cached or not.
    List,
    /// Fetch (and verify) every kernel and guest package.
    Fetch,
    /// Fetch what is not pinned yet and record its sha256 in the lock files.
    Lock,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::VmTest(args) => vm_test(&args),
        Cmd::Test => test(),
        Cmd::KnownBad(args) => known_bad::run(&args),
        Cmd::Kernels { cmd } => kernels(cmd),
        Cmd::Bench { repeat, kernel } => bench::bench(repeat.max(1), kernel),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn vm_test(args: &VmTestArgs) -> Result<bool> {
    setup::ensure_host_tools()?;
    args.finish(lockgate::run::run(&args.options()))
}

fn test() -> Result<bool> {
    setup::ensure_host_tools()?;
    let root = lockgate::guest_build::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The whole workspace, guest crates included; the VM tests in harness/lockgate/tests boot
    // real kernels. One test thread per core is what the machine can boot at once.
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["test", "--workspace", "--", "--test-threads=2"])
        .status()
        .context("cannot run cargo test")?;
    if !status.success() {
        bail!("cargo test failed");
    }
    known_bad::run(&known_bad::KnownBadArgs::all())
}

fn kernels(cmd: KernelsCmd) -> Result<bool> {
    let root = lockgate::guest_build::workspace_root();
    let model = lockgate::model::load(&root.join("scenarios"), &root.join("kernels"))?;
    let cache = lockgate::cache::Cache::from_env()?;
    match cmd {
        KernelsCmd::List => {
            let lock = lockgate::fetch::lock::LockFile::load(&root.join("kernels/lock.yaml"))?;
            println!("{:<14} {:<8} {:<64} {}", "kernel", "abi", "source", "pinned sha256");
            for k in &model.kernels {
                let k = &k.value;
                let (source, pin) = match &k.source {
                    lockgate::model::kernel::KernelSource::Package { package, .. } => {
                        let pin = lock.get(&package.lock_key()).map(|d| {
                            let cached = cache.blob_path(d).exists();
                            format!("{}…{}", &d[..16], if cached { " (cached)" } else { "" })
                        });
                        (package.lock_key(), pin.unwrap_or_else(|| "NOT PINNED".into()))
                    }
                    lockgate::model::kernel::KernelSource::Path { path } => (format!("path {path}"), "(local, not pinned)".into()),
                };
                println!("{:<14} {:<8} {:<64} {}", k.name, k.abi.to_string(), source, pin);
            }
            Ok(true)
        }
        KernelsCmd::Fetch | KernelsCmd::Lock => {
            setup::ensure_host_tools()?;
            let update = matches!(cmd, KernelsCmd::Lock);
            let mut f = lockgate::run::fetcher(&root, &root.join("kernels"), cache, update)?;
            let b = f.busybox()?;
            println!("busybox        {}", b.sha256);
            for k in &model.kernels {
                let a = f.kernel(&k.value)?;
                println!("{:<14} {} ({})", k.value.name, a.sha256, a.path.display());
            }
            Ok(true)
        }
    }
}
