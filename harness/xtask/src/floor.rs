//! The floor bench and boot-soak both boot: lockgate's own matrix (model and kernel lock), the
//! cache and a supply over it, busybox, and a trivial initramfs in a temporary directory of the
//! cache whose init ends the boot at once. One set-up, so that the two measure the same thing.

use anyhow::Result;
use clap::ValueEnum;
use lockgate::internals::model::Model;
use lockgate::internals::supply::Supply;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Exit {
    /// `poweroff -f`, as the guest agent does (needs ACPI on pc).
    Poweroff,
    /// `reboot -f`: QEMU runs with -no-reboot, so a reset ends it too.
    Reboot,
}

/// lockgate's matrix, a supply over the cache, and the trivial initramfs (`initrd`, inside
/// `tmp`, which is removed when the floor is dropped).
pub(crate) struct Floor {
    pub root: PathBuf,
    pub model: Model,
    pub supply: Supply,
    pub tmp: tempfile::TempDir,
    pub initrd: PathBuf,
}

impl Floor {
    /// Load the workspace's scenarios and kernels, open the cache, fetch busybox and write the
    /// trivial initramfs as `<tmp>/<initrd_name>`, its init ending the boot by `exit`.
    pub(crate) fn open(initrd_name: &str, exit: Exit) -> Result<Floor> {
        let root = lockgate::internals::supply::guest::workspace_root();
        let model = lockgate::internals::model::load(
            &root.join("scenarios"),
            &lockgate::internals::model::MatrixDirs::beside(&root.join("kernels")),
        )?;
        let cache = lockgate::internals::supply::open_cache(None)?;
        let mut supply = lockgate::internals::supply::for_repo(&root, &root.join("kernels"), cache.clone(), false)?;
        let busybox = supply.busybox()?;
        let tmp = cache.tempdir()?;
        let initrd = tmp.path().join(initrd_name);
        trivial_initrd(&busybox.path, exit, &initrd)?;
        Ok(Floor { root, model, supply, tmp, initrd })
    }
}

/// An initramfs whose init ends the boot at once.
fn trivial_initrd(busybox: &Path, exit: Exit, dest: &Path) -> Result<()> {
    let mut a = lockgate::internals::image::newc::Newc::new();
    a.merged_usr_root();
    a.dir("/dev", 0o755);
    a.char_dev("/dev/console", 0o600, 5, 1);
    a.file("/bin/busybox", 0o755, &std::fs::read(busybox)?);
    let verb = match exit {
        Exit::Poweroff => "poweroff",
        Exit::Reboot => "reboot",
    };
    a.file(
        "/init",
        0o755,
        format!("#!/bin/busybox sh\n/bin/busybox echo SOAK-INIT\n/bin/busybox {verb} -f\n").as_bytes(),
    );
    std::fs::write(dest, a.finish())?;
    Ok(())
}
