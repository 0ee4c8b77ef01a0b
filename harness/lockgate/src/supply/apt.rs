//! Fetching one package through apt, with a private apt state per (distribution, suite) in the
//! cache: the host's own apt configuration and package lists are never touched.

use super::mirror::mirror_for;
use crate::cache::Cache;
use crate::model::kernel::PackageRef;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct AptRoot {
    dir: PathBuf,
    config: PathBuf,
}

impl AptRoot {
    /// Prepare the apt state for `pkg`'s suite; `keyring` verifies the archive's signature.
    pub fn prepare(cache: &Cache, pkg: &PackageRef, keyring: &Path) -> Result<AptRoot> {
        let mirror = mirror_for(pkg.distro, &pkg.suite)?;
        let dir = cache.dir("apt").join(format!("{}-{}-{}", pkg.distro, pkg.suite, pkg.component));
        for sub in ["lists/partial", "cache/archives/partial", "etc/parts", "etc/preferences.d", "state"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let sources = format!(
            "deb [arch=amd64 signed-by={}] {} {} {}\n",
            keyring.display(),
            mirror.trim_end_matches('/'),
            pkg.suite,
            pkg.component
        );
        std::fs::write(dir.join("etc/sources.list"), sources)?;
        let status = dir.join("state/status");
        if !status.exists() {
            std::fs::write(&status, "")?;
        }
        let d = dir.display();
        // Only the Packages index is needed: no translations, no Contents, no DEP-11.
        let config = format!(
            "Dir::Etc::SourceList \"{d}/etc/sources.list\";\n\
             Dir::Etc::SourceParts \"{d}/etc/parts\";\n\
             Dir::Etc::Preferences \"{d}/etc/none\";\n\
             Dir::Etc::PreferencesParts \"{d}/etc/preferences.d\";\n\
             Dir::State \"{d}/state\";\n\
             Dir::State::Lists \"{d}/lists\";\n\
             Dir::State::status \"{d}/state/status\";\n\
             Dir::Cache \"{d}/cache\";\n\
             APT::Architecture \"amd64\";\n\
             APT::Architectures \"amd64\";\n\
             APT::Sandbox::User \"root\";\n\
             Acquire::Languages \"none\";\n\
             Acquire::Retries \"2\";\n\
             Acquire::http::Timeout \"30\";\n\
             Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::CNF::DefaultEnabled \"false\";\n"
        );
        let config_path = dir.join("apt.conf");
        std::fs::write(&config_path, config)?;
        Ok(AptRoot { dir, config: config_path })
    }

    fn apt(&self, args: &[&str], cwd: &Path) -> Result<(bool, String)> {
        let out = Command::new("apt-get")
            .args(["-q", "-o", "Debug::NoLocking=1"])
            .args(args)
            .current_dir(cwd)
            .env("APT_CONFIG", &self.config)
            .output()
            .context("cannot run apt-get: lockgate fetches distribution packages through apt; install apt (Debian or Ubuntu host)")?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text))
    }

    /// `apt-cache` with this state.
    fn cache_query(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("apt-cache")
            .args(args)
            .env("APT_CONFIG", &self.config)
            .output()
            .context("cannot run apt-cache: lockgate reads the archive's index through apt")?;
        if !out.status.success() {
            bail!("apt-cache {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The names the index lists that start with `prefix`.
    pub fn names_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self.cache_query(&["pkgnames", prefix])?.lines().map(str::to_string).collect())
    }

    /// Every version of `name` the index lists, with the .deb's sha256.
    pub fn versions(&self, name: &str) -> Result<Vec<Listed>> {
        let text = self.cache_query(&["show", name])?;
        Ok(text
            .split("\n\n")
            .filter_map(|stanza| {
                let field = |f: &str| {
                    stanza
                        .lines()
                        .find_map(|l| l.strip_prefix(f).and_then(|r| r.strip_prefix(": ")).map(str::to_string))
                };
                Some(Listed { name: field("Package")?, version: field("Version")?, sha256: field("SHA256")? })
            })
            .filter(|l| l.name == name)
            .collect())
    }

    pub fn update(&self) -> Result<()> {
        let (ok, text) = self.apt(&["update"], &self.dir)?;
        // apt-get update exits 0 even when a source failed; its E:/W: lines tell.
        let errors: Vec<&str> =
            text.lines().filter(|l| l.starts_with("E:") || l.starts_with("Err:") || l.contains("NO_PUBKEY")).collect();
        if !ok || !errors.is_empty() {
            bail!("apt-get update failed for {}:\n{}", self.dir.display(), errors.join("\n"));
        }
        Ok(())
    }

    /// Download `pkg` (exact version) into `into`; returns the .deb's path.
    pub fn download(&self, pkg: &PackageRef, into: &Path) -> Result<PathBuf> {
        let spec = format!("{}={}", pkg.name, pkg.version);
        let lists_empty = std::fs::read_dir(self.dir.join("lists"))?
            .flatten()
            .all(|e| e.file_name() == "partial" || e.file_name() == "lock");
        if lists_empty {
            self.update()?;
        }
        let (mut ok, mut text) = self.apt(&["download", &spec], into)?;
        if !ok && !lists_empty {
            // The lists may be older than the archive: refresh once and retry.
            self.update()?;
            (ok, text) = self.apt(&["download", &spec], into)?;
        }
        if !ok {
            let errs: Vec<&str> = text.lines().filter(|l| l.starts_with("E:") || l.starts_with("Err")).collect();
            if text.contains("Version") && text.contains("was not found")
                || text.contains("Unable to locate")
                || text.contains("Can't select")
            {
                return Err(anyhow::Error::new(NotListed {
                    message: format!(
                        "cannot download {spec} ({}): the archive's {} index has no {spec}; pick a version it carries (apt-cache policy {} with this suite) and update the manifest\n{}",
                        pkg.suite, pkg.suite, pkg.name, errs.join("\n")
                    ),
                }));
            }
            bail!(
                "cannot download {} ({}): check the network and the mirror (LOCKGATE_DEBIAN_MIRROR / LOCKGATE_UBUNTU_MIRROR)\n{}",
                spec,
                pkg.suite,
                errs.join("\n")
            );
        }
        let deb = std::fs::read_dir(into)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .with_context(|| format!("apt-get download {spec} reported success but left no .deb"))?;
        Ok(deb)
    }
}

/// One build the suite's index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub version: String,
    /// The .deb's sha256 as the signed index gives it (verified again when it is downloaded).
    pub sha256: String,
}

/// A package version the suite's index does not list (superseded builds leave it): the caller
/// says what to do, e.g. for a kernel, the command that moves it to the current build.
#[derive(Debug)]
pub struct NotListed {
    message: String,
}

impl std::fmt::Display for NotListed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NotListed {}

/// Unpack a .deb's files into `into` (an existing, empty directory).
pub fn unpack_deb(deb: &Path, into: &Path) -> Result<()> {
    let status =
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(into).status().context("cannot run dpkg-deb (package dpkg)")?;
    if !status.success() {
        bail!("dpkg-deb could not unpack {}", deb.display());
    }
    Ok(())
}

/// Extract one file of a .deb (e.g. `boot/vmlinuz-…`) to `dest`.
pub fn extract_file(deb: &Path, inner: &str, dest: &Path) -> Result<()> {
    let tmp = tempfile::tempdir_in(dest.parent().context("no parent")?)?;
    unpack_deb(deb, tmp.path())?;
    let src = tmp.path().join(inner.trim_start_matches('/'));
    if !src.exists() {
        let mut found = Vec::new();
        list_files(tmp.path(), tmp.path(), &mut found);
        found.retain(|f| f.contains("boot/") || f.contains("keyring") || f.contains("bin/"));
        bail!("{} has no {inner}; it contains: {}", deb.display(), found.join(", "));
    }
    std::fs::rename(&src, dest).with_context(|| format!("cannot move {} to {}", src.display(), dest.display()))?;
    Ok(())
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                list_files(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.display().to_string());
            }
        }
    }
}
