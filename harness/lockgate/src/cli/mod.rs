//! The product's commands: one command line for the `lockgate` binary, a project's `cargo xtask`
//! (whose `main` is [`main`]) and the GitHub Action (which runs the binary). Every command a
//! user of lockgate needs is here; lockgate's own xtask keeps only what develops lockgate.
//!
//! Each command is a module of its own; this one parses the command line, records how lockgate
//! was invoked (so messages name commands the reader has) and finds the project.

mod backports;
mod check;
mod compat;
mod coverage;
mod drift;
mod enforcers;
mod init;
mod kernels;
pub(crate) mod known_bad;
mod project;
mod run;
pub(crate) mod setup;

pub use crate::invocation::Invocation;
use project::Project;
pub use run::{print_report, VmTestArgs};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The commands of the `lockgate` binary and of a project's `cargo xtask`.
#[derive(Parser)]
#[command(
    name = "lockgate",
    version,
    about = "Prove a Landlock sandbox enforcer really enforces, on real kernels in QEMU",
    long_about = "Prove a Landlock sandbox enforcer really enforces, on real kernels in QEMU.\n\n\
        A project is a directory with scenarios/ (what must be denied or allowed, with snapshots/), \
        enforcers/ (adapters for the enforcer under test), an optional lockgate.yaml (which \
        enforcer), and optional kernels/ and images/ (lockgate's shipped ones are the defaults). \
        Start one with `lockgate init`.\n\n\
        Exit status: 0 passed, 1 failed (a verdict, a snapshot or the gate), 2 the command could not run."
)]
pub struct Command {
    /// The project's lockgate directory (default: the directory the project's xtask names, else
    /// the current directory).
    #[arg(long = "project", visible_alias = "repo", value_name = "DIR", global = true)]
    project: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Subcommand)]
enum Sub {
    /// Boot the kernel matrix, run the scenarios, judge and snapshot them.
    #[command(visible_alias = "vm-test")]
    Run(Box<VmTestArgs>),
    /// Check the project's files without booting anything: every error at once, each with its
    /// file, line and field (for editors and pre-commit hooks).
    Check,
    /// Write a minimal project (lockgate.yaml, one scenario, an adapter skeleton) that passes
    /// `check`.
    Init(init::InitArgs),
    /// The kernel matrix: list, fetch, pin (lock) or build its kernels.
    Kernels {
        #[command(subcommand)]
        cmd: kernels::KernelsCmd,
    },
    /// External enforcers: fetch or build the pinned binaries their adapters name.
    Enforcers {
        #[command(subcommand)]
        cmd: enforcers::EnforcersCmd,
    },
    /// The mutation gate: the correct reference enforcer must pass the project's scenarios, and
    /// each of its known-bad modes must be caught by them.
    KnownBad(known_bad::KnownBadArgs),
    /// The compatibility table of real enforcers: `run` them over the suite, render the `table`.
    Compat {
        #[command(subcommand)]
        cmd: compat::CompatCmd,
    },
    /// The coverage table: every Landlock right, its first ABI, probe, known-bad mode and the
    /// kernels whose snapshots show it checked.
    Coverage(coverage::CoverageArgs),
}

/// The whole command line of `lockgate` or of a project's `cargo xtask`; exits 0 (passed),
/// 1 (failed) or 2 (the command could not run). `project` is the project's lockgate directory
/// when `--project` is not given (`None`: the current directory), and says the door: a project's
/// xtask passes its directory, the binary `None`.
///
/// A project's xtask `main` is this, with its own directory (`examples/sandbox/xtask`):
///
/// ```no_run
/// let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
/// lockgate::cli::main(Some(project));
/// ```
pub fn main(project: Option<PathBuf>) -> ! {
    let how = match (&project, std::env::var("LOCKGATE_INVOKED_AS").as_deref()) {
        (Some(_), _) => Invocation::Xtask,
        (None, Ok("action")) => Invocation::Action,
        (None, _) => Invocation::Binary,
    };
    std::process::exit(dispatch(std::env::args_os(), project.as_deref(), how))
}

/// The command line as clap parses it, named as `how` invoked lockgate: what `--help` prints
/// (lockgate's xtask renders the book's command-line page from it).
pub fn command(how: Invocation) -> clap::Command {
    let cmd = Command::command()
        .mut_subcommand("run", |r| r.mut_arg("enforcer_fault", |a| a.long_help(run::fault_modes_help())));
    match how {
        Invocation::Xtask => cmd.name("cargo xtask").bin_name("cargo xtask"),
        _ => cmd,
    }
}

/// Run the command line `args` (its first word is the program's name) as `how` invoked it, in
/// `project` when `--project` is not given; returns the exit status.
pub fn dispatch(args: impl IntoIterator<Item = OsString>, project: Option<&Path>, how: Invocation) -> i32 {
    crate::invocation::set(how);
    let cli = match command(how).try_get_matches_from(args).and_then(|m| Command::from_arg_matches(&m)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let explicit = cli.project.is_some();
    let root = cli.project.or_else(|| project.map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."));
    let p = Project::new(root, explicit);
    let result = match cli.cmd {
        Sub::Run(args) => run::run(&p, *args),
        Sub::Check => check::run(&p),
        Sub::Init(args) => init::run(&p, &args),
        Sub::Kernels { cmd } => kernels::run(&p, cmd),
        Sub::Enforcers { cmd } => enforcers::run(&p, cmd),
        Sub::KnownBad(args) => p.require_scenarios().and_then(|()| known_bad::run(&p, &args)),
        Sub::Compat { cmd } => p.require_scenarios().and_then(|()| compat::run(&p, &cmd)),
        Sub::Coverage(args) => p.require_scenarios().and_then(|()| coverage::run(&p, &args)),
    };
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("{}: error: {e:#}", how.prefix());
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Command::command().debug_assert();
    }
}
