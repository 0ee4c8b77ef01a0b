//! The record port: one JSON object per line on the second serial port, each flushed at once
//! so that a guest that dies later still leaves every record it made.

use lockgate_protocol::{CaseObservation, GuestTiming, Preflight, Record, VERSION};
use nix::sys::termios::{cfmakeraw, tcdrain, tcgetattr, tcsetattr, SetArg};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

/// The second serial port; QEMU writes it to a file on the host.
pub const RECORD_PORT: &str = "/dev/ttyS1";

pub struct RecordPort {
    file: File,
    nonce: String,
}

/// Where the panic hook writes its last record: it cannot borrow the port, and must not take a
/// lock a panicking thread may hold, so it gets the raw descriptor.
static PANIC_SINK: OnceLock<(RawFd, String)> = OnceLock::new();

impl RecordPort {
    /// Opens the port and makes it raw: a cooked tty would turn every `\n` into `\r\n` and
    /// could interpret control characters in a record.
    pub fn open(path: &str) -> io::Result<RecordPort> {
        let file = OpenOptions::new().write(true).custom_flags(libc::O_NOCTTY).open(path)?;
        // Not a tty (a file, when run outside the VM): nothing to make raw.
        if let Ok(mut attrs) = tcgetattr(&file) {
            cfmakeraw(&mut attrs);
            tcsetattr(&file, SetArg::TCSANOW, &attrs)?;
        }
        Ok(RecordPort { file, nonce: String::new() })
    }

    /// Sets the nonce every following record carries (known once the plan is read).
    pub fn set_nonce(&mut self, nonce: &str) {
        self.nonce = nonce.to_string();
        let _ = PANIC_SINK.set((self.file.as_raw_fd(), nonce.to_string()));
    }

    pub fn send(&mut self, record: &Record) -> io::Result<()> {
        let line = serde_json::to_string(record).map_err(io::Error::other)?;
        self.write_raw(format!("{line}\n").as_bytes())
    }

    /// Writes bytes as they are (the garbled-line fault needs this).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.flush()
    }

    pub fn hello(&mut self) -> io::Result<()> {
        self.send(&Record::Hello { nonce: self.nonce.clone(), version: VERSION })
    }

    pub fn preflight(&mut self, preflight: Preflight) -> io::Result<()> {
        self.send(&Record::Preflight { nonce: self.nonce.clone(), preflight })
    }

    pub fn case(&mut self, case: CaseObservation) -> io::Result<()> {
        self.send(&Record::Case { nonce: self.nonce.clone(), case })
    }

    pub fn fault(&mut self, message: String) -> io::Result<()> {
        self.send(&Record::Fault { nonce: self.nonce.clone(), message })
    }

    pub fn done(&mut self, cases: usize, timing: GuestTiming) -> io::Result<()> {
        self.send(&Record::Done { nonce: self.nonce.clone(), cases, timing: Some(timing) })
    }

    /// Waits until the UART has sent everything: powering off with bytes in its FIFO loses them.
    pub fn drain(&self) {
        let _ = tcdrain(&self.file);
    }
}

/// Sends a Fault record from the panic hook, with the nonce set by [`RecordPort::set_nonce`].
/// Best effort: returns false if no port is known yet.
pub fn fault_from_panic(message: String) -> bool {
    let Some((fd, nonce)) = PANIC_SINK.get() else {
        return false;
    };
    let record = Record::Fault { nonce: nonce.clone(), message };
    let Ok(mut line) = serde_json::to_string(&record) else {
        return false;
    };
    line.push('\n');
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        // SAFETY: writes from a valid buffer to the port's descriptor, which stays open for the
        // life of the agent (the port is never dropped before power-off).
        let n = unsafe { libc::write(*fd, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return false;
        }
        rest = &rest[n as usize..];
    }
    // SAFETY: tcdrain on the same descriptor; an error (not a tty) is irrelevant.
    unsafe { libc::tcdrain(*fd) };
    true
}
