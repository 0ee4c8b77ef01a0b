//! Host set-up: the tools a run needs, installed through apt when we are root and they are
//! missing, so that the README's commands work on a fresh machine.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// (command that must exist, Debian package that provides it)
const TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("debootstrap", "debootstrap"),
    ("cpio", "cpio"),
    ("dpkg-deb", "dpkg"),
    ("apt-get", "apt"),
];

fn have(cmd: &str) -> bool {
    if cmd == "debootstrap" {
        // lockgate only reads debootstrap's suite scripts (for mirrors), not the command.
        return std::path::Path::new("/usr/share/debootstrap/scripts").exists();
    }
    Command::new("sh").args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")]).status().is_ok_and(|s| s.success())
}

pub fn ensure_host_tools() -> Result<()> {
    let missing: Vec<&str> = TOOLS.iter().filter(|(c, _)| !have(c)).map(|(_, p)| *p).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!("missing tools: install {} (as root: apt-get install {})", missing.join(", "), missing.join(" "));
    }
    eprintln!("xtask: installing {} with apt-get", missing.join(", "));
    let update = Command::new("apt-get").args(["-q", "update"]).status().context("cannot run apt-get")?;
    if !update.success() {
        bail!("apt-get update failed");
    }
    apt_install(&missing)
}

fn apt_install<S: AsRef<std::ffi::OsStr> + std::fmt::Display>(packages: &[S]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        let names: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
        bail!("apt-get install {} failed", names.join(" "));
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The tools a kernel build needs (`source: build:`), installed through apt when we are root.
pub fn ensure_build_tools() -> Result<()> {
    let missing = lockgate::fetch::build::missing_build_packages();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "building a kernel needs {}: install them (as root: apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing the kernel build tools {} with apt-get", missing.join(", "));
    apt_install(&missing)
}

/// Whether the run `opts` selects has a kernel to build from source that the cache does not
/// have yet.
pub fn selection_needs_a_build(opts: &lockgate::run::RunOptions) -> bool {
    let Ok(model) = lockgate::model::load(&opts.scenarios_dir, &opts.kernels_dir) else { return false };
    let Ok(selected) = lockgate::plan::select_kernels(&model, &opts.selection.kernels) else { return false };
    let cache = match &opts.cache_dir {
        Some(dir) => lockgate::cache::Cache::at(dir.clone()),
        None => lockgate::cache::Cache::from_env(),
    };
    let Ok(cache) = cache else { return false };
    let Ok(f) = lockgate::fetch::for_repo(&opts.repo, &opts.kernels_dir, cache, false) else { return false };
    selected.into_iter().any(|i| match &model.kernels[i].value.source {
        lockgate::model::kernel::KernelSource::Build(b) => !matches!(f.cached_build(b), Ok(Some(_))),
        _ => false,
    })
}
