//! From a run's boots to its cells: each planned cell judged from its kernel's observations, or
//! a harness error when the boot, the records or the environment failed (never a pass).

use super::blocked::landlock_blocked;
use super::{judge, CellInput, CellVerdict};
use crate::enforcer::claim::ClaimReader;
use crate::error::CellError;
use crate::model::Model;
use crate::plan::KernelRun;
use crate::pool::KernelOutcome;
use lockgate_protocol::CaseObservation;

/// The outcome of one cell: judged, or a harness error (never a pass).
#[derive(Debug, Clone)]
pub struct CellResult {
    pub kernel: String,
    pub env: String,
    pub scenario: String,
    /// The plan's variant (enforcer) the cell is of: 0 for a run of one enforcer.
    pub variant: usize,
    pub outcome: Result<CellVerdict, CellError>,
    /// The snapshot's state, apart from the verdict: a cell can pass and have a new snapshot.
    pub snapshot: SnapshotState,
    /// A cell that checked nothing fails the run (under `CI=true`, unless its scenario says it
    /// is intended).
    pub nothing_checked_fails: bool,
}

/// A cell's snapshot, compared with the recorded one (kept apart from the verdict).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SnapshotState {
    /// Not compared: `--no-snapshots`, a fault run, or a harness error (nothing to snapshot).
    #[default]
    NotCompared,
    Matches,
    /// No snapshot is recorded for this cell yet. The run fails until it is recorded.
    New,
    /// The verdict differs from the recorded snapshot. The run fails until it is reviewed.
    Changed,
    /// Recorded by this run (`--accept`): it was new (`true`) or had changed.
    Recorded {
        was_new: bool,
    },
    /// The recorded snapshot could not be read or written: why.
    Unreadable(String),
}

impl SnapshotState {
    /// New or changed and not recorded: the run fails, as insta's would.
    pub fn unsettled(&self) -> bool {
        matches!(self, SnapshotState::New | SnapshotState::Changed | SnapshotState::Unreadable(_))
    }

    /// One word for tables.
    pub fn label(&self) -> &'static str {
        match self {
            SnapshotState::NotCompared => "-",
            SnapshotState::Matches => "matches",
            SnapshotState::New => "NEW",
            SnapshotState::Changed => "CHANGED",
            SnapshotState::Recorded { was_new: true } => "recorded (new)",
            SnapshotState::Recorded { was_new: false } => "recorded (changed)",
            SnapshotState::Unreadable(_) => "UNREADABLE",
        }
    }

    /// What to do about it, when anything is to be done.
    pub fn message(&self, name: &str) -> Option<String> {
        match self {
            SnapshotState::New => Some(format!("snapshot {name} is new (not recorded yet): {ACCEPT_HOW}")),
            SnapshotState::Changed => {
                Some(format!("snapshot {name} differs from the recorded one: review the diff with `cargo insta review` (in scenarios/), or rerun with --accept"))
            }
            SnapshotState::Unreadable(e) => Some(e.clone()),
            _ => None,
        }
    }
}

/// How to accept new snapshots.
pub const ACCEPT_HOW: &str =
    "check the verdict, then record it with `cargo insta review` (in scenarios/) or by rerunning with --accept";

/// What a cell came to, for tables, summaries and exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    Pass,
    /// Every expectation was skipped: not a pass; `fails` under `CI=true` unless intended.
    NothingChecked {
        fails: bool,
    },
    Fail,
    /// The boot, the records or the environment failed: nothing was judged.
    Error,
}

/// `word` as one word of a POSIX shell command: as it is when it holds nothing the shell reads,
/// else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c);
    match !word.is_empty() && word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

impl CellResult {
    /// The command that re-runs only this cell.
    pub fn repro_command(&self, enforcer_faults: &[String]) -> String {
        let faults: Vec<String> =
            enforcer_faults.iter().flat_map(|f| ["--enforcer-fault".to_string(), f.clone()]).collect();
        self.repro_command_with(&faults)
    }

    /// The command that re-runs only this cell, with the run's other flags (`--enforcer NAME`,
    /// `--enforcer-fault MODE`, `--project DIR`) appended as given, in the form the user invoked
    /// lockgate with (`lockgate run …`, or `cargo xtask vm-test …` in a project's xtask), each
    /// word quoted for a POSIX shell where it needs it.
    pub fn repro_command_with(&self, flags: &[String]) -> String {
        let words: Vec<String> = ["--kernel", &self.kernel, "--scenario", &self.scenario, "--env", &self.env]
            .into_iter()
            .map(str::to_string)
            .chain(flags.iter().cloned())
            .map(|w| shell_word(&w))
            .collect();
        crate::invocation::run_command(&words.join(" "))
    }

    /// The verdict's state (the snapshot's is separate: `snapshot`).
    pub fn state(&self) -> CellState {
        match &self.outcome {
            Err(_) => CellState::Error,
            Ok(v) if !v.passed() => CellState::Fail,
            Ok(v) if v.checked_nothing() => CellState::NothingChecked { fails: self.nothing_checked_fails },
            Ok(_) => CellState::Pass,
        }
    }

    /// Every reason the verdict is not a plain pass, in order: its failures, why it checked
    /// nothing. The snapshot's state is apart: [`CellResult::snapshot_problem`].
    pub fn problems(&self) -> Vec<String> {
        let mut out = match &self.outcome {
            Err(e) => vec![e.to_string().lines().next().unwrap_or("").to_string()],
            Ok(v) => v.failures(),
        };
        if let Ok(v) = &self.outcome {
            out.extend(v.nothing_checked.as_ref().map(|n| format!("checked nothing: {n}")));
        }
        out
    }

    /// What is to be done about the snapshot (new or changed), if anything.
    pub fn snapshot_problem(&self) -> Option<String> {
        self.snapshot.message(&format!("{}@{}@{}", self.scenario, self.kernel, self.env))
    }

    /// Whether the verdict lets the run pass: a pass, or a cell that checked nothing where that
    /// does not fail. Says nothing of the snapshot.
    pub fn verdict_ok(&self) -> bool {
        matches!(self.state(), CellState::Pass | CellState::NothingChecked { fails: false })
    }

    /// Whether the cell lets the run pass: its verdict does, and its snapshot is not new or
    /// changed (a new snapshot fails the run until it is recorded, as insta's would).
    pub fn ok(&self) -> bool {
        self.verdict_ok() && !self.snapshot.unsettled()
    }
}

/// How the cells of a run are judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct JudgeOptions {
    /// Judge each cell by what holds on its bare kernel (the mutation gate's check).
    pub as_bare: bool,
    /// A cell that checked nothing fails, unless its scenario says it is intended (`CI=true`).
    pub strict: bool,
}

/// Judges every cell of `runs` from `outcomes` (one per run, same order).
pub fn judge_all(
    model: &Model,
    runs: &[KernelRun],
    outcomes: &[KernelOutcome],
    claims: &ClaimReader,
    opts: JudgeOptions,
) -> Vec<CellResult> {
    let mut cells = Vec::new();
    for (run, out) in runs.iter().zip(outcomes) {
        let kernel = &model.kernels[run.kernel].value;
        for cell in &run.cells {
            let case = &run.cases[cell.case];
            let judge_as_bare = opts.as_bare || cell.judge_as_bare;
            let scenario = &model.scenarios[cell.scenario].value;
            let outcome = match &out.observations {
                Ok(obs) => {
                    // A shared control run was observed in the case it names (same inputs).
                    let shared;
                    let case_obs = match &case.control_of {
                        None => &obs.cases[&case.id],
                        Some(of) => {
                            shared = CaseObservation {
                                control: obs.cases[of].control.clone(),
                                ..obs.cases[&case.id].clone()
                            };
                            &shared
                        }
                    };
                    // Only a container's facts explain a block; bare runs where the kernel is.
                    let facts = case.container.as_ref().map(|_| &cell.env_facts);
                    let blocked = landlock_blocked(&cell.env, facts, &case_obs.landlock, &obs.preflight.landlock);
                    match &case_obs.environment_error {
                        Some(e) => Err(CellError::Environment { kernel: kernel.name.to_string(), cause: e.clone() }),
                        None => Ok(judge(&CellInput {
                            scenario,
                            kernel: kernel.name.as_str(),
                            env: &cell.env,
                            obs: case_obs,
                            step_of: &cell.step_of,
                            seccomp_errno: cell.env_facts.seccomp_errno.as_deref(),
                            errno_rules: &cell.env_facts.errno_rules,
                            profile_allows: &cell.env_facts.allowed,
                            claims,
                            landlock_blocked: blocked.as_deref(),
                            namespaces_refused: facts.and_then(|f| f.namespaces_refused.as_deref()),
                            userns_restricted: obs.preflight.userns_restricted.as_deref() == Some("1"),
                            kernel_landlock: &obs.preflight.landlock,
                            entries: obs.preflight.entries.as_ref(),
                            overlayfs: obs.preflight.overlayfs,
                            yama_ptrace_scope: obs.preflight.yama_ptrace_scope,
                            judge_as_bare,
                            runtime: cell.env_facts.runtime,
                            not_asked: &cell.not_asked,
                            sentinels: &cell.sentinels,
                        })),
                    }
                }
                Err(e) => Err(e.clone()),
            };
            cells.push(CellResult {
                kernel: kernel.name.to_string(),
                env: cell.env.clone(),
                scenario: scenario.name.to_string(),
                variant: cell.variant,
                outcome,
                snapshot: SnapshotState::NotCompared,
                nothing_checked_fails: opts.strict && !scenario.may_skip_all,
            });
        }
    }
    cells
}
