//! `cargo xtask`: the project's tasks, in Rust so they run wherever cargo does.
//!
//! - `vm-test`: boot the kernel matrix and run the scenarios (the main job);
//! - `test`: everything CI runs: unit tests, then VM tests on real kernels;
//! - `kernels`: list, fetch, pin (lock) or build the matrix's kernels;
//! - `boot-soak`: boot a kernel many times with a trivial init, to count hangs per machine type.

mod backports;
mod bench;
mod bench_scale;
mod compat;
mod coverage;
mod enforcers;
mod kernel_cmd;
mod known_bad;
mod module_graph;
mod setup;
mod soak;

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
    /// The test suite CI runs: the lint gates, unit tests and VM tests on real kernels.
    Test,
    /// The lint gates: rustfmt, clippy (warnings are errors), and no module that imports one
    /// that imports it back.
    Lint,
    /// The mutation gate: the correct enforcer must pass, each known-bad mode must be caught.
    KnownBad(known_bad::KnownBadArgs),
    /// Measure where a run's time goes: floor boot vs cell, per added scenario, -j 1 vs -j N.
    Bench(bench::BenchArgs),
    /// Manage the kernel matrix.
    Kernels {
        #[command(subcommand)]
        cmd: KernelsCmd,
    },
    /// Boot a kernel N times with a trivial init; count hangs and time each boot (the machine
    /// type's evidence).
    BootSoak(soak::SoakArgs),
    /// The coverage table: every Landlock right, its first ABI, probe, known-bad mode and the
    /// kernels whose snapshots show it checked (`--readme` writes it into README.md).
    Coverage(coverage::CoverageArgs),
    /// Print each crate's module graph (who refers to whom) and its cycles, if any.
    ModuleGraph,
    /// External enforcers: `fetch` builds or downloads every adapter's pinned binary.
    Enforcers {
        #[command(subcommand)]
        cmd: EnforcersCmd,
    },
    /// The compatibility table of real enforcers: `run` them over the suite, render the `table`.
    Compat {
        #[command(subcommand)]
        cmd: compat::CompatCmd,
    },
}

#[derive(Subcommand)]
enum EnforcersCmd {
    /// Fetch or build the enforcers whose adapters say `binary: {fetch: …}` (default: all), pinned,
    /// into lockgate's cache, and check that each calls Landlock.
    Fetch {
        /// Adapter names; default: every adapter with a fetched binary.
        names: Vec<String>,
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
    /// Build the kernels built from source (`source: build:`), or find them in the cache.
    Build {
        /// Kernels to build, comma-separated; default: every `build:` kernel.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
        /// Build again even when the cache has the kernel.
        #[arg(long)]
        rebuild: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::VmTest(args) => vm_test(&args),
        Cmd::Test => test(),
        Cmd::Lint => lint(),
        Cmd::KnownBad(args) => known_bad::run(&args),
        Cmd::Kernels { cmd } => kernels(cmd),
        Cmd::Bench(args) => bench::bench(&args),
        Cmd::BootSoak(args) => soak::run(&args),
        Cmd::ModuleGraph => module_graph_cmd(),
        Cmd::Coverage(args) => coverage::run(&args),
        Cmd::Enforcers { cmd: EnforcersCmd::Fetch { names } } => enforcers::fetch(&names),
        Cmd::Compat { cmd } => compat::run(&cmd),
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
    let mut args = args.clone();
    args.default_project = Some(lockgate::guest_build::workspace_root());
    let args = &args;
    setup::ensure_host_tools()?;
    if setup::selection_needs_a_build(&args.options()) {
        // Not fatal: without the tools, that kernel's cells are errors naming what to install.
        if let Err(e) = setup::ensure_build_tools() {
            eprintln!("xtask: warning: {e:#}");
        }
    }
    args.finish(lockgate::run::run(&args.options()))
}

/// The lint gates, fastest first; each failure says what to run.
fn lint() -> Result<bool> {
    let root = lockgate::guest_build::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let gate = |args: &[&str], fix: &str| -> Result<()> {
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args(args)
            .status()
            .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
        if !status.success() {
            bail!("`cargo {}` failed: {fix}", args.join(" "));
        }
        Ok(())
    };
    gate(&["fmt", "--all", "--check"], "run `cargo fmt --all` (rustfmt.toml sets the width)")?;
    let problems = module_graph::check(&root);
    if !problems.is_empty() {
        bail!("module cycles (see `cargo xtask module-graph`):\n{}", problems.join("\n"));
    }
    gate(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"], "fix the warnings above")?;
    // The README's coverage table is generated: a right, scenario or snapshot added without it
    // makes it stale.
    coverage::run(&coverage::CoverageArgs { readme: false, check: true })
}

fn test() -> Result<bool> {
    let mut took = Phases::default();
    let result = test_phases(&mut took);
    // Where the time went, whatever the outcome: the budget is 8 minutes warm (issue 30).
    let total: f64 = took.0.iter().map(|(_, s)| s).sum();
    let parts: Vec<String> = took.0.iter().map(|(n, s)| format!("{n} {s:.0}s")).collect();
    eprintln!("\nxtask test: {total:.0}s in all: {}", parts.join(", "));
    result
}

/// Each phase of the test command and its seconds.
#[derive(Default)]
struct Phases(Vec<(&'static str, f64)>);

impl Phases {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = std::time::Instant::now();
        let result = f();
        self.0.push((name, started.elapsed().as_secs_f64()));
        result
    }
}

/// The test command's phases: set-up and lint, the build, the unit tests, the integration and
/// VM tests, the mutation gate.
fn test_phases(took: &mut Phases) -> Result<bool> {
    took.time("set-up and lint", || {
        setup::ensure_host_tools()?;
        // The VM test of a real enforcer fetches it (npm) as `cargo xtask enforcers fetch` does.
        setup::ensure_enforcer_tools()?;
        lint()
    })?;
    let root = lockgate::guest_build::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let cargo_test = |args: &[&str], what: &str| -> Result<()> {
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--workspace"])
            .args(args)
            .status()
            .context("cannot run cargo test")?;
        if !status.success() {
            bail!("cargo test failed ({what})");
        }
        Ok(())
    };
    // The whole workspace, guest crates included; the VM tests in harness/lockgate/tests boot
    // real kernels. One test thread per core is what the machine can boot at once.
    took.time("build", || cargo_test(&["--no-run"], "build"))?;
    took.time("unit tests", || {
        cargo_test(&["--lib", "--bins"], "unit tests")?;
        cargo_test(&["--doc"], "doc tests")
    })?;
    took.time("integration and VM tests", || cargo_test(&["--test", "*", "--", "--test-threads=2"], "VM tests"))?;
    took.time("mutation gate", || known_bad::run(&known_bad::KnownBadArgs::all()))
}

fn module_graph_cmd() -> Result<bool> {
    let root = lockgate::guest_build::workspace_root();
    for (name, src) in module_graph::workspace_crates(&root) {
        let g = module_graph::crate_graph(&src);
        println!("# {name}\n{}", g.render());
        println!("## {name}, top-level modules\n{}", g.top_level().render());
    }
    let problems = module_graph::check(&root);
    for p in &problems {
        println!("problem: {p}");
    }
    Ok(problems.is_empty())
}

fn kernels(cmd: KernelsCmd) -> Result<bool> {
    let root = lockgate::guest_build::workspace_root();
    let model = lockgate::model::load(&root.join("scenarios"), &root.join("kernels"))?;
    let cache = lockgate::cache::Cache::from_env()?;
    match cmd {
        KernelsCmd::List => {
            let f = lockgate::fetch::for_repo(&root, &root.join("kernels"), cache.clone(), false)?;
            kernel_cmd::list(&model, &f, &cache)
        }
        KernelsCmd::Build { kernel, rebuild } => {
            setup::ensure_build_tools()?;
            let mut f = lockgate::fetch::for_repo(&root, &root.join("kernels"), cache.clone(), false)?;
            kernel_cmd::build(&model, &mut f, &kernel, rebuild)
        }
        KernelsCmd::Fetch | KernelsCmd::Lock => {
            setup::ensure_host_tools()?;
            let update = matches!(cmd, KernelsCmd::Lock);
            let mut f = lockgate::fetch::for_repo(&root, &root.join("kernels"), cache.clone(), update)?;
            let b = f.busybox()?;
            println!("busybox        {}", b.sha256);
            kernel_cmd::fetch_all(&mut f, &model, update)?;
            // Container environments: their seccomp profiles, runc and its libraries.
            let envs: Vec<_> = model
                .environments
                .iter()
                .filter(|e| matches!(e.kind, lockgate::model::environment::EnvKind::Container(_)))
                .collect();
            let prepared = lockgate::env::prepare(&envs, &root, &mut f, &cache)?;
            for (name, env) in &prepared.envs {
                println!("{name:<14} {}", env.facts.profile_sha256.as_deref().unwrap_or("(no profile)"));
            }
            for b in prepared.runtime.iter().flat_map(|rt| &rt.binaries) {
                println!("{:<14} {} ({})", b.name.as_str(), b.sha256, b.version);
            }
            Ok(true)
        }
    }
}
