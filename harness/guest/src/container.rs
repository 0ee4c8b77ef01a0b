//! Container environments: the cases run inside a container started by the environment's real
//! runtime (runc, crun for Podman, or gVisor's runsc: see [`gvisor_root`]), with the real seccomp profile converted as the engine
//! converts it, the engine's capabilities, namespaces, mounts and masked paths, and no_new_privs
//! as configured.
//!
//! This is the agent's half, on the VM's side of the runtime. One container per environment and
//! boot, as a deployment runs many sandboxed commands in one long-lived container: the runtime
//! starts it detached (`run -d --no-pivot`, as containerd's shim does) with
//! `lockgate-guest container-serve` (`container_serve.rs`) as its PID 1, which takes one case per
//! line on its stdin and answers each with its [`Answer`] on stdout. Both runs of every case
//! happen in there, in processes it forks, which inherit its seccomp filter, capabilities,
//! namespaces and no_new_privs exactly as those of a container started for the case alone would.
//! After each case it kills every other process of the container's PID namespace before it
//! answers, so no process outlives its case. A container that fails, hangs or answers garbage is
//! killed and the next case starts a new one.
//!
//! Each case gets fresh trees: the container has no CAP_SYS_ADMIN, so before the case the agent
//! enters the container's mount namespace and root and mounts a new tmpfs on each of the case's
//! tmpfs roots (what the runtime did when it started a container per case, from the same mount
//! options), and detaches them after it; between the two runs the container side empties them
//! (`setup::Tree::in_container`). A scenario's workspace is a volume of the VM's moved into the
//! container's mount namespace the same way, per case (`volume.rs`). Accounts and policy files are written on the guest's root and,
//! for each case, through the container's root too (an overlayfs does not promise to show what
//! changes in its lower layer once mounted).
//!
//! The VM's root is the initramfs, which cannot be pivot_root'ed away from: the runtime runs
//! with `--no-pivot` (what dockerd does with `DOCKER_RAMDISK`). The container's root is laid out
//! as Docker's overlay2 driver (and Podman's containers/storage) lays it: an overlayfs whose
//! read-only lower layer is the image (here a non-recursive bind of the guest's `/`: same
//! binaries, none of the guest's own mounts) and whose upper and work directories are the
//! container's own, on a tmpfs ([`OVERLAY2`]), one set per container started. Where the kernel
//! has no overlayfs (the kernels built here from tiny.config), the root is the bind itself, and
//! the agent's log says so. gVisor's root is always the bind: runsc serves it through its gofer
//! (`--overlay2=none`), where a sandbox sees no host overlayfs anyway.
//!
//! The runtime spec (`config.json`) is written as JSON by hand, checked in the tests against
//! `oci-spec`'s typed runtime spec (youki's) rather than built with it: [`config_json`] says what
//! that library costs the static guest and why.

use crate::console::log;
use crate::spawn::{pipe, wait_with_deadline};
use crate::{errno_text, setup, spawn};
use lockgate_protocol::seccomp::{self, Target};
use lockgate_protocol::{bounded, AbiProbe, Case, CaseObservation, Container, RunObservation, GUEST_BIN};
use nix::mount::{mount, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A non-recursive bind of the guest's `/`: the image, as the lower layer of each container's
/// overlayfs root (and gVisor's root itself).
const ROOTFS: &str = "/run/lockgate/rootfs";
/// The engine's storage, a tmpfs: `<id>/diff` (upper), `<id>/work` and `<id>/merged` (the
/// container's root) per container, as overlay2 names them.
const OVERLAY2: &str = "/run/lockgate/overlay2";
const BUNDLES: &str = "/run/lockgate/bundles";
/// The runtime's state directory.
const RUNTIME_ROOT: &str = "/run/runc";
/// How long the runtime may take to start a container.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Both runs (each up to the case's run limit) and the trees around them.
fn case_deadline(case: &Case) -> Duration {
    Duration::from_secs(2 * case.runs_per_run() * u64::from(case.limits.run_seconds) + 30)
}

/// What the container side answers for a case: the observation and how long each run's
/// processes took (the trees not included, as on the VM).
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub observation: CaseObservation,
    pub control_s: f64,
    pub enforced_s: f64,
}

/// A container serving cases.
struct Running {
    id: String,
    /// Its PID 1 (`container-serve`), as the VM sees it.
    pid: i32,
    input: File,
    output: File,
    /// Bytes read past the last answer (none, unless the container misbehaves).
    pending: Vec<u8>,
    /// Where the runtime's and the container's stderr go.
    log: String,
    /// Its overlayfs root (`OVERLAY2/<id>/merged`), detached when it stops; `None` where its
    /// root is the bind of the guest's `/`.
    overlay: Option<String>,
    /// Its root as it started, where that root is an overlayfs of its own: each case's tmpfs
    /// mount points and files land in its upper layer, out of reach of the VM's baseline, and
    /// are removed from there before the next case (every case starts from the same tree).
    baseline: Option<setup::Baseline>,
    /// The runtime's own process where it stays for the container's life (systemd-nspawn);
    /// an OCI runtime has exited once the container runs.
    supervisor: Option<std::process::Child>,
}

static STARTS: AtomicUsize = AtomicUsize::new(0);
/// The running container of each environment, by name.
static RUNNING: Mutex<BTreeMap<String, Running>> = Mutex::new(BTreeMap::new());

/// Agent side: both runs of `case` in the environment's container (started at its first case).
/// Also returns how long the control and the enforced run took, when the container answered.
pub fn observe(case: &Case, container: &Container) -> (CaseObservation, Option<(f64, f64)>) {
    let started = Instant::now();
    let mut running = RUNNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let result = prepare_guest().and_then(|()| serve(case, container, &mut running));
    spawn::reap_orphans();
    let took = started.elapsed().as_secs_f64();
    match result {
        Ok(answer) => {
            log(&format!(
                "{}: {took:.2}s in {} ({}): control {:.2}s + enforced {:.2}s",
                case.id, container.env, container.runtime, answer.control_s, answer.enforced_s
            ));
            (answer.observation, Some((answer.control_s, answer.enforced_s)))
        }
        Err(e) => {
            log(&format!("{}: {} environment failed after {took:.2}s: {e}", case.id, container.env));
            let observation = CaseObservation {
                id: case.id.clone(),
                landlock: AbiProbe::Errno("EUNKNOWN".into()),
                environment_error: Some(format!("{} environment: {e}", container.env)),
                unlayered: None,
                outside: None,
                control: RunObservation::default(),
                enforced: RunObservation::default(),
            };
            (observation, None)
        }
    }
}

/// The case in the environment's container; a container that fails it is stopped, so that the
/// next case gets a new one.
fn serve(case: &Case, container: &Container, running: &mut BTreeMap<String, Running>) -> Result<Answer, String> {
    if !running.contains_key(&container.env) {
        let started = Instant::now();
        let mut r = start(container)?;
        if r.overlay.is_some() {
            r.baseline = Some(setup::Baseline::record(std::path::Path::new(&format!("/proc/{}/root", r.pid))));
        }
        let root = match &r.overlay {
            Some(merged) => format!("an overlayfs root ({merged}, lower {ROOTFS})"),
            None => format!("the bind of the guest's / as its root ({ROOTFS})"),
        };
        log(&format!(
            "{}: container {} started by {} in {:.2}s, on {root}",
            container.env,
            r.id,
            container.runtime,
            started.elapsed().as_secs_f64()
        ));
        running.insert(container.env.clone(), r);
    }
    let Some(r) = running.get_mut(&container.env) else { return Err("no container".into()) };
    let gvisor = is_gvisor(container);
    for problem in r.baseline.iter().flat_map(setup::Baseline::restore) {
        log(&format!("{}: {problem}", r.id));
    }
    // The case's workspace volume, on the VM (under gVisor the workspace is a directory, as its
    // tmpfs roots are).
    let volume = match (&case.setup.workspace, gvisor) {
        (Some(ws), false) => crate::volume::Volume::make(ws).map(Some),
        _ => Ok(None),
    };
    let answer = volume
        .as_ref()
        .map_err(|e| format!("cannot make the case's tree in container {}: {e}", r.id))
        .and_then(|v| exchange(case, r, gvisor, v.as_ref()));
    // The case's tmpfs and workspace go whatever happened (under gVisor they are directories of
    // the guest's root, which the next case's baseline removes); then the volume on the VM.
    let detached = if gvisor {
        Ok(())
    } else {
        in_container(r.pid, || {
            let workspace = case.setup.workspace.iter().filter(|_| matches!(volume, Ok(Some(_))));
            workspace.chain(case.setup.tmpfs.iter().rev()).try_for_each(|d| setup::detach_tmpfs(d))
        })
    };
    drop(volume);
    if answer.is_ok() && detached.is_ok() {
        return answer;
    }
    // A container that failed a case, or whose mounts cannot be undone, is not used again.
    let Some(r) = running.remove(&container.env) else { return answer };
    let (id, said) = (r.id.clone(), answer.as_ref().err().map(|e| with_log(e, &r)));
    stop(r);
    match (answer, detached, said) {
        (Err(_), _, Some(said)) => Err(said),
        (Err(e), _, None) => Err(e),
        (Ok(answer), Err(e), _) => {
            log(&format!("{id}: {e}; the next case gets a new container"));
            Ok(answer)
        }
        (Ok(answer), Ok(()), _) => Ok(answer),
    }
}

/// Mounts the case's tmpfs roots and its workspace's `volume` in the container, hands it the
/// case, reads its answer.
fn exchange(
    case: &Case,
    r: &mut Running,
    gvisor: bool,
    volume: Option<&crate::volume::Volume>,
) -> Result<Answer, String> {
    if gvisor {
        // The Sentry has a file system of its own: a mount the agent makes in the sandbox
        // process's namespace is not in it. The roots (and the workspace) are directories of the
        // guest's root, which the gofer serves, emptied by the container side before each run.
        case.setup
            .tmpfs
            .iter()
            .chain(&case.setup.workspace)
            .try_for_each(|d| std::fs::create_dir_all(d).map_err(|e| format!("cannot create {d}: {e}")))
    } else {
        // The case's accounts and enforcer files, as the agent wrote them on the guest's root,
        // through the container's root (its upper layer, when it is an overlayfs).
        let mut files = setup::account_files(&case.setup.users);
        files.extend(case.enforcer.files.iter().cloned());
        files.extend(crate::layers::files(case));
        in_container(r.pid, || {
            setup::write_files(&files)?;
            case.setup.tmpfs.iter().try_for_each(|d| setup::mount_tmpfs(d))?;
            match (volume, &case.setup.workspace) {
                (Some(v), Some(ws)) => v.attach(ws),
                _ => Ok(()),
            }
        })
    }
    .map_err(|e| format!("cannot make the case's tree in container {}: {e}", r.id))?;
    let mut line = serde_json::to_vec(case).map_err(|e| e.to_string())?;
    line.push(b'\n');
    r.input.write_all(&line).map_err(|e| format!("cannot hand the case to container {}: {e}", r.id))?;
    let answer =
        read_line(&r.output, &mut r.pending, case_deadline(case)).map_err(|e| format!("container {}: {e}", r.id))?;
    serde_json::from_slice::<Answer>(&answer).map_err(|e| {
        format!(
            "container {} answered something that is not an answer ({e}): {}",
            r.id,
            bounded(&String::from_utf8_lossy(&answer))
        )
    })
}

/// One line from `pipe` (without its newline), within `deadline`.
fn read_line(pipe: &File, pending: &mut Vec<u8>, deadline: Duration) -> Result<Vec<u8>, String> {
    let stop_at = Instant::now() + deadline;
    loop {
        if let Some(n) = pending.iter().position(|&b| b == b'\n') {
            let line = pending[..n].to_vec();
            pending.drain(..=n);
            return Ok(line);
        }
        let left = stop_at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no answer within {}s", deadline.as_secs()));
        }
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(left.as_millis().min(60_000) as u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("cannot poll its output: {}", errno_text::name(e))),
        }
        let mut chunk = [0u8; 64 * 1024];
        match (&*pipe).read(&mut chunk) {
            Ok(0) => return Err("it ended without an answer".into()),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read its answer: {e}")),
        }
    }
}

/// `e`, with the end of what the runtime and the container said on stderr.
fn with_log(e: &str, r: &Running) -> String {
    let said = std::fs::read(&r.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let said = said.trim();
    if said.is_empty() {
        e.to_string()
    } else {
        format!("{e}; it said: {}", bounded(said))
    }
}

/// Kills the container's PID 1, and with it every process of its PID namespace; then its
/// supervisor (nspawn), if it has one; its overlayfs root is detached (its upper layer stays on
/// the tmpfs, as a stopped container's does).
fn stop(mut r: Running) {
    // SAFETY: kill(2) with a pid and a signal; ESRCH when it is gone already.
    unsafe { libc::kill(r.pid, libc::SIGKILL) };
    if let Some(s) = &mut r.supervisor {
        let _ = wait_with_deadline(s, Duration::from_secs(10));
    }
    if let Some(merged) = &r.overlay {
        if let Err(e) = setup::detach_tmpfs(merged) {
            log(&format!("{}: {e}", r.id));
        }
    }
}

/// The container's overlayfs root, as overlay2 mounts it: the image (the bind of the guest's
/// `/`) as the one read-only lower layer, the container's own `diff` as upper, `work` beside
/// it, all on the engine's tmpfs; `index=off`, as dockerd asks wherever the kernel has the
/// option (every kernel with Landlock has). `None` when the kernel has no overlayfs.
fn overlay_root(id: &str) -> Result<Option<String>, String> {
    if crate::modules::overlayfs() != Some(true) {
        return Ok(None);
    }
    let dir = format!("{OVERLAY2}/{id}");
    let (upper, work, merged) = (format!("{dir}/diff"), format!("{dir}/work"), format!("{dir}/merged"));
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {d}: {e}"))?;
    }
    let options = format!("index=off,lowerdir={ROOTFS},upperdir={upper},workdir={work}");
    mount(Some("overlay"), merged.as_str(), Some("overlay"), MsFlags::empty(), Some(options.as_str()))
        .map_err(|e| format!("cannot mount the container's overlayfs root on {merged}: {}", errno_text::name(e)))?;
    Ok(Some(merged))
}

/// Runs `f` in a child process that has entered the mount namespace and the root directory of
/// `pid` (as `nsenter --mount --root` would): mounts made there are the container's.
fn in_container(pid: i32, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let ns = File::open(format!("/proc/{pid}/ns/mnt")).map_err(|e| format!("cannot open its mount namespace: {e}"))?;
    let root = File::open(format!("/proc/{pid}/root")).map_err(|e| format!("cannot open its root: {e}"))?;
    let (mut read_end, write_end) = pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    // SAFETY: the agent is single-threaded (spawn.rs), so the child may run ordinary Rust code;
    // it leaves by _exit and never returns into the agent.
    match unsafe { libc::fork() } {
        -1 => Err(format!("cannot fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(read_end);
            let entered = enter(&ns, &root).and_then(|()| f());
            let code = match entered {
                Ok(()) => 0,
                Err(e) => {
                    let _ = File::from(write_end).write_all(e.as_bytes());
                    1
                }
            };
            // SAFETY: leaves the child without running the agent's destructors or atexit hooks.
            unsafe { libc::_exit(code) }
        }
        child => {
            drop(write_end);
            let mut said = String::new();
            let _ = read_end.read_to_string(&mut said);
            let mut status = 0;
            // SAFETY: waits for the child forked above.
            while unsafe { libc::waitpid(child, &mut status, 0) } < 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
            if said.is_empty() && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else if said.is_empty() {
                Err(format!("the helper in its mount namespace ended with status {status}"))
            } else {
                Err(said)
            }
        }
    }
}

/// setns into the mount namespace `ns`, then chroot to `root` (a directory of that namespace).
fn enter(ns: &File, root: &File) -> Result<(), String> {
    // SAFETY: raw system calls on descriptors we hold and a static path.
    unsafe {
        if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) != 0 {
            return Err(format!("cannot enter its mount namespace: {}", std::io::Error::last_os_error()));
        }
        if libc::fchdir(root.as_raw_fd()) != 0 || libc::chroot(c".".as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
            return Err(format!("cannot enter its root: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Once per boot: the cgroup v2 hierarchy the runtime manages, and the container's root.
fn prepare_guest() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let _ = std::fs::create_dir_all("/sys/fs/cgroup");
        match mount(Some("cgroup2"), "/sys/fs/cgroup", Some("cgroup2"), MsFlags::empty(), None::<&str>) {
            Ok(()) | Err(nix::errno::Errno::EBUSY) => {}
            Err(e) => return Err(format!("cannot mount cgroup2 on /sys/fs/cgroup: {}", errno_text::name(e))),
        }
        // What udev would have made. runc 1.1 re-executes its sealed copy of itself through
        // /dev/fd/N on some kernels (Debian's 5.10 here): without the link it fails with ENOENT.
        if std::fs::symlink_metadata("/dev/fd").is_err() {
            std::os::unix::fs::symlink("/proc/self/fd", "/dev/fd").map_err(|e| format!("cannot link /dev/fd: {e}"))?;
        }
        for d in [ROOTFS, BUNDLES, RUNTIME_ROOT] {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot create {d}: {e}"))?;
        }
        mount(Some("/"), ROOTFS, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| format!("cannot bind the guest's / on {ROOTFS}: {}", errno_text::name(e)))?;
        // The engine's storage: upper layers on a tmpfs, which has what overlayfs asks of an
        // upper file system (xattrs, d_type) whatever the initramfs's root is.
        std::fs::create_dir_all(OVERLAY2).map_err(|e| format!("cannot create {OVERLAY2}: {e}"))?;
        mount(Some("tmpfs"), OVERLAY2, Some("tmpfs"), MsFlags::empty(), Some("mode=0700"))
            .map_err(|e| format!("cannot mount a tmpfs on {OVERLAY2}: {}", errno_text::name(e)))
    })
    .clone()
}

/// `uname -r`.
fn release() -> String {
    // SAFETY: utsname is plain data, valid all zeroes.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname only fills the utsname it is handed, with NUL-terminated strings.
    let failed = unsafe { libc::uname(&mut uts) } != 0;
    if failed {
        return String::new();
    }
    // SAFETY: NUL-terminated by the kernel.
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }.to_string_lossy().into_owned()
}

/// The OCI runtime spec dockerd would hand runc for `docker run` with this profile (moby's
/// `oci/defaults.go` and `daemon/oci_linux.go`; Podman's is the same in every field used here):
/// Docker's mounts, masked and read-only paths, namespaces (pid, net, ipc, uts, mount, cgroup),
/// device rules, the capability set as bounding, effective and permitted, no_new_privs as
/// configured. Not reproduced: AppArmor's `docker-default` (no profiles are loaded in the
/// guest), resource limits. A case's tmpfs roots are not in it: the agent mounts them per case.
///
/// Written as JSON, not with `oci-spec`'s typed `Spec` (youki's), which was tried (commit "Prototype
/// (reverted next)…" on this branch) and measured: it doubled the static guest build's CPU time
/// (60 → 119 s cold, for derive_builder, darling, getset, strum, regex), grew the binary by
/// 192 KiB (+9.5 %), and its builders fill every field left unset with youki's defaults (an
/// RLIMIT_NOFILE, ambient and inheritable capabilities), each of which changes the container
/// under test unless cleared by hand. Instead the tests read this spec into oci-spec's `Spec` and
/// back: every field name, type and value is the runtime spec's, and nothing is added.
pub fn config_json(container: &Container, release: &str, root: &str, id: &str) -> Result<Value, String> {
    let seccomp = match &container.seccomp {
        None => Value::Null,
        Some(profile) => {
            let target = Target { arch: "amd64", capabilities: &container.capabilities, release };
            let converted =
                seccomp::convert(profile, container.flavour, &target).map_err(|e| format!("seccomp profile: {e}"))?;
            serde_json::to_value(converted).map_err(|e| e.to_string())?
        }
    };
    let mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}),
    ];
    let caps = &container.capabilities;
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [GUEST_BIN, "container-serve"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=lockgate"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": container.no_new_privileges,
        },
        "root": {"path": root, "readonly": false},
        "hostname": "lockgate",
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "cgroupsPath": format!("/lockgate/{id}"),
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "seccomp": seccomp,
            "maskedPaths": [
                "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }))
}

/// Starts the environment's container, detached: its PID 1 keeps the pipes the agent talks
/// through, the runtime exits once it runs.
fn start(container: &Container) -> Result<Running, String> {
    let n = STARTS.fetch_add(1, Ordering::SeqCst);
    let id = format!("lockgate-{}-{n}", container.env);
    if is_nspawn(container) {
        let s = crate::nspawn::start(container, &id, ROOTFS, &format!("{BUNDLES}/{id}"))?;
        return Ok(Running {
            id,
            pid: s.pid,
            input: s.input,
            output: s.output,
            pending: Vec::new(),
            log: s.log,
            // nspawn's root is the bind of the guest's `/` (`-D`), as before overlay2 roots.
            overlay: None,
            baseline: None,
            supervisor: Some(s.supervisor),
        });
    }
    let dir = format!("{BUNDLES}/{id}");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    let gvisor = is_gvisor(container);
    let overlay = if gvisor { None } else { overlay_root(&id)? };
    // Detached again if the container does not start.
    let mut guard = DetachOnDrop(overlay.clone());
    let config = config_json(container, &release(), overlay.as_deref().unwrap_or(ROOTFS), &id)?;
    std::fs::write(format!("{dir}/config.json"), serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?)
        .map_err(|e| format!("cannot write {dir}/config.json: {e}"))?;
    let (pid_file, log_path) = (format!("{dir}/pid"), format!("{dir}/stderr"));
    let (to_container, input) = pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let (output, from_container) = pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let stderr = File::create(&log_path).map_err(|e| format!("cannot create {log_path}: {e}"))?;
    let command = |program: &str| {
        let mut cmd = Command::new(program);
        cmd.arg0(&container.runtime);
        if gvisor {
            cmd.args(GVISOR_FLAGS).args(["run", "--detach"]);
            // SAFETY: the closure makes only raw system calls on strings made before the fork.
            unsafe { cmd.pre_exec(gvisor_root) };
        } else {
            cmd.args(["--root", RUNTIME_ROOT, "run", "--detach", "--no-pivot"]);
        }
        cmd.args(["--pid-file", &pid_file, "--bundle", &dir, &id])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir(&dir);
        cmd
    };
    // From the sealed copy when there is one and it can be executed (a kernel with
    // vm.memfd_noexec=2 refuses); else the runtime itself, which then copies itself.
    // runsc re-executes itself for its Sentry and gofer, and copies no sealed copy: not for it.
    let sealed = if gvisor {
        Err(())
    } else {
        crate::sealed_runtime::path_for(&container.runtime)
            .map_err(|e| log(&format!("no sealed copy of {}: {e}", container.runtime)))
    };
    let stdio = || -> Result<(Stdio, Stdio, Stdio), String> {
        let dup =
            |fd: &dyn AsFd| fd.as_fd().try_clone_to_owned().map(Stdio::from).map_err(|e| format!("cannot dup: {e}"));
        Ok((dup(&to_container)?, dup(&from_container)?, dup(&stderr)?))
    };
    let spawn = |program: &str| -> Result<std::process::Child, String> {
        let (i, o, e) = stdio()?;
        command(program)
            .stdin(i)
            .stdout(o)
            .stderr(e)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {} ({e})", errno_text::name_of_io(&e)))
    };
    let mut child = match sealed.ok().map(|path| spawn(&path)) {
        Some(Ok(child)) => child,
        other => {
            if let Some(Err(e)) = other {
                log(&format!("cannot start the sealed copy of {}: {e}; starting it directly", container.runtime));
            }
            spawn(&container.runtime)?
        }
    };
    // Only the container keeps the other ends: its exit is our EOF.
    drop((to_container, from_container, stderr));
    let failed = |e: String| {
        let said = std::fs::read(&log_path).map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
        format!("{} run ({id}) {e}; it said: {}", container.runtime, bounded(&said))
    };
    let status = wait_with_deadline(&mut child, START_DEADLINE).map_err(&failed)?;
    if !status.success() {
        return Err(failed(format!("failed ({status})")));
    }
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .ok_or_else(|| failed(format!("left no pid in {pid_file}")))?;
    guard.0 = None;
    Ok(Running {
        id,
        pid,
        input: File::from(input),
        output,
        pending: Vec::new(),
        log: log_path,
        overlay,
        baseline: None,
        supervisor: None,
    })
}

/// An overlayfs root to detach unless the container it was mounted for started.
struct DetachOnDrop(Option<String>);

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        if let Some(merged) = self.0.take() {
            let _ = setup::detach_tmpfs(&merged);
        }
    }
}

/// runsc's flags, before its command: its state under /run, the ptrace platform (KVM's needs
/// /dev/kvm, which a TCG guest has not; systrap works too, slower under TCG), no network stack,
/// no cgroups, and the guest's root served as it is, so that the accounts and policy files the
/// agent writes there after the start are seen inside (no overlay, no caching).
const GVISOR_FLAGS: [&str; 6] = [
    "--root=/run/runsc",
    "--platform=ptrace",
    "--network=none",
    "--ignore-cgroups",
    "--overlay2=none",
    "--file-access=shared",
];

/// Whether the environment's runtime is gVisor's.
pub fn is_gvisor(container: &Container) -> bool {
    container.runtime.ends_with("/runsc")
}

/// Whether the environment's container is systemd-nspawn's (`/usr/bin/systemd-nspawn-252`).
fn is_nspawn(container: &Container) -> bool {
    container.runtime.contains("/systemd-nspawn")
}

/// In the runtime's child, before exec: runsc pivot_roots its Sentry and gofer away from the
/// root, which the initramfs's own root cannot be (it has no parent mount) and runsc has no
/// `--no-pivot`. So it starts in a mount namespace of its own, chrooted into the bind of the
/// guest's `/` (a mount with a parent) moved over `/`, with /proc, /dev, /sys, /run and /tmp in
/// it and the bind itself at its own path, where the bundle names it.
fn gvisor_root() -> std::io::Result<()> {
    // Constant paths (no allocation between fork and exec): ROOTFS and what goes in it.
    const _: () = assert!(matches!(ROOTFS.as_bytes(), b"/run/lockgate/rootfs"));
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
    let root = c"/run/lockgate/rootfs";
    let null = std::ptr::null::<libc::c_void>();
    let none = std::ptr::null::<libc::c_char>();
    // SAFETY: raw system calls with static NUL-terminated strings.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, null))?;
        check(libc::mount(c"proc".as_ptr(), c"/run/lockgate/rootfs/proc".as_ptr(), c"proc".as_ptr(), 0, null))?;
        for (src, dst) in [
            (c"/dev", c"/run/lockgate/rootfs/dev"),
            (c"/sys", c"/run/lockgate/rootfs/sys"),
            (c"/tmp", c"/run/lockgate/rootfs/tmp"),
        ] {
            check(libc::mount(src.as_ptr(), dst.as_ptr(), none, libc::MS_BIND | libc::MS_REC, null))?;
        }
        check(libc::mount(c"/run".as_ptr(), c"/run/lockgate/rootfs/run".as_ptr(), none, libc::MS_BIND, null))?;
        let inner = c"/run/lockgate/rootfs/run/lockgate/rootfs";
        check(libc::mount(root.as_ptr(), inner.as_ptr(), none, libc::MS_BIND, null))?;
        // Moved over `/` (as switch_root does), not a plain chroot: the kernel refuses a new
        // user namespace, which runsc's gofer and Sentry take, to a chrooted process.
        check(libc::chdir(root.as_ptr()))?;
        check(libc::mount(root.as_ptr(), c"/".as_ptr(), none, libc::MS_MOVE, null))?;
        check(libc::chroot(c".".as_ptr()))?;
        check(libc::chdir(c"/".as_ptr()))?;
    }
    Ok(())
}

/// `lockgate-guest oci-config ROOTFS`: the config.json this guest would give the runtime for the
/// container of the case on stdin (which must name a container), for this machine's kernel, with
/// ROOTFS as the root. For running an environment's container by hand, or with another runtime.
pub fn oci_config_main(root: Option<String>) -> i32 {
    let Some(root) = root else {
        eprintln!("usage: lockgate-guest oci-config ROOTFS < case.json");
        return 2;
    };
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let case: Case = match serde_json::from_str(&input) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lockgate-guest oci-config: the case on stdin is not valid: {e}");
            return 2;
        }
    };
    let Some(container) = &case.container else {
        eprintln!("lockgate-guest oci-config: the case names no container");
        return 2;
    };
    match config_json(container, &release(), &root, &format!("lockgate-{}", container.env)) {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            0
        }
        Err(e) => {
            eprintln!("lockgate-guest oci-config: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::seccomp::{Flavour, Profile, DOCKER_DEFAULT_CAPABILITIES};

    #[test]
    fn the_spec_is_dockers_with_the_converted_profile() {
        let profile: Profile = serde_json::from_str(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
                "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}]}"#,
        )
        .unwrap();
        let container = Container {
            env: "docker-20.10.5".into(),
            runtime: "/usr/sbin/runc".into(),
            seccomp: Some(profile),
            flavour: Flavour::Docker,
            capabilities: DOCKER_DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect(),
            no_new_privileges: false,
        };
        let c = config_json(&container, "6.12.117+deb13-cloud-amd64", ROOTFS, "lockgate-x-0").unwrap();
        assert_eq!(c["process"]["noNewPrivileges"], false);
        assert_eq!(c["process"]["args"], json!([GUEST_BIN, "container-serve"]));
        assert_eq!(c["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(c["linux"]["seccomp"]["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
        assert_eq!(c["linux"]["seccomp"]["syscalls"][0]["names"], json!(["ptrace"]));
        assert_eq!(c["linux"]["cgroupsPath"], "/lockgate/lockgate-x-0");
        let types: Vec<&str> =
            c["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
        let old = config_json(&container, "4.4.0-21-generic", ROOTFS, "lockgate-x-1").unwrap();
        assert!(old["linux"]["seccomp"].get("syscalls").is_none(), "ptrace needs 4.8");
    }

    /// Capabilities are a set in oci-spec: compare them in one order.
    fn sorted_caps(mut v: Value) -> Value {
        for k in ["bounding", "effective", "permitted"] {
            if let Some(a) = v["process"]["capabilities"][k].as_array_mut() {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            }
        }
        v
    }

    /// Read into oci-spec's typed runtime spec and written back, the spec is unchanged: no field
    /// is misspelt (serde would drop it), mistyped or outside the spec's values (a capability,
    /// a namespace, a seccomp action, architecture or operator), with a profile and without.
    #[test]
    fn the_spec_reads_back_through_the_typed_runtime_spec() {
        let profile: Profile = serde_json::from_str(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
                "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"},
                 {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                  "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        )
        .unwrap();
        for (seccomp, flavour, nnp) in [(Some(profile), Flavour::Docker, false), (None, Flavour::Podman, true)] {
            let container = Container {
                env: "docker-26.1.5".into(),
                runtime: "/usr/sbin/runc".into(),
                seccomp,
                flavour,
                capabilities: DOCKER_DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect(),
                no_new_privileges: nnp,
            };
            let mut ours = config_json(&container, "6.12.117+deb13-cloud-amd64", ROOTFS, "lockgate-x-0").unwrap();
            // A null seccomp is no seccomp to runc and crun; oci-spec writes none.
            if ours["linux"]["seccomp"].is_null() {
                ours["linux"].as_object_mut().unwrap().remove("seccomp");
            }
            let typed: oci_spec::runtime::Spec =
                serde_json::from_value(ours.clone()).unwrap_or_else(|e| panic!("not an OCI runtime spec: {e}"));
            let back = serde_json::to_value(&typed).unwrap();
            assert_eq!(sorted_caps(back), sorted_caps(ours));
        }
    }

    #[test]
    fn a_line_is_read_across_reads_and_the_rest_kept() {
        let (read_end, write_end) = pipe().unwrap();
        let mut w = File::from(write_end);
        w.write_all(b"{\"a\":").unwrap();
        w.write_all(b"1}\nnext").unwrap();
        let mut pending = Vec::new();
        assert_eq!(read_line(&read_end, &mut pending, Duration::from_secs(5)).unwrap(), b"{\"a\":1}");
        assert_eq!(pending, b"next");
        drop(w);
        let err = read_line(&read_end, &mut pending, Duration::from_secs(5)).unwrap_err();
        assert!(err.contains("ended without an answer"), "{err}");
    }
}
