//! The QEMU processes this run has started, so that Ctrl-C (or SIGTERM) stops every guest:
//! rexpect starts QEMU in its own session, out of reach of the terminal's signals, and a
//! process that dies of a signal runs no destructors.

use std::collections::BTreeSet;
use std::sync::{Mutex, Once};

static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static HANDLER: Once = Once::new();

/// Install the handler; called when a run starts, so an interrupt at any moment is handled.
pub fn install_interrupt_handler() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let pids: Vec<i32> = RUNNING.lock().map(|s| s.iter().copied().collect()).unwrap_or_default();
            for pid in &pids {
                // SAFETY: kill(2) on a pid we started; no memory is involved.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            crate::event::emit(crate::event::Event::Interrupted { guests: pids.len() });
            std::process::exit(130);
        });
    });
}

pub fn started(pid: i32) {
    install_interrupt_handler();
    if let Ok(mut s) = RUNNING.lock() {
        s.insert(pid);
    }
}

pub fn finished(pid: i32) {
    if let Ok(mut s) = RUNNING.lock() {
        s.remove(&pid);
    }
}
