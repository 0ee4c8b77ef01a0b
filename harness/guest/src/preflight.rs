//! What the kernel offers, measured before any case runs: release, LSM list, Landlock ABI by
//! raw syscall, seccomp mode, command line, the i386 and x32 entries, overlayfs (after loading
//! the modules staged for the kernel).

use crate::{entries, errno_text};
use lockgate_protocol::{AbiProbe, KernelConfig, Preflight, SeccompFilterProbe};
use nix::errno::Errno;

/// `LANDLOCK_CREATE_RULESET_VERSION`: ask for the ABI version instead of creating a ruleset.
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)` by raw syscall number,
/// so that nothing (a libc wrapper, a crate's fallback) can turn ENOSYS or EOPNOTSUPP into
/// something friendlier: those errnos are the observation.
pub fn landlock_abi() -> AbiProbe {
    // SAFETY: a NULL attribute pointer with size 0 is the documented way to query the version.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        AbiProbe::Errno(errno_text::name(Errno::last()))
    } else {
        AbiProbe::Abi(ret as u32)
    }
}

/// Gathers the preflight, after loading the modules staged for this kernel (so that what it
/// reports, overlayfs among it, is what the cases will have). Never fails: anything unreadable
/// is reported as absent or empty.
pub fn gather() -> Preflight {
    let modules = crate::modules::load_staged();
    Preflight {
        modules,
        overlayfs: crate::modules::overlayfs(),
        release: release(),
        lsm: std::fs::read_to_string("/sys/kernel/security/lsm").ok().map(|s| s.trim().to_string()),
        securityfs_mounted: std::fs::read_to_string("/proc/self/mounts").ok().map(|m| securityfs_in(&m)),
        landlock: landlock_abi(),
        seccomp: std::fs::read_to_string("/proc/self/status").ok().and_then(|s| status_field(&s, "Seccomp")),
        cmdline: std::fs::read_to_string("/proc/cmdline").map(|s| s.trim().to_string()).unwrap_or_default(),
        seccomp_filter: Some(seccomp_filter()),
        config: proc_config(),
        entries: Some(entries::probe()),
        yama_ptrace_scope: std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        userns_restricted: std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
            .ok()
            .map(|s| s.trim().to_string()),
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, NULL)` by raw syscall: EFAULT (the kernel tried to read
/// the program) means filters are supported; nothing is installed either way.
pub fn seccomp_filter() -> SeccompFilterProbe {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    // SAFETY: a NULL program pointer is rejected by the kernel (EFAULT) before anything is
    // installed; without filter support the call fails earlier (EINVAL / ENOSYS).
    let ret = unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0 as libc::c_uint, std::ptr::null::<libc::c_void>())
    };
    if ret == 0 {
        // Cannot happen with a NULL program; say so rather than guess.
        return SeccompFilterProbe::Errno("0 (unexpected success)".into());
    }
    SeccompFilterProbe::from_errno(&errno_text::name(Errno::last()))
}

/// The build configuration's Landlock/LSM/seccomp facts, when /proc/config.gz exists.
fn proc_config() -> Option<KernelConfig> {
    let gz = std::fs::read("/proc/config.gz").ok()?;
    let text = gunzip(&gz)?;
    Some(KernelConfig::parse(&String::from_utf8_lossy(&text), "/proc/config.gz"))
}

/// The payload of a single-member gzip file (RFC 1952), or None when it is not one.
fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    const FTEXT_FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 {
        return None;
    }
    let flags = data[3];
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let len = u16::from_le_bytes([*data.get(pos)?, *data.get(pos + 1)?]) as usize;
        pos += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            pos += data.get(pos..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & FTEXT_FHCRC != 0 {
        pos += 2;
    }
    miniz_oxide::inflate::decompress_to_vec(data.get(pos..)?).ok()
}

/// Whether a mount table (/proc/self/mounts) has securityfs on /sys/kernel/security.
fn securityfs_in(mounts: &str) -> bool {
    mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (_, target, fstype) = (f.next(), f.next(), f.next());
        target == Some("/sys/kernel/security") && fstype == Some("securityfs")
    })
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
    // SAFETY: the field is NUL-terminated (zeroed, then filled by the kernel).
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }.to_string_lossy().into_owned()
}

/// The value of `Name:\tvalue` in /proc/<pid>/status.
fn status_field(status: &str, name: &str) -> Option<String> {
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name).then(|| value.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let status = "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\nNoNewPrivs:\t1\n";
        assert_eq!(status_field(status, "Seccomp").as_deref(), Some("2"));
        assert_eq!(status_field(status, "NoNewPrivs").as_deref(), Some("1"));
        assert_eq!(status_field(status, "Missing"), None);
    }

    #[test]
    fn securityfs_is_found_in_the_mount_table() {
        let with = "sysfs /sys sysfs rw 0 0\nsecurityfs /sys/kernel/security securityfs rw 0 0\n";
        assert!(securityfs_in(with));
        assert!(!securityfs_in("sysfs /sys sysfs rw 0 0\nnone /sys/kernel/security tmpfs rw 0 0\n"));
    }

    #[test]
    fn gzip_payloads() {
        // `printf 'CONFIG_LSM="landlock"\n' | gzip -n | xxd -i`
        let gz: [u8; 42] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x73, 0xf6, 0xf7, 0x73, 0xf3, 0x74, 0x8f, 0xf7,
            0x09, 0xf6, 0xb5, 0x55, 0xca, 0x49, 0xcc, 0x4b, 0xc9, 0xc9, 0x4f, 0xce, 0x56, 0xe2, 0x02, 0x00, 0xa1, 0xb4,
            0x1c, 0x68, 0x16, 0x00, 0x00, 0x00,
        ];
        assert_eq!(gunzip(&gz).as_deref(), Some(&b"CONFIG_LSM=\"landlock\"\n"[..]));
        assert_eq!(gunzip(b"not gzip at all, no"), None);
    }

    #[test]
    fn the_seccomp_filter_probe_installs_nothing() {
        // The test process runs with filters supported (every CI kernel has them).
        let before = std::fs::read_to_string("/proc/self/status").unwrap();
        let probe = seccomp_filter();
        assert_eq!(probe, SeccompFilterProbe::Supported);
        let after = std::fs::read_to_string("/proc/self/status").unwrap();
        assert_eq!(status_field(&before, "Seccomp"), status_field(&after, "Seccomp"));
    }

    #[test]
    fn the_probe_answers_with_an_abi_or_an_errno_name() {
        match landlock_abi() {
            AbiProbe::Abi(n) => assert!(n >= 1),
            AbiProbe::Errno(e) => assert!(e.starts_with('E'), "{e}"),
        }
    }
}
