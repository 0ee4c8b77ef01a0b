//! PID 1 of the VM: mount the pseudo filesystems, announce readiness on the console, read the
//! plan, send the preflight, observe every case (`case.rs`, whatever its environment) and send
//! its record, power off.
//!
//! PID 1 must never die by accident (that is a kernel panic, and every record after it is
//! lost): errors become Fault records, and a panic hook sends a last Fault and powers off.

use crate::clock::monotonic;
use crate::console::log;
use crate::records::{self, RecordPort, RECORD_PORT};
use crate::{case, preflight, shell};
use lockgate_protocol::{Fault, GuestTiming, Plan, PLAN_PATH, READY_MARKER, VERSION};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::stat::{umask, Mode};
use std::io::Write;
use std::time::Duration;

/// Runs the agent; never returns.
pub fn main() -> ! {
    let agent_start = monotonic();
    umask(Mode::from_bits_truncate(0o022));
    let mut early_faults: Vec<String> = root_on_a_mount().err().into_iter().collect();
    early_faults.extend(mount_filesystems());
    if let Err(e) = loopback_up() {
        early_faults.push(format!("cannot bring the loopback interface up: {e:?}; TCP probes will fail"));
    }
    announce_ready();

    let mut port = match RecordPort::open(RECORD_PORT) {
        Ok(port) => port,
        Err(e) => {
            log(&format!("cannot open the record port {RECORD_PORT}: {e}"));
            power_off(None);
        }
    };
    let plan = match load_plan() {
        Ok(plan) => plan,
        Err(message) => {
            log(&message);
            send(&mut port, |p| p.fault(message.clone()));
            power_off(Some(&port));
        }
    };
    port.set_nonce(&plan.nonce);
    install_panic_hook();
    if let Err(e) = crate::entropy::seed(&plan.rng_seed) {
        // Not a fault: the cases run as well, the first read of the pool only waits longer.
        log(&format!("cannot seed the kernel's random pool: {e}"));
    }
    // After the plan: a kernel manifest can ask for the securityfs a system's init leaves
    // unmounted (WSL2), and the preflight must see the guest as that system would.
    if plan.mount_securityfs {
        early_faults.extend(mount_securityfs());
    }
    send(&mut port, |p| p.hello());
    if plan.version != VERSION {
        let message = format!(
            "the plan speaks protocol version {}, this guest speaks {VERSION}: rebuild the guest image",
            plan.version
        );
        send(&mut port, |p| p.fault(message.clone()));
        power_off(Some(&port));
    }
    for message in early_faults {
        send(&mut port, |p| p.fault(message.clone()));
    }
    send(&mut port, |p| p.preflight(preflight::gather()));
    let preflight_end = monotonic();

    if let Some(fault) = plan.fault {
        commit_fault(fault, &mut port);
    }

    log(&format!("observing {} case(s) on {}", plan.cases.len(), plan.kernel));
    let mut sent = 0;
    let mut timings = Vec::with_capacity(plan.cases.len());
    for case in &plan.cases {
        let (observation, timing) = case::observe(case);
        timings.push(timing);
        if send(&mut port, |p| p.case(observation)) {
            sent += 1;
        }
    }
    let timing = GuestTiming { agent_start, preflight_end, cases: timings, done: monotonic() };
    send(&mut port, |p| p.done(sent, timing));
    if plan.shell {
        port.drain();
        shell::hand_over(plan.cases.last());
    }
    power_off(Some(&port));
}

/// The faults the host's own tests ask for (see [`Fault`]).
fn commit_fault(fault: Fault, port: &mut RecordPort) {
    log(&format!("committing injected fault {fault:?}"));
    match fault {
        Fault::ExitAfterPreflight => {
            port.drain();
            std::process::exit(1);
        }
        Fault::SkipDone => power_off(Some(port)),
        Fault::Hang => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        Fault::Garble => {
            send(port, |p| p.write_raw(b"{\"record\":\"case\",\"nonce\":\n"));
            power_off(Some(port));
        }
        Fault::WrongNonce => {
            let stale = lockgate_protocol::Record::Done { nonce: "stale".into(), cases: 0, timing: None };
            send(port, |p| p.send(&stale));
            power_off(Some(port));
        }
    }
}

/// Sends one record; a failed write is logged on the console (there is nowhere else to say it)
/// and reported as false.
fn send(port: &mut RecordPort, op: impl FnOnce(&mut RecordPort) -> std::io::Result<()>) -> bool {
    match op(port) {
        Ok(()) => true,
        Err(e) => {
            log(&format!("cannot write to the record port: {e}"));
            false
        }
    }
}

/// The initramfs is the kernel's rootfs, which no process may pivot_root away from (EINVAL):
/// a namespace sandbox (bubblewrap) could not start on it, as it starts on every installed
/// system. The guest's root becomes a bind mount of it, moved onto / and chrooted into (what
/// an initramfs's switch_root leaves behind), before anything else is mounted.
fn root_on_a_mount() -> Result<(), String> {
    let at = "/.lockgate-root";
    let step = |what: &str, r: nix::Result<()>| {
        r.map_err(|e| {
            format!("cannot put the root on a mount ({what}): {e:?}; a namespace sandbox cannot pivot_root here")
        })
    };
    step("mkdir", std::fs::create_dir_all(at).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
    step("bind", mount(Some("/"), at, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>))?;
    step("chdir", nix::unistd::chdir(at))?;
    step("move", mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>))?;
    step("chroot", nix::unistd::chroot("."))?;
    step("chdir /", nix::unistd::chdir("/"))
}

type Mount<'a> = (&'a str, &'a str, &'a str, &'a [Errno]);

/// proc, sysfs, devtmpfs, tmpfs on /tmp and /run. Returns what failed (reported as Faults once
/// the record port is open). "Already mounted" is not a failure.
fn mount_filesystems() -> Vec<String> {
    mount_all(&[
        ("proc", "/proc", "proc", &[Errno::EBUSY]),
        ("sysfs", "/sys", "sysfs", &[Errno::EBUSY]),
        ("devtmpfs", "/dev", "devtmpfs", &[Errno::EBUSY]),
        ("tmpfs", "/tmp", "tmpfs", &[Errno::EBUSY]),
        ("tmpfs", "/run", "tmpfs", &[Errno::EBUSY]),
    ])
}

/// securityfs on /sys/kernel/security; a kernel without it is not a failure (the preflight then
/// reports no LSM list).
fn mount_securityfs() -> Vec<String> {
    mount_all(&[("securityfs", "/sys/kernel/security", "securityfs", &[Errno::EBUSY, Errno::ENOENT, Errno::ENODEV])])
}

fn mount_all(table: &[Mount]) -> Vec<String> {
    let mut faults = Vec::new();
    for &(source, target, fstype, tolerated) in table {
        // /sys/kernel/security exists only once sysfs is mounted; never create it ourselves.
        if target != "/sys/kernel/security" {
            let _ = std::fs::create_dir_all(target);
        }
        match mount(Some(source), target, Some(fstype), MsFlags::empty(), None::<&str>) {
            Ok(()) => {}
            Err(e) if tolerated.contains(&e) => {}
            Err(e) => faults.push(format!("cannot mount {fstype} on {target}: {e:?} ({})", e.desc())),
        }
    }
    faults.extend(dev_links());
    faults
}

/// /dev/fd and /dev/std{in,out,err}, as udev (and an OCI runtime, in a container) make them:
/// devtmpfs has none. Without /dev/fd, execveat(fd, "", AT_EMPTY_PATH) fails with ENOENT on
/// Debian 5.10, whose TOMOYO resolves the exec's name `/dev/fd/N` by path; a real system has it.
fn dev_links() -> Vec<String> {
    let links = [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    links
        .iter()
        .filter_map(|(target, link)| match std::os::unix::fs::symlink(target, link) {
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            Err(e) => Some(format!("cannot link {link} to {target}: {e}")),
        })
        .collect()
}

/// `ip link set lo up`, without ip: SIOCGIFFLAGS, add IFF_UP, SIOCSIFFLAGS.
fn loopback_up() -> Result<(), Errno> {
    // SAFETY: plain socket(2); the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: ifreq is plain data; the name is NUL-terminated by the zeroing; the ioctls read
    // and write only this struct.
    let result = unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(Errno::last())
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                Err(Errno::last())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: closes the socket opened above.
    unsafe { libc::close(fd) };
    result
}

/// The host's supervisor waits for this line to tell "the kernel booted" from "it hung".
fn announce_ready() {
    match std::fs::OpenOptions::new().write(true).open("/dev/console") {
        Ok(mut console) => {
            let _ = console.write_all(format!("{READY_MARKER}\n").as_bytes());
        }
        Err(_) => log(READY_MARKER),
    }
}

fn load_plan() -> Result<Plan, String> {
    let text = std::fs::read_to_string(PLAN_PATH).map_err(|e| format!("cannot read the plan {PLAN_PATH}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("the plan {PLAN_PATH} is not valid: {e}"))
}

/// A panic in PID 1 would panic the kernel and lose the reason: send it as a Fault record
/// instead, then power off as usual (the guest profile aborts on panic, so unwinding is not an
/// option). The host sees a Fault and no Done: a harness error with a message.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("guest agent panicked: {info}");
        log(&message);
        records::fault_from_panic(message);
        if std::process::id() != 1 {
            std::process::exit(101); // run by hand: say it failed, like a normal panic would
        }
        power_off(None);
    }));
}

/// Drains the record port, syncs, powers off. Outside the VM (the agent run by hand, not as
/// PID 1) it exits instead: powering off a developer's machine is never the right answer.
fn power_off(port: Option<&RecordPort>) -> ! {
    if let Some(port) = port {
        port.drain();
    }
    nix::unistd::sync();
    if std::process::id() == 1 {
        let err = reboot(RebootMode::RB_POWER_OFF).err();
        log(&format!("power-off failed: {err:?}"));
        // Returning from PID 1 panics the kernel, which the host reports; better than hanging.
        std::process::exit(1);
    }
    std::process::exit(0);
}
