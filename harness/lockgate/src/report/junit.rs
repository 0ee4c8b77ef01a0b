//! JUnit XML: one `<testsuite>` per kernel, one `<testcase>` per scenario × kernel × environment
//! (`classname` = `kernel.environment`, `name` = scenario). A failed verdict is a `<failure>`
//! whose text is the verdict's failure lines; a harness error (boot, records, manifest) is an
//! `<error>`; a passing verdict whose snapshot differs from the recorded one is a
//! `<failure type="snapshot">`, one whose snapshot is new a `<failure type="snapshot-new">` (a
//! run with unrecorded snapshots fails, as insta's does; the message says how to accept them);
//! a cell whose expectations were all skipped checked nothing: `<skipped>`, or a
//! `<failure type="nothing-checked">` where that fails the run (`CI=true`).
//! CI systems (GitHub test reporters, GitLab, Jenkins) read it as they read any test run.
//!
//! Written with `quick-junit`, nextest's JUnit model and writer: the XML CI's test reporters
//! already read from nextest, its counts kept by the model as cases are added, its escaping
//! quick-xml's. Only [`visible`] stays here: quick-junit silently drops ANSI sequences and C0
//! controls (tab and carriage return too), and a console tail's are part of the evidence.

use super::CellResult;
use crate::judge::cells::SnapshotState;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// What one cell becomes in JUnit terms.
enum Kind {
    Pass,
    Skipped(String),
    /// `(type, message, text)`
    Failure(&'static str, String, String),
    Error(String, String),
}

fn kind(c: &CellResult) -> Kind {
    match &c.outcome {
        Err(e) => Kind::Error(first_line(&e.to_string()), e.to_string()),
        Ok(v) => {
            let mut lines = v.failures();
            let snapshot_only = lines.is_empty();
            lines.extend(c.snapshot_problem());
            if let (true, Some(n)) = (lines.is_empty(), &v.nothing_checked) {
                return match c.nothing_checked_fails {
                    true => Kind::Failure(
                        "nothing-checked",
                        format!("checked nothing: {n}"),
                        format!("checked nothing: {n}"),
                    ),
                    false => Kind::Skipped(format!("checked nothing: {n}")),
                };
            }
            if lines.is_empty() {
                Kind::Pass
            } else {
                let ty = match (snapshot_only, &c.snapshot) {
                    (false, _) => "verdict",
                    (true, SnapshotState::New) => "snapshot-new",
                    (true, _) => "snapshot",
                };
                Kind::Failure(ty, lines[0].clone(), lines.join("\n"))
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// A `<failure>` or `<error>` with its type, one-line message and whole text.
fn problem(kind: NonSuccessKind, ty: &str, message: &str, text: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_type(ty).set_message(visible(message)).set_description(visible(text));
    status
}

fn status(c: &CellResult) -> TestCaseStatus {
    match kind(c) {
        Kind::Pass => TestCaseStatus::success(),
        Kind::Skipped(message) => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(visible(&message));
            status
        }
        Kind::Failure(ty, message, text) => problem(NonSuccessKind::Failure, ty, &message, &text),
        Kind::Error(message, text) => problem(NonSuccessKind::Error, "harness", &message, &text),
    }
}

/// The whole report. Suites appear in the order their kernels first appear in `cells`.
pub fn render(cells: &[CellResult]) -> String {
    let mut kernels: Vec<&str> = Vec::new();
    for c in cells {
        if !kernels.contains(&c.kernel.as_str()) {
            kernels.push(&c.kernel);
        }
    }
    let mut report = Report::new("lockgate");
    for k in kernels {
        let mut suite = TestSuite::new(visible(k));
        for c in cells.iter().filter(|c| c.kernel == k) {
            let mut case = TestCase::new(visible(&c.scenario), status(c));
            case.set_classname(visible(&format!("{}.{}", c.kernel, c.env)));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    xml(&report)
}

/// A report for a run that ended before any cell was judged (no kernels, no QEMU, a bad
/// scenario file): one erroring test case, so that CI shows the reason instead of nothing.
pub fn render_run_error(error: &str) -> String {
    let mut case = TestCase::new("run", problem(NonSuccessKind::Error, "harness", &first_line(error), error));
    case.set_classname("lockgate");
    let mut suite = TestSuite::new("lockgate");
    suite.add_test_case(case);
    let mut report = Report::new("lockgate");
    report.add_test_suite(suite);
    xml(&report)
}

fn xml(report: &Report) -> String {
    // quick-junit's only errors are the writer's, and a Vec in memory does not fail.
    report.to_string().expect("writing XML into memory")
}

/// `s` with every character quick-junit would drop or XML 1.0 cannot carry (C0 and C1
/// controls but the newline, DEL, U+FFFE, U+FFFF) shown as `\u{..}`, so that an ANSI colour
/// or a stray NUL in a console tail stays visible in the report. A carriage return before a
/// newline goes, as an XML parser would drop it.
fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => out.push(ch),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", ch as u32))
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::{BootError, CellError};
    use crate::judge::{CellVerdict, ExpectationVerdict, Status};
    use quick_xml::events::Event;
    use quick_xml::Reader;

    fn verdict(scenario: &str, kernel: &str, fail: Option<&str>) -> CellVerdict {
        CellVerdict {
            scenario: scenario.into(),
            kernel: kernel.into(),
            environment: "bare".into(),
            landlock: "ABI 6".into(),
            kernel_landlock: None,
            enforcer_claim: "lockgate-enforcer: enforcement=full".into(),
            enforcer_exit: "exit:0".into(),
            missing_paths: vec![],
            setup_notes: vec![],
            expectations: vec![ExpectationVerdict {
                expect: "touch /sandbox/testfile → denied EACCES by sandbox".into(),
                when: None,
                status: if fail.is_some() { Status::Fail } else { Status::Pass },
                control: Some("allowed".into()),
                enforced: Some(if fail.is_some() { "allowed" } else { "denied EACCES" }.into()),
                denied_by: None,
                claimed: None,
                reason: fail.map(String::from),
            }],
            findings: vec![],
            nothing_checked: None,
            nothing_checked_intended: false,
            evidence: Default::default(),
        }
    }

    pub(crate) fn sample() -> Vec<CellResult> {
        let cell = |scenario: &str, kernel: &str, outcome: Result<CellVerdict, CellError>| CellResult {
            kernel: kernel.into(),
            env: "bare".into(),
            scenario: scenario.into(),
            variant: 0,
            outcome,
            snapshot: SnapshotState::NotCompared,
            nothing_checked_fails: false,
        };
        vec![
            cell("openshell-803", "debian-6.12", Ok(verdict("openshell-803", "debian-6.12", None))),
            cell(
                "dac-only",
                "debian-6.12",
                Ok(verdict(
                    "dac-only",
                    "debian-6.12",
                    Some("expected denied EACCES by sandbox, got allowed & <unconfined> \"quoted\""),
                )),
            ),
            cell(
                "openshell-803",
                "ubuntu-5.15",
                // harness error on ubuntu-5.15: the kernel panicked\n--- console tail ---\n…
                Err(CellError::Boot {
                    kernel: "ubuntu-5.15".into(),
                    cause: BootError::Ended("the kernel panicked".into()),
                    console_tail: "\u{1b}[0mKernel panic - not syncing <VFS>".into(),
                }),
            ),
        ]
    }

    /// What a JUnit reader sees: (element path, attributes, text) for testcase children.
    #[derive(Debug, Default)]
    struct Parsed {
        suites: Vec<(String, Vec<(String, String)>)>,
        cases: Vec<Case>,
        root: Vec<(String, String)>,
    }

    #[derive(Debug, Default, Clone)]
    struct Case {
        suite: String,
        classname: String,
        name: String,
        /// ("failure"|"error"|"skipped", type, message, text)
        problem: Option<(String, String, String, String)>,
    }

    fn attrs(e: &quick_xml::events::BytesStart) -> Vec<(String, String)> {
        e.attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().expect("escaped value").into_owned(),
                )
            })
            .collect()
    }

    fn get(a: &[(String, String)], k: &str) -> String {
        a.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no attribute {k} in {a:?}"))
    }

    fn parse(xml: &str) -> Parsed {
        let mut r = Reader::from_str(xml);
        let mut p = Parsed::default();
        let mut suite = String::new();
        let mut case: Option<Case> = None;
        let mut problem: Option<(String, String, String, String)> = None;
        loop {
            match r
                .read_event()
                .unwrap_or_else(|e| panic!("not well-formed XML at {}: {e}\n{xml}", r.buffer_position()))
            {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuites" => p.root = attrs(&e),
                Event::Start(e) if e.name().as_ref() == b"testsuite" => {
                    let a = attrs(&e);
                    suite = get(&a, "name");
                    p.suites.push((suite.clone(), a));
                }
                ev @ (Event::Start(_) | Event::Empty(_)) => {
                    let (e, empty) = match ev {
                        Event::Start(e) => (e, false),
                        Event::Empty(e) => (e, true),
                        _ => unreachable!(),
                    };
                    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                    let a = attrs(&e);
                    match name.as_str() {
                        "testcase" => {
                            let c = Case {
                                suite: suite.clone(),
                                classname: get(&a, "classname"),
                                name: get(&a, "name"),
                                problem: None,
                            };
                            if empty {
                                p.cases.push(c);
                            } else {
                                case = Some(c);
                            }
                        }
                        "failure" | "error" => {
                            problem = Some((name, get(&a, "type"), get(&a, "message"), String::new()))
                        }
                        "skipped" if empty => {
                            case.as_mut().expect("inside a testcase").problem =
                                Some((name, String::new(), get(&a, "message"), String::new()))
                        }
                        other => panic!("unexpected element {other}"),
                    }
                }
                Event::Text(t) => {
                    if let Some(pr) = &mut problem {
                        pr.3.push_str(&t.unescape().expect("escaped text"));
                    }
                }
                Event::End(e) => match e.name().as_ref() {
                    b"failure" | b"error" => case.as_mut().expect("inside a testcase").problem = problem.take(),
                    b"testcase" => p.cases.push(case.take().expect("open testcase")),
                    _ => {}
                },
                _ => {}
            }
        }
        p
    }

    #[test]
    fn parses_back_with_a_failing_and_an_erroring_cell() {
        let xml = render(&sample());
        let p = parse(&xml);
        assert_eq!(get(&p.root, "tests"), "3");
        assert_eq!(get(&p.root, "failures"), "1");
        assert_eq!(get(&p.root, "errors"), "1");
        assert_eq!(p.suites.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["debian-6.12", "ubuntu-5.15"]);
        assert_eq!(get(&p.suites[0].1, "tests"), "2");
        assert_eq!(get(&p.suites[0].1, "failures"), "1");
        assert_eq!(get(&p.suites[1].1, "errors"), "1");

        assert_eq!(p.cases.len(), 3);
        let pass = &p.cases[0];
        assert_eq!(
            (pass.suite.as_str(), pass.classname.as_str(), pass.name.as_str()),
            ("debian-6.12", "debian-6.12.bare", "openshell-803")
        );
        assert!(pass.problem.is_none());

        let fail = &p.cases[1];
        assert_eq!((fail.classname.as_str(), fail.name.as_str()), ("debian-6.12.bare", "dac-only"));
        let (el, ty, msg, text) = fail.problem.clone().expect("a failure");
        assert_eq!((el.as_str(), ty.as_str()), ("failure", "verdict"));
        let want = "touch /sandbox/testfile → denied EACCES by sandbox: expected denied EACCES by sandbox, got allowed & <unconfined> \"quoted\"";
        assert_eq!(msg, want);
        assert_eq!(text, want, "the failure text is the verdict's failure lines");

        let err = &p.cases[2];
        assert_eq!(
            (err.suite.as_str(), err.classname.as_str(), err.name.as_str()),
            ("ubuntu-5.15", "ubuntu-5.15.bare", "openshell-803")
        );
        let (el, ty, msg, text) = err.problem.clone().expect("an error");
        assert_eq!((el.as_str(), ty.as_str()), ("error", "harness"));
        assert_eq!(msg, "harness error on ubuntu-5.15: the kernel panicked");
        assert!(
            text.starts_with("harness error on ubuntu-5.15: the kernel panicked\n--- console tail ---\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\\u{1b}[0mKernel panic - not syncing <VFS>"),
            "control characters are shown, not written raw: {text}"
        );
    }

    #[test]
    fn a_changed_snapshot_is_a_failure() {
        let mut cells = sample();
        cells.truncate(1);
        cells[0].snapshot = SnapshotState::Changed;
        let p = parse(&render(&cells));
        let (el, ty, msg, _) = p.cases[0].problem.clone().expect("a failure");
        assert_eq!((el.as_str(), ty.as_str()), ("failure", "snapshot"));
        assert!(msg.contains("differs from the recorded one"));
    }

    #[test]
    fn a_run_error_is_one_erroring_case() {
        let p = parse(&render_run_error("no kernel could be fetched: \"apt-get\" <failed>\nsecond line"));
        assert_eq!(p.cases.len(), 1);
        let (el, _, msg, text) = p.cases[0].problem.clone().unwrap();
        assert_eq!(el, "error");
        assert_eq!(msg, "no kernel could be fetched: \"apt-get\" <failed>");
        assert!(text.ends_with("\nsecond line"));
    }

    #[test]
    fn a_cell_that_checked_nothing_is_skipped_or_failed() {
        let mut cells = sample();
        cells.truncate(1);
        let Ok(v) = &mut cells[0].outcome else { unreachable!() };
        v.expectations.clear();
        v.nothing_checked = Some("every expectation was skipped".into());
        let p = parse(&render(&cells));
        assert_eq!(get(&p.root, "skipped"), "1");
        let (el, _, msg, _) = p.cases[0].problem.clone().expect("a skipped element");
        assert_eq!((el.as_str(), msg.as_str()), ("skipped", "checked nothing: every expectation was skipped"));
        cells[0].nothing_checked_fails = true;
        let p = parse(&render(&cells));
        let (el, ty, _, text) = p.cases[0].problem.clone().expect("a failure");
        assert_eq!((el.as_str(), ty.as_str()), ("failure", "nothing-checked"));
        assert_eq!(text, "checked nothing: every expectation was skipped");
    }

    #[test]
    fn what_xml_or_quick_junit_would_drop_is_shown() {
        assert_eq!(
            visible("a\tb\u{0}c\r\nd\re\u{1b}[0m\u{9b}\u{ffff}"),
            "a\\u{9}b\\u{0}c\nd\\u{d}e\\u{1b}[0m\\u{9b}\\u{ffff}"
        );
        assert_eq!(visible("ABI ≥ 3 ✓ & <x> \"q\""), "ABI ≥ 3 ✓ & <x> \"q\"");
        let p = parse(&render_run_error("tab\there\u{0}"));
        assert_eq!(p.cases[0].problem.clone().unwrap().3, "tab\\u{9}here\\u{0}");
    }
}
