//! JUnit XML: one `<testsuite>` per kernel, one `<testcase>` per scenario × kernel × environment
//! (`classname` = `kernel.environment`, `name` = scenario). A failed verdict is a `<failure>`
//! whose text is the verdict's failure lines; a harness error (boot, records, manifest) is an
//! `<error>`; a passing verdict whose snapshot differs from the recorded one is a
//! `<failure type="snapshot">`, one whose snapshot is new a `<failure type="snapshot-new">` (a
//! run with unrecorded snapshots fails, as insta's does; the message says how to accept them);
//! a cell whose expectations were all skipped checked nothing: `<skipped>`, or a
//! `<failure type="nothing-checked">` where that fails the run (`CI=true`).
//! CI systems (GitHub test reporters, GitLab, Jenkins) read it as they read any test run.

use super::CellResult;
use crate::judge::cells::SnapshotState;

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
        Err(e) => Kind::Error(first_line(e), e.clone()),
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

/// The whole report. Suites appear in the order their kernels first appear in `cells`.
pub fn render(cells: &[CellResult]) -> String {
    let mut kernels: Vec<&str> = Vec::new();
    for c in cells {
        if !kernels.contains(&c.kernel.as_str()) {
            kernels.push(&c.kernel);
        }
    }
    let count = |cs: &[&CellResult]| {
        let (mut f, mut e, mut s) = (0, 0, 0);
        for c in cs {
            match kind(c) {
                Kind::Pass => {}
                Kind::Skipped(..) => s += 1,
                Kind::Failure(..) => f += 1,
                Kind::Error(..) => e += 1,
            }
        }
        (cs.len(), f, e, s)
    };
    let all: Vec<&CellResult> = cells.iter().collect();
    let (n, f, e, _) = count(&all);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"lockgate\" tests=\"{n}\" failures=\"{f}\" errors=\"{e}\">\n"));
    for k in kernels {
        let cs: Vec<&CellResult> = cells.iter().filter(|c| c.kernel == k).collect();
        let (n, f, e, s) = count(&cs);
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\">\n",
            attr(k)
        ));
        for c in cs {
            let open = format!(
                "    <testcase classname=\"{}.{}\" name=\"{}\"",
                attr(&c.kernel),
                attr(&c.env),
                attr(&c.scenario)
            );
            match kind(c) {
                Kind::Pass => out.push_str(&format!("{open}/>\n")),
                Kind::Skipped(msg) => {
                    out.push_str(&format!("{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n", attr(&msg)))
                }
                Kind::Failure(ty, msg, text) => out.push_str(&format!(
                    "{open}>\n      <failure type=\"{ty}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    attr(&msg),
                    text_node(&text)
                )),
                Kind::Error(msg, text) => out.push_str(&format!(
                    "{open}>\n      <error type=\"harness\" message=\"{}\">{}</error>\n    </testcase>\n",
                    attr(&msg),
                    text_node(&text)
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A report for a run that ended before any cell was judged (no kernels, no QEMU, a bad
/// scenario file): one erroring test case, so that CI shows the reason instead of nothing.
pub fn render_run_error(error: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"lockgate\" tests=\"1\" failures=\"0\" errors=\"1\">\n  \
         <testsuite name=\"lockgate\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    \
         <testcase classname=\"lockgate\" name=\"run\">\n      <error type=\"harness\" message=\"{}\">{}</error>\n    </testcase>\n  \
         </testsuite>\n</testsuites>\n",
        attr(&first_line(error)),
        text_node(error)
    )
}

/// XML 1.0 cannot carry most control characters, even escaped; a console tail can hold them
/// (ANSI colours, a stray NUL). They are shown as `\u{..}` instead.
fn push_char(out: &mut String, ch: char, in_attr: bool) {
    match ch {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' if in_attr => out.push_str("&quot;"),
        '\'' if in_attr => out.push_str("&apos;"),
        // Attribute values are normalised by XML parsers: keep whitespace as character references.
        '\n' if in_attr => out.push_str("&#10;"),
        '\r' if in_attr => out.push_str("&#13;"),
        '\t' if in_attr => out.push_str("&#9;"),
        '\t' | '\n' | '\r' => out.push(ch),
        '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => out.push(ch),
        other => out.push_str(&format!("\\u{{{:x}}}", other as u32)),
    }
}

/// Escape for an attribute value (between double quotes).
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        push_char(&mut out, ch, true);
    }
    out
}

/// Escape for character data.
pub fn text_node(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        push_char(&mut out, ch, false);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
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
        let cell = |scenario: &str, kernel: &str, outcome: Result<CellVerdict, String>| CellResult {
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
                Ok(verdict("dac-only", "debian-6.12", Some("expected denied EACCES by sandbox, got allowed & <unconfined> \"quoted\""))),
            ),
            cell("openshell-803", "ubuntu-5.15", Err("harness error on ubuntu-5.15: the kernel panicked\n--- console tail ---\n\u{1b}[0mKernel panic - not syncing <VFS>".into())),
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
        /// ("failure"|"error", type, message, text)
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
    fn escaping() {
        assert_eq!(attr("a&b<c>\"d'e\nf"), "a&amp;b&lt;c&gt;&quot;d&apos;e&#10;f");
        assert_eq!(text_node("a&b<c>\"d\n\u{0}"), "a&amp;b&lt;c&gt;\"d\n\\u{0}");
        assert_eq!(text_node("ABI ≥ 3 ✓"), "ABI ≥ 3 ✓");
    }
}
