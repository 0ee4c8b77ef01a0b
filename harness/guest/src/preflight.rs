//! What the kernel offers, measured before any case runs: release, LSM list, Landlock ABI by
//! raw syscall, seccomp mode, command line.

use crate::errno_text;
use lockgate_protocol::{AbiProbe, Preflight};
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

/// Gathers the preflight. Never fails: anything unreadable is reported as absent or empty.
pub fn gather() -> Preflight {
    Preflight {
        release: release(),
        lsm: std::fs::read_to_string("/sys/kernel/security/lsm")
            .ok()
            .map(|s| s.trim().to_string()),
        landlock: landlock_abi(),
        seccomp: std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| status_field(&s, "Seccomp")),
        cmdline: std::fs::read_to_string("/proc/cmdline")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

/// `uname -r`.
fn release() -> String {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return String::new();
    }
    // SAFETY: the field is NUL-terminated (zeroed, then filled by the kernel).
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
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
    fn the_probe_answers_with_an_abi_or_an_errno_name() {
        match landlock_abi() {
            AbiProbe::Abi(n) => assert!(n >= 1),
            AbiProbe::Errno(e) => assert!(e.starts_with('E'), "{e}"),
        }
    }
}
