//! Facts from a kernel's build configuration (`/proc/config.gz` in the guest, or the package's
//! `boot/config-*` file on the host): what was compiled in, as opposed to what is in effect
//! (the raw probes of the preflight say that).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct KernelConfig {
    /// Where the facts were read: `/proc/config.gz` (in the guest) or a file on the host.
    pub source: String,
    /// `CONFIG_SECURITY_LANDLOCK`: `y`, or `n` when the config does not set it.
    pub security_landlock: String,
    /// `CONFIG_LSM`, unquoted (the default LSM order; `lsm=` on the command line overrides it),
    /// or `None` when the config has no such symbol (kernels before 5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsm: Option<String>,
    /// `CONFIG_SECCOMP_FILTER`: `y` or `n`.
    pub seccomp_filter: String,
}

impl KernelConfig {
    /// Reads the facts out of a kernel `.config` text.
    pub fn parse(text: &str, source: &str) -> KernelConfig {
        let value = |sym: &str| -> Option<String> {
            text.lines().find_map(|l| {
                let (k, v) = l.trim().split_once('=')?;
                (k == sym).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        KernelConfig {
            source: source.to_string(),
            security_landlock: value("CONFIG_SECURITY_LANDLOCK").unwrap_or_else(|| "n".into()),
            lsm: value("CONFIG_LSM"),
            seccomp_filter: value("CONFIG_SECCOMP_FILTER").unwrap_or_else(|| "n".into()),
        }
    }

    /// Whether `landlock` is in the default LSM list (`CONFIG_LSM`).
    pub fn landlock_in_default_lsm(&self) -> bool {
        self.lsm.as_deref().is_some_and(|l| l.split(',').any(|m| m.trim() == "landlock"))
    }

    /// One line for a report: `CONFIG_SECURITY_LANDLOCK=y CONFIG_LSM="landlock,…" CONFIG_SECCOMP_FILTER=y (/proc/config.gz)`.
    pub fn summary(&self) -> String {
        let lsm = match &self.lsm {
            Some(l) => format!("CONFIG_LSM=\"{l}\""),
            None => "no CONFIG_LSM".into(),
        };
        format!(
            "CONFIG_SECURITY_LANDLOCK={} {lsm} CONFIG_SECCOMP_FILTER={} ({})",
            self.security_landlock, self.seccomp_filter, self.source
        )
    }
}

/// What a Landlock probe that gave no ABI means, in words, using what else the preflight saw:
/// EOPNOTSUPP is "compiled in, not enabled", ENOSYS "not compiled in" (or hidden by a seccomp
/// filter's stub), EPERM a seccomp filter's refusal. `None` for an ABI.
pub fn explain_landlock(probe: &crate::AbiProbe, lsm: Option<&str>, config: Option<&KernelConfig>) -> Option<String> {
    let crate::AbiProbe::Errno(e) = probe else { return None };
    Some(match e.as_str() {
        "EOPNOTSUPP" => format!(
            "Landlock is compiled in but not enabled: `landlock` is not in the LSM list ({})",
            lsm.unwrap_or("securityfs unreadable")
        ),
        "ENOSYS" => match config {
            Some(c) if c.security_landlock != "y" => format!("no Landlock: CONFIG_SECURITY_LANDLOCK is not set ({})", c.source),
            _ => "no Landlock system calls (a kernel before 5.13 or built without Landlock, or a seccomp filter's ENOSYS stub)".into(),
        },
        "EPERM" => "a seccomp filter refuses landlock_create_ruleset (EPERM)".into(),
        other => format!("the probe failed with {other}"),
    })
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, NULL)` made by raw syscall: a kernel with filter support
/// gets as far as reading the (NULL) program and answers EFAULT, installing nothing; EINVAL means
/// seccomp without filters (`CONFIG_SECCOMP_FILTER` off), ENOSYS no seccomp at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompFilterProbe {
    Supported,
    /// The errno that says it is not (EINVAL, ENOSYS), or an unexpected one.
    Errno(String),
}

impl SeccompFilterProbe {
    pub fn from_errno(errno: &str) -> SeccompFilterProbe {
        if errno == "EFAULT" {
            SeccompFilterProbe::Supported
        } else {
            SeccompFilterProbe::Errno(errno.to_string())
        }
    }
}

impl std::fmt::Display for SeccompFilterProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeccompFilterProbe::Supported => f.write_str("supported"),
            SeccompFilterProbe::Errno(e) if e == "EINVAL" => {
                f.write_str("not supported (EINVAL: seccomp without filters)")
            }
            SeccompFilterProbe::Errno(e) if e == "ENOSYS" => f.write_str("not supported (ENOSYS: no seccomp)"),
            SeccompFilterProbe::Errno(e) => write!(f, "unknown ({e})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_from_a_config() {
        let text = "# comment\nCONFIG_SECURITY_LANDLOCK=y\nCONFIG_LSM=\"lockdown,yama,landlock,apparmor\"\n# CONFIG_SECCOMP_FILTER is not set\n";
        let c = KernelConfig::parse(text, "boot/config-x");
        assert_eq!(c.security_landlock, "y");
        assert_eq!(c.lsm.as_deref(), Some("lockdown,yama,landlock,apparmor"));
        assert_eq!(c.seccomp_filter, "n");
        assert!(c.landlock_in_default_lsm());
        let old = KernelConfig::parse("CONFIG_SECCOMP_FILTER=y\n", "x");
        assert_eq!((old.security_landlock.as_str(), old.lsm.as_deref(), old.seccomp_filter.as_str()), ("n", None, "y"));
        assert!(!old.landlock_in_default_lsm());
    }

    #[test]
    fn landlock_errnos_are_explained() {
        let c = KernelConfig::parse(
            "CONFIG_SECURITY_LANDLOCK=y\nCONFIG_LSM=\"lockdown,yama,landlock\"\n",
            "/proc/config.gz",
        );
        let not_enabled =
            explain_landlock(&crate::AbiProbe::Errno("EOPNOTSUPP".into()), Some("lockdown,capability,yama"), Some(&c))
                .unwrap();
        assert!(
            not_enabled.starts_with("Landlock is compiled in but not enabled")
                && not_enabled.contains("lockdown,capability,yama"),
            "{not_enabled}"
        );
        let none = KernelConfig::parse("CONFIG_SECCOMP_FILTER=y\n", "boot/config-5.10");
        assert!(explain_landlock(&crate::AbiProbe::Errno("ENOSYS".into()), None, Some(&none))
            .unwrap()
            .contains("CONFIG_SECURITY_LANDLOCK is not set"));
        assert_eq!(explain_landlock(&crate::AbiProbe::Abi(2), None, None), None);
    }

    #[test]
    fn seccomp_probe_answers() {
        assert_eq!(SeccompFilterProbe::from_errno("EFAULT"), SeccompFilterProbe::Supported);
        assert_eq!(
            SeccompFilterProbe::from_errno("EINVAL").to_string(),
            "not supported (EINVAL: seccomp without filters)"
        );
    }
}
