//! What Landlock the running kernel offers, asked by the raw syscall.
//!
//! The landlock crate probes too, but it folds every failure into "not implemented" (ENOSYS and
//! EPERM alike, see DESIGN §1). The claim's reason must tell "kernel without Landlock" from
//! "Landlock not in the LSM list" from "a seccomp profile blocks it", so the errno is kept here.

use landlock::ABI;

/// `landlock_create_ruleset`; 444 on every architecture (unified syscall table).
const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444;
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;

/// The kernel's answer to the version probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Available { kernel_abi: i32 },
    Missing { errno: i32 },
}

impl Support {
    pub fn probe() -> Support {
        // SAFETY: with a NULL attribute and size 0 the kernel reads no memory; the call only
        // returns the ABI version (or fails).
        let ret = unsafe {
            libc::syscall(
                SYS_LANDLOCK_CREATE_RULESET,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if ret >= 1 {
            Support::Available { kernel_abi: ret as i32 }
        } else {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            Support::Missing { errno }
        }
    }

    /// The ABI to build the ruleset for: min(kernel, highest the crate knows). `None` when the
    /// kernel offers no Landlock at all.
    pub fn effective_abi(self) -> Option<ABI> {
        match self {
            // The crate discourages ABI::from(i32) so that programs pin a tested ABI. The
            // reference enforcer's job is the opposite: use everything the kernel offers, and
            // ABI::from clamps a newer kernel to the newest ABI the crate knows.
            Support::Available { kernel_abi } => Some(ABI::from(kernel_abi)),
            Support::Missing { .. } => None,
        }
    }

    /// Why there is no Landlock, for the claim line.
    pub fn missing_reason(self) -> Option<String> {
        match self {
            Support::Available { .. } => None,
            Support::Missing { errno } => Some(missing_reason(errno)),
        }
    }
}

pub fn missing_reason(errno: i32) -> String {
    match errno {
        libc::ENOSYS => "kernel has no Landlock (ENOSYS)".into(),
        libc::EOPNOTSUPP => "Landlock compiled in but not enabled (EOPNOTSUPP)".into(),
        libc::EPERM => "Landlock blocked (EPERM)".into(),
        other => format!("Landlock probe failed (errno {other})"),
    }
}

/// The number the claim line shows for an ABI.
pub fn number(abi: ABI) -> u32 {
    abi as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_abi_is_clamped_to_the_crate() {
        let newest = ABI::from(i32::MAX);
        assert!(newest >= ABI::V9);
        assert_eq!(Support::Available { kernel_abi: 4 }.effective_abi(), Some(ABI::V4));
        assert_eq!(Support::Available { kernel_abi: 999 }.effective_abi(), Some(newest));
        assert_eq!(Support::Missing { errno: libc::ENOSYS }.effective_abi(), None);
        assert_eq!(number(ABI::V4), 4);
    }

    #[test]
    fn reasons_name_the_errno() {
        assert_eq!(missing_reason(libc::ENOSYS), "kernel has no Landlock (ENOSYS)");
        assert_eq!(missing_reason(libc::EOPNOTSUPP), "Landlock compiled in but not enabled (EOPNOTSUPP)");
        assert_eq!(missing_reason(libc::EPERM), "Landlock blocked (EPERM)");
        assert_eq!(missing_reason(5), "Landlock probe failed (errno 5)");
    }

    #[test]
    fn probe_answers_a_version_or_an_errno() {
        match Support::probe() {
            Support::Available { kernel_abi } => assert!(kernel_abi >= 1),
            Support::Missing { errno } => assert!(errno > 0),
        }
    }
}
