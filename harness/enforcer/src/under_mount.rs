//! The `rule-under-mount` fault: a rule path that is a mount point opened as the directory the
//! mount covers, as an enforcer that opened it before the mount was made would hold it.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// open_tree(2) flags (linux/mount.h): a detached copy of the mount at the path, without the
/// mounts below it.
const OPEN_TREE_CLONE: libc::c_uint = 1;

/// Whether `path` is a mount point here (a mount point field of /proc/self/mountinfo).
fn is_mount_point(path: &str) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    info.lines().any(|l| l.split(' ').nth(4) == Some(path))
}

/// The directory beneath the mount on `path`, as an `O_PATH` descriptor; None when `path` is
/// no mount point (or the clone is refused: no CAP_SYS_ADMIN), so the rule stays honest.
pub fn covered(path: &str) -> Option<OwnedFd> {
    if !is_mount_point(path) {
        return None;
    }
    let p = Path::new(path);
    let parent = CString::new(p.parent()?.as_os_str().as_encoded_bytes()).ok()?;
    let name = CString::new(p.file_name()?.as_encoded_bytes()).ok()?;
    // SAFETY: valid C string; the flags ask for a new descriptor, checked below.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            parent.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if tree < 0 {
        return None;
    }
    // SAFETY: open_tree returned a new descriptor, owned here.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as i32) };
    use std::os::fd::AsRawFd;
    // SAFETY: valid descriptor and C string.
    let fd =
        unsafe { libc::openat(tree.as_raw_fd(), name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) };
    // SAFETY: openat returned a new descriptor, owned here.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}
