//! Every access right and scope Landlock defines, ABI 1 to the newest the `landlock` crate knows
//! (ABI 10): the one catalogue that the reference enforcer's "does not handle this right" faults,
//! the mutation gate and the coverage table are made from, so none of them can forget a right.
//!
//! ABI 7 (audit logging flags of `landlock_restrict_self`), ABI 8 (`TSYNC`: restrict every
//! thread) and ABI 10 (quiet rules: no audit record for a denial) add no right: they change what
//! is logged, or which threads are restricted, never the errno a single-threaded process gets,
//! so no probe of one system call can observe them (see the book's coverage page, book/src/reference/coverage.md).

use crate::ProbeOp;

/// What a right restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `handled_access_fs`, granted per path by `LANDLOCK_RULE_PATH_BENEATH`.
    Fs,
    /// `handled_access_net`, granted per port by `LANDLOCK_RULE_NET_PORT`.
    Net,
    /// `scoped`: nothing grants it; the domain's processes simply cannot reach outside.
    Scope,
}

/// One right (or scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Right {
    Execute,
    WriteFile,
    ReadFile,
    ReadDir,
    RemoveDir,
    RemoveFile,
    MakeChar,
    MakeDir,
    MakeReg,
    MakeSock,
    MakeFifo,
    MakeBlock,
    MakeSym,
    Refer,
    Truncate,
    IoctlDev,
    ResolveUnix,
    BindTcp,
    ConnectTcp,
    ScopeAbstractUnixSocket,
    ScopeSignal,
}

impl Right {
    pub const ALL: [Right; 21] = [
        Right::Execute,
        Right::WriteFile,
        Right::ReadFile,
        Right::ReadDir,
        Right::RemoveDir,
        Right::RemoveFile,
        Right::MakeChar,
        Right::MakeDir,
        Right::MakeReg,
        Right::MakeSock,
        Right::MakeFifo,
        Right::MakeBlock,
        Right::MakeSym,
        Right::Refer,
        Right::Truncate,
        Right::IoctlDev,
        Right::ResolveUnix,
        Right::BindTcp,
        Right::ConnectTcp,
        Right::ScopeAbstractUnixSocket,
        Right::ScopeSignal,
    ];

    /// The kernel's name, lower case, without its prefix (`make_char`, `bind_tcp`,
    /// `abstract_unix_socket`).
    pub fn name(self) -> &'static str {
        match self {
            Right::Execute => "execute",
            Right::WriteFile => "write_file",
            Right::ReadFile => "read_file",
            Right::ReadDir => "read_dir",
            Right::RemoveDir => "remove_dir",
            Right::RemoveFile => "remove_file",
            Right::MakeChar => "make_char",
            Right::MakeDir => "make_dir",
            Right::MakeReg => "make_reg",
            Right::MakeSock => "make_sock",
            Right::MakeFifo => "make_fifo",
            Right::MakeBlock => "make_block",
            Right::MakeSym => "make_sym",
            Right::Refer => "refer",
            Right::Truncate => "truncate",
            Right::IoctlDev => "ioctl_dev",
            Right::ResolveUnix => "resolve_unix",
            Right::BindTcp => "bind_tcp",
            Right::ConnectTcp => "connect_tcp",
            Right::ScopeAbstractUnixSocket => "abstract_unix_socket",
            Right::ScopeSignal => "signal",
        }
    }

    /// The uapi constant (`LANDLOCK_ACCESS_FS_MAKE_CHAR`).
    pub fn constant(self) -> String {
        let prefix = match self.class() {
            Class::Fs => "LANDLOCK_ACCESS_FS_",
            Class::Net => "LANDLOCK_ACCESS_NET_",
            Class::Scope => "LANDLOCK_SCOPE_",
        };
        format!("{prefix}{}", self.name().to_uppercase())
    }

    pub fn class(self) -> Class {
        match self {
            Right::BindTcp | Right::ConnectTcp => Class::Net,
            Right::ScopeAbstractUnixSocket | Right::ScopeSignal => Class::Scope,
            _ => Class::Fs,
        }
    }

    /// The first Landlock ABI that has it.
    pub fn abi(self) -> u32 {
        match self {
            Right::Refer => 2,
            Right::Truncate => 3,
            Right::BindTcp | Right::ConnectTcp => 4,
            Right::IoctlDev => 5,
            Right::ScopeAbstractUnixSocket | Right::ScopeSignal => 6,
            Right::ResolveUnix => 9,
            _ => 1,
        }
    }

    /// The probe that observes it (one system call, its exact errno).
    pub fn probe(self) -> ProbeOp {
        match self {
            Right::Execute => ProbeOp::Exec,
            Right::WriteFile => ProbeOp::Write,
            Right::ReadFile => ProbeOp::Read,
            Right::ReadDir => ProbeOp::Readdir,
            Right::RemoveDir => ProbeOp::Rmdir,
            Right::RemoveFile => ProbeOp::Unlink,
            Right::MakeChar => ProbeOp::MknodChar,
            Right::MakeDir => ProbeOp::Mkdir,
            Right::MakeReg => ProbeOp::MknodReg,
            Right::MakeSock => ProbeOp::MknodSock,
            Right::MakeFifo => ProbeOp::Mkfifo,
            Right::MakeBlock => ProbeOp::MknodBlock,
            Right::MakeSym => ProbeOp::Symlink,
            Right::Refer => ProbeOp::Rename,
            Right::Truncate => ProbeOp::Truncate,
            Right::IoctlDev => ProbeOp::IoctlDev,
            Right::ResolveUnix => ProbeOp::UnixConnect,
            Right::BindTcp => ProbeOp::TcpBind,
            Right::ConnectTcp => ProbeOp::TcpConnect,
            Right::ScopeAbstractUnixSocket => ProbeOp::AbstractConnect,
            Right::ScopeSignal => ProbeOp::Signal,
        }
    }

    /// Other probes whose outcome it decides, beside its own (`scenarios/selftest-probes.yaml`
    /// checks them; `ioctl_fioclex`/`ioctl_fionbio`: commands it always lets through).
    pub fn other_probes(self) -> &'static [ProbeOp] {
        match self {
            Right::Truncate => &[ProbeOp::OpenTrunc, ProbeOp::Ftruncate],
            Right::Refer | Right::RemoveFile | Right::MakeReg => &[ProbeOp::RenameExchange],
            Right::BindTcp => &[ProbeOp::Tcp6Bind],
            Right::IoctlDev => &[ProbeOp::IoctlFioclex, ProbeOp::IoctlFionbio],
            Right::ScopeAbstractUnixSocket => &[ProbeOp::AbstractSendto],
            _ => &[],
        }
    }

    /// The reference enforcer's known-bad mode that leaves it out: `no-make-char` (a right it
    /// does not handle), `no-scope-signal` (a scope it does not set).
    pub fn fault(self) -> String {
        let word = self.name().replace('_', "-");
        match self.class() {
            Class::Scope => format!("no-scope-{}", if self == Right::ScopeSignal { "signal" } else { "abstract-unix" }),
            _ => format!("no-{word}"),
        }
    }

    /// The shipped scenario that exercises it (`scenarios/right-<name>.yaml`).
    pub fn scenario(self) -> String {
        format!("right-{}", self.fault().trim_start_matches("no-"))
    }

    pub fn parse_fault(name: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.fault() == name)
    }
}

/// A filesystem right as a policy names it (`write_file`, `truncate`): a rule grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FsRight(pub Right);

/// A filesystem or TCP right as a policy names it (`truncate`, `bind_tcp`): the handled set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessRight(pub Right);

/// The right of that name among `classes`, or an error listing them.
fn named(name: &str, classes: &[Class], what: &str) -> Result<Right, String> {
    let of = || Right::ALL.into_iter().filter(|r| classes.contains(&r.class()));
    of().find(|r| r.name() == name).ok_or_else(|| {
        let scope = match Right::ALL.iter().any(|r| r.name() == name && r.class() == Class::Scope) {
            true => " (a scope is set with `landlock.scoped`)",
            false => "",
        };
        let names: Vec<&str> = of().map(|r| r.name()).collect();
        format!("`{name}` is not {what}{scope}: write one of {}", names.join(", "))
    })
}

impl TryFrom<String> for FsRight {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        named(&name, &[Class::Fs], "a Landlock filesystem right").map(FsRight)
    }
}

impl From<FsRight> for String {
    fn from(r: FsRight) -> String {
        r.0.name().to_string()
    }
}

impl TryFrom<String> for AccessRight {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        named(&name, &[Class::Fs, Class::Net], "a Landlock filesystem or TCP right").map(AccessRight)
    }
}

impl From<AccessRight> for String {
    fn from(r: AccessRight) -> String {
        r.0.name().to_string()
    }
}

/// The names a policy may write for rights of `classes`, as a JSON Schema enumeration.
#[cfg(feature = "schemars")]
fn names_schema(classes: &[Class], description: &str) -> schemars::Schema {
    let names: Vec<&str> = Right::ALL.into_iter().filter(|r| classes.contains(&r.class())).map(|r| r.name()).collect();
    schemars::json_schema!({"description": description, "type": "string", "enum": names})
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for FsRight {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FsRight".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        names_schema(&[Class::Fs], "a Landlock filesystem right")
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for AccessRight {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccessRight".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        names_schema(&[Class::Fs, Class::Net], "a Landlock filesystem or TCP right")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_faults_and_scenarios_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Right::ALL {
            assert!(seen.insert(r.fault()), "{r:?}");
            assert_eq!(Right::parse_fault(&r.fault()), Some(r));
            assert!(r.scenario().starts_with("right-"));
        }
        assert_eq!(Right::MakeChar.fault(), "no-make-char");
        assert_eq!(Right::ScopeSignal.fault(), "no-scope-signal");
        assert_eq!(Right::ScopeAbstractUnixSocket.scenario(), "right-scope-abstract-unix");
        assert_eq!(Right::MakeChar.constant(), "LANDLOCK_ACCESS_FS_MAKE_CHAR");
        assert_eq!(Right::ScopeSignal.constant(), "LANDLOCK_SCOPE_SIGNAL");
        assert_eq!(Right::BindTcp.constant(), "LANDLOCK_ACCESS_NET_BIND_TCP");
    }

    #[test]
    fn every_right_has_its_own_probe() {
        let probes: std::collections::BTreeSet<_> = Right::ALL.iter().map(|r| r.probe()).collect();
        assert_eq!(probes.len(), Right::ALL.len());
    }

    #[test]
    fn rights_by_name_for_policies() {
        let fs: Vec<FsRight> = serde_json::from_str(r#"["write_file","truncate"]"#).unwrap();
        assert_eq!(fs, [FsRight(Right::WriteFile), FsRight(Right::Truncate)]);
        assert_eq!(serde_json::to_string(&fs).unwrap(), r#"["write_file","truncate"]"#);
        let err = serde_json::from_str::<Vec<FsRight>>(r#"["bind_tcp"]"#).unwrap_err().to_string();
        assert!(
            err.contains("`bind_tcp` is not a Landlock filesystem right: write one of execute, write_file"),
            "{err}"
        );
        let any: Vec<AccessRight> = serde_json::from_str(r#"["bind_tcp","make_reg"]"#).unwrap();
        assert_eq!(any[0], AccessRight(Right::BindTcp));
        let err = serde_json::from_str::<Vec<AccessRight>>(r#"["signal"]"#).unwrap_err().to_string();
        assert!(err.contains("(a scope is set with `landlock.scoped`)"), "{err}");
    }
}
