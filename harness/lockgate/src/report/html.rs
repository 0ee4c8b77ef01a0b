//! The HTML report: one self-contained page per run (inline CSS and script, nothing fetched),
//! the matrix as a grid — a row per scenario, a column per kernel × environment, each cell
//! coloured by its verdict with its snapshot's state marked — and, per cell, its explanation,
//! its reproduce command and its whole output, opened from the grid. Rows and cells that did
//! not pass come first.

use super::{failure, output, CellResult, RunReport, SnapshotState};
use crate::judge::cells::CellState;

/// What a cell came to, as the page colours it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Look {
    Fail,
    Error,
    Nothing,
    Pass,
}

impl Look {
    fn of(c: &CellResult) -> Look {
        match c.state() {
            CellState::Error => Look::Error,
            CellState::Fail | CellState::NothingChecked { fails: true } => Look::Fail,
            CellState::NothingChecked { fails: false } => Look::Nothing,
            CellState::Pass => Look::Pass,
        }
    }
    fn class(self) -> &'static str {
        match self {
            Look::Fail => "fail",
            Look::Error => "error",
            Look::Nothing => "nothing",
            Look::Pass => "pass",
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Look::Fail => "✗",
            Look::Error => "⚠",
            Look::Nothing => "∅",
            Look::Pass => "✓",
        }
    }
    fn word(self) -> &'static str {
        match self {
            Look::Fail => "failed",
            Look::Error => "harness error (no verdict)",
            Look::Nothing => "checked nothing (every expectation skipped)",
            Look::Pass => "passed",
        }
    }
}

/// The snapshot's mark in a cell: a class and a title, or nothing when it matches or was not
/// compared.
fn snapshot_mark(s: &SnapshotState) -> Option<(&'static str, String)> {
    match s {
        SnapshotState::NotCompared | SnapshotState::Matches => None,
        SnapshotState::New => Some(("snap-unsettled", "snapshot new, not recorded".into())),
        SnapshotState::Changed => Some(("snap-unsettled", "snapshot changed, not recorded".into())),
        SnapshotState::Unreadable(e) => Some(("snap-unsettled", format!("snapshot unreadable: {e}"))),
        SnapshotState::Recorded { .. } => Some(("snap-recorded", format!("snapshot {}", s.label()))),
    }
}

/// The page of a whole run. `repro_flags` are the run's flags the reproduce commands need.
pub fn render(r: &RunReport, repro_flags: &[String]) -> String {
    let cells: Vec<&CellResult> = r.cells.iter().filter(|c| c.variant == 0).collect();
    let mut columns: Vec<(&str, &str)> = Vec::new();
    for c in &cells {
        if !columns.contains(&(c.kernel.as_str(), c.env.as_str())) {
            columns.push((&c.kernel, &c.env));
        }
    }
    columns.sort_unstable();
    // Rows: the worst cell of each scenario first, then by name.
    let mut rows: Vec<(&str, Look)> = Vec::new();
    for c in &cells {
        match rows.iter_mut().find(|(s, _)| *s == c.scenario) {
            Some((_, worst)) => *worst = (*worst).min(Look::of(c)),
            None => rows.push((&c.scenario, Look::of(c))),
        }
    }
    rows.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    let id_of = |c: &CellResult| cells.iter().position(|x| std::ptr::eq(*x, c)).map(|i| format!("cell-{i}"));

    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>lockgate: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&headline(&cells))
    ));
    out.push_str(&format!("<h1>lockgate: {}</h1>\n", esc(&headline(&cells))));
    out.push_str(&format!(
        "<p class=\"about\">Enforcer: {}. {} kernel boot{}, QEMU {}, {:.1}s.</p>\n",
        esc(&r.enforcer),
        r.boots(),
        if r.boots() == 1 { "" } else { "s" },
        esc(&r.qemu_version),
        r.wall.as_secs_f64()
    ));
    let bad: Vec<&CellResult> = {
        let mut b: Vec<&CellResult> = cells.iter().copied().filter(|c| Look::of(c) != Look::Pass).collect();
        b.sort_by_key(|c| (Look::of(c), c.scenario.as_str(), c.kernel.as_str(), c.env.as_str()));
        b
    };
    if !bad.is_empty() {
        out.push_str("<nav id=\"failing\"><h2>Cells that did not pass</h2>\n<ul>\n");
        for c in &bad {
            let id = id_of(c).unwrap_or_default();
            out.push_str(&format!(
                "<li class=\"{}\"><a href=\"#{id}\" data-cell=\"{id}\">{} {}@{}@{}</a>: {}</li>\n",
                Look::of(c).class(),
                Look::of(c).symbol(),
                esc(&c.scenario),
                esc(&c.kernel),
                esc(&c.env),
                esc(c.problems().first().map(String::as_str).unwrap_or(""))
            ));
        }
        out.push_str("</ul>\n</nav>\n");
    }

    out.push_str("<div class=\"layout\">\n<section class=\"grid-side\">\n<h2>Matrix</h2>\n<div class=\"scroll\"><table id=\"matrix\">\n<thead>\n<tr><th rowspan=\"2\" class=\"corner\">scenario</th>");
    let mut k = 0;
    while k < columns.len() {
        let span = columns[k..].iter().take_while(|(kernel, _)| *kernel == columns[k].0).count();
        out.push_str(&format!("<th colspan=\"{span}\" class=\"kernel\">{}</th>", esc(columns[k].0)));
        k += span;
    }
    out.push_str("</tr>\n<tr>");
    for (_, env) in &columns {
        out.push_str(&format!("<th class=\"env\">{}</th>", esc(env)));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for (scenario, _) in &rows {
        out.push_str(&format!("<tr><th class=\"scenario\">{}</th>", esc(scenario)));
        for (kernel, env) in &columns {
            let Some(c) = cells.iter().find(|c| c.scenario == *scenario && c.kernel == *kernel && c.env == *env) else {
                out.push_str("<td class=\"absent\" title=\"not in this run\">–</td>");
                continue;
            };
            let look = Look::of(c);
            let id = id_of(c).unwrap_or_default();
            let (snap_class, snap_title) = match snapshot_mark(&c.snapshot) {
                Some((class, title)) => (format!(" {class}"), format!("; {title}")),
                None => (String::new(), String::new()),
            };
            out.push_str(&format!(
                "<td class=\"cell {}{snap_class}\" data-state=\"{}\"><a href=\"#{id}\" data-cell=\"{id}\" title=\"{}@{}@{}: {}{}\">{}</a></td>",
                look.class(),
                look.class(),
                esc(scenario),
                esc(kernel),
                esc(env),
                look.word(),
                esc(&snap_title),
                look.symbol()
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
    out.push_str("<p class=\"legend\"><span class=\"cell pass\">✓</span> passed · <span class=\"cell fail\">✗</span> failed · <span class=\"cell error\">⚠</span> harness error (no verdict) · <span class=\"cell nothing\">∅</span> checked nothing · <span class=\"cell pass snap-unsettled\">✓</span> snapshot new or changed, not recorded · <span class=\"cell pass snap-recorded\">✓</span> snapshot recorded by this run · – not in this run. Select a cell for its explanation, reproduce command and output.</p>\n");

    out.push_str("</section>\n<section id=\"cells\">\n<h2>Cells</h2>\n");
    let mut ordered: Vec<&CellResult> = cells.clone();
    ordered.sort_by_key(|c| (Look::of(c), c.scenario.as_str(), c.kernel.as_str(), c.env.as_str()));
    for c in ordered {
        out.push_str(&cell_details(r, c, &id_of(c).unwrap_or_default(), repro_flags));
    }
    out.push_str("</section>\n</div>\n");
    out.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    out
}

/// The page of a run that failed before any cell was judged: why.
pub fn render_run_error(error: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>lockgate: the run failed</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>lockgate: ⚠ the run failed before any cell was judged</h1>\n<pre class=\"explanation\">{}</pre>\n</body>\n</html>\n",
        esc(error)
    )
}

/// One cell's details: its verdict, why, the reproduce command, each expectation, the output.
fn cell_details(r: &RunReport, c: &CellResult, id: &str, repro_flags: &[String]) -> String {
    let look = Look::of(c);
    let mut out = format!(
        "<details id=\"{id}\" class=\"detail {}\"><summary>{} {}@{}@{} — {}{}</summary>\n<div class=\"body\">\n",
        look.class(),
        look.symbol(),
        esc(&c.scenario),
        esc(&c.kernel),
        esc(&c.env),
        look.word(),
        snapshot_mark(&c.snapshot).map(|(_, t)| format!("; {}", esc(&t))).unwrap_or_default()
    );
    let explanation = match &c.outcome {
        Err(e) => e.to_string(),
        Ok(v) if !v.passed() => failure::render(v, &r.failure_context(c)),
        Ok(v) => match &v.nothing_checked {
            Some(n) => format!("checked nothing: {n}"),
            None => format!("passed: {} expectation(s) held; enforcer claim: {}", held(v), v.enforcer_claim),
        },
    };
    out.push_str(&format!("<h3>Explanation</h3>\n<pre class=\"explanation\">{}</pre>\n", esc(&explanation)));
    if let Some(p) = c.snapshot_problem() {
        out.push_str(&format!("<p class=\"snapshot\">{}</p>\n", esc(&p)));
    }
    out.push_str(&format!(
        "<h3>Reproduce</h3>\n<pre class=\"repro\">{}</pre>\n",
        esc(&c.repro_command_with(repro_flags))
    ));
    if let Ok(v) = &c.outcome {
        out.push_str("<h3>Expectations</h3>\n<table class=\"expectations\">\n<tr><th>status</th><th>expectation</th><th>when</th><th>control</th><th>enforced</th><th>denied by</th><th>reason</th></tr>\n");
        for e in &v.expectations {
            let status = serde_json::to_value(e.status).ok().and_then(|s| s.as_str().map(str::to_string));
            let opt = |o: &Option<String>| esc(o.as_deref().unwrap_or(""));
            out.push_str(&format!(
                "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(status.as_deref().unwrap_or("")),
                esc(status.as_deref().unwrap_or("")),
                esc(&e.expect),
                opt(&e.when),
                opt(&e.control),
                opt(&e.enforced),
                esc(&e.denied_by.map(|d| d.to_string()).unwrap_or_default()),
                opt(&e.reason)
            ));
        }
        out.push_str("</table>\n");
        out.push_str(&format!("<h3>Full output</h3>\n<pre class=\"output\">{}</pre>\n", esc(&output::render(v))));
    }
    out.push_str("</div>\n</details>\n");
    out
}

fn held(v: &crate::judge::CellVerdict) -> usize {
    v.expectations.iter().filter(|e| e.status == crate::judge::Status::Pass).count()
}

/// The run in one line.
fn headline(cells: &[&CellResult]) -> String {
    let count = |l: Look| cells.iter().filter(|c| Look::of(c) == l).count();
    let unsettled = cells.iter().filter(|c| c.snapshot.unsettled()).count();
    let mut parts = vec![format!("{} passed", count(Look::Pass))];
    for (l, word) in [(Look::Fail, "failed"), (Look::Error, "harness errors"), (Look::Nothing, "checked nothing")] {
        if count(l) > 0 {
            parts.push(format!("{} {word}", count(l)));
        }
    }
    if unsettled > 0 {
        parts.push(format!("{unsettled} snapshots not recorded"));
    }
    let mark = match count(Look::Fail) + count(Look::Error) {
        _ if cells.is_empty() => "⚠ no cell ran",
        0 => "✓",
        _ => "✗",
    };
    format!("{mark} {} cells: {}", cells.len(), parts.join(", "))
}

/// `text` escaped for HTML text and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .4em}h3{font-size:1em;margin:.8em 0 .3em}
.about,.legend{color:#555}
.layout{display:grid;grid-template-columns:minmax(0,auto) minmax(0,1fr);gap:1.5em;align-items:start}
#cells{position:sticky;top:0;max-height:100vh;overflow:auto}
@media (max-width:900px){.layout{display:block}#cells{position:static;max-height:none}}
.legend{max-width:40em}
.scroll{overflow-x:auto}
#matrix{border-collapse:collapse}
#matrix th,#matrix td{border:1px solid #ddd;padding:2px 4px;text-align:center}
#matrix th.scenario{text-align:left;font-weight:normal;font-family:ui-monospace,monospace;white-space:nowrap}
#matrix th.kernel{background:#f3f3f5}#matrix th.env{font-weight:normal;font-size:.85em;background:#fafafa}
.cell a{display:block;min-width:1.6em;color:inherit;text-decoration:none;font-weight:bold}
.cell{position:relative}
.pass{background:#d7f5dd;color:#106b26}.fail{background:#fbd3d0;color:#9b1c12}
.error{background:#fde6b8;color:#7a4b00}.nothing{background:#e5e5ea;color:#444}
td.absent{color:#aaa;background:#fff}
.snap-unsettled{outline:2px dashed #b07800;outline-offset:-3px}
.snap-recorded{outline:2px solid #3b6fd6;outline-offset:-3px}
.legend span.cell{display:inline-block;padding:0 .4em;border-radius:3px}
td.cell.selected{box-shadow:inset 0 0 0 3px #1d1d1f}
#failing ul{padding-left:1.2em}#failing li{background:none}
#failing li.fail a{color:#9b1c12}#failing li.error a{color:#7a4b00}#failing li.nothing a{color:#444}
details.detail{border:1px solid #ddd;border-left:6px solid #ccc;margin:.3em 0;border-radius:3px}
details.detail.fail{border-left-color:#d93025}details.detail.error{border-left-color:#e8a200}
details.detail.pass{border-left-color:#34a853}
details.detail>summary{cursor:pointer;padding:.3em .5em;font-family:ui-monospace,monospace}
details.detail .body{padding:0 .8em .6em}
pre{background:#f6f6f8;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-word;margin:0}
table.expectations{border-collapse:collapse;font-size:.9em}
table.expectations td,table.expectations th{border:1px solid #ddd;padding:2px 5px;vertical-align:top;text-align:left}
tr.fail td:first-child{color:#9b1c12;font-weight:bold}tr.pass td:first-child{color:#106b26}
"#;

/// Selecting a cell (in the grid or the list of failing cells) opens its details and scrolls to
/// them; a page opened at `#cell-N` opens that cell.
const SCRIPT: &str = r#"
function openCell(id){var d=document.getElementById(id);if(!d)return;d.open=true;
document.querySelectorAll('td.cell.selected').forEach(function(t){t.classList.remove('selected')});
var a=document.querySelector('#matrix a[data-cell="'+id+'"]');if(a)a.parentNode.classList.add('selected');
var panel=document.getElementById('cells');
if(getComputedStyle(panel).position==='sticky'){panel.scrollTop+=d.getBoundingClientRect().top-panel.getBoundingClientRect().top;}else{d.scrollIntoView({block:'start'});}}
document.querySelectorAll('a[data-cell]').forEach(function(a){a.addEventListener('click',function(e){
e.preventDefault();history.replaceState(null,'','#'+a.dataset.cell);openCell(a.dataset.cell);});});
// Opened at #cell-N: that cell, the grid beside it from the top (the browser's own scroll to
// the anchor would hide the grid's head).
window.addEventListener('load',function(){if(location.hash.length>1){openCell(location.hash.slice(1));
if(getComputedStyle(document.getElementById('cells')).position==='sticky')window.scrollTo(0,0);}});
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_failed_early_says_why() {
        let page = render_run_error("cannot read scenarios/x.yaml: <bad>");
        assert!(page.contains("<pre class=\"explanation\">cannot read scenarios/x.yaml: &lt;bad&gt;</pre>"), "{page}");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }
}
