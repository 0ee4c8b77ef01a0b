//! The terminal summary: one row per cell, the verdict and the snapshot's state apart.

use super::CellResult;
use crate::judge::cells::CellState;

pub fn render(cells: &[CellResult]) -> String {
    let header = ["kernel", "environment", "scenario", "verdict", "snapshot", "detail"];
    let rows: Vec<[String; 6]> = cells
        .iter()
        .map(|c| {
            let verdict = match c.state() {
                CellState::Pass => "pass",
                CellState::NothingChecked { fails: false } => "nothing checked",
                CellState::NothingChecked { fails: true } => "NOTHING CHECKED",
                CellState::Fail => "FAIL",
                CellState::Error => "ERROR",
            };
            let detail = c.problems().into_iter().next().or_else(|| c.snapshot_problem()).unwrap_or_default();
            [
                c.kernel.clone(),
                c.env.clone(),
                c.scenario.clone(),
                verdict.to_string(),
                c.snapshot.label().to_string(),
                detail,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()).take(5) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cols: [&str; 6], out: &mut String| {
        for (i, c) in cols.iter().enumerate() {
            if i < 5 {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            } else {
                let short: String = c.chars().take(110).collect();
                out.push_str(&short);
            }
        }
        out.push('\n');
    };
    line(header, &mut out);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]], &mut out);
    }
    out
}
