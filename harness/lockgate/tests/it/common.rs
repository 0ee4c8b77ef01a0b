//! Helpers shared by the VM tests: run options for a few kernels and environments, with the
//! scenarios a test writes into its own temporary directory.

// Each test file uses the part it needs; the rest is not dead.
#![allow(dead_code)]

use lockgate::internals::run::RunOptions;
use lockgate::internals::supply::guest::workspace_root;
use std::path::Path;

/// A shipped scenario's text.
pub fn shipped(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join(format!("scenarios/{name}.yaml"))).unwrap()
}

/// Options for `kernels` × `envs` and the scenarios written into `dir`; one guest at a time,
/// no snapshots (tests assert on the verdicts themselves).
pub fn options(kernels: &[&str], envs: &[&str], scenarios: &[(&str, &str)], dir: &Path) -> RunOptions {
    let mut o = RunOptions::new(workspace_root());
    let sdir = dir.join("scenarios");
    std::fs::create_dir_all(&sdir).unwrap();
    for (name, text) in scenarios {
        std::fs::write(sdir.join(format!("{name}.yaml")), text).unwrap();
    }
    o.scenarios_dir = sdir;
    o.selection.kernels = kernels.iter().map(|k| k.to_string()).collect();
    o.selection.envs = envs.iter().map(|e| e.to_string()).collect();
    o.snapshots = false;
    o.jobs = 1;
    o
}

/// The shipped adapter `enforcers/NAME.yaml` and its binary, fetched by its pinned recipe into
/// the user's cache (as `lockgate enforcers fetch NAME` does): (adapter file, binary).
pub fn fetched(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = workspace_root();
    let file = root.join(format!("enforcers/{name}.yaml"));
    let (name, recipe) = lockgate::internals::supply::recipe::recipe_in(&file).unwrap().expect("a fetched binary");
    let cache = lockgate::internals::supply::open_cache(None).unwrap();
    let mut supply = lockgate::internals::supply::for_repo(&root, &root.join("kernels"), cache, false).unwrap();
    let binary = recipe.fetch(&name, &mut supply).unwrap();
    (file, binary)
}

/// Fails a test of the archive that could not reach it: without the archive such a test observes
/// nothing, so it must not pass (the test command needs the archive anyway, to fetch kernels from
/// nothing). `err` is the fetch's error.
pub fn assert_archive_answered(err: &str) {
    assert!(
        !err.contains("apt-get update failed"),
        "the archive cannot be reached from here, so nothing was checked (it needs Debian's archive through apt: set LOCKGATE_DEBIAN_MIRROR to a mirror that answers): {err}"
    );
}
