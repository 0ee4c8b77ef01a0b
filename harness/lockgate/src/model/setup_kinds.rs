//! The setup kinds beyond directories, files and symlinks (issue 28, item 5): the nodes a
//! deployment has before its command runs (FIFOs, socket nodes, device nodes) and the mounts
//! that change which inode a rule is tied to (a tmpfs below the top level, a bind mount, an
//! overlayfs). Their fields are checked here, and each entry becomes the protocol's
//! [`PathSpec`] for the guest.

use super::scenario::{GuestPath, PathEntry, PathKindSpec};
use lockgate_protocol::{Overlay, PathKind, PathSpec};
use serde::Deserialize;

/// A device node's number: `"MAJOR:MINOR"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DeviceNumber(pub u32, pub u32);

/// What `DeviceNumber::try_from` accepts.
impl schemars::JsonSchema for DeviceNumber {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DeviceNumber".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A device number, `\"MAJOR:MINOR\"` (`\"1:3\"`: /dev/null's).",
            "type": "string",
            "pattern": "^[0-9]+:[0-9]+$"
        })
    }
}

impl TryFrom<String> for DeviceNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parse = |w: &str| w.parse::<u32>().ok().filter(|n| *n < 1 << 20);
        match s.split_once(':').map(|(a, b)| (parse(a), parse(b))) {
            Some((Some(major), Some(minor))) if major < 1 << 12 => Ok(DeviceNumber(major, minor)),
            _ => Err(format!("`{s}` is not a device number; write `\"MAJOR:MINOR\"`, like \"1:3\" (/dev/null)")),
        }
    }
}

/// The mode an entry gets when it names none.
pub fn default_mode(kind: PathKindSpec) -> u32 {
    match kind {
        PathKindSpec::Dir | PathKindSpec::Tmpfs | PathKindSpec::Socket => 0o755,
        PathKindSpec::File | PathKindSpec::Fifo => 0o644,
        PathKindSpec::Symlink | PathKindSpec::Bind | PathKindSpec::Overlay => 0o777,
        PathKindSpec::CharDevice => 0o666,
        PathKindSpec::BlockDevice => 0o660,
    }
}

/// The checks of one entry's kind-specific fields, as `(field, message)`; `earlier` are the
/// entries made before it (a bind's source and an overlay's directories must be among them,
/// or the image's).
pub fn validate(p: &PathEntry, earlier: &[PathEntry]) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let kind = p.kind;
    let name = kind_name(kind);
    let mut only = |field: &str, given: bool, kinds: &str| {
        if given {
            errs.push((field.to_string(), format!("a `{name}` takes no `{field}` (only {kinds} do)")));
        }
    };
    let device = matches!(kind, PathKindSpec::CharDevice | PathKindSpec::BlockDevice);
    only("device", !device && p.device.is_some(), "`char_device` and `block_device`");
    only("source", kind != PathKindSpec::Bind && p.source.is_some(), "`bind`");
    let overlay = kind == PathKindSpec::Overlay;
    only("lower", !overlay && !p.lower.is_empty(), "`overlay`");
    only("upper", !overlay && p.upper.is_some(), "`overlay`");
    only("work", !overlay && p.work.is_some(), "`overlay`");
    let content = matches!(kind, PathKindSpec::File | PathKindSpec::Symlink);
    only("content", !content && kind != PathKindSpec::Dir && p.content.is_some(), "`file` and `symlink`");
    let mounts = matches!(kind, PathKindSpec::Bind | PathKindSpec::Overlay);
    only("owner", mounts && p.owner.is_some(), "the kinds that make what they name");
    only("mode", mounts && p.mode.is_some(), "the kinds that make what they name");
    if device && p.device.is_none() {
        errs.push(("device".into(), format!("a `{name}` needs its number: `device: \"1:3\"` (MAJOR:MINOR)")));
    }
    let exists =
        |q: &GuestPath| lockgate_protocol::IMAGE_DIRS.contains(&q.as_str()) || earlier.iter().any(|e| e.path == *q);
    let mut made_before = |field: &str, q: &GuestPath| {
        if !exists(q) {
            errs.push((
                field.to_string(),
                format!("`{}` is not made before this entry: list it earlier in setup.paths", q.as_str()),
            ));
        }
    };
    match kind {
        PathKindSpec::Bind => match &p.source {
            Some(src) => made_before("source", src),
            None => errs.push(("source".into(), "a `bind` needs `source:`, the path it mounts".into())),
        },
        PathKindSpec::Overlay => {
            p.lower.iter().for_each(|l| made_before("lower", l));
            p.upper
                .iter()
                .chain(&p.work)
                .for_each(|d| made_before(if p.upper.as_ref() == Some(d) { "upper" } else { "work" }, d));
            if p.lower.is_empty() {
                errs.push(("lower".into(), "an `overlay` needs `lower:`, its read-only directories".into()));
            }
            match (&p.upper, &p.work) {
                (Some(_), Some(_)) => {}
                (None, None) if p.lower.len() < 2 => errs.push((
                    "lower".into(),
                    "a read-only `overlay` (no `upper`) needs two `lower` directories or more".into(),
                )),
                (None, None) => {}
                _ => errs.push(("upper".into(), "`upper` and `work` go together: both, or neither".into())),
            }
        }
        _ => {}
    }
    errs
}

/// The kind as a scenario writes it.
pub fn kind_name(kind: PathKindSpec) -> &'static str {
    match kind {
        PathKindSpec::Dir => "dir",
        PathKindSpec::File => "file",
        PathKindSpec::Symlink => "symlink",
        PathKindSpec::Fifo => "fifo",
        PathKindSpec::Socket => "socket",
        PathKindSpec::CharDevice => "char_device",
        PathKindSpec::BlockDevice => "block_device",
        PathKindSpec::Tmpfs => "tmpfs",
        PathKindSpec::Bind => "bind",
        PathKindSpec::Overlay => "overlay",
    }
}

/// The entry as the guest makes it, owned by `(uid, gid)`.
pub fn path_spec(p: &PathEntry, (uid, gid): (u32, u32)) -> PathSpec {
    let kind: PathKind = p.kind.into();
    PathSpec {
        path: p.path.as_str().into(),
        kind,
        uid,
        gid,
        mode: p.mode.map(|m| m.0).unwrap_or(default_mode(p.kind)),
        content: p.content.clone().unwrap_or_default(),
        device: p.device.map(|d| (d.0, d.1)),
        source: p.source.as_ref().map(|s| s.as_str().to_string()),
        overlay: (p.kind == PathKindSpec::Overlay).then(|| Overlay {
            lower: p.lower.iter().map(|l| l.as_str().to_string()).collect(),
            upper: p.upper.as_ref().map(|u| u.as_str().to_string()),
            work: p.work.as_ref().map(|w| w.as_str().to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scenario::Scenario;

    fn errors(paths: &str) -> Vec<(String, String)> {
        let y = format!("name: t\nsetup:\n  paths:\n{paths}policy: {{filesystem_policy: {{read_only: [/bin]}}}}\nexpect: [{{enforcement: full}}]\n");
        let s: Scenario = serde_yaml::from_str(&y).unwrap();
        s.validate()
    }

    #[test]
    fn kinds_parse_and_check_their_fields() {
        let ok = errors(
            "    - {path: /s, kind: dir}\n    - {path: /s/src, kind: dir}\n    - {path: /s/null, kind: char_device, device: \"1:3\"}\n    - {path: /s/p, kind: fifo}\n    - {path: /s/sock, kind: socket}\n    - {path: /s/m, kind: tmpfs, mode: \"0700\"}\n    - {path: /s/b, kind: bind, source: /s/src}\n    - {path: /s/u, kind: dir}\n    - {path: /s/w, kind: dir}\n    - {path: /s/o, kind: overlay, lower: [/s/src], upper: /s/u, work: /s/w}\n",
        );
        assert!(ok.is_empty(), "{ok:?}");
        let bad = errors(
            "    - {path: /s/null, kind: char_device}\n    - {path: /s/b, kind: bind, source: /s/later, mode: \"0700\"}\n    - {path: /s/later, kind: dir, device: \"1:3\"}\n    - {path: /s/o, kind: overlay, lower: [/s/later], upper: /s/later}\n",
        );
        let fields: Vec<&str> = bad.iter().map(|(f, _)| f.as_str()).collect();
        for f in [
            "setup.paths[0].device",
            "setup.paths[1].source",
            "setup.paths[1].mode",
            "setup.paths[2].device",
            "setup.paths[3].upper",
        ] {
            assert!(fields.contains(&f), "{f}: {bad:?}");
        }
        assert!(DeviceNumber::try_from("1:3".to_string()).is_ok());
        let e = DeviceNumber::try_from("null".to_string()).unwrap_err();
        assert!(e.contains("MAJOR:MINOR"), "{e}");
    }
}
