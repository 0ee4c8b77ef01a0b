//! Supervising one boot through its serial console with rexpect: the guest's ready marker, a
//! kernel panic, QEMU's exit, or the deadline — whichever comes first.

use super::qemu::{self, Accel, Boot};
use anyhow::{Context, Result};
use lockgate_protocol::{READY_MARKER, SHELL_MARKER};
use rexpect::reader::ReadUntil;
use std::time::{Duration, Instant};

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// QEMU exited by itself with status 0 (the guest powered off).
    PoweredOff,
    /// QEMU exited with a failure status, or was killed by a signal from outside.
    QemuFailed(String),
    /// The kernel panicked.
    Panic,
    /// The deadline passed; QEMU was killed.
    Timeout(Duration),
    /// No case record within this long of the previous one (the next case's budget); QEMU was
    /// killed.
    Stalled(Duration),
    /// The guest agent was not ready within the silence limit (a hanging KVM); QEMU was killed.
    Silent(Duration),
}

#[derive(Debug, Clone)]
pub struct BootOutcome {
    pub ended: Ended,
    pub console: String,
    /// Time from QEMU's start to the guest agent's ready marker.
    pub ready_after: Option<Duration>,
    pub wall: Duration,
    pub accel: Accel,
    /// QEMU's peak resident memory in KiB (from wait4), when QEMU exited by itself.
    pub peak_rss_kib: Option<u64>,
}

impl BootOutcome {
    /// The last `n` lines of the console, for error messages.
    pub fn console_tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

pub struct Watch {
    pub deadline: Duration,
    /// The guest's pace, read from its records as they arrive: a guest that stops is caught
    /// within one case's budget of its last record, whatever the whole boot's deadline.
    pub pace: Option<Pace>,
    /// Give up when the guest agent is not ready within this time (KVM hang detection).
    pub silence_limit: Option<Duration>,
    /// Copy the console to stderr as it arrives (`--verbose`), a whole line at a time, each
    /// prefixed with this label, so that guests booting side by side never mix within a line.
    pub echo: Option<String>,
    /// When the guest's shell starts, connect it to this terminal (`--shell`); no deadline then.
    pub interactive: bool,
}

/// How long the guest may take to its next case record: `boot` (to the agent, its preflight)
/// before the first, then each case's budget (its two runs at their run limit) in plan order.
pub struct Pace {
    pub records: std::path::PathBuf,
    pub boot: Duration,
    pub cases: Vec<Duration>,
}

/// What the records file showed so far.
struct PaceState {
    len: u64,
    done: usize,
    since: Duration,
}

impl PaceState {
    /// `Some(allowance)` when the guest took longer than `allowance` since its last case record.
    fn stalled(&mut self, pace: &Pace, elapsed: Duration) -> Option<Duration> {
        let len = std::fs::metadata(&pace.records).map(|m| m.len()).unwrap_or(0);
        if len != self.len {
            self.len = len;
            let text = std::fs::read_to_string(&pace.records).unwrap_or_default();
            let done = text.matches("\"record\":\"case\"").count();
            if done > self.done {
                self.done = done;
                self.since = elapsed;
            }
        }
        // After the last case, the done record and the power-off take no more than the boot.
        let next = pace.cases.get(self.done).copied().unwrap_or(pace.boot);
        let allowance = if self.done == 0 { pace.boot + next } else { next };
        (elapsed.saturating_sub(self.since) > allowance).then_some(allowance)
    }
}

const PANIC: &str = "Kernel panic - not syncing";

pub fn boot(b: &Boot, w: &Watch) -> Result<BootOutcome> {
    let start = Instant::now();
    // A short per-call timeout: the loop below owns the real deadlines.
    let mut p = rexpect::session::spawn_command(qemu::command(b), Some(200))
        .context("cannot start QEMU under a pseudo-terminal")?;
    let pid = p.process.child_pid.as_raw();
    super::guests::started(pid);
    let exited_at = watch_exit(pid);
    let mut console = String::new();
    let mut ready_after = None;
    let mut echo = Echo { label: w.echo.clone(), shown: 0, partial: String::new() };
    // No EOF needle: rexpect ranks an EOF match at position 0, ahead of any string in the
    // buffer, which would hide a panic printed just before QEMU exited. EOF arrives as an error.
    let needles = || {
        vec![
            ReadUntil::String(READY_MARKER.into()),
            ReadUntil::String(PANIC.into()),
            ReadUntil::String(SHELL_MARKER.into()),
        ]
    };
    let mut peak_rss_kib = None;
    let mut pace = PaceState { len: 0, done: 0, since: Duration::ZERO };
    let ended = loop {
        let got = p.exp_any(needles());
        let elapsed = start.elapsed();
        match got {
            Ok((before, matched)) => {
                console.push_str(&before);
                console.push_str(&matched);
                if matched == READY_MARKER {
                    ready_after.get_or_insert(elapsed);
                } else if matched == SHELL_MARKER && w.interactive {
                    super::interact::attach(&mut p)?;
                    break exit_status(pid, &mut peak_rss_kib);
                } else if matched == PANIC {
                    // Keep the panic's own lines (the reason, the trace) for the report.
                    let until = Instant::now() + Duration::from_millis(1500);
                    while Instant::now() < until {
                        match p.exp_any(vec![ReadUntil::EOF]) {
                            Ok((rest, _)) => {
                                console.push_str(&rest);
                                break;
                            }
                            Err(rexpect::error::Error::Timeout { .. }) => continue,
                            Err(_) => break,
                        }
                    }
                    if let Some(rest) = drain(&mut p) {
                        console.push_str(&rest);
                    }
                    break Ended::Panic;
                }
            }
            Err(rexpect::error::Error::Timeout { got, .. }) => {
                if elapsed > w.deadline {
                    console.push_str(&got);
                    break Ended::Timeout(w.deadline);
                }
                if let Some(allowance) = w.pace.as_ref().and_then(|p| pace.stalled(p, elapsed)) {
                    console.push_str(&got);
                    break Ended::Stalled(allowance);
                }
                // Judged by the agent's ready marker, not by any byte: a hanging KVM guest can
                // still show QEMU's own warnings on the console.
                if let Some(limit) = w.silence_limit {
                    if ready_after.is_none() && elapsed > limit {
                        console.push_str(&got);
                        break Ended::Silent(limit);
                    }
                }
                echo.show(&console, &got);
                continue;
            }
            Err(rexpect::error::Error::EOF { got, .. }) => {
                console.push_str(&got);
                break exit_status(pid, &mut peak_rss_kib);
            }
            Err(e) => return Err(anyhow::anyhow!("reading QEMU's console failed: {e}")),
        }
    };
    echo.finish(&console);
    if !matches!(ended, Ended::PoweredOff | Ended::QemuFailed(_)) {
        let _ = p.process.kill(rexpect::process::signal::Signal::SIGKILL);
    }
    super::guests::finished(pid);
    let ended_at = exited_at.lock().ok().and_then(|t| *t).unwrap_or_else(Instant::now);
    Ok(BootOutcome {
        ended,
        console: console.replace('\r', ""),
        ready_after,
        wall: ended_at - start,
        accel: b.accel,
        peak_rss_kib,
    })
}

/// When QEMU exits, by a thread that waits for it without reaping it. rexpect notices the end
/// of the console only at its next 100 ms poll; the boot's wall time is QEMU's, not that.
fn watch_exit(pid: i32) -> std::sync::Arc<std::sync::Mutex<Option<Instant>>> {
    let at = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = at.clone();
    std::thread::spawn(move || {
        // SAFETY: siginfo_t is plain data, valid all zeroes.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let wait = |info: &mut libc::siginfo_t| {
            // SAFETY: waitid only writes the siginfo_t it is handed; WNOWAIT leaves the child to
            // be reaped by `exit_status`.
            unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, info, libc::WEXITED | libc::WNOWAIT) }
        };
        while wait(&mut info) < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {}
        if let Ok(mut t) = slot.lock() {
            *t = Some(Instant::now());
        }
    });
    at
}

/// The `--verbose` copy of the console. What the guest has printed so far is always `console`
/// (consumed by matches) followed by rexpect's pending buffer.
struct Echo {
    label: Option<String>,
    /// Bytes of that stream already taken.
    shown: usize,
    /// The start of a line not finished yet.
    partial: String,
}

impl Echo {
    /// Copies the lines finished since the last call to stderr.
    fn show(&mut self, console: &str, pending: &str) {
        write_stderr(&self.take(console, pending));
    }

    /// Copies whatever is left, the last line included.
    fn finish(&mut self, console: &str) {
        let mut out = self.take(console, "");
        if !self.partial.is_empty() {
            self.partial.push('\n');
            out.push_str(&self.lines());
        }
        write_stderr(&out);
    }

    /// The lines finished since the last call, each with the label; empty without a label.
    fn take(&mut self, console: &str, pending: &str) -> String {
        if self.label.is_none() || console.len() + pending.len() <= self.shown {
            return String::new();
        }
        let new = if self.shown >= console.len() {
            pending[self.shown - console.len()..].to_string()
        } else {
            format!("{}{pending}", &console[self.shown..])
        };
        self.shown = console.len() + pending.len();
        self.partial.push_str(&new.replace('\r', ""));
        self.lines()
    }

    fn lines(&mut self) -> String {
        let label = self.label.as_deref().unwrap_or_default();
        let mut out = String::new();
        while let Some(end) = self.partial.find('\n') {
            out.push_str(label);
            out.extend(self.partial.drain(..=end));
        }
        out
    }
}

/// One write for a batch of lines: stderr's lock keeps another guest's lines out of it.
fn write_stderr(text: &str) {
    if !text.is_empty() {
        use std::io::Write;
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

fn drain(p: &mut rexpect::session::PtySession) -> Option<String> {
    match p.exp_any(vec![ReadUntil::EOF]) {
        Ok((rest, _)) => Some(rest),
        Err(rexpect::error::Error::Timeout { got, .. }) | Err(rexpect::error::Error::EOF { got, .. }) => Some(got),
        Err(_) => None,
    }
}

/// Reaps QEMU with wait4, which also gives its peak RSS (rexpect's own wait does not).
fn exit_status(pid: i32, peak_rss_kib: &mut Option<u64>) -> Ended {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills; the pid is our own child, not yet reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: as above.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break r;
        }
    };
    if reaped < 0 {
        return Ended::QemuFailed(format!("cannot read QEMU's exit status: {}", std::io::Error::last_os_error()));
    }
    *peak_rss_kib = Some(usage.ru_maxrss as u64); // Linux reports KiB
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => Ended::PoweredOff,
            code => Ended::QemuFailed(format!("QEMU exited with status {code}")),
        }
    } else if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        let name =
            nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| sig.to_string());
        Ended::QemuFailed(format!("QEMU was killed by {name}"))
    } else {
        Ended::QemuFailed(format!("QEMU ended oddly: wait status {status:#x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::{Echo, Pace, PaceState};
    use std::time::Duration;

    #[test]
    fn a_guest_that_stops_sending_records_is_caught_within_its_cases_budget() {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records.jsonl");
        let s = Duration::from_secs;
        let pace = Pace { records: records.clone(), boot: s(60), cases: vec![s(14), s(300)] };
        let mut state = PaceState { len: 0, done: 0, since: Duration::ZERO };
        std::fs::write(&records, "{\"record\":\"hello\"}\n{\"record\":\"preflight\"}\n").unwrap();
        assert_eq!(state.stalled(&pace, s(70)), None, "the first case has the boot and its own budget");
        assert_eq!(state.stalled(&pace, s(75)), Some(s(74)), "a guest silent since its preflight is caught");
        let mut state = PaceState { len: 0, done: 0, since: Duration::ZERO };
        std::fs::write(&records, "{\"record\":\"hello\"}\n{\"record\":\"case\",\"nonce\":\"n\"}\n").unwrap();
        assert_eq!(state.stalled(&pace, s(40)), None);
        assert_eq!(state.stalled(&pace, s(300)), None, "the second case has 300 s from the first record, seen at 40 s");
        assert_eq!(state.stalled(&pace, s(341)), Some(s(300)));
        std::fs::write(&records, "{\"record\":\"case\"}\n{\"record\":\"case\"}\n").unwrap();
        assert_eq!(state.stalled(&pace, s(350)), None, "progress resets the clock");
        assert_eq!(
            state.stalled(&pace, s(411)),
            Some(s(60)),
            "after the last case, the done record within the boot allowance"
        );
    }

    #[test]
    fn the_echo_gives_whole_labelled_lines_once() {
        let mut e = Echo { label: Some("k| ".into()), shown: 0, partial: String::new() };
        // rexpect's pending buffer grows, then a match moves its head into the console.
        assert_eq!(e.take("", "Linux version 6\r\nCommand li"), "k| Linux version 6\n");
        assert_eq!(e.take("", "Linux version 6\r\nCommand line: x\r\nREA"), "k| Command line: x\n");
        let console = "Linux version 6\r\nCommand line: x\r\nREADY";
        assert_eq!(e.take(console, "\r\nbye"), "k| READY\n");
        assert_eq!(e.take(console, "\r\nbye"), "", "nothing new, nothing twice");
        e.finish(console);
        assert!(e.partial.is_empty());
        let mut quiet = Echo { label: None, shown: 0, partial: String::new() };
        assert_eq!(quiet.take("a\nb\n", ""), "");
    }
}
