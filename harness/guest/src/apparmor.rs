//! AppArmor environments: the policy a case asks for put in place in the guest's kernel before
//! its runs (profiles loaded by the pinned parser, the restriction on unprivileged user
//! namespaces set), undone before a case that asks for another or none; and the kernel's
//! AppArmor denials read from its log while a run goes on.

use lockgate_protocol::{AppArmor, APPARMOR_DENIED};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use std::sync::Mutex;

const RESTRICT: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";

/// The policy in place now (`None`: as the guest booted).
static IN_PLACE: Mutex<Option<AppArmor>> = Mutex::new(None);

/// Puts `want` in place (the previous environment's undone first); an error says what could not
/// be done, and the case's runs are then not made.
pub fn ensure(want: Option<&AppArmor>) -> Result<(), String> {
    let mut in_place = IN_PLACE.lock().unwrap_or_else(|p| p.into_inner());
    if in_place.as_ref() == want {
        return Ok(());
    }
    if let Some(old) = in_place.take() {
        undo(&old)?;
    }
    if let Some(new) = want {
        put(new)?;
        *in_place = Some(new.clone());
    }
    Ok(())
}

fn put(a: &AppArmor) -> Result<(), String> {
    // The kernel's AppArmor is reached through securityfs, which the agent leaves unmounted
    // unless the kernel manifest asks for it.
    if !std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        match mount(Some("securityfs"), "/sys/kernel/security", Some("securityfs"), MsFlags::empty(), None::<&str>) {
            Ok(()) | Err(Errno::EBUSY) => {}
            Err(e) => return Err(format!("{}: cannot mount securityfs: {e:?} ({})", a.env, e.desc())),
        }
    }
    // Without auditd the kernel's audit thread prints each record under printk_ratelimit() (10
    // in 5 s by default): a burst of denials (a namespace sandbox refused in both runs) lost the
    // enforced run's own record, and its marker, in some runs and not others. A ratelimit
    // interval of 0 lets every record through.
    std::fs::write("/proc/sys/kernel/printk_ratelimit", "0").map_err(|e| {
        format!("{}: cannot lift the kernel's printk rate limit (audit records would be lost): {e}", a.env)
    })?;
    if !std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
        return Err(format!(
            "{}: this kernel has no AppArmor running (no /sys/kernel/security/apparmor; its LSMs: `{}`): an AppArmor environment needs a kernel that starts AppArmor",
            a.env,
            lsm.trim()
        ));
    }
    for profile in &a.profiles {
        parser(a, "-r", profile)?;
    }
    if a.restrict_unprivileged_userns {
        restrict(a, "1")?;
    }
    Ok(())
}

fn undo(a: &AppArmor) -> Result<(), String> {
    if a.restrict_unprivileged_userns {
        restrict(a, "0")?;
    }
    for profile in a.profiles.iter().rev() {
        parser(a, "-R", profile)?;
    }
    Ok(())
}

fn restrict(a: &AppArmor, value: &str) -> Result<(), String> {
    std::fs::write(RESTRICT, value).map_err(|e| {
        format!("{}: cannot write {value} to {RESTRICT} ({e}): the kernel has no such restriction (an Ubuntu kernel has it)", a.env)
    })
}

/// The parser with `flag` (`-r` replace, `-R` remove) on `profile`.
fn parser(a: &AppArmor, flag: &str, profile: &str) -> Result<(), String> {
    let Some((program, args)) = a.parser.split_first() else {
        return Err(format!("{}: no parser command", a.env));
    };
    let out = Command::new(program)
        .args(args)
        .args([flag, profile])
        .output()
        .map_err(|e| format!("{}: cannot start the AppArmor parser {program}: {e}", a.env))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}: the AppArmor parser ({flag} {profile}) failed ({}): {}",
        a.env,
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Sends a user record (AUDIT_USER_AVC, which the kernel takes even with auditing off) through
/// the kernel's audit queue, behind every record made before it; returns its text, or `None`
/// when it could not be sent.
fn audit_marker() -> Option<String> {
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    const AUDIT_USER_AVC: u16 = 1107;
    let text = format!("lockgate-audit-marker-{}", SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    // SAFETY: plain socket calls on a descriptor of our own, with buffers that outlive them.
    unsafe {
        let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_AUDIT);
        if fd < 0 {
            return None;
        }
        let header = std::mem::size_of::<libc::nlmsghdr>();
        let len = header + text.len() + 1;
        let mut buf = vec![0u8; (len + 3) & !3];
        let h = libc::nlmsghdr {
            nlmsg_len: len as u32,
            nlmsg_type: AUDIT_USER_AVC,
            nlmsg_flags: libc::NLM_F_REQUEST as u16,
            nlmsg_seq: 1,
            nlmsg_pid: 0,
        };
        std::ptr::copy_nonoverlapping(&h as *const _ as *const u8, buf.as_mut_ptr(), header);
        buf[header..header + text.len()].copy_from_slice(text.as_bytes());
        let mut to: libc::sockaddr_nl = std::mem::zeroed();
        to.nl_family = libc::AF_NETLINK as u16;
        let sent = libc::sendto(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            0,
            &to as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        );
        libc::close(fd);
        (sent >= 0).then_some(text)
    }
}

/// An audit record without what differs from boot to boot: its header (`audit: type=1400
/// audit(TIME:SERIAL): `) and the process id (`pid=N`); what was refused, to which program, stays.
fn stable(record: &str) -> String {
    let body = match record.find("apparmor=") {
        Some(i) => &record[i..],
        None => record,
    };
    body.split(' ').filter(|w| !w.starts_with("pid=") && !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The kernel's log, read from where it ended when opened.
pub struct KernelLog(Option<std::fs::File>);

/// At most this many denials are kept per run, each at most this long.
const MAX_DENIALS: usize = 16;
const MAX_LINE: usize = 600;
/// How long to wait for the marker record after a run.
const WAIT: std::time::Duration = std::time::Duration::from_secs(3);
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

impl KernelLog {
    /// Opened at its end: only what the kernel logs from now on is read. Never fails: a guest
    /// without /dev/kmsg reads nothing.
    pub fn from_now() -> KernelLog {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok()
            .and_then(|mut f| f.seek(SeekFrom::End(0)).ok().map(|_| f));
        KernelLog(file)
    }

    /// The AppArmor denials logged since it was opened (each record's text, without its
    /// header), at most [`MAX_DENIALS`]. The kernel's audit thread prints its records after the
    /// call that made them returned, in the order they were made: a marker record is sent
    /// through the same queue ([`audit_marker`]), and the log read until it shows (or
    /// [`WAIT`] passed: a kernel without audit; `put` lifts the printk rate limit that lost records).
    pub fn apparmor_denials(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let marker = audit_marker();
        let started = std::time::Instant::now();
        loop {
            let (read, marked) = self.read_some(&mut out, marker.as_deref());
            if !read || marked || marker.is_none() || started.elapsed() > WAIT {
                break;
            }
            std::thread::sleep(POLL);
        }
        out
    }

    /// Reads what is there now into `out`; false when the log cannot be read.
    /// Also says whether `marker` was among it.
    fn read_some(&mut self, out: &mut Vec<String>, marker: Option<&str>) -> (bool, bool) {
        let Some(f) = self.0.as_mut() else { return (false, false) };
        let mut marked = false;
        let mut buf = vec![0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let text = record.split_once(';').map(|(_, t)| t).unwrap_or(&record);
                    let text = text.lines().next().unwrap_or_default().trim();
                    marked |= marker.is_some_and(|m| text.contains(m));
                    if text.contains(APPARMOR_DENIED) && out.len() < MAX_DENIALS {
                        out.push(stable(text).chars().take(MAX_LINE).collect());
                    }
                }
                // Records overwritten before they were read: go on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return (false, marked),
            }
        }
        (true, marked)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_keeps_what_was_refused_and_drops_what_differs_per_boot() {
        let r = r#"audit: type=1400 audit(1796367151.656:15): apparmor="DENIED" operation="capable" class="cap" profile="unprivileged_userns" pid=89 comm="bwrap" capability=8  capname="setpcap""#;
        assert_eq!(
            super::stable(r),
            r#"apparmor="DENIED" operation="capable" class="cap" profile="unprivileged_userns" comm="bwrap" capability=8 capname="setpcap""#
        );
    }
}
