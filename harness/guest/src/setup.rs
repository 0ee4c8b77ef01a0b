//! Preparing the guest for a case (accounts, enforcer files) and for each run (fresh tmpfs
//! mounts, the scenario's paths with their owners and modes, the listeners its connect probes
//! need).
//!
//! Errors are messages naming the path and the errno: they end up in
//! `RunObservation::setup_error`, where a scenario author reads them.

use crate::errno_text;
use crate::setup_kinds::{self, Failure};
use lockgate_protocol::{PathKind, PathSpec, ProbeOp, ProbeTarget, Setup, Step, User, CONNECT_PROBE_ADDR};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// "EACCES (Permission denied)": the name for matching, the text for reading.
fn describe_errno(errno: Errno) -> String {
    format!("{} ({})", errno_text::name(errno), errno.desc())
}

fn describe_io(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(raw) => describe_errno(Errno::from_raw(raw)),
        None => err.to_string(),
    }
}

/// /etc/passwd and /etc/group with root and the case's users (a group per user, named after
/// it). The guest has no NSS beyond these files, and enforcers resolve `run_as_user` by name.
pub fn write_accounts(users: &[User]) -> Result<(), String> {
    write_files(&account_files(users))
}

/// `/etc/passwd` and `/etc/group` for `users` (root first), as (path, content).
pub fn account_files(users: &[User]) -> Vec<(String, String)> {
    let mut passwd = String::from("root:x:0:0:root:/:/bin/sh\n");
    let mut group = String::from("root:x:0:\n");
    for u in users {
        passwd.push_str(&format!("{0}:x:{1}:{2}:{0}:/:/bin/sh\n", u.name, u.uid, u.gid));
        group.push_str(&format!("{}:x:{}:\n", u.name, u.gid));
    }
    vec![("/etc/passwd".into(), passwd), ("/etc/group".into(), group)]
}

/// The enforcer's files (policy files), as (path, content).
pub fn write_files(files: &[(String, String)]) -> Result<(), String> {
    files.iter().try_for_each(|(path, content)| write_file_with_parents(path, content))
}

fn write_file_with_parents(path: &str, content: &str) -> Result<(), String> {
    if let Some(parent) = Path::new(path).parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {}", parent.display(), describe_io(&e)))?;
    }
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(path)?;
        f.write_all(content.as_bytes())?;
        // An existing file keeps its old mode through open(O_CREAT); the contract is 0644.
        f.set_permissions(fs::Permissions::from_mode(0o644))
    };
    write().map_err(|e| format!("cannot write {path}: {}", describe_io(&e)))
}

/// A root file system as it was when recorded: each directory on the root's own device (never
/// inside /proc, /sys, /dev, /run or a tmpfs) with its mtime and its entries, so that each case
/// can start from the same tree whatever ran before it in this boot. One for the VM's root
/// ([`restore_baseline`]) and one for each container whose root is an overlayfs of its own
/// (`container.rs`, through `/proc/<pid>/root`): there a case's tmpfs mount points and files land
/// in the container's upper layer, out of reach of the VM's.
pub struct Baseline {
    root: PathBuf,
    dirs: BTreeMap<PathBuf, Dir>,
}

struct Dir {
    /// Its mtime: unchanged means no entry was added or removed in it.
    mtime: (i64, i64),
    entries: BTreeSet<std::ffi::OsString>,
}

fn mtime(m: &fs::Metadata) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (m.mtime(), m.mtime_nsec())
}

/// A directory's entries; the directories among them on `dev` (found from readdir's type,
/// so only directories are stat'ed).
fn read_dir_entries(dir: &Path, dev: u64) -> (BTreeSet<std::ffi::OsString>, Vec<PathBuf>) {
    use std::os::unix::fs::MetadataExt;
    let mut entries = BTreeSet::new();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let path = entry.path();
            if fs::symlink_metadata(&path).is_ok_and(|m| m.dev() == dev) {
                subdirs.push(path);
            }
        }
        entries.insert(entry.file_name());
    }
    (entries, subdirs)
}

/// The device of `root` (followed: `/proc/<pid>/root` is a link to a container's root).
fn root_dev(root: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(root).ok().map(|m| m.dev())
}

/// Removes `path` and what it holds on the root's device `dev` (never below a mount point).
fn remove_tree(path: &Path, dev: u64) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    if meta.dev() != dev {
        // Still a mount point: leave it (a lazily detached tmpfs is gone already).
        return Ok(());
    }
    for entry in fs::read_dir(path)?.flatten() {
        remove_tree(&entry.path(), dev)?;
    }
    fs::remove_dir(path)
}

impl Baseline {
    /// The tree below `root` as it is now.
    pub fn record(root: &Path) -> Baseline {
        let mut dirs = BTreeMap::new();
        if let Some(dev) = root_dev(root) {
            let mut stack = vec![root.to_path_buf()];
            while let Some(dir) = stack.pop() {
                let Ok(meta) = fs::metadata(&dir) else { continue };
                let (entries, subdirs) = read_dir_entries(&dir, dev);
                stack.extend(subdirs);
                dirs.insert(dir, Dir { mtime: mtime(&meta), entries });
            }
        }
        Baseline { root: root.to_path_buf(), dirs }
    }

    /// Puts the tree back as recorded: removes every path made since (a tmpfs mount point or a
    /// policy file of an earlier case, a file an earlier run wrote outside its tmpfs). Only the
    /// directories whose mtime changed are read again. Returns what could not be removed.
    pub fn restore(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(dev) = root_dev(&self.root) else {
            return vec![format!("cannot stat {}: the tree was not put back", self.root.display())];
        };
        for (dir, known) in &self.dirs {
            let Ok(meta) = fs::metadata(dir) else { continue };
            if mtime(&meta) == known.mtime {
                continue;
            }
            let (entries, _) = read_dir_entries(dir, dev);
            for name in entries.difference(&known.entries) {
                let path = dir.join(name);
                if let Err(e) = remove_tree(&path, dev) {
                    problems.push(format!(
                        "cannot remove {} left by an earlier case: {}",
                        path.display(),
                        describe_io(&e)
                    ));
                }
            }
        }
        problems
    }
}

/// The VM's root as the first case of the boot found it.
static BASELINE: std::sync::OnceLock<Baseline> = std::sync::OnceLock::new();

/// Called before each case on the VM: the first call records the root file system as the boot
/// left it; every later one puts it back so ([`Baseline::restore`]).
pub fn restore_baseline() -> Vec<String> {
    match BASELINE.get() {
        Some(baseline) => baseline.restore(),
        None => {
            BASELINE.get_or_init(|| Baseline::record(Path::new("/")));
            Vec::new()
        }
    }
}

/// The per-run tree: a fresh tmpfs on each `setup.tmpfs` directory, then `setup.paths`.
///
/// On the VM every run mounts new tmpfs, undone in reverse order by [`Tree::teardown`] (also
/// on drop, so an early return cannot leave a mount behind for the next run). A container has
/// no CAP_SYS_ADMIN to mount: the agent mounts the case's tmpfs into the container's mount
/// namespace before the case (`container.rs`), and each run empties them.
#[derive(Default)]
pub struct Tree {
    roots: Roots,
    /// The tmpfs mounts this tree made (never the ones a container's case runs on).
    mounts: Vec<String>,
    /// What this place made of the setup otherwise than asked (`RunObservation::setup_notes`).
    pub notes: Vec<String>,
}

/// How a run's tmpfs roots are made fresh.
#[derive(Default, Clone, Copy)]
enum Roots {
    /// Mount a new tmpfs on each (the VM).
    #[default]
    Mount,
    /// Empty the ones the agent mounted for the case and reset their owner and mode (a container).
    Empty,
}

impl Tree {
    /// A tree on the tmpfs mounts the agent made in the container for the case.
    pub fn in_container() -> Tree {
        Tree { roots: Roots::Empty, mounts: Vec::new(), notes: Vec::new() }
    }

    /// Makes the tmpfs roots fresh, then creates `setup.paths` in order (the mounts among
    /// them detached by [`Tree::teardown`]).
    pub fn prepare(&mut self, setup: &Setup) -> Result<(), Failure> {
        match self.roots {
            Roots::Mount => {
                self.mount_roots(&setup.tmpfs)?;
                if let Some(ws) = &setup.workspace {
                    self.mounts.extend(crate::volume::bind(ws)?);
                }
            }
            Roots::Empty => {
                reset_roots(&setup.tmpfs)?;
                if let Some(ws) = &setup.workspace {
                    self.workspace_in_container(ws)?;
                }
            }
        }
        for spec in &setup.paths {
            match spec.kind {
                PathKind::Dir | PathKind::File | PathKind::Symlink => create_path(spec)?,
                _ => {
                    if setup_kinds::make(spec)? {
                        self.mounts.push(spec.path.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// The workspace the agent mounted for the case, emptied as the tmpfs roots are; checked to
    /// be a mount point, except under gVisor, where it is a directory and the cell says so.
    fn workspace_in_container(&mut self, ws: &str) -> Result<(), String> {
        reset_roots(&[ws.to_string()])?;
        if setup_kinds::under_gvisor() {
            self.notes.push(format!(
                "under gVisor the workspace {ws} is a directory of the guest's root that runsc's gofer serves, emptied before each run, not a bind mount: gVisor's Sentry keeps a file system of its own and does not see the mounts the agent makes (the case's tmpfs roots are directories there too), so what a bind mount changes (a mount point of its own, EXDEV out of it) is not tested here"
            ));
        } else if !crate::volume::is_mount_point(ws) {
            return Err(format!("the workspace {ws} is not a mount point in the container: the agent's bind mount of its volume is not there"));
        }
        Ok(())
    }

    fn mount_roots(&mut self, roots: &[String]) -> Result<(), String> {
        for dir in roots {
            mount_tmpfs(dir)?;
            self.mounts.push(dir.clone());
        }
        Ok(())
    }

    /// Detaches every mount (lazily, so that a process still holding a file in it cannot keep
    /// the next run from starting clean). Returns what could not be undone.
    pub fn teardown(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some(dir) = self.mounts.pop() {
            if let Err(e) = detach_tmpfs(&dir) {
                errors.push(e);
            }
        }
        errors
    }
}

/// A new tmpfs on `dir` (made if missing), as a tmpfs root of a scenario's tree: the VM's runs
/// mount one per run, the agent one per case in a container's mount namespace.
pub fn mount_tmpfs(dir: &str) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create tmpfs mount point {dir}: {}", describe_io(&e)))?;
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::empty(),
        // /tmp keeps its sticky, world-writable mode so `read_write: [/tmp]` means
        // something for an unprivileged sandbox user.
        Some(if dir == "/tmp" { "mode=1777" } else { "mode=0755" }),
    )
    .map_err(|e| format!("cannot mount a tmpfs on {dir}: {}", describe_errno(e)))
}

/// Undoes [`mount_tmpfs`] (or a setup path's mount), lazily.
pub fn detach_tmpfs(dir: &str) -> Result<(), String> {
    umount2(dir, MntFlags::MNT_DETACH).map_err(|e| format!("cannot unmount {dir}: {}", describe_errno(e)))
}

impl Drop for Tree {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Empties each tmpfs root and gives it back the owner and mode of a new tmpfs (the mode
/// [`Tree::mount_roots`] asks for).
fn reset_roots(roots: &[String]) -> Result<(), String> {
    for root in roots {
        empty_dir(root)?;
        let mode = if root == "/tmp" { 0o1777 } else { 0o755 };
        std::os::unix::fs::chown(root, Some(0), Some(0)).map_err(|e| format!("cannot chown {root}: {e}"))?;
        fs::set_permissions(Path::new(root), fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot chmod {root}: {e}"))?;
    }
    Ok(())
}

/// Removes everything in `dir` (the directory itself stays, with its owner and mode).
pub fn empty_dir(dir: &str) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {dir}: {e}"))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| format!("cannot empty {dir}: {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Creates one path with its owner and mode. Symlinks get lchown and no chmod (a symlink's mode
/// means nothing on Linux, and chmod would follow it).
fn create_path(spec: &PathSpec) -> Result<(), String> {
    let path = spec.path.as_str();
    let fail = |what: &str, e: io::Error| format!("cannot {what} {path}: {}", describe_io(&e));
    match spec.kind {
        PathKind::Dir => {
            if let Err(e) = DirBuilder::new().mode(0o755).create(path) {
                // A tmpfs mount point listed as a path, or a directory left by the other run
                // outside any tmpfs: it exists, it is a directory, owner and mode still apply.
                if !(e.kind() == io::ErrorKind::AlreadyExists && Path::new(path).is_dir()) {
                    return Err(fail("create directory", e));
                }
            }
        }
        PathKind::File => {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(path)
                .and_then(|mut f| f.write_all(spec.content.as_bytes()))
                .map_err(|e| fail("write file", e))?;
        }
        PathKind::Symlink => {
            // A symlink left by the other run outside any tmpfs is replaced, not an error.
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                fs::remove_file(path).map_err(|e| fail("replace symlink", e))?;
            }
            std::os::unix::fs::symlink(&spec.content, path).map_err(|e| fail("create symlink", e))?;
            return std::os::unix::fs::lchown(path, Some(spec.uid), Some(spec.gid)).map_err(|e| fail("chown", e));
        }
        _ => return Err(format!("{path}: made by setup_kinds, not here")),
    }
    // chown before chmod: chown clears the set-id bits a mode may ask for.
    std::os::unix::fs::chown(path, Some(spec.uid), Some(spec.gid)).map_err(|e| fail("chown", e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(spec.mode)).map_err(|e| fail("chmod", e))
}

/// A listener on [`CONNECT_PROBE_ADDR`]:<port> for every connect probe, outside the sandbox: a
/// connect the policy allows then succeeds. On the harness's own address, so that a bind probe
/// on 127.0.0.1 and the same port is not answered EADDRINUSE by the harness (issue 24). The
/// kernel completes the handshake from the backlog, so nothing needs to accept; the listeners
/// close when the caller drops them, after the run.
///
/// `listen` (the scenario's `setup.listen`) names the ports instead: none, or others.
pub fn start_listeners(steps: &[Step], listen: Option<&[u16]>) -> Result<Vec<TcpListener>, String> {
    let ports: BTreeSet<u16> = match listen {
        Some(ports) => ports.iter().copied().collect(),
        None => steps
            .iter()
            .filter_map(|s| match s {
                // A target that is not a port is left to the probe, which reports EINVAL.
                Step::Probe { op: ProbeOp::TcpConnect, target: ProbeTarget::Port(port) } => Some(*port),
                _ => None,
            })
            .collect(),
    };
    ports
        .into_iter()
        .map(|port| {
            let addr = std::net::Ipv4Addr::from(CONNECT_PROBE_ADDR);
            TcpListener::bind((addr, port))
                .map_err(|e| format!("cannot listen on {addr}:{port} for a connect probe: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &Path, kind: PathKind, mode: u32, content: &str) -> PathSpec {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        PathSpec {
            path: path.to_str().unwrap().into(),
            kind,
            uid,
            gid,
            mode,
            content: content.into(),
            device: None,
            source: None,
            overlay: None,
        }
    }

    #[test]
    fn paths_are_created_in_order_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        let setup = Setup {
            users: vec![],
            tmpfs: vec![],
            workspace: None,
            listen: None,
            paths: vec![
                spec(&d, PathKind::Dir, 0o700, ""),
                spec(&d.join("f"), PathKind::File, 0o600, "hello"),
                spec(&d.join("l"), PathKind::Symlink, 0, "f"),
            ],
        };
        for _ in 0..2 {
            // Twice: a second run over paths left outside a tmpfs must also succeed.
            Tree::default().prepare(&setup).unwrap();
        }
        assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o7777, 0o700);
        assert_eq!(fs::metadata(d.join("f")).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(fs::read_to_string(d.join("l")).unwrap(), "hello");
    }

    #[test]
    fn a_failing_path_names_path_and_errno() {
        let dir = tempfile::tempdir().unwrap();
        let orphan = dir.path().join("no/such/parent");
        let setup = Setup { paths: vec![spec(&orphan, PathKind::File, 0o644, "")], ..Default::default() };
        let err = Tree::default().prepare(&setup).unwrap_err().message;
        assert!(err.contains(orphan.to_str().unwrap()) && err.contains("ENOENT"), "{err}");
    }

    /// Issue 24, item 3: the listener a connect probe needs does not hold the port a bind
    /// probe asks for, so a bind the policy allows on a connect probe's port is allowed.
    #[test]
    fn a_connect_probes_listener_leaves_its_port_free_to_bind() {
        // A port nobody holds: the kernel picks one, and it is freed at once.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let steps = [Step::Probe { op: ProbeOp::TcpConnect, target: ProbeTarget::Port(port) }];
        let _listeners = start_listeners(&steps, None).unwrap();
        let probe = |op| crate::probes::run(op, &ProbeTarget::Port(port));
        assert_eq!(probe(ProbeOp::TcpBind), lockgate_protocol::Outcome::Ok, "bind 127.0.0.1:{port}");
        assert_eq!(probe(ProbeOp::TcpConnect), lockgate_protocol::Outcome::Ok, "connect to the listener");
    }

    #[test]
    fn reset_roots_empties_and_resets() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("f"), "x").unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
        let r = root.to_str().unwrap().to_string();
        if nix::unistd::getuid().is_root() {
            reset_roots(&[r]).unwrap();
            assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
            assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o7777, 0o755);
        }
    }
}
