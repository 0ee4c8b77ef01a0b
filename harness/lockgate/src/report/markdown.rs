//! The Markdown summary for CI (GitHub's `$GITHUB_STEP_SUMMARY`, a PR comment, an artifact):
//! a matrix table — rows are scenario × environment, columns are kernels, each cell ✓ (passed),
//! ✗ (failed, or differs from its snapshot) or ⚠ (harness error) — then every cell that did not
//! pass, with its reasons.

use super::CellResult;
use crate::error::CellError;
use crate::judge::cells::CellState;
use crate::pool::KernelReport;
use crate::report::RunReport;
use std::time::Duration;

/// GitHub refuses a step summary above 1 MiB; stay well below it.
const MAX_BYTES: usize = 900 * 1024;
/// A harness error's text (often a console tail) is cut to this many lines per cell.
const MAX_ERROR_LINES: usize = 30;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Pass,
    /// Every expectation skipped, and that does not fail the run.
    Nothing,
    Fail,
    Error,
    /// The verdict lets the run pass, but the snapshot is new or changed and not recorded.
    Snapshot,
}

impl Mark {
    fn of(c: &CellResult) -> Mark {
        match (&c.outcome, c.state()) {
            (Err(_), _) => Mark::Error,
            _ if !c.verdict_ok() => Mark::Fail,
            _ if c.snapshot.unsettled() => Mark::Snapshot,
            (_, CellState::NothingChecked { .. }) => Mark::Nothing,
            _ => Mark::Pass,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Mark::Pass => "✓",
            Mark::Nothing => "∅",
            Mark::Fail => "✗",
            Mark::Error => "⚠",
            Mark::Snapshot => "✓ 📷",
        }
    }
}

/// The summary of a whole run: the matrix, the failing cells, and how each kernel booted.
/// `repro_flags` are the run's flags that select its enforcer (`--enforcer-fault MODE`,
/// `--enforcer NAME`, …), appended to the reproduction commands.
pub fn render(r: &RunReport, repro_flags: &[String]) -> String {
    let mut out = matrix(&r.cells, repro_flags);
    out.push_str(&boots(&r.kernels, &r.qemu_version, r.wall));
    cap(out)
}

/// A folded table of the boots: accelerator, Landlock as probed, wall time.
fn boots(kernels: &[KernelReport], qemu_version: &str, wall: Duration) -> String {
    let rows: Vec<String> = kernels
        .iter()
        .filter_map(|k| {
            let b = k.boot.as_ref()?;
            let abi = k.preflight.as_ref().map(|p| p.landlock.to_string()).unwrap_or_else(|| "?".into());
            Some(format!(
                "| {} | {} | {} | {:.1}s |\n",
                cell_text(&k.name),
                b.accel,
                cell_text(&abi),
                b.wall.as_secs_f64()
            ))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n<details><summary>Boots</summary>\n\n| kernel | accelerator | landlock | wall |\n| --- | --- | --- | --- |\n");
    for row in rows {
        out.push_str(&row);
    }
    out.push_str(&format!("\nQEMU {}; the run took {:.1}s.\n\n</details>\n", inline(qemu_version), wall.as_secs_f64()));
    out
}

/// A run that ended before any cell was judged.
pub fn render_run_error(error: &str) -> String {
    cap(format!(
        "## lockgate: ⚠ the run failed before any cell was judged\n\n{}",
        fenced(&cut_lines(error, MAX_ERROR_LINES * 2))
    ))
}

/// The matrix table and the list of failing cells.
pub fn matrix(cells: &[CellResult], repro_flags: &[String]) -> String {
    let mut kernels: Vec<&str> = Vec::new();
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for c in cells {
        if !kernels.contains(&c.kernel.as_str()) {
            kernels.push(&c.kernel);
        }
        let row = (c.scenario.as_str(), c.env.as_str());
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    kernels.sort_unstable();
    rows.sort_unstable();
    let marks: Vec<Mark> = cells.iter().map(Mark::of).collect();
    let count = |m: Mark| marks.iter().filter(|&&x| x == m).count();
    let (passed, failed, errors, nothing, unsettled) =
        (count(Mark::Pass), count(Mark::Fail), count(Mark::Error), count(Mark::Nothing), count(Mark::Snapshot));
    let passed = passed + unsettled;

    let mut out = String::new();
    let mut verdict = if cells.is_empty() {
        "⚠ no cell ran".to_string()
    } else if failed + errors + nothing == 0 {
        format!("✓ all {} cells passed", cells.len())
    } else if failed + errors == 0 {
        format!("{passed} of {} cells passed, {nothing} checked nothing (every expectation skipped)", cells.len())
    } else {
        let mut parts = vec![format!("{passed} passed")];
        if nothing > 0 {
            parts.push(format!("{nothing} checked nothing"));
        }
        if failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        if errors > 0 {
            parts.push(format!("{errors} harness error{}", if errors == 1 { "" } else { "s" }));
        }
        format!("{} of {} cells did not pass ({})", failed + errors + nothing, cells.len(), parts.join(", "))
    };
    let snapshots = cells.iter().filter(|c| c.snapshot.unsettled()).count();
    if snapshots > 0 {
        verdict.push_str(&format!(
            "; {snapshots} snapshot{} new or changed, not recorded (the run fails until they are)",
            if snapshots == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&format!("## lockgate: {verdict}\n\n"));
    if !cells.is_empty() {
        out.push_str("| scenario | environment |");
        for k in &kernels {
            out.push_str(&format!(" {} |", cell_text(k)));
        }
        out.push_str("\n| --- | --- |");
        for _ in &kernels {
            out.push_str(" :---: |");
        }
        out.push('\n');
        for (scenario, env) in &rows {
            out.push_str(&format!("| {} | {} |", cell_text(scenario), cell_text(env)));
            for k in &kernels {
                let mark = cells
                    .iter()
                    .zip(&marks)
                    .find(|(c, _)| c.kernel == *k && c.scenario == *scenario && c.env == *env)
                    .map(|(_, m)| m.symbol())
                    // Not in this run (a selector, a shard, a `kernels:` list).
                    .unwrap_or("–");
                out.push_str(&format!(" {mark} |"));
            }
            out.push('\n');
        }
        out.push_str("\n✓ passed · ✓ 📷 passed, its snapshot new or changed and not recorded · ∅ checked nothing (every expectation skipped) · ✗ failed · ⚠ harness error (no verdict) · – not in this run\n");
    }

    let bad: Vec<(&CellResult, Mark)> =
        cells.iter().zip(marks.iter().copied()).filter(|(_, m)| *m != Mark::Pass).collect();
    if !bad.is_empty() {
        out.push_str("\n### Cells that did not pass\n");
        // A boot that failed fails every cell of its kernel with the same text: show it once.
        let mut shown: Vec<(&CellError, String)> = Vec::new();
        for (c, mark) in bad {
            out.push_str(&format!(
                "\n#### {} `{}` on `{}` / `{}`\n\n",
                mark.symbol(),
                code_text(&c.scenario),
                code_text(&c.kernel),
                code_text(&c.env)
            ));
            match &c.outcome {
                Err(e) => match shown.iter().find(|(t, _)| *t == e) {
                    Some((_, first)) => {
                        out.push_str(&format!("Harness error — no verdict: the same as {first} above.\n"))
                    }
                    None => {
                        out.push_str("Harness error — no verdict:\n\n");
                        out.push_str(&fenced(&cut_lines(&e.to_string(), MAX_ERROR_LINES)));
                        shown.push((
                            e,
                            format!(
                                "`{}` on `{}` / `{}`",
                                code_text(&c.scenario),
                                code_text(&c.kernel),
                                code_text(&c.env)
                            ),
                        ));
                    }
                },
                Ok(_) => {
                    for p in c.problems().into_iter().chain(c.snapshot_problem()) {
                        out.push_str(&format!("- {}\n", inline(&p)));
                    }
                }
            }
            if !c.verdict_ok() {
                out.push_str(&format!("\nReproduce: `{}`\n", code_text(&c.repro_command_with(repro_flags))));
            }
        }
    }
    out
}

/// GitHub Actions workflow commands: one `::error` annotation per cell that did not pass, so
/// that a failed run names its cells on the run's page.
pub fn github_annotations(cells: &[CellResult]) -> String {
    let mut out = String::new();
    for c in cells.iter().filter(|c| !c.ok()) {
        let (what, reason) = match &c.outcome {
            Err(e) => ("harness error", first_line(&e.to_string())),
            Ok(_) => ("failed", c.problems().into_iter().next().unwrap_or_default()),
        };
        let title = format!("lockgate: {}@{}@{} {what}", c.scenario, c.kernel, c.env);
        out.push_str(&format!("::error title={}::{}\n", command_property(&title), command_data(&reason)));
    }
    out
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn command_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn command_property(s: &str) -> String {
    command_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text in a table cell: no line breaks, no `|`.
fn cell_text(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

/// Text inside a backtick code span we open ourselves.
fn code_text(s: &str) -> String {
    s.replace('`', "'").replace('\n', " ")
}

/// One line of prose. Code spans the text already holds (`` `abi >= 3` ``) are kept; outside
/// them, characters GitHub would take for HTML or an entity are escaped.
fn inline(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(open) = rest.find('`') {
        out.push_str(&escape_prose(&rest[..open]));
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close) => {
                out.push('`');
                out.push_str(&after[..close]);
                out.push('`');
                rest = &after[close + 1..];
            }
            None => {
                out.push_str("\\`");
                rest = after;
            }
        }
    }
    out.push_str(&escape_prose(rest));
    out
}

fn escape_prose(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// A fenced block that no line of `s` can close.
fn fenced(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let body = s.trim_end_matches('\n');
    format!("{fence}text\n{body}\n{fence}\n")
}

fn cut_lines(s: &str, max: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    if lines.len() <= max {
        return s.to_string();
    }
    let mut out = lines[..max].join("\n");
    out.push_str(&format!(
        "\n… {} more lines (the full text is in the JUnit report and the job's log)",
        lines.len() - max
    ));
    out
}

fn cap(mut s: String) -> String {
    if s.len() > MAX_BYTES {
        let mut at = MAX_BYTES;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        s.push_str("\n\n… (cut: the summary is too long for a CI step summary; see the JUnit report)\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::BootSummary;
    use crate::report::junit::tests::sample;
    use crate::vm::qemu::Accel;

    #[test]
    fn matrix_marks_each_cell_and_lists_the_failing_ones() {
        let md = matrix(&sample(), &[]);
        let expected_table = "\
## lockgate: 2 of 3 cells did not pass (1 passed, 1 failed, 1 harness error)

| scenario | environment | debian-6.12 | ubuntu-5.15 |
| --- | --- | :---: | :---: |
| dac-only | bare | ✗ | – |
| openshell-803 | bare | ✓ | ⚠ |
";
        assert!(md.starts_with(expected_table), "{md}");
        assert!(md.contains("\n### Cells that did not pass\n"), "{md}");
        assert!(md.contains(
            "#### ✗ `dac-only` on `debian-6.12` / `bare`\n\n\
             - touch /sandbox/testfile → denied EACCES by sandbox: expected denied EACCES by sandbox, got allowed &amp; &lt;unconfined&gt; \"quoted\"\n"
        ), "{md}");
        assert!(md.contains(
            "#### ⚠ `openshell-803` on `ubuntu-5.15` / `bare`\n\nHarness error — no verdict:\n\n```text\nharness error on ubuntu-5.15: the kernel panicked\n--- console tail ---\n"
        ), "{md}");
        // The passing cell is not listed.
        assert!(!md.contains("`openshell-803` on `debian-6.12`"), "{md}");
        assert!(
            md.contains("\nReproduce: `lockgate run --kernel debian-6.12 --scenario dac-only --env bare`\n"),
            "{md}"
        );
        let md = matrix(&sample(), &["--enforcer-fault".to_string(), "baseline-rw".to_string()]);
        assert!(md.contains("--scenario dac-only --env bare --enforcer-fault baseline-rw`\n"), "{md}");
    }

    #[test]
    fn a_boot_error_shared_by_cells_is_shown_once() {
        let mut cells = sample();
        let mut second = cells[2].clone();
        second.scenario = "dac-only".into();
        cells.push(second);
        let md = matrix(&cells, &[]);
        assert_eq!(md.matches("--- console tail ---").count(), 1, "{md}");
        assert!(md.contains("#### ⚠ `dac-only` on `ubuntu-5.15` / `bare`\n\nHarness error — no verdict: the same as `openshell-803` on `ubuntu-5.15` / `bare` above.\n"), "{md}");
    }

    #[test]
    fn all_passing() {
        let mut cells = sample();
        cells.truncate(1);
        let md = matrix(&cells, &[]);
        assert!(md.starts_with("## lockgate: ✓ all 1 cells passed\n"), "{md}");
        assert!(!md.contains("did not pass"));
    }

    #[test]
    fn a_changed_snapshot_is_kept_apart_from_a_passing_verdict() {
        let mut cells = sample();
        cells.truncate(1);
        cells[0].snapshot = crate::judge::cells::SnapshotState::Changed;
        let md = matrix(&cells, &[]);
        assert!(md.contains("| openshell-803 | bare | ✓ 📷 |"), "the verdict passed: {md}");
        assert!(md.contains("1 snapshot new or changed, not recorded (the run fails until they are)"), "{md}");
        assert!(md.contains("- snapshot openshell-803@debian-6.12@bare differs from the recorded one: review the diff with `cargo insta review` (in scenarios/), or rerun with --accept\n"), "{md}");
    }

    #[test]
    fn boots_are_listed() {
        let kernels = vec![KernelReport {
            name: "debian-6.12".into(),
            kernel_sha256: None,
            boot: Some(BootSummary {
                accel: Accel::Tcg,
                wall: Duration::from_millis(3700),
                ready_after: None,
                guest: None,
                peak_rss_kib: None,
                ended: "powered off".into(),
            }),
            preflight: None,
            error: None,
        }];
        let md = boots(&kernels, "7.2.0", Duration::from_secs(12));
        assert!(md.contains("| debian-6.12 | tcg | ? | 3.7s |\n"), "{md}");
        assert!(md.contains("QEMU 7.2.0; the run took 12.0s."), "{md}");
        assert_eq!(boots(&[], "7.2.0", Duration::ZERO), "");
    }

    #[test]
    fn annotations_name_the_cells() {
        let a = github_annotations(&sample());
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 2, "{a}");
        assert_eq!(
            lines[0],
            "::error title=lockgate%3A dac-only@debian-6.12@bare failed::touch /sandbox/testfile → denied EACCES by sandbox: expected denied EACCES by sandbox, got allowed & <unconfined> \"quoted\""
        );
        assert_eq!(lines[1], "::error title=lockgate%3A openshell-803@ubuntu-5.15@bare harness error::harness error on ubuntu-5.15: the kernel panicked");
        assert_eq!(command_data("50% a\nb"), "50%25 a%0Ab");
    }

    #[test]
    fn escaping_keeps_code_spans_and_fences_hold() {
        assert_eq!(inline("`abi >= 3` does not hold <here> a|b"), "`abi >= 3` does not hold &lt;here&gt; a|b");
        assert_eq!(cell_text("a|b"), "a\\|b");
        assert_eq!(inline("odd ` tick *x*"), "odd \\` tick \\*x\\*");
        let f = fenced("```\nnot closed");
        assert!(f.starts_with("````text\n") && f.ends_with("\n````\n"), "{f}");
        let long = (0..100).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n");
        assert!(
            cut_lines(&long, 30).ends_with("… 70 more lines (the full text is in the JUnit report and the job's log)")
        );
        assert!(render_run_error("boom").contains("```text\nboom\n```"));
    }
}
