//! `cargo xtask schemas [--check]`: the JSON Schemas in `schemas/`, generated from the serde
//! types of the files a user writes (`lockgate::internals::model::schema`). `--check` (part of
//! `cargo xtask lint`) fails when a committed schema is missing, stale or not generated.

use anyhow::{Context, Result};
use std::path::Path;

#[derive(clap::Args)]
pub struct SchemasArgs {
    /// Compare `schemas/` with the types instead of writing it.
    #[arg(long)]
    check: bool,
}

pub fn run(args: &SchemasArgs) -> Result<bool> {
    let dir = lockgate::internals::supply::guest::workspace_root().join("schemas");
    match args.check {
        true => {
            let problems = check(&dir)?;
            for p in &problems {
                println!("schemas: {p}");
            }
            Ok(problems.is_empty())
        }
        false => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for s in lockgate::internals::model::schema::all() {
                let path = dir.join(s.file);
                std::fs::write(&path, &s.text).with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {} ({} schema)", path.display(), s.kind);
            }
            Ok(true)
        }
    }
}

/// What differs between `dir` and the generated schemas.
pub fn check(dir: &Path) -> Result<Vec<String>> {
    let schemas = lockgate::internals::model::schema::all();
    let mut problems = Vec::new();
    for s in &schemas {
        let path = dir.join(s.file);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == s.text => {}
            Ok(_) => problems.push(format!(
                "{} is stale (the {} type changed): run `cargo xtask schemas`",
                path.display(),
                s.kind
            )),
            Err(_) => problems.push(format!("{} is missing: run `cargo xtask schemas`", path.display())),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !schemas.iter().any(|s| s.file == name) {
                problems.push(format!("{} is no schema lockgate generates: remove it", e.path().display()));
            }
        }
    }
    Ok(problems)
}
