//! `lockgate check`: the project's files validated without booting, fetching or building
//! anything — scenarios, kernel manifests, environments, every adapter in `enforcers/` and
//! `lockgate.yaml` — with every error at once, each naming its file, line and field. For
//! editors and pre-commit hooks; a run would stop on the same errors.

use super::project::Project;
use anyhow::Result;
use std::path::PathBuf;

pub(super) fn run(project: &Project) -> Result<bool> {
    project.require_scenarios()?;
    let (errors, counts) = collect(project);
    if errors.is_empty() {
        println!("{}: {}: all valid", project.root.display(), counts.join(", "));
        return Ok(true);
    }
    for e in &errors {
        println!("{e}");
    }
    Ok(false)
}

/// (every error, what was found valid), loading each kind of file on its own so that one
/// kind's errors do not hide another's.
fn collect(project: &Project) -> (Vec<String>, Vec<String>) {
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
    (errors, counts)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error of every file at once, each with its file and line: a bad scenario and a bad
    /// adapter are both reported by one `check`, which boots, fetches and builds nothing.
    #[test]
    fn every_error_is_reported_at_once_with_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::new(dir.path().to_path_buf(), false);
        std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
        std::fs::create_dir_all(dir.path().join("enforcers")).unwrap();
        std::fs::write(
            dir.path().join("scenarios/a.yaml"),
            "name: a\npolicy: {filesystem_policy: {read_only: [usr]}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("enforcers/e.yaml"),
            "name: e\nbinary: {build: {package: nowhere}}\ninvoke: {style: policy_file}\nclaim: unsupported\n",
        )
        .unwrap();
        let (errors, _) = collect(&p);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].contains("a.yaml:2:") && errors[0].contains("is not absolute"), "{}", errors[0]);
        assert!(errors[1].contains("e.yaml:3: invoke: a policy_file adapter needs a command"), "{}", errors[1]);
    }
}
