//! What crossed the boundary into the sandbox: the descriptors the probe runner inherited.
//!
//! Landlock checks a file's access when it is opened; a descriptor opened before
//! `restrict_self` (by the enforcer, as root) keeps the access it was opened with. The probe
//! looks for one open on a given file without opening the file itself: every descriptor of the
//! runner is compared with the file by device and inode (`stat`, which Landlock does not
//! restrict), and a write is made through the first one open for writing.

use nix::errno::Errno;

/// Descriptors above this are not looked at (the runner's soft limit is lower in practice).
const MAX_FD: libc::c_int = 65_536;

/// Writes one byte through a descriptor open for writing on the file at `path`. Returns the
/// result, and what was found: the descriptor written through, or those open on the file
/// read-only, or that none was.
pub fn write(path: &str) -> (Result<(), Errno>, String) {
    let Ok(cpath) = std::ffi::CString::new(path) else { return (Err(Errno::EINVAL), String::new()) };
    let mut file = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: stat writes one struct stat into a buffer of that size.
    if unsafe { libc::stat(cpath.as_ptr(), file.as_mut_ptr()) } < 0 {
        return (Err(Errno::last()), String::new());
    }
    // SAFETY: stat succeeded, so it filled the struct.
    let file = unsafe { file.assume_init() };
    let mut read_only = Vec::new();
    for fd in 0..limit() {
        // SAFETY: F_GETFL takes no pointer; a closed descriptor answers EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || !same_file(fd, &file) {
            continue;
        }
        let mode = match flags & libc::O_ACCMODE {
            libc::O_WRONLY => "O_WRONLY",
            libc::O_RDWR => "O_RDWR",
            _ => {
                read_only.push(format!("descriptor {fd} (O_RDONLY)"));
                continue;
            }
        };
        // SAFETY: writes one byte from a valid buffer to an open descriptor.
        let ret = unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
        let said = format!("descriptor {fd} ({mode})");
        return match ret {
            n if n >= 0 => (Ok(()), said),
            _ => (Err(Errno::last()), format!("{said}: the write failed")),
        };
    }
    let said = match read_only.is_empty() {
        true => "no descriptor open on it".to_string(),
        false => format!("open read-only only: {}", read_only.join(", ")),
    };
    (Err(Errno::EBADF), said)
}

fn same_file(fd: libc::c_int, file: &libc::stat) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes one struct stat into a buffer of that size.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } < 0 {
        return false;
    }
    // SAFETY: fstat succeeded, so it filled the struct.
    let st = unsafe { st.assume_init() };
    st.st_dev == file.st_dev && st.st_ino == file.st_ino
}

/// The soft limit on descriptors, bounded.
fn limit() -> libc::c_int {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } {
        0 => rl.rlim_cur.min(MAX_FD as libc::rlim_t) as libc::c_int,
        _ => 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn finds_a_writable_descriptor_and_says_which() {
        let dir = std::env::temp_dir().join(format!("lockgate-inherited-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, "").unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(write(p), (Err(Errno::EBADF), "no descriptor open on it".into()));
        let ro = std::fs::File::open(&path).unwrap();
        let (result, said) = write(p);
        assert_eq!(result, Err(Errno::EBADF));
        assert_eq!(said, format!("open read-only only: descriptor {} (O_RDONLY)", ro.as_raw_fd()));
        let rw = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        assert_eq!(write(p), (Ok(()), format!("descriptor {} (O_RDWR)", rw.as_raw_fd())));
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        assert_eq!(write(dir.join("missing").to_str().unwrap()).0, Err(Errno::ENOENT));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
