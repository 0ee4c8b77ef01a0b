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
    // The `layer` peer: forked here, inside the layers and outside whatever the enforcer under
    // test adds, its pid handed down in the environment.
    let peer = match args.peer.map(spawn_peer).transpose() {
        Ok(pid) => pid.map(|p| p.to_string()),
        Err(err) => {
            eprintln!("{}: layer peer: {err}", crate::NAME);
            return LAYER_FAILED;
        }
    };
    let var = peer.as_deref().map(|pid| (lockgate_protocol::LAYER_PEER_ENV, pid));
    let failure = exec::exec_as(&args.command, args.arg0.as_deref(), var);
    eprintln!("{}: cannot execute {}: {failure}", crate::NAME, args.command[0].to_string_lossy());
    127
}

/// Forks the `layer` peer: a process of `uid`:`gid` in this process's domain (the layers just
/// applied) that waits to be signalled (`lockgate-guest peer`). It asks to be killed when its
/// parent — this process, which becomes the enforcer and then the command — exits, but that
/// signal comes from the parent, and when the enforcer's own layer scopes signals Landlock
/// refuses it (the peer is outside that layer): the peer then outlives the command until the
/// guest kills the run's process group. So it holds none of the run's pipes (its stdio is
/// /dev/null): held, they kept the guest reading for its whole grace period (1 s) after every
/// such run.
fn spawn_peer((uid, gid): (u32, u32)) -> anyhow::Result<i32> {
    let parent = std::process::id() as libc::pid_t;
    let program = std::ffi::CString::new(lockgate_protocol::GUEST_BIN)?;
    let arg = std::ffi::CString::new("peer")?;
    let null = std::ffi::CString::new("/dev/null")?;
    // SAFETY: the child only makes raw system calls on data allocated before the fork, then
    // execs or exits.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error().into()),
        // SAFETY: in the child, raw system calls on data allocated before the fork, then execve
        // or _exit; nothing returns into the parent's state.
        0 => unsafe {
            // Credentials first: changing them clears the parent-death signal. Only when they
            // differ: the layer mode may already run as the run's uid (then setgroups, which
            // needs CAP_SETGID, would fail and leave a dead peer, a zombie every probe of it
            // reached without anyone noticing).
            let same = libc::geteuid() == uid && libc::getegid() == gid;
            if !same && (libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0) {
                libc::_exit(126);
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                libc::_exit(126);
            }
            let devnull = libc::open(null.as_ptr(), libc::O_RDWR);
            if devnull < 0 || (0..3).any(|fd| libc::dup2(devnull, fd) < 0) {
                libc::_exit(126);
            }
            let argv = [program.as_ptr(), arg.as_ptr(), std::ptr::null()];
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127)
        },
        pid => Ok(pid),
    }
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
