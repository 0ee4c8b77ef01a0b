//! `lockgate enforcers fetch [NAME…]`: fetch or build every external enforcer whose adapter
//! (`enforcers/*.yaml`) says `binary: {fetch: …}`, pinned by the digest its adapter records
//! (`crate::enforcer::fetch`), into lockgate's cache; then check that each really calls
//! Landlock (the number of `landlock_create_ruleset` loaded for a system call in its code) or
//! installs a seccomp filter of its own (`seccomp` or `prctl(PR_SET_SECCOMP, …)` in its code).

use super::project::Project;
use crate::supply::recipe::{calls_landlock, installs_seccomp_filter};
use anyhow::{bail, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum EnforcersCmd {
    /// Fetch or build the enforcers whose adapters say `binary: {fetch: …}` (default: all), pinned,
    /// into lockgate's cache, and check that each calls Landlock or installs a seccomp filter.
    Fetch {
        /// Adapter names; default: every adapter with a fetched binary.
        names: Vec<String>,
    },
}

pub(super) fn run(project: &Project, cmd: EnforcersCmd) -> Result<bool> {
    match cmd {
        EnforcersCmd::Fetch { names } => fetch(project, &names),
    }
}

fn fetch(project: &Project, names: &[String]) -> Result<bool> {
    let root = &project.root;
    let all = project.fetched_adapters()?;
    for n in names {
        if !all.iter().any(|(name, ..)| name == n) {
            let known: Vec<&str> = all.iter().map(|(n, ..)| n.as_str()).collect();
            bail!("no adapter in enforcers/ fetches an enforcer named {n}; these do: {}", known.join(", "));
        }
    }
    let chosen: Vec<_> = all.iter().filter(|(n, ..)| names.is_empty() || names.contains(n)).collect();
    // Only the tools the chosen recipes need: fetching one enforcer installs nothing another needs.
    super::setup::ensure_enforcer_tools(chosen.iter().map(|(_, _, recipe)| recipe))?;
    let mut supply = crate::supply::for_repo(root, &project.matrix()?.kernels, project.cache()?.clone(), false)?;
    let mut ok = true;
    for (name, file, recipe) in chosen {
        println!("{name}: {}", recipe.describe());
        match recipe.fetch(name, &mut supply) {
            Ok(path) => {
                let digest = crate::cache::sha256_file(&path)?;
                let (landlock, filter) = (calls_landlock(&path)?, installs_seccomp_filter(&path)?);
                let what = match (landlock, filter) {
                    (true, true) => "calls landlock_create_ruleset and installs a seccomp filter",
                    (true, false) => "calls landlock_create_ruleset",
                    (false, true) => "installs a seccomp filter (no Landlock)",
                    (false, false) => {
                        ok = false;
                        "NEVER loads the number of landlock_create_ruleset nor installs a seccomp filter: is this a sandbox enforcer?"
                    }
                };
                println!("  {} (sha256 {digest}): {what}", path.display());
            }
            Err(e) => {
                ok = false;
                println!("  failed ({}): {e:#}", file.display());
            }
        }
    }
    Ok(ok)
}
