//! AppArmor environments: the enforcer runs bare, under an AppArmor policy put in the guest's
//! kernel by AppArmor's own parser, both from pinned packages. A manifest in
//! `images/environments/*.yaml` with an `apparmor:` key:
//!
//! ```yaml
//! name: apparmor-noble
//! matrix: opt-in                   # only with --env apparmor-noble (or --env all)
//! apparmor:
//!   package: {distro: ubuntu, suite: noble-updates, name: apparmor, version: "4.0.1really4.0.1-0ubuntu0.24.04.9"}
//!   libraries:                     # the C library the parser was built against
//!     - {distro: ubuntu, suite: noble-updates, name: libc6, version: "2.39-0ubuntu8.12"}
//!   profiles: [unprivileged_userns]    # files of the package's /etc/apparmor.d
//!   local_profiles: [my-profile]       # files of yours, relative to the manifest
//!   restrict_unprivileged_userns: true # kernel.apparmor_restrict_unprivileged_userns=1
//! ```
//!
//! Each package is pinned in `images/lock.yaml`. [`crate::env`] makes the archive the guest
//! gets (`supply/apparmor.rs`); the guest loads the profiles before the environment's cases.

use super::file::parse_yaml;
use super::kernel::PackageRef;
use super::locate;
use super::scenario::Name;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppArmorManifest {
    pub name: Name,
    #[serde(default)]
    pub about: String,
    /// Which matrix the environment belongs to, as a container environment's `matrix:`
    /// (default `default`). The shipped AppArmor environments are `opt-in`: each means something
    /// only on a kernel with Ubuntu's userns restriction, and loads its profiles per boot.
    #[serde(default)]
    pub matrix: super::matrix::Matrix,
    pub apparmor: AppArmorPolicy,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppArmorPolicy {
    /// The package carrying `sbin/apparmor_parser` and `etc/apparmor.d`.
    pub package: PackageRef,
    /// Packages the parser's libraries (and loader) are taken from.
    #[serde(default)]
    pub libraries: Vec<PackageRef>,
    /// Profiles of the package (names under its `etc/apparmor.d`), loaded in order.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Profiles of the user's, relative to the manifest, loaded after the package's.
    #[serde(default)]
    pub local_profiles: Vec<String>,
    /// Turn Ubuntu's `kernel.apparmor_restrict_unprivileged_userns` on (default `false`); the
    /// kernel must have that sysctl (Ubuntu's), else every cell fails naming it.
    #[serde(default)]
    pub restrict_unprivileged_userns: bool,
    /// Filled at load: each local profile's file on this machine.
    #[serde(skip)]
    pub local_files: Vec<PathBuf>,
}

/// Whether `text` (a manifest of `images/environments`) describes an AppArmor environment.
pub fn is_apparmor(text: &str) -> bool {
    serde_yaml::from_str::<serde_yaml::Value>(text).is_ok_and(|v| v.get("apparmor").is_some())
}

/// One AppArmor manifest; its local profiles must exist.
pub fn load(file: &Path, text: &str) -> Result<AppArmorManifest> {
    let mut m: AppArmorManifest = parse_yaml(file, text)?;
    if m.name.as_str() == "bare" {
        bail!(
            "{}:{}: name: `bare` is built in; give this environment another name",
            file.display(),
            locate::line_of(text, "name")
        );
    }
    for name in m.apparmor.profiles.iter().chain(&m.apparmor.local_profiles) {
        if name.is_empty() || name.contains("..") || name.starts_with('/') {
            bail!(
                "{}:{}: apparmor: `{name}` is not a profile file name: write a name under the package's etc/apparmor.d (profiles) or a path below the manifest's directory (local_profiles)",
                file.display(),
                locate::line_of(text, "apparmor")
            );
        }
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    for name in &m.apparmor.local_profiles {
        let p = dir.join(name);
        if !p.is_file() {
            bail!(
                "{}:{}: apparmor.local_profiles: {} does not exist (the path is relative to the manifest)",
                file.display(),
                locate::line_of(text, "apparmor.local_profiles"),
                p.display()
            );
        }
        m.apparmor.local_files.push(p);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_loads_and_a_missing_local_profile_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = "name: aa\nmatrix: opt-in\napparmor:\n  package: {distro: ubuntu, suite: noble-updates, name: apparmor, version: '1'}\n  profiles: [unprivileged_userns]\n  local_profiles: [mine]\n  restrict_unprivileged_userns: true\n";
        let file = dir.path().join("aa.yaml");
        assert!(is_apparmor(text));
        assert!(!is_apparmor("name: docker\nengine: docker\n"));
        let err = format!("{:#}", load(&file, text).unwrap_err());
        assert!(
            err.contains("aa.yaml:") && err.contains("apparmor.local_profiles") && err.contains("mine does not exist"),
            "{err}"
        );
        std::fs::write(dir.path().join("mine"), "profile x {}\n").unwrap();
        let m = load(&file, text).unwrap();
        assert!(m.matrix == super::super::matrix::Matrix::OptIn && m.apparmor.restrict_unprivileged_userns);
        assert_eq!(m.apparmor.local_files, [dir.path().join("mine")]);
        let err = format!("{:#}", load(&file, &text.replace("[unprivileged_userns]", "[../x]")).unwrap_err());
        assert!(err.contains("is not a profile file name"), "{err}");
    }
}
