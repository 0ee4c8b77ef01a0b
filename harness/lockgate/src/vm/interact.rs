//! Connecting this terminal to the guest's console (`--shell`): keystrokes go to QEMU's serial
//! port, the console comes back to stdout, until QEMU exits (the guest powers off when its
//! shell ends).

use anyhow::Result;
use rexpect::reader::ReadUntil;
use std::io::{Read, Write};

pub fn attach(p: &mut rexpect::session::PtySession) -> Result<()> {
    let mut pty = p.process.get_file_handle()?;
    let saved = raw_stdin();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || pty.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut out = std::io::stdout();
    loop {
        match p.exp_any(vec![ReadUntil::NBytes(1)]) {
            Ok((_, s)) => {
                let _ = out.write_all(s.as_bytes());
                let _ = out.flush();
            }
            Err(rexpect::error::Error::Timeout { .. }) => continue,
            Err(_) => break,
        }
    }
    restore_stdin(saved);
    Ok(())
}

/// Put stdin in raw mode when it is a terminal (the guest echoes and edits lines itself).
fn raw_stdin() -> Option<nix::sys::termios::Termios> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).ok()?;
    let mut raw = saved.clone();
    cfmakeraw(&mut raw);
    tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
    Some(saved)
}

fn restore_stdin(saved: Option<nix::sys::termios::Termios>) {
    if let Some(t) = saved {
        let _ = nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, &t);
    }
}
