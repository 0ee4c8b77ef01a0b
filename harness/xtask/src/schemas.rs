//! `cargo xtask schemas [--check]`: the JSON Schemas in `schemas/`, generated from the serde
//! types of the files a user writes (`lockgate::internals::model::schema`). `--check` (part of
//! `cargo xtask lint`) fails when a committed schema is missing, stale or not generated, and when
//! a file lockgate ships of a kind a schema covers (a scenario, adapter, kernel manifest,
//! environment, `lockgate.yaml`) does not name its schema on its first line
//! (`# yaml-language-server: $schema=…`, relative to the file) for editors.

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
            let mut problems = check(&dir)?;
            problems.extend(check_modelines(&lockgate::internals::supply::guest::workspace_root())?);
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

/// Every file under `root` a schema covers whose first line does not name that schema by its
/// path from the file: the file, and the line to write.
pub fn check_modelines(root: &Path) -> Result<Vec<String>> {
    use lockgate::internals::model::schema::{covered_files, modeline_problem};
    let mut problems = Vec::new();
    for (rel, schema) in covered_files(root).with_context(|| format!("cannot walk {}", root.display()))? {
        let path = root.join(&rel);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        problems.extend(modeline_problem(&rel, schema, &text));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_its_schema_line_or_naming_another_is_named_with_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("scenarios/good.yaml", "# yaml-language-server: $schema=../schemas/scenario.schema.json\nname: good\n");
        write("scenarios/bare.yaml", "name: bare\n");
        write("enforcers/wrong.yaml", "# yaml-language-server: $schema=../schemas/scenario.schema.json\nname: w\n");
        write("kernels/lock.yaml", "kernels: {}\n");
        write("target/scenarios/built.yaml", "name: built\n");
        let problems = check_modelines(root.path()).unwrap();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].starts_with("enforcers/wrong.yaml:1: names the schema ../schemas/scenario.schema.json")
                && problems[0]
                    .ends_with("make the line `# yaml-language-server: $schema=../schemas/adapter.schema.json`"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].starts_with("scenarios/bare.yaml:1: no schema line for editors: add `# yaml-language-server: $schema=../schemas/scenario.schema.json`"),
            "{}",
            problems[1]
        );
    }

    #[test]
    fn every_shipped_file_names_its_schema() {
        let problems = check_modelines(&lockgate::internals::supply::guest::workspace_root()).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
