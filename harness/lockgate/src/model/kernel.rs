//! Kernel manifests: where a kernel comes from and what Landlock it must offer.

use super::scenario::Name;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelManifest {
    pub name: Name,
    #[serde(default)]
    pub about: String,
    /// The Landlock ABI the guest's raw probe must report: a number, or `none` (no Landlock,
    /// or compiled in but not enabled). A different answer is a harness error.
    pub abi: ExpectedAbi,
    pub source: KernelSource,
    /// Extra kernel command-line arguments (e.g. an `lsm=` without landlock).
    #[serde(default)]
    pub cmdline: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "serde_yaml::Value")]
pub struct ExpectedAbi(pub Option<u32>);

impl TryFrom<serde_yaml::Value> for ExpectedAbi {
    type Error = String;
    fn try_from(v: serde_yaml::Value) -> Result<Self, String> {
        match &v {
            serde_yaml::Value::String(s) if s == "none" => Ok(ExpectedAbi(None)),
            serde_yaml::Value::Number(n) => match n.as_u64() {
                Some(n @ 1..=64) => Ok(ExpectedAbi(Some(n as u32))),
                _ => Err(format!("`{n}` is not a Landlock ABI: write a number from 1, or `none`")),
            },
            _ => Err("write the Landlock ABI as a number, or `none`".into()),
        }
    }
}

impl std::fmt::Display for ExpectedAbi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "ABI {n}"),
            None => f.write_str("none"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawSource")]
pub enum KernelSource {
    /// A distribution package fetched through apt; `image` is the kernel's path inside it.
    Package { package: PackageRef, image: String },
    /// A bzImage on this machine (a developer's own build). Not pinned: its digest is recorded
    /// in the provenance of each run instead.
    Path { path: String },
}

/// `source:` as written: exactly one of its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    package: Option<PackageSource>,
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageSource {
    distro: Distro,
    suite: String,
    name: String,
    version: String,
    #[serde(default = "main_component")]
    component: String,
    /// Path of the kernel image inside the package, e.g. `boot/vmlinuz-6.8.0-57-generic`.
    image: String,
}

impl TryFrom<RawSource> for KernelSource {
    type Error = String;
    fn try_from(r: RawSource) -> Result<Self, String> {
        match (r.package, r.path) {
            (Some(p), None) => Ok(KernelSource::Package {
                package: PackageRef { distro: p.distro, suite: p.suite, name: p.name, version: p.version, component: p.component },
                image: p.image,
            }),
            (None, Some(path)) => Ok(KernelSource::Path { path }),
            _ => Err("give exactly one source: `package: {distro, suite, name, version, image}` or `path: /path/to/bzImage`".into()),
        }
    }
}

/// A Debian-format package, by name and exact version, from a suite of a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackageRef {
    pub distro: Distro,
    pub suite: String,
    pub name: String,
    pub version: String,
    /// Archive component; `main` by default.
    #[serde(default = "main_component")]
    pub component: String,
}

fn main_component() -> String {
    "main".into()
}

impl PackageRef {
    /// The key of this package in a lock file.
    pub fn lock_key(&self) -> String {
        format!("{}/{}/{}={}", self.distro, self.suite, self.name, self.version)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Distro {
    Debian,
    Ubuntu,
}

impl std::fmt::Display for Distro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
        })
    }
}
