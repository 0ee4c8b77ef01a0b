//! Provenance: what a cell's result depends on besides the scenario (kernel digest, QEMU
//! version, accelerator, enforcer, guest and profile digests), kept beside its snapshot as
//! `<cell>.provenance.json` and not committed, so that the snapshot itself stays stable.

use crate::env::Prepared;
use crate::event::{emit, Event};
use crate::pool::KernelReport;
use crate::report::CellResult;
use std::path::Path;

/// What a cell's result depends on besides the scenario: kept beside its snapshot (as
/// `<cell>.provenance.json`, not committed) so the snapshot itself stays stable.
#[derive(serde::Serialize)]
pub struct Provenance {
    pub qemu_version: String,
    pub enforcer_sha256: String,
    pub guest_sha256: String,
    pub busybox_sha256: String,
    pub base_image: String,
    /// The known-bad modes the enforcer ran with (`--enforcer-fault`); empty for the correct one.
    pub enforcer_faults: Vec<String>,
}

pub fn write(dir: &Path, cells: &[CellResult], kernels: &[KernelReport], common: &Provenance, envs: &Prepared) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        emit(Event::Warning(format!("cannot create {}: {e}", dir.display())));
    }
    for c in cells {
        let Some(k) = kernels.iter().find(|k| k.name == c.kernel) else { continue };
        let record = serde_json::json!({
            "cell": format!("{}@{}@{}", c.scenario, c.kernel, c.env),
            "kernel_sha256": k.kernel_sha256,
            "accelerator": k.boot.as_ref().map(|b| b.accel.to_string()),
            "boot_seconds": k.boot.as_ref().map(|b| b.wall.as_secs_f64()),
            "kernel_release": k.preflight.as_ref().map(|p| p.release.clone()),
            "lsm": k.preflight.as_ref().map(|p| p.lsm_seen()),
            "securityfs_mounted": k.preflight.as_ref().and_then(|p| p.securityfs_mounted),
            "landlock": k.preflight.as_ref().map(|p| p.landlock.to_string()),
            "cmdline": k.preflight.as_ref().map(|p| p.cmdline.clone()),
            "seccomp_filter": k.preflight.as_ref().and_then(|p| p.seccomp_filter.as_ref()).map(|s| s.to_string()),
            "kernel_config": k.preflight.as_ref().and_then(|p| p.config.clone()),
            "entries": k.preflight.as_ref().and_then(|p| p.entries.as_ref()).map(|e| serde_json::json!({
                "ia32": e.ia32.to_string(),
                "x32": e.x32.to_string(),
            })),
            "overlayfs": k.preflight.as_ref().and_then(|p| p.overlayfs),
            "modules": k.preflight.as_ref().map(|p| p.modules.iter().map(|m| format!("{}: {}", m.name, m.answer)).collect::<Vec<_>>()),
            "common": common,
            "environment": envs.get(&c.env).filter(|e| e.container.is_some()).map(|e| serde_json::json!({
                "seccomp_profile_sha256": e.facts.profile_sha256,
                "runtime": runtime_of(envs, e).map(|b| b.version.clone()),
                "runtime_sha256": runtime_of(envs, e).map(|b| b.sha256.clone()),
            })),
        });
        let path = dir.join(format!("{}@{}@{}.provenance.json", c.scenario, c.kernel, c.env));
        if let Err(e) =
            crate::cache::write_atomic(&path, serde_json::to_string_pretty(&record).unwrap_or_default().as_bytes())
        {
            emit(Event::Warning(format!("cannot write {}: {e:#}", path.display())));
        }
    }
}

/// The runtime binary that started an environment's container (by its path in the guest).
fn runtime_of<'a>(envs: &'a Prepared, env: &crate::env::ReadyEnv) -> Option<&'a crate::supply::runtime::Binary> {
    let path = &env.container.as_ref()?.runtime;
    envs.runtime.as_ref()?.binaries.iter().find(|b| crate::supply::runtime::in_guest(b.name) == path)
}
