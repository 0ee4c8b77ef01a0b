//! One insta snapshot per scenario × kernel × environment, under `scenarios/snapshots/`.
//!
//! The snapshot body is the judged cell ([`CellVerdict`]): stable fields only, no timings,
//! digests or addresses (those go to the provenance file beside it). insta does the comparing,
//! the `.snap.new` files and `cargo insta review`.

use crate::judge::CellVerdict;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// The snapshot's name, also its file name (`<name>.snap`).
pub fn name(v: &CellVerdict) -> String {
    format!("{}@{}@{}", v.scenario, v.kernel, v.environment)
}

/// Compare (or record) the cell's snapshot. `Err` carries insta's message when it differs.
/// Call from one thread at a time: insta reports through a panic, caught here.
pub fn check(dir: &Path, workspace: &Path, v: &CellVerdict) -> Result<(), String> {
    let body = serde_yaml::to_string(v).map_err(|e| e.to_string())?;
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("lockgate cell {}", name(v)));
    // insta finds the workspace through this variable when it is not run by `cargo test`.
    std::env::set_var("INSTA_WORKSPACE_ROOT", workspace);
    let snap_name = name(v);
    let recorded = dir.join(format!("{snap_name}.snap")).exists();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(|| settings.bind(|| insta::assert_snapshot!(snap_name.as_str(), body))));
    std::panic::set_hook(hook);
    result.map_err(|_| {
        if recorded {
            format!("snapshot {snap_name} differs from the recorded one; review the diff above with `cargo insta review`, or rerun with --accept")
        } else {
            format!("snapshot {snap_name} is new; record it with `cargo insta review`, or rerun with --accept")
        }
    })
}

/// Checks every judged cell's snapshot in `dir`, setting each cell's `snapshot_error`; with
/// `accept`, new and changed snapshots are recorded instead.
pub fn check_all(dir: &Path, workspace: &Path, cells: &mut [crate::report::CellResult], accept: bool) {
    if accept {
        // insta reads its update mode from the environment only.
        std::env::set_var("INSTA_UPDATE", "always");
    }
    for c in cells {
        if let Ok(v) = &c.outcome {
            c.snapshot_error = check(dir, workspace, v).err();
        }
    }
}
