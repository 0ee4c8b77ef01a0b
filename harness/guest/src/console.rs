//! The console (PID 1's stderr): where the guest says what has no record to go in, for whoever
//! reads the boot log. In a container it is the container's stderr, which the agent keeps for
//! its error message when runc fails.

use std::io::Write;

/// A line on the console. Never panics: PID 1 must not.
pub fn log(message: &str) {
    let _ = writeln!(std::io::stderr(), "lockgate-guest: {message}");
}
