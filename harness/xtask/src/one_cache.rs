//! The lint for "one cache per command, handed in" (ARCHITECTURE.md): in the host crate's code
//! (tests aside), a cache is made in one place, `supply::open_cache`, and that is called only by
//! the commands, which hand the cache down. A module below them that opened its own would read
//! or fill another cache than the run's (`RunOptions.cache_dir`), as the shipped defaults once did.

use crate::module_graph::{code_lines, rust_files, without_tests};
use std::path::Path;

/// Where a cache may be made (`Cache::at`): the one opener.
const MAKES: [&str; 1] = ["supply/mod.rs"];
/// Who may open one (`open_cache(`): the opener itself, and the commands.
const OPENS: [&str; 4] = ["supply/mod.rs", "run.rs", "cli/project.rs", "cli/known_bad.rs"];

/// Each place in `harness/lockgate/src` that makes or opens a cache where it may not.
pub fn check(root: &Path) -> Vec<String> {
    let src = root.join("harness/lockgate/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap_or(&f).display().to_string();
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let code = code_lines(without_tests(&text));
        for (call, allowed) in [("Cache::at(", &MAKES[..]), ("open_cache(", &OPENS[..])] {
            if code.contains(call) && !allowed.contains(&rel.as_str()) {
                problems.push(format!(
                    "harness/lockgate/src/{rel} calls `{call}…)`: a module opens no cache of its own; take the one its command opened and handed down (allowed in: {})",
                    allowed.join(", ")
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_that_opens_its_own_cache_is_named() {
        let root = lockgate::internals::supply::guest::workspace_root();
        assert_eq!(check(&root), Vec::<String>::new());
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("harness/lockgate/src");
        std::fs::create_dir_all(src.join("supply")).unwrap();
        std::fs::write(src.join("supply/mod.rs"), "fn open_cache() { Cache::at(p) }\n").unwrap();
        std::fs::write(src.join("shipped.rs"), "fn d() { let c = crate::supply::open_cache(None); }\n").unwrap();
        std::fs::write(src.join("pool.rs"), "// Cache::at( in a comment\n#[cfg(test)]\nmod tests { Cache::at(x); }\n")
            .unwrap();
        let p = check(dir.path());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("harness/lockgate/src/shipped.rs calls `open_cache(…)`"), "{}", p[0]);
    }
}
