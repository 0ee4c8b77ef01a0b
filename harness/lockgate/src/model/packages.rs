//! `images/packages.yaml`: the packages the guest's base image is made of besides lockgate's own
//! binaries, each pinned by its digest in `images/lock.yaml`.

use super::kernel::PackagedFile;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePackages {
    /// busybox-static: the guest's shell and tools (required).
    pub busybox: PackagedFile,
    /// Ubuntu's archive keyring, to verify Ubuntu's archive (required).
    pub ubuntu_keyring: PackagedFile,
}

impl ImagePackages {
    pub fn load(path: &Path) -> Result<ImagePackages> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        super::file::parse_yaml(path, &text)
    }
}
