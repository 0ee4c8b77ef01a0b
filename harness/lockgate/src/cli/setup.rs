//! Host set-up: the tools a run needs, installed through apt when we are root and they are
//! missing, so that the book's commands work on a fresh machine.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// (command that must exist, Debian package that provides it)
const TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("debootstrap", "debootstrap"),
    ("cpio", "cpio"),
    ("dpkg-deb", "dpkg"),
    ("apt-get", "apt"),
    // A kernel's modules come compressed in its package (supply/modules.rs), and a kernel's
    // image is decompressed to boot by its PVH entry (supply/boot_image.rs): Debian's 5.10 and
    // 6.1 images are LZ4, Debian's 6.12 and Ubuntu's zstd.
    ("xz", "xz-utils"),
    ("zstd", "zstd"),
    ("lz4", "lz4"),
];

fn have(cmd: &str) -> bool {
    if cmd == "debootstrap" {
        // lockgate only reads debootstrap's suite scripts (for mirrors), not the command.
        return std::path::Path::new("/usr/share/debootstrap/scripts").exists();
    }
    Command::new("sh").args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")]).status().is_ok_and(|s| s.success())
}

pub fn ensure_host_tools() -> Result<()> {
    let missing: Vec<&str> = TOOLS.iter().filter(|(c, _)| !have(c)).map(|(_, p)| *p).collect();
    install_missing(&missing, "a run", true)
}

/// Installs the `missing` packages that `purpose` needs, when there are any: with apt-get as
/// root (after `apt-get update` when `update`), else an error naming them and the command.
fn install_missing(missing: &[&str], purpose: &str, update: bool) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!("{purpose} needs {}: install them (as root: apt-get install {})", missing.join(", "), missing.join(" "));
    }
    eprintln!("lockgate: installing {} with apt-get, for {purpose}", missing.join(", "));
    if update {
        let status = Command::new("apt-get").args(["-q", "update"]).status().context("cannot run apt-get")?;
        if !status.success() {
            bail!("apt-get update failed");
        }
    }
    apt_install(missing)
}

/// Installs `packages` with apt-get, never removing or downgrading a package the user has: the
/// plan is simulated first and refused, naming the conflict, when it would remove or downgrade
/// anything; the install itself runs with `--no-remove` (and without `--allow-downgrades`), so
/// apt aborts rather than do either. When every package in the way came from the release's
/// backports suite, the install is planned again from that suite (see `backports`).
fn apt_install<S: AsRef<std::ffi::OsStr> + std::fmt::Display>(packages: &[S]) -> Result<()> {
    let names: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    let mut release = None;
    let mut conflicts = simulate(&names, None)?;
    if !conflicts.is_empty() && conflicts.iter().all(Conflict::is_backport) {
        let suite = super::backports::ensure_suite()?;
        conflicts = simulate(&names, Some(&suite))?;
        release = Some(suite);
    }
    if !conflicts.is_empty() {
        bail!("{}", conflict_message(&names, &conflicts));
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends", "--no-remove"])
        .args(release.iter().flat_map(|r| ["-t", r.as_str()]))
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!(
            "apt-get install {} failed (set-up never lets apt remove or downgrade a package you have; if apt wanted to, install them by hand)",
            names.join(" ")
        );
    }
    Ok(())
}

/// What installing `names` (from `release`, if given) would remove or downgrade.
fn simulate(names: &[String], release: Option<&str>) -> Result<Vec<Conflict>> {
    let simulated = Command::new("apt-get")
        .args(["install", "-s", "-q", "--no-install-recommends"])
        .args(release.iter().flat_map(|r| ["-t", *r]))
        .args(names)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LC_ALL", "C")
        .output()
        .context("cannot run apt-get")?;
    Ok(conflicts(&String::from_utf8_lossy(&simulated.stdout), &|old, new| version_lower(new, old)))
}

/// What an apt plan would do to a package the user has.
#[derive(Debug, PartialEq, Eq)]
enum Conflict {
    Remove { package: String, version: String },
    Downgrade { package: String, from: String, to: String },
}

impl Conflict {
    /// Whether the user's version of the package came from a backports suite.
    fn is_backport(&self) -> bool {
        match self {
            Conflict::Remove { version, .. } => super::backports::is_backport(version),
            Conflict::Downgrade { from, .. } => super::backports::is_backport(from),
        }
    }
}

/// The removals and downgrades in `apt-get -s` output (`Remv NAME [VERSION]`, `Inst NAME
/// [OLD] (NEW …)` with NEW lower than OLD by `lower(old, new)`).
fn conflicts(plan: &str, lower: &dyn Fn(&str, &str) -> bool) -> Vec<Conflict> {
    let mut out = Vec::new();
    for line in plan.lines() {
        let mut words = line.split_whitespace();
        let (Some(action), Some(package)) = (words.next(), words.next()) else { continue };
        let rest: Vec<&str> = words.collect();
        let bracketed = rest.first().filter(|w| w.starts_with('[')).map(|w| w.trim_matches(['[', ']']).to_string());
        match action {
            "Remv" => out.push(Conflict::Remove { package: package.into(), version: bracketed.unwrap_or_default() }),
            "Inst" => {
                let Some(from) = bracketed else { continue };
                let Some(to) = rest.get(1).map(|w| w.trim_start_matches('(').to_string()) else { continue };
                if lower(&from, &to) {
                    out.push(Conflict::Downgrade { package: package.into(), from, to });
                }
            }
            _ => {}
        }
    }
    out
}

/// `dpkg --compare-versions A lt B`.
fn version_lower(a: &str, b: &str) -> bool {
    Command::new("dpkg").args(["--compare-versions", a, "lt", b]).status().is_ok_and(|s| s.success())
}

fn conflict_message(names: &[String], conflicts: &[Conflict]) -> String {
    let what: Vec<String> = conflicts
        .iter()
        .map(|c| match c {
            Conflict::Remove { package, version } => format!("remove {package} {version}"),
            Conflict::Downgrade { package, from, to } => format!("downgrade {package} from {from} to {to}"),
        })
        .collect();
    format!(
        "installing {} with apt-get would {}: set-up never removes or downgrades a package you have, so it installed nothing. Install {} by hand in a way that keeps them (e.g. from the same suite as the packages named, `apt-get install -t SUITE {}`), or provide the commands some other way, then rerun",
        names.join(", "),
        what.join(", "),
        names.join(" "),
        names.join(" ")
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A headless browser and its WebDriver, for lockgate's own test of the HTML report: Debian's
/// `chromium` and `chromium-driver`, installed through apt when we are root and either is
/// missing (a machine with another Chrome and `chromedriver` on its PATH keeps them).
pub fn ensure_browser() -> Result<()> {
    let browser = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"].iter().any(|c| have(c));
    if browser && have("chromedriver") {
        return Ok(());
    }
    install_missing(&["chromium", "chromium-driver"], "the HTML report's browser test", true)
}

/// The cargo-insta lockgate's own test of `cargo insta review` on a project's snapshots runs:
/// the version of the insta crate lockgate writes its snapshots with (a test checks they agree).
pub const CARGO_INSTA_VERSION: &str = "1.49.0";

/// cargo-insta, for lockgate's own test of `cargo insta review` on a project's snapshots:
/// `cargo install --debug --locked cargo-insta@CARGO_INSTA_VERSION` into lockgate's cache
/// (`tools/cargo-insta-VERSION/`, beside the kernels: a fresh clone's empty target directory
/// would otherwise build it again, minutes of the test command), leaving the user's own
/// `~/.cargo/bin` alone. Built with `--debug`: the test runs it on a handful of snapshots, and
/// the unoptimised build takes about 0.75× the release build's time, which the test command
/// pays from nothing. `cache_root` is the root of the cache the caller opened. Its `bin`
/// directory.
pub fn ensure_cargo_insta(cache_root: &std::path::Path) -> Result<std::path::PathBuf> {
    let dir = cache_root.join("tools").join(format!("cargo-insta-{CARGO_INSTA_VERSION}"));
    let bin = dir.join("bin");
    let installed = Command::new(bin.join("cargo-insta"))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(CARGO_INSTA_VERSION));
    if installed {
        return Ok(bin);
    }
    eprintln!("lockgate: installing cargo-insta {CARGO_INSTA_VERSION} into {} (once)", dir.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["install", "--debug", "--locked", "--quiet", &format!("cargo-insta@{CARGO_INSTA_VERSION}"), "--root"])
        .arg(&dir)
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!(
            "cargo install --debug --locked cargo-insta@{CARGO_INSTA_VERSION} --root {} failed (its error is above)",
            dir.display()
        );
    }
    Ok(bin)
}

/// The tools a kernel build needs (`source: build:`), installed through apt when we are root.
pub fn ensure_build_tools() -> Result<()> {
    install_missing(&crate::supply::kernel_build::missing_build_packages(), "building a kernel", false)
}

/// Installs, with apt when root, the Debian packages the given enforcers' recipes need and this
/// machine lacks (a package counts as present when dpkg has it installed, or when a command of
/// its name is on the PATH, as npm from elsewhere is).
pub fn ensure_enforcer_tools<'a>(recipes: impl IntoIterator<Item = &'a crate::supply::recipe::Recipe>) -> Result<()> {
    let mut wanted: Vec<String> = recipes.into_iter().flat_map(|r| r.host_packages()).collect();
    wanted.sort();
    wanted.dedup();
    let missing: Vec<&str> = wanted.iter().map(String::as_str).filter(|p| !have(p) && !dpkg_has(p)).collect();
    install_missing(&missing, "fetching the enforcers", false)
}

/// The recipes of every adapter in `root`'s `enforcers/` that fetches its binary.
pub fn repository_recipes(root: &std::path::Path) -> Result<Vec<crate::supply::recipe::Recipe>> {
    let project = super::project::Project::new(root.to_path_buf(), true);
    Ok(project.fetched_adapters()?.into_iter().map(|(_, _, r)| r).collect())
}

/// Whether dpkg has `package` installed.
fn dpkg_has(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Whether the run `opts` selects has a kernel to build from source that the cache does not
/// have yet.
pub(super) fn selection_needs_a_build(opts: &crate::run::RunOptions, cache: &crate::cache::Cache) -> bool {
    let Ok(matrix) = opts.matrix(cache) else { return false };
    let Ok(model) = crate::model::load(&opts.scenarios_dir, &matrix) else { return false };
    let Ok(selected) = crate::plan::select_kernels(&model, &opts.selection.kernels) else { return false };
    let Ok(f) = crate::supply::for_repo(&opts.repo, &matrix.kernels, cache.clone(), false) else { return false };
    selected.into_iter().any(|i| match &model.kernels[i].value.source {
        crate::model::kernel::KernelSource::Build(b) => !matches!(f.cached_build(b), Ok(Some(_))),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18: a newer qemu-utils from backports is installed; installing qemu-system-x86
    /// from the main suite would remove it. Set-up refuses and names it.
    #[test]
    fn a_plan_that_removes_or_downgrades_is_refused_with_the_conflict() {
        let plan = "NOTE: This is only a simulation!\nReading package lists...\nThe following packages will be REMOVED:\n  qemu-utils\nRemv qemu-utils [1:8.2.2+ds-1~bpo12+1]\nInst qemu-system-x86 (1:7.2+dfsg-7+deb12u7 Debian:12.8/stable [amd64])\nInst libfoo [2.0-1] (1.0-1 Debian:12.8/stable [amd64])\nInst libbar [1.0-1] (1.1-1 Debian:12.8/stable [amd64])\nConf qemu-system-x86 (1:7.2+dfsg-7+deb12u7 Debian:12.8/stable [amd64])\n";
        let lower = |old: &str, new: &str| new < old;
        let found = conflicts(plan, &lower);
        assert_eq!(
            found,
            vec![
                Conflict::Remove { package: "qemu-utils".into(), version: "1:8.2.2+ds-1~bpo12+1".into() },
                Conflict::Downgrade { package: "libfoo".into(), from: "2.0-1".into(), to: "1.0-1".into() },
            ]
        );
        let m = conflict_message(&["qemu-system-x86".into()], &found);
        assert!(m.starts_with("installing qemu-system-x86 with apt-get would remove qemu-utils 1:8.2.2+ds-1~bpo12+1, downgrade libfoo from 2.0-1 to 1.0-1: set-up never removes or downgrades a package you have, so it installed nothing"), "{m}");
    }

    #[test]
    fn dpkg_orders_versions() {
        assert!(version_lower("1:7.2+dfsg-7", "1:8.2.2+ds-1~bpo12+1"));
        assert!(!version_lower("1:8.2.2+ds-1~bpo12+1", "1:7.2+dfsg-7"));
    }
}
