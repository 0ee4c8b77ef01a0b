//! `lockgate coverage`: which Landlock right is checked where — right × first ABI × probe ×
//! known-bad mode × the kernels whose recorded snapshots show it checked. Made from the rights
//! catalogue (`lockgate_protocol::rights`), the shipped `scenarios/right-*.yaml` and the
//! reference enforcer's snapshots, so the README's table cannot drift from what ran:
//! `--readme` rewrites the table between its markers, `--check` fails when it is stale.

use anyhow::{bail, Context, Result};
use clap::Args;
use lockgate_protocol::rights::Right;
use std::collections::BTreeMap;
use std::path::Path;

const BEGIN: &str = "<!-- coverage:begin (cargo xtask coverage --readme) -->";
const END: &str = "<!-- coverage:end -->";

#[derive(Debug, Clone, Args)]
pub struct CoverageArgs {
    /// Rewrite the table in README.md.
    #[arg(long)]
    pub readme: bool,
    /// Fail when README.md's table differs from what the snapshots say.
    #[arg(long, conflicts_with = "readme")]
    pub check: bool,
}

/// One recorded cell of a right's scenario.
#[derive(Debug, Default)]
struct Cell {
    kernel: String,
    env: String,
    /// The ABI where the probes ran (`landlock: ABI n`), None without Landlock there.
    abi: Option<u32>,
    /// Expectations on the right's probe that passed without being skipped.
    probe_passed: usize,
    failed: bool,
}

/// Reads the fields the table needs from one snapshot (insta's YAML, stable fields only).
fn read_cell(text: &str, op: &str) -> Cell {
    let mut cell = Cell::default();
    let mut on_probe = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("kernel: ") {
            cell.kernel = v.trim().into();
        } else if let Some(v) = line.strip_prefix("environment: ") {
            cell.env = v.trim().into();
        } else if let Some(v) = line.strip_prefix("landlock: ABI ") {
            cell.abi = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("- expect: ") {
            on_probe = v.starts_with(&format!("probe {op} "));
        } else if let Some(v) = line.trim().strip_prefix("status: ") {
            match v.trim() {
                "pass" if on_probe => cell.probe_passed += 1,
                "fail" => cell.failed = true,
                _ => {}
            }
        }
    }
    cell
}

/// The Markdown table.
pub fn table(root: &Path) -> Result<String> {
    let snapshots = root.join("scenarios/snapshots");
    let mut files: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&snapshots).with_context(|| format!("cannot read {}", snapshots.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.starts_with("right-") && name.ends_with(".snap") {
            files.push((name, std::fs::read_to_string(&path)?));
        }
    }
    let mut out = String::from(
        "| right | first ABI | probe | other probes | known-bad mode | scenario | checked on (kernel: environments) |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for right in Right::ALL {
        let scenario = right.scenario();
        if !root.join(format!("scenarios/{scenario}.yaml")).is_file() {
            bail!("scenarios/{scenario}.yaml is missing: every right needs its scenario");
        }
        let op = right.probe().name();
        // A cell checked the right when Landlock ran there at the right's ABI or above, the
        // right's probe passed an expectation and nothing failed.
        let mut checked: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, text) in files.iter().filter(|(n, _)| n.starts_with(&format!("{scenario}@"))) {
            let cell = read_cell(text, op);
            if cell.abi.is_some_and(|a| a >= right.abi()) && cell.probe_passed > 0 && !cell.failed {
                checked.entry(cell.kernel).or_default().push(cell.env);
            }
        }
        let kernels = if checked.is_empty() {
            "not yet recorded".to_string()
        } else {
            checked.iter().map(|(k, envs)| format!("{k}: {}", envs.len())).collect::<Vec<_>>().join(", ")
        };
        let others: Vec<String> = right.other_probes().iter().map(|p| format!("`{}`", p.name())).collect();
        let others = if others.is_empty() { "—".to_string() } else { others.join(", ") };
        out.push_str(&format!(
            "| `{}` | {} | `{op}` | {others} | `{}` | `{scenario}` | {kernels} |\n",
            right.constant(),
            right.abi(),
            right.fault()
        ));
    }
    Ok(out)
}

pub(super) fn run(project: &super::project::Project, args: &CoverageArgs) -> Result<bool> {
    let root = &project.root;
    let table = table(root)?;
    if !args.readme && !args.check {
        print!("{table}");
        return Ok(true);
    }
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path)?;
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        bail!("README.md has no coverage markers: put `{BEGIN}` and `{END}` where the table goes");
    };
    let updated = format!("{}{BEGIN}\n{table}{}", &readme[..b], &readme[e..]);
    if args.check {
        if updated != readme {
            println!("README.md's coverage table is stale: run `{}`", crate::invocation::command("coverage --readme"));
            return Ok(false);
        }
        return Ok(true);
    }
    std::fs::write(&readme_path, updated)?;
    println!("README.md: coverage table rewritten ({} rights)", Right::ALL.len());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_read_for_its_probe() {
        let snap = "---\nsource: x\n---\nscenario: right-make-char\nkernel: debian-6.12\nenvironment: bare\nlandlock: ABI 6\nexpectations:\n- expect: probe mknod_char /sandbox/c → denied EACCES\n  when: abi >= 1\n  status: pass\n- expect: probe mknod_char /sandbox/c → denied EPERM\n  status: skipped\n- expect: enforcement full\n  status: pass\n";
        let cell = read_cell(snap, "mknod_char");
        assert_eq!((cell.kernel.as_str(), cell.env.as_str(), cell.abi), ("debian-6.12", "bare", Some(6)));
        assert_eq!((cell.probe_passed, cell.failed), (1, false));
        let cell = read_cell(&snap.replace("status: skipped", "status: fail"), "mknod_char");
        assert!(cell.failed);
        let blocked = read_cell(&snap.replace("landlock: ABI 6", "landlock: ENOSYS"), "mknod_char");
        assert_eq!(blocked.abi, None);
    }

    #[test]
    fn every_right_has_a_row() {
        let root = crate::supply::guest::workspace_root();
        let table = table(&root).unwrap();
        for right in Right::ALL {
            assert!(table.contains(&format!("`{}`", right.constant())), "{right:?}");
        }
    }
}
