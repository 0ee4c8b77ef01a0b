//! The module graph of each crate, read from its sources: which module refers to which (`use
//! crate::…`, `crate::a::b` in bodies, `super::…`, a parent's `child::…`), and the cycles in it.
//!
//! `cargo xtask test` fails when a crate has a cycle, at either grain: between files (modules),
//! or between the top-level modules they belong to (`model::kernel` counts as `model`). A cycle
//! means two modules cannot be read, tested or changed one without the other; the data flow of
//! the architecture (load → plan → fetch → image → boot → observe → judge → report) only goes one
//! way. Test modules (`#[cfg(test)]` to the end of a file) are left out: a test may reach
//! anywhere.
//!
//! This reads text, not the compiler's resolution: a path written through a re-export or a
//! glob import counts for the module it names. That is the point: what a reader sees is what
//! is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside its crate: `""` for the root, `model::kernel`.
pub type Module = String;

/// Edges from each module to the modules it refers to.
#[derive(Debug, Default)]
pub struct Graph {
    pub edges: BTreeMap<Module, BTreeSet<Module>>,
}

/// The module path of a source file under `src`: `lib.rs` → root, `a/mod.rs` → `a`, `a/b.rs` → `a::b`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The file's code without its test module (by convention the last item of a file).
pub(crate) fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Lines that are comments are not code.
pub(crate) fn code_lines(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths written after `prefix::` at `at`: `a::b::C` gives one, `{a, b::{c, d}}` several.
fn paths_after(text: &str, at: usize) -> Vec<Vec<String>> {
    let rest = &text[at..];
    if let Some(group) = rest.strip_prefix('{') {
        // Top-level items of the brace group, each a path (nested groups are its children).
        let mut depth = 0;
        let mut end = group.len();
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    end = i;
                    break;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let inner = &group[..end];
        let mut items = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[start..]);
        let mut out = Vec::new();
        for item in items {
            let item = item.trim();
            match item.find("::{") {
                // `b::{c, d}`: the head, then each path of the nested group.
                Some(i) => {
                    let head: Vec<String> = item[..i].split("::").map(str::to_string).collect();
                    for tail in paths_after(item, i + 2) {
                        out.push(head.iter().cloned().chain(tail).collect());
                    }
                }
                None => {
                    let path: String = item.chars().take_while(|&c| is_ident(c) || c == ':').collect();
                    let path: Vec<String> = path.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
                    if !path.is_empty() {
                        out.push(path);
                    }
                }
            }
        }
        out
    } else {
        let head: String = rest.chars().take_while(|&c| is_ident(c) || c == ':').collect();
        vec![head.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect()]
    }
}

/// The longest prefix of `path` that is a module, or None.
fn resolve(path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m))
}

/// Occurrences of `word::` standing as a path start (not the tail of `x::word::`, not inside an identifier).
fn starts_of(text: &str, word: &str) -> Vec<usize> {
    let pat = format!("{word}::");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(&pat) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let standalone = !before.is_some_and(|c| is_ident(c) || c == ':');
        if standalone {
            out.push(at + pat.len());
        }
        from = at + pat.len();
    }
    out
}

/// The graph of the crate whose sources are in `src`.
pub fn crate_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = Graph::default();
    for file in &files {
        let me = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let code = code_lines(without_tests(&text));
        let mut targets = BTreeSet::new();
        let parent: Vec<String> = me.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
        let mut refer = |path: Vec<String>| {
            if let Some(m) = resolve(&path, &modules) {
                if m != me && !m.is_empty() {
                    targets.insert(m);
                }
            }
        };
        for at in starts_of(&code, "crate") {
            for p in paths_after(&code, at) {
                refer(p);
            }
        }
        // `super::x` from `a::b` is `a::x`; from a `mod.rs` (`a`) it is the crate root's `x`.
        let up: Vec<String> = parent[..parent.len().saturating_sub(1)].to_vec();
        for at in starts_of(&code, "super") {
            for p in paths_after(&code, at) {
                let mut full = up.clone();
                full.extend(p);
                refer(full);
            }
        }
        // A module's own children, used by their short name (`use kernel::KernelManifest`).
        let children: Vec<String> = modules
            .iter()
            .filter_map(|m| {
                let rest = if me.is_empty() { Some(m.as_str()) } else { m.strip_prefix(&format!("{me}::")) };
                rest.filter(|r| !r.contains("::") && !r.is_empty()).map(str::to_string)
            })
            .collect();
        for child in children {
            for at in starts_of(&code, &child) {
                let mut full = parent.clone();
                full.push(child.clone());
                full.extend(paths_after(&code, at).into_iter().next().unwrap_or_default());
                refer(full);
            }
        }
        graph.edges.insert(me, targets);
    }
    graph
}

impl Graph {
    /// The same graph with every module folded into its top-level module.
    pub fn top_level(&self) -> Graph {
        let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
        let mut g = Graph::default();
        for (from, tos) in &self.edges {
            let entry = g.edges.entry(top(from)).or_default();
            for to in tos {
                if top(to) != top(from) {
                    entry.insert(top(to));
                }
            }
        }
        g
    }

    /// Each cycle, as the modules of a strongly connected component of more than one module
    /// (a module never counts as importing itself).
    pub fn cycles(&self) -> Vec<Vec<Module>> {
        // Tarjan's algorithm, iterative enough for a few hundred modules.
        struct State<'a> {
            g: &'a Graph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: BTreeSet<&'a str>,
            next: usize,
            out: Vec<Vec<Module>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a str) {
            s.index.insert(v, s.next);
            s.low.insert(v, s.next);
            s.next += 1;
            s.stack.push(v);
            s.on_stack.insert(v);
            let g = s.g;
            for w in g.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if s.low[v] == s.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    s.out.push(comp);
                }
            }
        }
        let mut s = State {
            g: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in self.edges.keys() {
            if !s.index.contains_key(v.as_str()) {
                visit(&mut s, v);
            }
        }
        s.out.sort();
        s.out
    }

    /// One line per module: `from -> a, b`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (from, tos) in &self.edges {
            let name = if from.is_empty() { "(crate root)" } else { from };
            out.push_str(&format!("{name} -> {}\n", tos.iter().cloned().collect::<Vec<_>>().join(", ")));
        }
        out
    }
}

/// The crates of the workspace whose graphs are checked: (name, src directory).
pub fn workspace_crates(root: &Path) -> Vec<(String, PathBuf)> {
    ["lockgate", "guest", "enforcer", "protocol", "xtask"]
        .iter()
        .map(|c| (c.to_string(), root.join("harness").join(c).join("src")))
        .collect()
}

/// What ARCHITECTURE.md's table of host modules says each may import: (module, allowed), or
/// `None` for a row that may import every step (`run`).
fn documented_imports(text: &str) -> Vec<(String, Option<BTreeSet<String>>)> {
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|t| t.trim_end_matches(".rs").trim_end_matches('/').to_string())
            .collect()
    };
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            let (name, allowed) = (cols.first()?, cols.last()?);
            let name = ticked(name).into_iter().next()?;
            if cols.len() != 3 || name.starts_with("harness/") {
                return None;
            }
            let allowed = (!allowed.contains("every step")).then(|| ticked(allowed).into_iter().collect());
            Some((name, allowed))
        })
        .collect()
}

/// Where the host crate's imports go beyond what ARCHITECTURE.md says each module may import.
pub fn check_documented(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let rows = documented_imports(&text);
    let g = crate_graph(&root.join("harness/lockgate/src")).top_level();
    let mut problems = Vec::new();
    for (module, tos) in &g.edges {
        if module.is_empty() || module == "main" {
            continue;
        }
        match rows.iter().find(|(m, _)| m == module) {
            None => problems.push(format!("ARCHITECTURE.md has no row for the host module `{module}`")),
            Some((_, None)) => {}
            Some((_, Some(allowed))) => {
                for to in tos.iter().filter(|t| !allowed.contains(*t)) {
                    problems.push(format!("`{module}` imports `{to}`, which ARCHITECTURE.md does not allow it"));
                }
            }
        }
    }
    problems
}

/// The library's façade (`harness/lockgate/src/lib.rs`): the public modules it may have.
const FACADE_MODULES: [&str; 2] = ["cli", "internals"];

/// Where the library opens beyond its façade: a `pub mod` in lib.rs other than
/// [`FACADE_MODULES`], or a path of lockgate's that xtask names outside the façade (its
/// top-level items, `cli`, `internals`).
pub fn check_facade(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let lib = std::fs::read_to_string(root.join("harness/lockgate/src/lib.rs")).unwrap_or_default();
    for line in code_lines(&lib).lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("pub(crate) mod ")) else {
            continue;
        };
        let name = rest.trim_end_matches(';').trim();
        if line.starts_with("pub mod") && !FACADE_MODULES.contains(&name) {
            problems.push(format!(
                "harness/lockgate/src/lib.rs: `pub mod {name}` opens the library beyond its façade ({}): make it `mod {name};` and re-export what a user needs",
                FACADE_MODULES.join(", ")
            ));
        }
    }
    let facade_items: Vec<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub use "))
        .flat_map(|u| {
            let inner = u.rsplit_once('{').map(|(_, i)| i).unwrap_or(u.rsplit("::").next().unwrap_or(u));
            inner.trim_end_matches([';', '}']).split(',').map(|w| w.trim().to_string()).collect::<Vec<_>>()
        })
        .chain(FACADE_MODULES.iter().map(|m| m.to_string()))
        .collect();
    let mut files = Vec::new();
    rust_files(&root.join("harness/xtask/src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        // Code only: comments may name a module, and tests quote paths (this file's own do).
        let text = code_lines(without_tests(&text));
        for at in starts_of(&text, "lockgate") {
            let name: String = text[at..].chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() && !facade_items.contains(&name) {
                problems.push(format!(
                    "{}: names `lockgate::{name}`, outside the library's façade: use `lockgate::cli`, a re-exported item, or `lockgate::internals`",
                    f.strip_prefix(root).unwrap_or(&f).display()
                ));
            }
        }
    }
    problems
}

/// Every cycle of every crate, at both grains, in words; empty when there is none.
pub fn check(root: &Path) -> Vec<String> {
    let mut problems = check_documented(root);
    for (name, src) in workspace_crates(root) {
        let g = crate_graph(&src);
        for c in g.cycles() {
            problems.push(format!("{name}: modules import each other: {}", c.join(" ↔ ")));
        }
        for c in g.top_level().cycles() {
            problems
                .push(format!("{name}: top-level modules import each other (through their files): {}", c.join(" ↔ ")));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn paths_in_use_groups_and_bodies_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        write(src, "lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
        write(src, "a/mod.rs", "pub mod x;\nuse x::Thing;\n");
        write(src, "a/x.rs", "use crate::{b::{self, Y}, c};\n// crate::a is a comment\n");
        write(src, "b.rs", "fn f() { crate::c::g(); }\n#[cfg(test)]\nmod tests { use crate::a::x; }\n");
        write(src, "c.rs", "use super::b;\n");
        let g = crate_graph(src);
        assert_eq!(g.edges["a"], BTreeSet::from(["a::x".to_string()]));
        assert_eq!(g.edges["a::x"], BTreeSet::from(["b".to_string(), "c".to_string()]));
        assert_eq!(g.edges["b"], BTreeSet::from(["c".to_string()]), "test modules are left out");
        assert_eq!(g.edges["c"], BTreeSet::from(["b".to_string()]));
        assert_eq!(g.cycles(), vec![vec!["b".to_string(), "c".to_string()]]);
    }

    #[test]
    fn a_cycle_through_files_of_different_top_level_modules_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        write(src, "lib.rs", "pub mod model;\npub mod plan;\n");
        write(src, "model/mod.rs", "pub mod env;\npub mod scenario;\n");
        write(src, "model/env.rs", "use crate::plan::KernelRun;\n");
        write(src, "model/scenario.rs", "\n");
        write(src, "plan.rs", "use crate::model::scenario::Scenario;\n");
        let g = crate_graph(src);
        assert!(g.cycles().is_empty(), "no file imports one that imports it back");
        assert_eq!(g.top_level().cycles(), vec![vec!["model".to_string(), "plan".to_string()]]);
    }

    #[test]
    fn the_documented_imports_are_read_from_the_table() {
        let text = "| `a.rs` | job | `b`, `c/` |\n| `run.rs` | x | every step above |\n| `harness/x` | crate |\n| `d/` | y | nothing |\n";
        let rows = documented_imports(text);
        assert_eq!(rows[0], ("a".to_string(), Some(BTreeSet::from(["b".to_string(), "c".to_string()]))));
        assert_eq!(rows[1], ("run".to_string(), None));
        assert_eq!(rows[2], ("d".to_string(), Some(BTreeSet::new())));
        assert_eq!(rows.len(), 3);
    }

    /// The façade check reads lib.rs and xtask as they are: lockgate's own tree passes it, and a
    /// `pub mod` beyond the façade or an xtask path around it is named.
    #[test]
    fn the_facade_is_checked() {
        let root = lockgate::internals::supply::guest::workspace_root();
        assert_eq!(check_facade(&root), Vec::<String>::new());
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "harness/lockgate/src/lib.rs",
            "pub mod cli;\npub mod model;\npub use run::{run, RunOptions};\n",
        );
        write(dir.path(), "harness/xtask/src/main.rs", "fn f() { lockgate::run(); lockgate::model::load(); }\n");
        let p = check_facade(dir.path());
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("`pub mod model` opens the library"), "{}", p[0]);
        assert!(p[1].contains("names `lockgate::model`, outside the library's façade"), "{}", p[1]);
    }

    #[test]
    fn the_workspace_has_no_cycle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let problems = check(&root);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
