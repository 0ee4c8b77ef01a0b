//! The project a command works on: its lockgate directory, and what commands find in it.

use crate::cache::Cache;
use crate::model::MatrixDirs;
use crate::supply::recipe::{recipe_in, Recipe};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The project a command works on: its lockgate directory, and the command's one cache.
#[derive(Debug)]
pub(crate) struct Project {
    pub root: PathBuf,
    /// Whether `--project` named it (a reproduce line must then name it too).
    pub explicit: bool,
    /// Opened the first time the command needs it, once, and handed down from here.
    cache: OnceLock<Cache>,
}

impl Project {
    pub fn new(root: PathBuf, explicit: bool) -> Project {
        // Absolute: insta places a snapshot path that is relative beside its own source file.
        let root = root.canonicalize().or_else(|_| std::path::absolute(&root)).unwrap_or(root);
        Project { root, explicit, cache: OnceLock::new() }
    }

    pub fn scenarios(&self) -> PathBuf {
        self.root.join("scenarios")
    }

    /// The command's cache (from the environment), opened on first use and only then.
    pub fn cache(&self) -> Result<&Cache> {
        if let Some(c) = self.cache.get() {
            return Ok(c);
        }
        let opened = crate::supply::open_cache(None)?;
        Ok(self.cache.get_or_init(|| opened))
    }

    /// Where the project's kernels and environments are read from (its own, else lockgate's
    /// shipped ones, unpacked in the command's cache).
    pub fn matrix(&self) -> Result<MatrixDirs> {
        crate::supply::shipped::matrix_of(self.cache()?, &self.root, None)
    }

    /// An error unless the directory holds a project (a `scenarios/` directory): what it is, and
    /// how to start one.
    pub fn require_scenarios(&self) -> Result<()> {
        if self.scenarios().is_dir() {
            return Ok(());
        }
        bail!(
            "{} is not a lockgate project: it has no scenarios/ directory. Start one here with `{}`, \
             copy examples/sandbox from lockgate's repository, or name a project with --project DIR",
            self.root.display(),
            crate::invocation::command("init")
        )
    }

    /// Every adapter of the repository with a fetched binary: (name, file, recipe), by name.
    pub fn fetched_adapters(&self) -> Result<Vec<(String, PathBuf, Recipe)>> {
        let root = &self.root;
        let mut out = Vec::new();
        let dir = root.join("enforcers");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| {
                anyhow::anyhow!("cannot read {}: {e}; a project keeps its enforcers' adapters there", dir.display())
            })?
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
}
