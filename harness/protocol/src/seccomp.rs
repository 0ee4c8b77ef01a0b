//! Seccomp profiles as Docker and Podman write them, and their conversion to the OCI runtime
//! spec's `linux.seccomp`, done the way the engines do it:
//!
//! - **dockerd** (moby `profiles/seccomp/seccomp_linux.go`, `setupSeccomp`, read in the Debian
//!   packages of 20.10.5, 20.10.24 and 26.1.5): the `archMap` entry of the native architecture
//!   (amd64 → `SCMP_ARCH_X86_64` plus its sub-architectures x86 and x32); then each rule is
//!   dropped when an `excludes` matches (the arch, any capability in the bounding set, a
//!   `minKernel` the running kernel reaches) or an `includes` does not (the arch, every
//!   capability, the `minKernel`). Kernel versions compare `major.minor` of `uname -r`, read
//!   like Go's `Sscanf("%d.%d")`, and only when a rule has a `minKernel`.
//!   20.10's dockerd does not copy `defaultErrnoRet`; its profiles have none, so the one
//!   conversion serves every Docker version here.
//! - **containers/common** (Podman, 0.62.2 `pkg/seccomp`): the same filtering without
//!   `minKernel` (its `Filter` has no such field), plus errno *names*: `defaultErrno` and a
//!   rule's `errno` win over the numeric `defaultErrnoRet` / `errnoRet`.
//!
//! The conversion needs the kernel release, so it runs in the guest, which knows it. The host
//! parses the same types to validate a profile before any boot.
//!
//! Hand-written because no library does it: the filtering above lives in Go inside the engines
//! (moby's `profiles/seccomp`, containers/common's `pkg/seccomp`), and what Rust has starts
//! after it: `oci-spec` types the converted `linux.seccomp` but takes it as given, as youki
//! does; libseccomp and seccompiler compile an already-chosen rule list into BPF. The engines'
//! own reading (which `excludes` beats which `includes`, Go's `Sscanf` of `uname -r`, Podman
//! without `minKernel`) is what the tests pin, rule by rule.

use serde::{Deserialize, Deserializer, Serialize};

/// Which engine's reading of a profile applies.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// dockerd (moby `profiles/seccomp`).
    Docker,
    /// Podman (containers/common `pkg/seccomp`).
    Podman,
    /// containerd (`contrib/seccomp`'s `DefaultProfile`, Kubernetes' `RuntimeDefault`): Go code,
    /// which the host reads into Docker's form (includes/excludes by capability, `minKernel`),
    /// so it converts as dockerd converts.
    Containerd,
    /// systemd-nspawn: the container's filter is nspawn's own, built into it (an allow list of
    /// syscall groups, `@system-service`'s among them); it reads no profile.
    #[serde(rename = "systemd-nspawn")]
    SystemdNspawn,
}

impl Flavour {
    /// Whether the profile is read as dockerd reads it (`minKernel`, numeric errnos only).
    fn reads_like_docker(self) -> bool {
        matches!(self, Flavour::Docker | Flavour::Containerd)
    }
}

/// A profile as written (Docker's `default.json`, containers-common's `seccomp.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Podman only: an errno name (`ENOSYS`) or number, winning over `defaultErrnoRet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub arch_map: Vec<ArchEntry>,
    #[serde(deserialize_with = "null_as_empty")]
    pub syscalls: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArchEntry {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<String>,
}

/// One rule of a profile: syscall names, an action, and the conditions it applies under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub names: Vec<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub args: Vec<Arg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Podman only: an errno name or number, winning over `errnoRet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub arches: Vec<String>,
    /// `"<kernel>.<major>"`, e.g. `"4.8"` (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

/// A syscall argument comparison, as the OCI spec has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: Operator,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "SCMP_ACT_KILL")]
    Kill,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    #[serde(rename = "SCMP_CMP_NE")]
    Ne,
    #[serde(rename = "SCMP_CMP_LT")]
    Lt,
    #[serde(rename = "SCMP_CMP_LE")]
    Le,
    #[serde(rename = "SCMP_CMP_EQ")]
    Eq,
    #[serde(rename = "SCMP_CMP_GE")]
    Ge,
    #[serde(rename = "SCMP_CMP_GT")]
    Gt,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEq,
}

/// moby's `KernelVersion`: `"<kernel>.<major>"`, two parts, each below 256, not `0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub kernel: u64,
    pub major: u64,
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kernel, self.major)
    }
}

impl std::str::FromStr for KernelVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid kernel version `{s}`, expected \"<kernel>.<major>\"{why}");
        let parts: Vec<&str> = s.splitn(3, '.').collect();
        if parts.len() != 2 {
            return Err(bad(""));
        }
        let num = |p: &str| p.parse::<u8>().map(u64::from).map_err(|e| bad(&format!(": {e}")));
        let v = KernelVersion { kernel: num(parts[0])?, major: num(parts[1])? };
        if v.kernel == 0 && v.major == 0 {
            return Err(bad(": version cannot be 0.0"));
        }
        Ok(v)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `null` reads as an empty list, as Go's encoding/json does for slices.
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `linux.seccomp` of an OCI runtime spec (config.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinuxSeccomp {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<LinuxSyscall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinuxSyscall {
    pub names: Vec<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
}

impl LinuxSeccomp {
    /// The errno of the default action: `defaultErrnoRet`, else EPERM (runc's and libseccomp's
    /// default for `SCMP_ACT_ERRNO`). None when the default action is not an errno.
    pub fn default_errno(&self) -> Option<u32> {
        (self.default_action == Action::Errno).then(|| self.default_errno_ret.unwrap_or(1))
    }

    /// Whether some rule allows `name` (with or without argument conditions).
    pub fn allows(&self, name: &str) -> bool {
        self.syscalls.iter().any(|r| r.action == Action::Allow && r.names.iter().any(|n| n == name))
    }
}

/// What the conversion depends on besides the profile.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Go's GOARCH of the engine (`amd64`).
    pub arch: &'a str,
    /// The container's bounding capability set, `CAP_…` names.
    pub capabilities: &'a [String],
    /// `uname -r` of the kernel the container runs on.
    pub release: &'a str,
}

/// GOARCH → libseccomp's name (moby's `goToNative`).
fn native_arch(goarch: &str) -> &str {
    match goarch {
        "386" => "x86",
        "mips64p32" => "mips64n32",
        "mips64le" => "mipsel64",
        "mips64p32le" => "mips3l64n32",
        other => other,
    }
}

/// libseccomp's name → the OCI/seccomp architecture (moby's `nativeToSeccomp`).
fn seccomp_arch(native: &str) -> Option<&'static str> {
    Some(match native {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64n32" => "SCMP_ARCH_MIPS64N32",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "mips3l64n32" => "SCMP_ARCH_MIPSEL64N32",
        "mipsle" => "SCMP_ARCH_MIPSEL",
        "ppc" => "SCMP_ARCH_PPC",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        _ => return None,
    })
}

/// `major.minor` of a release like Go's `fmt.Sscanf(release, "%d.%d")`.
pub fn parse_release(release: &str) -> Result<KernelVersion, String> {
    let fail = || format!("failed to parse kernel version {release:?}");
    let (a, rest) = release.split_once('.').ok_or_else(fail)?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Ok(KernelVersion { kernel: a.trim().parse().map_err(|_| fail())?, major: digits.parse().map_err(|_| fail())? })
}

/// The profile as the engine hands it to the runtime.
pub fn convert(profile: &Profile, flavour: Flavour, target: &Target) -> Result<LinuxSeccomp, String> {
    if flavour == Flavour::SystemdNspawn {
        return Err(
            "systemd-nspawn reads no seccomp profile: its filter is built in (write `seccomp: built-in`)".into()
        );
    }
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'".into());
    }
    if flavour.reads_like_docker() {
        // dockerd has no such fields: its JSON decoder would drop them silently, and the
        // profile would not mean what its author wrote.
        if profile.default_errno.is_some() {
            return Err("defaultErrno is Podman's field; dockerd ignores it (write defaultErrnoRet)".into());
        }
        if let Some(i) = profile.syscalls.iter().position(|r| r.errno.is_some()) {
            return Err(format!("syscalls[{i}].errno is Podman's field; dockerd ignores it (write errnoRet)"));
        }
    }
    let arch = native_arch(target.arch);
    let mut out = LinuxSeccomp {
        default_action: profile.default_action,
        default_errno_ret: match flavour {
            Flavour::Docker | Flavour::Containerd => profile.default_errno_ret,
            Flavour::Podman | Flavour::SystemdNspawn => {
                errno_of(profile.default_errno.as_deref(), profile.default_errno_ret)
                    .map_err(|e| format!("defaultErrno: {e}"))?
            }
        },
        architectures: profile.architectures.clone(),
        flags: profile.flags.clone(),
        listener_path: profile.listener_path.clone(),
        listener_metadata: profile.listener_metadata.clone(),
        syscalls: Vec::new(),
    };
    if let Some(native) = seccomp_arch(arch) {
        if let Some(entry) = profile.arch_map.iter().find(|a| a.architecture == native) {
            out.architectures.push(entry.architecture.clone());
            out.architectures.extend(entry.sub_architectures.iter().cloned());
        }
    }
    let bounding = |c: &String| target.capabilities.contains(c);
    let mut kernel: Option<Result<KernelVersion, String>> = None;
    let mut at_least = |min: &KernelVersion| -> Result<bool, String> {
        let k = kernel.get_or_insert_with(|| parse_release(target.release)).clone()?;
        Ok(k >= *min)
    };
    for (i, rule) in profile.syscalls.iter().enumerate() {
        if rule.name.is_some() && !rule.names.is_empty() {
            return Err(format!("syscalls[{i}]: both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"));
        }
        let (ex, inc) = (rule.excludes.clone().unwrap_or_default(), rule.includes.clone().unwrap_or_default());
        if ex.arches.iter().any(|a| a == arch) || ex.caps.iter().any(bounding) {
            continue;
        }
        if flavour.reads_like_docker() {
            if let Some(min) = &ex.min_kernel {
                if at_least(min).map_err(|e| format!("syscalls[{i}].excludes.minKernel: {e}"))? {
                    continue;
                }
            }
        }
        if (!inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch)) || !inc.caps.iter().all(bounding) {
            continue;
        }
        if flavour.reads_like_docker() {
            if let Some(min) = &inc.min_kernel {
                if !at_least(min).map_err(|e| format!("syscalls[{i}].includes.minKernel: {e}"))? {
                    continue;
                }
            }
        }
        let errno_ret = match flavour {
            Flavour::Docker | Flavour::Containerd => rule.errno_ret,
            Flavour::Podman | Flavour::SystemdNspawn => {
                errno_of(rule.errno.as_deref(), rule.errno_ret).map_err(|e| format!("syscalls[{i}].errno: {e}"))?
            }
        };
        let names = match &rule.name {
            Some(n) => vec![n.clone()],
            None => rule.names.clone(),
        };
        out.syscalls.push(LinuxSyscall { names, action: rule.action, errno_ret, args: rule.args.clone() });
    }
    Ok(out)
}

/// containers/common's `getErrno`: a name or a number wins over the numeric field.
fn errno_of(name: Option<&str>, numeric: Option<u32>) -> Result<Option<u32>, String> {
    match name {
        None | Some("") => Ok(numeric),
        Some(n) => match n.parse::<u32>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => errno_number(n).map(Some).ok_or_else(|| format!("unknown errno {n}")),
        },
    }
}

/// Linux's errno numbers (x86_64, asm-generic) by name.
pub fn errno_number(name: &str) -> Option<u32> {
    ERRNO_NAMES.iter().position(|n| *n == name).map(|i| i as u32 + 1).or(match name {
        "EWOULDBLOCK" => Some(11),
        "EDEADLOCK" => Some(35),
        "ENOTSUP" => Some(95),
        _ => None,
    })
}

/// The errno name of a number (`ENOSYS` for 38).
pub fn errno_name(n: u32) -> Option<&'static str> {
    n.checked_sub(1).and_then(|i| ERRNO_NAMES.get(i as usize)).copied().filter(|s| !s.is_empty())
}

/// Index i holds errno i+1; "" for numbers Linux does not use.
const ERRNO_NAMES: [&str; 133] = [
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
];

/// Docker's default capability set (moby `oci/caps/defaults.go`, 20.10 – 26.1).
pub const DOCKER_DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability Linux knows (0 – 40), for validating names.
pub const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> Profile {
        serde_json::from_str(json).unwrap()
    }

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn names(s: &LinuxSeccomp) -> Vec<String> {
        s.syscalls.iter().flat_map(|r| r.names.clone()).collect()
    }

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": null},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["ppc64le"]}},
            {"names": ["old_thing"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["chown"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_CHOWN", "CAP_FOWNER"]}}
        ]
    }"#;

    fn docker(release: &str, c: &[&str]) -> LinuxSeccomp {
        let c = caps(c);
        convert(&profile(PROFILE), Flavour::Docker, &Target { arch: "amd64", capabilities: &c, release }).unwrap()
    }

    #[test]
    fn arch_map_takes_the_native_entry_and_its_sub_architectures() {
        let s = docker("6.8.0-57-generic", &DOCKER_DEFAULT_CAPABILITIES);
        assert_eq!(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        assert_eq!(s.default_action, Action::Errno);
        assert_eq!(s.default_errno(), Some(1), "no defaultErrnoRet: EPERM");
    }

    #[test]
    fn includes_and_excludes_by_capability() {
        let s = docker("6.8.0", &DOCKER_DEFAULT_CAPABILITIES);
        let n = names(&s);
        assert!(!n.contains(&"bpf".into()), "includes CAP_SYS_ADMIN, not in Docker's set");
        assert!(n.contains(&"clone".into()) && n.contains(&"clone3".into()), "excluded only with CAP_SYS_ADMIN");
        assert!(n.contains(&"chown".into()), "every included capability is present");
        let admin = docker("6.8.0", &["CAP_SYS_ADMIN"]);
        let n = names(&admin);
        assert!(n.contains(&"bpf".into()));
        assert!(!n.contains(&"clone".into()) && !n.contains(&"clone3".into()));
        assert!(!n.contains(&"chown".into()), "includes needs all of its capabilities");
        let clone = s.syscalls.iter().find(|r| r.names == ["clone"]).unwrap();
        assert_eq!(clone.args[0].op, Operator::MaskedEq, "arguments are kept");
        assert_eq!(s.syscalls.iter().find(|r| r.names == ["clone3"]).unwrap().errno_ret, Some(38));
    }

    #[test]
    fn includes_and_excludes_by_arch() {
        let n = names(&docker("6.8.0", &[]));
        assert!(n.contains(&"arch_prctl".into()));
        assert!(!n.contains(&"sync_file_range2".into()));
        let c = caps(&[]);
        let s390 =
            convert(&profile(PROFILE), Flavour::Docker, &Target { arch: "s390x", capabilities: &c, release: "6.1" })
                .unwrap();
        assert!(!names(&s390).contains(&"clone".into()));
        assert!(s390.architectures.is_empty(), "no archMap entry for s390x");
    }

    #[test]
    fn min_kernel_against_the_release() {
        let old = names(&docker("4.4.0-210-generic", &[]));
        let new = names(&docker("4.8.0", &[]));
        assert!(!old.contains(&"ptrace".into()) && new.contains(&"ptrace".into()));
        assert!(names(&docker("5.15.0-107-generic", &[])).contains(&"ptrace".into()));
        assert!(names(&docker("5.9.16", &[])).contains(&"old_thing".into()));
        assert!(!names(&docker("5.10.0-32-cloud-amd64", &[])).contains(&"old_thing".into()), "excluded from 5.10");
        assert!(
            !names(&docker("6.12.117+deb13-cloud-amd64", &[])).contains(&"old_thing".into()),
            "6 > 5 whatever the minor"
        );
        let c = caps(&[]);
        let err =
            convert(&profile(PROFILE), Flavour::Docker, &Target { arch: "amd64", capabilities: &c, release: "weird" })
                .unwrap_err();
        assert!(err.contains("syscalls[1].includes.minKernel") && err.contains("weird"), "{err}");
    }

    #[test]
    fn kernel_versions_parse_like_moby() {
        assert_eq!("4.8".parse::<KernelVersion>(), Ok(KernelVersion { kernel: 4, major: 8 }));
        for bad in ["4", "4.8.1", "0.0", "a.b", "300.1"] {
            assert!(bad.parse::<KernelVersion>().is_err(), "{bad}");
        }
        assert_eq!(parse_release("6.12.117+deb13-cloud-amd64"), Ok(KernelVersion { kernel: 6, major: 12 }));
        assert_eq!(parse_release("5.15.0-107-generic"), Ok(KernelVersion { kernel: 5, major: 15 }));
        assert!(parse_release("x").is_err());
    }

    #[test]
    fn podman_reads_errno_names_and_ignores_min_kernel() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS", "defaultErrnoRet": 1,
                "syscalls": [
                  {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
                  {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM", "errnoRet": 5}
                ]}"#,
        );
        let c = caps(&[]);
        let t = Target { arch: "amd64", capabilities: &c, release: "6.1.0" };
        let s = convert(&p, Flavour::Podman, &t).unwrap();
        assert_eq!(s.default_errno(), Some(38));
        assert!(names(&s).contains(&"ptrace".into()));
        assert_eq!(s.syscalls[1].errno_ret, Some(1));
        let err = convert(&p, Flavour::Docker, &t).unwrap_err();
        assert!(err.contains("defaultErrno is Podman's field"), "{err}");
    }

    #[test]
    fn malformed_profiles_are_rejected() {
        assert!(serde_json::from_str::<Profile>(r#"{"defaultAction": "SCMP_ACT_NOPE", "syscalls": []}"#).is_err());
        assert!(serde_json::from_str::<Profile>(r#"{"defaultAktion": "SCMP_ACT_ERRNO", "syscalls": []}"#).is_err());
        let both = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}], "syscalls": []}"#,
        );
        let c = caps(&[]);
        assert!(convert(&both, Flavour::Docker, &Target { arch: "amd64", capabilities: &c, release: "6.1" }).is_err());
    }

    #[test]
    fn errno_names_round_trip() {
        assert_eq!(errno_number("ENOSYS"), Some(38));
        assert_eq!(errno_number("EPERM"), Some(1));
        assert_eq!(errno_number("EOPNOTSUPP"), Some(95));
        assert_eq!(errno_number("EHWPOISON"), Some(133));
        assert_eq!(errno_name(38), Some("ENOSYS"));
        assert_eq!(errno_name(41), None);
        assert_eq!(ALL_CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
        assert_eq!(ALL_CAPABILITIES[21], "CAP_SYS_ADMIN");
    }
}
