//! The terminal summary: one row per cell.

use super::CellResult;
use crate::judge::cells::CellState;

pub fn render(cells: &[CellResult]) -> String {
    let header = ["kernel", "environment", "scenario", "result", "detail"];
    let rows: Vec<[String; 5]> = cells
        .iter()
        .map(|c| {
            let result = match c.state() {
                CellState::Pass if c.snapshot_error.is_some() => "SNAPSHOT",
                CellState::Pass => "pass",
                CellState::NothingChecked { fails: false } => "nothing checked",
                CellState::NothingChecked { fails: true } => "NOTHING CHECKED",
                CellState::Fail => "FAIL",
                CellState::Error => "ERROR",
            };
            let detail = c.problems().into_iter().next().unwrap_or_default();
            [c.kernel.clone(), c.env.clone(), c.scenario.clone(), result.to_string(), detail]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()).take(4) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cols: [&str; 5], out: &mut String| {
        for (i, c) in cols.iter().enumerate() {
            if i < 4 {
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
        line([&r[0], &r[1], &r[2], &r[3], &r[4]], &mut out);
    }
    out
}
