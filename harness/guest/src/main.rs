//! lockgate-guest: PID 1 of a lockgate VM, and the probe runner that PID 1 starts.
//!
//! Modes:
//! - `lockgate-guest run-steps`: the probe runner (inside the sandbox, or as the plain user).
//! - `lockgate-guest probe-abi`: print the raw Landlock ABI probe as JSON.
//! - `lockgate-guest container-serve`: PID 1 of a container environment's container: both runs
//!   of each case it is handed, one case per line.
//! - `lockgate-guest oci-config ROOTFS`: print the OCI config.json of the case on stdin.
//! - `lockgate-guest agent`, or no mode at all as PID 1 (`/init`): the agent.
//!
//! An explicit mode wins over "am I PID 1": the runner may well be PID 1 of a container's PID
//! namespace, and must then still be the runner, never an agent that mounts and powers off.

mod agent;
mod apparmor;
mod case;
mod clock;
mod console;
mod container;
mod container_serve;
mod entries;
mod entropy;
mod errno_text;
mod inherited;
mod inherited_dir;
mod layers;
mod modules;
mod nspawn;
mod peers;
mod preflight;
mod probe_child;
mod probes;
mod probes_sys;
mod records;
mod run;
mod runner;
mod sealed_runtime;
mod setup;
mod setup_kinds;
mod shell;
mod spawn;
mod tiny_elf;
mod volume;

use std::io::Write;

const USAGE: &str = "usage: lockgate-guest run-steps | probe-abi | container-serve | agent\n\
                     (as PID 1, with no arguments, it is the agent)";

fn main() {
    let mode = std::env::args().nth(1);
    match mode.as_deref() {
        Some("run-steps") => std::process::exit(runner::main()),
        Some("probe-abi") => std::process::exit(probe_abi()),
        Some("peer") => std::process::exit(peers::main()),
        Some("container-serve") => std::process::exit(container_serve::main()),
        Some("oci-config") => std::process::exit(container::oci_config_main(std::env::args().nth(2))),
        Some("agent") => agent::main(),
        _ if std::process::id() == 1 => agent::main(),
        _ => {
            let _ = writeln!(std::io::stderr(), "{USAGE}");
            std::process::exit(2);
        }
    }
}

/// Prints the AbiProbe JSON, e.g. `{"abi":4}` or `{"errno":"ENOSYS"}`.
fn probe_abi() -> i32 {
    let probe = preflight::landlock_abi();
    match serde_json::to_string(&probe) {
        Ok(json) if writeln!(std::io::stdout(), "{json}").is_ok() => 0,
        _ => 1,
    }
}
