//! Report: what a run found ([`RunReport`]), rendered: snapshots, the terminal table, JUnit XML,
//! the Markdown summary, the HTML page, a failing cell's report.

pub mod failure;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod output;
pub mod snapshot;
pub mod table;

use crate::error::CellError;
pub use crate::judge::cells::{CellResult, CellState, SnapshotState, ACCEPT_HOW};
use crate::pool::KernelReport;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RunReport {
    pub cells: Vec<CellResult>,
    pub kernels: Vec<KernelReport>,
    pub qemu_version: String,
    pub wall: Duration,
    /// Whether the guest base image was rebuilt by this run.
    pub image_built: bool,
    /// Packages downloaded by this run (0 on a warm run).
    pub downloads: usize,
    /// The enforcer under test, in one line (the reference, or an external one's adapter).
    pub enforcer: String,
    /// Each environment's `about:` (empty for `bare`), for failure reports.
    pub environments: std::collections::BTreeMap<String, String>,
    /// Host-side work before the first guest boot started (load, plan, build check, fetch, image).
    pub host_setup: Duration,
    /// `host_setup`, step by step (what a warm start spends its time on).
    pub host_phases: Vec<(&'static str, Duration)>,
    /// Host-side work on the observations: judging, the output and provenance files, the
    /// snapshots (the bench's large scenario shows they grow linearly with the expectations).
    pub after_boot: Vec<(&'static str, Duration)>,
    /// Where the run wrote its cells' output and provenance files (beside the snapshots), and
    /// where its HTML page goes unless `--html` says otherwise.
    pub evidence_dir: std::path::PathBuf,
}

impl RunReport {
    pub fn ok(&self) -> bool {
        !self.cells.is_empty() && self.cells.iter().all(CellResult::ok)
    }

    /// Kernels that booted: a kernel that could not be fetched, or whose QEMU never started,
    /// is no boot.
    pub fn boots(&self) -> usize {
        self.kernels.iter().filter(|k| k.boot.is_some()).count()
    }

    /// Each kernel whose error made every one of its cells an error, with how many cells: said
    /// once for the kernel, not once per cell ([`RunReport::said_by_kernel`]).
    pub fn kernel_errors(&self) -> Vec<(&str, usize, &CellError)> {
        self.kernels
            .iter()
            .filter_map(|k| {
                let e = k.error.as_ref()?;
                let cells: Vec<&CellResult> = self.cells.iter().filter(|c| c.kernel == k.name).collect();
                let all = !cells.is_empty() && cells.iter().all(|c| c.outcome.as_ref().err() == Some(e));
                all.then_some((k.name.as_str(), cells.len(), e))
            })
            .collect()
    }

    /// What a failing cell's report says beyond its verdict: its kernel's preflight, the
    /// enforcer, its environment.
    pub fn failure_context(&self, c: &CellResult) -> failure::Context {
        let preflight = self.kernels.iter().find(|k| k.name == c.kernel).and_then(|k| k.preflight.as_ref());
        failure::Context {
            release: preflight.map(|p| p.release.clone()),
            kernel_landlock: preflight.map(|p| p.landlock.to_string()),
            lsm: preflight.map(|p| p.lsm_seen()),
            enforcer: self.enforcer.clone(),
            environment: self.environments.get(&c.env).cloned(),
        }
    }

    /// Whether a cell's error is its kernel's, said once by [`RunReport::kernel_errors`].
    pub fn said_by_kernel(&self, c: &CellResult) -> bool {
        self.kernel_errors().iter().any(|(k, _, _)| *k == c.kernel)
    }
}
