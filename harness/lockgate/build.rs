//! Embeds what lockgate needs at run time and cannot find anywhere else once it is a dependency
//! of another project or an installed binary: the sources of the guest binaries (the guest
//! agent, the protocol, the reference enforcer, with a workspace manifest of their own and the
//! lock) and lockgate's shipped defaults (kernel manifests and their lock, the guest packages,
//! the container environments). `src/supply/shipped.rs` unpacks them into the cache by content digest.
//!
//! They are read from the tree this crate was built from: lockgate's checkout, a path
//! dependency's directory, or the checkout cargo makes of a git dependency (cargo checks out the
//! whole repository, so the sibling crates are there at build time). A packaged crate (`cargo
//! xtask package`, for crates.io or `cargo install` from a `.crate`) has no siblings: the same
//! files travel inside it, under `bundle/`, laid out as in the checkout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The crates the guest binaries are made of, relative to the workspace root.
const GUEST_CRATES: [&str; 3] = ["harness/guest", "harness/protocol", "harness/enforcer"];
/// lockgate's shipped defaults, relative to the workspace root.
const SHIPPED: [&str; 2] = ["kernels", "images"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = source_root(&manifest_dir);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The guest crates' workspace: the root manifest with only them as members, so that the
    // nested build needs nothing of the host crates.
    let manifest = std::fs::read_to_string(manifest_of(&root)).unwrap_or_else(|e| {
        panic!("lockgate embeds the guest sources from its own repository or its package's bundle/, but {} cannot be read ({e}): build lockgate from its repository (a path or git dependency, cargo install --path/--git) or from a crate made by `cargo xtask package`", manifest_of(&root).display())
    });
    let guest_manifest = guest_workspace(&manifest);
    std::fs::write(out.join("guest-workspace.toml"), guest_manifest).expect("write OUT_DIR/guest-workspace.toml");

    let mut guest = vec![("Cargo.toml".to_string(), out.join("guest-workspace.toml"))];
    guest.push(("Cargo.lock".to_string(), root.join("Cargo.lock")));
    for krate in GUEST_CRATES {
        collect(&root, &root.join(krate), &mut guest);
    }
    let mut shipped = Vec::new();
    for dir in SHIPPED {
        collect(&root, &root.join(dir), &mut shipped);
    }
    println!("cargo::rerun-if-changed={}", manifest_of(&root).display());
    for p in ["Cargo.lock"].iter().chain(GUEST_CRATES.iter()).chain(SHIPPED.iter()) {
        println!("cargo::rerun-if-changed={}", root.join(p).display());
    }

    let mut code = String::new();
    for (name, files) in [("GUEST_SOURCES", &mut guest), ("SHIPPED_FILES", &mut shipped)] {
        files.sort();
        writeln!(code, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
        for (rel, abs) in files.iter() {
            let abs = abs.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", abs.display()));
            writeln!(code, "    ({rel:?}, include_bytes!({:?})),", abs.display().to_string()).unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    std::fs::write(out.join("embedded.rs"), code).expect("write OUT_DIR/embedded.rs");
}

/// The workspace manifest at `root`: `Cargo.toml` in a checkout, its bundled name in a package.
fn manifest_of(root: &Path) -> PathBuf {
    match root.join("Cargo.toml").is_file() {
        true => root.join("Cargo.toml"),
        false => root.join(format!("Cargo.toml{BUNDLED_MANIFEST}")),
    }
}

/// Where the embedded files are read from: the checkout around this crate when it has the guest
/// crates (lockgate's repository, a path or git dependency), else the package's own `bundle/`.
fn source_root(manifest_dir: &Path) -> PathBuf {
    let checkout = manifest_dir.join("../..");
    if checkout.join(GUEST_CRATES[0]).join("Cargo.toml").is_file() {
        checkout
    } else {
        manifest_dir.join(BUNDLE)
    }
}

/// The directory of a packaged crate that holds the checkout's files it embeds.
const BUNDLE: &str = "bundle";
/// A manifest in the bundle carries this suffix: cargo leaves any directory holding a
/// `Cargo.toml` out of a package (it is another package), so the guest crates would be dropped.
const BUNDLED_MANIFEST: &str = ".bundled";

/// The root manifest with `members` naming the guest crates only and no `default-members`.
fn guest_workspace(manifest: &str) -> String {
    let members = format!("members = {GUEST_CRATES:?}");
    let mut found = false;
    let mut out = String::new();
    for line in manifest.lines() {
        if line.starts_with("default-members") {
            continue;
        }
        if line.starts_with("members") {
            found = true;
            out.push_str(&members);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    assert!(found, "the workspace Cargo.toml has no `members = [...]` line on a line of its own");
    out
}

/// Every file under `dir` (build products and editor leftovers excluded), by path relative to
/// `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name == "target" || name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under the root").display().to_string();
            let rel = rel.strip_suffix(BUNDLED_MANIFEST).map(String::from).unwrap_or(rel);
            out.push((rel, path));
        }
    }
}
