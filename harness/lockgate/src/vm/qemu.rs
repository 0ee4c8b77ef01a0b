//! The QEMU command line, and the facts about the QEMU binary that runs it.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const QEMU: &str = "qemu-system-x86_64";
/// Oldest QEMU lockgate has been run with (Debian bookworm's).
pub const MIN_VERSION: (u32, u32) = (7, 2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

pub struct Boot<'a> {
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    /// Appended to lockgate's own arguments.
    pub extra_cmdline: &'a str,
    /// Second serial port: the guest's records land here.
    pub records: &'a Path,
    pub accel: Accel,
    pub memory_mb: u32,
}

/// `-machine pc -nodefaults`: the default devices of q35 make QEMU 10's SeaBIOS stall for ~30 s.
/// microvm is 0.2–0.5 s faster per boot but hangs in ~8% of TCG boots (TSC calibration) unless
/// given `tsc_early_khz`, and has a single ISA serial port, where lockgate needs two (console,
/// records); `cargo xtask boot-soak` measures it (the book's Kernels chapter, book/src/kernels.md, has the figures).
pub fn command(b: &Boot) -> Command {
    let mut cmd = Command::new(qemu_binary());
    let cmdline = format!("console=ttyS0 panic=-1 rdinit=/init {}", b.extra_cmdline).trim().to_string();
    cmd.args(["-machine", "pc", "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none"])
        .args(["-accel", &b.accel.to_string()])
        .args(["-m", &b.memory_mb.to_string(), "-smp", "1"])
        .arg("-kernel")
        .arg(b.kernel)
        .arg("-initrd")
        .arg(b.initrd)
        .args(["-append", &cmdline])
        .args(["-serial", "stdio"])
        .arg("-serial")
        .arg(format!("file:{}", b.records.display()));
    cmd
}

pub fn qemu_binary() -> PathBuf {
    std::env::var_os("LOCKGATE_QEMU").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(QEMU))
}

/// `QEMU emulator version 7.2.22 (…)` → "7.2.22". Errors say how to install QEMU.
pub fn version() -> Result<String> {
    let bin = qemu_binary();
    let out = Command::new(&bin).arg("--version").output().with_context(|| {
        format!(
            "cannot run {}: install QEMU (apt-get install qemu-system-x86) or set LOCKGATE_QEMU to its path",
            bin.display()
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .with_context(|| format!("{} --version printed no version: {text}", bin.display()))?
        .to_string();
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < MIN_VERSION {
        bail!("{} is version {v}; lockgate needs QEMU {}.{} or newer", bin.display(), MIN_VERSION.0, MIN_VERSION.1);
    }
    Ok(v)
}
