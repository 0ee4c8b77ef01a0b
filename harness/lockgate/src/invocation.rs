//! How the user invoked lockgate, so that every message naming a command names one the reader
//! has, in the form they typed: `lockgate kernels lock` for the binary (and the GitHub Action,
//! which installs that binary), `cargo xtask kernels lock` for a project's xtask.
//!
//! It is set once, by the command line's entry point, before anything else runs; the engine's
//! errors read it wherever they are made. A global, because the messages are made deep in the
//! engine (a cache, a lock file, an adapter), and threading the form through every call would
//! carry one word through forty signatures.
//!
//! This module imports nothing of the crate: every other module may name a command.

use std::sync::OnceLock;

/// Through which door lockgate was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// The `lockgate` binary.
    Binary,
    /// A project's `cargo xtask`, whose `main` is `lockgate::cli::main`.
    Xtask,
    /// The GitHub Action (`LOCKGATE_INVOKED_AS=action`): it puts the `lockgate` binary on the
    /// PATH, so a later step of the job, or the user's own machine, has the binary's commands.
    Action,
}

static INVOCATION: OnceLock<Invocation> = OnceLock::new();

/// Record how lockgate was started; the first call wins (a test or a library user that never
/// calls it gets the binary's form).
pub fn set(how: Invocation) {
    let _ = INVOCATION.set(how);
}

pub fn get() -> Invocation {
    *INVOCATION.get().unwrap_or(&Invocation::Binary)
}

impl Invocation {
    /// What the user types before a subcommand.
    pub fn prefix(self) -> &'static str {
        match self {
            Invocation::Binary | Invocation::Action => "lockgate",
            Invocation::Xtask => "cargo xtask",
        }
    }

    /// The name of the run command in this form: `run` for the binary, `vm-test` (its alias)
    /// for an xtask, whose README names the main job `cargo xtask vm-test`.
    pub fn run_verb(self) -> &'static str {
        match self {
            Invocation::Binary | Invocation::Action => "run",
            Invocation::Xtask => "vm-test",
        }
    }
}

/// `sub` (e.g. `kernels lock`) as the user invokes it, e.g. `lockgate kernels lock`.
pub fn command(sub: &str) -> String {
    format!("{} {sub}", get().prefix())
}

/// The run command with its arguments, e.g. `lockgate run --kernel debian-6.12`.
pub fn run_command(args: &str) -> String {
    let how = get();
    match args.is_empty() {
        true => format!("{} {}", how.prefix(), how.run_verb()),
        false => format!("{} {} {args}", how.prefix(), how.run_verb()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_door_names_its_own_commands() {
        assert_eq!(Invocation::Binary.prefix(), "lockgate");
        assert_eq!(Invocation::Action.prefix(), "lockgate");
        assert_eq!(Invocation::Xtask.prefix(), "cargo xtask");
        assert_eq!(Invocation::Xtask.run_verb(), "vm-test");
        assert_eq!(Invocation::Binary.run_verb(), "run");
    }
}
