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
//!   not run is shown as not run. `--book` writes the table into the book's compatibility page between its markers.
//!   Its environments are the default ones and every other one a recorded cell ran in, its rows
//!   every fetched enforcer; `--env` and `--enforcer` choose them (a table of a few enforcers).

use crate::report::CellState;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- compat:begin (cargo xtask compat table --book) -->";
/// The book's page that holds the table, in the project.
const PAGE: &str = "book/src/compatibility.md";
const END: &str = "<!-- compat:end -->";

/// The environments of the table by default.
const DEFAULT_ENVS: [&str; 2] = ["bare", "docker-20.10.5"];

#[derive(Debug, Clone, Subcommand)]
pub enum CompatCmd {
    /// Run the fetched enforcers over the suite and record every cell's result.
    Run(RunArgs),
    /// Render the table from the recorded results (`--book`: into the book's compatibility page).
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
    /// Rewrite the table in the book's compatibility page (book/src/compatibility.md).
    #[arg(long)]
    pub book: bool,
    /// Fail when the book's table is not the one the recorded cells give (nothing written).
    #[arg(long, conflicts_with = "book")]
    pub check: bool,
    /// Results to render (default: target/compat/results.json).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Rows: these enforcers only, comma-separated (default: every fetched one).
    #[arg(long, value_delimiter = ',')]
    pub enforcer: Vec<String>,
    /// Columns: these environments only, comma-separated (default: bare, docker-20.10.5 and
    /// every other one a recorded cell ran in).
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
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
    let results_file = a.results.clone().unwrap_or_else(|| results_path(root));
    let results = load_results(&results_file)?;
    if a.check && results.is_empty() {
        bail!(
            "no recorded cells in {}: `{}` records them, then `--check` compares the book's table (book/src/compatibility.md) with theirs",
            results_file.display(),
            crate::invocation::command("compat run")
        );
    }
    let model = crate::model::load_matrix(&project.matrix()?)?;
    let kernels: Vec<String> =
        model.kernels.iter().filter(|k| k.value.in_default_matrix()).map(|k| k.value.name.to_string()).collect();
    let fetched: Vec<String> = project.fetched_adapters()?.into_iter().map(|(n, ..)| n).collect();
    let enforcers = table_rows(fetched, &a.enforcer)?;
    let envs = if a.env.is_empty() { table_envs(&results) } else { a.env.clone() };
    let table = render(&enforcers, &kernels, &envs, &results, &load_notes(root)?);
    if !a.book && !a.check {
        print!("{table}");
        return Ok(true);
    }
    let page_path = root.join(PAGE);
    let page = std::fs::read_to_string(&page_path).with_context(|| format!("cannot read {}", page_path.display()))?;
    let (Some(b), Some(e)) = (page.find(BEGIN), page.find(END)) else {
        bail!("{PAGE} has no compat markers: put `{BEGIN}` and `{END}` where the table goes");
    };
    if a.check {
        let fresh = page[b + BEGIN.len()..e].trim_start_matches('\n') == table;
        if !fresh {
            println!(
                "{PAGE}: the compatibility table is stale against {}: run `{}`",
                results_file.display(),
                crate::invocation::command("compat table --book")
            );
        }
        return Ok(fresh);
    }
    std::fs::write(&page_path, format!("{}{BEGIN}\n{table}{}", &page[..b], &page[e..]))?;
    println!("{PAGE}: compatibility table rewritten from {} recorded cells", results.len());
    Ok(true)
}

/// The table's rows: the fetched enforcers `asked` names, in their order (all when it names
/// none); a name that is not fetched is an error naming those that are.
fn table_rows(fetched: Vec<String>, asked: &[String]) -> Result<Vec<String>> {
    if let Some(unknown) = asked.iter().find(|e| !fetched.contains(e)) {
        bail!("--enforcer {unknown}: no fetched enforcer has that name (fetched: {})", fetched.join(", "));
    }
    Ok(fetched.into_iter().filter(|e| asked.is_empty() || asked.contains(e)).collect())
}

/// The default environments, then every other one a recorded cell ran in (a filter's cells
/// under `docker-26.1.5`, whose profile stacks under the enforcer's filter), in name order.
fn table_envs(results: &[Recorded]) -> Vec<String> {
    let mut envs: Vec<String> = DEFAULT_ENVS.iter().map(|s| s.to_string()).collect();
    let mut more: Vec<String> = results.iter().map(|r| r.env.clone()).filter(|e| !envs.contains(e)).collect();
    more.sort();
    more.dedup();
    envs.extend(more);
    envs
}

/// The table: a grid of enforcer rows × kernel/environment columns (every one, run or not),
/// each cell the scenarios that held out of those run, pointing to the numbered notes that say
/// why the others did not; each distinct reason is one note, listed once below the grid, in the
/// order the cells first point to it. The per-scenario detail is in the run's reports.
pub fn render(
    enforcers: &[String],
    kernels: &[String],
    envs: &[String],
    results: &[Recorded],
    notes: &[Note],
) -> String {
    let columns: Vec<(&String, &String)> = kernels.iter().flat_map(|k| envs.iter().map(move |e| (k, e))).collect();
    let mut out = String::from("| enforcer |");
    for (k, env) in &columns {
        out.push_str(&format!(" {k}<br>{env} |"));
    }
    out.push_str("\n| --- |");
    out.push_str(&" :---: |".repeat(columns.len()));
    out.push('\n');
    let mut reasons: Vec<String> = Vec::new();
    for e in enforcers {
        out.push_str(&format!("| {e} |"));
        for (k, env) in &columns {
            let cells: Vec<&Recorded> =
                results.iter().filter(|r| &r.enforcer == e && &r.kernel == *k && &r.env == *env).collect();
            if cells.is_empty() {
                out.push_str(" – |");
                continue;
            }
            let held = cells.iter().filter(|r| r.state == "pass").count();
            // A cell's reasons in the order of their text, so a note's number does not depend
            // on the order the cells were recorded in.
            let mine: std::collections::BTreeSet<String> =
                cells.iter().filter(|r| r.state != "pass").map(|r| reason(r, notes)).collect();
            let mut points: Vec<usize> = Vec::new();
            for reason in mine {
                points.push(match reasons.iter().position(|x| *x == reason) {
                    Some(i) => i + 1,
                    None => {
                        reasons.push(reason);
                        reasons.len()
                    }
                });
            }
            points.sort_unstable();
            let marks = match points.is_empty() {
                true => String::new(),
                false => {
                    format!(" <sup>{}</sup>", points.iter().map(usize::to_string).collect::<Vec<_>>().join(", "))
                }
            };
            out.push_str(&format!(" {held}/{}{marks} |", cells.len()));
        }
        out.push('\n');
    }
    out.push_str(
        "\nEach cell: the scenarios that held / those run (– not run); the numbers point to why the others did not:\n\n",
    );
    for (i, r) in reasons.iter().enumerate() {
        out.push_str(&format!("{}. {r}\n", i + 1));
    }
    out
}

/// Why a red cell is red, in one line: its note's reason and source, else what it failed on.
fn reason(r: &Recorded, notes: &[Note]) -> String {
    let text = match notes.iter().find(|n| n.explains(r)) {
        Some(n) => format!("{} ([source]({}))", n.why.split_whitespace().collect::<Vec<_>>().join(" "), n.see),
        None if r.state == "nothing-checked" => format!("checked nothing: {}", r.detail),
        None => format!("unexplained {}: {}", r.state, r.detail),
    };
    text.replace('\n', " ")
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
    fn red_cells_point_to_their_reasons_and_unrun_cells_say_so() {
        let notes: Vec<Note> = serde_yaml::from_str(
            "- {enforcer: e, scenarios: [b], why: 'drops TCP rules', see: 'https://example.org/src.c'}\n",
        )
        .unwrap();
        let results = vec![rec("a", "pass", ""), rec("b", "fail", "x"), rec("c", "fail", "connect: allowed")];
        let t = render(&["e".into()], &["k".into()], &["bare".into(), "docker".into()], &results, &notes);
        assert!(t.starts_with("| enforcer | k<br>bare | k<br>docker |\n| --- | :---: | :---: |\n"), "{t}");
        assert!(t.contains("| e | 1/3 <sup>1, 2</sup> | – |\n"), "{t}");
        assert!(
            t.contains(
                "\n1. drops TCP rules ([source](https://example.org/src.c))\n2. unexplained fail: connect: allowed\n"
            ),
            "{t}"
        );
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
        assert!(t.contains("1. silent ([source](s))\n2. unexplained fail: probe read: succeeded\n"), "{t}");
    }

    /// A reason shared by many cells and enforcers is one note, every cell pointing to it.
    #[test]
    fn each_distinct_reason_is_one_note() {
        let notes: Vec<Note> = serde_yaml::from_str(
            "- {enforcer: e, why: 'fails closed', see: 's'}\n- {enforcer: f, why: 'fails closed', see: 's'}\n",
        )
        .unwrap();
        let mut results: Vec<Recorded> = (0..7).map(|i| rec(&format!("s{i}"), "fail", "")).collect();
        for r in (0..7).map(|i| rec(&format!("s{i}"), "fail", "")) {
            results.push(Recorded { enforcer: "f".into(), env: "docker".into(), ..r });
        }
        let t = render(&["e".into(), "f".into()], &["k".into()], &["bare".into(), "docker".into()], &results, &notes);
        assert!(t.contains("| e | 0/7 <sup>1</sup> | – |\n| f | – | 0/7 <sup>1</sup> |\n"), "{t}");
        assert_eq!(t.matches("fails closed").count(), 1, "{t}");
    }

    #[test]
    fn an_environment_run_besides_the_defaults_gets_rows() {
        let mut r = rec("a", "pass", "");
        r.env = "docker-26.1.5".into();
        assert_eq!(table_envs(&[r.clone(), r, rec("b", "pass", "")]), ["bare", "docker-20.10.5", "docker-26.1.5"]);
    }

    #[test]
    fn table_rows_are_the_asked_fetched_enforcers_and_an_unknown_one_is_an_error() {
        let fetched = || vec!["bubblewrap".to_string(), "minijail".into(), "setpriv".into()];
        assert_eq!(table_rows(fetched(), &[]).unwrap(), fetched());
        assert_eq!(table_rows(fetched(), &["setpriv".into(), "bubblewrap".into()]).unwrap(), ["bubblewrap", "setpriv"]);
        let e = table_rows(fetched(), &["firejail".into()]).unwrap_err().to_string();
        assert!(e.contains("--enforcer firejail") && e.contains("fetched: bubblewrap, minijail, setpriv"), "{e}");
    }

    #[test]
    fn a_later_run_of_a_cell_replaces_the_earlier() {
        let m = merge(vec![rec("a", "fail", "x"), rec("b", "pass", "")], vec![rec("a", "pass", "")]);
        assert_eq!(m, vec![rec("a", "pass", ""), rec("b", "pass", "")]);
    }
}
