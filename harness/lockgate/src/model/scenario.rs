//! Scenario files: a policy, the world it runs in, and what must be denied or allowed.
//!
//! Leaf values are validated while deserialising (`try_from`), so serde_yaml reports a bad value
//! with its path and line. Checks that relate fields to each other run afterwards in
//! [`Scenario::validate`], and locate their field in the text with [`crate::model::locate`].
//!
//! A `probe:` is `<op> <target>`: a path, two paths, a port, `outside`/`inside`, or for the
//! probes of what syscall filters decide the call's words — `syscall <name|number> [args…]`,
//! `socket <domain> <type> [protocol]` (either with `@i386` or `@x32` after the operation for
//! the other entries), `clone <flags>`, `clone3 <flags>`, `ptrace_attach outside|inside`,
//! `execveat_empty_path <path>`, `mount <dir>`, and `ptrace_traceme`, `io_uring_setup`,
//! `memfd_exec`, `bpf`, `seccomp` with nothing after them. Their names and flags are resolved to
//! numbers here ([`crate::model::probe_args`]), so a typo is a load error with its line.

use super::cond::When;
use super::errno;
use super::layer::Layer;
use super::probe_args;
use lockgate_protocol::policy as schema;
use lockgate_protocol::{Peer, ProbeOp, ProbeTarget, TargetKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub use super::setup_kinds::PathKindSpec;
pub use lockgate_protocol::GuestPath;
pub use schema::Compatibility;

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawScenario")]
pub struct Scenario {
    pub name: Name,
    pub about: String,
    pub setup: Setup,
    /// The policy as lockgate understands it. For a native policy, what the enforcer's adapter
    /// finds in the document (`native:` selectors: user, group, compatibility, rule paths),
    /// filled in when the scenario is planned for that enforcer
    /// ([`crate::enforcer::Enforcer::resolve`]); until then the default.
    pub policy: Policy,
    /// The enforcer's own policy document (`policy: |` followed by it), handed to the
    /// enforcer byte for byte: YAML or JSON, any schema.
    pub native_policy: Option<String>,
    pub expect: Vec<Expectation>,
    pub may_skip_all: bool,
    pub limits: ScenarioLimits,
    /// Each step on a fresh tree of its own (`isolate: true`).
    pub isolate: bool,
    /// The enforcers (adapter names) it is meant for; empty: every one. A namespace sandbox's
    /// scenario (EROFS for a read-only bind) says nothing true of a Landlock enforcer.
    pub enforcers: Vec<Name>,
}

impl Scenario {
    /// Whether the scenario is meant for the enforcer `name`.
    pub fn meant_for(&self, name: &str) -> bool {
        self.enforcers.is_empty() || self.enforcers.iter().any(|e| e.as_str() == name)
    }
}

/// A scenario file's schema: the file as written (`RawScenario`).
impl schemars::JsonSchema for Scenario {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scenario".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawScenario::json_schema(g)
    }
}

/// A scenario as written. `policy:` is either a mapping in lockgate's format (OpenShell's plus
/// lockgate's extensions) or a string: the enforcer's own document.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    /// The scenario's name: `--scenario` and its snapshots use it; unique in the project.
    name: Name,
    /// Free text: what the scenario shows.
    #[serde(default)]
    about: String,
    /// The accounts and the tree each run starts from.
    #[serde(default)]
    setup: Setup,
    /// The policy handed to the enforcer: a mapping (OpenShell's format plus lockgate's
    /// extensions) or a string, the enforcer's own document handed over byte for byte.
    policy: PolicyText,
    /// What must be denied or allowed, and what the enforcer must claim, one line each.
    expect: Vec<Expectation>,
    /// A cell in which every expectation is skipped checked nothing, which is not a pass (it
    /// fails under `CI=true`); `true` says that is intended for this scenario.
    #[serde(default)]
    may_skip_all: bool,
    /// The guest's time limits for this scenario's runs (`limits: {step: 20, run: 60}`, in
    /// seconds).
    #[serde(default)]
    limits: ScenarioLimits,
    /// The enforcers (adapter names) it is meant for; omitted: every one. A namespace sandbox's
    /// scenario (EROFS for a read-only bind) says nothing true of a Landlock enforcer.
    #[serde(default)]
    enforcers: Vec<Name>,
    /// `true`: each step runs alone, on a tree made fresh for it, in both runs (the enforcer
    /// starts once per step). Default `false`: the steps run in order in one run, each seeing
    /// what the earlier ones did — in the control run too, where a step the sandbox denies
    /// succeeds (a file it refused to make exists there for the next step).
    #[serde(default)]
    isolate: bool,
}

impl From<RawScenario> for Scenario {
    fn from(r: RawScenario) -> Scenario {
        let (policy, native_policy) = match r.policy {
            PolicyText::Generic(p) => (*p, None),
            PolicyText::Native(text) => (Policy::default(), Some(text)),
        };
        Scenario {
            name: r.name,
            about: r.about,
            setup: r.setup,
            policy,
            native_policy,
            expect: r.expect,
            may_skip_all: r.may_skip_all,
            limits: r.limits,
            enforcers: r.enforcers,
            isolate: r.isolate,
        }
    }
}

enum PolicyText {
    Generic(Box<Policy>),
    Native(String),
}

impl std::fmt::Debug for PolicyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyText::Generic(p) => p.fmt(f),
            PolicyText::Native(t) => t.fmt(f),
        }
    }
}

/// The two forms `policy:` takes, as the deserialiser below accepts them.
impl schemars::JsonSchema for PolicyText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PolicyText".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let policy = g.subschema_for::<Policy>();
        schemars::json_schema!({
            "description": "The policy: a mapping in OpenShell's format with lockgate's extensions, or the enforcer's own policy document as a string (`policy: |`).",
            "anyOf": [policy, {"type": "string", "description": "The enforcer's own policy document, handed to it byte for byte."}]
        })
    }
}

impl<'de> Deserialize<'de> for PolicyText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = PolicyText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a policy: a mapping (filesystem_policy, landlock, process, …), or the enforcer's own policy document as a string (`policy: |` and the document below it)")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PolicyText, E> {
                Ok(PolicyText::Native(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<PolicyText, A::Error> {
                Policy::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|p| PolicyText::Generic(Box::new(p)))
            }
        }
        d.deserialize_any(Text)
    }
}

/// A scenario's `limits:`: how long a `run:` step and a whole run may take in the guest before
/// they are killed. The boot's deadline grows with them.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioLimits {
    /// Seconds a `run:` step may take (default 20).
    #[serde(default, deserialize_with = "seconds")]
    #[schemars(with = "Option<u32>", range(min = 1, max = 3600))]
    pub step: Option<u32>,
    /// Seconds a whole run may take (default: room for every step to reach the step limit, at
    /// least 60).
    #[serde(default, deserialize_with = "seconds")]
    #[schemars(with = "Option<u32>", range(min = 1, max = 3600))]
    pub run: Option<u32>,
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u32::deserialize(d)?;
    if n == 0 || n > 3600 {
        return Err(serde::de::Error::custom(format!("{n} is not a limit: give whole seconds from 1 to 3600")));
    }
    Ok(Some(n))
}

impl ScenarioLimits {
    /// The limits the guest applies to a case of `steps` steps.
    pub fn resolve(&self, steps: usize) -> lockgate_protocol::Limits {
        let step_seconds = self.step.unwrap_or(lockgate_protocol::Limits::STEP_SECONDS);
        let run_seconds =
            self.run.unwrap_or_else(|| lockgate_protocol::Limits::default_run_seconds(step_seconds, steps));
        lockgate_protocol::Limits { step_seconds, run_seconds }
    }
}

/// A scenario, kernel or environment name: it becomes part of file names and command lines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !s.starts_with(['.', '-']);
        if ok {
            Ok(Name(s))
        } else {
            Err(format!("`{s}` is not a valid name: use letters, digits, `-`, `_` and `.` (at most 64)"))
        }
    }
}

/// What `Name::try_from` accepts.
impl schemars::JsonSchema for Name {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Name".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A name: letters, digits, `-`, `_` and `.` (at most 64), not starting with `.` or `-`.",
            "type": "string",
            "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
        })
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Accounts written to the guest's /etc/passwd and /etc/group before the case (`root`
    /// always exists).
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Made in order before each run (control and enforced), after a fresh tmpfs is mounted on
    /// every top-level directory they name (`/tmp` always gets one); a top-level directory of
    /// the image (`/bin`, `/usr`, `/etc`, `/dev`, …) cannot be one.
    #[serde(default)]
    pub paths: Vec<PathEntry>,
    /// A top-level directory mounted as a container engine mounts a workspace volume (`docker
    /// run -v SRC:/workspace`, Podman's volumes): not a tmpfs of its own but a bind mount of a
    /// fresh directory of the VM, outside any container's root (the `_data` directory of a tmpfs
    /// under /run/lockgate/volumes), owned by root with mode 0755 as a tmpfs root is;
    /// `setup.paths` may name it (to give it an owner and a mode) and make what goes in it. In a
    /// container environment the agent mounts it into the container's mount namespace for each
    /// case (the container has no CAP_SYS_ADMIN) and the runs find it emptied between them; on
    /// the VM (`bare`) each run gets the same bind mount of a fresh directory, so that both show
    /// one layout. Under gVisor it is a directory of the guest's root, as the tmpfs roots are
    /// there (gVisor's Sentry does not see the mounts the agent makes), and each cell says so.
    /// Default: none.
    #[serde(default)]
    pub workspace: Option<GuestPath>,
    /// Working directory of the runs (and the `include_workdir` path), a path of the guest's
    /// own root, entered before `chroot`. Default `/`, or the `chroot` directory when there is
    /// one.
    #[serde(default)]
    pub workdir: Option<GuestPath>,
    /// The runs' root (default: the guest's): a directory `setup.paths` makes, which the process
    /// that starts each run enters with chroot(2), as root, before the layers, the enforcer and
    /// any privilege drop (after `open_before` and after taking `workdir`, so a working
    /// directory outside it stays outside, as a process that chroots without chdir keeps it).
    /// Every path the runs name — the policy's rule paths, the probes', the enforcer's own
    /// files under /lockgate — is then resolved in it, so it must hold what the runs execute:
    /// bind mounts of /usr and /lockgate, and the /bin and /lib links (see the chroot scenario).
    #[serde(default)]
    pub chroot: Option<GuestPath>,
    /// Paths the scenario means to be missing in the guest (a real policy names `/app` or
    /// `/var/log`, which an image may lack). Any policy path may be missing; the cell reports
    /// which were, and a path listed here that exists fails the cell.
    #[serde(default)]
    pub absent: Vec<GuestPath>,
    /// Outer Landlock layers the runs start inside, outermost first (default: none): the
    /// enforcer starts in a process already in this domain, and so does the probe runner of
    /// the control run; a run without them tells their denials (`by: layer`) from plain
    /// permissions'. At most 16 (Landlock's limit). Each is a `Layer`.
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// Paths (directories, usually) each run starts with a descriptor open on (default: none):
    /// opened read-only by the guest, as root, before the run starts — before the layers, the
    /// enforcer and its privilege drop — and left open across execve, as an agent holding its
    /// project directory would start a sandbox. The command inherits them unless the enforcer
    /// closes them; `openat` and `inherited_readdir` use them. Each must exist: in the image or
    /// made by `paths`.
    #[serde(default)]
    pub open_before: Vec<GuestPath>,
    /// The TCP ports the harness listens on during each run (on 127.0.0.2, outside the
    /// sandbox), for `tcp_connect` probes to reach. Default: every port a `tcp_connect` probe
    /// names. `listen: []` starts none (a connect the policy allows then answers ECONNREFUSED,
    /// in both runs), so no listener of the harness's holds a port the sandbox binds on any
    /// address (`0.0.0.0`, a `run:` server).
    #[serde(default)]
    pub listen: Option<Vec<u16>>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// The account's name, as `owner:` and `run_as_user` name it.
    pub name: Name,
    /// Its uid.
    pub uid: u32,
    /// Defaults to the uid.
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathEntry {
    /// An absolute path under a top-level directory the setup owns.
    pub path: GuestPath,
    /// `dir`, `file`, `symlink`; the nodes `fifo`, `socket`, `char_device`, `block_device`; the
    /// mounts `tmpfs`, `bind`, `overlay` (see the kinds below and `setup_kinds.rs`).
    pub kind: PathKindSpec,
    /// A user from `setup.users`, or `root` (the default).
    #[serde(default)]
    pub owner: Option<Name>,
    /// Octal, as a string: `"0755"`. Default 0755 for directories, 0644 for files.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// File content, or the target of a symlink.
    #[serde(default)]
    pub content: Option<String>,
    /// A device node's number, `"MAJOR:MINOR"` (`"1:3"` is /dev/null's): required for
    /// `char_device` and `block_device`, nothing else takes it.
    #[serde(default)]
    pub device: Option<super::setup_kinds::DeviceNumber>,
    /// What a `bind` mount mounts: a directory or file made earlier in `setup.paths` (or one
    /// of the image's). Only `bind` takes it.
    #[serde(default)]
    pub source: Option<GuestPath>,
    /// An `overlay`'s read-only lower directories, uppermost first (at least one; two or more
    /// without `upper`). Only `overlay` takes it.
    #[serde(default)]
    pub lower: Vec<GuestPath>,
    /// An `overlay`'s writable upper directory (with `work`, on the same file system); none
    /// makes a read-only overlay.
    #[serde(default)]
    pub upper: Option<GuestPath>,
    /// An `overlay`'s work directory: an empty directory on the file system of `upper`.
    #[serde(default)]
    pub work: Option<GuestPath>,
}

impl PathEntry {
    /// Its fields as the kinds' checks read them.
    fn kind_fields(&self) -> super::setup_kinds::Fields<'_> {
        super::setup_kinds::Fields {
            kind: self.kind,
            device: self.device,
            source: self.source.as_ref(),
            lower: &self.lower,
            upper: self.upper.as_ref(),
            work: self.work.as_ref(),
            content: self.content.is_some(),
            owner: self.owner.is_some(),
            mode: self.mode.is_some(),
        }
    }

    /// The entry as the guest makes it, owned by `(uid, gid)`.
    pub fn spec(&self, (uid, gid): (u32, u32)) -> lockgate_protocol::PathSpec {
        lockgate_protocol::PathSpec {
            path: self.path.as_str().into(),
            kind: self.kind.into(),
            uid,
            gid,
            mode: self.mode.map(|m| m.0).unwrap_or(super::setup_kinds::default_mode(self.kind)),
            content: self.content.clone().unwrap_or_default(),
            device: self.device.map(|d| (d.0, d.1)),
            source: self.source.as_ref().map(|s| s.as_str().to_string()),
            overlay: (self.kind == PathKindSpec::Overlay).then(|| lockgate_protocol::Overlay {
                lower: self.lower.iter().map(|l| l.as_str().to_string()).collect(),
                upper: self.upper.as_ref().map(|u| u.as_str().to_string()),
                work: self.work.as_ref().map(|w| w.as_str().to_string()),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Mode(pub u32);

/// What `Mode::try_from` accepts.
impl schemars::JsonSchema for Mode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An octal mode, quoted: \"0755\" (at most 7777).",
            "type": "string",
            "pattern": "^\\+?[0-7]+$",
            "minLength": 3
        })
    }
}

impl TryFrom<String> for Mode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match u32::from_str_radix(&s, 8) {
            Ok(m) if m <= 0o7777 && s.len() >= 3 => Ok(Mode(m)),
            _ => Err(format!("`{s}` is not an octal mode; write it quoted, like \"0755\"")),
        }
    }
}

/// The policy handed to the enforcer (the schema it shares with the reference enforcer), with
/// guest paths and validated names.
pub type Policy = schema::Policy<GuestPath, Name>;

/// One line of `expect:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawExpectation")]
pub struct Expectation {
    pub check: Check,
    pub when: Option<When>,
    pub about: Option<String>,
    /// The operation runs alone on a tree made fresh for it, in both runs (`isolate: true` on
    /// the line): nothing it does reaches the steps after it, nor anything before it reaches it.
    pub isolate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// An operation (a shell command or a probe) and what must happen to it.
    Operation { action: Action, result: Wanted, by: Option<Denier> },
    /// What the enforcer must claim about itself.
    Enforcement(Claim),
    /// The mechanism the command must be seen confined by (`judge/mechanism.rs`): new
    /// namespaces or a filter of the enforcer's, as the runner shows them against the control
    /// run; a sandbox that silently fell back to something weaker fails it.
    Mechanism(Mechanism),
}

/// How an enforcer confines a command: what an adapter's claim rule says a line shows, and
/// what a `mechanism:` expectation requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// New namespaces (user, mount, network, PID …): bubblewrap and what wraps it.
    Namespaces,
    /// A Landlock ruleset.
    Landlock,
    /// A seccomp filter of the enforcer's own.
    Seccomp,
    /// Something weaker than what the enforcer is meant to use (a line saying it fell back);
    /// only a claim, never an expectation.
    Fallback,
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mechanism::Namespaces => "namespaces",
            Mechanism::Landlock => "landlock",
            Mechanism::Seccomp => "seccomp",
            Mechanism::Fallback => "fallback",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run(String),
    Probe { op: ProbeOp, target: ProbeTarget },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Run(cmd) => write!(f, "run `{cmd}`"),
            Action::Probe { op, target } => {
                write!(f, "probe {}", op.name())?;
                if let ProbeTarget::Call(call) = target {
                    if !call.entry.is_default() {
                        write!(f, "@{}", call.entry.name())?;
                    }
                }
                match target {
                    ProbeTarget::None => Ok(()),
                    target => write!(f, " {target}"),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Allowed,
    Denied(&'static str),
}

/// Who denied an operation, as worked out from the control run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Denier {
    /// The enforced run was denied, the control run was allowed: the sandbox did it.
    Sandbox,
    /// Both runs were denied the same way, with an errno a permission check gives (EACCES,
    /// EPERM): plain permissions did it.
    Dac,
    /// Both runs failed the same way with an errno no permission check gives (ENOTTY,
    /// ENOTEMPTY, EADDRINUSE, …): the operation fails without the sandbox too; nobody denied it.
    Operation,
    /// Denied by the environment's seccomp filter (both runs, with the filter's errno).
    Seccomp,
    /// Denied, but the control run disagrees in a way none of the above explains.
    Unknown,
    /// The enforcer's own seccomp filter (the run shows it installed one, and Landlock cannot
    /// answer that call with that errno; or, stacked under a container's profile, the enforced
    /// run got another errno than the profile's): `judge/mechanism.rs`. A kind of `sandbox`.
    Filter,
    /// The enforcer's Landlock ruleset, told from its filter (`judge/mechanism.rs`). A kind of
    /// `sandbox`.
    Landlock,
    /// Both runs were denied the same way with an errno a permission check gives (EACCES,
    /// EPERM), and an AppArmor audit record (`apparmor="DENIED"`) the kernel logged during the
    /// case names the operation (its path, or its kind: a user namespace made, a mount, a
    /// capability): the AppArmor policy both runs are under did it (an AppArmor environment).
    #[serde(rename = "apparmor")]
    AppArmor,
    /// The outer layers the runs started inside (`setup.layers`): both runs were denied the
    /// same way, and a run without the layers was allowed.
    Layer,
    /// gVisor, the environment's runtime: its Sentry, not the VM's kernel, answers every system
    /// call of the container, and both runs in it were denied the same way (what the Sentry does
    /// not implement: ENOSYS for every Landlock call and the i386 entry, EINVAL for
    /// RENAME_EXCHANGE, …), while the same control run made on the VM outside gVisor, on the
    /// same kernel, was allowed (`judge::through_runtime`).
    Gvisor,
    /// systemd-nspawn, the environment's runtime: both runs in the container nspawn makes were
    /// denied the same way, while the same control run made on the VM outside it, as the same
    /// user on the same kernel, was allowed: the container did it (nspawn's built-in seccomp
    /// allow-list, the capabilities it drops, what it mounts read-only or leaves out of the
    /// container's tree; lockgate does not tell these apart) (`judge::through_runtime`).
    Nspawn,
}

impl Denier {
    /// Whether an expectation's `by: self` holds for a denial attributed to `got`: `sandbox`
    /// is the enforcer by either of its mechanisms.
    pub fn admits(self, got: Denier) -> bool {
        self == got || (self == Denier::Sandbox && matches!(got, Denier::Filter | Denier::Landlock))
    }
}

impl std::fmt::Display for Denier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Denier::Sandbox => "sandbox",
            Denier::Dac => "dac",
            Denier::Operation => "operation",
            Denier::Seccomp => "seccomp",
            Denier::Unknown => "unknown",
            Denier::Filter => "filter",
            Denier::Landlock => "landlock",
            Denier::AppArmor => "apparmor",
            Denier::Layer => "layer",
            Denier::Gvisor => "gvisor",
            Denier::Nspawn => "nspawn",
        })
    }
}

/// What an enforcer says it achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Every rule of the policy enforced.
    Full,
    /// Some of it: a part the kernel's ABI cannot enforce was left out (best effort).
    Partial,
    /// Nothing enforced (no Landlock), the command run anyway.
    None,
    /// It refused to run the command (fail closed).
    Refused,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Claim::Full => "full",
            Claim::Partial => "partial",
            Claim::None => "none",
            Claim::Refused => "refused",
        })
    }
}

/// An expectation's schema: the line as written (`RawExpectation`); which fields go together
/// is checked when lockgate loads it.
impl schemars::JsonSchema for Expectation {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Expectation".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawExpectation::json_schema(g)
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    /// A shell command (busybox); its errno is recognised from the message it prints.
    run: Option<String>,
    /// One system call with its exact errno: a probe of the probe reference.
    probe: Option<String>,
    /// `true`: the operation must succeed.
    allowed: Option<bool>,
    /// The errno (or, for a syscall-filter probe, the signal) the operation must fail with.
    denied: Option<String>,
    /// Who must have denied it, as the control run shows.
    by: Option<Denier>,
    /// What the enforcer must claim about itself (instead of an operation).
    enforcement: Option<Claim>,
    /// The confinement mechanism the enforcer must be seen to use (instead of an operation):
    /// `namespaces` (the runner is in a namespace other than the control run's) or `seccomp`
    /// (it runs under more filters).
    mechanism: Option<Mechanism>,
    /// The condition under which this expectation judges (`abi >= 3`, `landlock == blocked`);
    /// the operation runs everywhere whatever it says.
    when: Option<String>,
    /// Free text shown with the expectation.
    about: Option<String>,
    /// `true`: this operation runs alone, on a tree made fresh for it, in both runs (the
    /// enforcer starts once more for it), so its effects — a file the sandbox refused to make
    /// and the control run made — do not reach the steps after it, in the control run's tree
    /// or the enforced run's; the steps around it run together as usual. Only with `run:` or
    /// `probe:`. The scenario's own `isolate: true` isolates every step.
    #[serde(default)]
    isolate: bool,
}

impl TryFrom<RawExpectation> for Expectation {
    type Error = String;
    fn try_from(r: RawExpectation) -> Result<Self, String> {
        let when = r.when.as_deref().map(When::parse).transpose().map_err(|e| format!("when: {e}"))?;
        let action = match (r.run, r.probe) {
            (Some(_), Some(_)) => return Err("give either `run:` or `probe:`, not both".into()),
            (Some(cmd), None) if cmd.trim().is_empty() => return Err("run: the command is empty".into()),
            (Some(cmd), None) => Some(Action::Run(cmd)),
            (None, Some(p)) => Some(parse_probe(&p).map_err(|e| format!("probe: {e}"))?),
            (None, None) => None,
        };
        if let Some(m) = r.mechanism {
            if action.is_some()
                || r.enforcement.is_some()
                || r.allowed.is_some()
                || r.denied.is_some()
                || r.by.is_some()
            {
                return Err("`mechanism:` is an expectation of its own: no `run:`, `probe:`, `enforcement:`, `allowed`, `denied` or `by` beside it".into());
            }
            let check = match m {
                Mechanism::Namespaces | Mechanism::Seccomp => Check::Mechanism(m),
                other => return Err(format!("mechanism: `{other}` cannot be seen from inside the sandbox; expect `namespaces` or `seccomp` (a Landlock ruleset shows in the probes' denials)")),
            };
            if r.isolate {
                return Err("`isolate:` belongs to `run:`/`probe:` expectations: it runs that operation alone".into());
            }
            return Ok(Expectation { check, when, about: r.about, isolate: false });
        }
        let check = match (action, r.enforcement) {
            (Some(_), Some(_)) => {
                return Err(
                    "an expectation checks either an operation (`run:`/`probe:`) or `enforcement:`, not both".into()
                )
            }
            (None, Some(claim)) => {
                if r.allowed.is_some() || r.denied.is_some() || r.by.is_some() {
                    return Err(
                        "`allowed`, `denied` and `by` belong to `run:`/`probe:` expectations, not `enforcement:`"
                            .into(),
                    );
                }
                Check::Enforcement(claim)
            }
            (None, None) => return Err(
                "say what to check: `run: <command>`, `probe: <op> <path>`, `enforcement: full|partial|none|refused` or `mechanism: namespaces|seccomp`"
                    .into(),
            ),
            (Some(action), None) => {
                let result = match (r.allowed, r.denied) {
                    (Some(true), None) => Wanted::Allowed,
                    (Some(false), _) => {
                        return Err(
                            "`allowed: false` is ambiguous: write `denied: <ERRNO>` (e.g. `denied: EACCES`)".into()
                        )
                    }
                    (None, Some(e)) => {
                        Wanted::Denied(errno::canonical(&e).ok_or_else(|| match errno::suggest(&e) {
                            Some(s) => format!("denied: unknown errno `{e}`; did you mean `{s}`?"),
                            None => format!("denied: unknown errno `{e}`; use a name like EACCES, EPERM, EXDEV"),
                        })?)
                    }
                    (Some(true), Some(_)) => {
                        return Err("give either `allowed: true` or `denied: <ERRNO>`, not both".into())
                    }
                    (None, None) => return Err("say what must happen: `allowed: true` or `denied: <ERRNO>`".into()),
                };
                if r.by.is_some() && result == Wanted::Allowed {
                    return Err("`by:` names who denies an operation; it makes no sense with `allowed: true`".into());
                }
                Check::Operation { action, result, by: r.by }
            }
        };
        if r.isolate && !matches!(check, Check::Operation { .. }) {
            return Err("`isolate:` belongs to `run:`/`probe:` expectations: it runs that operation alone".into());
        }
        Ok(Expectation { check, when, about: r.about, isolate: r.isolate })
    }
}

/// `truncate /sandbox/owned`, `rename /sandbox/a /tmp/b`, `tcp_bind 8080`, `socket AF_INET
/// SOCK_STREAM`, `syscall@i386 unshare CLONE_NEWUSER`, `clone3 CLONE_NEWUSER`, `memfd_exec`.
fn parse_probe(s: &str) -> Result<Action, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let names: Vec<&str> = ProbeOp::ALL.iter().map(|o| o.name()).collect();
    let Some((&first, args)) = words.split_first() else {
        return Err(format!("empty; write `<op> <path>` with op one of {}", names.join(", ")));
    };
    let (op_name, entry) = probe_args::split_entry(first)?;
    let op = ProbeOp::ALL
        .into_iter()
        .find(|o| o.name() == op_name)
        .ok_or_else(|| format!("unknown operation `{op_name}`; use one of {}", names.join(", ")))?;
    if !entry.is_default() && op.target() != TargetKind::Call {
        return Err(format!(
            "`{first}`: only `syscall` and `socket` take another entry (`@i386`, `@x32`); write `{op_name}`"
        ));
    }
    let path = |p: &str| GuestPath::try_from(p.to_string());
    let target = match (op.target(), args) {
        // Port 0 is a bind's own question (an ephemeral port, which Landlock checks as port 0);
        // nobody listens there for a connect.
        (TargetKind::Port, _) => match args {
            [port] => port.parse::<u16>().ok().filter(|&p| p > 0 || op != ProbeOp::TcpConnect),
            _ => None,
        }
        .map(ProbeTarget::Port)
        .ok_or_else(|| match op {
            ProbeOp::TcpConnect => format!("`{op_name}` takes one TCP port from 1 to 65535: `{op_name} 8080`"),
            _ => format!("`{op_name}` takes one port (0: an ephemeral one): `{op_name} 8080`"),
        })?,
        (TargetKind::Peer, [word]) => {
            Peer::WORDS.iter().find(|(w, _)| w == word).map(|(_, peer)| ProbeTarget::Peer(*peer)).ok_or_else(|| {
                format!("`{op_name}` takes `outside`, `inside` or `layer` (where its peer is), not `{word}`")
            })?
        }
        (TargetKind::Peer, _) => {
            return Err(format!("`{op_name}` takes one word: `{op_name} outside` or `{op_name} inside`"))
        }
        (TargetKind::Path, [p]) => ProbeTarget::Path(path(p)?),
        (TargetKind::Pair, [from, to]) => ProbeTarget::Pair { from: path(from)?, to: path(to)? },
        (TargetKind::Path, _) => return Err(format!("`{op_name}` takes 1 path(s): `{op_name} <path>`")),
        (TargetKind::Pair, _) => return Err(format!("`{op_name}` takes 2 path(s): `{op_name} <path> <destination>`")),
        (TargetKind::Call, _) => ProbeTarget::Call(probe_args::call(op, entry, args)?),
        (TargetKind::Flags, _) => ProbeTarget::Flags(probe_args::clone_flags(op, args)?),
        (TargetKind::None, []) => ProbeTarget::None,
        (TargetKind::None, _) => return Err(format!("`{op_name}` takes nothing after it: `probe: {op_name}`")),
    };
    Ok(Action::Probe { op, target })
}

/// Top-level directories that belong to the guest image: a scenario cannot put a tmpfs there.
pub const RESERVED_TOPS: &[&str] = &[
    "/",
    "/bin",
    "/sbin",
    "/usr",
    "/lib",
    "/lib64",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/lockgate",
    "/init",
    "/root",
];

/// Whether the guest image provides the directory `p`.
fn in_image(p: &str) -> bool {
    p == "/" || lockgate_protocol::IMAGE_DIRS.contains(&p)
}

impl Scenario {
    /// Cross-field checks. Each error is `(field path, message)`; the loader adds file and line.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        let users: BTreeSet<&str> = self.setup.users.iter().map(|u| u.name.as_str()).collect();
        if users.len() != self.setup.users.len() {
            errs.push(("setup.users".into(), "a user name appears twice".into()));
        }
        let known_user = |n: &Name| n.as_str() == "root" || users.contains(n.as_str());
        for (i, p) in self.setup.paths.iter().enumerate() {
            let top = p.path.top();
            if RESERVED_TOPS.contains(&top) || p.path.as_str() == top && p.kind != PathKindSpec::Dir {
                errs.push((
                    format!("setup.paths[{i}].path"),
                    format!(
                        "`{}` is outside the sandbox tmpfs: setup paths live under a top-level directory of their own (like /sandbox or /tmp), never under {}",
                        p.path.as_str(),
                        top
                    ),
                ));
            }
            if let Some(o) = &p.owner {
                if !known_user(o) {
                    errs.push((format!("setup.paths[{i}].owner"), format!("`{o}` is not in setup.users (nor root)")));
                }
            }
            if p.kind == PathKindSpec::Symlink && p.content.is_none() {
                errs.push((format!("setup.paths[{i}].content"), "a symlink needs its target in `content`".into()));
            }
            if p.kind == PathKindSpec::Dir && p.content.is_some() {
                errs.push((format!("setup.paths[{i}].content"), "a directory has no content".into()));
            }
            let earlier = &self.setup.paths[..i];
            let made = |q: &GuestPath| in_image(q.as_str()) || earlier.iter().any(|e| e.path == *q);
            errs.extend(
                super::setup_kinds::validate(&p.kind_fields(), made)
                    .into_iter()
                    .map(|(f, m)| (format!("setup.paths[{i}].{f}"), m)),
            );
        }
        for (field, n) in [
            ("policy.process.run_as_user", &self.policy.process.run_as_user),
            ("policy.process.run_as_group", &self.policy.process.run_as_group),
        ] {
            if let Some(n) = n {
                if !known_user(n) {
                    errs.push((field.into(), format!("`{n}` is not in setup.users (nor root); add it to setup.users")));
                }
            }
        }
        let workspace = |p: &GuestPath| self.setup.workspace.as_ref() == Some(p);
        let made = |p: &GuestPath| {
            self.setup.paths.iter().any(|e| e.path == *p)
                || self.setup.paths.iter().any(|e| e.path.top() == p.as_str())
                || workspace(p)
        };
        if let Some(w) = &self.setup.workspace {
            let top = w.top();
            if w.as_str() != top || RESERVED_TOPS.contains(&top) || top == "/tmp" {
                errs.push((
                    "setup.workspace".into(),
                    format!(
                        "`{w}` cannot be the workspace: it is mounted on a top-level directory of the scenario's own, as `docker run -v SRC:/workspace` mounts one (write `/workspace`), never below one, on /tmp or on a directory of the image's"
                    ),
                ));
            }
        }
        // Policy paths need not exist (a missing one is a test input, reported in the cell);
        // the working directory must, since both runs start there.
        if let Some(w) = &self.setup.workdir {
            if !in_image(w.as_str()) && !made(w) {
                errs.push((
                    "setup.workdir".into(),
                    format!("`{}` does not exist in the guest: create it in setup.paths", w.as_str()),
                ));
            }
        }
        if let Some(root) = &self.setup.chroot {
            let dir = self.setup.paths.iter().any(|e| e.path == *root && e.kind == PathKindSpec::Dir);
            if root.as_str() == "/" || !dir {
                errs.push((
                    "setup.chroot".into(),
                    format!("`{}` is not a directory setup.paths makes: the runs' root must be a directory of the scenario's own (add `{{path: {0}, kind: dir}}` to setup.paths)", root.as_str()),
                ));
            }
        }
        for (i, p) in self.setup.open_before.iter().enumerate() {
            if !in_image(p.as_str()) && !self.setup.paths.iter().any(|e| e.path == *p) && !workspace(p) {
                errs.push((
                    format!("setup.open_before[{i}]"),
                    format!("`{}` is not made by setup.paths nor in the image: a descriptor can only be opened on a path that exists when the run starts", p.as_str()),
                ));
            }
        }
        for (i, p) in self.setup.absent.iter().enumerate() {
            if in_image(p.as_str()) || made(p) {
                errs.push((
                    format!("setup.absent[{i}]"),
                    format!("`{}` exists in the guest (the image or setup.paths makes it): a path meant to be missing must be one nothing creates", p.as_str()),
                ));
            }
        }
        if self.expect.is_empty() {
            errs.push(("expect".into(), "a scenario needs at least one expectation".into()));
        }
        let by_layer = self.expect.iter().any(|e| matches!(e.check, Check::Operation { by: Some(Denier::Layer), .. }));
        // The `layer` peer is a process the layer mode forks: only pid targets, only with layers.
        for (i, e) in self.expect.iter().enumerate() {
            if let Check::Operation { action: Action::Probe { op, target: ProbeTarget::Peer(Peer::Layer) }, .. } =
                &e.check
            {
                if !matches!(op, ProbeOp::Signal | ProbeOp::PtraceAttach | ProbeOp::PidVisible) {
                    errs.push((format!("expect[{i}]"), format!("`{} layer`: the layer peer is a process (for `signal`, `ptrace_attach`, `pid_visible`), with no socket; say `outside` or `inside`", op.name())));
                } else if self.setup.layers.is_empty() {
                    errs.push((format!("expect[{i}]"), "`layer` is a process in the outer layers (setup.layers), and this scenario has none: add `setup.layers`, or say `outside`".into()));
                }
            }
        }
        let made: Vec<&GuestPath> = self.setup.paths.iter().map(|e| &e.path).collect();
        let mut fresh = self.tmpfs_roots();
        fresh.extend(self.setup.workspace.iter().map(|w| w.as_str().to_string()));
        errs.extend(super::layer::validate(&self.setup.layers, by_layer, &fresh, &made));
        errs
    }

    /// The paths whose existence the guest reports: every rule path of the policy, then the
    /// paths the scenario means to be missing.
    pub fn checked_paths(&self) -> Vec<String> {
        let fs = &self.policy.filesystem_policy;
        let mut out: Vec<String> = Vec::new();
        for p in fs
            .read_only
            .iter()
            .chain(&fs.read_write)
            .chain(&fs.read_only_noexec)
            .chain(&fs.ioctl_dev)
            .chain(fs.rules.iter().map(|r| &r.path))
            .chain(&self.setup.absent)
        {
            if !out.iter().any(|o| o == p.as_str()) {
                out.push(p.as_str().to_string());
            }
        }
        out
    }

    /// Top-level directories that get a fresh tmpfs for each run. /tmp always does, so that
    /// what the control run wrote there cannot change the enforced run's results. The workspace
    /// (`setup.workspace`) is none of them: it gets a bind-mounted volume instead.
    pub fn tmpfs_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.setup.paths.iter().map(|p| p.path.top().to_string()).collect();
        roots.push("/tmp".into());
        roots.sort();
        roots.dedup();
        roots.retain(|r| self.setup.workspace.as_ref().is_none_or(|w| w.as_str() != r));
        roots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<Scenario, String> {
        serde_yaml::from_str(y).map_err(|e| e.to_string())
    }

    const BASE: &str = "name: t\npolicy: {filesystem_policy: {read_only: [/bin]}}\n";

    #[test]
    fn expectation_forms() {
        let s = parse(&format!(
            "{BASE}expect:\n  - {{run: touch /sandbox/x, denied: EACCES, by: sandbox, when: 'abi >= 1'}}\n  - {{probe: rename /sandbox/a /tmp/b, denied: EXDEV}}\n  - {{enforcement: full}}\n  - {{probe: tcp_bind 8080, allowed: true}}\n"
        ))
        .unwrap();
        assert_eq!(s.expect.len(), 4);
        assert!(matches!(
            &s.expect[0].check,
            Check::Operation { result: Wanted::Denied("EACCES"), by: Some(Denier::Sandbox), .. }
        ));
        assert!(matches!(
            &s.expect[1].check,
            Check::Operation { action: Action::Probe { op: ProbeOp::Rename, target: ProbeTarget::Pair { .. } }, .. }
        ));
        assert_eq!(s.expect[2].check, Check::Enforcement(Claim::Full));
        let Check::Operation { action, .. } = &s.expect[3].check else { panic!() };
        assert_eq!(action.to_string(), "probe tcp_bind 8080");
    }

    #[test]
    fn bad_expectations_name_line_and_field() {
        let e = parse(&format!("{BASE}expect:\n  - {{run: touch /x, denied: EACESS}}\n")).unwrap_err();
        assert!(e.contains("EACESS") && e.contains("EACCES") && e.contains("line 4"), "{e}");
        let e = parse(&format!("{BASE}expect:\n  - {{run: touch /x, allowed: true, colour: red}}\n")).unwrap_err();
        assert!(e.contains("colour") && e.contains("line 4"), "{e}");
        let e = parse(&format!("{BASE}expect:\n  - {{probe: signal elsewhere, allowed: true}}\n")).unwrap_err();
        assert!(e.contains("`outside`, `inside` or `layer`"), "{e}");
        let e = parse(&format!("{BASE}expect:\n  - {{probe: signal layer, allowed: true}}\n")).unwrap();
        assert!(e.validate().iter().any(|(f, m)| f == "expect[0]" && m.contains("setup.layers")), "{:?}", e.validate());
        let e = parse(&format!("{BASE}expect:\n  - {{probe: abstract_connect layer, allowed: true}}\n")).unwrap();
        assert!(e.validate().iter().any(|(_, m)| m.contains("no socket")), "{:?}", e.validate());
        let sc = parse(&format!("{BASE}expect:\n  - {{probe: abstract_connect outside, denied: EPERM}}\n  - {{probe: symlink /x /sandbox/l, allowed: true}}\n")).unwrap();
        assert!(matches!(
            &sc.expect[0].check,
            Check::Operation {
                action: Action::Probe { op: ProbeOp::AbstractConnect, target: ProbeTarget::Peer(Peer::Outside) },
                ..
            }
        ));
        let e = parse(&format!("{BASE}expect:\n  - {{probe: chmod /x, allowed: true}}\n")).unwrap_err();
        assert!(e.contains("unknown operation `chmod`"), "{e}");
        let e = parse(&format!("{BASE}expect:\n  - {{probe: rename /x, allowed: true}}\n")).unwrap_err();
        assert!(e.contains("takes 2 path"), "{e}");
        let e = parse(&format!("{BASE}expect:\n  - {{run: x, allowed: true, when: 'abi >= 42'}}\n")).unwrap_err();
        assert!(e.contains("impossible"), "{e}");
        let e = parse(&format!("{BASE}expect:\n  - {{run: x, allowed: true, by: sandbox}}\n")).unwrap_err();
        assert!(e.contains("by:"), "{e}");
    }

    #[test]
    fn syscall_probes_resolve_their_words_and_print_as_written() {
        let s = parse(&format!(
            "{BASE}expect:\n  - {{probe: socket AF_NETLINK SOCK_RAW NETLINK_SOCK_DIAG, denied: EPERM}}\n  - {{probe: syscall@i386 unshare CLONE_NEWUSER, allowed: true, when: ia32}}\n  - {{probe: clone3 CLONE_NEWUSER|CLONE_NEWNS, allowed: true}}\n  - {{probe: memfd_exec, allowed: true}}\n  - {{probe: ptrace_attach outside, allowed: true}}\n  - {{probe: mount /work/m, denied: EPERM}}\n  - {{probe: syscall@x32 socket AF_INET SOCK_STREAM, denied: ENOSYS, when: '!x32'}}\n  - {{probe: seccomp, denied: SIGSYS}}\n"
        ))
        .unwrap();
        let printed: Vec<String> = s
            .expect
            .iter()
            .map(|e| match &e.check {
                Check::Operation { action, .. } => action.to_string(),
                Check::Enforcement(_) | Check::Mechanism(_) => unreachable!(),
            })
            .collect();
        assert_eq!(
            printed,
            [
                "probe socket AF_NETLINK SOCK_RAW NETLINK_SOCK_DIAG",
                "probe syscall@i386 unshare CLONE_NEWUSER",
                "probe clone3 CLONE_NEWUSER|CLONE_NEWNS",
                "probe memfd_exec",
                "probe ptrace_attach outside",
                "probe mount /work/m",
                "probe syscall@x32 socket AF_INET SOCK_STREAM",
                "probe seccomp",
            ]
        );
        let Check::Operation { action: Action::Probe { target: ProbeTarget::Call(call), .. }, .. } = &s.expect[0].check
        else {
            panic!()
        };
        assert_eq!((call.nr, call.args.as_slice()), (41, &[16u64, 3, 4][..]));
        let Check::Operation { action: Action::Probe { target: ProbeTarget::Call(call), .. }, .. } = &s.expect[1].check
        else {
            panic!()
        };
        assert_eq!(
            (call.entry, call.nr, call.args.as_slice()),
            (lockgate_protocol::Entry::I386, 310, &[0x1000_0000u64][..])
        );
    }

    #[test]
    fn bad_syscall_probes_name_the_line_and_the_fix() {
        for (probe, wanted) in [
            ("syscall unshare CLONE_NEWUSR", "did you mean `CLONE_NEWUSER`"),
            ("syscall unshar CLONE_NEWUSER", "did you mean `unshare`"),
            ("socket SOCK_STREAM AF_INET", "is not the domain"),
            ("socket@arm AF_INET SOCK_STREAM", "socket@i386"),
            ("clone3@i386 0", "only `syscall` and `socket` take another entry"),
            ("clone CLONE_VM", "CLONE_VM"),
            ("memfd_exec /tmp/x", "takes nothing after it"),
            ("syscall@i386 accept 0 0 0", "i386 entry has no system call `accept`"),
        ] {
            let e = parse(&format!("{BASE}expect:\n  - {{probe: {probe}, allowed: true}}\n")).unwrap_err();
            assert!(e.contains(wanted) && e.contains("line 4"), "{probe}: {e}");
        }
    }

    #[test]
    fn paths_and_modes_are_checked() {
        assert!(GuestPath::try_from("relative".to_string()).is_err());
        assert!(GuestPath::try_from("/a/../b".to_string()).is_err());
        assert!(GuestPath::try_from("/a/".to_string()).is_err());
        assert_eq!(GuestPath::try_from("/sandbox/.data".to_string()).unwrap().top(), "/sandbox");
        assert!(Mode::try_from("0755".to_string()).is_ok());
        assert!(Mode::try_from("0999".to_string()).is_err());
    }

    #[test]
    fn cross_field_errors() {
        let s = parse(
            "name: t\nsetup:\n  paths: [{path: /etc/x, kind: file, owner: bob}, {path: /sandbox/d, kind: dir}]\n  absent: [/app, /sandbox/d, /usr]\npolicy: {filesystem_policy: {read_only: [/nowhere]}, process: {run_as_user: eve}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        let errs = s.validate();
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"setup.paths[0].path"), "{errs:?}");
        assert!(fields.contains(&"setup.paths[0].owner"), "{errs:?}");
        assert!(fields.contains(&"policy.process.run_as_user"), "{errs:?}");
        // A missing policy path is a test input, not an error; a path meant to be missing
        // that something makes is.
        assert!(!fields.iter().any(|f| f.starts_with("policy.filesystem_policy")), "{errs:?}");
        assert!(!fields.contains(&"setup.absent[0]"), "{errs:?}");
        assert!(fields.contains(&"setup.absent[1]") && fields.contains(&"setup.absent[2]"), "{errs:?}");
        assert_eq!(s.checked_paths(), ["/nowhere", "/app", "/sandbox/d", "/usr"]);
    }

    /// The workspace is a top-level directory of the scenario's own, with a volume instead of a
    /// tmpfs; what it holds is made by setup.paths, and it counts as made.
    #[test]
    fn a_workspace_is_a_top_level_directory_without_a_tmpfs() {
        let s = parse(
            "name: t\nsetup:\n  workspace: /workspace\n  paths: [{path: /workspace, kind: dir}, {path: /workspace/f, kind: file}, {path: /sandbox, kind: dir}]\n  workdir: /workspace\n  open_before: [/workspace]\npolicy: {filesystem_policy: {read_write: [/workspace]}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        assert_eq!(s.tmpfs_roots(), ["/sandbox", "/tmp"], "the workspace gets no tmpfs");
        for bad in ["/workspace/src", "/tmp", "/usr"] {
            let s = parse(&format!("name: t\nsetup: {{workspace: {bad}}}\npolicy: {{filesystem_policy: {{read_write: [/tmp]}}}}\nexpect: [{{enforcement: full}}]\n")).unwrap();
            let errs = s.validate();
            assert!(errs.iter().any(|(f, m)| f == "setup.workspace" && m.contains("top-level")), "{bad}: {errs:?}");
        }
    }

    /// `mechanism:` is an expectation of its own, for what the runner can show.
    #[test]
    fn a_mechanism_expectation_stands_alone() {
        let parse = |line: &str| serde_yaml::from_str::<Expectation>(line).map(|e| e.check).map_err(|e| e.to_string());
        assert_eq!(parse("{mechanism: namespaces}").unwrap(), Check::Mechanism(Mechanism::Namespaces));
        assert!(parse("{mechanism: landlock}").unwrap_err().contains("cannot be seen from inside the sandbox"));
        assert!(parse("{mechanism: seccomp, by: sandbox}").unwrap_err().contains("an expectation of its own"));
    }

    fn errors(paths: &str) -> Vec<(String, String)> {
        let y = format!("name: t\nsetup:\n  paths:\n{paths}policy: {{filesystem_policy: {{read_only: [/bin]}}}}\nexpect: [{{enforcement: full}}]\n");
        let s: Scenario = serde_yaml::from_str(&y).unwrap();
        s.validate()
    }

    #[test]
    fn kinds_parse_and_check_their_fields() {
        let ok = errors(
            "    - {path: /s, kind: dir}\n    - {path: /s/src, kind: dir}\n    - {path: /s/null, kind: char_device, device: \"1:3\"}\n    - {path: /s/p, kind: fifo}\n    - {path: /s/sock, kind: socket}\n    - {path: /s/m, kind: tmpfs, mode: \"0700\"}\n    - {path: /s/b, kind: bind, source: /s/src}\n    - {path: /s/u, kind: dir}\n    - {path: /s/w, kind: dir}\n    - {path: /s/o, kind: overlay, lower: [/s/src], upper: /s/u, work: /s/w}\n",
        );
        assert!(ok.is_empty(), "{ok:?}");
        let bad = errors(
            "    - {path: /s/null, kind: char_device}\n    - {path: /s/b, kind: bind, source: /s/later, mode: \"0700\"}\n    - {path: /s/later, kind: dir, device: \"1:3\"}\n    - {path: /s/o, kind: overlay, lower: [/s/later], upper: /s/later}\n",
        );
        let fields: Vec<&str> = bad.iter().map(|(f, _)| f.as_str()).collect();
        for f in [
            "setup.paths[0].device",
            "setup.paths[1].source",
            "setup.paths[1].mode",
            "setup.paths[2].device",
            "setup.paths[3].upper",
        ] {
            assert!(fields.contains(&f), "{f}: {bad:?}");
        }
    }
}
