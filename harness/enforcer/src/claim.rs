//! What the enforcer says it achieved: one line on stderr and one environment variable.
//!
//! lockgate compares this claim with what the probes observe; a claim of `full` with a write
//! that went through is the bug class the project exists for (DESIGN §1). The line format is
//! therefore fixed:
//!
//! `lockgate-enforcer: enforcement=<full|partial|none|refused> abi=<N|none> [filter=<on|off> syscalls=N] reason=<text>`
//!
//! `filter=` is there only when the policy asks for a seccomp filter (`seccomp:`): `on` with the
//! number of syscalls it denies, or `off` when it could not be installed (the reason says why).
//! The reason runs to the end of the line and never holds a newline.

use landlock::RulesetStatus;
use std::fmt;

pub const PREFIX: &str = "lockgate-enforcer: enforcement=";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Full,
    Partial,
    None,
    /// Not run at all: `hard_requirement` could not be met, or the enforcer could not proceed.
    Refused,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Full => "full",
            Level::Partial => "partial",
            Level::None => "none",
            Level::Refused => "refused",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub level: Level,
    /// The ABI the ruleset was built for; `None` when the kernel offers no Landlock.
    pub abi: Option<u32>,
    /// The seccomp filter, when the policy asks for one: installed, and how many syscalls it
    /// denies (`None` inside: it could not be installed).
    pub filter: Option<Option<usize>>,
    pub reason: String,
}

pub const ALL_ENFORCED: &str = "all rules enforced";

impl Claim {
    pub fn new(level: Level, abi: Option<u32>, reason: impl Into<String>) -> Claim {
        // One claim, one line, whatever an error message contains.
        let reason = reason.into().replace(['\n', '\r'], " ");
        Claim { level, abi, filter: None, reason }
    }

    /// The same claim, saying what became of the seccomp filter.
    pub fn with_filter(mut self, installed: Option<usize>) -> Claim {
        self.filter = Some(installed);
        self
    }

    /// What a buggy enforcer says after swallowing an error: the requested level.
    pub fn pretend_full(abi: Option<u32>) -> Claim {
        Claim::new(Level::Full, abi, ALL_ENFORCED)
    }

    pub fn refused(abi: Option<u32>, reason: impl Into<String>) -> Claim {
        Claim::new(Level::Refused, abi, reason)
    }

    fn abi_text(&self) -> String {
        self.abi.map_or_else(|| "none".to_owned(), |n| n.to_string())
    }

    /// Value of `LOCKGATE_ENFORCEMENT` for the command: `<level> abi=<N|none>`.
    pub fn env_value(&self) -> String {
        format!("{} abi={}", self.level.as_str(), self.abi_text())
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{} abi={}", self.level.as_str(), self.abi_text())?;
        match self.filter {
            None => {}
            Some(Some(n)) => write!(f, " filter=on syscalls={n}")?,
            Some(None) => write!(f, " filter=off")?,
        }
        write!(f, " reason={}", self.reason)
    }
}

/// The honest claim for the status the crate reported after `restrict_self`.
///
/// `unmet` names a part of the policy that was not even requested because the ABI lacks it (a
/// `network` section below ABI 4): the ruleset may be "fully" enforced, yet the policy is not,
/// so that is `partial`. `skipped` counts rule paths left out in best_effort; that removes
/// access rather than confinement, so it does not lower the level, but the reason says it.
pub fn decide(status: &RulesetStatus, abi: u32, unmet: Option<&str>, skipped: usize) -> Claim {
    let abi = Some(abi);
    match (status, unmet) {
        (RulesetStatus::FullyEnforced, None) if skipped == 0 => Claim::new(Level::Full, abi, ALL_ENFORCED),
        (RulesetStatus::FullyEnforced, None) => {
            Claim::new(Level::Full, abi, format!("{ALL_ENFORCED}; {skipped} unopenable rule path(s) skipped"))
        }
        (RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced, Some(unmet)) => {
            Claim::new(Level::Partial, abi, unmet)
        }
        (RulesetStatus::PartiallyEnforced, None) => {
            Claim::new(Level::Partial, abi, "kernel enforces only part of the requested rights")
        }
        (RulesetStatus::NotEnforced, _) => {
            Claim::new(Level::None, abi, "Landlock reported the ruleset as not enforced")
        }
    }
}

/// One rule for every part of a policy a kernel cannot enforce: each policy field present
/// (`fields`: present, the ABI it needs, what it is) whose ABI is above the kernel's is named,
/// and [`decide`] makes the claim `partial` for it: a `network` section below ABI 4,
/// `filesystem_policy.ioctl_dev` below ABI 5, `landlock.scoped` below ABI 6 alike.
pub fn unmet(fields: &[(bool, landlock::ABI, &str)], abi: landlock::ABI) -> Option<String> {
    let named: Vec<String> = fields
        .iter()
        .filter(|(present, needs, _)| *present && abi < *needs)
        .map(|(_, needs, what)| {
            format!(
                "{what} need Landlock ABI {}, kernel has ABI {}",
                crate::abi::number(*needs),
                crate::abi::number(abi)
            )
        })
        .collect();
    (!named.is_empty()).then(|| named.join("; "))
}

/// `hard_requirement` fails closed: anything but `full` becomes `refused`, keeping the reason.
pub fn gate(claim: Claim, hard_requirement: bool) -> Claim {
    if hard_requirement && claim.level != Level::Full {
        Claim::refused(claim.abi, claim.reason)
    } else {
        claim
    }
}

/// Splits a claim line back into its parts (used by tests; the host has its own reader).
#[cfg(test)]
pub fn parse_line(line: &str) -> Option<(String, String, String)> {
    let rest = line.strip_prefix(PREFIX)?;
    let (level, rest) = rest.split_once(" abi=")?;
    let (abi, reason) = rest.split_once(" reason=")?;
    Some((level.into(), abi.into(), reason.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_env_format() {
        let claim = Claim::new(Level::Full, Some(7), ALL_ENFORCED);
        assert_eq!(claim.to_string(), "lockgate-enforcer: enforcement=full abi=7 reason=all rules enforced");
        assert_eq!(claim.env_value(), "full abi=7");
        let claim = Claim::refused(None, "kernel has no Landlock (ENOSYS)\nsecond line");
        assert_eq!(
            claim.to_string(),
            "lockgate-enforcer: enforcement=refused abi=none reason=kernel has no Landlock (ENOSYS) second line"
        );
        assert_eq!(claim.env_value(), "refused abi=none");
        let with = Claim::new(Level::Full, Some(6), ALL_ENFORCED).with_filter(Some(27));
        assert_eq!(
            with.to_string(),
            "lockgate-enforcer: enforcement=full abi=6 filter=on syscalls=27 reason=all rules enforced"
        );
        let off = Claim::new(Level::None, None, "x").with_filter(None);
        assert_eq!(off.to_string(), "lockgate-enforcer: enforcement=none abi=none filter=off reason=x");
        assert_eq!(
            parse_line(&claim.to_string()),
            Some(("refused".into(), "none".into(), "kernel has no Landlock (ENOSYS) second line".into()))
        );
    }

    #[test]
    fn decisions_follow_the_status() {
        let level = |s, unmet, skipped| decide(&s, 4, unmet, skipped).level;
        assert_eq!(level(RulesetStatus::FullyEnforced, None, 0), Level::Full);
        assert_eq!(level(RulesetStatus::FullyEnforced, None, 2), Level::Full);
        assert!(decide(&RulesetStatus::FullyEnforced, 4, None, 2).reason.contains("2 unopenable"));
        assert_eq!(level(RulesetStatus::FullyEnforced, Some("no TCP"), 0), Level::Partial);
        assert_eq!(level(RulesetStatus::PartiallyEnforced, None, 0), Level::Partial);
        assert_eq!(level(RulesetStatus::NotEnforced, None, 0), Level::None);
        assert_eq!(level(RulesetStatus::NotEnforced, Some("no TCP"), 0), Level::None);
    }

    /// Issue 24, item 4: device ioctl rules below ABI 5 are unmet as TCP rules below 4 and
    /// scopes below 6 are, so a best_effort claim on ubuntu-6.8 (ABI 4) is `partial`.
    #[test]
    fn every_field_the_kernel_cannot_enforce_is_unmet_alike() {
        use landlock::ABI;
        let fields = |net, ioctl, scoped| {
            [(net, ABI::V4, "TCP rules"), (ioctl, ABI::V5, "device ioctl rules"), (scoped, ABI::V6, "scopes")]
        };
        assert_eq!(
            unmet(&fields(false, true, false), ABI::V4).as_deref(),
            Some("device ioctl rules need Landlock ABI 5, kernel has ABI 4")
        );
        assert_eq!(unmet(&fields(false, true, false), ABI::V5), None);
        assert_eq!(
            unmet(&fields(true, true, true), ABI::V3).as_deref(),
            Some("TCP rules need Landlock ABI 4, kernel has ABI 3; device ioctl rules need Landlock ABI 5, kernel has ABI 3; scopes need Landlock ABI 6, kernel has ABI 3")
        );
        assert_eq!(unmet(&fields(true, false, true), ABI::V6), None);
        let claim = decide(&RulesetStatus::FullyEnforced, 4, unmet(&fields(false, true, false), ABI::V4).as_deref(), 0);
        assert_eq!(claim.level, Level::Partial);
    }

    #[test]
    fn hard_requirement_refuses_less_than_full() {
        let partial = Claim::new(Level::Partial, Some(2), "TCP rules need ABI 4");
        assert_eq!(gate(partial.clone(), false), partial);
        let refused = gate(partial, true);
        assert_eq!(refused.level, Level::Refused);
        assert_eq!(refused.reason, "TCP rules need ABI 4");
        let full = Claim::pretend_full(Some(7));
        assert_eq!(gate(full.clone(), true), full);
    }
}
