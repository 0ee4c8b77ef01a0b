//! A scenario's workspace (`Setup::workspace`) as a container engine mounts one: Docker's
//! `-v SRC:/workspace` and Podman's volumes bind-mount a directory of the host, outside the
//! container's root, on the workspace path. Here the host is the VM: each volume is the `_data`
//! directory (as Docker names a volume's) of a fresh tmpfs on `VOLUMES/<name>`, owned by root
//! with mode 0755, as a tmpfs root is.
//!
//! So Landlock meets what it meets under an engine: the workspace is a mount point whose root
//! is a directory below another file system's root, not a child of the container's root; a
//! rule opened on the workspace is on that directory's inode (the source's), a rule above it
//! reaches it by the walk through its mount point, and a rename or a link out of it crosses a
//! mount (EXDEV, whoever asks).
//!
//! On the VM each run mounts its own ([`bind`]). A container has no CAP_SYS_ADMIN and its
//! mount namespace cannot see the VM's mounts, so for each case the agent clones the volume's
//! bind with open_tree(2) on the VM and moves it onto the workspace inside the container's
//! mount namespace with move_mount(2) ([`Volume`]), as LXC injects a mount into a running
//! container; every kernel of the matrix has both calls (Linux 5.2).

use crate::errno_text;
use lockgate_protocol::VOLUMES;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::ffi::CString;
use std::fs::{self, DirBuilder};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

/// open_tree(2)'s flag for a detached copy of the mount (linux/mount.h).
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// move_mount(2)'s flag for a source given by its descriptor alone (linux/mount.h).
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// A fresh volume for the workspace `ws` on the VM: a new tmpfs on `VOLUMES/<name>` and its
/// `_data` directory (root's, 0755). Returns the tmpfs's mount point and the directory.
fn make(ws: &str) -> Result<(String, String), String> {
    let dir = format!("{VOLUMES}/{}", ws.trim_start_matches('/').replace('/', "-"));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create the workspace's volume {dir}: {e}"))?;
    mount(Some("tmpfs"), dir.as_str(), Some("tmpfs"), MsFlags::empty(), Some("mode=0755"))
        .map_err(|e| format!("cannot mount the workspace's volume on {dir}: {}", errno_text::name(e)))?;
    let data = format!("{dir}/_data");
    let made = DirBuilder::new()
        .mode(0o755)
        .create(&data)
        .and_then(|()| fs::set_permissions(&data, fs::Permissions::from_mode(0o755)));
    if let Err(e) = made {
        detach(&dir);
        return Err(format!("cannot make the workspace's volume {data}: {e}"));
    }
    Ok((dir, data))
}

/// The workspace `ws` for a run on the VM: a fresh volume bind-mounted on it. Returns the mounts
/// made, in the order they were (detached in reverse by the run's tree).
pub fn bind(ws: &str) -> Result<Vec<String>, String> {
    let (dir, data) = make(ws)?;
    let bound = fs::create_dir_all(ws).map_err(|e| format!("cannot create the workspace {ws}: {e}")).and_then(|()| {
        mount(Some(data.as_str()), ws, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| format!("cannot bind-mount the workspace's volume {data} on {ws}: {}", errno_text::name(e)))
    });
    match bound {
        Ok(()) => Ok(vec![dir, ws.to_string()]),
        Err(e) => {
            detach(&dir);
            Err(e)
        }
    }
}

/// A case's volume for a container: made on the VM, with a detached copy of its bind that
/// [`Volume::attach`] moves into the container's mount namespace. Dropped after the case, when
/// the container has detached the workspace: the VM's tmpfs goes with it.
pub struct Volume {
    dir: String,
    tree: OwnedFd,
}

impl Volume {
    pub fn make(ws: &str) -> Result<Volume, String> {
        let (dir, data) = make(ws)?;
        match clone_tree(&data) {
            Ok(tree) => Ok(Volume { dir, tree }),
            Err(e) => {
                detach(&dir);
                Err(e)
            }
        }
    }

    /// Mounts the volume on `ws` (made if missing) in the calling process's mount namespace: the
    /// container's, entered by `container::in_container`.
    pub fn attach(&self, ws: &str) -> Result<(), String> {
        fs::create_dir_all(ws).map_err(|e| format!("cannot create the workspace {ws}: {e}"))?;
        let target = CString::new(ws).map_err(|_| format!("{ws}: a NUL in the path"))?;
        // SAFETY: move_mount(2) with a descriptor we hold, an empty path and a NUL-terminated one.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                self.tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if rc != 0 {
            let e = nix::errno::Errno::last();
            return Err(format!(
                "cannot move the workspace's volume {}/_data onto {ws}: {}",
                self.dir,
                errno_text::name(e)
            ));
        }
        Ok(())
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        detach(&self.dir);
    }
}

/// Detaches a volume's tmpfs, lazily (what still holds it keeps it until it lets go).
fn detach(dir: &str) {
    if let Err(e) = umount2(dir, MntFlags::MNT_DETACH) {
        crate::console::log(&format!("cannot unmount the workspace's volume {dir}: {}", errno_text::name(e)));
    }
}

/// A detached copy of the bind of `dir` (open_tree with OPEN_TREE_CLONE), not in any namespace
/// until moved; closing it undoes it unless it was.
fn clone_tree(dir: &str) -> Result<OwnedFd, String> {
    let path = CString::new(dir).map_err(|_| format!("{dir}: a NUL in the path"))?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: open_tree(2) with a NUL-terminated path; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if fd < 0 {
        let e = nix::errno::Errno::last();
        return Err(format!(
            "cannot clone the bind of the workspace's volume {dir} (open_tree): {}",
            errno_text::name(e)
        ));
    }
    // SAFETY: a descriptor open_tree just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether `ws` is a mount point: on another device than its parent (a bind of a tmpfs
/// directory always is).
pub fn is_mount_point(ws: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = std::path::Path::new(ws).parent().unwrap_or(std::path::Path::new("/"));
    match (fs::metadata(ws), fs::metadata(parent)) {
        (Ok(w), Ok(p)) => w.dev() != p.dev(),
        _ => false,
    }
}
