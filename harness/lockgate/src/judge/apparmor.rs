//! AppArmor's denials as evidence (an AppArmor environment): which of the kernel's audit
//! records (`apparmor="DENIED"`, logged during a run) can explain a probe's denial. A denial both
//! runs got with a permission errno is AppArmor's only where a record of the case names what
//! the probe did: its path, or the kind of operation (a user namespace made, a mount, a
//! capability used in a namespace the probe made). A record is per run, not per step, so an
//! unrelated probe of the same run (a file plain permissions refused) stays `dac`.

use crate::model::scenario::{Action, Denier};
use lockgate_protocol::CaseObservation;

/// `by`, made `apparmor` where it is `dac` and a record of either run explains `action` (the
/// control run is under the same policy; AppArmor logs a capability it denies a profile once,
/// not again for the next run, so the record may be the control run's).
pub fn refined(by: Option<Denier>, action: &Action, obs: &CaseObservation) -> Option<Denier> {
    match by {
        Some(Denier::Dac) if explaining(action, obs).is_some() => Some(Denier::AppArmor),
        other => other,
    }
}

/// The first record of the enforced run, else of the control run, that explains `action`.
pub fn explaining<'a>(action: &Action, obs: &'a CaseObservation) -> Option<&'a str> {
    let what = action.to_string();
    obs.enforced
        .apparmor_denials
        .iter()
        .chain(&obs.control.apparmor_denials)
        .find(|d| explains(d, &what))
        .map(String::as_str)
}

/// The first record of the case (enforced run first): what AppArmor refused.
pub fn first(obs: &CaseObservation) -> Option<&str> {
    obs.enforced.apparmor_denials.first().or(obs.control.apparmor_denials.first()).map(String::as_str)
}

/// Whether the record `denial` is about the probe written `what` (`probe syscall unshare
/// CLONE_NEWUSER`).
fn explains(denial: &str, what: &str) -> bool {
    let namespace = what.contains("CLONE_NEW") || what.contains("mount_proc");
    match field(denial, "operation") {
        Some("userns_create") => what.contains("CLONE_NEWUSER") || what.contains("mount_proc"),
        Some("capable") => namespace || what.contains("mount"),
        Some("mount" | "umount" | "pivotroot") => what.contains("mount"),
        _ => field(denial, "name")
            .map(|n| n.trim_end_matches('/'))
            .is_some_and(|n| !n.is_empty() && what.split_whitespace().any(|w| w.trim_end_matches('/') == n)),
    }
}

/// `key="value"` of an audit record.
fn field<'a>(record: &'a str, key: &str) -> Option<&'a str> {
    let start = record.find(&format!(" {key}=\""))? + key.len() + 3;
    record[start..].split('"').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERNS: &str = r#"audit: type=1400 audit(1.2:3): apparmor="DENIED" operation="userns_create" class="namespace" info="Userns create restricted - failed to find unprivileged_userns profile" error=-13 profile="unconfined" pid=90 comm="lockgate-guest" requested="userns_create" denied="userns_create""#;
    const MOUNT: &str = r#"audit: type=1400 audit(1.2:5): apparmor="DENIED" operation="mount" class="mount" info="failed mntpnt match" error=-13 profile="unprivileged_userns" name="/work/m/" pid=90 comm="lockgate-guest" fstype="proc""#;
    const FILE: &str = r#"audit: type=1400 audit(1.2:6): apparmor="DENIED" operation="open" class="file" profile="p" name="/data/file" pid=9 comm="x" requested_mask="r" denied_mask="r""#;

    #[test]
    fn a_record_explains_the_probe_it_is_about_and_no_other() {
        assert!(explains(USERNS, "probe syscall unshare CLONE_NEWUSER"));
        assert!(!explains(USERNS, "probe read /srv/secret"));
        assert!(explains(MOUNT, "probe mount_proc /work/m"));
        assert!(!explains(MOUNT, "probe syscall unshare CLONE_NEWUSER"));
        assert!(explains(FILE, "probe read /data/file"));
        assert!(!explains(FILE, "probe read /data/file2"));
        assert_eq!(field(MOUNT, "name"), Some("/work/m/"));
        assert_eq!(field(USERNS, "operation"), Some("userns_create"));
    }
}
