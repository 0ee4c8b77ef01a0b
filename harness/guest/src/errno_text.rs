//! Errno names, and the errno behind an error message a command printed.
//!
//! The judge compares errno *names* (as scenario files spell them), so every errno leaves the
//! guest as its name. A shell step only gives us text on stderr; busybox-static and this binary
//! link the same glibc message table, so the errno whose `strerror` text appears in stderr is
//! the one the tool got.

use nix::errno::Errno;
use std::sync::OnceLock;

/// Highest errno of Linux's generic table (EHWPOISON).
const MAX_ERRNO: i32 = 133;

/// What a shell step reports when no known message appears in its stderr.
pub const UNKNOWN: &str = "EUNKNOWN";

/// The errno's name as nix spells it (`EACCES`, `EOPNOTSUPP`). nix knows every Linux errno;
/// a value it does not know has lost its number already, and is reported as [`UNKNOWN`].
pub fn name(errno: Errno) -> String {
    match errno {
        Errno::UnknownErrno => UNKNOWN.to_string(),
        known => format!("{known:?}"),
    }
}

/// Name of a raw errno value (from `io::Error::raw_os_error`, or read from a pipe); a number
/// nix does not know keeps its number (`E4000`), which beats nix's `UnknownErrno`.
pub fn name_of_raw(errno: i32) -> String {
    match Errno::from_raw(errno) {
        Errno::UnknownErrno => format!("E{errno}"),
        known => name(known),
    }
}

/// Name of the errno behind an `io::Error`, or `EIO` if it carries none (it always does for
/// errors that come from a system call).
pub fn name_of_io(err: &std::io::Error) -> String {
    err.raw_os_error().map(name_of_raw).unwrap_or_else(|| "EIO".to_string())
}

/// The errno whose message occurs in `stderr`; the longest message wins so that e.g.
/// "Operation not permitted" is not shadowed by a shorter message it happens to contain.
pub fn infer(stderr: &str) -> String {
    messages()
        .iter()
        .filter(|(_, text)| stderr.contains(text.as_str()))
        .max_by_key(|(_, text)| text.len())
        .map(|(errno, _)| name(*errno))
        .unwrap_or_else(|| UNKNOWN.to_string())
}

/// (errno, message) for every errno glibc has a message for, computed once.
fn messages() -> &'static [(Errno, String)] {
    static TABLE: OnceLock<Vec<(Errno, String)>> = OnceLock::new();
    TABLE.get_or_init(|| (1..=MAX_ERRNO).filter_map(|n| strerror(n).map(|text| (Errno::from_raw(n), text))).collect())
}

/// glibc's message for `n`, or None for a number it has no message for ("Unknown error n"
/// would otherwise match any stderr that prints an unknown error).
fn strerror(n: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is valid for its length; libc's `strerror_r` is the XSI one, which
    // writes a NUL-terminated message into it (thread-safe, unlike `strerror`).
    let rc = unsafe { libc::strerror_r(n, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: strerror_r succeeded, so the buffer holds a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    if text.is_empty() || text.starts_with("Unknown error") {
        None
    } else {
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_touch_denial_is_eacces() {
        assert_eq!(infer("touch: /sandbox/testfile: Permission denied\n"), "EACCES");
    }

    #[test]
    fn cross_device_link_is_exdev() {
        assert_eq!(infer("mv: can't rename 'a': Invalid cross-device link"), "EXDEV");
    }

    #[test]
    fn other_messages() {
        assert_eq!(infer("sh: can't create /x: Read-only file system"), "EROFS");
        assert_eq!(infer("cat: can't open 'x': No such file or directory"), "ENOENT");
        assert_eq!(infer("mkdir: can't create directory 'd': Operation not permitted"), "EPERM");
    }

    #[test]
    fn gibberish_is_unknown() {
        assert_eq!(infer("qwxz blorp 42"), UNKNOWN);
        assert_eq!(infer(""), UNKNOWN);
    }

    #[test]
    fn names_follow_nix_and_keep_unknown_numbers() {
        assert_eq!(name(Errno::EOPNOTSUPP), "EOPNOTSUPP");
        assert_eq!(name_of_raw(libc::ENOSYS), "ENOSYS");
        assert_eq!(name_of_raw(4000), "E4000");
        assert_eq!(name(Errno::UnknownErrno), UNKNOWN);
    }
}
