//! A project's `lockgate.yaml`: what a run of the project tests by default.

use super::scenario::Name;
use serde::Deserialize;

/// A project's `lockgate.yaml`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The adapter tested when the command line names none: `enforcers/NAME.yaml` beside this
    /// file, or `reference` for lockgate's reference enforcer (default: the reference).
    pub enforcer: Option<Name>,
}

/// The `lockgate.yaml` at `file`.
pub fn read(file: &std::path::Path) -> anyhow::Result<ProjectConfig> {
    use anyhow::Context;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    super::file::parse_yaml(file, &text)
}
