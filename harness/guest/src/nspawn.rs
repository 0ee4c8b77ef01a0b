//! systemd-nspawn environments: the container is nspawn's, started as a system's administrator
//! starts one (`systemd-nspawn -D DIR -- COMMAND`), with nspawn's own namespaces, mounts,
//! capability set and built-in seccomp filter, none of which lockgate sets. nspawn is not an OCI
//! runtime: it takes a directory, not a bundle, and stays in the foreground as the container's
//! supervisor. The container's PID 1 is `lockgate-guest container-serve`, as under runc, talking
//! through nspawn's stdin and stdout (`--console=pipe`).
//!
//! The directory is the non-recursive bind of the guest's `/` the OCI environments use as their
//! root (the initramfs has no directory nspawn could take as a tree: nspawn wants a `/usr`).
//! What nspawn would otherwise write into the tree or ask of a running systemd is turned off:
//! no registration with systemd-machined and no scope unit (no D-Bus in the guest), no
//! resolv.conf, timezone or journal link copied into it.

use crate::console::log;
use crate::spawn::{pipe, wait_with_deadline};
use lockgate_protocol::{bounded, Container, GUEST_BIN};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long nspawn may take until the container's PID 1 runs.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Where each nspawn runs, in a cgroup of its own (`CGROUP/<id>`): with `--keep-unit` it makes
/// the container's cgroup under its own, which must not be the root of the hierarchy (where a
/// process cannot have child groups and processes both); and not one shared by every start,
/// because once an OCI runtime of the same boot has enabled controllers at the root, nspawn
/// enables them in its own group, which then takes no new process (cgroup v2's rule: EBUSY).
const CGROUP: &str = "/sys/fs/cgroup/lockgate-nspawn";
/// The variable that tells the container's PID 1 apart in /proc (its pid in the VM's namespace
/// is nowhere else: nspawn writes no pid file).
const MARK: &str = "LOCKGATE_CONTAINER";
const OS_RELEASE: &str = "/usr/lib/os-release";

/// A started nspawn container.
pub struct Started {
    /// Its PID 1 (`container-serve`), as the VM sees it.
    pub pid: i32,
    /// Its stdin and stdout.
    pub input: File,
    pub output: File,
    /// Where nspawn's and the container's stderr go.
    pub log: String,
    /// nspawn itself, the container's supervisor for its whole life.
    pub supervisor: std::process::Child,
}

/// Starts the environment's nspawn container `id` on `root`; `dir` holds its log.
pub fn start(container: &Container, id: &str, root: &str, dir: &str) -> Result<Started, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    let cgroup = format!("{CGROUP}/{id}");
    std::fs::create_dir_all(&cgroup).map_err(|e| format!("cannot create the cgroup {cgroup}: {e}"))?;
    // Made before the fork: the child only opens it.
    let procs = std::ffi::CString::new(format!("{cgroup}/cgroup.procs")).map_err(|e| e.to_string())?;
    // nspawn binds the host's os-release into the container (/run/host/os-release) and fails
    // without one; the guest is no distribution, and says so.
    if std::fs::metadata(OS_RELEASE).is_err() {
        std::fs::create_dir_all("/usr/lib").map_err(|e| format!("cannot create /usr/lib: {e}"))?;
        std::fs::write(OS_RELEASE, "ID=lockgate\nNAME=\"lockgate guest\"\n")
            .map_err(|e| format!("cannot write {OS_RELEASE}: {e}"))?;
    }
    let log_path = format!("{dir}/stderr");
    let (to_container, input) = pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let (output, from_container) = pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let stderr = File::create(&log_path).map_err(|e| format!("cannot create {log_path}: {e}"))?;
    let dup = |fd: &dyn AsFd| fd.as_fd().try_clone_to_owned().map(Stdio::from).map_err(|e| format!("cannot dup: {e}"));
    let mut cmd = Command::new(&container.runtime);
    cmd.arg0("systemd-nspawn")
        .args(["--quiet", "--register=no", "--keep-unit", "--console=pipe"])
        .args(["--resolv-conf=off", "--timezone=off", "--link-journal=no"])
        .arg(format!("--no-new-privileges={}", if container.no_new_privileges { "yes" } else { "no" }))
        .arg(format!("--machine={id}"))
        .arg(format!("--setenv={MARK}={id}"))
        .args(["-D", root, "--", GUEST_BIN, "container-serve"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        // Both nspawn environments of a boot take the same directory, each for its container:
        // nspawn's lock on it would refuse the second ("currently busy").
        .env("SYSTEMD_NSPAWN_LOCK", "0")
        .current_dir(dir)
        .stdin(dup(&to_container)?)
        .stdout(dup(&from_container)?)
        .stderr(dup(&stderr)?);
    // SAFETY: the closure makes only raw system calls on a string made before the fork.
    unsafe { cmd.pre_exec(move || join_cgroup(&procs)) };
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", container.runtime))?;
    // Only the container keeps the other ends: its exit is our EOF.
    drop((to_container, from_container, stderr));
    let failed = |e: String| {
        let said = std::fs::read(&log_path).map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
        format!("systemd-nspawn ({id}) {e}; it said: {}", bounded(&said))
    };
    let stop_at = Instant::now() + START_DEADLINE;
    let pid = loop {
        if let Some(pid) = find_pid1(id) {
            break pid;
        }
        match child.try_wait() {
            Ok(Some(status)) => return Err(failed(format!("ended ({status}) before the container ran"))),
            Ok(None) if Instant::now() >= stop_at => {
                let _ = child.kill();
                let _ = wait_with_deadline(&mut child, Duration::from_secs(5));
                return Err(failed(format!("did not run the container within {}s", START_DEADLINE.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(failed(format!("lost track of it: {e}"))),
        }
    };
    log(&format!("{id}: PID 1 of the container is {pid} in the VM"));
    if let Err(e) = same_users(pid) {
        let _ = child.kill();
        let _ = wait_with_deadline(&mut child, Duration::from_secs(5));
        return Err(failed(e));
    }
    Ok(Started { pid, input: File::from(input), output, log: log_path, supervisor: child })
}

/// That the container shares the VM's user namespace (nspawn makes none without
/// `--private-users`, which lockgate does not pass): a uid in there is the same user as that uid
/// on the VM, which the run outside the container relies on (`case.rs`: the control run made
/// again on the VM, as the same user, tells nspawn's own denials apart).
fn same_users(pid: i32) -> Result<(), String> {
    let ns = |p: &str| {
        std::fs::read_link(format!("/proc/{p}/ns/user")).map_err(|e| format!("cannot read /proc/{p}/ns/user: {e}"))
    };
    let (inside, here) = (ns(&pid.to_string())?, ns("self")?);
    match inside == here {
        true => Ok(()),
        false => Err(format!(
            "put the container in a user namespace of its own ({}, the VM's is {}): a uid in there is not the same user as on the VM",
            inside.display(),
            here.display()
        )),
    }
}

/// In nspawn's process, before exec: into its cgroup (`procs`, that group's `cgroup.procs`).
fn join_cgroup(procs: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: open, write and close on a path made before the fork and a static buffer.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
        libc::close(fd);
        if written != 1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The VM's pid of the process that is PID 1 of its own PID namespace and carries `MARK=id` in
/// its environment: the container's `container-serve`.
fn find_pid1(id: &str) -> Option<i32> {
    let want = format!("{MARK}={id}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let ns_pid = status.lines().find(|l| l.starts_with("NSpid:"))?;
        if ns_pid.split_whitespace().last() != Some("1") || ns_pid.split_whitespace().count() < 3 {
            return None;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        environ.split(|&b| b == 0).any(|v| v == want.as_bytes()).then_some(pid)
    })
}
