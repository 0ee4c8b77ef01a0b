//! Lock files: the sha256 of every artifact lockgate fetches, so that a run uses exactly the
//! bytes that were reviewed. `lockgate kernels lock` writes them; every other run refuses an
//! artifact that is not pinned.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct LockFile {
    path: PathBuf,
    entries: BTreeMap<String, String>,
}

impl LockFile {
    pub fn load(path: &Path) -> Result<LockFile> {
        let entries = if path.exists() {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read lock file {}", path.display()))?;
            let map: BTreeMap<String, String> = crate::model::parse_yaml(path, &text)?;
            for (k, v) in &map {
                if v.len() != 64 || !v.chars().all(|c| c.is_ascii_hexdigit()) {
                    anyhow::bail!(
                        "{}: `{k}`: `{v}` is not a sha256 (64 hex digits); re-pin with `{}`",
                        path.display(),
                        crate::invocation::command("kernels lock")
                    );
                }
            }
            map
        } else {
            BTreeMap::new()
        };
        Ok(LockFile { path: path.to_path_buf(), entries })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: &str, sha256: &str) {
        self.entries.insert(key.to_string(), sha256.to_string());
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.entries.remove(key)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn save(&self) -> Result<()> {
        let body = serde_yaml::to_string(&self.entries)?;
        // The header names the commands in the form the writer was invoked with, as messages do.
        let kernels = crate::invocation::command("kernels");
        let header = format!(
            "# sha256 of every artifact lockgate fetches. Written by `{kernels} lock` and `{kernels} update`; review changes.\n"
        );
        crate::cache::write_atomic(&self.path, format!("{header}{body}").as_bytes())
    }
}
