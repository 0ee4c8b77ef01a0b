//! `images/runtime.yaml`: the OCI runtimes the container environments start (runc, crun, runsc), and
//! the packages searched for the libraries they link.

use super::environment::RuntimeName;
use super::kernel::{PackageRef, PackagedFile};
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `images/runtime.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeManifest {
    /// Each runtime's package and the path of the binary in it (required).
    pub runtimes: BTreeMap<RuntimeName, PackagedFile>,
    /// Packages searched, in order, for the libraries the runtimes need (required).
    pub libraries: Vec<PackageRef>,
}

impl RuntimeManifest {
    pub fn load(path: &Path) -> Result<RuntimeManifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        super::file::parse_yaml(path, &text)
    }
}
