//! `lockgate-enforcer --layer FILE… [--arg0 NAME] -- COMMAND`: the harness's outer layers, not
//! an enforcement. A scenario's `setup.layers` describe the Landlock domain the enforcer under
//! test starts inside (an agent's sandboxed tool starting its own sandbox, a restricted
//! container entrypoint); the guest starts both runs through this mode, which makes each file
//! one layer (one `restrict_self`, outermost first) and execs COMMAND unchanged: no claim line,
//! no claim variable, no privilege drop, no filter. Each layer handles every filesystem right
//! of the kernel's ABI (or the file's `landlock.handled`), sets the file's `landlock.scoped`
//! from ABI 6, and grants its rules plus read-only on /lockgate, where the enforcer's policy
//! file lives. no_new_privs is set (the crate sets it before `restrict_self`), as any
//! unprivileged sandbox must, so COMMAND starts with it.
//!
//! Without Landlock (no ABI, or a container's profile refuses it) COMMAND is executed without
//! layers: the scenario's `when:` says what holds there. A layer that cannot be made (a rule
//! path that does not open, a 17th layer: E2BIG) is exit 125 with the reason: the runs must not
//! start in another world than the scenario describes.

use crate::cli::LayerArgs;
use crate::policy::{self, AbsPath};
use crate::{abi, exec, ruleset};
use std::path::{Path, PathBuf};

/// The exit status when a layer cannot be applied.
pub const LAYER_FAILED: i32 = 125;

/// Where lockgate's own files live in the guest (the enforcer's policy file): readable in every
/// layer.
const HARNESS_DIR: &str = "/lockgate";

/// Applies the layers and execs COMMAND; returns only with an exit status.
pub fn run(args: &LayerArgs) -> i32 {
    if let Some(abi) = abi::Support::probe().effective_abi() {
        for (n, file) in args.files.iter().enumerate() {
            if let Err(err) = apply(abi, file) {
                eprintln!("{}: layer {n} ({}): {err:#}", crate::NAME, file.display());
                return LAYER_FAILED;
            }
        }
    }
    let failure = exec::exec_as(&args.command, args.arg0.as_deref(), None);
    eprintln!("{}: cannot execute {}: {failure}", crate::NAME, args.command[0].to_string_lossy());
    127
}

/// One layer: the file's rules as one ruleset, applied to this thread.
fn apply(abi: landlock::ABI, file: &Path) -> anyhow::Result<()> {
    let mut layer = policy::load(file)?;
    layer.filesystem_policy.read_only.push(AbsPath(PathBuf::from(HARNESS_DIR)));
    let workdir = match layer.filesystem_policy.include_workdir {
        true => Some(std::env::current_dir()?),
        false => None,
    };
    let specs = ruleset::specs(&layer.filesystem_policy, workdir, false);
    let opened = ruleset::open_all(&specs, false, |_| {})?;
    let handled = ruleset::Handled::new(abi, []).within(layer.landlock.handled.as_deref());
    let scopes: &[_] = if abi >= ruleset::SCOPE_ABI { &layer.landlock.scoped } else { &[] };
    // TCP rules from ABI 4, as the enforcer's own ruleset takes them (tcp_layers).
    let network = layer.network.as_ref().filter(|_| abi >= ruleset::NET_ABI);
    let created = ruleset::build(abi, handled, opened, network, scopes)?;
    ruleset::restrict(created, true)?;
    Ok(())
}
