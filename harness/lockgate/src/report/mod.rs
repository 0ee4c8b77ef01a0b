//! Report: snapshots, the terminal table, and the run's provenance.

pub mod failure;
pub mod junit;
pub mod markdown;
pub mod snapshot;
pub mod table;

use crate::judge::CellVerdict;

/// The outcome of one cell: judged, or a harness error (never a pass).
#[derive(Debug, Clone)]
pub struct CellResult {
    pub kernel: String,
    pub env: String,
    pub scenario: String,
    pub outcome: Result<CellVerdict, String>,
    /// Set when the verdict differs from the recorded snapshot.
    pub snapshot_error: Option<String>,
}

impl CellResult {
    /// The command that re-runs only this cell.
    pub fn repro_command(&self, enforcer_faults: &[String]) -> String {
        let faults: Vec<String> = enforcer_faults.iter().flat_map(|f| ["--enforcer-fault".to_string(), f.clone()]).collect();
        self.repro_command_with(&faults)
    }

    /// The command that re-runs only this cell, with the run's other flags (`--enforcer NAME`,
    /// `--enforcer-fault MODE`, `--repo DIR`) appended as given.
    pub fn repro_command_with(&self, flags: &[String]) -> String {
        let flags: String = flags.iter().map(|f| format!(" {f}")).collect();
        format!("cargo xtask vm-test --kernel {} --scenario {} --env {}{flags}", self.kernel, self.scenario, self.env)
    }

    pub fn ok(&self) -> bool {
        self.snapshot_error.is_none() && matches!(&self.outcome, Ok(v) if v.passed())
    }
}
