//! `cargo xtask enforcers fetch [NAME…]`: fetch or build every external enforcer whose adapter
//! (`enforcers/*.yaml`) says `binary: {fetch: …}`, pinned by the digest its adapter records
//! (`lockgate::enforcer::fetch`), into lockgate's cache; then check that each really calls
//! Landlock (the number of `landlock_create_ruleset` loaded for a system call in its code).

use anyhow::{bail, Result};
use lockgate::enforcer::fetch::{calls_landlock, recipe_in, Recipe};
use std::path::{Path, PathBuf};

/// Every adapter of the repository with a fetched binary: (name, file, recipe), by name.
pub fn fetched_adapters(root: &Path) -> Result<Vec<(String, PathBuf, Recipe)>> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("enforcers"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for f in files {
        if let Some((name, recipe)) = recipe_in(&f)? {
            out.push((name, f, recipe));
        }
    }
    Ok(out)
}

pub fn fetch(names: &[String]) -> Result<bool> {
    crate::setup::ensure_enforcer_tools()?;
    let root = lockgate::guest_build::workspace_root();
    let all = fetched_adapters(&root)?;
    for n in names {
        if !all.iter().any(|(name, ..)| name == n) {
            let known: Vec<&str> = all.iter().map(|(n, ..)| n.as_str()).collect();
            bail!("no adapter in enforcers/ fetches an enforcer named {n}; these do: {}", known.join(", "));
        }
    }
    let cache = lockgate::cache::Cache::from_env()?;
    let mut fetcher = lockgate::fetch::for_repo(&root, &root.join("kernels"), cache, false)?;
    let mut ok = true;
    for (name, file, recipe) in all.iter().filter(|(n, ..)| names.is_empty() || names.contains(n)) {
        println!("{name}: {}", recipe.describe());
        match recipe.fetch(name, &mut fetcher) {
            Ok(path) => {
                let digest = lockgate::cache::sha256_file(&path)?;
                let landlock = if calls_landlock(&path)? {
                    "calls landlock_create_ruleset"
                } else {
                    ok = false;
                    "NEVER loads the number of landlock_create_ruleset: is this a Landlock enforcer?"
                };
                println!("  {} (sha256 {digest}): {landlock}", path.display());
            }
            Err(e) => {
                ok = false;
                println!("  failed ({}): {e:#}", file.display());
            }
        }
    }
    Ok(ok)
}
