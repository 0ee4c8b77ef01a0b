//! The policy handed to the enforcer: one schema for the host, which reads it from scenarios and
//! writes it into the guest, and for the reference enforcer, which reads it there. It is
//! OpenShell's policy format (`version`, `filesystem_policy`, `landlock`, `process`,
//! `network_policies`) plus lockgate's extensions for the rights OpenShell does not express
//! (`read_only_noexec`, `ioctl_dev`, `rules`: rights per rule, `landlock.scoped`,
//! `landlock.handled`: the handled set, `network`: Landlock's TCP rules, and
//! `seccomp`: the enforcer's own syscall filter, [`crate::filter`]).
//! [`Policy::openshell`] is the same policy as OpenShell's own parser takes it, extensions left
//! out: what an OpenShell-format adapter receives.
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
use std::collections::BTreeMap;

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>, U: Deserialize<'de>"))]
pub struct Policy<P, U> {
    /// OpenShell's format version; 1, the only one there is. Optional in a scenario, always
    /// written.
    #[serde(default)]
    pub version: Version,
    #[serde(default)]
    pub filesystem_policy: FilesystemPolicy<P>,
    #[serde(default)]
    pub landlock: LandlockPolicy,
    #[serde(default)]
    pub process: ProcessPolicy<U>,
    /// OpenShell's network policies: which binaries may reach which endpoints through its
    /// proxy. No Landlock rule comes from them, but their presence changes how OpenShell builds
    /// its ruleset (proxy mode, with baseline paths), so a policy as deployed carries them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub network_policies: BTreeMap<String, NetworkPolicyRule>,
    /// lockgate's extension, Landlock's TCP rules (ABI 4). Absent: TCP is not handled at all. Present (even empty): TCP bind/connect are handled
    /// and only the listed ports are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkPolicy>,
    /// lockgate's extension, the enforcer's own seccomp filter ([`crate::filter`]). Absent: no
    /// filter is asked for (OpenShell, which always installs its own, derives it from its
    /// fields; `seccomp: {openshell: true}` states that filter for any enforcer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<crate::filter::SeccompPolicy>,
}

impl<P, U> Default for Policy<P, U> {
    fn default() -> Self {
        Policy {
            version: Version,
            filesystem_policy: FilesystemPolicy::default(),
            landlock: LandlockPolicy::default(),
            process: ProcessPolicy::default(),
            network_policies: BTreeMap::new(),
            network: None,
            seccomp: None,
        }
    }
}

impl<P, U> Policy<P, U> {
    /// OpenShell's network mode is proxy (its traffic goes through its proxy, and its filter
    /// leaves AF_INET/AF_INET6 open): on whenever the policy has network policies.
    pub fn proxy_mode(&self) -> bool {
        !self.network_policies.is_empty()
    }

    /// The filter the policy asks the enforcer to install, resolved; `None`: none asked for.
    pub fn filter(&self) -> Option<crate::filter::Filter> {
        self.seccomp.as_ref().map(|s| s.resolve(self.proxy_mode()))
    }
}

impl<P: Serialize, U: Serialize> Policy<P, U> {
    /// The policy in OpenShell's own format: only the fields OpenShell's parser knows. What
    /// it cannot carry (lockgate's extensions) is left out; an adapter of that format reports
    /// them as not asked for.
    pub fn openshell(&self) -> OpenShellPolicy<'_, P, U> {
        let fs = &self.filesystem_policy;
        let process = &self.process;
        OpenShellPolicy {
            version: self.version,
            filesystem_policy: OpenShellFilesystem {
                include_workdir: fs.include_workdir,
                read_only: &fs.read_only,
                read_write: &fs.read_write,
            },
            landlock: OpenShellLandlock { compatibility: self.landlock.compatibility },
            process: (process.run_as_user.is_some() || process.run_as_group.is_some()).then_some(process),
            network_policies: &self.network_policies,
        }
    }
}

/// OpenShell's format version. Only 1 exists; anything else is an error, like in OpenShell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Version;

impl TryFrom<u32> for Version {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        match v {
            1 => Ok(Version),
            _ => Err(format!("version {v} is not a policy format version: write `version: 1`")),
        }
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"description": "OpenShell's format version: 1, the only one there is.", "const": 1})
    }
}

impl From<Version> for u32 {
    fn from(_: Version) -> u32 {
        1
    }
}

/// A policy as OpenShell's parser takes it (written, never read: see [`Policy::openshell`]).
#[derive(Debug, Serialize)]
pub struct OpenShellPolicy<'a, P, U> {
    pub version: Version,
    pub filesystem_policy: OpenShellFilesystem<'a, P>,
    pub landlock: OpenShellLandlock,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<&'a ProcessPolicy<U>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub network_policies: &'a BTreeMap<String, NetworkPolicyRule>,
}

#[derive(Debug, Serialize)]
pub struct OpenShellFilesystem<'a, P> {
    pub include_workdir: bool,
    pub read_only: &'a [P],
    pub read_write: &'a [P],
}

#[derive(Debug, Serialize)]
pub struct OpenShellLandlock {
    pub compatibility: Compatibility,
}

/// One of OpenShell's `network_policies`: a name, the endpoints, the binaries allowed to
/// reach them. The fields a deployment's policy uses; OpenShell's L7 rules (`rules`,
/// `deny_rules`, GraphQL) are not modelled: a policy using them is a native policy.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicyRule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<NetworkBinary>,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// `rest`, `sql`, …: OpenShell's L7 inspection.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// `terminate`, `passthrough`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls: String,
    /// `enforce`, `audit`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub enforcement: String,
    /// `full`, `read-only`, `read-write`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkBinary {
    pub path: String,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
    /// lockgate's extension, rights per rule: each path with exactly the filesystem rights it
    /// grants (Landlock's `LANDLOCK_RULE_PATH_BENEATH` as the kernel takes it, where the bundles
    /// above are fixed sets). Rights that only a directory takes (read_dir, make_*, remove_*,
    /// refer) are left out of a rule on a file, as the kernel requires; rights the kernel's ABI
    /// lacks grant nothing there. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PathRule<P>>,
}

impl<P> Default for FilesystemPolicy<P> {
    fn default() -> Self {
        FilesystemPolicy {
            read_only: Vec::new(),
            read_write: Vec::new(),
            read_only_noexec: Vec::new(),
            include_workdir: false,
            ioctl_dev: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// One rule of `filesystem_policy.rules`: a path and the rights granted beneath it.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct PathRule<P> {
    pub path: P,
    pub rights: Vec<crate::rights::FsRight>,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockPolicy {
    #[serde(default)]
    pub compatibility: Compatibility,
    /// The IPC scopes to set (Landlock ABI 6): the sandbox cannot connect to an abstract unix
    /// socket, or signal a process, outside its domain. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scoped: Vec<Scope>,
    /// lockgate's extension, the handled set: the filesystem and TCP rights the ruleset handles
    /// (restricts); a right left out is not restricted at all, whatever the rules say. Absent:
    /// every filesystem right of the kernel's ABI, and TCP bind/connect when the policy has a
    /// `network` section. TCP rights listed here are handled even without one (no port allowed).
    /// A right newer than the kernel's ABI cannot be handled there: a best_effort enforcer
    /// claims `partial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<Vec<crate::rights::AccessRight>>,
}

/// One of Landlock's scopes (`LANDLOCK_SCOPE_*`).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    /// Run anyway, and say honestly how much is enforced.
    #[default]
    BestEffort,
    /// Fail closed: anything less than full enforcement refuses the run.
    HardRequirement,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
            r#"{"version":1,"filesystem_policy":{"read_only":["/bin"],"read_write":[],"include_workdir":false},"landlock":{"compatibility":"best_effort"},"process":{"run_as_group":"sandbox"}}"#
        );
        p.network = Some(NetworkPolicy { bind_tcp: vec![8080], connect_tcp: vec![] });
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.ends_with(r#","network":{"bind_tcp":[8080],"connect_tcp":[]}}"#), "{text}");
        assert_eq!(serde_json::from_str::<Strict>(&text).unwrap(), p);
    }

    #[test]
    fn version_is_one_and_network_policies_round_trip() {
        let err = serde_json::from_str::<Strict>(r#"{"version":2}"#).unwrap_err();
        assert!(err.to_string().contains("write `version: 1`"), "{err}");
        let text = r#"{"version":1,"network_policies":{"api":{"name":"api","endpoints":[{"host":"example.test","port":443,"protocol":"rest","enforcement":"enforce","access":"read-only"}],"binaries":[{"path":"/usr/bin/curl"}]}}}"#;
        let p: Strict = serde_json::from_str(text).unwrap();
        assert_eq!(p.network_policies["api"].endpoints[0].port, Some(443));
        assert_eq!(serde_json::from_str::<Strict>(&serde_json::to_string(&p).unwrap()).unwrap(), p);
        let err =
            serde_json::from_str::<Strict>(r#"{"network_policies":{"a":{"endpoints":[{"hots":"x"}]}}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `hots`"), "{err}");
    }

    /// The OpenShell view keeps OpenShell's fields, in its order, and nothing of lockgate's own.
    #[test]
    fn the_openshell_view_leaves_the_extensions_out() {
        let text = r#"{"filesystem_policy":{"read_only":["/usr"],"read_only_noexec":["/opt"],"ioctl_dev":["/dev"]},"landlock":{"scoped":["signal"]},"network":{"bind_tcp":[80]},"network_policies":{"n":{"name":"n"}}}"#;
        let p: Strict = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&p.openshell()).unwrap(),
            r#"{"version":1,"filesystem_policy":{"include_workdir":false,"read_only":["/usr"],"read_write":[]},"landlock":{"compatibility":"best_effort"},"network_policies":{"n":{"name":"n"}}}"#
        );
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
