//! `lockgate-guest container-serve`: PID 1 of an environment's container, started by the
//! runtime for the agent's half in `container.rs`. Takes one case per line on stdin and, for
//! each: makes the raw Landlock probe (here the container's seccomp profile and the runtime's
//! handling of syscalls it does not name apply), observes both runs through the same per-run
//! seam as the VM ([`case::observe_run`], on the tmpfs the agent mounted for the case), kills
//! every other process of the container, and prints its [`Answer`] as one JSON line on stdout.
//!
//! The runs are forked from here, so they inherit this process's seccomp filter, capabilities,
//! namespaces and no_new_privs, as they would from a container started for their case alone.

use crate::console::log;
use crate::container::Answer;
use crate::setup::{self, Tree};
use crate::{case, preflight, run};
use lockgate_protocol::{Case, CaseObservation};
use std::io::{BufRead, Write};

/// The container's shared-memory and message-queue mounts: emptied after each case, like its
/// tree, so that nothing of an earlier case is found there.
const SHARED: [&str; 2] = ["/dev/shm", "/dev/mqueue"];

pub fn main() -> i32 {
    let stdin = std::io::stdin().lock();
    for line in stdin.lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                log(&format!("container-serve: cannot read a case on stdin: {e}"));
                return 2;
            }
        };
        let case: Case = match serde_json::from_str(&line) {
            Ok(c) => c,
            Err(e) => {
                log(&format!("container-serve: the case on stdin is not valid: {e}"));
                return 2;
            }
        };
        let answer = serve(&case);
        let mut out = std::io::stdout().lock();
        let line = serde_json::to_string(&answer).unwrap_or_default();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return 1;
        }
    }
    0
}

fn serve(case: &Case) -> Answer {
    crate::setup_kinds::set_under_gvisor(case.container.as_ref().is_some_and(crate::container::is_gvisor));
    let landlock = preflight::landlock_abi();
    let (control, control_s) = match &case.control_of {
        Some(of) => case::shared_control(of),
        None => case::observe_run(case, Tree::in_container, run::control),
    };
    let unlayered = (!case.layers.is_empty()).then(|| case::observe_run(case, Tree::in_container, run::unlayered).0);
    let (enforced, enforced_s) = case::observe_run(case, Tree::in_container, run::enforced);
    end_case();
    let observation = CaseObservation {
        id: case.id.clone(),
        landlock,
        environment_error: None,
        control,
        enforced,
        unlayered,
        outside: None,
    };
    Answer { observation, control_s, enforced_s }
}

/// No process outlives its case: as PID 1 of the container's PID namespace, kill(-1) reaches
/// every other process in it (whatever session or group it made for itself); then reap them all.
fn end_case() {
    // SAFETY: kill and waitpid with plain integers.
    unsafe {
        libc::kill(-1, libc::SIGKILL);
        while libc::waitpid(-1, std::ptr::null_mut(), 0) > 0 || errno() == libc::EINTR {}
    }
    for dir in SHARED {
        if let Err(e) = setup::empty_dir(dir) {
            log(&format!("container-serve: {e}"));
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
