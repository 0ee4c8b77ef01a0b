//! The policy handed to the enforcer: one schema for the host, which reads it from scenarios and
//! writes it into the guest, and for the reference enforcer, which reads it there. OpenShell's
//! field names, so that a scenario's policy reads the same as the policy of the enforcer it
//! stands in for, and the same file can feed OpenShell-style enforcers unchanged.
//!
//! Every struct denies unknown fields: a misspelt `read_wirte` silently dropped would make the
//! sandbox *stricter or looser than written* — exactly the kind of gap lockgate hunts — so it is
//! an error (with its line, from the reader's YAML parser) instead.
//!
//! The leaves are checked while deserialising, and each side picks how strictly: `P` is a rule
//! path, `U` a user or group name. The host uses [`GuestPath`](crate::GuestPath) and its
//! validated name, so that scenarios are canonical; the enforcer takes any absolute path
//! ([`AbsPath`](crate::path::AbsPath)) and any name, like the enforcers it stands in for.
//!
//! Parsing YAML stays with the readers: this crate is linked into the static guest.
//!
//! (The `bound`s below: serde would otherwise ask a leaf for `Default`, only because a list or
//! an option of it has `#[serde(default)]`.)

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>, U: Deserialize<'de>"))]
pub struct Policy<P, U> {
    #[serde(default)]
    pub filesystem_policy: FilesystemPolicy<P>,
    #[serde(default)]
    pub landlock: LandlockPolicy,
    #[serde(default)]
    pub process: ProcessPolicy<U>,
    /// Absent: TCP is not handled at all. Present (even empty): TCP bind/connect are handled
    /// and only the listed ports are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkPolicy>,
}

impl<P, U> Default for Policy<P, U> {
    fn default() -> Self {
        Policy {
            filesystem_policy: FilesystemPolicy::default(),
            landlock: LandlockPolicy::default(),
            process: ProcessPolicy::default(),
            network: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct FilesystemPolicy<P> {
    #[serde(default)]
    pub read_only: Vec<P>,
    #[serde(default)]
    pub read_write: Vec<P>,
    /// Paths readable (read_file, read_dir) but not executable: what `--ro` is to landrun's
    /// `--rox`. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only_noexec: Vec<P>,
    /// Add the working directory as read-write.
    #[serde(default)]
    pub include_workdir: bool,
    /// Paths beneath which ioctl on device files is allowed (Landlock ABI 5,
    /// `LANDLOCK_ACCESS_FS_IOCTL_DEV`): only that right, so opening the device still takes a
    /// read_only or read_write rule. read_write grants it too. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ioctl_dev: Vec<P>,
}

impl<P> Default for FilesystemPolicy<P> {
    fn default() -> Self {
        FilesystemPolicy {
            read_only: Vec::new(),
            read_write: Vec::new(),
            read_only_noexec: Vec::new(),
            include_workdir: false,
            ioctl_dev: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockPolicy {
    #[serde(default)]
    pub compatibility: Compatibility,
    /// The IPC scopes to set (Landlock ABI 6): the sandbox cannot connect to an abstract unix
    /// socket, or signal a process, outside its domain. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scoped: Vec<Scope>,
}

/// One of Landlock's scopes (`LANDLOCK_SCOPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    AbstractUnixSocket,
    Signal,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::AbstractUnixSocket => "abstract_unix_socket",
            Scope::Signal => "signal",
        }
    }
}

/// What to do when the kernel cannot enforce everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    /// Run anyway, and say honestly how much is enforced.
    #[default]
    BestEffort,
    /// Fail closed: anything less than full enforcement refuses the run.
    HardRequirement,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, bound(deserialize = "U: Deserialize<'de>"))]
pub struct ProcessPolicy<U> {
    /// Absent: the command runs as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<U>,
    /// Defaults to the user's primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<U>,
}

impl<U> Default for ProcessPolicy<U> {
    fn default() -> Self {
        ProcessPolicy { run_as_user: None, run_as_group: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    #[serde(default)]
    pub bind_tcp: Vec<u16>,
    #[serde(default)]
    pub connect_tcp: Vec<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::AbsPath;
    use crate::GuestPath;

    type Strict = Policy<GuestPath, String>;

    #[test]
    fn defaults_are_best_effort_root_and_no_network() {
        let p: Strict = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Strict::default());
        assert_eq!(p.landlock.compatibility, Compatibility::BestEffort);
        // An empty network section still means "handle TCP, allow no port".
        let p: Strict = serde_json::from_str(r#"{"network":{}}"#).unwrap();
        assert_eq!(p.network, Some(NetworkPolicy::default()));
    }

    #[test]
    fn written_in_field_order_without_absent_options() {
        let mut p = Strict::default();
        p.filesystem_policy.read_only = vec![GuestPath::try_from("/bin".to_string()).unwrap()];
        p.process.run_as_group = Some("sandbox".into());
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"filesystem_policy":{"read_only":["/bin"],"read_write":[],"include_workdir":false},"landlock":{"compatibility":"best_effort"},"process":{"run_as_group":"sandbox"}}"#
        );
        p.network = Some(NetworkPolicy { bind_tcp: vec![8080], connect_tcp: vec![] });
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.ends_with(r#","network":{"bind_tcp":[8080],"connect_tcp":[]}}"#), "{text}");
        assert_eq!(serde_json::from_str::<Strict>(&text).unwrap(), p);
    }

    #[test]
    fn scopes_and_ioctl_dev_round_trip() {
        let text =
            r#"{"filesystem_policy":{"ioctl_dev":["/dev"]},"landlock":{"scoped":["abstract_unix_socket","signal"]}}"#;
        let p: Strict = serde_json::from_str(text).unwrap();
        assert_eq!(p.landlock.scoped, [Scope::AbstractUnixSocket, Scope::Signal]);
        assert_eq!(p.filesystem_policy.ioctl_dev.len(), 1);
        assert_eq!(serde_json::from_str::<Strict>(&serde_json::to_string(&p).unwrap()).unwrap(), p);
        let err = serde_json::from_str::<Strict>(r#"{"landlock":{"scoped":["signals"]}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `signals`"), "{err}");
    }

    #[test]
    fn unknown_fields_and_bad_leaves_are_errors() {
        let err = serde_json::from_str::<Strict>(r#"{"filesystem_policy":{"read_wirte":[]}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `read_wirte`"), "{err}");
        let loose = r#"{"filesystem_policy":{"read_only":["/usr/"]}}"#;
        assert!(serde_json::from_str::<Strict>(loose).is_err());
        let p: Policy<AbsPath, String> = serde_json::from_str(loose).unwrap();
        assert_eq!(p.filesystem_policy.read_only, [AbsPath("/usr/".into())]);
    }
}
