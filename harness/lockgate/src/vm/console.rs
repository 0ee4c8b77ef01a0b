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
    /// Give up when the guest agent is not ready within this time (KVM hang detection).
    pub silence_limit: Option<Duration>,
    /// Copy the console to stderr as it arrives (`--verbose`).
    pub echo: bool,
    /// When the guest's shell starts, connect it to this terminal (`--shell`); no deadline then.
    pub interactive: bool,
}

const PANIC: &str = "Kernel panic - not syncing";

pub fn boot(b: &Boot, w: &Watch) -> Result<BootOutcome> {
    let start = Instant::now();
    // A short per-call timeout: the loop below owns the real deadlines.
    let mut p = rexpect::session::spawn_command(qemu::command(b), Some(200)).context("cannot start QEMU under a pseudo-terminal")?;
    let pid = p.process.child_pid.as_raw();
    super::guests::started(pid);
    let mut console = String::new();
    let mut ready_after = None;
    let mut printed = 0;
    // No EOF needle: rexpect ranks an EOF match at position 0, ahead of any string in the
    // buffer, which would hide a panic printed just before QEMU exited. EOF arrives as an error.
    let needles = || vec![ReadUntil::String(READY_MARKER.into()), ReadUntil::String(PANIC.into()), ReadUntil::String(SHELL_MARKER.into())];
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
                    break exit_status(&mut p);
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
                // Judged by the agent's ready marker, not by any byte: a hanging KVM guest can
                // still show QEMU's own warnings on the console.
                if let Some(limit) = w.silence_limit {
                    if ready_after.is_none() && elapsed > limit {
                        console.push_str(&got);
                        break Ended::Silent(limit);
                    }
                }
                if w.echo && got.len() > printed {
                    eprint!("{}", &got[printed..]);
                    printed = got.len();
                }
                continue;
            }
            Err(rexpect::error::Error::EOF { got, .. }) => {
                console.push_str(&got);
                break exit_status(&mut p);
            }
            Err(e) => return Err(anyhow::anyhow!("reading QEMU's console failed: {e}")),
        }
    };
    if w.echo {
        eprintln!("{}", &console[printed.min(console.len())..]);
    }
    if !matches!(ended, Ended::PoweredOff | Ended::QemuFailed(_)) {
        let _ = p.process.kill(rexpect::process::signal::Signal::SIGKILL);
    }
    super::guests::finished(pid);
    Ok(BootOutcome { ended, console: console.replace('\r', ""), ready_after, wall: start.elapsed(), accel: b.accel })
}

fn drain(p: &mut rexpect::session::PtySession) -> Option<String> {
    match p.exp_any(vec![ReadUntil::EOF]) {
        Ok((rest, _)) => Some(rest),
        Err(rexpect::error::Error::Timeout { got, .. }) | Err(rexpect::error::Error::EOF { got, .. }) => Some(got),
        Err(_) => None,
    }
}

fn exit_status(p: &mut rexpect::session::PtySession) -> Ended {
    use rexpect::process::wait::WaitStatus;
    match p.process.wait() {
        Ok(WaitStatus::Exited(_, 0)) => Ended::PoweredOff,
        Ok(WaitStatus::Exited(_, code)) => Ended::QemuFailed(format!("QEMU exited with status {code}")),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ended::QemuFailed(format!("QEMU was killed by {sig}")),
        Ok(other) => Ended::QemuFailed(format!("QEMU ended oddly: {other:?}")),
        Err(e) => Ended::QemuFailed(format!("cannot read QEMU's exit status: {e}")),
    }
}
