//! The setup kinds beyond directories, files and symlinks (issue 28, item 5): the nodes a
//! deployment has before its command runs (FIFOs, socket nodes, device nodes) and the mounts
//! that change which inode a rule is tied to (a tmpfs below the top level, a bind mount, an
//! overlayfs). Their fields are checked here, and each entry becomes the protocol's
//! [`PathSpec`] for the guest.

use lockgate_protocol::{GuestPath, PathKind};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PathKindSpec {
    /// A directory (mode default `"0755"`; no `content`).
    Dir,
    /// A regular file holding `content` (default empty; mode default `"0644"`).
    File,
    /// A symbolic link whose target is `content` (required; relative to the link's directory);
    /// `mode` is ignored, `owner` applies to the link itself.
    Symlink,
    /// A named pipe (mode default `"0644"`).
    Fifo,
    /// A socket node nobody listens on (mode default `"0755"`, as bind(2) makes one).
    Socket,
    /// A character device node numbered `device` (mode default `"0666"`). Needs CAP_MKNOD
    /// where the runs happen: a container without it refuses, and the cell says so.
    CharDevice,
    /// A block device node numbered `device` (mode default `"0660"`); as `char_device`.
    BlockDevice,
    /// A new tmpfs mounted on the directory (made if missing), below the top level: a mount
    /// inside the tree (`mode` and `owner` apply to its root). Needs CAP_SYS_ADMIN where the
    /// runs happen.
    Tmpfs,
    /// `source` bind-mounted on the path (a directory, or a file for a file source; made if
    /// missing): a workspace as a runtime mounts it. `owner` and `mode` are not applied (they
    /// would change the source). Needs CAP_SYS_ADMIN.
    Bind,
    /// An overlayfs of `lower` (read-only) and `upper`/`work` mounted on the directory (made if
    /// missing), as a container's root is. Needs CAP_SYS_ADMIN and a kernel with overlayfs built
    /// in (the guest loads no modules).
    Overlay,
}

impl From<PathKindSpec> for PathKind {
    fn from(k: PathKindSpec) -> PathKind {
        match k {
            PathKindSpec::Dir => PathKind::Dir,
            PathKindSpec::File => PathKind::File,
            PathKindSpec::Symlink => PathKind::Symlink,
            PathKindSpec::Fifo => PathKind::Fifo,
            PathKindSpec::Socket => PathKind::Socket,
            PathKindSpec::CharDevice => PathKind::CharDevice,
            PathKindSpec::BlockDevice => PathKind::BlockDevice,
            PathKindSpec::Tmpfs => PathKind::Tmpfs,
            PathKindSpec::Bind => PathKind::Bind,
            PathKindSpec::Overlay => PathKind::Overlay,
        }
    }
}

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

/// An entry's fields the kinds' checks read (the scenario's `PathEntry`, seen from here).
pub struct Fields<'a> {
    pub kind: PathKindSpec,
    pub device: Option<DeviceNumber>,
    pub source: Option<&'a GuestPath>,
    pub lower: &'a [GuestPath],
    pub upper: Option<&'a GuestPath>,
    pub work: Option<&'a GuestPath>,
    /// Whether `content`, `owner`, `mode` are given.
    pub content: bool,
    pub owner: bool,
    pub mode: bool,
}

/// The checks of one entry's kind-specific fields, as `(field, message)`; `made` says whether a
/// path exists before the entry (made earlier in `setup.paths`, or the image's): a bind's
/// source and an overlay's directories must.
pub fn validate(p: &Fields, made: impl Fn(&GuestPath) -> bool) -> Vec<(String, String)> {
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
    // A directory's content is refused by the scenario's own check.
    let content = matches!(kind, PathKindSpec::File | PathKindSpec::Symlink | PathKindSpec::Dir);
    only("content", !content && p.content, "`file` and `symlink`");
    let mounts = matches!(kind, PathKindSpec::Bind | PathKindSpec::Overlay);
    only("owner", mounts && p.owner, "the kinds that make what they name");
    only("mode", mounts && p.mode, "the kinds that make what they name");
    if device && p.device.is_none() {
        errs.push(("device".into(), format!("a `{name}` needs its number: `device: \"1:3\"` (MAJOR:MINOR)")));
    }
    let mut made_before = |field: &str, q: &GuestPath| {
        if !made(q) {
            errs.push((
                field.to_string(),
                format!("`{}` is not made before this entry: list it earlier in setup.paths", q.as_str()),
            ));
        }
    };
    match kind {
        PathKindSpec::Bind => match p.source {
            Some(src) => made_before("source", src),
            None => errs.push(("source".into(), "a `bind` needs `source:`, the path it mounts".into())),
        },
        PathKindSpec::Overlay => {
            p.lower.iter().for_each(|l| made_before("lower", l));
            p.upper.iter().for_each(|d| made_before("upper", d));
            p.work.iter().for_each(|d| made_before("work", d));
            if p.lower.is_empty() {
                errs.push(("lower".into(), "an `overlay` needs `lower:`, its read-only directories".into()));
            }
            match (p.upper, p.work) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers() {
        assert_eq!(DeviceNumber::try_from("1:3".to_string()), Ok(DeviceNumber(1, 3)));
        let e = DeviceNumber::try_from("null".to_string()).unwrap_err();
        assert!(e.contains("MAJOR:MINOR"), "{e}");
    }
}
