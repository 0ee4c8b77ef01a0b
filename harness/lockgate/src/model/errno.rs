//! Errno names as scenario files spell them.

/// Every Linux errno name a scenario may expect, with its number on x86_64 and its meaning (as
/// glibc's strerror words it). The guest reports errno names (not numbers), so names are what
/// the judge compares; the meaning is what the explanations say.
const NAMES: &[(&str, i32, &str)] = &[
    ("EPERM", 1, "operation not permitted"),
    ("ENOENT", 2, "no such file or directory"),
    ("ESRCH", 3, "no such process"),
    ("EINTR", 4, "interrupted system call"),
    ("EIO", 5, "input/output error"),
    ("ENXIO", 6, "no such device or address"),
    ("E2BIG", 7, "argument list too long"),
    ("ENOEXEC", 8, "exec format error"),
    ("EBADF", 9, "bad file descriptor"),
    ("ECHILD", 10, "no child processes"),
    ("EAGAIN", 11, "resource temporarily unavailable"),
    ("ENOMEM", 12, "cannot allocate memory"),
    ("EACCES", 13, "permission denied"),
    ("EFAULT", 14, "bad address"),
    ("ENOTBLK", 15, "block device required"),
    ("EBUSY", 16, "device or resource busy"),
    ("EEXIST", 17, "file exists"),
    ("EXDEV", 18, "invalid cross-device link"),
    ("ENODEV", 19, "no such device"),
    ("ENOTDIR", 20, "not a directory"),
    ("EISDIR", 21, "is a directory"),
    ("EINVAL", 22, "invalid argument"),
    ("ENFILE", 23, "too many open files in system"),
    ("EMFILE", 24, "too many open files"),
    ("ENOTTY", 25, "inappropriate ioctl for device"),
    ("ETXTBSY", 26, "text file busy"),
    ("EFBIG", 27, "file too large"),
    ("ENOSPC", 28, "no space left on device"),
    ("ESPIPE", 29, "illegal seek"),
    ("EROFS", 30, "read-only file system"),
    ("EMLINK", 31, "too many links"),
    ("EPIPE", 32, "broken pipe"),
    ("EDOM", 33, "numerical argument out of domain"),
    ("ERANGE", 34, "numerical result out of range"),
    ("EDEADLK", 35, "resource deadlock avoided"),
    ("ENAMETOOLONG", 36, "file name too long"),
    ("ENOLCK", 37, "no locks available"),
    ("ENOSYS", 38, "function not implemented"),
    ("ENOTEMPTY", 39, "directory not empty"),
    ("ELOOP", 40, "too many levels of symbolic links"),
    ("ENOMSG", 42, "no message of desired type"),
    ("ENOTSOCK", 88, "socket operation on non-socket"),
    ("EPROTOTYPE", 91, "protocol wrong type for socket"),
    ("ENOPROTOOPT", 92, "protocol not available"),
    ("EPROTONOSUPPORT", 93, "protocol not supported"),
    ("ESOCKTNOSUPPORT", 94, "socket type not supported"),
    ("EOPNOTSUPP", 95, "operation not supported"),
    ("EPFNOSUPPORT", 96, "protocol family not supported"),
    ("EAFNOSUPPORT", 97, "address family not supported by protocol"),
    ("EADDRINUSE", 98, "address already in use"),
    ("EADDRNOTAVAIL", 99, "cannot assign requested address"),
    ("ENETDOWN", 100, "network is down"),
    ("ENETUNREACH", 101, "network is unreachable"),
    ("ECONNABORTED", 103, "software caused connection abort"),
    ("ECONNRESET", 104, "connection reset by peer"),
    ("ENOTCONN", 107, "transport endpoint is not connected"),
    ("ETIMEDOUT", 110, "connection timed out"),
    ("ECONNREFUSED", 111, "connection refused"),
    ("EHOSTUNREACH", 113, "no route to host"),
    ("EALREADY", 114, "operation already in progress"),
    ("EINPROGRESS", 115, "operation now in progress"),
    ("EDQUOT", 122, "disk quota exceeded"),
    ("ECANCELED", 125, "operation canceled"),
    ("EOWNERDEAD", 130, "owner died"),
];

/// Signals a probe's child can die of, which the guest reports in place of an errno: a seccomp
/// filter's `kill`/`trap` actions (SIGSYS), an entry the kernel does not offer (SIGSEGV: `int
/// 0x80` without IA32 emulation). A scenario expects them like errnos (`denied: SIGSYS`).
const SIGNALS: &[(&str, i32, &str)] = &[
    ("SIGSYS", 31, "killed by SIGSYS (bad system call: a seccomp filter's kill or trap)"),
    ("SIGSEGV", 11, "killed by SIGSEGV (for `int 0x80`: the kernel has no IA32 emulation)"),
    ("SIGKILL", 9, "killed by SIGKILL"),
    ("SIGABRT", 6, "killed by SIGABRT"),
];

fn known() -> impl Iterator<Item = &'static (&'static str, i32, &'static str)> {
    NAMES.iter().chain(SIGNALS)
}

/// Returns the canonical name if `name` is a known errno.
pub fn canonical(name: &str) -> Option<&'static str> {
    known().find(|(n, _, _)| *n == name).map(|(n, _, _)| *n)
}

/// `ENOTTY: inappropriate ioctl for device`, or the name alone for one lockgate does not know.
pub fn with_meaning(name: &str) -> String {
    match known().find(|(n, _, _)| *n == name) {
        Some((n, _, meaning)) => format!("{n}: {meaning}"),
        None => name.to_string(),
    }
}

/// The errnos a permission check answers (DAC, a missing capability, an LSM): a failure the
/// same in both runs with one of these is `dac`; with any other, the operation failing by itself.
pub fn is_permission_denial(name: &str) -> bool {
    matches!(name, "EACCES" | "EPERM")
}

/// Closest known name, for "did you mean" hints.
pub fn suggest(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if let Some(n) = canonical(&upper) {
        return Some(n);
    }
    known().map(|(n, _, _)| (*n, distance(&upper, n))).filter(|(_, d)| *d <= 2).min_by_key(|(_, d)| *d).map(|(n, _)| n)
}

/// Levenshtein distance, for "did you mean" hints.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_names_and_suggestions() {
        assert_eq!(super::canonical("EACCES"), Some("EACCES"));
        assert_eq!(super::canonical("EACESS"), None);
        assert_eq!(super::suggest("EACESS"), Some("EACCES"));
        assert_eq!(super::suggest("exdev"), Some("EXDEV"));
        assert_eq!(super::suggest("NOTHING-LIKE-IT"), None);
        assert_eq!(super::with_meaning("ENOTTY"), "ENOTTY: inappropriate ioctl for device");
        assert_eq!(super::with_meaning("EWHAT"), "EWHAT");
        assert!(super::is_permission_denial("EPERM") && !super::is_permission_denial("EADDRINUSE"));
        assert_eq!(super::canonical("SIGSYS"), Some("SIGSYS"));
        assert!(!super::is_permission_denial("SIGSYS"));
    }
}
