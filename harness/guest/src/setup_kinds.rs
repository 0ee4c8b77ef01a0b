//! Making the setup kinds beyond directories, files and symlinks (issue 28, item 5): FIFOs,
//! socket nodes and device nodes (mknod), and mounts below the top level (a tmpfs, a bind
//! mount, an overlayfs), each made where the run happens.
//!
//! What the place refuses is told from what fails: a container without CAP_MKNOD or
//! CAP_SYS_ADMIN (or whose seccomp profile blocks the call), a kernel without the file system.
//! A refusal is not the scenario's mistake — a deployment's device node or workspace mount is
//! a test input — so it is reported as the environment's or the kernel's, apart from other
//! setup errors (`RunObservation::setup_refused`).

use crate::errno_text;
use lockgate_protocol::{PathKind, PathSpec};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the container side under gVisor (`container_serve.rs`): there the Sentry, not the
/// VM's kernel, answers the calls, with no seccomp profile and no device cgroup of the
/// environment's (gvisor.yaml: `seccomp: unconfined`; runsc `--ignore-cgroups`).
static UNDER_GVISOR: AtomicBool = AtomicBool::new(false);

/// Says whether this process answers a case under gVisor.
pub fn set_under_gvisor(on: bool) {
    UNDER_GVISOR.store(on, Ordering::Relaxed);
}

/// Whether this process answers a case under gVisor.
pub fn under_gvisor() -> bool {
    UNDER_GVISOR.load(Ordering::Relaxed)
}

/// Why a path could not be made: a message naming path and errno, and whether it is the
/// environment's or the kernel's refusal rather than a mistake.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub refused: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure { message, refused: false }
    }
}

/// Capability numbers (linux/capability.h) of what the kinds need.
const CAP_MKNOD: u32 = 27;
const CAP_SYS_ADMIN: u32 = 21;

/// Whether this process has `cap` in its effective set (`CapEff:` of /proc/self/status);
/// None when unreadable.
fn has_cap(cap: u32) -> Option<bool> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    let set = u64::from_str_radix(hex, 16).ok()?;
    Some(set & (1 << cap) != 0)
}

/// The failure of making `spec` with `errno`: a refusal where the errno is the place's answer
/// to the call itself (no capability, a seccomp profile, a file system the kernel lacks).
fn failed(spec: &PathSpec, what: &str, errno: Errno) -> Failure {
    let path = &spec.path;
    let name = format!("{} ({})", errno_text::name(errno), errno.desc());
    let (cap, cap_name) = match spec.kind.is_mount() {
        true => (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
        false => (CAP_MKNOD, "CAP_MKNOD"),
    };
    let refusal = match errno {
        Errno::EPERM | Errno::ENOSYS | Errno::EACCES if spec.kind.is_mount() || spec.kind.is_device() => {
            Some(match has_cap(cap) {
                Some(false) => {
                    ("environment", format!("this process has no {cap_name} here (the container's capabilities lack it)"))
                }
                _ if UNDER_GVISOR.load(Ordering::Relaxed) => (
                    "environment",
                    format!("{cap_name} is held, and gVisor applies no seccomp profile and no device cgroup here, so gVisor's Sentry, which answers the container's calls, refused it"),
                ),
                _ => (
                    "environment",
                    format!("{cap_name} is held, so the seccomp profile (or the device cgroup) refused the call"),
                ),
            })
        }
        Errno::ENODEV if spec.kind.is_mount() => Some((
            "kernel",
            "the kernel has no such file system: not built in, and no module of it in the kernel's package that the guest could load (the preflight's `modules` and `overlayfs` say what it loaded and has)".to_string(),
        )),
        _ => None,
    };
    match refusal {
        Some((who, why)) => {
            Failure { message: format!("the {who} refused to {what} {path}: {name}: {why}"), refused: true }
        }
        None => Failure { message: format!("cannot {what} {path}: {name}"), refused: false },
    }
}

/// Makes one entry of the new kinds (never `dir`, `file` or `symlink`). Returns whether it
/// mounted something (to be detached after the run).
pub fn make(spec: &PathSpec) -> Result<bool, Failure> {
    let path = spec.path.as_str();
    let node = |kind: SFlag, what: &str| -> Result<bool, Failure> {
        let (major, minor) = spec.device.unwrap_or((0, 0));
        // The mode's permission bits only: chmod below sets them exactly (umask aside).
        mknod(path, kind, Mode::from_bits_truncate(spec.mode & 0o777), makedev(major.into(), minor.into()))
            .map_err(|e| failed(spec, what, e))?;
        owner_and_mode(spec)?;
        Ok(false)
    };
    match spec.kind {
        PathKind::Fifo => node(SFlag::S_IFIFO, "make the FIFO"),
        PathKind::Socket => node(SFlag::S_IFSOCK, "make the socket node"),
        PathKind::CharDevice => node(SFlag::S_IFCHR, "make the character device"),
        PathKind::BlockDevice => node(SFlag::S_IFBLK, "make the block device"),
        PathKind::Tmpfs => {
            mount_point(path, true)?;
            mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::empty(), Some("mode=0755"))
                .map_err(|e| failed(spec, "mount a tmpfs on", e))?;
            owner_and_mode(spec)?;
            Ok(true)
        }
        PathKind::Bind => {
            let source = spec.source.as_deref().unwrap_or_default();
            mount_point(path, fs::metadata(source).map(|m| m.is_dir()).unwrap_or(true))?;
            mount(Some(source), path, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| failed(spec, &format!("bind-mount {source} on"), e))?;
            Ok(true)
        }
        PathKind::Overlay => {
            let Some(o) = &spec.overlay else {
                return Err(format!("{path}: an overlay without its directories").into());
            };
            mount_point(path, true)?;
            let mut options = format!("lowerdir={}", o.lower.join(":"));
            if let (Some(upper), Some(work)) = (&o.upper, &o.work) {
                options.push_str(&format!(",upperdir={upper},workdir={work}"));
            }
            mount(Some("overlay"), path, Some("overlay"), MsFlags::empty(), Some(options.as_str()))
                .map_err(|e| failed(spec, "mount an overlayfs on", e))?;
            Ok(true)
        }
        PathKind::Dir | PathKind::File | PathKind::Symlink => Err(format!("{path}: not a kind of this module").into()),
    }
}

/// The directory (or, for a file bind mount, the empty file) a mount goes on, made if missing.
fn mount_point(path: &str, dir: bool) -> Result<(), Failure> {
    if Path::new(path).exists() {
        return Ok(());
    }
    let made = match dir {
        true => fs::create_dir(path),
        false => fs::File::create(path).map(|_| ()),
    };
    made.map_err(|e| format!("cannot create the mount point {path}: {e}").into())
}

fn owner_and_mode(spec: &PathSpec) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let path = spec.path.as_str();
    std::os::unix::fs::chown(path, Some(spec.uid), Some(spec.gid)).map_err(|e| format!("cannot chown {path}: {e}"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(spec.mode))
        .map_err(|e| format!("cannot chmod {path}: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &Path, kind: PathKind) -> PathSpec {
        PathSpec {
            path: path.to_str().unwrap().into(),
            kind,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            mode: 0o640,
            content: String::new(),
            device: None,
            source: None,
            overlay: None,
        }
    }

    #[test]
    fn fifos_and_socket_nodes_need_no_privilege() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let (fifo, sock) = (dir.path().join("p"), dir.path().join("s"));
        assert!(!make(&spec(&fifo, PathKind::Fifo)).unwrap());
        assert!(!make(&spec(&sock, PathKind::Socket)).unwrap());
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert!(fs::symlink_metadata(&sock).unwrap().file_type().is_socket());
    }

    #[test]
    fn a_refused_device_node_is_the_environments() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(&dir.path().join("null"), PathKind::CharDevice);
        s.device = Some((1, 3));
        let f = failed(&s, "make the character device", Errno::EPERM);
        assert!(f.refused && f.message.contains("CAP_MKNOD") && f.message.contains("EPERM"), "{f:?}");
        let f = failed(&s, "make the character device", Errno::ENOENT);
        assert!(!f.refused, "{f:?}");
    }
}
