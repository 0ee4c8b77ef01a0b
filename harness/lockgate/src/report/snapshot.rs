//! One insta snapshot per scenario × kernel × environment, under `scenarios/snapshots/`.
//!
//! The snapshot body is the judged cell ([`CellVerdict`]): stable fields only, no timings,
//! digests or addresses (those go to the provenance file beside it). insta does the comparing,
//! the `.snap.new` files and `cargo insta review`.

use crate::judge::cells::SnapshotState;
use crate::judge::CellVerdict;
use insta::internals::{SnapshotContents, TextSnapshotContents};
use insta::TextSnapshotKind;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// The snapshot's name, also its file name (`<name>.snap`).
pub fn name(v: &CellVerdict) -> String {
    format!("{}@{}@{}", v.scenario, v.kernel, v.environment)
}

/// Compare (or record) the cell's snapshot; with `accept`, a new or changed one is recorded.
/// Call from one thread at a time. insta prints the diff and writes the `.snap.new` for `cargo
/// insta review`; the state is worked out here, so that insta neither panics nor says it
/// "stopped on the first failure" while lockgate carries on with every other cell.
pub fn check(dir: &Path, workspace: &Path, v: &CellVerdict, accept: bool) -> Result<SnapshotState, String> {
    let body = serde_yaml::to_string(v).map_err(|e| e.to_string())?;
    let snap_name = name(v);
    let file = dir.join(format!("{snap_name}.snap"));
    let state = if !file.exists() {
        SnapshotState::New
    } else {
        let old = insta::Snapshot::from_file(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let new = SnapshotContents::Text(TextSnapshotContents::new(body.clone(), TextSnapshotKind::File));
        if old.contents() == &new {
            SnapshotState::Matches
        } else {
            SnapshotState::Changed
        }
    };
    let state = match (state, accept) {
        (SnapshotState::New, true) => SnapshotState::Recorded { was_new: true },
        (SnapshotState::Changed, true) => SnapshotState::Recorded { was_new: false },
        (s, _) => s,
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("lockgate cell {snap_name}"));
    // insta finds the workspace through this variable when it is not run by `cargo test`.
    std::env::set_var("INSTA_WORKSPACE_ROOT", workspace);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(|| settings.bind(|| insta::assert_snapshot!(snap_name.as_str(), body))));
    std::panic::set_hook(hook);
    if result.is_err() && !state.unsettled() {
        return Err(format!("insta could not compare or record snapshot {snap_name} in {}", dir.display()));
    }
    Ok(state)
}

/// Checks every judged cell's snapshot in `dir`, setting each cell's `snapshot` state; with
/// `accept`, new and changed snapshots are recorded instead.
pub fn check_all(dir: &Path, workspace: &Path, cells: &mut [crate::report::CellResult], accept: bool) {
    // insta reads these from the environment only (once per workspace). Its verdict is not
    // lockgate's: lockgate works the state out itself and keeps going after a difference.
    std::env::set_var("INSTA_FORCE_PASS", "1");
    if accept {
        std::env::set_var("INSTA_UPDATE", "always");
    }
    for c in cells {
        if let Ok(v) = &c.outcome {
            c.snapshot = check(dir, workspace, v, accept).unwrap_or_else(SnapshotState::Unreadable);
        }
    }
}
