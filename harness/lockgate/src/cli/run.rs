//! `lockgate run` (`cargo xtask vm-test` in a project's xtask): its arguments, the printed
//! summary and the report files.

use crate::plan::parse_shard;
use crate::run::{RunOptions, RunReport};
use crate::vm::accel::AccelChoice;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct VmTestArgs {
    /// Kernels to boot (names from kernels/*.yaml), comma-separated; default: the default matrix
    /// (every manifest of `matrix: default`); `nightly`: the default and nightly matrices; `all`:
    /// every manifest, opt-in ones included.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// Scenarios to run (names), comma-separated; default: all.
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Environments (`bare`, or names from images/environments/*.yaml), comma-separated; default:
    /// `bare` and the default matrix (every manifest of `matrix: default`); `nightly`: the default
    /// and nightly matrices; `all`: every environment, opt-in ones included.
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// Run shard i of n (1-based); shards split whole kernels.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Accelerator: auto (KVM when it works, else TCG), kvm or tcg.
    #[arg(long, default_value = "auto")]
    pub accel: AccelChoice,
    /// Guests booted at once (at least 1); default: the number of cores.
    #[arg(short = 'j', long, value_parser = jobs)]
    pub jobs: Option<usize>,
    /// Run the reference enforcer with a known-bad mode (repeatable); `--help` lists every mode.
    #[arg(long = "enforcer-fault", value_name = "MODE")]
    pub enforcer_fault: Vec<String>,
    /// Test an external enforcer through its adapter `enforcers/NAME.yaml` (default: the
    /// reference lockgate-enforcer).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["enforcer_file", "enforcer_fault"])]
    pub enforcer: Option<String>,
    /// Test an external enforcer through the adapter file at PATH.
    #[arg(long, value_name = "PATH", conflicts_with = "enforcer_fault")]
    pub enforcer_file: Option<PathBuf>,
    /// Accept changed or new snapshots instead of failing.
    #[arg(long)]
    pub accept: bool,
    /// Do not compare snapshots.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Stream the guest console.
    #[arg(long, short)]
    pub verbose: bool,
    /// After the cell ran, open an interactive shell in its guest (one cell: give --kernel,
    /// --scenario and --env); leaving the shell powers the guest off.
    #[arg(long)]
    pub shell: bool,
    /// Per-boot deadline in seconds (default scales with cases and accelerator).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// The project's lockgate directory as `--project` named it (set from the global flag, not a
    /// flag of its own): a reproduce line names it again.
    #[arg(skip)]
    pub repo: Option<PathBuf>,
    /// The project directory when `--project` is not given (set by the caller, not a flag).
    #[arg(skip)]
    pub default_project: Option<PathBuf>,
    /// Write a JUnit XML report to PATH (one test case per scenario × kernel × environment).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary to PATH (it is also appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Write the HTML report to PATH: one self-contained page, the matrix as a grid, each cell
    /// opening its explanation, reproduce command and output. Default: `lockgate-report.html`
    /// beside the JUnit report (or the Markdown summary) when one is asked for, else
    /// `report.html` beside the cells' output files (the snapshots' directory).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

impl VmTestArgs {
    pub fn options(&self) -> RunOptions {
        let project = self.repo.clone().or_else(|| self.default_project.clone()).unwrap_or_else(|| PathBuf::from("."));
        let mut o = RunOptions::new(project);
        o.selection.kernels = self.kernel.clone();
        o.selection.scenarios = self.scenario.clone();
        o.selection.envs = self.env.clone();
        o.selection.shard = self.shard;
        o.accel = self.accel;
        if let Some(j) = self.jobs {
            o.jobs = j;
        }
        o.enforcer.faults = self.enforcer_fault.clone();
        o.enforcer.adapter_file = match (&self.enforcer, &self.enforcer_file) {
            // "reference" names the default; any other name is looked up when the run starts.
            (Some(n), _) if n == "reference" || n == "lockgate-enforcer" => None,
            (Some(n), _) => Some(o.repo.join("enforcers").join(format!("{n}.yaml"))),
            (None, f) => f.clone(),
        };
        if self.enforcer.is_none() && self.enforcer_file.is_none() {
            o.enforcer.project_config = Some(o.repo.join("lockgate.yaml")).filter(|p| p.is_file());
        }
        o.accept = self.accept;
        o.snapshots = !self.no_snapshots && self.enforcer_fault.is_empty();
        o.verbose = self.verbose;
        o.shell = self.shell;
        o.timeout = self.timeout.map(Duration::from_secs);
        o
    }
}

impl VmTestArgs {
    /// Print the run's summary and write the reports asked for (`--junit`, `--markdown`,
    /// `$GITHUB_STEP_SUMMARY`); returns whether the run passed. A run that failed before any
    /// cell was judged still gets its reports (one harness error), then its error is returned.
    pub fn finish(&self, run: anyhow::Result<RunReport>) -> anyhow::Result<bool> {
        match run {
            Ok(r) => {
                let ok = print_report_with(&r, &self.repro_flags());
                if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
                    print!("{}", crate::report::markdown::github_annotations(&r.cells));
                }
                self.write_reports(
                    || crate::report::junit::render(&r.cells),
                    || crate::report::markdown::render(&r, &self.repro_flags()),
                )?;
                self.write_html(
                    self.html_path(&r.evidence_dir),
                    &crate::report::html::render(&r, &self.repro_flags()),
                )?;
                Ok(ok)
            }
            Err(e) => {
                let text = format!("{e:#}");
                if let Err(w) = self.write_reports(
                    || crate::report::junit::render_run_error(&text),
                    || crate::report::markdown::render_run_error(&text),
                ) {
                    crate::event::emit(crate::event::Event::Warning(format!("{w:#}")));
                }
                // Beside the other reports; a run that failed this early has no evidence files.
                if let Some(path) = self.asked_html_path() {
                    if let Err(w) = self.write_html(path, &crate::report::html::render_run_error(&text)) {
                        crate::event::emit(crate::event::Event::Warning(format!("{w:#}")));
                    }
                }
                Err(e)
            }
        }
    }

    /// The flags a cell's reproduction command needs besides the cell: the enforcer and the
    /// repository, as given to this run.
    pub fn repro_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for f in &self.enforcer_fault {
            flags.extend(["--enforcer-fault".to_string(), f.clone()]);
        }
        if let Some(n) = &self.enforcer {
            flags.extend(["--enforcer".to_string(), n.clone()]);
        }
        if let Some(f) = &self.enforcer_file {
            flags.extend(["--enforcer-file".to_string(), f.display().to_string()]);
        }
        if let Some(r) = &self.repo {
            flags.extend(["--project".to_string(), r.display().to_string()]);
        }
        flags
    }

    /// Where the HTML report goes: `--html`, else beside the JUnit report or the Markdown
    /// summary, else beside the cells' output files.
    pub fn html_path(&self, evidence_dir: &std::path::Path) -> PathBuf {
        self.asked_html_path().unwrap_or_else(|| evidence_dir.join("report.html"))
    }

    /// `--html`, else `lockgate-report.html` beside the JUnit report or the Markdown summary.
    fn asked_html_path(&self) -> Option<PathBuf> {
        let beside = self.junit.as_ref().or(self.markdown.as_ref()).map(|p| match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.join("lockgate-report.html"),
            _ => PathBuf::from("lockgate-report.html"),
        });
        self.html.clone().or(beside)
    }

    fn write_html(&self, path: PathBuf, page: &str) -> anyhow::Result<()> {
        use anyhow::Context;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {} for the HTML report", dir.display()))?;
        }
        std::fs::write(&path, page).with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
        crate::event::emit(crate::event::Event::ReportWritten { what: "HTML report".to_string(), path });
        Ok(())
    }

    fn write_reports(&self, junit: impl FnOnce() -> String, markdown: impl FnOnce() -> String) -> anyhow::Result<()> {
        use anyhow::Context;
        let write = |path: &std::path::Path, text: &str, what: &str| -> anyhow::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {} for the {what}", dir.display()))?;
            }
            std::fs::write(path, text).with_context(|| format!("cannot write the {what} to {}", path.display()))?;
            crate::event::emit(crate::event::Event::ReportWritten { what: what.to_string(), path: path.to_path_buf() });
            Ok(())
        };
        if let Some(p) = &self.junit {
            write(p, &junit(), "JUnit report")?;
        }
        let summary = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()).map(PathBuf::from);
        if self.markdown.is_some() || summary.is_some() {
            let md = markdown();
            if let Some(p) = &self.markdown {
                write(p, &md, "Markdown summary")?;
            }
            if let Some(p) = summary {
                // Appended: other steps of the job write their own parts.
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                    .and_then(|mut f| writeln!(f, "{md}"))
                    .with_context(|| {
                        format!("cannot append the Markdown summary to $GITHUB_STEP_SUMMARY ({})", p.display())
                    })?;
            }
        }
        Ok(())
    }
}

/// `run`: set-up (QEMU and the kernel build tools, installed with apt when root and missing),
/// then the run, its summary and its reports.
pub(super) fn run(project: &super::project::Project, mut args: VmTestArgs) -> anyhow::Result<bool> {
    project.require_scenarios()?;
    args.default_project = Some(project.root.clone());
    if project.explicit {
        args.repo = Some(project.root.clone());
    }
    let options = args.options();
    super::setup::ensure_host_tools()?;
    let cache = project.cache()?;
    if super::setup::selection_needs_a_build(&options, cache) {
        // Not fatal: without the tools, that kernel's cells are errors naming what to install.
        if let Err(e) = super::setup::ensure_build_tools() {
            crate::event::emit(crate::event::Event::Warning(format!("{e:#}")));
        }
    }
    args.finish(crate::run::run_with(&options, cache))
}

/// `--enforcer-fault`'s long help: every known-bad mode of the reference enforcer, with its
/// one-line meaning (from the reference enforcer's adapter, which the run checks modes against).
pub(super) fn fault_modes_help() -> String {
    let modes = crate::enforcer::reference(&[]).map(|e| e.fault_modes).unwrap_or_default();
    let width = modes.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let lines: Vec<String> = modes.iter().map(|m| format!("  {:<width$}  {}", m.name, m.about)).collect();
    format!(
        "Run the reference enforcer with a known-bad mode (repeatable); any other value is refused before anything boots. The modes:\n{}",
        lines.join("\n")
    )
}

/// Print the run's summary; returns whether it passed.
pub fn print_report(r: &RunReport) -> bool {
    print_report_with(r, &[])
}

/// As [`print_report`], with the run's flags that the reproduction commands need
/// ([`VmTestArgs::repro_flags`]).
pub fn print_report_with(r: &RunReport, repro_flags: &[String]) -> bool {
    println!();
    print!("{}", crate::report::table::render(&r.cells));
    println!();
    for k in &r.kernels {
        if let Some(b) = &k.boot {
            let abi = k.preflight.as_ref().map(|p| p.landlock.to_string()).unwrap_or_else(|| "?".into());
            let abi = match k.preflight.as_ref().map(|p| &p.landlock) {
                Some(lockgate_protocol::AbiProbe::Errno(e)) if e == "EOPNOTSUPP" => format!("{abi} (not enabled)"),
                _ => abi,
            };
            let ready = b.ready_after.map(|d| format!("{:.1}s", d.as_secs_f64())).unwrap_or_else(|| "-".into());
            // A boot that did not power off says how it ended instead.
            let ended = match b.ended.as_str() {
                "powered off" => format!("powered off {:.1}s", b.wall.as_secs_f64()),
                other => format!("ended after {:.1}s: {other}", b.wall.as_secs_f64()),
            };
            println!("  {:<14} {}  landlock {abi:<8} agent ready {ready}, {ended}", k.name, b.accel);
        }
    }
    for (kernel, cells, e) in r.kernel_errors() {
        println!("\nERROR kernel {kernel} ({cells} cells not judged):\n{e}");
    }
    for c in &r.cells {
        if r.said_by_kernel(c) {
            continue;
        }
        match &c.outcome {
            Ok(v) if !v.passed() => print!("\n{}", crate::report::failure::render(v, &r.failure_context(c))),
            Err(e) => println!("\nERROR {}@{}@{}:\n{e}", c.scenario, c.kernel, c.env),
            _ => {}
        }
        if let (Ok(v), crate::report::CellState::NothingChecked { .. }) = (&c.outcome, c.state()) {
            println!(
                "\nCHECKED NOTHING {}@{}@{}: {}",
                c.scenario,
                c.kernel,
                c.env,
                v.nothing_checked.as_deref().unwrap_or_default()
            );
        }
        if !c.verdict_ok() {
            println!("  reproduce: {}", c.repro_command_with(repro_flags));
        }
    }
    use crate::report::{SnapshotState, ACCEPT_HOW};
    let failed = r.cells.iter().filter(|c| !c.verdict_ok()).count();
    let nothing = r
        .cells
        .iter()
        .filter(|c| c.verdict_ok() && matches!(c.state(), crate::report::CellState::NothingChecked { .. }))
        .count();
    let nothing_text = match nothing {
        0 => String::new(),
        n => format!(", {n} checked nothing (every expectation skipped; under CI=true that fails unless the scenario says `may_skip_all: true`)"),
    };
    println!(
        "\n{} cells: {} passed, {} failed{nothing_text}; {} kernel boots; QEMU {}; {:.1}s",
        r.cells.len(),
        r.cells.len() - failed - nothing,
        failed,
        r.boots(),
        r.qemu_version,
        r.wall.as_secs_f64()
    );
    let count = |f: &dyn Fn(&SnapshotState) -> bool| r.cells.iter().filter(|c| f(&c.snapshot)).count();
    let new = count(&|s| *s == SnapshotState::New);
    let changed = count(&|s| *s == SnapshotState::Changed);
    let unreadable = count(&|s| matches!(s, SnapshotState::Unreadable(_)));
    let recorded = count(&|s| matches!(s, SnapshotState::Recorded { .. }));
    let mut parts = Vec::new();
    if new > 0 {
        parts.push(format!("{new} new"));
    }
    if changed > 0 {
        parts.push(format!("{changed} changed"));
    }
    if unreadable > 0 {
        parts.push(format!("{unreadable} unreadable"));
    }
    if new + changed + unreadable > 0 {
        for c in r.cells.iter().filter(|c| c.snapshot.unsettled()) {
            if let Some(p) = c.snapshot_problem() {
                println!("SNAPSHOT {p}");
            }
        }
        println!(
            "snapshots: {}, not recorded: the run fails until they are; {ACCEPT_HOW} (e.g. `{}` with the same selection)",
            parts.join(", "),
            crate::invocation::run_command("--accept")
        );
    }
    if recorded > 0 {
        println!("snapshots: {recorded} recorded by --accept; review them with `git diff` before committing");
    }
    r.ok()
}

/// `-j N`: a number of guests, at least one.
fn jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("0 guests would boot nothing: give at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{}` is not a number of guests", s.escape_debug())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VmTestArgs,
    }

    /// Issue 18: `-j 0` is refused, not run as `-j 1`.
    #[test]
    fn zero_jobs_is_refused() {
        let e = Cli::try_parse_from(["lockgate", "-j", "0"]).err().expect("-j 0 is an error").to_string();
        assert!(e.contains("0 guests would boot nothing: give at least 1"), "{e}");
        assert_eq!(Cli::try_parse_from(["lockgate", "-j", "2"]).unwrap().args.jobs, Some(2));
    }

    /// The HTML report goes where `--html` says, else beside the JUnit report (or the Markdown
    /// summary), else beside the cells' output files.
    #[test]
    fn the_html_report_goes_beside_the_other_reports() {
        let evidence = std::path::Path::new("/p/scenarios/snapshots");
        let at = |argv: &[&str]| Cli::try_parse_from(argv).unwrap().args.html_path(evidence);
        assert_eq!(at(&["lockgate"]), evidence.join("report.html"));
        assert_eq!(at(&["lockgate", "--junit", "out/j.xml"]), PathBuf::from("out/lockgate-report.html"));
        assert_eq!(at(&["lockgate", "--markdown", "s.md"]), PathBuf::from("lockgate-report.html"));
        assert_eq!(at(&["lockgate", "--junit", "out/j.xml", "--html", "r.html"]), PathBuf::from("r.html"));
    }
}
