//! The newest release of a pinned enforcer, as its registry gives it today (the latest-versions
//! lane, `compat run --latest`): asked the way the pinned recipe's fetch reaches the registry —
//! npm through `npm view`, crates through cargo's own resolution of a throwaway package's
//! dependency (`cargo generate-lockfile`, whose lock records the index's checksum), a
//! distribution's package through apt with the private state `apt.rs` keeps, for the
//! distribution's newest suite ([`newest_suite`]). No host name: each client's own
//! configuration, or the mirror `mirror.rs` finds.
//!
//! With no reviewed pin, what the registry says the artifact's digest is stands in for one: the
//! npm tarball is checked against the package's `dist.integrity`, the `.crate` by cargo against
//! the index checksum the lock file records (and by `recipe.rs` again), the .deb against the
//! signed index's SHA256. The result is the pinned recipe with the newest version and that
//! digest in it: fetching it goes through `recipe.rs` like a pin. Nothing here writes a pin.

use super::apt::{AptRoot, Listed};
use super::recipe::Recipe;
use super::Supply;
use crate::cache::sha256_file;
use crate::model::adapter::DebLibrary;
use crate::model::kernel::{Distro, PackageRef};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A recipe resolved to its registry's newest release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    /// The pinned recipe with the newest version and the registry's digest in it.
    pub recipe: Recipe,
    /// What the registry said, in one line (the digest the fetch is checked against).
    pub registry_says: String,
    /// A Linux sample's source package digest (its recipe has no `sha256:`; the pin's comes
    /// from the kernel lock file, which the lane never writes).
    pub source_sha256: Option<String>,
}

impl Newest {
    /// Whether it is the pinned release itself.
    pub fn is_pinned(&self, pinned: &Recipe) -> bool {
        version_of(&self.recipe) == version_of(pinned)
    }
}

/// The version a recipe pins, in one word (`suite/version` for a distribution's package).
pub fn version_of(r: &Recipe) -> String {
    match r {
        Recipe::Npm { version, .. } | Recipe::CargoInstall { version, .. } | Recipe::CrateExample { version, .. } => {
            version.clone()
        }
        Recipe::LinuxSample { package, .. } | Recipe::Deb { package, .. } => {
            format!("{} {} ({})", package.name, package.version, package.suite)
        }
    }
}

/// The suite a distribution's newest packages are in: Debian's unstable; for Ubuntu, whose
/// development series has no fixed name, the pin's own suite (its updates).
pub fn newest_suite(distro: Distro, pinned_suite: &str) -> String {
    match distro {
        Distro::Debian => "unstable".into(),
        Distro::Ubuntu => pinned_suite.into(),
    }
}

impl Supply {
    /// The newest release of what `pinned` fetches, with the digest its registry gives.
    pub fn newest(&mut self, pinned: &Recipe) -> Result<Newest> {
        match pinned {
            Recipe::Npm { package, version, file, .. } => {
                let view = npm_view(package)?;
                let newest = newest_npm(&view, version)
                    .with_context(|| format!("npm view {package}: no release beside {version}"))?;
                let integrity = npm_integrity(package, &newest)?;
                let work = self.cache.tempdir()?;
                let sha256 = npm_tarball_sha256(work.path(), package, &newest, &integrity)?;
                Ok(Newest {
                    recipe: Recipe::Npm { package: package.clone(), version: newest, sha256, file: file.clone() },
                    registry_says: format!("dist.integrity {integrity}"),
                    source_sha256: None,
                })
            }
            Recipe::CargoInstall { krate, .. } | Recipe::CrateExample { krate, .. } => {
                let work = self.cache.tempdir()?;
                let (version, checksum) = newest_crate(work.path(), krate)?;
                let mut recipe = pinned.clone();
                if let Recipe::CargoInstall { version: v, sha256, .. }
                | Recipe::CrateExample { version: v, sha256, .. } = &mut recipe
                {
                    *v = version;
                    *sha256 = checksum.clone();
                }
                Ok(Newest { recipe, registry_says: format!("index checksum {checksum}"), source_sha256: None })
            }
            Recipe::Deb { package, file, libraries, .. } => {
                let suite = newest_suite(package.distro, &package.suite);
                let root = self.newest_index(package, &suite)?;
                let listed = newest_listed(&root.versions(&package.name)?)?
                    .with_context(|| format!("the {} {suite} index lists no {}", package.distro, package.name))?;
                let mut names: Vec<String> = libraries.iter().map(|l| l.name.clone()).collect();
                // A build of another suite runs with that suite's C library, as a reviewer pins it.
                if suite != package.suite && !names.iter().any(|n| n == "libc6") {
                    names.push("libc6".into());
                }
                let mut libs = Vec::new();
                for n in names {
                    let l = newest_listed(&root.versions(&n)?)?
                        .with_context(|| format!("the {} {suite} index lists no {n}", package.distro))?;
                    libs.push(DebLibrary { name: l.name, version: l.version, sha256: l.sha256 });
                }
                let package = PackageRef { suite: suite.clone(), version: listed.version.clone(), ..package.clone() };
                Ok(Newest {
                    registry_says: format!("{suite} Packages SHA256 {}", listed.sha256),
                    recipe: Recipe::Deb { package, sha256: listed.sha256, file: file.clone(), libraries: libs },
                    source_sha256: None,
                })
            }
            Recipe::LinuxSample { package, tarball, source } => {
                let suite = newest_suite(package.distro, &package.suite);
                let root = self.newest_index(package, &suite)?;
                let mut listed = Vec::new();
                for name in root.names_with_prefix("linux-source-")? {
                    if is_linux_source(&name) {
                        listed.extend(root.versions(&name)?);
                    }
                }
                let l = newest_listed(&listed)?
                    .with_context(|| format!("the {} {suite} index lists no linux-source-X.Y", package.distro))?;
                let tarball = tarball.replace(package.name.as_str(), &l.name);
                let package = PackageRef {
                    name: l.name.clone(),
                    version: l.version.clone(),
                    suite: suite.clone(),
                    ..package.clone()
                };
                Ok(Newest {
                    recipe: Recipe::LinuxSample { package, tarball, source: source.clone() },
                    registry_says: format!("{suite} Packages SHA256 {}", l.sha256),
                    source_sha256: Some(l.sha256),
                })
            }
        }
    }

    /// The apt state of `suite` (the pin's distribution and component), its index refreshed
    /// once per process.
    fn newest_index(&mut self, pinned: &PackageRef, suite: &str) -> Result<AptRoot> {
        let pkg = PackageRef { suite: suite.to_string(), ..pinned.clone() };
        let keyring = self.keyring(pkg.distro)?;
        let root = AptRoot::prepare(&self.cache, &pkg, &keyring)?;
        if self.refreshed.insert(format!("{}/{}/{}", pkg.distro, pkg.suite, pkg.component)) {
            root.update()?;
        }
        Ok(root)
    }

    /// The newest release's enforcer, into the cache where staging finds it (`name`'s cached
    /// path for the recipe): through `recipe.rs`, or for a Linux sample from the source package
    /// checked against the index's digest.
    pub fn fetch_newest(&mut self, name: &str, n: &Newest) -> Result<PathBuf> {
        let Recipe::LinuxSample { package, tarball, source } = &n.recipe else {
            return n.recipe.fetch(name, self);
        };
        let dest = n.recipe.cached_path(&self.cache, name);
        if dest.is_file() {
            return Ok(dest);
        }
        let sha = n.source_sha256.as_deref().context("a newest Linux sample carries its source's digest")?;
        let deb = self.pinned_deb(package, sha).with_context(|| format!("the Linux sources for {name}"))?;
        let work = self.cache.tempdir()?;
        let built = super::recipe::linux_sample(work.path(), &deb, tarball, source)?;
        super::recipe::store(&built, &dest)?;
        Ok(dest)
    }
}

/// `npm view PACKAGE versions dist-tags --json` through npm's own configuration.
fn npm_view(package: &str) -> Result<serde_json::Value> {
    let out = Command::new("npm")
        .args(["view", package, "versions", "dist-tags", "--json"])
        .output()
        .context("cannot run npm (install npm)")?;
    if !out.status.success() {
        bail!("npm view {package} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("npm view {package}: not JSON"))
}

/// The newest release beside `pinned`: the `latest` tag's version, with the pin's platform
/// suffix when it has one (`0.171.0-linux-x64`: a platform build published beside each
/// release) and the registry lists it; None when the registry lists nothing to offer.
pub fn newest_npm(view: &serde_json::Value, pinned: &str) -> Option<String> {
    let latest = view.get("dist-tags")?.get("latest")?.as_str()?;
    let versions: Vec<&str> = match view.get("versions")? {
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        serde_json::Value::String(s) => vec![s.as_str()],
        _ => return None,
    };
    // The suffix: what follows the pin's x.y.z, when it is not a pre-release number.
    let core_len = pinned.split('-').next().map_or(0, str::len);
    let suffix = &pinned[core_len..];
    let wanted = format!("{latest}{suffix}");
    versions.contains(&wanted.as_str()).then_some(wanted)
}

fn npm_integrity(package: &str, version: &str) -> Result<String> {
    let spec = format!("{package}@{version}");
    let out =
        Command::new("npm").args(["view", &spec, "dist.integrity"]).output().context("cannot run npm (install npm)")?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !text.starts_with("sha512-") {
        bail!("npm view {spec} dist.integrity gave no sha512 digest: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(text)
}

/// The tarball npm hands over for package@version, checked against the registry's
/// `dist.integrity`; its sha256 (the digest a recipe pins).
fn npm_tarball_sha256(work: &Path, package: &str, version: &str, integrity: &str) -> Result<String> {
    let spec = format!("{package}@{version}");
    let out = Command::new("npm").args(["pack", "--silent", &spec]).current_dir(work).output()?;
    if !out.status.success() {
        bail!("npm pack {spec} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let tgz = std::fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .with_context(|| format!("npm pack {spec} left no tarball"))?;
    let got = sha512_base64(&tgz)?;
    if integrity != format!("sha512-{got}") {
        bail!("npm pack {spec}: the tarball's sha512 is {got}, the registry's dist.integrity says {integrity}");
    }
    sha256_file(&tgz)
}

/// A file's sha512, base64 (the form of npm's `dist.integrity`).
fn sha512_base64(file: &Path) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(base64(&sha2::Sha512::digest(&bytes)))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The newest version of `krate` cargo resolves from its registry, and the index's checksum of
/// its `.crate`: a throwaway package depending on `krate = "*"`, `cargo generate-lockfile`.
fn newest_crate(work: &Path, krate: &str) -> Result<(String, String)> {
    std::fs::create_dir_all(work.join("src"))?;
    std::fs::write(
        work.join("Cargo.toml"),
        format!("[package]\nname = \"lockgate-newest\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{krate} = \"*\"\n\n[workspace]\n"),
    )?;
    std::fs::write(work.join("src/lib.rs"), "")?;
    let out = Command::new("cargo").arg("generate-lockfile").current_dir(work).output().context("cannot run cargo")?;
    if !out.status.success() {
        bail!("cargo generate-lockfile for the crate {krate} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let lock = std::fs::read_to_string(work.join("Cargo.lock"))?;
    locked_crate(&lock, krate).with_context(|| format!("cargo's lock file names no {krate} with a checksum"))
}

/// The (version, checksum) of `krate` in a Cargo.lock (the highest, when it is there twice).
pub fn locked_crate(lock: &str, krate: &str) -> Option<(String, String)> {
    let mut found: Vec<(Vec<u64>, String, String)> = Vec::new();
    for block in lock.split("[[package]]") {
        let field = |f: &str| {
            block.lines().find_map(|l| {
                let rest = l.trim().strip_prefix(f)?.trim_start().strip_prefix('=')?;
                Some(rest.trim().trim_matches('"').to_string())
            })
        };
        if field("name").as_deref() != Some(krate) {
            continue;
        }
        if let (Some(v), Some(c)) = (field("version"), field("checksum")) {
            let key = v.split(['.', '-', '+']).map(|p| p.parse().unwrap_or(0)).collect();
            found.push((key, v, c));
        }
    }
    found.into_iter().max().map(|(_, v, c)| (v, c))
}

/// `linux-source-X.Y`, not `linux-source` or a flavour of it.
pub fn is_linux_source(name: &str) -> bool {
    name.strip_prefix("linux-source-").is_some_and(|v| {
        let parts: Vec<&str> = v.split('.').collect();
        parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The highest version listed (Debian's order).
pub fn newest_listed(listed: &[Listed]) -> Result<Option<Listed>> {
    let mut best: Option<&Listed> = None;
    for l in listed {
        if best.is_none_or(|b| super::drift::version_gt(&l.version, &b.version).unwrap_or(false)) {
            best = Some(l);
        }
    }
    Ok(best.cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded `npm view … versions dist-tags --json` answers.
    #[test]
    fn npm_s_newest_keeps_the_pin_s_platform_build() {
        let codex: serde_json::Value = serde_json::from_str(
            r#"{"versions": ["0.20.0", "0.170.0", "0.170.0-linux-x64", "0.171.0", "0.171.0-linux-x64", "0.172.0-alpha.1"],
                "dist-tags": {"latest": "0.171.0", "alpha": "0.172.0-alpha.1"}}"#,
        )
        .unwrap();
        assert_eq!(newest_npm(&codex, "0.20.0").as_deref(), Some("0.171.0"));
        assert_eq!(newest_npm(&codex, "0.170.0-linux-x64").as_deref(), Some("0.171.0-linux-x64"));
        let no_platform: serde_json::Value =
            serde_json::from_str(r#"{"versions": ["0.171.0"], "dist-tags": {"latest": "0.171.0"}}"#).unwrap();
        assert_eq!(newest_npm(&no_platform, "0.170.0-linux-x64"), None, "no platform build of the newest");
        let one: serde_json::Value =
            serde_json::from_str(r#"{"versions": "0.0.83", "dist-tags": {"latest": "0.0.83"}}"#).unwrap();
        assert_eq!(newest_npm(&one, "0.0.83").as_deref(), Some("0.0.83"));
    }

    /// A recorded lock file of `nono-cli = "*"`: the crate itself, and its own landlock
    /// dependency at two versions.
    #[test]
    fn cargo_s_lock_gives_the_newest_version_and_the_index_checksum() {
        let lock = r#"version = 4

[[package]]
name = "landlock"
version = "0.4.8"
source = "registry+https://example.invalid/index"
checksum = "03795bb5dba9d001e861618f7301289e3ad0bb146d0a8192ff5fd8b06d069087"

[[package]]
name = "landlock"
version = "0.4.10"
source = "registry+https://example.invalid/index"
checksum = "aa"

[[package]]
name = "lockgate-newest"
version = "0.0.0"

[[package]]
name = "nono-cli"
version = "0.81.0"
source = "registry+https://example.invalid/index"
checksum = "26b48f3a2806528e5983cb7c8f2d416f628a1f9ef7b8f1c74e62b691ed35ec03"
"#;
        assert_eq!(
            locked_crate(lock, "nono-cli"),
            Some(("0.81.0".into(), "26b48f3a2806528e5983cb7c8f2d416f628a1f9ef7b8f1c74e62b691ed35ec03".into()))
        );
        assert_eq!(locked_crate(lock, "landlock"), Some(("0.4.10".into(), "aa".into())), "0.4.10 > 0.4.8");
        assert_eq!(locked_crate(lock, "lockgate-newest"), None, "no checksum: not from a registry");
        assert_eq!(locked_crate(lock, "nono"), None);
    }

    #[test]
    fn the_newest_build_is_by_debian_s_order() {
        let l = |v: &str| Listed { name: "bubblewrap".into(), version: v.into(), sha256: format!("sha-{v}") };
        let listed = [l("0.8.0-2+deb12u1"), l("0.11.0-2"), l("0.9.0-1"), l("0.11.0-2~bpo12+1")];
        assert_eq!(newest_listed(&listed).unwrap().unwrap().version, "0.11.0-2");
        assert_eq!(newest_listed(&[]).unwrap(), None);
    }

    #[test]
    fn linux_sources_are_named_by_their_version() {
        assert!(is_linux_source("linux-source-6.12"));
        assert!(is_linux_source("linux-source-6.17"));
        assert!(!is_linux_source("linux-source"));
        assert!(!is_linux_source("linux-source-6.12-rt"));
        assert!(!is_linux_source("linux-source-6"));
    }

    #[test]
    fn integrity_is_base64_of_the_sha512() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        use sha2::Digest;
        // `printf abc | openssl dgst -sha512 -binary | base64`
        assert_eq!(
            base64(&sha2::Sha512::digest(b"abc")),
            "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
        );
    }

    #[test]
    fn debian_s_newest_suite_is_unstable() {
        assert_eq!(newest_suite(Distro::Debian, "bookworm"), "unstable");
        assert_eq!(newest_suite(Distro::Ubuntu, "noble-updates"), "noble-updates");
    }
}
