//! The latest-versions lane's report: per enforcer, its pinned release and its registry's
//! newest, and the cells (enforcer, kernel, environment, scenario) whose result the newest
//! release changed against the pinned results — a scenario it starts failing, one it starts
//! passing, one it fails another way — or why it could not be run, or that there is no newer
//! release. Pure: recorded cells in, Markdown out.

use super::compat::Recorded;
use std::collections::BTreeMap;

/// What became of one enforcer's newest release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The registry's newest is the pinned release.
    NoNewer,
    /// It could not be resolved, fetched or run as its adapter describes: why.
    CannotRun(String),
    /// Its run failed before any cell was judged (lockgate's failure, not the enforcer's).
    NotJudged,
    /// Its cells.
    Ran(Vec<Recorded>),
}

/// One enforcer's row group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub enforcer: String,
    pub pinned: String,
    pub newest: String,
    pub outcome: Outcome,
    /// The change to its adapter that would move the pin (for a reviewer; never applied).
    pub move_pin: Option<String>,
}

/// How a cell's result moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    StartsFailing,
    StartsPassing,
    FailsDifferently,
    /// Either run gave the cell no verdict (a harness error): nothing to compare.
    NoVerdict,
    NoPinnedResult,
}

impl Change {
    fn words(self) -> &'static str {
        match self {
            Change::StartsFailing => "starts failing",
            Change::StartsPassing => "starts passing",
            Change::FailsDifferently => "fails differently",
            Change::NoVerdict => "no verdict to compare (a harness error)",
            Change::NoPinnedResult => "no pinned result",
        }
    }
}

type Key = (String, String, String, String);

/// A changed cell: how, the pinned release's result (None: not run at the pin), the newest's.
pub type Changed<'a> = (Change, Option<Recorded>, &'a Recorded);

fn key(r: &Recorded) -> Key {
    (r.enforcer.clone(), r.kernel.clone(), r.env.clone(), r.scenario.clone())
}

/// The cells of `newest` whose result differs from the same cell in `pinned`, each with how;
/// the number of cells that stayed as they were; and how many of those fail on the same
/// expectation as at the pin with other words (an enforcer's reworded message).
pub fn changes<'a>(pinned: &[Recorded], newest: &'a [Recorded]) -> (Vec<Changed<'a>>, usize, usize) {
    let before: BTreeMap<Key, &Recorded> = pinned.iter().map(|r| (key(r), r)).collect();
    let mut out = Vec::new();
    let (mut same, mut reworded) = (0, 0);
    for n in newest {
        let Some(p) = before.get(&key(n)) else {
            out.push((Change::NoPinnedResult, None, n));
            continue;
        };
        let change = match (p.state == "pass", n.state == "pass") {
            _ if p.state == "error" || n.state == "error" => {
                (p.state != n.state || p.detail != n.detail).then_some(Change::NoVerdict)
            }
            (true, true) => None,
            (true, false) => Some(Change::StartsFailing),
            (false, true) => Some(Change::StartsPassing),
            (false, false) if p.state == n.state && p.detail == n.detail => None,
            (false, false) if p.state == n.state && expectation(&p.detail) == expectation(&n.detail) => {
                reworded += 1;
                None
            }
            (false, false) => Some(Change::FailsDifferently),
        };
        match change {
            Some(c) => out.push((c, Some((*p).clone()), n)),
            None => same += 1,
        }
    }
    out.sort_by_key(|a| (a.0, key(a.2)));
    (out, same, reworded)
}

/// The expectation a failure line is about: what precedes its first `: `.
fn expectation(detail: &str) -> &str {
    detail.split_once(": ").map_or(detail, |(e, _)| e)
}

fn result(r: &Recorded) -> String {
    let text = if r.detail.is_empty() { r.state.clone() } else { format!("{}: {}", r.state, r.detail) };
    cell_text(&text)
}

/// A table cell's text: no pipe, no line break, not a page long.
fn cell_text(s: &str) -> String {
    let one: String = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    match one.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// The report: one table, a row per changed cell (and per enforcer with nothing newer, or that
/// could not be run, or whose cells all stayed), then the pin moves a reviewer could make.
pub fn render(releases: &[Release], pinned: &[Recorded]) -> String {
    let mut out = String::from(
        "| enforcer | pinned | newest | kernel | environment | scenario | pinned result | newest result | change |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in releases {
        let head = format!("| {} | {} | {} ", r.enforcer, cell_text(&r.pinned), cell_text(&r.newest));
        match &r.outcome {
            Outcome::NoNewer => out.push_str(&format!("{head}| | | | | | no newer release |\n")),
            Outcome::CannotRun(why) => {
                out.push_str(&format!("{head}| | | | | {} | cannot run as its adapter describes |\n", cell_text(why)))
            }
            Outcome::NotJudged => out.push_str(&format!(
                "{head}| | | | | | the run failed before any cell was judged (lockgate's error, in its log) |\n"
            )),
            Outcome::Ran(cells) => {
                let (changed, same, reworded) = changes(pinned, cells);
                for (c, p, n) in &changed {
                    out.push_str(&format!(
                        "{head}| {} | {} | `{}` | {} | {} | {} |\n",
                        n.kernel,
                        n.env,
                        n.scenario,
                        p.as_ref().map(result).unwrap_or_else(|| "not run".into()),
                        result(n),
                        c.words()
                    ));
                }
                let cells =
                    if changed.is_empty() { format!("all {same} cells") } else { format!("{same} other cells") };
                let cells = match reworded {
                    0 => cells,
                    n => format!("{cells} ({n} failing on the same expectation as pinned, in other words)"),
                };
                out.push_str(&format!("{head}| | | {cells} | as pinned | as pinned | unchanged |\n"));
            }
        }
    }
    let moves: Vec<String> =
        releases.iter().filter_map(|r| r.move_pin.as_ref().map(|m| format!("- {}: {m}", r.enforcer))).collect();
    if !moves.is_empty() {
        out.push_str("\nTo move a pin (a reviewed change; this lane writes none):\n\n");
        out.push_str(&moves.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(enforcer: &str, scenario: &str, state: &str, detail: &str) -> Recorded {
        Recorded {
            enforcer: enforcer.into(),
            kernel: "debian-6.12".into(),
            env: "bare".into(),
            scenario: scenario.into(),
            state: state.into(),
            detail: detail.into(),
        }
    }

    /// Cells as `compat run` recorded them for bubblewrap 0.8.0 on debian-6.12 bare, against a
    /// newer release's.
    #[test]
    fn a_cell_that_starts_failing_or_passing_is_named_and_the_rest_counted() {
        let pinned = vec![
            rec("bubblewrap", "namespace-bind-readonly", "pass", ""),
            rec("bubblewrap", "namespace-no-network", "pass", ""),
            rec(
                "bubblewrap",
                "sandbox-readonly",
                "fail",
                "expected touch /sandbox/f denied EACCES by sandbox, got EROFS",
            ),
            rec("bubblewrap", "scope-signal", "fail", "a"),
            rec("bubblewrap", "tcp-connect", "fail", "x"),
            rec("bubblewrap", "garbled", "error", "harness error on debian-6.12: record line 53 is garbled"),
        ];
        let newest = vec![
            rec("bubblewrap", "namespace-bind-readonly", "fail", "write | allowed"),
            rec("bubblewrap", "namespace-no-network", "pass", ""),
            rec("bubblewrap", "sandbox-readonly", "pass", ""),
            rec("bubblewrap", "scope-signal", "fail", "b"),
            rec("bubblewrap", "tcp-connect", "fail", "x"),
            rec("bubblewrap", "brand-new", "pass", ""),
            rec("bubblewrap", "garbled", "pass", ""),
        ];
        let (c, same, reworded) = changes(&pinned, &newest);
        let kinds: Vec<(Change, &str)> = c.iter().map(|(k, _, n)| (*k, n.scenario.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (Change::StartsFailing, "namespace-bind-readonly"),
                (Change::StartsPassing, "sandbox-readonly"),
                (Change::FailsDifferently, "scope-signal"),
                (Change::NoVerdict, "garbled"),
                (Change::NoPinnedResult, "brand-new"),
            ]
        );
        assert_eq!((same, reworded), (2, 0));

        let releases = vec![
            Release {
                enforcer: "bubblewrap".into(),
                pinned: "0.8.0-2+deb12u1 (bookworm)".into(),
                newest: "0.11.0-2 (unstable)".into(),
                outcome: Outcome::Ran(newest.clone()),
                move_pin: Some("`version: 0.11.0-2`".into()),
            },
            Release {
                enforcer: "sandbox-runtime-seccomp".into(),
                pinned: "0.0.83".into(),
                newest: "0.0.83".into(),
                outcome: Outcome::NoNewer,
                move_pin: None,
            },
            Release {
                enforcer: "codex-linux-sandbox".into(),
                pinned: "0.20.0".into(),
                newest: "0.171.0".into(),
                outcome: Outcome::CannotRun("the package has no package/bin/codex-x86_64-unknown-linux-musl".into()),
                move_pin: None,
            },
        ];
        let t = render(&releases, &pinned);
        assert!(t.contains("| bubblewrap | 0.8.0-2+deb12u1 (bookworm) | 0.11.0-2 (unstable) | debian-6.12 | bare | `namespace-bind-readonly` | pass | fail: write \\| allowed | starts failing |"), "{t}");
        assert!(t.contains("| `sandbox-readonly` | fail: expected touch /sandbox/f denied EACCES by sandbox, got EROFS | pass | starts passing |"), "{t}");
        assert!(t.contains("| `brand-new` | not run | pass | no pinned result |"), "{t}");
        assert!(t.contains("| | | 2 other cells | as pinned | as pinned | unchanged |"), "{t}");
        assert!(t.contains("| sandbox-runtime-seccomp | 0.0.83 | 0.0.83 | | | | | | no newer release |"), "{t}");
        assert!(t.contains("| codex-linux-sandbox | 0.20.0 | 0.171.0 | | | | | the package has no package/bin/codex-x86_64-unknown-linux-musl | cannot run as its adapter describes |"), "{t}");
        assert!(t.contains("- bubblewrap: `version: 0.11.0-2`"), "{t}");
    }

    /// bubblewrap 0.13.1's refusal under Docker, as recorded, against 0.8.0's: one article more.
    #[test]
    fn a_reworded_failure_of_the_same_expectation_is_counted_not_listed() {
        let pinned = vec![
            rec("bubblewrap", "a", "fail", "enforcement full: expected `full`, it claimed `refused`: bwrap: No permissions to create new namespace"),
            rec("bubblewrap", "b", "fail", "probe read /data/file → allowed: not observed"),
        ];
        let newest = vec![
            rec("bubblewrap", "a", "fail", "enforcement full: expected `full`, it claimed `refused`: bwrap: No permissions to create a new namespace"),
            rec("bubblewrap", "b", "fail", "probe write /data/file → denied EROFS: not observed"),
        ];
        let (c, same, reworded) = changes(&pinned, &newest);
        assert_eq!((c.len(), c[0].0, c[0].2.scenario.as_str()), (1, Change::FailsDifferently, "b"));
        assert_eq!((same, reworded), (1, 1));
    }

    #[test]
    fn a_release_whose_cells_all_stayed_says_so() {
        let pinned = vec![rec("e", "a", "pass", ""), rec("e", "b", "fail", "x")];
        let r = Release {
            enforcer: "e".into(),
            pinned: "1".into(),
            newest: "2".into(),
            outcome: Outcome::Ran(pinned.clone()),
            move_pin: None,
        };
        let t = render(&[r], &pinned);
        assert!(t.ends_with("| e | 1 | 2 | | | all 2 cells | as pinned | as pinned | unchanged |\n"), "{t}");
    }
}
