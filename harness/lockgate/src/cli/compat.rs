//! `lockgate compat`: the compatibility table of real enforcers — per enforcer × kernel ×
//! environment, which scenarios of the shipped suite hold and which do not, and why.
//!
//! - `compat run` runs each fetched enforcer (`enforcers/*.yaml` with `binary: {fetch: …}`,
//!   fetched by `enforcers fetch`) over the suite, on the kernels and environments
//!   asked for (default: the kernel matrix × `bare` and `docker-20.10.5`), snapshots not compared,
//!   and merges every cell's result into `target/compat/results.json` (a later run of a cell
//!   replaces the earlier one, so runs of a few kernels at a time add up);
//! - `compat table` renders the table from those results and from `enforcers/compat/notes.yaml`, the
//!   reviewed reasons for red cells, each with a pointer to the enforcer's own code or docs. A
//!   red cell no note explains is shown as unexplained, with its first failure; a cell that was
//!   not run is shown as not run. `--readme` writes the table into README.md between its markers.

use crate::report::CellState;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- compat:begin (cargo xtask compat table --readme) -->";
const END: &str = "<!-- compat:end -->";

/// Red scenarios listed by name under one reason; more are counted.
const LISTED: usize = 6;

/// The environments of the table by default.
const DEFAULT_ENVS: [&str; 2] = ["bare", "docker-20.10.5"];

#[derive(Debug, Clone, Subcommand)]
pub enum CompatCmd {
    /// Run the fetched enforcers over the suite and record every cell's result.
    Run(RunArgs),
    /// Render the table from the recorded results (`--readme`: into README.md).
    Table(TableArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Enforcers (adapter names), comma-separated; default: every fetched one.
    #[arg(long, value_delimiter = ',')]
    pub enforcer: Vec<String>,
    /// Kernels, comma-separated; default: the kernel matrix.
    #[arg(long, value_delimiter = ',')]
    pub kernel: Vec<String>,
    /// Environments, comma-separated; default: bare,docker-20.10.5.
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// Scenarios, comma-separated; default: all.
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Guests booted at once; default: the number of cores.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// The latest-versions lane: resolve each enforcer's newest release in its registry, fetch
    /// it (checked against the digest the registry gives), run it, and report the cells that
    /// changed against the pinned results. Never writes a pin.
    #[arg(long)]
    pub latest: bool,
    /// With --latest: the pinned results to diff against (default: target/compat/results.json;
    /// an enforcer with no pinned cell there is run at its pin first).
    #[arg(long, requires = "latest")]
    pub against: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Rewrite the table in README.md.
    #[arg(long)]
    pub readme: bool,
    /// Results to render (default: target/compat/results.json).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// One cell's result, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub enforcer: String,
    pub kernel: String,
    pub env: String,
    pub scenario: String,
    /// pass, fail, error (nothing judged) or nothing-checked.
    pub state: String,
    /// The first failure or error line (empty for a pass).
    pub detail: String,
}

/// A reviewed reason for red cells (`enforcers/compat/notes.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub enforcer: String,
    /// The scenarios it explains (empty: any).
    #[serde(default)]
    pub scenarios: Vec<String>,
    /// The kernels (empty: any).
    #[serde(default)]
    pub kernels: Vec<String>,
    /// The environments (empty: any).
    #[serde(default)]
    pub envs: Vec<String>,
    /// Text the cell's first failure must contain (absent: any failure): a reason that holds
    /// only for one way of failing says which.
    #[serde(default)]
    pub failure: Option<String>,
    pub why: String,
    /// The enforcer's own code or docs that show it.
    pub see: String,
}

impl Note {
    fn explains(&self, r: &Recorded) -> bool {
        let any_or = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        self.enforcer == r.enforcer
            && any_or(&self.scenarios, &r.scenario)
            && any_or(&self.kernels, &r.kernel)
            && any_or(&self.envs, &r.env)
            && self.failure.as_ref().is_none_or(|f| r.detail.contains(f.as_str()))
    }
}

pub(super) fn results_path(root: &Path) -> PathBuf {
    root.join("target/compat/results.json")
}

pub fn load_results(path: &Path) -> Result<Vec<Recorded>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a compat results file", path.display()))
}

/// `old` with every cell of `new` put in (replacing the same cell's earlier result), sorted.
pub fn merge(old: Vec<Recorded>, new: Vec<Recorded>) -> Vec<Recorded> {
    let key = |r: &Recorded| (r.enforcer.clone(), r.kernel.clone(), r.env.clone(), r.scenario.clone());
    let mut all: BTreeMap<_, Recorded> = old.into_iter().map(|r| (key(&r), r)).collect();
    for r in new {
        all.insert(key(&r), r);
    }
    all.into_values().collect()
}

pub(super) fn run(project: &super::project::Project, cmd: &CompatCmd) -> Result<bool> {
    match cmd {
        CompatCmd::Run(a) => run_enforcers(project, a),
        CompatCmd::Table(a) => table_cmd(project, a),
    }
}

/// The fetched enforcers `a` asks for (all when it names none), the host's tools checked.
pub(super) fn chosen(
    project: &super::project::Project,
    a: &RunArgs,
) -> Result<Vec<(String, PathBuf, crate::supply::recipe::Recipe)>> {
    super::setup::ensure_host_tools()?;
    let mut adapters = project.fetched_adapters()?;
    adapters.retain(|(n, ..)| a.enforcer.is_empty() || a.enforcer.contains(n));
    if adapters.is_empty() {
        bail!("no fetched enforcer named {}", a.enforcer.join(", "));
    }
    Ok(adapters)
}

fn run_enforcers(project: &super::project::Project, a: &RunArgs) -> Result<bool> {
    let path = results_path(&project.root);
    for (name, file, _) in &chosen(project, a)? {
        let Some(new) = run_one(project, name, file, a)? else { continue };
        let n = new.len();
        save_results(&path, &merge(load_results(&path)?, new))?;
        println!("compat: {name}: {n} cells recorded in {}", path.display());
    }
    Ok(true)
}

pub(super) fn save_results(path: &Path, all: &[Recorded]) -> Result<()> {
    std::fs::create_dir_all(path.parent().expect("results live in a directory"))?;
    std::fs::write(path, serde_json::to_string_pretty(all)?)?;
    Ok(())
}

/// One enforcer (its adapter `file`) over the suite as `a` asks, its report printed: its
/// cells, or None when the run failed before any cell was judged (said on the terminal).
pub(super) fn run_one(
    project: &super::project::Project,
    name: &str,
    file: &Path,
    a: &RunArgs,
) -> Result<Option<Vec<Recorded>>> {
    let mut o = crate::run::RunOptions::new(project.root.clone());
    o.selection.kernels = a.kernel.clone();
    o.selection.scenarios = a.scenario.clone();
    o.selection.envs = envs_of(a);
    if let Some(j) = a.jobs {
        o.jobs = j;
    }
    o.enforcer.adapter_file = Some(file.to_path_buf());
    // The table is about the enforcer's behaviour; its snapshots are not the suite's oracle.
    o.snapshots = false;
    o.strict = false;
    println!("compat: {name}");
    let report = match crate::run::run_with(&o, project.cache()?) {
        Ok(r) => r,
        Err(e) => {
            println!("compat: {name}: the run failed before any cell was judged: {e:#}");
            return Ok(None);
        }
    };
    super::run::print_report(&report);
    println!("compat: {name}: {} cells judged", report.cells.len());
    Ok(Some(report.cells.iter().map(|c| record(name, c)).collect()))
}

/// The environments asked for, else the table's.
pub(super) fn envs_of(a: &RunArgs) -> Vec<String> {
    if a.env.is_empty() {
        DEFAULT_ENVS.iter().map(|s| s.to_string()).collect()
    } else {
        a.env.clone()
    }
}

fn record(enforcer: &str, c: &crate::report::CellResult) -> Recorded {
    let (state, detail) = match (c.state(), &c.outcome) {
        (CellState::Pass, _) => ("pass", String::new()),
        (CellState::NothingChecked { .. }, Ok(v)) => ("nothing-checked", v.nothing_checked.clone().unwrap_or_default()),
        (CellState::Fail, Ok(v)) => ("fail", v.failures().into_iter().next().unwrap_or_default()),
        (_, Err(e)) => ("error", e.to_string().lines().next().unwrap_or_default().to_string()),
        (_, Ok(_)) => ("error", String::new()),
    };
    Recorded {
        enforcer: enforcer.into(),
        kernel: c.kernel.clone(),
        env: c.env.clone(),
        scenario: c.scenario.clone(),
        state: state.into(),
        detail,
    }
}

fn load_notes(root: &Path) -> Result<Vec<Note>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        notes: Vec<Note>,
    }
    let path = root.join("enforcers/compat/notes.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crate::model::parse_yaml::<File>(&path, &text)?.notes)
}

fn table_cmd(project: &super::project::Project, a: &TableArgs) -> Result<bool> {
    let root = &project.root;
    let results = load_results(&a.results.clone().unwrap_or_else(|| results_path(root)))?;
    let model = crate::model::load_matrix(&project.matrix()?)?;
    let kernels: Vec<String> =
        model.kernels.iter().filter(|k| k.value.in_default_matrix()).map(|k| k.value.name.to_string()).collect();
    let enforcers: Vec<String> = project.fetched_adapters()?.into_iter().map(|(n, ..)| n).collect();
    // The default environments, then any other that has recorded cells (docker-26.1.5 for the
    // namespace sandboxes), in the order the results name them.
    let mut envs: Vec<String> = DEFAULT_ENVS.iter().map(|s| s.to_string()).collect();
    for r in &results {
        if !envs.contains(&r.env) {
            envs.push(r.env.clone());
        }
    }
    let table = render(&enforcers, &kernels, &envs, &results, &load_notes(root)?);
    if !a.readme {
        print!("{table}");
        return Ok(true);
    }
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path)?;
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        bail!("README.md has no compat markers: put `{BEGIN}` and `{END}` where the table goes");
    };
    std::fs::write(&readme_path, format!("{}{BEGIN}\n{table}{}", &readme[..b], &readme[e..]))?;
    println!("README.md: compatibility table rewritten from {} recorded cells", results.len());
    Ok(true)
}

/// The table: one row per enforcer × kernel × environment (every one, run or not).
pub fn render(
    enforcers: &[String],
    kernels: &[String],
    envs: &[String],
    results: &[Recorded],
    notes: &[Note],
) -> String {
    let mut out = String::from(
        "| enforcer | kernel | environment | holds | does not hold, and why |\n| --- | --- | --- | --- | --- |\n",
    );
    for e in enforcers {
        for k in kernels {
            for env in envs {
                let cells: Vec<&Recorded> =
                    results.iter().filter(|r| &r.enforcer == e && &r.kernel == k && &r.env == env).collect();
                if cells.is_empty() {
                    out.push_str(&format!("| {e} | {k} | {env} | not run | |\n"));
                    continue;
                }
                let held = cells.iter().filter(|r| r.state == "pass").count();
                // Red cells grouped by the note that explains them.
                let mut why: BTreeMap<String, Vec<&str>> = BTreeMap::new();
                for r in cells.iter().filter(|r| r.state != "pass") {
                    let reason = match notes.iter().find(|n| n.explains(r)) {
                        Some(n) => format!("{} ([source]({}))", n.why.trim(), n.see),
                        None if r.state == "nothing-checked" => format!("checked nothing: {}", r.detail),
                        None => format!("unexplained {}: {}", r.state, r.detail),
                    };
                    why.entry(reason).or_default().push(&r.scenario);
                }
                let red: Vec<String> = why
                    .iter()
                    .map(|(reason, scs)| {
                        // A reason shared by most of the suite is counted, not listed.
                        let names = match scs.len() {
                            n if n > LISTED => format!("{n} scenarios"),
                            _ => scs.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
                        };
                        format!("{names}: {}", reason.replace('|', "\\|"))
                    })
                    .collect();
                out.push_str(&format!("| {e} | {k} | {env} | {held}/{} | {} |\n", cells.len(), red.join("<br>")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scenario: &str, state: &str, detail: &str) -> Recorded {
        Recorded {
            enforcer: "e".into(),
            kernel: "k".into(),
            env: "bare".into(),
            scenario: scenario.into(),
            state: state.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn red_cells_say_why_and_unrun_cells_say_so() {
        let notes: Vec<Note> = serde_yaml::from_str(
            "- {enforcer: e, scenarios: [b], why: 'drops TCP rules', see: 'https://example.org/src.c'}\n",
        )
        .unwrap();
        let results = vec![rec("a", "pass", ""), rec("b", "fail", "x"), rec("c", "fail", "connect: allowed")];
        let t = render(&["e".into()], &["k".into()], &["bare".into(), "docker".into()], &results, &notes);
        assert!(t.contains("| e | k | bare | 1/3 | `b`: drops TCP rules ([source](https://example.org/src.c))<br>`c`: unexplained fail: connect: allowed |"), "{t}");
        assert!(t.contains("| e | k | docker | not run | |"), "{t}");
    }

    /// A note about one way of failing does not explain another.
    #[test]
    fn a_note_can_be_held_to_one_failure() {
        let notes: Vec<Note> =
            serde_yaml::from_str("- {enforcer: e, failure: 'printed no claim line', why: 'silent', see: 's'}\n")
                .unwrap();
        let results = vec![
            rec("a", "fail", "enforcement full: … printed no claim line"),
            rec("b", "fail", "probe read: succeeded"),
        ];
        let t = render(&["e".into()], &["k".into()], &["bare".into()], &results, &notes);
        assert!(t.contains("`a`: silent ([source](s))<br>`b`: unexplained fail: probe read: succeeded"), "{t}");
    }

    #[test]
    fn a_reason_shared_by_many_scenarios_counts_them() {
        let notes: Vec<Note> = serde_yaml::from_str("- {enforcer: e, why: 'fails closed', see: 's'}\n").unwrap();
        let results: Vec<Recorded> = (0..7).map(|i| rec(&format!("s{i}"), "fail", "")).collect();
        let t = render(&["e".into()], &["k".into()], &["bare".into()], &results, &notes);
        assert!(t.contains("| e | k | bare | 0/7 | 7 scenarios: fails closed ([source](s)) |"), "{t}");
    }

    #[test]
    fn a_later_run_of_a_cell_replaces_the_earlier() {
        let m = merge(vec![rec("a", "fail", "x"), rec("b", "pass", "")], vec![rec("a", "pass", "")]);
        assert_eq!(m, vec![rec("a", "pass", ""), rec("b", "pass", "")]);
    }
}
