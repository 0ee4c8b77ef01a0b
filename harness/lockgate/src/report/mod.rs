//! Report: snapshots, the terminal table, and the run's provenance.

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
    pub fn ok(&self) -> bool {
        self.snapshot_error.is_none() && matches!(&self.outcome, Ok(v) if v.passed())
    }
}
