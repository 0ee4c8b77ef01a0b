//! The peers of a run's scope and unix-socket probes, started *outside* the sandbox's Landlock
//! domain before the run and gone after it: a listener on the abstract socket
//! [`OUTSIDE_ABSTRACT_SOCKET`] (abstract_connect outside), a datagram socket bound on
//! [`OUTSIDE_ABSTRACT_DGRAM`] (abstract_sendto outside), a listener bound at each
//! `unix_connect` path, and a process of the run's own uid for `signal outside` and
//! `ptrace_attach outside` (so that DAC lets them through and only the sandbox can stop them),
//! whose pid goes into the steps the runner gets.

use lockgate_protocol::{
    Case, Identity, Peer, ProbeOp, ProbeTarget, Step, GUEST_BIN, OUTSIDE_ABSTRACT_DGRAM, OUTSIDE_ABSTRACT_SOCKET,
};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// What runs outside the domain during one run; dropping it stops the peers.
#[derive(Default)]
pub struct Peers {
    _listeners: Vec<UnixListener>,
    _datagrams: Vec<UnixDatagram>,
    signalled: Option<Child>,
}

impl Drop for Peers {
    fn drop(&mut self) {
        if let Some(child) = &mut self.signalled {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `lockgate-guest peer`: the process a `signal outside` probe signals; waits to be killed.
pub fn main() -> i32 {
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

/// Starts the peers `case`'s steps need (after its tree was made: pathname sockets live in it)
/// and returns the case with `signal outside` pointing at its peer.
pub fn start(case: &Case) -> Result<(Peers, Option<Case>), String> {
    let mut peers = Peers::default();
    let probes = || {
        case.steps.iter().filter_map(|s| match s {
            Step::Probe { op, target } => Some((*op, target)),
            Step::Shell { .. } => None,
        })
    };
    let wanted = |op| probes().any(|(o, t)| o == op && *t == ProbeTarget::Peer(Peer::Outside));
    if wanted(ProbeOp::AbstractConnect) {
        let listener = UnixListener::bind_addr(&abstract_name(OUTSIDE_ABSTRACT_SOCKET)?)
            .map_err(|e| format!("cannot listen on the abstract socket @{OUTSIDE_ABSTRACT_SOCKET}: {e}"))?;
        peers._listeners.push(listener);
    }
    if wanted(ProbeOp::AbstractSendto) {
        let socket = UnixDatagram::bind_addr(&abstract_name(OUTSIDE_ABSTRACT_DGRAM)?)
            .map_err(|e| format!("cannot bind the abstract datagram socket @{OUTSIDE_ABSTRACT_DGRAM}: {e}"))?;
        peers._datagrams.push(socket);
    }
    // A path probed by several steps gets one listener.
    let paths: std::collections::BTreeSet<_> = probes()
        .filter_map(|(op, target)| match (op, target) {
            (ProbeOp::UnixConnect, ProbeTarget::Path(path)) => Some(path),
            _ => None,
        })
        .collect();
    for path in paths {
        {
            let listener = UnixListener::bind(path.as_str())
                .map_err(|e| format!("cannot listen on the unix socket {path} for a unix_connect probe: {e}"))?;
            // connect(2) needs write permission on the socket file: anyone may, Landlock decides.
            std::fs::set_permissions(path.as_str(), std::fs::Permissions::from_mode(0o777))
                .map_err(|e| format!("cannot chmod the unix socket {path}: {e}"))?;
            peers._listeners.push(listener);
        }
    }
    let outside_process = |s: &Step| match s {
        Step::Probe {
            op: op @ (ProbeOp::Signal | ProbeOp::PtraceAttach),
            target: ProbeTarget::Peer(Peer::Outside),
        } => Some(*op),
        _ => None,
    };
    if !case.steps.iter().any(|s| outside_process(s).is_some()) {
        return Ok((peers, None));
    }
    let child = spawn_peer(&case.identity)?;
    let pid = child.id();
    peers.signalled = Some(child);
    let mut resolved = case.clone();
    for step in resolved.steps.iter_mut() {
        if let Some(op) = outside_process(step) {
            *step = Step::Probe { op, target: ProbeTarget::Peer(Peer::OutsidePid(pid)) };
        }
    }
    Ok((peers, Some(resolved)))
}

fn abstract_name(name: &str) -> Result<SocketAddr, String> {
    SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| format!("cannot name the abstract socket {name}: {e}"))
}

fn spawn_peer(identity: &Identity) -> Result<Child, String> {
    Command::new(GUEST_BIN)
        .arg("peer")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .uid(identity.uid)
        .gid(identity.gid)
        .spawn()
        .map_err(|e| format!("cannot start the peer process of a signal probe ({GUEST_BIN} peer): {e}"))
}
