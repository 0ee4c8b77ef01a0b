//! Why Landlock is missing where the runs happened although the kernel offers it: a container's
//! seccomp profile, systemd-nspawn's built-in filter or gVisor took it away. Worded for the verdicts of the expectations that fail for want
//! of it.

use crate::env::EnvFacts;
use lockgate_protocol::AbiProbe;

/// `None` when Landlock is not missing, or the kernel has none either; `facts` is `None` when
/// nothing is known of the environment.
pub fn landlock_blocked(env: &str, facts: Option<&EnvFacts>, in_env: &AbiProbe, kernel: &AbiProbe) -> Option<String> {
    let (AbiProbe::Errno(e), AbiProbe::Abi(n)) = (in_env, kernel) else { return None };
    let Some(f) = facts else {
        return Some(format!("Landlock is blocked in `{env}`: its probe answered {e} while the kernel offers ABI {n}"));
    };
    if let Some(nspawn) = &f.nspawn {
        return Some(format!(
            "{nspawn} blocked Landlock: in `{env}` the probe answered {e} from nspawn's built-in seccomp filter, which lets only the syscalls of its allow list through; the kernel itself offers ABI {n}"
        ));
    }
    if f.gvisor {
        return Some(format!(
            "gVisor implements no Landlock: in `{env}` the probe answered {e} from gVisor's own kernel (runsc's Sentry), not Linux's; the kernel itself offers ABI {n}"
        ));
    }
    // "seccomp blocked" only where the profile explains the errno; otherwise what is known.
    let why = if e == "ENOSYS" && !f.allows_landlock && f.seccomp_errno.as_deref() != Some("ENOSYS") {
        format!(
            "ENOSYS from runc's stub: the profile does not name landlock_create_ruleset, a syscall newer than every one it names, and runc answers ENOSYS for those (its default action would say {})",
            f.seccomp_errno.as_deref().unwrap_or("nothing")
        )
    } else if !f.allows_landlock && f.seccomp_errno.as_deref() == Some(e.as_str()) {
        format!("{e}, the profile's default action: it does not name landlock_create_ruleset")
    } else if f.allows_landlock {
        return Some(format!(
            "Landlock is blocked in `{env}`: its probe answered {e} while the kernel offers ABI {n}, although the environment's seccomp profile names landlock_create_ruleset"
        ));
    } else {
        return Some(format!(
            "Landlock is blocked in `{env}`: its probe answered {e} while the kernel offers ABI {n}; the environment's seccomp profile does not name landlock_create_ruleset, but its default action answers {}, not {e}",
            f.seccomp_errno.as_deref().unwrap_or("nothing")
        ));
    };
    Some(format!("seccomp blocked Landlock: in `{env}` the probe answered {why}; the kernel itself offers ABI {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_named_with_its_cause() {
        let stub = EnvFacts {
            seccomp_errno: Some("EPERM".into()),
            allows_landlock: false,
            errno_rules: Vec::new(),
            allowed: Vec::new(),
            profile_sha256: None,
            namespaces_refused: None,
            gvisor: false,
            nspawn: None,
            runtime: None,
        };
        let why = landlock_blocked("docker-20.10.5", Some(&stub), &AbiProbe::Errno("ENOSYS".into()), &AbiProbe::Abi(4))
            .unwrap();
        assert!(
            why.starts_with("seccomp blocked Landlock: in `docker-20.10.5` the probe answered ENOSYS from runc's stub"),
            "{why}"
        );
        assert!(why.ends_with("the kernel itself offers ABI 4"), "{why}");
        let default = landlock_blocked("x", Some(&stub), &AbiProbe::Errno("EPERM".into()), &AbiProbe::Abi(6)).unwrap();
        assert!(default.contains("EPERM, the profile's default action"), "{default}");
        assert_eq!(
            landlock_blocked("x", Some(&stub), &AbiProbe::Errno("ENOSYS".into()), &AbiProbe::Errno("ENOSYS".into())),
            None
        );
        assert_eq!(landlock_blocked("x", Some(&stub), &AbiProbe::Abi(4), &AbiProbe::Abi(4)), None);
        // Issue 24: "seccomp blocked" only where the profile explains the errno.
        let names_it = EnvFacts { allows_landlock: true, ..stub.clone() };
        let why = landlock_blocked("x", Some(&names_it), &AbiProbe::Errno("ENOSYS".into()), &AbiProbe::Abi(4)).unwrap();
        assert_eq!(why, "Landlock is blocked in `x`: its probe answered ENOSYS while the kernel offers ABI 4, although the environment's seccomp profile names landlock_create_ruleset");
        let other =
            landlock_blocked("x", Some(&stub), &AbiProbe::Errno("EOPNOTSUPP".into()), &AbiProbe::Abi(4)).unwrap();
        assert!(
            other.starts_with("Landlock is blocked in `x`: its probe answered EOPNOTSUPP")
                && other.ends_with("its default action answers EPERM, not EOPNOTSUPP"),
            "{other}"
        );
        let sentry = EnvFacts { gvisor: true, ..EnvFacts::default() };
        let why =
            landlock_blocked("gvisor", Some(&sentry), &AbiProbe::Errno("ENOSYS".into()), &AbiProbe::Abi(6)).unwrap();
        assert_eq!(why, "gVisor implements no Landlock: in `gvisor` the probe answered ENOSYS from gVisor's own kernel (runsc's Sentry), not Linux's; the kernel itself offers ABI 6");
        let nspawn = EnvFacts { nspawn: Some("systemd-nspawn 252.39-1~deb12u2".into()), ..EnvFacts::default() };
        let why =
            landlock_blocked("systemd-nspawn-252", Some(&nspawn), &AbiProbe::Errno("EPERM".into()), &AbiProbe::Abi(6))
                .unwrap();
        assert!(
            why.starts_with("systemd-nspawn 252.39-1~deb12u2 blocked Landlock: in `systemd-nspawn-252` the probe answered EPERM from nspawn's built-in seccomp filter")
                && why.ends_with("the kernel itself offers ABI 6"),
            "{why}"
        );
        let unknown = landlock_blocked("x", None, &AbiProbe::Errno("ENOSYS".into()), &AbiProbe::Abi(4)).unwrap();
        assert_eq!(unknown, "Landlock is blocked in `x`: its probe answered ENOSYS while the kernel offers ABI 4");
    }
}
