//! `lockgate compat run --latest`: the latest-versions lane. For each fetched enforcer (or those
//! named), its registry's newest release (`supply/latest.rs`, asked the way its pinned recipe
//! reaches the registry, checked against the digest the registry gives), fetched into the cache
//! under a recipe of its own, run over the suite as `compat run` runs the pins (through a copy
//! of its adapter with that recipe, in `target/compat/latest/`), and its cells diffed against
//! the pinned results (`target/compat/results.json`, or `--against`): `compat_diff.rs` renders
//! the report, printed and written to `target/compat/latest.md`, the newest cells to
//! `target/compat/latest.json`. An enforcer with no pinned cell in the results is run at its
//! pin first (and recorded there, as `compat run` would). A newest release that cannot be
//! resolved, fetched or run as its adapter describes is a row of the report, not an error.
//! Pins are reviewed changes: the lane writes none, it prints the change that would move one.

use super::compat::{self, load_results, merge, save_results, Recorded, RunArgs};
use super::compat_diff::{render, Outcome, Release};
use super::project::Project;
use crate::supply::latest::{version_of, Newest};
use crate::supply::recipe::Recipe;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub(super) fn run(project: &Project, a: &RunArgs) -> Result<bool> {
    let root = project.root.clone();
    let chosen = compat::chosen(project, a)?;
    super::setup::ensure_enforcer_tools(chosen.iter().map(|(_, _, recipe)| recipe))?;
    let pinned_path = a.against.clone().unwrap_or_else(|| compat::results_path(&root));
    let out_dir = root.join("target/compat");
    let latest_path = out_dir.join("latest.json");
    let mut supply = crate::supply::for_repo(&root, &project.matrix()?.kernels, project.cache()?.clone(), false)?;
    let mut releases = Vec::new();
    for (name, file, pinned) in &chosen {
        let pinned_version = version_of(pinned);
        println!("latest: {name}: pinned {pinned_version}; asking its registry for the newest release");
        let newest = match supply.newest(pinned) {
            Ok(n) => n,
            Err(e) => {
                releases.push(cannot(name, &pinned_version, "?", format!("cannot resolve the newest release: {e:#}")));
                continue;
            }
        };
        let newest_version = version_of(&newest.recipe);
        println!("latest: {name}: newest {newest_version} ({})", newest.registry_says);
        if newest.is_pinned(pinned) {
            releases.push(Release {
                enforcer: name.clone(),
                pinned: pinned_version.clone(),
                newest: newest_version,
                outcome: Outcome::NoNewer,
                move_pin: None,
            });
            continue;
        }
        let move_pin = Some(move_pin(&root, file, &newest));
        let outcome = match newest_cells(project, &mut supply, name, file, pinned, &newest, a, &pinned_path) {
            Ok(o) => o,
            Err(e) => Outcome::CannotRun(format!("{e:#}")),
        };
        // A pin is worth moving only to a release that ran.
        let move_pin = match &outcome {
            Outcome::Ran(cells) => {
                save_results(&latest_path, &merge(load_results(&latest_path)?, cells.clone()))?;
                move_pin
            }
            _ => None,
        };
        releases.push(Release {
            enforcer: name.clone(),
            pinned: pinned_version,
            newest: newest_version,
            outcome,
            move_pin,
        });
    }
    let report = render(&releases, &load_results(&pinned_path)?);
    std::fs::create_dir_all(&out_dir)?;
    let md = out_dir.join("latest.md");
    std::fs::write(&md, &report).with_context(|| format!("cannot write {}", md.display()))?;
    println!("\nlatest-versions lane, against {}:\n\n{report}\n(written to {})", pinned_path.display(), md.display());
    Ok(true)
}

fn cannot(name: &str, pinned: &str, newest: &str, why: String) -> Release {
    Release {
        enforcer: name.into(),
        pinned: pinned.into(),
        newest: newest.into(),
        outcome: Outcome::CannotRun(why),
        move_pin: None,
    }
}

/// The newest release's cells: its binary fetched, the pin's cells recorded first when the
/// pinned results have none for this selection, then the newest run through its own adapter.
#[allow(clippy::too_many_arguments)]
fn newest_cells(
    project: &Project,
    supply: &mut crate::supply::Supply,
    name: &str,
    file: &Path,
    pinned: &Recipe,
    newest: &Newest,
    a: &RunArgs,
    pinned_path: &Path,
) -> Result<Outcome> {
    let binary = supply.fetch_newest(name, newest).context("cannot fetch it")?;
    println!("latest: {name}: fetched {}", binary.display());
    let adapter = newest_adapter(project, file, &newest.recipe)?;
    if !has_pinned_cells(&load_results(pinned_path)?, name, a) {
        println!(
            "latest: {name}: {} has no cell of its pin for this selection: running the pin first",
            pinned_path.display()
        );
        pinned.fetch(name, supply).context("cannot fetch the pinned release")?;
        if let Some(cells) = compat::run_one(project, name, file, a)? {
            save_results(pinned_path, &merge(load_results(pinned_path)?, cells))?;
        }
    }
    match compat::run_one(project, name, &adapter, a)? {
        Some(cells) => Ok(Outcome::Ran(cells)),
        None => Ok(Outcome::NotJudged),
    }
}

/// Whether the pinned results hold cells of `name` on every kernel and environment asked for
/// (any kernel when none is named).
fn has_pinned_cells(results: &[Recorded], name: &str, a: &RunArgs) -> bool {
    let envs = compat::envs_of(a);
    let has = |k: Option<&str>, e: &str| {
        results.iter().any(|r| r.enforcer == name && r.env == e && k.is_none_or(|k| r.kernel == k))
    };
    envs.iter().all(|e| if a.kernel.is_empty() { has(None, e) } else { a.kernel.iter().all(|k| has(Some(k), e)) })
}

/// A copy of the adapter `file` with the newest recipe as its `binary:`, in
/// `target/compat/latest/` (the adapter itself is never touched).
fn newest_adapter(project: &Project, file: &Path, recipe: &Recipe) -> Result<PathBuf> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut doc: serde_yaml::Value = crate::model::parse_yaml(file, &text)?;
    let fetch = serde_yaml::to_value(serde_json::json!({ "fetch": serde_json::to_value(recipe)? }))?;
    let serde_yaml::Value::Mapping(m) = &mut doc else { bail!("{}: not a mapping", file.display()) };
    m.insert("binary".into(), fetch);
    let dir = project.root.join("target/compat/latest");
    std::fs::create_dir_all(&dir)?;
    let out = dir.join(file.file_name().context("an adapter file has a name")?);
    std::fs::write(&out, serde_yaml::to_string(&doc)?)?;
    Ok(out)
}

/// The change that would move the pin, in words a reviewer applies by hand.
fn move_pin(root: &Path, file: &Path, n: &Newest) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file).display().to_string();
    let recipe = serde_json::to_string(&n.recipe).unwrap_or_default();
    let mut s = format!("in `{rel}`, `binary: {{fetch: {recipe}}}`");
    if let (Recipe::LinuxSample { package, .. }, Some(sha)) = (&n.recipe, &n.source_sha256) {
        s.push_str(&format!(", and in `kernels/lock.yaml`, `{}: {sha}`", package.lock_key()));
    }
    s.push_str(&format!(" (the registry says: {})", n.registry_says));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_run_first_only_where_its_cells_are_missing() {
        let r = |k: &str, e: &str| Recorded {
            enforcer: "bubblewrap".into(),
            kernel: k.into(),
            env: e.into(),
            scenario: "s".into(),
            state: "pass".into(),
            detail: String::new(),
        };
        let results = vec![r("debian-6.12", "bare"), r("debian-6.12", "docker-26.1.5")];
        let args = |k: &[&str], e: &[&str]| RunArgs {
            enforcer: vec![],
            kernel: k.iter().map(|s| s.to_string()).collect(),
            env: e.iter().map(|s| s.to_string()).collect(),
            scenario: vec![],
            jobs: None,
            latest: true,
            against: None,
        };
        assert!(has_pinned_cells(&results, "bubblewrap", &args(&["debian-6.12"], &["bare"])));
        assert!(has_pinned_cells(&results, "bubblewrap", &args(&[], &["bare", "docker-26.1.5"])));
        assert!(!has_pinned_cells(&results, "bubblewrap", &args(&["ubuntu-6.8"], &["bare"])));
        assert!(!has_pinned_cells(&results, "nono", &args(&["debian-6.12"], &["bare"])));
    }
}
