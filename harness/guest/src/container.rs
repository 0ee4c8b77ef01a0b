//! Container environments: the case runs inside a container started by the real runc, with
//! the real seccomp profile converted as the engine converts it, Docker's capabilities,
//! namespaces, mounts and masked paths, and no_new_privs off.
//!
//! This is the agent's half, on the VM's side of runc: [`observe`] converts the profile for
//! this kernel, writes the OCI bundle, runs `runc run --no-pivot` with the case on stdin and
//! reads the [`CaseObservation`] it prints. One container start per case: both runs happen
//! inside, in `container_case.rs` (PID 1 of the container), which prints its
//! [`timing_line`] for the agent to read.
//!
//! The VM's root is the initramfs, which cannot be pivot_root'ed away from: runc runs with
//! `--no-pivot` (what dockerd does with `DOCKER_RAMDISK`), and the container's root is a
//! non-recursive bind of the guest's `/` (same binaries, accounts and policy files, none of the
//! guest's own mounts). The container has no CAP_SYS_ADMIN, so its tmpfs mounts (one per
//! top-level setup directory, and /tmp) are made by runc at start; between the two runs the
//! container side empties them and resets their owner and mode (`setup::Tree::in_container`),
//! where the bare agent mounts new ones.

use crate::clock::monotonic;
use crate::console::log;
use crate::{errno_text, spawn};
use lockgate_protocol::seccomp::{self, Target};
use lockgate_protocol::{bounded, AbiProbe, Case, CaseObservation, Container, RunObservation, GUEST_BIN};
use nix::mount::{mount, MsFlags};
use serde_json::{json, Value};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The container's root: a bind of the guest's `/`.
const ROOTFS: &str = "/run/lockgate/rootfs";
const BUNDLES: &str = "/run/lockgate/bundles";
/// runc's state directory.
const RUNC_ROOT: &str = "/run/runc";
/// Both runs (each up to the case's run limit) and the container's own start and teardown.
fn container_deadline(case: &Case) -> Duration {
    Duration::from_secs(2 * u64::from(case.limits.run_seconds) + 30)
}

static STARTS: AtomicUsize = AtomicUsize::new(0);

/// Agent side: one container start for the whole case. Also returns how long the control and
/// the enforced run took inside the container, when the container side said.
pub fn observe(case: &Case, container: &Container) -> (CaseObservation, Option<(f64, f64)>) {
    let n = STARTS.fetch_add(1, Ordering::SeqCst);
    let id = format!("lockgate-{n}");
    let started = Instant::now();
    let result =
        prepare_guest().and_then(|()| bundle(case, container, &id)).and_then(|dir| start(case, container, &id, &dir));
    spawn::reap_orphans();
    let total = started.elapsed().as_secs_f64();
    match &result {
        Ok((_, Some(t))) => log(&format!(
            "{}: container {id} ({}): {total:.2}s = start {:.2}s + control {:.2}s + enforced {:.2}s + teardown {:.2}s",
            case.id,
            container.env,
            t.start,
            t.control,
            t.enforced,
            total - t.start - t.control - t.enforced
        )),
        _ => log(&format!("{}: container {id} ({}) took {total:.2}s", case.id, container.env)),
    }
    match result {
        Ok((obs, t)) => (obs, t.map(|t| (t.control, t.enforced))),
        Err(e) => (
            CaseObservation {
                id: case.id.clone(),
                landlock: AbiProbe::Errno("EUNKNOWN".into()),
                environment_error: Some(format!("{} environment: {e}", container.env)),
                control: RunObservation::default(),
                enforced: RunObservation::default(),
            },
            None,
        ),
    }
}

/// Once per boot: the cgroup v2 hierarchy runc manages, and the container's root.
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
        for d in [ROOTFS, BUNDLES, RUNC_ROOT] {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot create {d}: {e}"))?;
        }
        mount(Some("/"), ROOTFS, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| format!("cannot bind the guest's / on {ROOTFS}: {}", errno_text::name(e)))
    })
    .clone()
}

/// `uname -r`.
fn release() -> String {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return String::new();
    }
    // SAFETY: NUL-terminated by the kernel.
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }.to_string_lossy().into_owned()
}

/// Writes the bundle's config.json; returns the bundle directory.
fn bundle(case: &Case, container: &Container, id: &str) -> Result<String, String> {
    let dir = format!("{BUNDLES}/{id}");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    let config = config_json(case, container, &release(), ROOTFS)?;
    std::fs::write(format!("{dir}/config.json"), serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?)
        .map_err(|e| format!("cannot write {dir}/config.json: {e}"))?;
    Ok(dir)
}

/// The OCI runtime spec dockerd would hand runc for `docker run` with this profile (moby's
/// `oci/defaults.go` and `daemon/oci_linux.go`): Docker's mounts, masked and read-only paths,
/// namespaces (pid, net, ipc, uts, mount, cgroup), device rules, the capability set as bounding,
/// effective and permitted, no_new_privs as configured. Not reproduced: AppArmor's
/// `docker-default` (no profiles are loaded in the guest), resource limits.
pub fn config_json(case: &Case, container: &Container, release: &str, root: &str) -> Result<Value, String> {
    let seccomp = match &container.seccomp {
        None => Value::Null,
        Some(profile) => {
            let target = Target { arch: "amd64", capabilities: &container.capabilities, release };
            let converted =
                seccomp::convert(profile, container.flavour, &target).map_err(|e| format!("seccomp profile: {e}"))?;
            serde_json::to_value(converted).map_err(|e| e.to_string())?
        }
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}),
    ];
    // The scenario's sandbox tree: Docker would give the container its own writable layer; here
    // each top-level setup directory and /tmp is a tmpfs of the container's own.
    for dir in &case.setup.tmpfs {
        let mode = if dir == "/tmp" { "mode=1777" } else { "mode=0755" };
        mounts.push(json!({"destination": dir, "type": "tmpfs", "source": "tmpfs", "options": [mode]}));
    }
    let caps = &container.capabilities;
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [GUEST_BIN, "container-case"],
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
            "cgroupsPath": format!("/lockgate/{}", case.id.replace(['@', '/'], "-")),
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

/// How a container case's time divided, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ContainerTiming {
    /// From spawning runc to the container's process starting.
    start: f64,
    control: f64,
    enforced: f64,
}

/// The line the container side prints on stderr: when it started, when the control run ended,
/// when the enforced run ended. Written and read here, so the format lives in one place.
pub fn timing_line(t0: f64, t1: f64, t2: f64) -> String {
    format!("lockgate-guest container-case: t0={t0:.6} t1={t1:.6} t2={t2:.6}")
}

/// Reads the [`timing_line`] back from the container's stderr.
fn timing(stderr: &str, spawned: f64) -> Option<ContainerTiming> {
    let line = stderr.lines().find(|l| l.starts_with("lockgate-guest container-case: t0="))?;
    let mut it = line.split_whitespace().filter_map(|w| w.split_once('=')).map(|(_, v)| v.parse::<f64>().ok());
    let (t0, t1, t2) = (it.next()??, it.next()??, it.next()??);
    Some(ContainerTiming { start: t0 - spawned, control: t1 - t0, enforced: t2 - t1 })
}

/// `runc run` in the foreground: the case JSON on the container's stdin, its observation on
/// stdout. runc deletes the container when its process exits. Also returns how long the
/// container took to start and how long both runs took in it, when it said.
fn start(
    case: &Case,
    container: &Container,
    id: &str,
    dir: &str,
) -> Result<(CaseObservation, Option<ContainerTiming>), String> {
    let input = serde_json::to_vec(case).map_err(|e| e.to_string())?;
    let command = |program: &str| {
        let mut cmd = Command::new(program);
        cmd.arg0(&container.runtime)
            .args(["--root", RUNC_ROOT, "run", "--no-pivot", "--bundle", dir, id])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        cmd
    };
    let spawned = monotonic();
    // From the sealed copy when there is one and it can be executed (a kernel with
    // vm.memfd_noexec=2 refuses); else the runtime itself, which then copies itself.
    let sealed = crate::sealed_runtime::path_for(&container.runtime)
        .map_err(|e| log(&format!("no sealed copy of {}: {e}", container.runtime)));
    let mut child = match sealed.ok().map(|path| command(&path).spawn()) {
        Some(Ok(child)) => child,
        other => {
            if let Some(Err(e)) = other {
                log(&format!("cannot start the sealed copy of {}: {e}; starting it directly", container.runtime));
            }
            command(&container.runtime)
                .spawn()
                .map_err(|e| format!("cannot start {}: {} ({e})", container.runtime, errno_text::name_of_io(&e)))?
        }
    };
    let captured = spawn::supervise(&mut child, &input, container_deadline(case), 8 << 20)
        .map_err(|e| format!("lost track of runc: {e}"))?;
    let stdout = String::from_utf8_lossy(&captured.stdout);
    let stderr = String::from_utf8_lossy(&captured.stderr);
    let last = stdout.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match serde_json::from_str::<CaseObservation>(last) {
        Ok(obs) => Ok((obs, timing(&stderr, spawned))),
        Err(_) => Err(format!(
            "runc run ended ({}) without an observation; runc said: {}{}",
            captured.end.describe(),
            bounded(stderr.trim()),
            if stdout.trim().is_empty() { String::new() } else { format!("; stdout: {}", bounded(stdout.trim())) }
        )),
    }
}

/// `lockgate-guest oci-config ROOTFS`: the config.json this guest would give runc for the case
/// on stdin (which must name a container), for this machine's kernel, with ROOTFS as the root.
/// For running a case's container by hand, or with another runc (the host cross-check).
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
    match config_json(&case, container, &release(), &root) {
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
    use lockgate_protocol::{EnforcerCall, Identity, Setup};

    fn case(tmpfs: &[&str]) -> Case {
        Case {
            id: "s@docker-20.10.5".into(),
            setup: Setup { users: vec![], tmpfs: tmpfs.iter().map(|s| s.to_string()).collect(), paths: vec![] },
            identity: Identity { uid: 998, gid: 998, groups: vec![998] },
            enforcer: EnforcerCall { argv: vec![], env: vec![], files: vec![], drop_privileges: false },
            steps: vec![],
            workdir: "/".into(),
            container: None,
            limits: Default::default(),
            policy_paths: vec![],
        }
    }

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
        let c = config_json(&case(&["/sandbox", "/tmp"]), &container, "6.12.117+deb13-cloud-amd64", ROOTFS).unwrap();
        assert_eq!(c["process"]["noNewPrivileges"], false);
        assert_eq!(c["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(c["linux"]["seccomp"]["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
        assert_eq!(c["linux"]["seccomp"]["syscalls"][0]["names"], json!(["ptrace"]));
        let types: Vec<&str> =
            c["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
        let tmp = c["mounts"].as_array().unwrap().iter().find(|m| m["destination"] == "/tmp").unwrap();
        assert_eq!(tmp["options"], json!(["mode=1777"]));
        let old = config_json(&case(&[]), &container, "4.4.0-21-generic", ROOTFS).unwrap();
        assert!(old["linux"]["seccomp"].get("syscalls").is_none(), "ptrace needs 4.8");
    }

    #[test]
    fn the_timing_line_reads_back() {
        let line = timing_line(10.0, 12.5, 14.0);
        let stderr = format!("runc: some noise\n{line}\n");
        assert_eq!(timing(&stderr, 9.5), Some(ContainerTiming { start: 0.5, control: 2.5, enforced: 1.5 }));
        assert_eq!(timing("runc: no line here\n", 9.5), None);
    }
}
