//! `lockgate check`: the project's files validated without booting, fetching or building
//! anything — scenarios, kernel manifests, environments, every adapter in `enforcers/` and
//! `lockgate.yaml`, through the one loader (`model::load_project`), then each adapter's fields
//! checked together as a run would — with every error at once, each naming its file, line and
//! field. For editors and pre-commit hooks; a run would stop on the same errors.

use super::project::Project;
use anyhow::Result;

pub(super) fn run(project: &Project) -> Result<bool> {
    project.require_scenarios()?;
    let (errors, counts) = collect(project)?;
    if errors.is_empty() {
        println!("{}: {}: all valid", project.root.display(), counts.join(", "));
        return Ok(true);
    }
    for e in &errors {
        println!("{e}");
    }
    Ok(false)
}

/// (every error, what was found valid).
fn collect(project: &Project) -> Result<(Vec<String>, Vec<String>)> {
    let loaded = crate::model::load_project(&project.root, &project.matrix()?);
    let mut errors = loaded.errors.clone();
    for (adapter, text) in &loaded.adapters {
        if let Err(e) = crate::enforcer::from_adapter(adapter, text) {
            errors.push(format!("{e:#}"));
        }
    }
    if let Some(config) = &loaded.config {
        let choice =
            crate::enforcer::EnforcerChoice { project_config: Some(config.file.clone()), ..Default::default() };
        if let Err(e) = choice.load() {
            errors.push(format!("{e:#}"));
        }
    }
    let Some(m) = &loaded.model else { return Ok((errors, Vec::new())) };
    let counts = vec![format!(
        "{} scenarios, {} kernels, {} environments, {} adapters{}",
        m.scenarios.len(),
        m.kernels.len(),
        m.environments.len(),
        loaded.adapters.len(),
        loaded
            .config
            .as_ref()
            .and_then(|c| c.value.enforcer.as_ref())
            .map(|n| format!(", lockgate.yaml tests {n}"))
            .unwrap_or_default()
    )];
    Ok((errors, counts))
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
        std::fs::write(dir.path().join("enforcers/f.yaml"), "name: f\nbinary: x\ninvok: {style: landlock_env}\n")
            .unwrap();
        let (errors, _) = collect(&p).unwrap();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].contains("a.yaml:2:") && errors[0].contains("is not absolute"), "{}", errors[0]);
        assert!(errors[1].contains("f.yaml:3:1: invok: unknown field `invok`"), "{}", errors[1]);
        assert!(errors[2].contains("e.yaml:3: invoke: a policy_file adapter needs a command"), "{}", errors[2]);
    }
}
