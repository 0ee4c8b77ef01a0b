//! A probe made in a throwaway child: the syscall probes change the process that makes them
//! (unshare, a filter, a mount, ptrace) or end it (a seccomp filter's SIGSYS, SIGSEGV from an
//! `int 0x80` the kernel does not take), and neither may reach the runner's next step. Also the
//! paused child that probes of a target inside the domain (signal, ptrace) aim at.

use crate::errno_text;
use lockgate_protocol::Outcome;
use nix::errno::Errno;
use std::time::{Duration, Instant};

/// How long a probe's child may take before it is killed and the step reported as `timeout`
/// (a call that blocks, like `syscall pause`).
const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `probe` in a forked child and reports what it answered: `Ok`, the errno it returned, or
/// the name of the signal that killed the child (`SIGSYS`). A probe that execs (memfd_exec)
/// answers nothing when the exec works: the pipe closes on exec, and a child that then exits
/// is `Ok`.
///
/// The caller must be single-threaded (the runner, the agent during its preflight): the child
/// then may call anything, not just async-signal-safe functions.
pub fn run(probe: impl FnOnce() -> Result<(), Errno>) -> Outcome {
    let mut pipe = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Outcome::Err(errno_text::name(Errno::last()));
    }
    let (reader, writer) = (pipe[0], pipe[1]);
    // SAFETY: the caller is single-threaded (see above).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let errno = Errno::last();
        close(reader);
        close(writer);
        return Outcome::Err(errno_text::name(errno));
    }
    if pid == 0 {
        close(reader);
        let me = std::process::id();
        let result = probe();
        // A call that forks (`syscall fork`) returns here in the new process too: it only
        // exits, so that exactly one answer reaches the pipe.
        if std::process::id() == me {
            let code: i32 = match result {
                Ok(()) => 0,
                Err(errno) => errno as i32,
            };
            // SAFETY: writes four bytes from a valid buffer to our end of the pipe.
            unsafe { libc::write(writer, code.to_ne_bytes().as_ptr().cast(), 4) };
        }
        // SAFETY: leaves the child without running the runner's exit handlers or destructors.
        unsafe { libc::_exit(0) };
    }
    close(writer);
    let answer = read_answer(reader);
    close(reader);
    let status = reap(pid, answer.is_none());
    match (answer, status) {
        (Some(Ok(0)), _) => Outcome::Ok,
        (Some(Ok(errno)), _) => Outcome::Err(errno_text::name_of_raw(errno)),
        (Some(Err(())), _) => Outcome::Timeout,
        (None, Status::Signaled(sig)) => Outcome::Err(signal_name(sig)),
        (None, Status::Exited) => Outcome::Ok,
    }
}

enum Status {
    Exited,
    Signaled(i32),
}

/// The child's answer: `Ok(code)`, `Err(())` when the deadline passed, `None` at EOF without one.
fn read_answer(fd: libc::c_int) -> Option<Result<i32, ()>> {
    let stop = Instant::now() + DEADLINE;
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        let left = stop.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(Err(()));
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: polls one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if ready < 0 && Errno::last() == Errno::EINTR || ready == 0 {
            continue;
        }
        // SAFETY: reads into the unfilled part of a valid buffer.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        match n {
            n if n > 0 => got += n as usize,
            _ if Errno::last() == Errno::EINTR => continue,
            _ => return None,
        }
    }
    Some(Ok(i32::from_ne_bytes(buf)))
}

/// Waits for the child; kills it first when it has not answered (it timed out, or an exec'd
/// program still runs past the deadline).
fn reap(pid: libc::pid_t, unanswered: bool) -> Status {
    let stop = Instant::now() + if unanswered { DEADLINE } else { Duration::ZERO };
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG | libc::__WALL) };
        if r == pid {
            break;
        }
        if r < 0 && Errno::last() != Errno::EINTR {
            return Status::Exited;
        }
        if Instant::now() >= stop {
            // SAFETY: our own child; then reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, libc::__WALL);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if libc::WIFSIGNALED(status) {
        Status::Signaled(libc::WTERMSIG(status))
    } else {
        Status::Exited
    }
}

/// Forks a child (inside the domain, same uid) that waits to be killed, hands its pid to
/// `probe` (a signal or ptrace probe's target inside), then kills and reaps it.
pub fn with_paused_child(probe: impl FnOnce(libc::pid_t) -> Result<(), Errno>) -> Result<(), Errno> {
    // SAFETY: the caller is single-threaded; the child only calls async-signal-safe functions.
    let pid = Errno::result(unsafe { libc::fork() })?;
    if pid == 0 {
        loop {
            // SAFETY: async-signal-safe.
            unsafe { libc::pause() };
        }
    }
    let result = probe(pid);
    // SAFETY: our own child: killed, then reaped (__WALL: also while a probe traces it).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
    }
    result
}

/// `SIGSYS`, or `SIG<n>` for a number nix does not name.
pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("SIG{sig}"),
    }
}

fn close(fd: libc::c_int) {
    // SAFETY: closes a descriptor we own, once.
    unsafe { libc::close(fd) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_errnos_signals_and_nothing_changes_here() {
        assert_eq!(run(|| Ok(())), Outcome::Ok);
        assert_eq!(run(|| Err(Errno::EPERM)), Outcome::Err("EPERM".into()));
        let killed = run(|| {
            // SAFETY: the child kills itself.
            unsafe { libc::raise(libc::SIGSYS) };
            Ok(())
        });
        assert_eq!(killed, Outcome::Err("SIGSYS".into()));
        // What the child changes stays in the child.
        let before = std::env::current_dir().unwrap();
        // SAFETY: a C string literal; no allocation after fork in this multi-threaded test.
        assert_eq!(run(|| Errno::result(unsafe { libc::chdir(c"/".as_ptr()) }).map(drop)), Outcome::Ok);
        assert_eq!(std::env::current_dir().unwrap(), before);
    }

    #[test]
    fn a_forking_call_answers_once() {
        // SAFETY: a fork in the probe's child: both return, one answers.
        let forked = run(|| if unsafe { libc::fork() } < 0 { Err(Errno::last()) } else { Ok(()) });
        assert_eq!(forked, Outcome::Ok);
    }
}
