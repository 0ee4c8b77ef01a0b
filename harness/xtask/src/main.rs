//! `cargo xtask`: lockgate's own development tasks, in Rust so they run wherever cargo does.
//!
//! - `test`: everything CI runs: lint, unit tests, VM tests on real kernels, the mutation gate;
//! - `lint`, `module-graph`: the lint gates and each crate's module graph;
//! - `book`: the book (`book/`) built into `target/book`, its generated pages and links checked;
//! - `bench`, `boot-soak`: where a run's time goes; hangs and boot times per machine type;
//! - `package`: lockgate as `.crate` files, built again from them alone with `--verify-install`;
//! - `schemas`: the JSON Schemas in `schemas/`, generated from the file kinds' types.
//!
//! Every other command (`vm-test`, `kernels`, `known-bad`, …) is the product's, handed to
//! `lockgate::cli` as a sandbox project's xtask hands it.

mod bench;
mod bench_scale;
mod book;
mod book_links;
mod book_pages;
mod doc_comments;
mod floor;
mod module_graph;
mod one_cache;
mod package;
mod schemas;
mod shared_build;
mod soak;
mod test_cmd;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use lockgate::cli::Invocation;
use std::process::Command;

/// lockgate's own development tasks. Every other command (`vm-test`/`run`, `check`, `init`,
/// `kernels`, `enforcers`, `known-bad`, `compat`, `coverage`) is the product's, run as a
/// project's xtask runs it: `lockgate::cli`, on this repository.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The test suite CI runs: the lint gates, unit tests, VM tests on real kernels and the
    /// mutation gate.
    Test,
    /// The lint gates: rustfmt, the module graph and may-import table, the library's façade,
    /// one cache per command, clippy (warnings are errors), the JSON Schemas up to date, the
    /// book built with its generated pages (the coverage table among them) up to date and every
    /// link resolved.
    Lint,
    /// Build the book (`book/`) into target/book and check its links; `--write` regenerates the
    /// reference pages made from the code first.
    Book(book::BookArgs),
    /// Measure where a run's time goes: floor boot vs cell, per added scenario, -j 1 vs -j N.
    Bench(bench::BenchArgs),
    /// Boot a kernel N times with a trivial init; count hangs and time each boot (the machine
    /// type's evidence).
    BootSoak(soak::SoakArgs),
    /// Print each crate's module graph (who refers to whom) and its cycles, if any.
    ModuleGraph,
    /// Package lockgate as `.crate` files (with the checkout's files it embeds), and with
    /// `--verify-install DIR` build it from them alone.
    Package(package::PackageArgs),
    /// Write the JSON Schemas of the files a user writes into `schemas/` (`--check`: compare).
    Schemas(schemas::SchemasArgs),
}

/// The commands that are lockgate's own; any other goes to the product.
const OWN: [&str; 8] = ["test", "lint", "book", "bench", "boot-soak", "module-graph", "package", "schemas"];

fn main() {
    let first = std::env::args().nth(1).unwrap_or_default();
    if !OWN.contains(&first.as_str()) && !first.starts_with('-') {
        // The product's commands, on this repository, in the xtask's form.
        let root = lockgate::internals::supply::guest::workspace_root();
        std::process::exit(lockgate::cli::dispatch(std::env::args_os(), Some(&root), Invocation::Xtask));
    }
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Test => test_cmd::test(),
        Cmd::Lint => lint(Clippy::Separately),
        Cmd::Book(args) => book::book(&args),
        Cmd::Bench(args) => bench::bench(&args),
        Cmd::BootSoak(args) => soak::run(&args),
        Cmd::ModuleGraph => module_graph_cmd(),
        Cmd::Package(args) => package::package(&args),
        Cmd::Schemas(args) => schemas::run(&args),
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

/// A product command on this repository, as `cargo xtask ARGS` runs it; whether it passed.
pub(crate) fn product(args: &[&str]) -> Result<bool> {
    let root = lockgate::internals::supply::guest::workspace_root();
    let argv = std::iter::once("cargo xtask").chain(args.iter().copied()).map(Into::into);
    match lockgate::cli::dispatch(argv, Some(&root), Invocation::Xtask) {
        0 => Ok(true),
        1 => Ok(false),
        _ => bail!("`cargo xtask {}` could not run (its error is above)", args.join(" ")),
    }
}

/// Whether the lint runs clippy itself, or the caller's build does (`cargo xtask test`, whose
/// build of the workspace goes through clippy's driver: one compilation for both).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clippy {
    Separately,
    InTheBuild,
}

/// The lint gates, fastest first; each failure says what to run.
pub(crate) fn lint(clippy: Clippy) -> Result<bool> {
    let root = lockgate::internals::supply::guest::workspace_root();
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
    let mut problems = module_graph::check(&root);
    problems.extend(module_graph::check_facade(&root));
    problems.extend(one_cache::check(&root));
    if !problems.is_empty() {
        bail!("module graph (see `cargo xtask module-graph`):\n{}", problems.join("\n"));
    }
    if clippy == Clippy::Separately {
        gate(
            &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"],
            "fix the warnings above",
        )?;
    }
    let twice = shared_build::check(&root)?;
    if !twice.is_empty() {
        bail!("{}", twice.join("\n"));
    }
    // The schemas are generated from the file kinds' types: a field added without them makes
    // them stale.
    let mut stale = schemas::check(&root.join("schemas"))?;
    // Every shipped file of a kind a schema covers names it for editors.
    stale.extend(schemas::check_modelines(&root)?);
    if !stale.is_empty() {
        bail!("schemas:\n{}", stale.join("\n"));
    }
    // The book's reference pages are generated (the coverage table from the snapshots too): a
    // flag, probe, fault mode, field, right or snapshot added without them makes one stale.
    book::book(&book::BookArgs { write: false })
}

fn module_graph_cmd() -> Result<bool> {
    let root = lockgate::internals::supply::guest::workspace_root();
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
