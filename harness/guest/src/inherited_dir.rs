//! Directories opened before the sandbox (a scenario's `setup.open_before`): the probes that use
//! a directory descriptor the runner inherited.
//!
//! Landlock checks a path when a call resolves it, from whatever directory descriptor it starts
//! (`openat`); but it checks read_dir only when a directory is opened, so listing through a
//! descriptor opened before `restrict_self` is never checked again. The descriptor is found as
//! `inherited.rs` finds a file's, by device and inode, without opening the path itself.

use nix::errno::Errno;
use std::ffi::CString;

/// Descriptors above this are not looked at.
const MAX_FD: libc::c_int = 4096;

/// The first descriptor the runner has open (not O_PATH) on the directory at `dir`.
fn find(dir: &str) -> Result<libc::c_int, (Errno, String)> {
    let Ok(cpath) = CString::new(dir) else { return Err((Errno::EINVAL, String::new())) };
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: stat writes one struct stat into a buffer of that size.
    if unsafe { libc::stat(cpath.as_ptr(), st.as_mut_ptr()) } < 0 {
        return Err((Errno::last(), String::new()));
    }
    // SAFETY: stat succeeded, so it filled the struct.
    let want = unsafe { st.assume_init() };
    for fd in 0..MAX_FD {
        // SAFETY: F_GETFL takes no pointer; a closed descriptor answers EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || flags & libc::O_PATH != 0 {
            continue;
        }
        let mut got = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: fstat writes one struct stat into a buffer of that size.
        if unsafe { libc::fstat(fd, got.as_mut_ptr()) } < 0 {
            continue;
        }
        // SAFETY: fstat succeeded.
        let got = unsafe { got.assume_init() };
        if got.st_dev == want.st_dev && got.st_ino == want.st_ino {
            return Ok(fd);
        }
    }
    Err((Errno::EBADF, format!("no descriptor open on {dir}")))
}

/// openat(fd, rest, O_RDONLY) through the inherited descriptor on the nearest directory above
/// `path` that has one (`rest`: the path from there).
pub fn openat(path: &str) -> (Result<(), Errno>, String) {
    let mut dir = path;
    let (fd, dir) = loop {
        dir = match dir.rsplit_once('/') {
            Some(("", _)) if dir != "/" => "/",
            Some((up, _)) if !up.is_empty() => up,
            _ => return (Err(Errno::EBADF), format!("no descriptor open on a directory above {path}")),
        };
        match find(dir) {
            Ok(fd) => break (fd, dir),
            Err((Errno::EBADF, _)) => continue,
            Err((errno, said)) => return (Err(errno), said),
        }
    };
    let rest = path[dir.len()..].trim_start_matches('/');
    let said = format!("through descriptor {fd} on {dir}");
    let Ok(crest) = CString::new(rest) else { return (Err(Errno::EINVAL), said) };
    // SAFETY: openat with a valid C string; the new descriptor is closed at once.
    let opened = unsafe { libc::openat(fd, crest.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if opened < 0 {
        return (Err(Errno::last()), said);
    }
    // SAFETY: a descriptor we just opened.
    unsafe { libc::close(opened) };
    (Ok(()), said)
}

/// getdents64 through the inherited descriptor on the directory `dir`, from its start.
pub fn readdir(dir: &str) -> (Result<(), Errno>, String) {
    let fd = match find(dir) {
        Ok(fd) => fd,
        Err((errno, said)) => return (Err(errno), said),
    };
    let said = format!("descriptor {fd}");
    let mut buf = [0u8; 4096];
    // SAFETY: lseek and getdents64 on an open descriptor, into a buffer of the size given.
    let n = unsafe {
        libc::lseek(fd, 0, libc::SEEK_SET);
        libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len())
    };
    match n {
        n if n >= 0 => (Ok(()), said),
        _ => (Err(Errno::last()), said),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_directory_descriptor_and_uses_it() {
        let dir = std::env::temp_dir().join(format!("lockgate-inherited-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), "").unwrap();
        let d = dir.to_str().unwrap();
        let f = format!("{d}/f");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/g"), "").unwrap();
        assert_eq!(openat(&f), (Err(Errno::EBADF), format!("no descriptor open on a directory above {f}")));
        assert_eq!(readdir(d).0, Err(Errno::EBADF));
        let held = std::fs::File::open(&dir).unwrap();
        use std::os::fd::AsRawFd;
        let fd = held.as_raw_fd();
        assert_eq!(openat(&f), (Ok(()), format!("through descriptor {fd} on {d}")));
        assert_eq!(openat(&format!("{d}/missing")).0, Err(Errno::ENOENT));
        assert_eq!(openat(&format!("{d}/sub/g")), (Ok(()), format!("through descriptor {fd} on {d}")));
        assert_eq!(readdir(d), (Ok(()), format!("descriptor {fd}")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
