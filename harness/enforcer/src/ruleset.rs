//! From the policy to a Landlock ruleset: which paths get which rights, opening them, building
//! the ruleset, and applying it.
//!
//! Opening and applying are separate steps on purpose (DESIGN §1, OpenShell #803): paths are
//! opened while still root, and `restrict_self` runs after the privilege drop.

use crate::policy::{FilesystemPolicy, NetworkPolicy};
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, PathFdError,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetError, Scope, ABI,
};
use lockgate_protocol::policy::Scope as PolicyScope;
use lockgate_protocol::rights::Right;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;

/// The first ABI with TCP bind/connect rules.
pub const NET_ABI: ABI = ABI::V4;
/// The first ABI with device ioctl rules (`LANDLOCK_ACCESS_FS_IOCTL_DEV`).
pub const IOCTL_DEV_ABI: ABI = ABI::V5;
/// The first ABI with scopes.
pub const SCOPE_ABI: ABI = ABI::V6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    ReadOnly,
    ReadWrite,
    /// `filesystem_policy.read_only_noexec`: read_file and read_dir.
    ReadNoExec,
    /// `filesystem_policy.ioctl_dev`: ioctl on devices beneath, nothing else.
    IoctlDev,
    /// `filesystem_policy.rules`: exactly these rights.
    Rights(BitFlags<AccessFs>),
}

/// What the ruleset handles: every right of the ABI, less those a `no-<right>` fault forgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled {
    pub fs: BitFlags<AccessFs>,
    pub net: BitFlags<AccessNet>,
    pub scopes: BitFlags<Scope>,
}

impl Handled {
    /// Only what the policy's handled set (`landlock.handled`) names, when it names one.
    pub fn within(self, named: Option<&[lockgate_protocol::rights::AccessRight]>) -> Handled {
        let Some(named) = named else { return self };
        let mut fs = BitFlags::EMPTY;
        let mut net = BitFlags::EMPTY;
        for right in named.iter().map(|r| r.0) {
            match right {
                Right::BindTcp => net |= AccessNet::BindTcp,
                Right::ConnectTcp => net |= AccessNet::ConnectTcp,
                Right::ScopeAbstractUnixSocket | Right::ScopeSignal => {}
                fs_one => fs |= fs_right(fs_one),
            }
        }
        Handled { fs: self.fs & fs, net: self.net & net, scopes: self.scopes }
    }

    /// Everything `abi` has, less `forgotten`.
    pub fn new(abi: ABI, forgotten: impl IntoIterator<Item = Right>) -> Handled {
        let mut handled = Handled {
            fs: AccessFs::from_all(abi),
            net: if abi >= NET_ABI { AccessNet::BindTcp | AccessNet::ConnectTcp } else { BitFlags::EMPTY },
            scopes: if abi >= SCOPE_ABI { Scope::AbstractUnixSocket | Scope::Signal } else { BitFlags::EMPTY },
        };
        for right in forgotten {
            match right {
                Right::BindTcp => handled.net.remove(AccessNet::BindTcp),
                Right::ConnectTcp => handled.net.remove(AccessNet::ConnectTcp),
                Right::ScopeAbstractUnixSocket => handled.scopes.remove(Scope::AbstractUnixSocket),
                Right::ScopeSignal => handled.scopes.remove(Scope::Signal),
                fs => handled.fs.remove(fs_right(fs)),
            }
        }
        handled
    }
}

/// The crate's flag for a filesystem right.
pub fn fs_right(right: Right) -> AccessFs {
    match right {
        Right::Execute => AccessFs::Execute,
        Right::WriteFile => AccessFs::WriteFile,
        Right::ReadFile => AccessFs::ReadFile,
        Right::ReadDir => AccessFs::ReadDir,
        Right::RemoveDir => AccessFs::RemoveDir,
        Right::RemoveFile => AccessFs::RemoveFile,
        Right::MakeChar => AccessFs::MakeChar,
        Right::MakeDir => AccessFs::MakeDir,
        Right::MakeReg => AccessFs::MakeReg,
        Right::MakeSock => AccessFs::MakeSock,
        Right::MakeFifo => AccessFs::MakeFifo,
        Right::MakeBlock => AccessFs::MakeBlock,
        Right::MakeSym => AccessFs::MakeSym,
        Right::Refer => AccessFs::Refer,
        Right::Truncate => AccessFs::Truncate,
        Right::IoctlDev => AccessFs::IoctlDev,
        Right::ResolveUnix => AccessFs::ResolveUnix,
        other => panic!("{other:?} is not a filesystem right"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub path: PathBuf,
    pub grant: Grant,
}

/// The rules a filesystem policy asks for. `workdir` is the working directory, added read-write
/// when `include_workdir` is set. `baseline_rw` is the `baseline-rw` fault: every read-only
/// path is *also* added read-write, and since Landlock grants the union of the rules matching a
/// path, that makes it writable (OpenShell #905).
pub fn specs(fs: &FilesystemPolicy, workdir: Option<PathBuf>, baseline_rw: bool) -> Vec<RuleSpec> {
    let rule = |path: &PathBuf, grant| RuleSpec { path: path.clone(), grant };
    let mut specs: Vec<RuleSpec> = fs.read_only.iter().map(|p| rule(&p.0, Grant::ReadOnly)).collect();
    specs.extend(fs.read_write.iter().map(|p| rule(&p.0, Grant::ReadWrite)));
    if fs.include_workdir {
        specs.extend(workdir.map(|path| RuleSpec { path, grant: Grant::ReadWrite }));
    }
    if baseline_rw {
        specs.extend(fs.read_only.iter().map(|p| rule(&p.0, Grant::ReadWrite)));
    }
    specs.extend(fs.read_only_noexec.iter().map(|p| rule(&p.0, Grant::ReadNoExec)));
    specs.extend(fs.ioctl_dev.iter().map(|p| rule(&p.0, Grant::IoctlDev)));
    specs.extend(
        fs.rules.iter().map(|r| rule(&r.path.0, Grant::Rights(r.rights.iter().map(|f| fs_right(f.0)).collect()))),
    );
    specs
}

/// The `leak-fd` fault: opens every regular file among `specs` read-write and leaves the
/// descriptor open without `O_CLOEXEC`, so that it crosses execve into the command. Returns the
/// descriptors, for the warning; a file that cannot be opened so is passed over.
pub fn leak_files(specs: &[RuleSpec]) -> Vec<(i32, PathBuf)> {
    use std::os::fd::IntoRawFd;
    let mut leaked = Vec::new();
    for spec in specs {
        if !std::fs::metadata(&spec.path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(&spec.path) else { continue };
        let fd = file.into_raw_fd();
        // std opens with O_CLOEXEC; the bug is a descriptor without it.
        // SAFETY: F_SETFD on a descriptor we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        leaked.push((fd, spec.path.clone()));
    }
    leaked
}

/// The `leak-dirfd` fault: opens every directory among `specs` `O_RDONLY|O_DIRECTORY` and leaves
/// the descriptor open without `O_CLOEXEC`. Returns the descriptors, for the warning; a
/// directory that cannot be opened so is passed over.
pub fn leak_dirs(specs: &[RuleSpec]) -> Vec<(i32, PathBuf)> {
    let mut leaked = Vec::new();
    for spec in specs {
        let Ok(path) = std::ffi::CString::new(spec.path.as_os_str().as_encoded_bytes()) else { continue };
        // SAFETY: open with a valid C string; the descriptor is deliberately kept (the fault).
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
        if fd >= 0 {
            leaked.push((fd, spec.path.clone()));
        }
    }
    leaked
}

/// The rights a rule grants. Landlock rejects directory-only rights (read_dir, make_*,
/// remove_*, refer) on a rule for a non-directory, and the crate would silently drop them and
/// report the ruleset as only partially enforced, so they are tailored here.
pub fn rights(abi: ABI, grant: Grant, is_dir: bool) -> BitFlags<AccessFs> {
    let wanted = match grant {
        Grant::ReadOnly => AccessFs::ReadFile | AccessFs::ReadDir | AccessFs::Execute,
        Grant::ReadWrite => AccessFs::from_all(abi),
        Grant::ReadNoExec => AccessFs::ReadFile | AccessFs::ReadDir,
        Grant::IoctlDev => AccessFs::from_all(abi) & AccessFs::IoctlDev,
        Grant::Rights(rights) => AccessFs::from_all(abi) & rights,
    };
    let possible = if is_dir { AccessFs::from_all(abi) } else { AccessFs::from_file(abi) };
    wanted & possible
}

#[derive(Debug)]
pub struct OpenedRule {
    pub spec: RuleSpec,
    pub is_dir: bool,
    fd: PathFd,
    /// The `rule-under-mount` fault: the directory beneath the mount on this path, which the
    /// rule is tied to instead.
    covered: Option<std::os::fd::OwnedFd>,
}

impl OpenedRule {
    /// The `rule-under-mount` fault on this rule: tie it to the directory the mount on its path
    /// covers (nothing changes for a path that is no mount point). Returns whether it did.
    pub fn under_mount(&mut self) -> bool {
        self.covered = crate::under_mount::covered(&self.spec.path.to_string_lossy());
        self.covered.is_some()
    }
}

/// Opens one rule path (`O_PATH`, following symlinks, as the crate does).
pub fn open(spec: &RuleSpec) -> Result<OpenedRule, PathFdError> {
    let fd = PathFd::new(&spec.path)?;
    // A fd we just opened can always be stat'ed; if not, treat it as a file, which gets the
    // smaller set of rights.
    let is_dir = nix::sys::stat::fstat(fd.as_fd().as_raw_fd())
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    Ok(OpenedRule { spec: spec.clone(), is_dir, fd, covered: None })
}

/// Opens every rule path. With `skip_unopenable` a path that cannot be opened is left out and
/// reported through `warn` (fewer rules only ever means *less* access); without it the first
/// failure is returned.
pub fn open_all(
    specs: &[RuleSpec],
    skip_unopenable: bool,
    mut warn: impl FnMut(&PathFdError),
) -> Result<Vec<OpenedRule>, PathFdError> {
    let mut opened = Vec::with_capacity(specs.len());
    for spec in specs {
        match open(spec) {
            Ok(rule) => opened.push(rule),
            Err(err) if skip_unopenable => warn(&err),
            Err(err) => return Err(err),
        }
    }
    Ok(opened)
}

/// Builds the ruleset: the filesystem rights of `handled` are handled (a rule grants only
/// those); TCP bind/connect are handled when `network` is given (the caller only passes it when
/// the ABI has TCP rules); `scopes` (the policy's, the caller only passes them from ABI 6) are
/// set where `handled` has them.
///
/// The crate runs in BestEffort so that its status says what the kernel really enforces; the
/// policy's `hard_requirement` is applied by the caller on that status, with a better reason
/// than the crate's error would give.
pub fn build(
    abi: ABI,
    handled: Handled,
    rules: Vec<OpenedRule>,
    network: Option<&NetworkPolicy>,
    scopes: &[PolicyScope],
) -> Result<RulesetCreated, RulesetError> {
    let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::BestEffort).handle_access(handled.fs)?;
    let net = handled.net;
    if network.is_some() && !net.is_empty() {
        ruleset = ruleset.handle_access(net)?;
    }
    let scoped: BitFlags<Scope> = scopes
        .iter()
        .map(|s| match s {
            PolicyScope::AbstractUnixSocket => Scope::AbstractUnixSocket,
            PolicyScope::Signal => Scope::Signal,
        })
        .collect::<BitFlags<Scope>>()
        & handled.scopes;
    if !scoped.is_empty() {
        ruleset = ruleset.scope(scoped)?;
    }
    let mut created = ruleset.create()?;
    for rule in rules {
        let access = rights(abi, rule.spec.grant, rule.is_dir) & handled.fs;
        if access.is_empty() {
            continue;
        }
        created = match rule.covered {
            Some(covered) => created.add_rule(PathBeneath::new(covered, access))?,
            None => created.add_rule(PathBeneath::new(rule.fd, access))?,
        };
    }
    if let Some(policy) = network {
        for (ports, right) in [(&policy.bind_tcp, AccessNet::BindTcp), (&policy.connect_tcp, AccessNet::ConnectTcp)] {
            if net.contains(right) {
                for &port in ports {
                    created = created.add_rule(NetPort::new(port, right))?;
                }
            }
        }
    }
    Ok(created)
}

/// Applies the ruleset to this thread (and so to the command it execs). The crate sets
/// no_new_privs first unless `no_new_privs` is false (the `no-nnp` fault).
pub fn restrict(created: RulesetCreated, no_new_privs: bool) -> Result<RestrictionStatus, RulesetError> {
    created.no_new_privs(no_new_privs).restrict_self()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::AbsPath;

    #[test]
    fn read_only_rights_for_a_file_and_a_dir() {
        for abi in [ABI::V1, ABI::V4, ABI::V7] {
            assert_eq!(rights(abi, Grant::ReadOnly, true), AccessFs::ReadFile | AccessFs::ReadDir | AccessFs::Execute);
            // read_dir is a directory right: not on a file.
            assert_eq!(rights(abi, Grant::ReadOnly, false), AccessFs::ReadFile | AccessFs::Execute);
        }
    }

    #[test]
    fn read_write_rights_for_a_file_and_a_dir() {
        let dir = rights(ABI::V3, Grant::ReadWrite, true);
        assert_eq!(dir, AccessFs::from_all(ABI::V3));
        assert!(dir.contains(AccessFs::MakeReg | AccessFs::RemoveDir | AccessFs::Refer));
        assert!(dir.contains(AccessFs::Truncate));

        let file = rights(ABI::V3, Grant::ReadWrite, false);
        assert_eq!(file, AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Execute | AccessFs::Truncate);
        // Nothing outside what the ABI knows, for either kind.
        assert!(!rights(ABI::V2, Grant::ReadWrite, true).contains(AccessFs::Truncate));
        assert!(!rights(ABI::V1, Grant::ReadWrite, false).contains(AccessFs::Truncate));
        assert!(rights(ABI::V5, Grant::ReadWrite, false).contains(AccessFs::IoctlDev));
    }

    #[test]
    fn forgotten_rights_are_not_handled() {
        let all = Handled::new(ABI::V6, []);
        assert_eq!(all.fs, AccessFs::from_all(ABI::V6));
        assert_eq!(all.scopes, Scope::AbstractUnixSocket | Scope::Signal);
        assert!(Handled::new(ABI::V5, []).scopes.is_empty());
        assert!(Handled::new(ABI::V3, []).net.is_empty());
        let some = Handled::new(ABI::V6, [Right::MakeChar, Right::BindTcp, Right::ScopeSignal]);
        assert_eq!(some.fs, AccessFs::from_all(ABI::V6) & !AccessFs::MakeChar);
        assert_eq!(some.net, AccessNet::ConnectTcp);
        assert_eq!(some.scopes, Scope::AbstractUnixSocket);
        for right in Right::ALL {
            if right.class() == lockgate_protocol::rights::Class::Fs {
                let abi = ABI::from(right.abi() as i32);
                assert!(AccessFs::from_all(abi).contains(fs_right(right)), "{right:?} from ABI {}", right.abi());
                let before = ABI::from(right.abi() as i32 - 1);
                assert!(!AccessFs::from_all(before).contains(fs_right(right)), "{right:?} before its ABI");
            }
        }
        assert_eq!(rights(ABI::V5, Grant::IoctlDev, true), AccessFs::IoctlDev);
        assert!(rights(ABI::V4, Grant::IoctlDev, true).is_empty());
    }

    #[test]
    fn rights_per_rule_and_the_handled_set() {
        let rw = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::ReadDir;
        // A file takes no directory right; a right the ABI lacks grants nothing.
        assert_eq!(rights(ABI::V3, Grant::Rights(rw), false), AccessFs::ReadFile | AccessFs::WriteFile);
        assert_eq!(rights(ABI::V2, Grant::Rights(AccessFs::Truncate | AccessFs::ReadFile), true), AccessFs::ReadFile);
        let named: Vec<lockgate_protocol::rights::AccessRight> =
            serde_yaml::from_str("[write_file, truncate, bind_tcp]").unwrap();
        let all = Handled::new(ABI::V4, []);
        let handled = all.within(Some(&named));
        assert_eq!(handled.fs, AccessFs::WriteFile | AccessFs::Truncate);
        assert_eq!(handled.net, BitFlags::from(AccessNet::BindTcp));
        assert_eq!(all.within(None), all);
        // Below ABI 4 a listed TCP right cannot be handled.
        assert!(Handled::new(ABI::V3, []).within(Some(&named)).net.is_empty());
    }

    #[test]
    fn specs_follow_the_policy_and_the_baseline_fault() {
        let fs = FilesystemPolicy {
            read_only: vec![AbsPath("/usr".into())],
            read_write: vec![AbsPath("/tmp".into())],
            include_workdir: true,
            ioctl_dev: vec![],
            read_only_noexec: vec![],
            rules: vec![],
        };
        let spec = |p: &str, grant| RuleSpec { path: p.into(), grant };
        assert_eq!(
            specs(&fs, Some("/work".into()), false),
            [spec("/usr", Grant::ReadOnly), spec("/tmp", Grant::ReadWrite), spec("/work", Grant::ReadWrite)]
        );
        assert_eq!(
            specs(&fs, None, true),
            [spec("/usr", Grant::ReadOnly), spec("/tmp", Grant::ReadWrite), spec("/usr", Grant::ReadWrite)]
        );
    }

    #[test]
    fn open_tells_files_from_dirs_and_skips_on_request() {
        let specs = [
            RuleSpec { path: "/".into(), grant: Grant::ReadOnly },
            RuleSpec { path: "/proc/self/exe".into(), grant: Grant::ReadOnly },
            RuleSpec { path: "/nonexistent/lockgate".into(), grant: Grant::ReadOnly },
        ];
        let mut skipped = 0;
        let opened = open_all(&specs, true, |_| skipped += 1).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(opened.iter().map(|r| r.is_dir).collect::<Vec<_>>(), [true, false]);
        let err = open_all(&specs, false, |_| {}).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/lockgate"), "{err}");
    }
}
