//! The probe runner (`lockgate-guest run-steps`): runs inside the sandbox (started by the
//! enforcer after restrict_self) or as the plain user (control run). Reads the steps as JSON on
//! stdin, runs them in order, prints one [`RunnerReport`] as a single JSON line on stdout.
//!
//! It only observes: every step is run even after a failure, and nothing is judged here.

use crate::{errno_text, probes, spawn};
use lockgate_protocol::{bounded, Outcome, RunnerFacts, Step, StepResult, CLAIM_ENV};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A shell step that runs longer than the step limit (this, unless the case says otherwise) is
/// killed and reported as `timeout`.
const SHELL_DEADLINE: Duration = Duration::from_secs(lockgate_protocol::Limits::STEP_SECONDS as u64);

/// What the runner reads on stdin: the steps, and the step limit of the case. A bare list of
/// steps is read too (the step limit is then the default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunnerInput {
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_seconds: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyInput {
    Steps(Vec<Step>),
    Input(RunnerInput),
}

/// Output kept from a shell step for errno inference (what is reported is bounded further).
const SHELL_OUTPUT_KEPT: usize = 64 * 1024;

/// What the runner prints on stdout: the agent copies it into the run's observation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunnerReport {
    pub facts: RunnerFacts,
    /// The enforcer's claim, as found in the runner's environment ([`CLAIM_ENV`]).
    pub claim_env: Option<String>,
    /// One result per step, in order.
    pub steps: Vec<StepResult>,
}

/// Entry point of `run-steps`; returns the process exit code.
pub fn main() -> i32 {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        // Nothing on stdout: the agent then reports "no runner output" rather than results.
        let _ = writeln!(std::io::stderr(), "lockgate-guest run-steps: cannot read the steps on stdin: {e}");
        return 2;
    }
    let input: RunnerInput = match serde_json::from_str(&input) {
        Ok(AnyInput::Steps(steps)) => RunnerInput { steps, step_seconds: None },
        Ok(AnyInput::Input(input)) => input,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "lockgate-guest run-steps: the steps on stdin are not valid: {e}");
            return 2;
        }
    };
    let limit = input.step_seconds.map(|s| Duration::from_secs(s.into())).unwrap_or(SHELL_DEADLINE);
    let report = run_with_limit(&input.steps, limit);
    let line = match serde_json::to_string(&report) {
        Ok(line) => line,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "lockgate-guest run-steps: cannot encode the report: {e}");
            return 2;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        return 1;
    }
    0
}

/// Runs every step in order and gathers the report (the default step limit).
#[cfg(test)]
pub fn run(steps: &[Step]) -> RunnerReport {
    run_with_limit(steps, SHELL_DEADLINE)
}

/// As [`run`], with `limit` for each shell step.
pub fn run_with_limit(steps: &[Step], limit: Duration) -> RunnerReport {
    RunnerReport {
        facts: facts(),
        claim_env: std::env::var(CLAIM_ENV).ok(),
        steps: steps.iter().map(|s| run_step_with_limit(s, limit)).collect(),
    }
}

fn run_step_with_limit(step: &Step, limit: Duration) -> StepResult {
    match step {
        Step::Shell { command } => shell(command, limit),
        Step::Probe { op, target } => {
            let (outcome, said) = probes::run_step(*op, target);
            StepResult { stdout: said, ..result(outcome) }
        }
    }
}

fn result(outcome: Outcome) -> StepResult {
    StepResult { outcome, exit_code: None, stdout: String::new(), stderr: String::new() }
}

/// The runner's view of its own confinement. prctl rather than /proc/self/status where it
/// can, because the sandbox may forbid reading /proc; the number of filters is only there.
fn facts() -> RunnerFacts {
    RunnerFacts {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        seccomp: Some(prctl_get(libc::PR_GET_SECCOMP)),
        no_new_privs: Some(prctl_get(libc::PR_GET_NO_NEW_PRIVS)),
        seccomp_filters: Some(seccomp_filters()),
        namespaces: lockgate_protocol::NAMESPACES
            .into_iter()
            .map(|n| {
                let link = match std::fs::read_link(format!("/proc/self/ns/{n}")) {
                    Ok(l) => l.to_string_lossy().to_string(),
                    Err(e) => e
                        .raw_os_error()
                        .map(|n| errno_text::name(nix::errno::Errno::from_raw(n)))
                        .unwrap_or_else(|| e.to_string()),
                };
                (n.to_string(), link)
            })
            .collect(),
    }
}

/// `Seccomp_filters:` of /proc/self/status (kernels since 5.9), or why it is not known.
fn seccomp_filters() -> String {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp_filters:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "absent".into()),
        Err(e) => {
            e.raw_os_error().map(|n| errno_text::name(nix::errno::Errno::from_raw(n))).unwrap_or_else(|| e.to_string())
        }
    }
}

/// A prctl "get" whose answer is the return value, as a string; the errno name on failure.
fn prctl_get(option: libc::c_int) -> String {
    // SAFETY: PR_GET_SECCOMP and PR_GET_NO_NEW_PRIVS take no pointer arguments.
    let ret = unsafe { libc::prctl(option, 0, 0, 0, 0) };
    if ret < 0 {
        errno_text::name(nix::errno::Errno::last())
    } else {
        ret.to_string()
    }
}

/// `/bin/sh -c command`: Ok on exit 0, otherwise the errno whose message the command printed.
fn shell(command: &str, limit: Duration) -> StepResult {
    // /dev/null may itself be forbidden by the sandbox; an empty pipe is an equally empty stdin.
    let stdin = File::open("/dev/null").map(Stdio::from).unwrap_or_else(|_| Stdio::piped());
    let spawned = Command::new("/bin/sh")
        .args(["-c", command])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        // The shell itself could not be started (e.g. exec of /bin/sh denied): that errno is
        // exact, so report it as the step's outcome.
        Err(e) => {
            return StepResult {
                outcome: Outcome::Err(errno_text::name_of_io(&e)),
                exit_code: None,
                stdout: String::new(),
                stderr: bounded(&format!("lockgate-guest: cannot run /bin/sh: {e}")),
            }
        }
    };
    let captured = match spawn::supervise(&mut child, b"", limit, SHELL_OUTPUT_KEPT) {
        Ok(c) => c,
        Err(e) => {
            return StepResult {
                outcome: Outcome::Err(errno_text::name_of_io(&e)),
                exit_code: None,
                stdout: String::new(),
                stderr: bounded(&format!("lockgate-guest: lost the shell step's output: {e}")),
            }
        }
    };
    let stdout = String::from_utf8_lossy(&captured.stdout);
    let stderr = String::from_utf8_lossy(&captured.stderr);
    let (outcome, exit_code) = match captured.end {
        spawn::End::Exited(0) => (Outcome::Ok, Some(0)),
        spawn::End::Exited(code) => (Outcome::Err(errno_text::infer(&stderr)), Some(code)),
        // Shell convention ($?): 128 + signal number, so a seccomp SIGSYS stays visible.
        spawn::End::Signaled(sig) => (Outcome::Err(errno_text::infer(&stderr)), Some(128 + sig)),
        spawn::End::TimedOut => (Outcome::Timeout, None),
    };
    StepResult { outcome, exit_code, stdout: bounded(&stdout), stderr: bounded(&stderr) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::{GuestPath, ProbeOp, ProbeTarget};

    /// A probe of `path`, or of the pair (`path`, `to`).
    fn probe(op: ProbeOp, path: &std::path::Path, to: Option<&std::path::Path>) -> Step {
        let guest = |p: &std::path::Path| GuestPath::try_from(p.to_str().unwrap().to_string()).unwrap();
        let target = match to {
            Some(to) => ProbeTarget::Pair { from: guest(path), to: guest(to) },
            None => ProbeTarget::Path(guest(path)),
        };
        Step::Probe { op, target }
    }

    fn outcomes(report: &RunnerReport) -> Vec<Outcome> {
        report.steps.iter().map(|s| s.outcome.clone()).collect()
    }

    fn err(name: &str) -> Outcome {
        Outcome::Err(name.to_string())
    }

    #[test]
    fn file_probes_report_exact_errnos() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        let missing = dir.path().join("missing");
        let steps = vec![
            probe(ProbeOp::Create, &file, None),
            probe(ProbeOp::Create, &file, None),
            probe(ProbeOp::Read, &missing, None),
            probe(ProbeOp::Write, &file, None),
            probe(ProbeOp::Read, &file, None),
            probe(ProbeOp::Truncate, &file, None),
            probe(ProbeOp::Link, &file, Some(&dir.path().join("hard"))),
            probe(ProbeOp::Unlink, &missing, None),
            probe(ProbeOp::Readdir, dir.path(), None),
            probe(ProbeOp::Readdir, &file, None),
            probe(ProbeOp::Rename, &file, None),
        ];
        let report = run(&steps);
        assert_eq!(
            outcomes(&report),
            vec![
                Outcome::Ok,
                err("EEXIST"),
                err("ENOENT"),
                Outcome::Ok,
                Outcome::Ok,
                Outcome::Ok,
                Outcome::Ok,
                err("ENOENT"),
                Outcome::Ok,
                err("ENOTDIR"),
                err("EINVAL"),
            ]
        );
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "truncate ran after the write");
    }

    #[test]
    fn node_link_dir_and_device_probes() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        let root = nix::unistd::getuid().is_root();
        let steps = vec![
            probe(ProbeOp::MknodReg, &p("reg"), None),
            probe(ProbeOp::MknodReg, &p("reg"), None),
            probe(ProbeOp::Mkfifo, &p("fifo"), None),
            probe(ProbeOp::MknodSock, &p("sock"), None),
            probe(ProbeOp::Symlink, &p("reg"), Some(&p("sym"))),
            probe(ProbeOp::Mkdir, &p("d"), None),
            probe(ProbeOp::Rmdir, &p("d"), None),
            probe(ProbeOp::Rmdir, &p("d"), None),
            probe(ProbeOp::MknodChar, &p("chr"), None),
            // /dev/null is a device but no terminal: TCGETS gets through and is refused.
            probe(ProbeOp::IoctlDev, std::path::Path::new("/dev/null"), None),
            probe(ProbeOp::UnixConnect, &p("sock"), None),
            probe(ProbeOp::UnixConnect, &p("missing"), None),
        ];
        let report = run(&steps);
        let mknod_char = if root { Outcome::Ok } else { err("EPERM") };
        assert_eq!(
            outcomes(&report),
            vec![
                Outcome::Ok,
                err("EEXIST"),
                Outcome::Ok,
                Outcome::Ok,
                Outcome::Ok,
                Outcome::Ok,
                Outcome::Ok,
                err("ENOENT"),
                mknod_char,
                err("ENOTTY"),
                // A socket node nobody listens on.
                err("ECONNREFUSED"),
                err("ENOENT"),
            ]
        );
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(p("fifo")).unwrap().file_type().is_fifo());
        assert!(std::fs::symlink_metadata(p("sock")).unwrap().file_type().is_socket());
        assert_eq!(std::fs::read_link(p("sym")).unwrap(), p("reg"));
    }

    #[test]
    fn scope_probes_inside_and_outside() {
        use lockgate_protocol::{Peer, OUTSIDE_ABSTRACT_SOCKET};
        use std::os::linux::net::SocketAddrExt;
        let peer = |op, peer| Step::Probe { op, target: ProbeTarget::Peer(peer) };
        let me = std::process::id();
        let steps = vec![
            peer(ProbeOp::Signal, Peer::Inside),
            peer(ProbeOp::Signal, Peer::OutsidePid(me)),
            // `outside` not yet resolved to a pid by the guest: nobody to signal.
            peer(ProbeOp::Signal, Peer::Outside),
            peer(ProbeOp::AbstractConnect, Peer::Inside),
        ];
        assert_eq!(outcomes(&run(&steps)), vec![Outcome::Ok, Outcome::Ok, err("ESRCH"), Outcome::Ok]);
        let name = std::os::unix::net::SocketAddr::from_abstract_name(OUTSIDE_ABSTRACT_SOCKET.as_bytes()).unwrap();
        let outside = [peer(ProbeOp::AbstractConnect, Peer::Outside)];
        // Another test binary may hold the name: only check both sides when it is ours.
        if let Ok(listener) = std::os::unix::net::UnixListener::bind_addr(&name) {
            assert_eq!(outcomes(&run(&outside)), vec![Outcome::Ok]);
            drop(listener);
            assert_eq!(outcomes(&run(&outside)), vec![err("ECONNREFUSED")]);
        }
    }

    #[test]
    fn rename_and_mkdir_across_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let steps = vec![
            probe(ProbeOp::Mkdir, &a, None),
            probe(ProbeOp::Mkdir, &b, None),
            probe(ProbeOp::Mkdir, &a, None),
            probe(ProbeOp::Create, &a.join("x"), None),
            // Rename onto another existing (empty) directory replaces it.
            probe(ProbeOp::Rename, &a, Some(&b)),
            probe(ProbeOp::Read, &b.join("x"), None),
        ];
        let report = run(&steps);
        assert_eq!(
            outcomes(&report),
            vec![Outcome::Ok, Outcome::Ok, err("EEXIST"), Outcome::Ok, Outcome::Ok, Outcome::Ok]
        );
        assert!(!a.exists());
    }

    #[test]
    fn exec_probe_reports_the_execve_errno() {
        let dir = tempfile::tempdir().unwrap();
        let not_exec = dir.path().join("plain");
        std::fs::write(&not_exec, "data").unwrap();
        let steps = vec![
            probe(ProbeOp::Exec, std::path::Path::new("/bin/true"), None),
            probe(ProbeOp::Exec, &dir.path().join("missing"), None),
            probe(ProbeOp::Exec, &not_exec, None),
            probe(ProbeOp::Exec, dir.path(), None),
        ];
        let report = run(&steps);
        // Executing a mode-0644 file is EACCES even for root (no x bit at all).
        assert_eq!(outcomes(&report), vec![Outcome::Ok, err("ENOENT"), err("EACCES"), err("EACCES")]);
    }

    #[test]
    fn tcp_probes() {
        let harness = std::net::Ipv4Addr::from(lockgate_protocol::CONNECT_PROBE_ADDR);
        let listener = std::net::TcpListener::bind((harness, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        // A port that refuses: a socket bound to it that never listens. The test owns it to the
        // end, so no other test (nor an outgoing connection's ephemeral port) can take it, and a
        // SYN to it finds no listener: RST, ECONNREFUSED, every time. (Dropping a listener and
        // connecting to its port afterwards raced with the other tests: once ECONNRESET.)
        let (closed, closed_port) = bound_not_listening(harness);
        let tcp = |op, port| Step::Probe { op, target: ProbeTarget::Port(port) };
        let report = run(&[
            tcp(ProbeOp::TcpConnect, port),
            // The harness's listener is on its own address: 127.0.0.1:<port> is free.
            tcp(ProbeOp::TcpBind, port),
            // A port is no path: a TCP probe given one is malformed.
            probe(ProbeOp::TcpBind, std::path::Path::new("/8080"), None),
            tcp(ProbeOp::TcpConnect, closed_port),
        ]);
        assert_eq!(outcomes(&report), vec![Outcome::Ok, Outcome::Ok, err("EINVAL"), err("ECONNREFUSED")]);
        let taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert_eq!(outcomes(&run(&[tcp(ProbeOp::TcpBind, port)])), vec![err("EADDRINUSE")]);
        drop((listener, taken, closed));
    }

    /// A TCP socket bound to `addr`:<a free port>, not listening, and its port.
    fn bound_not_listening(addr: std::net::Ipv4Addr) -> (std::os::fd::OwnedFd, u16) {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain socket(2) call; the descriptor is owned from here on.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd is a fresh descriptor nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let mut sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from(addr).to_be() },
            sin_zero: [0; 8],
        };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let ptr = (&mut sin as *mut libc::sockaddr_in).cast::<libc::sockaddr>();
        // SAFETY: sin is a valid sockaddr_in of length len, for both calls.
        let ok = unsafe {
            libc::bind(fd.as_raw_fd(), ptr, len) == 0 && libc::getsockname(fd.as_raw_fd(), ptr, &mut len) == 0
        };
        assert!(ok, "bind/getsockname: {}", std::io::Error::last_os_error());
        (fd, u16::from_be(sin.sin_port))
    }

    #[test]
    fn shell_steps_infer_the_errno_from_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let report = run(&[
            Step::Shell { command: format!("touch {d}/ok && echo made") },
            Step::Shell { command: format!("cat {d}/missing") },
            Step::Shell { command: "echo qwxz >&2; exit 3".into() },
            Step::Shell { command: "kill -KILL $$".into() },
        ]);
        let s = &report.steps;
        assert_eq!((s[0].outcome.clone(), s[0].exit_code, s[0].stdout.as_str()), (Outcome::Ok, Some(0), "made\n"));
        assert_eq!((s[1].outcome.clone(), s[1].exit_code), (err("ENOENT"), Some(1)));
        assert!(s[1].stderr.contains("No such file or directory"));
        assert_eq!((s[2].outcome.clone(), s[2].exit_code), (err("EUNKNOWN"), Some(3)));
        assert_eq!((s[3].outcome.clone(), s[3].exit_code), (err("EUNKNOWN"), Some(128 + 9)));
    }

    #[test]
    fn report_carries_facts_and_claim() {
        let report = run(&[]);
        assert_eq!(report.facts.uid, nix::unistd::getuid().as_raw());
        assert_eq!(report.facts.no_new_privs.as_deref().map(|v| v == "0" || v == "1"), Some(true));
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<RunnerReport>(&line).unwrap(), report);
    }
}
