//! The policy file: OpenShell's field names, so that a scenario's policy reads the same as the
//! policy of the enforcer it stands in for.
//!
//! Every struct denies unknown fields: a misspelt `read_wirte` silently dropped would make the
//! sandbox *stricter or looser than written* — exactly the kind of gap lockgate hunts — so it is
//! an error naming the file and line instead.

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub filesystem_policy: FilesystemPolicy,
    #[serde(default)]
    pub landlock: LandlockPolicy,
    #[serde(default)]
    pub process: ProcessPolicy,
    /// Absent: TCP is not handled at all. Present (even empty): TCP bind/connect are handled
    /// and only the listed ports are allowed.
    #[serde(default)]
    pub network: Option<NetworkPolicy>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilesystemPolicy {
    #[serde(default)]
    pub read_only: Vec<AbsPath>,
    #[serde(default)]
    pub read_write: Vec<AbsPath>,
    /// Add the working directory as read-write.
    #[serde(default)]
    pub include_workdir: bool,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LandlockPolicy {
    #[serde(default)]
    pub compatibility: Compatibility,
}

/// What to do when the kernel cannot enforce everything.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    /// Run anyway, and say honestly how much is enforced.
    #[default]
    BestEffort,
    /// Fail closed: anything less than full enforcement refuses the run.
    HardRequirement,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessPolicy {
    #[serde(default)]
    pub run_as_user: Option<String>,
    /// Defaults to the user's primary group.
    #[serde(default)]
    pub run_as_group: Option<String>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    #[serde(default)]
    pub bind_tcp: Vec<u16>,
    #[serde(default)]
    pub connect_tcp: Vec<u16>,
}

/// An absolute path. Checked while parsing so that the error carries the line: a relative rule
/// path would silently depend on the enforcer's working directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsPath(pub PathBuf);

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::deserialize(deserializer)?;
        if !path.is_absolute() {
            return Err(serde::de::Error::custom(format!(
                "rule path {} must be absolute",
                path.display()
            )));
        }
        Ok(AbsPath(path))
    }
}

pub fn load(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses a policy; errors read `FILE:LINE:COLUMN: what is wrong`.
pub fn parse(text: &str, origin: &str) -> Result<Policy> {
    serde_yaml::from_str(text).map_err(|err| {
        let message = err.to_string();
        match err.location() {
            Some(at) => {
                // serde_yaml appends " at line L column C"; the prefix says it already.
                let suffix = format!(" at line {} column {}", at.line(), at.column());
                let message = message.strip_suffix(&suffix).unwrap_or(&message);
                anyhow::anyhow!("{origin}:{}:{}: {message}", at.line(), at.column())
            }
            None => anyhow::anyhow!("{origin}: {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let policy = parse(
            "filesystem_policy: {read_only: [/usr, /bin], read_write: [/tmp], include_workdir: false}\n\
             landlock: {compatibility: hard_requirement}\n\
             process: {run_as_user: sandbox, run_as_group: sandbox}\n\
             network: {bind_tcp: [8080], connect_tcp: [80]}\n",
            "p.yaml",
        )
        .unwrap();
        assert_eq!(
            policy.filesystem_policy.read_only,
            vec![AbsPath("/usr".into()), AbsPath("/bin".into())]
        );
        assert_eq!(
            policy.filesystem_policy.read_write,
            vec![AbsPath("/tmp".into())]
        );
        assert_eq!(
            policy.landlock.compatibility,
            Compatibility::HardRequirement
        );
        assert_eq!(policy.process.run_as_user.as_deref(), Some("sandbox"));
        assert_eq!(policy.process.run_as_group.as_deref(), Some("sandbox"));
        let net = policy.network.unwrap();
        assert_eq!((net.bind_tcp, net.connect_tcp), (vec![8080], vec![80]));
    }

    #[test]
    fn defaults_are_best_effort_root_and_no_network() {
        let policy = parse("filesystem_policy: {read_only: [/]}\n", "p").unwrap();
        assert_eq!(policy.landlock.compatibility, Compatibility::BestEffort);
        assert_eq!(policy.process, ProcessPolicy::default());
        assert!(policy.network.is_none());
        assert!(!policy.filesystem_policy.include_workdir);
        // An empty network section still means "handle TCP, allow no port".
        let policy = parse("network: {}\n", "p").unwrap();
        assert_eq!(policy.network, Some(NetworkPolicy::default()));
    }

    #[test]
    fn unknown_field_names_file_and_line() {
        let err = parse(
            "filesystem_policy:\n  read_only: [/usr]\n  read_wirte: [/tmp]\n",
            "/x/policy.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/x/policy.yaml:3:"), "{err}");
        assert!(err.contains("unknown field `read_wirte`"), "{err}");
        assert!(!err.contains(" at line "), "location said twice: {err}");

        let err = parse(
            "landlock: {compatibility: best_effort}\nsandbox: true\n",
            "p",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("p:2:"), "{err}");
        assert!(err.contains("unknown field `sandbox`"), "{err}");
    }

    #[test]
    fn bad_values_name_their_line() {
        let err = parse("landlock:\n  compatibility: strict\n", "p")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p:2:") && err.contains("strict"), "{err}");
        let err = parse("network:\n  bind_tcp: [70000]\n", "p")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p:2:"), "{err}");
        let err = parse("filesystem_policy:\n  read_only:\n    - usr\n", "p")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p:3:") && err.contains("must be absolute"),
            "{err}"
        );
    }
}
