//! The one route to a cargo build for the guest ([`static_build`]): static, non-PIE binaries,
//! kept in the cache under the digest of their sources and flags, so that a warm run starts no
//! cargo. lockgate's own guest binaries (`guest.rs`) and an adapter's `binary: {build: ...}`
//! both go through it.
//!
//! An adapter's `binary: {build: ...}` is the project's own enforcer, built from its cargo
//! workspace for the guest (static, as lockgate's own guest binaries are), whenever its sources
//! change, and kept in the cache under the digest of those sources.
//!
//! ```yaml
//! binary:
//!   build: {package: sandbox-enforcer, bin: sandbox-enforcer}   # bin defaults to the package
//! ```
//!
//! The workspace is the one the adapter file is in (`cargo metadata` from its directory). The
//! sources are the files of every package of that workspace the enforcer's package depends on,
//! itself included, with the workspace's Cargo.toml and Cargo.lock; registry dependencies are
//! pinned by the lock. The binary is built in the workspace's target directory (its
//! `lockgate-guest/` subdirectory; `CARGO_TARGET_DIR` is honoured), so a changed source rebuilds
//! incrementally.

use crate::cache::Cache;
pub use crate::model::adapter::CargoBuild;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

/// glibc, linked statically: the initramfs has no dynamic loader. Not position independent:
/// under TCG a static-pie binary's start-up (self-relocation, randomised mappings) made each
/// exec ~3x dearer (26 ms against 8 ms on the 6.1 tiny kernel), and every case execs the runner
/// twice and the enforcer once.
pub const RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// A static build for the guest: which binaries, built how, kept where.
pub struct StaticBuild<'a> {
    /// The directory of the cache the binaries are kept in, named by the digest of everything
    /// they are built from (sources and flags).
    pub kept: PathBuf,
    pub bins: &'a [&'a str],
    pub profile: &'a str,
    /// What `cargo build` is given besides the profile, target and target directory.
    pub args: &'a [&'a str],
    pub target_dir: PathBuf,
    pub quiet: bool,
    /// The build in words, for its error (`building … (cargo build …, static)`).
    pub what: String,
}

/// `b.bins` as kept in the cache (in that order), or, when one is missing there, built by cargo
/// in the workspace `workspace` makes ready (called only then) and kept.
pub fn static_build(b: &StaticBuild, workspace: impl FnOnce() -> Result<PathBuf>) -> Result<Vec<PathBuf>> {
    let kept: Vec<PathBuf> = b.bins.iter().map(|bin| b.kept.join(bin)).collect();
    if kept.iter().all(|k| k.is_file()) {
        return Ok(kept);
    }
    let workspace = workspace()?;
    let built = cargo_build(&workspace, b.profile, b.args, &b.target_dir, b.quiet).context(b.what.clone())?;
    for (bin, dest) in b.bins.iter().zip(&kept) {
        keep(&built.join(bin), dest)?;
    }
    Ok(kept)
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
    workspace_root: PathBuf,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    id: String,
    /// `None` for a package on the local file system (a workspace member or a path dependency).
    source: Option<String>,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    dependencies: Vec<String>,
}

impl CargoBuild {
    /// The binary's name: `bin`, else the package's (cargo's default binary).
    pub fn bin_name(&self) -> String {
        self.bin.clone().unwrap_or_else(|| self.package.clone())
    }

    /// The binary, built for the guest from the workspace around `adapter_dir` when its
    /// sources changed since the last build, else the one in the cache.
    pub fn binary(&self, adapter_dir: &Path, cache: &Cache) -> Result<PathBuf> {
        let meta = metadata(adapter_dir)?;
        let bin = self.bin_name();
        let pkg = meta.packages.iter().find(|p| p.name == self.package && p.source.is_none()).ok_or_else(|| {
            let local: Vec<&str> =
                meta.packages.iter().filter(|p| p.source.is_none()).map(|p| p.name.as_str()).collect();
            anyhow::anyhow!(
                "the workspace at {} has no package `{}`; its packages: {}",
                meta.workspace_root.display(),
                self.package,
                local.join(", ")
            )
        })?;
        if !pkg.targets.iter().any(|t| t.name == bin && t.kind.iter().any(|k| k == "bin")) {
            let bins: Vec<&str> =
                pkg.targets.iter().filter(|t| t.kind.iter().any(|k| k == "bin")).map(|t| t.name.as_str()).collect();
            bail!("package `{}` has no binary `{bin}`; its binaries: {}", self.package, bins.join(", "));
        }
        let files = sources(&meta, &pkg.id)?;
        let contents: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| {
                let rel = f.strip_prefix(&meta.workspace_root).unwrap_or(f).display().to_string();
                std::fs::read(f).map(|b| (rel, b)).with_context(|| format!("cannot read {}", f.display()))
            })
            .collect::<Result<_>>()?;
        let refs: Vec<(&str, &[u8])> = contents.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
        let key = crate::supply::shipped::digest(&refs, &format!("{RUSTFLAGS}\n{TARGET}\n{}\n{bin}", self.package));
        let build = StaticBuild {
            kept: cache.dir("enforcers").join(&key),
            bins: &[bin.as_str()],
            profile: "release",
            args: &["-p", self.package.as_str(), "--bin", bin.as_str()],
            target_dir: meta.target_directory.join("lockgate-guest"),
            quiet: false,
            what: format!("building the enforcer (cargo build --release -p {} --bin {bin}, static)", self.package),
        };
        let mut kept = static_build(&build, || Ok(meta.workspace_root.clone()))?;
        Ok(kept.remove(0))
    }
}

fn metadata(dir: &Path) -> Result<Metadata> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(dir)
        .args(["metadata", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata in {} failed: a `build:` enforcer lives in the cargo workspace of its adapter file:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("cannot read the output of cargo metadata")
}

/// The files the enforcer is built from: every local package it depends on (itself included),
/// each one's whole directory but its build products, and the workspace's manifest and lock.
fn sources(meta: &Metadata, root_id: &str) -> Result<Vec<PathBuf>> {
    let nodes = &meta.resolve.as_ref().context("cargo metadata gave no dependency graph")?.nodes;
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([root_id.to_string()]);
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(n) = nodes.iter().find(|n| n.id == id) {
            queue.extend(n.dependencies.iter().cloned());
        }
    }
    let mut files: Vec<PathBuf> = ["Cargo.toml", "Cargo.lock"].iter().map(|f| meta.workspace_root.join(f)).collect();
    for p in meta.packages.iter().filter(|p| p.source.is_none() && seen.contains(&p.id)) {
        collect(p.manifest_path.parent().unwrap_or(Path::new(".")), &meta.target_directory, &mut files)?;
    }
    files.retain(|f| f.is_file());
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect(dir: &Path, target: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || path == target || path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            collect(&path, target, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// `cargo build --profile PROFILE ARGS` in the workspace at `workspace`, static for the guest,
/// into `target_dir`; returns the directory the binaries are in.
fn cargo_build(workspace: &Path, profile: &str, args: &[&str], target_dir: &Path, quiet: bool) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--profile", profile, "--target", TARGET])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo failed in {}; see its errors above", workspace.display());
    }
    // cargo names the dev profile's directory `debug`; every other profile's by its name.
    Ok(target_dir.join(TARGET).join(if profile == "dev" { "debug" } else { profile }))
}

/// Copy a freshly built binary to its place in the cache, atomically and executable.
fn keep(built: &Path, dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bytes =
        std::fs::read(built).with_context(|| format!("cargo reported success but {} is missing", built.display()))?;
    crate::cache::write_atomic(dest, &bytes)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace with one package `a` (binary `a`, a library dependency `b` by path) and a
    /// package `c` it does not depend on.
    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"a\", \"b\", \"c\"]\n");
        w("a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\nb = { path = \"../b\" }\n");
        w("a/src/main.rs", "fn main() {}\n");
        w("b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
        w("b/src/lib.rs", "\n");
        w("c/Cargo.toml", "[package]\nname = \"c\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
        w("c/src/lib.rs", "\n");
        w("enforcers/a.yaml", "");
        dir
    }

    #[test]
    fn a_missing_package_or_binary_is_named_with_what_there_is() {
        let dir = workspace();
        let adapters = dir.path().join("enforcers");
        let cache = Cache::at(dir.path().join("cache")).unwrap();
        let e = CargoBuild { package: "nope".into(), bin: None }.binary(&adapters, &cache).unwrap_err().to_string();
        assert!(e.contains("has no package `nope`; its packages: a, b, c"), "{e}");
        let e = CargoBuild { package: "a".into(), bin: Some("x".into()) }
            .binary(&adapters, &cache)
            .unwrap_err()
            .to_string();
        assert!(e.contains("package `a` has no binary `x`; its binaries: a"), "{e}");
    }

    #[test]
    fn the_sources_are_the_package_and_the_local_packages_it_depends_on() {
        let dir = workspace();
        let meta = metadata(dir.path()).unwrap();
        let a = meta.packages.iter().find(|p| p.name == "a").unwrap();
        let root = meta.workspace_root.clone();
        let files: Vec<String> = sources(&meta, &a.id)
            .unwrap()
            .iter()
            .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        // Cargo.lock is written by cargo metadata; c is not a dependency of a.
        assert_eq!(
            files,
            ["Cargo.lock", "Cargo.toml", "a/Cargo.toml", "a/src/main.rs", "b/Cargo.toml", "b/src/lib.rs"]
        );
    }
}
