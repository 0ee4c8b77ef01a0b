//! `--shell`: after the observations are sent, rebuild the last case's world (tmpfs, users,
//! paths, policy file) and give the console to an interactive shell, so a person can poke at a
//! failing cell by hand. Leaving the shell powers the guest off.

use crate::setup;
use lockgate_protocol::{Case, SHELL_MARKER};
use nix::unistd::{dup2, execve, fork, setsid, ForkResult};
use std::ffi::CString;
use std::os::fd::AsRawFd;

pub fn hand_over(case: Option<&Case>) {
    let mut tree = setup::Tree::default();
    let mut hint = String::new();
    if let Some(c) = case {
        let prepared = setup::write_accounts(&c.setup.users)
            .and_then(|()| setup::write_files(&c.enforcer.files))
            .and_then(|()| tree.prepare(&c.setup).map_err(|f| f.message));
        if let Err(e) = prepared {
            hint.push_str(&format!("(could not rebuild the case's world: {e})\r\n"));
        }
        let argv: Vec<String> =
            c.enforcer.argv.iter().map(|a| if a == "{cmd}" { "sh".to_string() } else { a.clone() }).collect();
        let env: String = c.enforcer.env.iter().map(|(k, v)| format!("{k}='{v}' ")).collect();
        let who = if c.enforcer.drop_privileges {
            format!(
                "\r\n  (as uid {} gid {}: lockgate starts this enforcer as the policy's user)",
                c.identity.uid, c.identity.gid
            )
        } else {
            String::new()
        };
        hint.push_str(&format!("case {}: run the enforced shell with:\r\n  {env}{}{who}\r\n", c.id, argv.join(" ")));
    }
    eprint!("\r\n{SHELL_MARKER}\r\n{hint}exit the shell to power off\r\n");
    // SAFETY: PID 1 is single-threaded here; the child only calls async-signal-safe functions
    // before execve.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = setsid();
            if let Ok(tty) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/console") {
                let fd = tty.as_raw_fd();
                // SAFETY: TIOCSCTTY on a terminal we just opened; makes it our controlling tty so
                // the shell gets job control and ^C.
                unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
                for target in 0..3 {
                    let _ = dup2(fd, target);
                }
            }
            let workdir = case.map(|c| c.workdir.as_str()).unwrap_or("/");
            let _ = std::env::set_current_dir(workdir);
            let sh = CString::new("/bin/sh").unwrap();
            let args = [CString::new("sh").unwrap(), CString::new("-i").unwrap()];
            let env = [
                CString::new("PATH=/bin:/sbin:/usr/bin:/usr/sbin").unwrap(),
                CString::new("HOME=/root").unwrap(),
                CString::new("TERM=vt100").unwrap(),
                CString::new("PS1=lockgate-guest# ").unwrap(),
            ];
            let _ = execve(&sh, &args, &env);
            std::process::exit(127);
        }
        Ok(ForkResult::Parent { child }) => loop {
            // PID 1 reaps orphans too; stop when the shell itself is gone.
            match nix::sys::wait::wait() {
                Ok(status) if status.pid() == Some(child) => break,
                Err(_) => break,
                Ok(_) => continue,
            }
        },
        Err(_) => {}
    }
    drop(tree);
}
