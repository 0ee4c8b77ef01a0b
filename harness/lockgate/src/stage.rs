//! Staging: everything a run's boots need, made ready on the host before the first boot: the
//! guest binaries, busybox and the base image, the archives laid over it (an external enforcer,
//! the container runtime), each planned kernel and its build config. One value, [`Staged`],
//! goes to the pool.

use crate::enforcer::Enforcer;
use crate::env::Prepared;
use crate::event::{emit, Event};
use crate::image::{self, BaseImage};
use crate::model::Model;
use crate::plan::KernelRun;
use crate::supply::guest::GuestBinaries;
use crate::supply::{Artifact, Supply};
use anyhow::Result;
use lockgate_protocol::KernelConfig;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Staged {
    pub bins: GuestBinaries,
    pub busybox: Artifact,
    pub base: BaseImage,
    /// Archives unpacked after the base, in order.
    pub layers: Vec<PathBuf>,
    /// Per planned run, its kernel, or why it could not be had (an error for its cells only).
    pub kernels: Vec<Result<Artifact, String>>,
    /// Per planned run, the archive of its kernel's modules (overlayfs), laid over the others
    /// for that kernel's boot only; `None` for a kernel that has no package to take them from.
    pub modules: Vec<Option<PathBuf>>,
    /// Per planned run, the file QEMU boots for its kernel when it is not the image itself: the
    /// uncompressed ELF of an image with a PVH entry (`supply/boot_image.rs`).
    pub boot_images: Vec<Option<PathBuf>>,
    /// Per planned run, its kernel's build config, where the host can read it (the guest's
    /// preflight falls back to it when the kernel has no /proc/config.gz).
    pub host_configs: Vec<Option<KernelConfig>>,
}

/// Times consecutive steps: each `mark` closes the step that began at the previous one.
pub struct Phases {
    last: Instant,
    pub done: Vec<(&'static str, Duration)>,
}

impl Phases {
    pub fn new(start: Instant) -> Phases {
        Phases { last: start, done: Vec::new() }
    }

    pub fn mark(&mut self, step: &'static str) {
        let now = Instant::now();
        self.done.push((step, now - self.last));
        self.last = now;
    }
}

/// Stages what `runs` need, through `supply` (and its cache).
pub fn stage(
    model: &Model,
    runs: &[KernelRun],
    enforcer: &Enforcer,
    envs: &Prepared,
    supply: &mut Supply,
    quiet: bool,
    phases: &mut Phases,
) -> Result<Staged> {
    let cache = supply.cache.clone();
    let cache = &cache;
    let bins = crate::supply::guest::build(cache, quiet)?;
    phases.mark("guest binaries");
    let busybox = supply.busybox()?;
    let base = image::base_image(
        cache,
        &image::BaseInputs {
            guest: (&bins.guest, &bins.guest_sha256),
            enforcer: (&bins.enforcer, &bins.enforcer_sha256),
            busybox: (&busybox.path, &busybox.sha256),
        },
    )?;
    if base.built {
        emit(Event::BaseImageBuilt { path: base.path.clone() });
    }
    phases.mark("busybox and base image");
    // An external enforcer rides in an archive of its own (binary + libraries), then the
    // container runtime with its libraries when a container environment is in the run.
    let mut layers: Vec<PathBuf> = enforcer.archive(cache)?.into_iter().collect();
    if let Some(rt) = &envs.runtime {
        layers.push(rt.archive.clone());
    }
    layers.extend(envs.apparmor_archives.iter().cloned());
    phases.mark("enforcer and runtime archives");
    // Every kernel first (sequentially: apt and the cache lock are shared), so that a kernel
    // that cannot be had is a named error for its cells and the others still run.
    let kernels: Vec<Result<Artifact, String>> =
        runs.iter().map(|r| supply.kernel(&model.kernels[r.kernel].value).map_err(|e| format!("{e:#}"))).collect();
    phases.mark("kernels");
    // A kernel's modules come from its own package: one that cannot be had is an error for
    // that kernel's cells, as its image would be (its cases would run without overlayfs).
    let (mut kernels, mut modules) = (kernels, Vec::with_capacity(runs.len()));
    for (r, k) in runs.iter().zip(kernels.iter_mut()) {
        let got = match k {
            Ok(_) => supply.kernel_modules(&model.kernels[r.kernel].value).map_err(|e| format!("{e:#}")),
            Err(_) => Ok(None),
        };
        match got {
            Ok(m) => modules.push(m),
            Err(e) => {
                *k = Err(e);
                modules.push(None);
            }
        }
    }
    phases.mark("kernel modules");
    let boot_images = kernels
        .iter()
        .map(|k| match k.as_ref().map(|image| supply.pvh_image(image)) {
            Ok(Ok(elf)) => elf.map(|e| e.path),
            // The image itself boots, only slower: said, not an error of the kernel's cells.
            Ok(Err(e)) => {
                crate::event::emit(crate::event::Event::Warning(format!("{e:#}; the kernel boots as its bzImage")));
                None
            }
            Err(_) => None,
        })
        .collect();
    phases.mark("kernels as QEMU boots them");
    let host_configs =
        runs.iter().map(|r| supply.kernel_config(&model.kernels[r.kernel].value).ok().flatten()).collect();
    phases.mark("kernel configs");
    Ok(Staged { bins, busybox, base, layers, kernels, modules, boot_images, host_configs })
}
