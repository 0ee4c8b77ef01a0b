//! `lockgate check`: the project's files validated without booting, fetching or building
//! anything — scenarios, kernel manifests, environments, every adapter in `enforcers/` and
//! `lockgate.yaml` — with every error at once, each naming its file, line and field. For
//! editors and pre-commit hooks; a run would stop on the same errors.

use super::project::Project;
use anyhow::Result;
use std::path::PathBuf;

pub(super) fn run(project: &Project) -> Result<bool> {
    project.require_scenarios()?;
    let mut errors: Vec<String> = Vec::new();
    let mut counts = Vec::new();
    match crate::model::load(&project.scenarios(), &project.kernels()) {
        Ok(m) => counts.push(format!(
            "{} scenarios, {} kernels, {} environments",
            m.scenarios.len(),
            m.kernels.len(),
            m.environments.len()
        )),
        Err(e) => errors.push(format!("{e:#}")),
    }
    let adapters = adapter_files(project);
    let mut loaded = 0;
    for file in &adapters {
        match crate::enforcer::load(file) {
            Ok(_) => loaded += 1,
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    counts.push(format!("{loaded} adapters"));
    let config = project.root.join("lockgate.yaml");
    if config.is_file() {
        let choice = crate::enforcer::EnforcerChoice { project_config: Some(config), ..Default::default() };
        match choice.load() {
            Ok(e) => counts.push(format!("lockgate.yaml tests {}", e.name)),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if errors.is_empty() {
        println!("{}: {}: all valid", project.root.display(), counts.join(", "));
        return Ok(true);
    }
    for e in &errors {
        println!("{e}");
    }
    Ok(false)
}

/// Every adapter file of the project (`enforcers/*.yaml`), by name.
fn adapter_files(project: &Project) -> Vec<PathBuf> {
    let dir = project.root.join("enforcers");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
