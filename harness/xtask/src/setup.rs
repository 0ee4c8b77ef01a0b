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
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
