//! Supervising one child process: feed its stdin, read its stdout and stderr to the end,
//! enforce a deadline; and reaping what a run leaves behind. Used for the control and enforced
//! runs, for runc, and by the probe runner for shell steps.
//!
//! Everything is multiplexed with poll(2) in one thread: the agent is PID 1 and forks, and a
//! single-threaded parent keeps fork simple and safe. The child must have been spawned in its
//! own process group (`CommandExt::process_group(0)`) so that a deadline can kill everything it
//! started, not just the top process.

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// After the top process exits, how long stragglers (a backgrounded command) may keep the
/// pipes open before we stop reading and kill them.
const GRACE_AFTER_EXIT: Duration = Duration::from_secs(1);

/// How a supervised child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
    /// Still running at the deadline; its process group was killed.
    TimedOut,
}

impl End {
    /// The protocol's spelling: `exit:N`, `signal:NAME` or `timeout`.
    pub fn describe(self) -> String {
        match self {
            End::Exited(code) => format!("exit:{code}"),
            End::Signaled(sig) => match Signal::try_from(sig) {
                Ok(s) => format!("signal:{}", s.as_str()),
                Err(_) => format!("signal:{sig}"),
            },
            End::TimedOut => "timeout".to_string(),
        }
    }

    fn from_status(status: ExitStatus) -> End {
        match (status.code(), status.signal()) {
            (Some(code), _) => End::Exited(code),
            (None, Some(sig)) => End::Signaled(sig),
            // Stopped/continued are not reported by wait() without WUNTRACED.
            (None, None) => End::Exited(-1),
        }
    }
}

/// What the child printed and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub end: End,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Feeds `input` to the child's stdin (then closes it), reads stdout and stderr until both are
/// closed, and waits for the child, all within `deadline`. At most `max_output` bytes of each
/// stream are kept; the rest is read and dropped so that the child never blocks on a full pipe.
///
/// Takes the child's piped handles (any that were not piped are simply absent). On return the
/// child has been reaped and its process group killed (to clean up stragglers).
pub fn supervise(child: &mut Child, input: &[u8], deadline: Duration, max_output: usize) -> io::Result<Captured> {
    let pgid = Pid::from_raw(child.id() as i32);
    let result = pump(child, input, deadline, max_output);
    // Whatever happened (normal end, deadline, or an error of ours), leave nothing behind:
    // ESRCH just means the group is already gone.
    let _ = killpg(pgid, Signal::SIGKILL);
    match result {
        Ok((status, stdout, stderr)) => {
            let end = match status {
                Some(status) => End::from_status(status),
                None => {
                    child.wait()?;
                    End::TimedOut
                }
            };
            Ok(Captured { end, stdout, stderr })
        }
        Err(e) => {
            let _ = child.wait();
            Err(e)
        }
    }
}

/// Orphans of a run (an enforcer's leftovers) are reparented to PID 1 (of the VM, or of a
/// container's PID namespace): reap them so they do not pile up as zombies over many cases.
pub fn reap_orphans() {
    // SAFETY: waitpid with a null status pointer; only between runs, when no child of ours is
    // being supervised.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

type Pumped = (Option<ExitStatus>, Vec<u8>, Vec<u8>);

/// The poll loop. Returns the exit status if the child exited before the deadline.
///
/// The child's exit is watched through a pidfd in the same poll as its pipes, so it is seen the
/// moment it happens: under TCG a child's pipes often close (EOF) a little before it can be
/// reaped, and napping for that cost ~5 ms per process, several processes per case.
/// Without pidfds (a seccomp profile that refuses pidfd_open) the loop naps instead.
fn pump(child: &mut Child, input: &[u8], deadline: Duration, max_output: usize) -> io::Result<Pumped> {
    let hard_stop = Instant::now() + deadline;
    let mut stdin = child.stdin.take().filter(|_| !input.is_empty());
    if let Some(pipe) = &stdin {
        set_nonblocking(pipe.as_raw_fd())?;
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut exit_watch = pidfd_open(child.id());
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let mut written = 0;
    let mut status = None;
    let mut stop_at = hard_stop;

    loop {
        if status.is_none() {
            status = child.try_wait()?;
            if status.is_some() {
                exit_watch = None;
                stop_at = stop_at.min(Instant::now() + GRACE_AFTER_EXIT);
            }
        }
        let pipes_open = stdin.is_some() || stdout.is_some() || stderr.is_some();
        if !pipes_open && status.is_some() {
            break;
        }
        let now = Instant::now();
        if now >= stop_at {
            break;
        }
        if !pipes_open && exit_watch.is_none() {
            // Only the exit is missing and there is no pidfd: wait for it in short naps.
            std::thread::sleep(Duration::from_millis(5).min(stop_at - now));
            continue;
        }

        // Without a pidfd, short poll timeouts so that the exit of the top process is noticed
        // even while a straggler keeps the pipes open.
        let cap = if exit_watch.is_some() { 60_000 } else { 50 };
        let nap = PollTimeout::from((stop_at - now).as_millis().min(cap) as u16);
        let (in_ready, out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(4);
            let i = watch(&mut fds, stdin.as_ref().map(|p| p.as_fd()), PollFlags::POLLOUT);
            let o = watch(&mut fds, stdout.as_ref().map(|p| p.as_fd()), PollFlags::POLLIN);
            let e = watch(&mut fds, stderr.as_ref().map(|p| p.as_fd()), PollFlags::POLLIN);
            // Readable once the child has exited; the next turn of the loop reaps it.
            watch(&mut fds, exit_watch.as_ref().map(|p| p.as_fd()), PollFlags::POLLIN);
            match poll(&mut fds, nap) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let ready = |idx: Option<usize>| idx.is_some_and(|k| fds[k].revents().is_some_and(|r| !r.is_empty()));
            (ready(i), ready(o), ready(e))
        };

        if in_ready {
            if let Some(pipe) = stdin.as_mut() {
                match pipe.write(&input[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                    // EPIPE: the child does not want (the rest of) its input; that is its business.
                    Err(_) => written = input.len(),
                }
                if written >= input.len() {
                    stdin = None; // closing the pipe is the child's EOF
                }
            }
        }
        if out_ready {
            drain_once(&mut stdout, &mut out_buf, max_output)?;
        }
        if err_ready {
            drain_once(&mut stderr, &mut err_buf, max_output)?;
        }
    }
    Ok((status, out_buf, err_buf))
}

/// A pidfd for the child (Linux 5.3+), or None where the kernel or a seccomp filter refuses.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0 as libc::c_uint) };
    // SAFETY: a non-negative return is a descriptor we now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Adds an open pipe to the poll set; returns its index there.
fn watch<'fd>(fds: &mut Vec<PollFd<'fd>>, fd: Option<BorrowedFd<'fd>>, flags: PollFlags) -> Option<usize> {
    let fd = fd?;
    fds.push(PollFd::new(fd, flags));
    Some(fds.len() - 1)
}

/// One read from a readable pipe; closes it (sets None) at EOF.
fn drain_once<R: Read>(pipe: &mut Option<R>, keep: &mut Vec<u8>, max_output: usize) -> io::Result<()> {
    let Some(reader) = pipe.as_mut() else {
        return Ok(());
    };
    let mut chunk = [0u8; 16 * 1024];
    match reader.read(&mut chunk) {
        Ok(0) => *pipe = None,
        Ok(n) => {
            let room = max_output.saturating_sub(keep.len());
            keep.extend_from_slice(&chunk[..n.min(room)]);
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A pipe, both ends close-on-exec: the read end as a file, the write end to hand a child.
pub fn pipe() -> std::io::Result<(std::fs::File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors nothing else owns.
    Ok(unsafe { (std::fs::File::from(OwnedFd::from_raw_fd(fds[0])), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits for a child (a runtime) to exit, killing it at the deadline.
pub fn wait_with_deadline(
    child: &mut std::process::Child,
    deadline: Duration,
) -> Result<std::process::ExitStatus, String> {
    let stop_at = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= stop_at => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not return within {}s", deadline.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("lost track of it: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    fn sh(script: &str) -> Child {
        Command::new("/bin/sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn feeds_stdin_and_reads_large_outputs_without_deadlock() {
        // 1 MiB in, echoed back on stdout, far beyond a pipe's buffer in both directions.
        let input = vec![b'x'; 1 << 20];
        let mut child = sh("cat; echo done >&2; exit 3");
        let got = supervise(&mut child, &input, Duration::from_secs(20), 4 << 20).unwrap();
        assert_eq!(got.end, End::Exited(3));
        assert_eq!(got.stdout.len(), input.len());
        assert_eq!(got.stderr, b"done\n");
    }

    #[test]
    fn deadline_kills_the_group() {
        let mut child = sh("sleep 30 & sleep 30");
        let t = Instant::now();
        let got = supervise(&mut child, b"", Duration::from_millis(300), 1024).unwrap();
        assert_eq!(got.end, End::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn stragglers_do_not_hold_the_run_open() {
        let mut child = sh("sleep 30 & echo hi");
        let t = Instant::now();
        let got = supervise(&mut child, b"", Duration::from_secs(20), 1024).unwrap();
        assert_eq!(got.end, End::Exited(0));
        assert_eq!(got.stdout, b"hi\n");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn signals_are_named() {
        let mut child = sh("kill -SEGV $$");
        let got = supervise(&mut child, b"", Duration::from_secs(20), 1024).unwrap();
        assert_eq!(got.end.describe(), "signal:SIGSEGV");
    }
}
