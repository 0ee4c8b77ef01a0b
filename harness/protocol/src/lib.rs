//! The contract between the host and the guest.
//!
//! The host writes one [`Plan`] into the guest's initramfs (`/lockgate/plan.json`). The guest
//! answers with [`Record`]s, one JSON object per line, on the second serial port. The guest only
//! *observes*: nothing here says pass or fail. Every record carries the plan's nonce so that the
//! host can reject a stale or replayed observation file.
//!
//! Bump [`VERSION`] on any change a peer built from an older tree would misread.

use serde::{Deserialize, Serialize};

pub mod filter;
mod flag_table;
pub mod kconfig;
pub mod path;
pub mod policy;
pub mod rights;
pub mod seccomp;
mod syscall_table;
pub mod syscalls;

pub use kconfig::{explain_landlock, KernelConfig, SeccompFilterProbe};
pub use path::GuestPath;
pub use syscalls::Entry;

/// Protocol version; the guest echoes it in [`Record::Hello`].
pub const VERSION: u32 = 6;

/// Written by the guest on the console (not the record port) when its agent has started:
/// the host uses it to tell "the kernel booted" from "the kernel hung".
pub const READY_MARKER: &str = "LOCKGATE-GUEST-READY";

/// Written on the console when the interactive shell (`--shell`) takes over.
pub const SHELL_MARKER: &str = "LOCKGATE-GUEST-SHELL";

/// Where the guest keeps the volumes it bind-mounts on a scenario's workspace
/// ([`Setup::workspace`]): `VOLUMES/<name>` is a tmpfs of the VM's (never inside a container's
/// root), `VOLUMES/<name>/_data` the directory mounted, as Docker names a volume's.
pub const VOLUMES: &str = "/run/lockgate/volumes";

/// Path of the plan inside the guest.
pub const PLAN_PATH: &str = "/lockgate/plan.json";

/// Where the guest agent and the probe runner live in the guest. /bin links to /usr/bin on the
/// guest's merged-/usr root, so a policy that lets the sandbox execute /usr or /bin (as nearly
/// every policy does) also lets it run the probe runner.
pub const GUEST_BIN: &str = "/bin/lockgate-guest";

/// The reference enforcer in the guest's base image; with `--layer FILE…` it is also what puts
/// a case's outer Landlock layers (`Case::layers`) around both runs.
pub const ENFORCER_BIN: &str = "/bin/lockgate-enforcer";

/// The kernel modules staged for the booted kernel, from its own package (`<name>.ko`,
/// decompressed on the host), and `order`: their names, one a line, dependencies first. The
/// guest loads them (finit_module) before its preflight; a kernel with none staged has no
/// `order` file.
pub const MODULES_DIR: &str = "/lockgate/modules";

/// Where the guest writes a case's layers (`<n>.yaml`, in order) before its runs.
pub const LAYER_DIR: &str = "/lockgate/layers";

/// The directories of the guest's base image (besides `/`): the host's image writer makes them,
/// and a scenario may start its runs in them. The root is merged-/usr: `/bin`, `/sbin`, `/lib`
/// and `/lib64` are links to the directories of the same name under `/usr`.
pub const IMAGE_DIRS: [&str; 17] = [
    "/bin",
    "/sbin",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/root",
    "/lockgate",
];

/// Environment variable the reference enforcer sets for its child with its claim.
pub const CLAIM_ENV: &str = "LOCKGATE_ENFORCEMENT";

// ---------------------------------------------------------------------------------------------
// Host → guest
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    /// Random per run; echoed in every record.
    pub nonce: String,
    /// Kernel name from its manifest (for the guest's log only).
    pub kernel: String,
    pub cases: Vec<Case>,
    /// Fault injection for the harness's own tests (never set by a normal run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// After the done record, rebuild the last case's world and hand the console to an
    /// interactive shell (`--shell`); leaving it powers the guest off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shell: bool,
    /// Mount securityfs on /sys/kernel/security (the default). `false` reproduces systems whose
    /// init does not (WSL2): the kernel has Landlock, but a tool reading
    /// /sys/kernel/security/lsm finds nothing there.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub mount_securityfs: bool,
    /// 32 random bytes (hex) from the host, which the agent credits to the kernel's random pool
    /// before the first case. A VM without an RNG device starts with the pool uninitialised,
    /// and from Linux 5.18 the first read of /dev/urandom (or a blocking getrandom, as an
    /// enforcer's TLS library makes) waits while the kernel gathers jitter entropy: about a
    /// second under TCG, charged to whichever case read first. Real machines and cloud VMs
    /// have their RNG seeded at boot (a bootloader seed, RDRAND, virtio-rng). Empty: no seed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rng_seed: String,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Faults the guest agent can be asked to commit, so that the host's handling of them is tested
/// against a real kernel rather than a mock.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Exit PID 1 after the preflight: the kernel panics.
    ExitAfterPreflight,
    /// Stop sending records after the preflight and power off: no final record.
    SkipDone,
    /// Hang forever after the preflight.
    Hang,
    /// Write a truncated JSON line.
    Garble,
    /// Use a different nonce (a replayed/stale record).
    WrongNonce,
}

/// One (scenario, environment) pair to observe on this kernel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique within the plan: `<scenario>@<env>`, `#<variant>` appended for the cases of a
    /// plan's other enforcers (the mutation gate's fault modes).
    pub id: String,
    /// The case, observed earlier in this boot, whose control run stands for this one's: the
    /// guest makes no control run here. The host sets it only where that case's control run
    /// had the very same inputs (every field of the case but its id and enforcer command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_of: Option<String>,
    pub setup: Setup,
    /// The uid/gid/groups the control run uses: the same identity the enforcer drops to.
    pub identity: Identity,
    /// How to start the enforced run. The probe runner command is appended by the guest
    /// wherever `{cmd}` appears (or at the end when it does not).
    pub enforcer: EnforcerCall,
    pub steps: Vec<Step>,
    /// Working directory of both runs.
    pub workdir: String,
    /// Run both runs inside a container (an OCI runtime under a seccomp profile); `None`: bare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// Run both runs under this AppArmor policy (an AppArmor environment): the guest loads its
    /// profiles and sets its restriction before the case, and undoes them before a case without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor: Option<AppArmor>,
    /// How long a step and a run may take before the guest kills them.
    #[serde(default)]
    pub limits: Limits,
    /// The paths the policy names (and those the scenario means to be missing): after making
    /// each run's tree, the guest says which of them do not exist there. A missing rule path is
    /// a test input (it once turned off an enforcer's whole ruleset), not an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_paths: Vec<String>,
    /// The outer Landlock layers both runs start inside (a scenario's `setup.layers`), each a
    /// policy document in lockgate's format, outermost first. Empty: none. When there are some,
    /// the control run starts inside them too (so that it differs from the enforced run by the
    /// enforcer alone), and a third run without them (`CaseObservation::unlayered`) tells a
    /// denial of the layers from one of plain permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// Paths each run starts with a descriptor open on (a scenario's `setup.open_before`):
    /// opened O_RDONLY, without O_CLOEXEC, by the guest as root before it starts the run (before
    /// the layers, the enforcer and any privilege drop), as the process that starts a sandbox
    /// holds them; the command inherits them unless the enforcer closes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_before: Vec<String>,
    /// Each step in a run of its own, on a fresh tree, in both runs (the scenario's
    /// `isolate: true`): no step sees what an earlier one did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolate: bool,
    /// The steps (indices into `steps`, ascending) that each run alone on a fresh tree, in both
    /// runs (an expectation's `isolate: true`); the steps between them run together, each
    /// stretch on a fresh tree of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub isolated: Vec<usize>,
    /// The runs' root (a scenario's `setup.chroot`): the process that starts each run takes its
    /// working directory (`workdir`, a path of the guest's root) and then chroots here, as root,
    /// before the layers, the enforcer and any privilege drop. `None`: the guest's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chroot: Option<String>,
}

impl Case {
    /// How many times each of its runs starts the steps: once, or once per step when the case
    /// is isolated (each such run has the run limit).
    pub fn runs_per_run(&self) -> u64 {
        self.stretches().len().max(1) as u64
    }

    /// The steps' indices grouped as each run starts them: all in one stretch; each alone when
    /// the case is isolated; else each isolated step (`isolated`) alone, and the steps between
    /// two of them together.
    pub fn stretches(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for i in 0..self.steps.len() {
            if self.isolate || self.isolated.contains(&i) {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                out.push(vec![i]);
            } else {
                current.push(i);
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }
}

/// The guest's time limits for a case (a scenario's `limits:`). A step still going at the step
/// limit is killed and reported as `timeout`; a run (the enforcer and the probe runner) still
/// going at the run limit is killed whole (`exit` = `timeout`). The host's boot deadline is
/// worked out from these, so that the guest's own limits always fire first.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Seconds a `run:` step (a shell command) may take.
    pub step_seconds: u32,
    /// Seconds one run (control or enforced) may take.
    pub run_seconds: u32,
}

impl Limits {
    /// The step limit's default.
    pub const STEP_SECONDS: u32 = 20;
    /// The run limit when a scenario sets none: room for every step to reach the step limit,
    /// and at least 60 s.
    pub fn default_run_seconds(step_seconds: u32, steps: usize) -> u32 {
        (step_seconds.saturating_mul(steps as u32)).saturating_add(10).max(60)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { step_seconds: Limits::STEP_SECONDS, run_seconds: 60 }
    }
}

/// A container environment: the guest writes an OCI bundle (Docker's namespaces, mounts and
/// masked paths, these capabilities, this profile converted for the guest's kernel) and starts
/// the case in it with the runtime; control and enforced runs both happen inside.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The environment's name (container ids, log lines).
    pub env: String,
    /// The runtime's path in the guest (`/usr/sbin/runc`).
    pub runtime: String,
    /// The seccomp profile as the engine reads it; `None` runs unconfined.
    pub seccomp: Option<seccomp::Profile>,
    pub flavour: seccomp::Flavour,
    /// Bounding, effective and permitted set of the container's process (`CAP_…`).
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
}

impl Container {
    /// Whether the host has no table of what this runtime denies, so that each case gets the
    /// control run a third time, on the VM outside the container (`CaseObservation::outside`).
    /// Under runc and crun what the container denies of its own is the engine's OCI seccomp
    /// profile, which the host reads (with the capabilities the environment names): a denial
    /// both runs share is told to be `seccomp` from it. gVisor's runsc answers every call from a
    /// kernel of its own (the Sentry), and systemd-nspawn applies a seccomp allow-list compiled
    /// into it, its own capability set and its own read-only mounts: no file the host could read
    /// says what either denies, so the evidence is a run outside, as the same user, which the
    /// host compares (`judge::through_runtime`).
    pub fn runs_outside_too(&self) -> bool {
        self.runtime.ends_with("/runsc") || self.runtime.contains("/systemd-nspawn")
    }
}

/// An AppArmor environment: the pinned parser (with the C library it was built against, run
/// through that library's loader) loads these profiles into the guest's kernel, and the
/// restriction on unprivileged user namespaces is set as Ubuntu 24.04 sets it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppArmor {
    /// The environment's name (log lines; the guest's record of what is loaded).
    pub env: String,
    /// The parser's command: the loader, its `--library-path`, the parser and `--base`, in the
    /// guest (the archive `APPARMOR_ROOT` holds them).
    pub parser: Vec<String>,
    /// The profile files to load, in order (paths in the guest).
    pub profiles: Vec<String>,
    /// `kernel.apparmor_restrict_unprivileged_userns` while the environment's cases run.
    pub restrict_unprivileged_userns: bool,
}

/// Where an AppArmor environment's archive puts the parser, its libraries and the profiles.
pub const APPARMOR_ROOT: &str = "/lockgate-apparmor";

/// What marks an AppArmor denial in the kernel's log (its audit records, printed there when no
/// audit daemon reads them).
pub const APPARMOR_DENIED: &str = "apparmor=\"DENIED\"";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Accounts written to /etc/passwd and /etc/group before the case.
    pub users: Vec<User>,
    /// Directories on which a fresh tmpfs is mounted for each run.
    pub tmpfs: Vec<String>,
    /// A top-level directory (never one of `tmpfs`) on which a volume is bind-mounted, as
    /// `docker run -v DIR:/workspace` mounts a host directory: the `_data` directory of a fresh
    /// tmpfs of the VM's own under [`VOLUMES`], mounted for each run on the VM and, for a
    /// container, for each case by the agent into the container's mount namespace (emptied
    /// between the two runs, like the tmpfs roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Paths created, in order, after the tmpfs mounts.
    pub paths: Vec<PathSpec>,
    /// The ports the guest listens on (on [`CONNECT_PROBE_ADDR`], outside the sandbox) during
    /// each run; `None`: every port a `tcp_connect` probe of the case names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<Vec<u16>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    Dir,
    File,
    Symlink,
    /// A named pipe (mknod S_IFIFO).
    Fifo,
    /// A socket node (mknod S_IFSOCK), nobody listening on it.
    Socket,
    /// A character device node, [`PathSpec::device`] its major and minor.
    CharDevice,
    /// A block device node, [`PathSpec::device`] its major and minor.
    BlockDevice,
    /// A new tmpfs mounted on the directory (made if missing).
    Tmpfs,
    /// [`PathSpec::source`] bind-mounted on the directory (made if missing).
    Bind,
    /// An overlayfs mounted on the directory (made if missing): [`PathSpec::overlay`].
    Overlay,
}

impl PathKind {
    /// Whether making it mounts something (CAP_SYS_ADMIN).
    pub fn is_mount(self) -> bool {
        matches!(self, PathKind::Tmpfs | PathKind::Bind | PathKind::Overlay)
    }

    /// Whether making it is a device node (CAP_MKNOD).
    pub fn is_device(self) -> bool {
        matches!(self, PathKind::CharDevice | PathKind::BlockDevice)
    }
}

/// An overlayfs's directories: `lower` read-only (the first the uppermost), `upper` and `work`
/// (on one file system) for a writable overlay, neither for a read-only one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    pub lower: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    pub path: String,
    pub kind: PathKind,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    /// File content, or the symlink target.
    #[serde(default)]
    pub content: String,
    /// A device node's major and minor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<(u32, u32)>,
    /// What a bind mount mounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// What an overlay mount is made of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<Overlay>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnforcerCall {
    /// argv; an element equal to `{cmd}` is replaced by the probe runner's argv.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Files written before the run (policy files), as (path, content).
    pub files: Vec<(String, String)>,
    /// Start the enforcer as the case's identity (groups, gid, uid) rather than as root, for
    /// enforcers that do not drop privileges themselves (an adapter's `drop_privileges: harness`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_privileges: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `sh -c <command>`; the errno is inferred from the message the tool printed.
    Shell { command: String },
    /// One system call (or the smallest sequence that makes the operation), exact errno.
    Probe { op: ProbeOp, target: ProbeTarget },
}

/// What a probe operates on. [`ProbeOp::target`] says which kind each operation takes; the
/// guest answers a step whose target is of another kind with EINVAL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProbeTarget {
    Path(GuestPath),
    /// A source and a destination (rename, link).
    Pair {
        from: GuestPath,
        to: GuestPath,
    },
    /// A TCP port: bound on 127.0.0.1, connected to on [`CONNECT_PROBE_ADDR`].
    Port(u16),
    /// The peer of a scope probe (signal, abstract unix socket) or of `ptrace_attach`.
    Peer(Peer),
    /// A system call as the host resolved it (`syscall`, `socket`).
    Call(Call),
    /// Flags as the host resolved them (`clone`, `clone3`).
    Flags(Flags),
    /// Nothing: the operation is the whole probe (`memfd_exec`, `seccomp`, …).
    None,
}

/// A system call by number, through an entry into the kernel, with integer arguments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Call {
    #[serde(default, skip_serializing_if = "Entry::is_default")]
    pub entry: Entry,
    /// The call's number for that entry (x32: without the x32 bit, which the guest adds).
    pub nr: u32,
    /// At most six; i386 passes the low 32 bits of each.
    pub args: Vec<u64>,
    /// The words the scenario wrote after the operation, for verdicts.
    pub text: String,
}

/// Flags resolved from names (`CLONE_NEWUSER|CLONE_NEWNS`) or a number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    pub value: u64,
    /// The words the scenario wrote, for verdicts.
    pub text: String,
}

/// Where the peer of a scope probe lives: `outside` the sandbox's Landlock domain (started by the
/// guest before the run, as the run's own uid so that only Landlock can tell it apart),
/// `inside` it (made by the probe runner itself, after the enforcer restricted it), or in the
/// case's outer layers only (`layer`: forked, as the run's uid, by the layer mode once it has
/// applied `setup.layers` and before it executes the enforcer, so it shares the layers' domain
/// and not the enforcer's; its pid reaches the runner in [`LAYER_PEER_ENV`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    Outside,
    Inside,
    Layer,
    /// What `outside` becomes in the guest once the peer runs: its pid (a signal probe's
    /// target). The host never writes it.
    OutsidePid(u32),
}

impl Peer {
    pub const WORDS: [(&'static str, Peer); 3] =
        [("outside", Peer::Outside), ("inside", Peer::Inside), ("layer", Peer::Layer)];
}

/// The environment variable in which the layer mode hands the pid of the process it forked in
/// the outer layers (the `layer` peer) down to the command, through the enforcer under test.
pub const LAYER_PEER_ENV: &str = "LOCKGATE_LAYER_PEER";

/// The abstract unix socket name (without the leading NUL) of the listener outside the domain.
pub const OUTSIDE_ABSTRACT_SOCKET: &str = "lockgate-peer-outside";

/// The abstract unix datagram socket name (without the leading NUL) bound outside the domain
/// for `abstract_sendto outside`.
pub const OUTSIDE_ABSTRACT_DGRAM: &str = "lockgate-peer-outside-dgram";

/// The loopback address the guest's listeners for connect probes bind, and connect probes
/// connect to: an address of the harness's own, so that a listener never holds the
/// 127.0.0.1:<port> a bind probe asks for (Landlock's TCP rules name ports, not addresses).
pub const CONNECT_PROBE_ADDR: [u8; 4] = [127, 0, 0, 2];

/// The kinds of [`ProbeTarget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Path,
    Pair,
    Port,
    Peer,
    Call,
    Flags,
    None,
}

impl ProbeTarget {
    pub fn kind(&self) -> TargetKind {
        match self {
            ProbeTarget::Path(_) => TargetKind::Path,
            ProbeTarget::Pair { .. } => TargetKind::Pair,
            ProbeTarget::Port(_) => TargetKind::Port,
            ProbeTarget::Peer(_) => TargetKind::Peer,
            ProbeTarget::Call(_) => TargetKind::Call,
            ProbeTarget::Flags(_) => TargetKind::Flags,
            ProbeTarget::None => TargetKind::None,
        }
    }
}

/// As a scenario writes it: `/sandbox/a`, `/sandbox/a /tmp/b`, `8080`.
impl std::fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeTarget::Path(path) => write!(f, "{path}"),
            ProbeTarget::Pair { from, to } => write!(f, "{from} {to}"),
            ProbeTarget::Port(port) => write!(f, "{port}"),
            ProbeTarget::Peer(Peer::Inside) => f.write_str("inside"),
            ProbeTarget::Peer(Peer::Layer) => f.write_str("layer"),
            ProbeTarget::Peer(Peer::Outside | Peer::OutsidePid(_)) => f.write_str("outside"),
            ProbeTarget::Call(Call { text, .. }) | ProbeTarget::Flags(Flags { text, .. }) => f.write_str(text),
            ProbeTarget::None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOp {
    /// open(O_CREAT|O_EXCL|O_WRONLY) of a new file: make_reg and write_file decide.
    Create,
    /// mknod(path, S_IFREG): a regular file made without opening it (so only make_reg decides,
    /// not write_file as for `create`).
    MknodReg,
    /// open(O_WRONLY) of an existing file and write one byte.
    Write,
    /// open(O_RDONLY) and read.
    Read,
    /// truncate(path, 0).
    Truncate,
    /// rename(from, to): refer (ABI 2) decides across directories, and make_*/remove_*.
    Rename,
    /// link(from, to): refer (ABI 2) across directories, and make_*.
    Link,
    /// fork + execve(path), its errno through a pipe. read_file decides too: the kernel opens
    /// the file for reading to execute it.
    Exec,
    /// mkdir(path).
    Mkdir,
    /// unlink(path).
    Unlink,
    /// open(O_RDONLY|O_DIRECTORY) + getdents.
    Readdir,
    /// bind a TCP socket to 127.0.0.1:<port>. The harness's listeners are on their own address
    /// (127.0.0.2), so a bind on a connect probe's port is the policy's to decide, never
    /// EADDRINUSE from the harness (Landlock's TCP rules name ports, not addresses).
    TcpBind,
    /// connect a TCP socket to [`CONNECT_PROBE_ADDR`]:<port> (127.0.0.2), where the guest listens
    /// outside the sandbox on every connect probe's port.
    TcpConnect,
    /// rmdir(path) of an empty directory.
    Rmdir,
    /// mknod(path, S_IFCHR, 1:3): a character device node. Without CAP_MKNOD the kernel answers
    /// EPERM *after* Landlock: EACCES is Landlock's, EPERM means Landlock let it through.
    MknodChar,
    /// mknod(path, S_IFBLK, 7:0): a block device node (EPERM without CAP_MKNOD, as for
    /// `mknod_char`).
    MknodBlock,
    /// mknod(path, S_IFIFO): a named pipe.
    Mkfifo,
    /// mknod(path, S_IFSOCK): a unix socket node (no socket is bound).
    MknodSock,
    /// symlink(target, path): `symlink <target> <path>`.
    Symlink,
    /// open(O_RDONLY) of a device, then ioctl(TCGETS): a device that is no terminal answers
    /// ENOTTY once Landlock lets the ioctl through, EACCES when Landlock does not.
    IoctlDev,
    /// connect a unix stream socket to a pathname socket (a listener is bound there, mode 0777,
    /// outside the sandbox, before the run).
    UnixConnect,
    /// connect a unix stream socket to an abstract socket: `outside` the domain (a listener of
    /// the guest's) or `inside` (one the runner binds itself first). The scope answers EPERM.
    AbstractConnect,
    /// kill(pid, 0) to a process of the same uid (so DAC allows it) `outside` the domain
    /// (started by the guest), `inside` (a child the runner forks), or in the outer layers only
    /// (`layer`: forked by the layer mode inside `setup.layers`, before the enforcer). The scope
    /// answers EPERM.
    Signal,
    // The probes of what syscall filters decide. Each runs in a child the runner forks, so that
    // a call that changes the process (unshare, a filter, a mount, ptrace) or kills it (SIGSYS,
    // or SIGSEGV from an `int 0x80` the kernel does not offer) changes nothing for the next step;
    // a child killed by a signal is reported as the signal's name (`SIGSYS`).
    /// A raw system call by name or number through an entry ([`Call`]). Each argument is a
    /// number (`17`, `0x10`, `-100`) or constant names joined with `|` (`CLONE_NEWUSER|CLONE_NEWNS`,
    /// `AT_FDCWD`, `O_RDONLY`; families CLONE, AF, SOCK, NETLINK, IPPROTO, AT, O, MFD, SIG…,
    /// PTRACE, SECCOMP, BPF, MS, MNT, PR, PROT, MAP); integer arguments only (no pointers).
    Syscall,
    /// socket(domain, type, protocol) ([`Call`]: socket's number for the entry, then the three),
    /// e.g. `socket AF_NETLINK SOCK_RAW NETLINK_SOCK_DIAG`; protocol 0 when left out.
    Socket,
    /// The raw clone syscall with these flags and SIGCHLD; the child exits at once. Flags that
    /// need a stack, a pointer or a thread (CLONE_VM, CLONE_SETTLS, CLONE_PIDFD…) are refused
    /// when the scenario loads.
    Clone,
    /// clone3 with these flags (`struct clone_args` of 64 bytes, exit signal SIGCHLD); the same
    /// flags refused as for `clone`.
    Clone3,
    /// ptrace(PTRACE_TRACEME).
    PtraceTraceme,
    /// ptrace(PTRACE_ATTACH) to a process of the same uid `outside` the domain (the guest's peer),
    /// `inside` (a child of the probe's) or in the outer layers only (`layer`), then waits for its stop and detaches. Landlock denies
    /// `outside` (EPERM) on its own.
    PtraceAttach,
    /// io_uring_setup(1, params).
    IoUringSetup,
    /// memfd_create, write a tiny static ELF (132 bytes) that exits 0, execveat(fd, "",
    /// AT_EMPTY_PATH).
    MemfdExec,
    /// open(path, O_PATH), execveat(fd, "", AT_EMPTY_PATH).
    ExecveatEmptyPath,
    /// bpf(BPF_PROG_LOAD) of a two-instruction socket filter (r0 = 0; exit).
    Bpf,
    /// mount a tmpfs on a directory (and unmount it when that worked).
    Mount,
    /// prctl(PR_SET_NO_NEW_PRIVS), then seccomp(SECCOMP_SET_MODE_FILTER) of a one-instruction
    /// allow-all filter: can the process stack one more filter (no_new_privs first, so the
    /// answer is the filters', not the missing flag's EACCES).
    Seccomp,
    /// Writes one byte through a descriptor the runner inherited, open for writing on the file
    /// at the path (the same device and inode; the path itself is never opened): Landlock checks
    /// access when a file is opened, never on a descriptor opened before `restrict_self`, so a
    /// descriptor the enforcer leaves open crosses the boundary with its access. EBADF: no
    /// descriptor open for writing on that file came in. The result's `stdout` names the
    /// descriptor written through (or those found open on the file, read-only).
    InheritedWrite,
    /// open(path, O_PATH): Landlock never checks it (a path-only descriptor reads nothing).
    OpenPath,
    /// open(path, O_RDONLY|O_TRUNC): truncating at open takes the truncate right (ABI 3) beside
    /// read_file.
    OpenTrunc,
    /// renameat2(from, to, RENAME_EXCHANGE): both files are removed and made again, each in the
    /// other's directory (remove_* and make_*, and refer across directories).
    RenameExchange,
    /// open(O_RDONLY|O_NONBLOCK), then ioctl(FIOCLEX): one of the commands Landlock always
    /// permits, even where device ioctls are handled and not granted.
    IoctlFioclex,
    /// open(O_RDONLY|O_NONBLOCK), then ioctl(FIONBIO, 1): likewise always permitted.
    IoctlFionbio,
    /// bind a TCP socket to [::1]:<port>: Landlock's TCP rules name ports, for IPv6 as for IPv4.
    Tcp6Bind,
    /// bind a UDP socket to 127.0.0.1:<port>: no TCP right restricts it.
    UdpBind,
    /// open(path, O_WRONLY), then ftruncate(fd, 0): Landlock decides truncation at open (the
    /// descriptor keeps whether its opener had the truncate right), and answers at ftruncate.
    Ftruncate,
    /// memfd_create, then ftruncate(fd, 0): a file no path reaches, which Landlock never
    /// restricts.
    MemfdFtruncate,
    /// sendto from a unix datagram socket to an abstract one: `outside` the domain (bound by the
    /// guest before the run, [`OUTSIDE_ABSTRACT_DGRAM`]) or `inside` (one the runner binds
    /// itself first).
    AbstractSendto,
    // The probes of namespaces (issue 27).
    /// unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), then, in the new PID namespace's
    /// first process, mount a new procfs on a directory: what a namespace sandbox does to give
    /// its command a /proc (a container that masks parts of its own /proc refuses it, EPERM).
    MountProc,
    /// stat("/proc/<pid>") of a process of the same uid `outside` the sandbox (the guest's
    /// peer) or `inside` (a child of the probe's): whether the process sees that PID. In a new
    /// PID namespace with a /proc of its own an outside process is not there (ENOENT).
    PidVisible,
    /// openat(fd, rest, O_RDONLY) through a descriptor the runner inherited open on the nearest
    /// directory above the path that has one (a `setup.open_before` directory, opened before any
    /// sandbox; the same device and inode), `rest` the path from there: Landlock checks the
    /// path the call resolves, whatever descriptor it starts from, so a directory opened before
    /// `restrict_self` grants nothing beneath it. EBADF: no descriptor open on a directory
    /// above the path came in. The result's `stdout` names the descriptor.
    Openat,
    /// getdents64 through a descriptor the runner inherited open on the directory (the same
    /// device and inode; the path itself is never opened): Landlock checks read_dir when a
    /// directory is opened, never on a descriptor opened before `restrict_self`, so listing
    /// through it crosses the boundary. EBADF: no descriptor open on that directory came in.
    InheritedReaddir,
}

impl ProbeOp {
    pub const ALL: [ProbeOp; 50] = [
        ProbeOp::Create,
        ProbeOp::MknodReg,
        ProbeOp::Write,
        ProbeOp::Read,
        ProbeOp::Truncate,
        ProbeOp::Rename,
        ProbeOp::Link,
        ProbeOp::Exec,
        ProbeOp::Mkdir,
        ProbeOp::Unlink,
        ProbeOp::Readdir,
        ProbeOp::TcpBind,
        ProbeOp::TcpConnect,
        ProbeOp::Rmdir,
        ProbeOp::MknodChar,
        ProbeOp::MknodBlock,
        ProbeOp::Mkfifo,
        ProbeOp::MknodSock,
        ProbeOp::Symlink,
        ProbeOp::IoctlDev,
        ProbeOp::UnixConnect,
        ProbeOp::AbstractConnect,
        ProbeOp::Signal,
        ProbeOp::Syscall,
        ProbeOp::Socket,
        ProbeOp::Clone,
        ProbeOp::Clone3,
        ProbeOp::PtraceTraceme,
        ProbeOp::PtraceAttach,
        ProbeOp::IoUringSetup,
        ProbeOp::MemfdExec,
        ProbeOp::ExecveatEmptyPath,
        ProbeOp::Bpf,
        ProbeOp::Mount,
        ProbeOp::Seccomp,
        ProbeOp::InheritedWrite,
        ProbeOp::OpenPath,
        ProbeOp::OpenTrunc,
        ProbeOp::RenameExchange,
        ProbeOp::IoctlFioclex,
        ProbeOp::IoctlFionbio,
        ProbeOp::Tcp6Bind,
        ProbeOp::UdpBind,
        ProbeOp::Ftruncate,
        ProbeOp::MemfdFtruncate,
        ProbeOp::AbstractSendto,
        ProbeOp::MountProc,
        ProbeOp::PidVisible,
        ProbeOp::Openat,
        ProbeOp::InheritedReaddir,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProbeOp::Create => "create",
            ProbeOp::MknodReg => "mknod_reg",
            ProbeOp::Write => "write",
            ProbeOp::Read => "read",
            ProbeOp::Truncate => "truncate",
            ProbeOp::Rename => "rename",
            ProbeOp::Link => "link",
            ProbeOp::Exec => "exec",
            ProbeOp::Mkdir => "mkdir",
            ProbeOp::Unlink => "unlink",
            ProbeOp::Readdir => "readdir",
            ProbeOp::TcpBind => "tcp_bind",
            ProbeOp::TcpConnect => "tcp_connect",
            ProbeOp::Rmdir => "rmdir",
            ProbeOp::MknodChar => "mknod_char",
            ProbeOp::MknodBlock => "mknod_block",
            ProbeOp::Mkfifo => "mkfifo",
            ProbeOp::MknodSock => "mknod_sock",
            ProbeOp::Symlink => "symlink",
            ProbeOp::IoctlDev => "ioctl_dev",
            ProbeOp::UnixConnect => "unix_connect",
            ProbeOp::AbstractConnect => "abstract_connect",
            ProbeOp::Signal => "signal",
            ProbeOp::Syscall => "syscall",
            ProbeOp::Socket => "socket",
            ProbeOp::Clone => "clone",
            ProbeOp::Clone3 => "clone3",
            ProbeOp::PtraceTraceme => "ptrace_traceme",
            ProbeOp::PtraceAttach => "ptrace_attach",
            ProbeOp::IoUringSetup => "io_uring_setup",
            ProbeOp::MemfdExec => "memfd_exec",
            ProbeOp::ExecveatEmptyPath => "execveat_empty_path",
            ProbeOp::Bpf => "bpf",
            ProbeOp::Mount => "mount",
            ProbeOp::Seccomp => "seccomp",
            ProbeOp::InheritedWrite => "inherited_write",
            ProbeOp::OpenPath => "open_path",
            ProbeOp::OpenTrunc => "open_trunc",
            ProbeOp::RenameExchange => "rename_exchange",
            ProbeOp::IoctlFioclex => "ioctl_fioclex",
            ProbeOp::IoctlFionbio => "ioctl_fionbio",
            ProbeOp::Tcp6Bind => "tcp6_bind",
            ProbeOp::UdpBind => "udp_bind",
            ProbeOp::Ftruncate => "ftruncate",
            ProbeOp::MemfdFtruncate => "memfd_ftruncate",
            ProbeOp::AbstractSendto => "abstract_sendto",
            ProbeOp::MountProc => "mount_proc",
            ProbeOp::PidVisible => "pid_visible",
            ProbeOp::Openat => "openat",
            ProbeOp::InheritedReaddir => "inherited_readdir",
        }
    }

    /// The kind of target the operation takes.
    pub fn target(self) -> TargetKind {
        match self {
            ProbeOp::Rename | ProbeOp::Link | ProbeOp::Symlink | ProbeOp::RenameExchange => TargetKind::Pair,
            ProbeOp::TcpBind | ProbeOp::TcpConnect | ProbeOp::Tcp6Bind | ProbeOp::UdpBind => TargetKind::Port,
            ProbeOp::AbstractConnect
            | ProbeOp::Signal
            | ProbeOp::PtraceAttach
            | ProbeOp::AbstractSendto
            | ProbeOp::PidVisible => TargetKind::Peer,
            ProbeOp::Syscall | ProbeOp::Socket => TargetKind::Call,
            ProbeOp::Clone | ProbeOp::Clone3 => TargetKind::Flags,
            ProbeOp::PtraceTraceme
            | ProbeOp::IoUringSetup
            | ProbeOp::MemfdExec
            | ProbeOp::Bpf
            | ProbeOp::Seccomp
            | ProbeOp::MemfdFtruncate => TargetKind::None,
            ProbeOp::Create
            | ProbeOp::Write
            | ProbeOp::Read
            | ProbeOp::Truncate
            | ProbeOp::Exec
            | ProbeOp::Mkdir
            | ProbeOp::Unlink
            | ProbeOp::Readdir
            | ProbeOp::Rmdir
            | ProbeOp::MknodChar
            | ProbeOp::MknodReg
            | ProbeOp::MknodBlock
            | ProbeOp::Mkfifo
            | ProbeOp::MknodSock
            | ProbeOp::IoctlDev
            | ProbeOp::UnixConnect
            | ProbeOp::ExecveatEmptyPath
            | ProbeOp::Mount
            | ProbeOp::InheritedWrite
            | ProbeOp::OpenPath
            | ProbeOp::OpenTrunc
            | ProbeOp::IoctlFioclex
            | ProbeOp::IoctlFionbio
            | ProbeOp::Ftruncate
            | ProbeOp::MountProc
            | ProbeOp::Openat
            | ProbeOp::InheritedReaddir => TargetKind::Path,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Guest → host
// ---------------------------------------------------------------------------------------------

/// One line on the record port.
// A record is made once per case and serialised at once: the size of its largest variant costs
// nothing, and boxing it would only change every place that builds or reads one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "record", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    Hello {
        nonce: String,
        version: u32,
    },
    Preflight {
        nonce: String,
        preflight: Preflight,
    },
    Case {
        nonce: String,
        case: CaseObservation,
    },
    /// Something the agent could not do (e.g. a setup path could not be created).
    Fault {
        nonce: String,
        message: String,
    },
    /// The last record: how many case records preceded it, and where the guest's time went.
    Done {
        nonce: String,
        cases: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timing: Option<GuestTiming>,
    },
}

/// Where a boot's time went, on the guest's CLOCK_MONOTONIC (seconds since the kernel started
/// its clock). Only for measuring (`cargo xtask bench`): never judged, never snapshotted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct GuestTiming {
    /// When the agent (PID 1) started: the kernel's own boot.
    pub agent_start: f64,
    /// When the preflight record was sent (mounts, loopback, plan, preflight).
    pub preflight_end: f64,
    /// One entry per case, in plan order.
    pub cases: Vec<CaseTiming>,
    /// When the done record was about to be sent.
    pub done: f64,
}

/// One case's time, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct CaseTiming {
    pub id: String,
    /// The whole case: accounts, both runs, their trees, the container if any.
    pub total: f64,
    /// The control run's process, from spawn to reaped (0 in a container environment, where the
    /// container side does not report it separately).
    pub control: f64,
    /// The enforced run's process, likewise.
    pub enforced: f64,
}

impl Record {
    pub fn nonce(&self) -> &str {
        match self {
            Record::Hello { nonce, .. }
            | Record::Preflight { nonce, .. }
            | Record::Case { nonce, .. }
            | Record::Fault { nonce, .. }
            | Record::Done { nonce, .. } => nonce,
        }
    }
}

/// Result of `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbiProbe {
    Abi(u32),
    /// The errno name: ENOSYS (no Landlock, or a seccomp stub), EOPNOTSUPP (compiled in, not
    /// enabled), EPERM (a seccomp filter's default action).
    Errno(String),
}

impl AbiProbe {
    pub fn abi(&self) -> Option<u32> {
        match self {
            AbiProbe::Abi(n) => Some(*n),
            AbiProbe::Errno(_) => None,
        }
    }
}

impl std::fmt::Display for AbiProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AbiProbe::Abi(n) => write!(f, "ABI {n}"),
            AbiProbe::Errno(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Preflight {
    /// uname -r
    pub release: String,
    /// /sys/kernel/security/lsm, if securityfs could be read.
    pub lsm: Option<String>,
    /// Whether securityfs is mounted on /sys/kernel/security (from /proc/self/mounts); `None`
    /// from a guest that did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub securityfs_mounted: Option<bool>,
    pub landlock: AbiProbe,
    /// `Seccomp:` line of /proc/self/status, if present (0 = disabled, 1 strict, 2 filter).
    pub seccomp: Option<String>,
    /// The kernel command line, as the kernel saw it.
    pub cmdline: String,
    /// Seccomp filter support, probed by raw syscall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_filter: Option<SeccompFilterProbe>,
    /// CONFIG_SECURITY_LANDLOCK, CONFIG_LSM, CONFIG_SECCOMP_FILTER from /proc/config.gz, when the
    /// kernel has it (CONFIG_IKCONFIG_PROC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<KernelConfig>,
    /// Whether the kernel takes system calls through its other x86 entries (i386's `int 0x80`,
    /// x32), each tried by the agent in a child of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Entries>,
    /// Yama's `kernel.yama.ptrace_scope` (/proc/sys/kernel/yama/ptrace_scope), where the kernel
    /// has Yama: 1 and above refuse attaching to a process that is not a descendant (EPERM), with
    /// or without any sandbox, in every environment (the sysctl is the kernel's, not a
    /// namespace's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yama_ptrace_scope: Option<u8>,
    /// `/proc/sys/kernel/apparmor_restrict_unprivileged_userns` (Ubuntu's kernels; `1` in
    /// Ubuntu 24.04): AppArmor refuses unprivileged user namespaces no profile allows. `None`
    /// where the kernel has no such sysctl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_restricted: Option<String>,
    /// The modules staged for this kernel (`MODULES_DIR`), in load order, and what loading each
    /// answered; empty where none was staged (a kernel built without modules, or with what
    /// they would give built in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<ModuleLoad>,
    /// Whether the kernel has overlayfs (`overlay` in /proc/filesystems) once the staged modules
    /// are loaded: what an `overlay` setup path and a container's overlayfs root need. `None`
    /// from a guest that did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlayfs: Option<bool>,
}

/// One staged module and what `finit_module` answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModuleLoad {
    pub name: String,
    /// `loaded`, `already loaded` (EEXIST), or the errno name and what it means.
    pub answer: String,
}

/// The preflight's probes of the i386 and x32 entries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entries {
    /// `getpid` through `int 0x80` (i386 number 20).
    pub ia32: EntryProbe,
    /// `getpid` with the x32 bit (0x40000000 | 39).
    pub x32: EntryProbe,
}

/// What one entry answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EntryProbe {
    /// The call returned the caller's pid.
    Available,
    /// It failed: the errno (ENOSYS: x32 disabled), the signal that killed the child (SIGSEGV:
    /// no IA32 emulation, `int 0x80` is a general protection fault), or what else it returned.
    Unavailable(String),
}

impl EntryProbe {
    pub fn available(&self) -> bool {
        *self == EntryProbe::Available
    }
}

impl std::fmt::Display for EntryProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryProbe::Available => f.write_str("available"),
            EntryProbe::Unavailable(why) => write!(f, "unavailable ({why})"),
        }
    }
}

impl Preflight {
    /// The LSM list as a sandbox reading /sys/kernel/security/lsm would find it: the list, or
    /// why there is none (securityfs not mounted; mounted without an `lsm` file, which is a
    /// kernel without the LSM framework).
    pub fn lsm_seen(&self) -> String {
        match (&self.lsm, self.securityfs_mounted) {
            (Some(l), _) => l.trim().to_string(),
            (None, Some(false)) => "securityfs not mounted".into(),
            (None, Some(true)) => "securityfs mounted, no lsm file (no LSM framework)".into(),
            (None, None) => "securityfs unreadable".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaseObservation {
    pub id: String,
    /// The Landlock probe made where the runs happen (the container, for container environments).
    pub landlock: AbiProbe,
    /// The environment could not be made (the container did not start): nothing was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_error: Option<String>,
    pub control: RunObservation,
    pub enforced: RunObservation,
    /// Only for a case with layers: the probe runner as in the control run, but outside the
    /// layers (no enforcer, no layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlayered: Option<RunObservation>,
    /// Only under an environment whose runtime denies by rules the host has no table of
    /// (gVisor's Sentry, a kernel of its own; systemd-nspawn's built-in filter, capabilities and
    /// mounts): the control run made again on the VM, outside that runtime's container, as the
    /// same user on the same kernel (a bare control run). A denial both runs share that this run
    /// did not get is the runtime's answer, not the VM kernel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<RunObservation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RunObservation {
    /// Set when the run could not be prepared (setup failed); the steps then did not run.
    pub setup_error: Option<String>,
    /// The setup error is the environment's refusal: a container without the capability
    /// (CAP_MKNOD, CAP_SYS_ADMIN) or whose seccomp profile blocks the call (mknod of a device,
    /// mount) could not make a setup path of that kind.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub setup_refused: bool,
    /// What the place where the run happened made of the setup otherwise than the scenario
    /// asks, each in a sentence for the cell (under gVisor the workspace is a directory, not a
    /// bind mount: the Sentry does not see the mounts the agent makes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup_notes: Vec<String>,
    /// Exit of the top process (the enforcer for enforced runs, the runner for control runs):
    /// `exit:N` or `signal:NAME`, or `timeout`.
    pub exit: String,
    /// What the top process printed on stderr (the enforcer's claim line lives here), bounded.
    pub stderr: String,
    /// The claim variable the probe runner found in its environment.
    pub claim_env: Option<String>,
    /// One result per step, in order; empty when the runner never started.
    pub steps: Vec<StepResult>,
    /// The runner's own view of its confinement: `Seccomp:` and `NoNewPrivs:` of
    /// /proc/self/status, its uid/gid.
    pub runner: Option<RunnerFacts>,
    /// Which of the case's `policy_paths` did not exist once the run's tree was made (seen
    /// where the run happens: the container's own root for container environments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_paths: Vec<String>,
    /// The kernel's AppArmor denials logged while the run went on (its audit records with
    /// `apparmor="DENIED"`, from /dev/kmsg), bounded: what AppArmor refused, and to whom.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apparmor_denials: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RunnerFacts {
    pub uid: u32,
    pub gid: u32,
    pub seccomp: Option<String>,
    pub no_new_privs: Option<String>,
    /// `Seccomp_filters:` of /proc/self/status: how many filters the runner runs under (the
    /// environment's and the enforcer's), or the errno name when the sandbox forbids reading
    /// it. Compared with the control run's, it shows whether the enforcer installed a filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_filters: Option<String>,
    /// The namespaces the runner is in: each of [`NAMESPACES`] and its `/proc/self/ns` link
    /// (`user:[4026531837]`), or the errno name when it could not be read (a sandbox without
    /// /proc). Compared with the control run's, it shows which namespaces the enforcer made.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub namespaces: std::collections::BTreeMap<String, String>,
}

/// The namespaces whose identity the runner reports, as `/proc/self/ns` names them.
pub const NAMESPACES: [&str; 7] = ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"];

impl RunnerFacts {
    /// The namespaces in which this run and `control` differ (both links read): the ones the
    /// enforcer made.
    pub fn new_namespaces(&self, control: &RunnerFacts) -> Vec<&'static str> {
        let link = |f: &RunnerFacts, n: &str| f.namespaces.get(n).filter(|v| v.contains(":[")).cloned();
        NAMESPACES
            .into_iter()
            .filter(|n| matches!((link(self, n), link(control, n)), (Some(a), Some(b)) if a != b))
            .collect()
    }

    /// The number of seccomp filters, when the runner could read it.
    pub fn filters(&self) -> Option<u32> {
        self.seccomp_filters.as_deref()?.parse().ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StepResult {
    pub outcome: Outcome,
    /// Exit status of a shell step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Bounded output of a shell step.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The operation succeeded (a shell step exited 0).
    Ok,
    /// The operation failed with this errno (for a shell step: the errno whose message the
    /// command printed, or `EUNKNOWN` when none could be recognised).
    Err(String),
    /// The step did not finish within its deadline.
    Timeout,
}

/// Bound for captured output, so that a runaway command cannot flood the record port.
pub const OUTPUT_LIMIT: usize = 2048;

/// Bound for what a run's top process (the enforcer) prints on stderr: its reasons are kept
/// whole in the cell's output file on the host.
pub const RUN_OUTPUT_LIMIT: usize = 16 * 1024;

/// Truncate `s` to [`OUTPUT_LIMIT`] bytes on a char boundary.
pub fn bounded(s: &str) -> String {
    bounded_to(s, OUTPUT_LIMIT)
}

/// Truncate `s` to `limit` bytes on a char boundary, marking the cut with `…`.
pub fn bounded_to(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Isolated steps run alone; the steps between them run together; `isolate` splits all.
    #[test]
    fn stretches_split_the_steps_at_isolated_ones() {
        let step = Step::Shell { command: "true".into() };
        let mut case: Case = serde_json::from_value(serde_json::json!({
            "id": "s@bare", "setup": {"users": [], "tmpfs": [], "paths": []},
            "identity": {"uid": 0, "gid": 0, "groups": []},
            "enforcer": {"argv": [], "env": [], "files": []}, "steps": [], "workdir": "/"
        }))
        .unwrap();
        case.steps = vec![step; 5];
        assert_eq!(case.stretches(), [vec![0, 1, 2, 3, 4]]);
        case.isolated = vec![1, 4];
        assert_eq!(case.stretches(), [vec![0], vec![1], vec![2, 3], vec![4]]);
        assert_eq!(case.runs_per_run(), 4);
        case.isolate = true;
        assert_eq!(case.stretches().len(), 5);
        case.steps.clear();
        assert_eq!(case.runs_per_run(), 1);
    }

    #[test]
    fn records_round_trip_as_single_json_lines() {
        let r = Record::Case {
            nonce: "n".into(),
            case: CaseObservation {
                id: "s@bare".into(),
                landlock: AbiProbe::Errno("ENOSYS".into()),
                environment_error: None,
                unlayered: None,
                outside: None,
                control: RunObservation::default(),
                enforced: RunObservation {
                    steps: vec![StepResult {
                        outcome: Outcome::Err("EACCES".into()),
                        exit_code: Some(1),
                        stdout: String::new(),
                        stderr: "touch: /sandbox/x: Permission denied\n".into(),
                    }],
                    ..Default::default()
                },
            },
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains('\n'), "a record must fit on one line: {line}");
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), r);
    }

    #[test]
    fn probe_steps_carry_a_typed_target() {
        let path = |p: &str| GuestPath::try_from(p.to_string()).unwrap();
        for (step, json) in [
            (
                Step::Probe { op: ProbeOp::TcpBind, target: ProbeTarget::Port(8080) },
                r#"{"probe":{"op":"tcp_bind","target":{"port":8080}}}"#,
            ),
            (
                Step::Probe { op: ProbeOp::Rename, target: ProbeTarget::Pair { from: path("/a"), to: path("/b") } },
                r#"{"probe":{"op":"rename","target":{"pair":{"from":"/a","to":"/b"}}}}"#,
            ),
            (
                Step::Probe { op: ProbeOp::Read, target: ProbeTarget::Path(path("/a")) },
                r#"{"probe":{"op":"read","target":{"path":"/a"}}}"#,
            ),
            (
                Step::Probe {
                    op: ProbeOp::Socket,
                    target: ProbeTarget::Call(Call {
                        entry: Entry::I386,
                        nr: 359,
                        args: vec![2, 1, 0],
                        text: "AF_INET SOCK_STREAM".into(),
                    }),
                },
                r#"{"probe":{"op":"socket","target":{"call":{"entry":"i386","nr":359,"args":[2,1,0],"text":"AF_INET SOCK_STREAM"}}}}"#,
            ),
            (
                Step::Probe {
                    op: ProbeOp::Clone3,
                    target: ProbeTarget::Flags(Flags { value: 0x1000_0000, text: "CLONE_NEWUSER".into() }),
                },
                r#"{"probe":{"op":"clone3","target":{"flags":{"value":268435456,"text":"CLONE_NEWUSER"}}}}"#,
            ),
            (
                Step::Probe { op: ProbeOp::Seccomp, target: ProbeTarget::None },
                r#"{"probe":{"op":"seccomp","target":"none"}}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&step).unwrap(), json);
            assert_eq!(serde_json::from_str::<Step>(json).unwrap(), step);
            let Step::Probe { op, target } = step else { unreachable!() };
            assert_eq!(op.target(), target.kind(), "{op:?}");
        }
        // Paths and ports are checked on the way in.
        assert!(serde_json::from_str::<Step>(r#"{"probe":{"op":"read","target":{"path":"a"}}}"#).is_err());
        assert!(serde_json::from_str::<Step>(r#"{"probe":{"op":"tcp_bind","target":{"port":70000}}}"#).is_err());
    }
    #[test]
    fn unknown_record_fields_are_rejected() {
        let line = r#"{"record":"done","nonce":"x","cases":1,"verdict":"pass"}"#;
        assert!(serde_json::from_str::<Record>(line).is_err());
    }

    #[test]
    fn bounded_cuts_on_a_char_boundary() {
        let s = "é".repeat(OUTPUT_LIMIT);
        let b = bounded(&s);
        assert!(b.len() <= OUTPUT_LIMIT + '…'.len_utf8());
        assert!(b.ends_with('…'));
    }
}
