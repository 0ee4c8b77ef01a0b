//! Choosing the accelerator: KVM when it works, TCG otherwise.
//!
//! On some hosts `/dev/kvm` exists but a KVM guest hangs (or QEMU aborts setting up KVM).
//! lockgate cannot know that in advance, so the first KVM boot on a host is watched: no ready
//! marker from the guest agent within [`KVM_SILENCE`] means KVM is broken here. The verdict is stored in the cache, keyed by the host
//! kernel and QEMU version, so later runs go straight to TCG and the user is told once.

use super::qemu::Accel;
use crate::cache::Cache;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// A KVM guest reaches its agent within a couple of seconds; fifteen is generous.
pub const KVM_SILENCE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    Auto,
    Kvm,
    Tcg,
}

impl std::str::FromStr for AccelChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(AccelChoice::Auto),
            "kvm" => Ok(AccelChoice::Kvm),
            "tcg" => Ok(AccelChoice::Tcg),
            _ => Err(format!("`{s}` is not an accelerator: use auto, kvm or tcg")),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Verdict {
    host: String,
    kvm_works: bool,
    reason: String,
}

fn verdict_path(cache: &Cache) -> PathBuf {
    cache.dir("host").join("kvm-verdict.json")
}

fn host_key(qemu_version: &str) -> String {
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    format!("{release} qemu {qemu_version}")
}

fn kvm_usable() -> bool {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}

/// The accelerator to try first, and whether a KVM hang should fall back to TCG.
pub fn initial(choice: AccelChoice, cache: &Cache, qemu_version: &str) -> (Accel, bool) {
    match choice {
        AccelChoice::Tcg => (Accel::Tcg, false),
        AccelChoice::Kvm => (Accel::Kvm, false),
        AccelChoice::Auto => {
            if !kvm_usable() {
                return (Accel::Tcg, false);
            }
            let known = std::fs::read_to_string(verdict_path(cache))
                .ok()
                .and_then(|t| serde_json::from_str::<Verdict>(&t).ok())
                .filter(|v| v.host == host_key(qemu_version));
            match known {
                Some(v) if !v.kvm_works => (Accel::Tcg, false),
                _ => (Accel::Kvm, true),
            }
        }
    }
}

/// Remember that KVM hangs (or works) on this host.
pub fn remember(cache: &Cache, qemu_version: &str, kvm_works: bool, reason: &str) -> Result<()> {
    let v = Verdict { host: host_key(qemu_version), kvm_works, reason: reason.to_string() };
    crate::cache::write_atomic(&verdict_path(cache), serde_json::to_string_pretty(&v)?.as_bytes())
}
