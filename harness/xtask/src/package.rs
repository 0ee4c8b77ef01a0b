//! `cargo xtask package`: lockgate as `.crate` files (`lockgate-protocol`, then `lockgate`), the
//! way crates.io takes them and `cargo install` builds them, with no checkout around.
//!
//! lockgate embeds files from its checkout (`harness/lockgate/build.rs`: the guest crates'
//! sources, the shipped kernels and images). A package holds only its own directory, so those
//! files are first copied into `harness/lockgate/bundle/` (not committed: made here each time,
//! from the tree as it is), where `build.rs` finds them when no checkout is around. A manifest
//! in the bundle is renamed `Cargo.toml.bundled`: cargo leaves a directory holding a
//! `Cargo.toml` out of a package.
//!
//! With `--verify-install DIR`, the packaged crates are then unpacked into `DIR` and lockgate is
//! built from them alone (a `[patch]` points `lockgate-protocol` at its unpacked crate, as the
//! registry would serve it), so what `cargo install lockgate` would build is what is checked.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `build.rs` embeds, relative to the workspace root (its `GUEST_CRATES` and `SHIPPED`,
/// the workspace manifest and its lock).
const BUNDLED: [&str; 7] =
    ["Cargo.toml", "Cargo.lock", "harness/guest", "harness/protocol", "harness/enforcer", "kernels", "images"];

#[derive(clap::Args)]
pub struct PackageArgs {
    /// Unpack the crates into this directory and build lockgate from them alone; prints the
    /// path of the binary built.
    #[arg(long, value_name = "DIR")]
    pub verify_install: Option<PathBuf>,
}

pub fn package(args: &PackageArgs) -> Result<bool> {
    let root = lockgate::internals::supply::guest::workspace_root();
    let bundle = root.join("harness/lockgate/bundle");
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle).with_context(|| format!("cannot clear {}", bundle.display()))?;
    }
    for rel in BUNDLED {
        copy_tree(&root.join(rel), &bundle.join(rel))?;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Both crates in one invocation: cargo verifies lockgate against the protocol crate it has
    // just packaged (a local overlay of the registry), not against crates.io.
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "package",
            "--allow-dirty",
            "-p",
            "lockgate-protocol",
            "-p",
            "lockgate",
            "--no-verify",
            "--exclude-lockfile",
        ])
        .status()
        .context("cannot run cargo package")?;
    if !status.success() {
        bail!("cargo package failed");
    }
    let version = env!("CARGO_PKG_VERSION");
    let crates = root.join("target/package");
    for name in ["lockgate-protocol", "lockgate"] {
        eprintln!("package: {}", crates.join(format!("{name}-{version}.crate")).display());
    }
    if let Some(dir) = &args.verify_install {
        let bin = build_from_crates(&crates, version, dir)?;
        println!("{}", bin.display());
    }
    Ok(true)
}

/// Unpacks both crates into `dir` and builds lockgate's binary from them; its path.
fn build_from_crates(crates: &Path, version: &str, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for name in ["lockgate-protocol", "lockgate"] {
        let file = crates.join(format!("{name}-{version}.crate"));
        let status = Command::new("tar").arg("-xzf").arg(&file).arg("-C").arg(dir).status()?;
        if !status.success() {
            bail!("cannot unpack {}", file.display());
        }
    }
    let lockgate = dir.join(format!("lockgate-{version}"));
    // The registry would serve lockgate-protocol; here it is the crate just unpacked.
    let config = lockgate.join(".cargo");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[patch.crates-io]\nlockgate-protocol = {{ path = {:?} }}\n",
            dir.join(format!("lockgate-protocol-{version}"))
        ),
    )?;
    // The versions this checkout was tested with (the package carries no lock: cargo would
    // resolve lockgate-protocol, which is not in the registry, to write one).
    let root = lockgate::internals::supply::guest::workspace_root();
    std::fs::copy(root.join("Cargo.lock"), lockgate.join("Cargo.lock"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&lockgate)
        .args(["build", "--release", "--bin", "lockgate"])
        // Its own target directory: nothing of the checkout's build is reused.
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("lockgate does not build from its packaged crate ({})", lockgate.display());
    }
    Ok(dir.join("target/release/lockgate"))
}

/// Copies `from` (a file or a tree) to `to`, leaving out what `build.rs` leaves out (build
/// products, dot files, editor leftovers) and renaming each `Cargo.toml` `Cargo.toml.bundled`.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        for entry in std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if name == "target" || name.starts_with('.') || name.ends_with('~') {
                continue;
            }
            copy_tree(&path, &to.join(&name))?;
        }
        return Ok(());
    }
    let to = match to.file_name().is_some_and(|n| n == "Cargo.toml") {
        true => to.with_file_name("Cargo.toml.bundled"),
        false => to.to_path_buf(),
    };
    std::fs::create_dir_all(to.parent().expect("a file has a parent"))?;
    std::fs::copy(from, &to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}
