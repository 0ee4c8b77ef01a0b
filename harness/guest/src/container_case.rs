//! `lockgate-guest container-case`: PID 1 of a case's container, started by runc for the
//! agent's half in `container.rs`. Reads the case on stdin, makes the raw Landlock probe (here
//! the container's seccomp profile and runc's ENOSYS stub apply), observes both runs through
//! the same per-run seam as the VM ([`case::observe_run`], on the tmpfs runc mounted), and
//! prints the observation as one JSON line on stdout.

use crate::clock::monotonic;
use crate::setup::Tree;
use crate::{case, container, preflight, run};
use lockgate_protocol::{Case, CaseObservation};
use std::io::{Read, Write};

pub fn main() -> i32 {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("lockgate-guest container-case: cannot read the case on stdin: {e}");
        return 2;
    }
    let case: Case = match serde_json::from_str(&input) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lockgate-guest container-case: the case on stdin is not valid: {e}");
            return 2;
        }
    };
    // The agent times the runs from these instants (on the VM's clock, which the container
    // shares), tree and probe included: it cannot tell them apart from outside.
    let t0 = monotonic();
    let landlock = preflight::landlock_abi();
    let (control, _) = case::observe_run(&case, Tree::in_container(), run::control);
    let t1 = monotonic();
    let (enforced, _) = case::observe_run(&case, Tree::in_container(), run::enforced);
    let obs = CaseObservation { id: case.id.clone(), landlock, environment_error: None, control, enforced };
    eprintln!("{}", container::timing_line(t0, t1, monotonic()));
    let line = serde_json::to_string(&obs).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        return 1;
    }
    0
}
