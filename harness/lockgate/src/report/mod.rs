//! Report: snapshots, the terminal table, and the run's provenance.

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
        let faults: String = enforcer_faults.iter().map(|f| format!(" --enforcer-fault {f}")).collect();
        format!("cargo xtask vm-test --kernel {} --scenario {} --env {}{faults}", self.kernel, self.scenario, self.env)
    }

    pub fn ok(&self) -> bool {
        self.snapshot_error.is_none() && matches!(&self.outcome, Ok(v) if v.passed())
    }
}
