//! One probe = one system call (or the smallest sequence that makes the operation), reported
//! with its exact errno. Probes call libc directly rather than std so that the syscall (and the
//! flags) are exactly the ones the protocol documents: an `O_PATH` open, a retry, or a
//! different flag would change what Landlock is asked to decide.

use crate::{errno_text, inherited, inherited_dir, probe_child, probes_sys};
use lockgate_protocol::{Outcome, Peer, ProbeOp, ProbeTarget, OUTSIDE_ABSTRACT_DGRAM, OUTSIDE_ABSTRACT_SOCKET};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

/// How long a probed executable may run before it is killed (it already passed execve).
const EXEC_DEADLINE: Duration = Duration::from_secs(10);

type Probe = Result<(), Errno>;

/// Runs `op` on `target`: a path, a pair of paths (rename, link) or a port (TCP); the probes of
/// syscall filters are [`probes_sys`]'s.
#[cfg(test)]
pub fn run(op: ProbeOp, target: &ProbeTarget) -> Outcome {
    run_step(op, target).0
}

/// As [`run`], with what the probe has to say beside its outcome (the step result's `stdout`):
/// the descriptor an `inherited_write` wrote through.
pub fn run_step(op: ProbeOp, target: &ProbeTarget) -> (Outcome, String) {
    if let (ProbeOp::InheritedWrite, ProbeTarget::Path(path)) = (op, target) {
        let (result, said) = inherited::write(path.as_str());
        return (outcome(result), said);
    }
    if let (ProbeOp::Openat | ProbeOp::InheritedReaddir, ProbeTarget::Path(path)) = (op, target) {
        let (result, said) = match op {
            ProbeOp::Openat => inherited_dir::openat(path.as_str()),
            _ => inherited_dir::readdir(path.as_str()),
        };
        return (outcome(result), said);
    }
    (run_plain(op, target), String::new())
}

fn outcome(result: Probe) -> Outcome {
    match result {
        Ok(()) => Outcome::Ok,
        Err(errno) => Outcome::Err(errno_text::name(errno)),
    }
}

fn run_plain(op: ProbeOp, target: &ProbeTarget) -> Outcome {
    if probes_sys::handles(op) {
        return probes_sys::run(op, target);
    }
    let result = match (op, target) {
        (ProbeOp::Create, ProbeTarget::Path(path)) => create(path.as_str()),
        (ProbeOp::Write, ProbeTarget::Path(path)) => write(path.as_str()),
        (ProbeOp::Read, ProbeTarget::Path(path)) => read(path.as_str()),
        (ProbeOp::Truncate, ProbeTarget::Path(path)) => truncate(path.as_str()),
        (ProbeOp::Rename, ProbeTarget::Pair { from, to }) => rename(from.as_str(), to.as_str()),
        (ProbeOp::Link, ProbeTarget::Pair { from, to }) => link(from.as_str(), to.as_str()),
        (ProbeOp::Exec, ProbeTarget::Path(path)) => exec(path.as_str()),
        (ProbeOp::Mkdir, ProbeTarget::Path(path)) => mkdir(path.as_str()),
        (ProbeOp::Unlink, ProbeTarget::Path(path)) => unlink(path.as_str()),
        (ProbeOp::Readdir, ProbeTarget::Path(path)) => readdir(path.as_str()),
        (ProbeOp::TcpBind, ProbeTarget::Port(port)) => tcp(*port, Tcp::Bind),
        (ProbeOp::TcpConnect, ProbeTarget::Port(port)) => tcp(*port, Tcp::Connect),
        (ProbeOp::Rmdir, ProbeTarget::Path(path)) => rmdir(path.as_str()),
        (ProbeOp::MknodChar, ProbeTarget::Path(path)) => mknod(path.as_str(), libc::S_IFCHR, libc::makedev(1, 3)),
        (ProbeOp::MknodBlock, ProbeTarget::Path(path)) => mknod(path.as_str(), libc::S_IFBLK, libc::makedev(7, 0)),
        (ProbeOp::MknodReg, ProbeTarget::Path(path)) => mknod(path.as_str(), libc::S_IFREG, 0),
        (ProbeOp::Mkfifo, ProbeTarget::Path(path)) => mknod(path.as_str(), libc::S_IFIFO, 0),
        (ProbeOp::MknodSock, ProbeTarget::Path(path)) => mknod(path.as_str(), libc::S_IFSOCK, 0),
        (ProbeOp::Symlink, ProbeTarget::Pair { from, to }) => symlink(from.as_str(), to.as_str()),
        (ProbeOp::IoctlDev, ProbeTarget::Path(path)) => ioctl_dev(path.as_str()),
        (ProbeOp::OpenPath, ProbeTarget::Path(path)) => open(path.as_str(), libc::O_PATH, 0).map(drop),
        (ProbeOp::OpenTrunc, ProbeTarget::Path(path)) => {
            open(path.as_str(), libc::O_RDONLY | libc::O_TRUNC, 0).map(drop)
        }
        (ProbeOp::RenameExchange, ProbeTarget::Pair { from, to }) => rename_exchange(from.as_str(), to.as_str()),
        (ProbeOp::IoctlFioclex, ProbeTarget::Path(path)) => ioctl_always(path.as_str(), libc::FIOCLEX),
        (ProbeOp::IoctlFionbio, ProbeTarget::Path(path)) => ioctl_always(path.as_str(), libc::FIONBIO),
        (ProbeOp::Tcp6Bind, ProbeTarget::Port(port)) => inet_bind(*port, Inet::Tcp6),
        (ProbeOp::UdpBind, ProbeTarget::Port(port)) => inet_bind(*port, Inet::Udp4),
        (ProbeOp::Ftruncate, ProbeTarget::Path(path)) => {
            open(path.as_str(), libc::O_WRONLY, 0).and_then(|fd| ftruncate(&fd))
        }
        (ProbeOp::MemfdFtruncate, ProbeTarget::None) => memfd_ftruncate(),
        (ProbeOp::UnixConnect, ProbeTarget::Path(path)) => unix_connect(Unix::Path(path.as_str())),
        (ProbeOp::AbstractConnect, ProbeTarget::Peer(Peer::Outside | Peer::OutsidePid(_))) => {
            unix_connect(Unix::Abstract(OUTSIDE_ABSTRACT_SOCKET))
        }
        (ProbeOp::AbstractConnect, ProbeTarget::Peer(Peer::Inside)) => abstract_connect_inside(),
        (ProbeOp::AbstractSendto, ProbeTarget::Peer(Peer::Outside | Peer::OutsidePid(_))) => {
            abstract_sendto(OUTSIDE_ABSTRACT_DGRAM, false)
        }
        (ProbeOp::AbstractSendto, ProbeTarget::Peer(Peer::Inside)) => {
            abstract_sendto(&format!("lockgate-peer-inside-dgram-{}", std::process::id()), true)
        }
        (ProbeOp::Signal, ProbeTarget::Peer(Peer::OutsidePid(pid))) => signal(*pid as libc::pid_t),
        // The guest starts the outside peer and puts its pid in the step: without it there is
        // nobody to signal.
        (ProbeOp::Signal, ProbeTarget::Peer(Peer::Outside)) => Err(Errno::ESRCH),
        (ProbeOp::Signal, ProbeTarget::Peer(Peer::Layer)) => crate::probes_sys::layer_peer().and_then(signal),
        (ProbeOp::Signal, ProbeTarget::Peer(Peer::Inside)) => signal_inside(),
        (ProbeOp::PidVisible, ProbeTarget::Peer(Peer::OutsidePid(pid))) => pid_visible(*pid as libc::pid_t),
        (ProbeOp::PidVisible, ProbeTarget::Peer(Peer::Outside)) => Err(Errno::ESRCH),
        (ProbeOp::PidVisible, ProbeTarget::Peer(Peer::Layer)) => crate::probes_sys::layer_peer().and_then(pid_visible),
        (ProbeOp::PidVisible, ProbeTarget::Peer(Peer::Inside)) => probe_child::with_paused_child(pid_visible),
        // A target of another kind than the operation takes (ProbeOp::target) is a malformed
        // step, which the protocol reports as EINVAL rather than guessing what was meant.
        _ => Err(Errno::EINVAL),
    };
    outcome(result)
}

fn cpath(path: &str) -> Result<CString, Errno> {
    CString::new(path).map_err(|_| Errno::EINVAL)
}

/// Turns a libc return value into a result, reading errno on failure.
fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A descriptor closed on drop, so every early return closes what was opened.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor and close it exactly once.
        unsafe { libc::close(self.0) };
    }
}

fn open(path: &str, flags: libc::c_int, mode: libc::mode_t) -> Result<Fd, Errno> {
    let p = cpath(path)?;
    // SAFETY: p is a valid C string for the duration of the call.
    let fd = check(unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) }.into())?;
    Ok(Fd(fd as libc::c_int))
}

fn create(path: &str) -> Probe {
    open(path, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o644).map(drop)
}

fn write(path: &str) -> Probe {
    let fd = open(path, libc::O_WRONLY, 0)?;
    // SAFETY: writes one byte from a valid buffer to an open descriptor.
    check(unsafe { libc::write(fd.0, b"x".as_ptr().cast(), 1) } as libc::c_long).map(drop)
}

fn read(path: &str) -> Probe {
    let fd = open(path, libc::O_RDONLY, 0)?;
    let mut buf = [0u8; 512];
    // SAFETY: reads into a valid buffer of the given length.
    check(unsafe { libc::read(fd.0, buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long).map(drop)
}

fn truncate(path: &str) -> Probe {
    let p = cpath(path)?;
    // SAFETY: valid C string.
    check(unsafe { libc::truncate(p.as_ptr(), 0) }.into()).map(drop)
}

fn rename(from: &str, to: &str) -> Probe {
    let (f, t) = (cpath(from)?, cpath(to)?);
    // SAFETY: valid C strings.
    check(unsafe { libc::rename(f.as_ptr(), t.as_ptr()) }.into()).map(drop)
}

fn link(from: &str, to: &str) -> Probe {
    let (f, t) = (cpath(from)?, cpath(to)?);
    // SAFETY: valid C strings.
    check(unsafe { libc::link(f.as_ptr(), t.as_ptr()) }.into()).map(drop)
}

fn mkdir(path: &str) -> Probe {
    let p = cpath(path)?;
    // SAFETY: valid C string.
    check(unsafe { libc::mkdir(p.as_ptr(), 0o755) }.into()).map(drop)
}

fn unlink(path: &str) -> Probe {
    let p = cpath(path)?;
    // SAFETY: valid C string.
    check(unsafe { libc::unlink(p.as_ptr()) }.into()).map(drop)
}

/// Reads the whole directory with getdents64 (Landlock's READ_DIR is checked at open, but a
/// real listing is what a tool would do, so that is what is probed).
fn readdir(path: &str) -> Probe {
    let fd = open(path, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: getdents64 writes at most buf.len() bytes into buf.
        let n = check(unsafe { libc::syscall(libc::SYS_getdents64, fd.0, buf.as_mut_ptr(), buf.len()) })?;
        if n == 0 {
            return Ok(());
        }
    }
}

fn rmdir(path: &str) -> Probe {
    let p = cpath(path)?;
    // SAFETY: valid C string.
    check(unsafe { libc::rmdir(p.as_ptr()) }.into()).map(drop)
}

/// mknod(path, kind|0644, dev). Device nodes also need CAP_MKNOD, which the kernel checks
/// *after* Landlock: a sandbox user without it gets EACCES from Landlock, EPERM without it.
fn mknod(path: &str, kind: libc::mode_t, dev: libc::dev_t) -> Probe {
    let p = cpath(path)?;
    // SAFETY: valid C string.
    check(unsafe { libc::mknod(p.as_ptr(), kind | 0o644, dev) }.into()).map(drop)
}

fn symlink(target: &str, path: &str) -> Probe {
    let (t, p) = (cpath(target)?, cpath(path)?);
    // SAFETY: valid C strings.
    check(unsafe { libc::symlink(t.as_ptr(), p.as_ptr()) }.into()).map(drop)
}

/// open(O_RDONLY|O_NONBLOCK), then ioctl(TCGETS): Landlock decides device ioctls at ioctl
/// time from the rights of the open file. On a device that is no terminal the driver answers
/// ENOTTY, which is what an allowed ioctl looks like here.
fn ioctl_dev(path: &str) -> Probe {
    let fd = open(path, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
    let mut termios = std::mem::MaybeUninit::<libc::termios>::zeroed();
    // SAFETY: TCGETS writes at most one termios into a buffer of that size.
    check(unsafe { libc::ioctl(fd.0, libc::TCGETS, termios.as_mut_ptr()) }.into()).map(drop)
}

/// open(O_RDONLY|O_NONBLOCK), then an ioctl Landlock always permits (FIOCLEX, FIONBIO).
fn ioctl_always(path: &str, cmd: libc::c_ulong) -> Probe {
    let fd = open(path, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
    let mut on: libc::c_int = 1;
    // SAFETY: FIOCLEX takes no argument; FIONBIO reads one int from a valid pointer.
    check(unsafe { libc::ioctl(fd.0, cmd, &mut on as *mut libc::c_int) }.into()).map(drop)
}

fn ftruncate(fd: &Fd) -> Probe {
    // SAFETY: ftruncate on an open descriptor.
    check(unsafe { libc::ftruncate(fd.0, 0) }.into()).map(drop)
}

fn memfd_ftruncate() -> Probe {
    // SAFETY: valid C string literal; plain memfd_create(2).
    let fd =
        Fd(check(unsafe { libc::memfd_create(c"lockgate-probe".as_ptr(), libc::MFD_CLOEXEC) }.into())? as libc::c_int);
    ftruncate(&fd)
}

fn rename_exchange(from: &str, to: &str) -> Probe {
    let (f, t) = (cpath(from)?, cpath(to)?);
    // SAFETY: valid C strings; renameat2 through the raw syscall (older libcs lack a wrapper).
    check(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    })
    .map(drop)
}

enum Inet {
    Tcp6,
    Udp4,
}

/// bind a TCP socket to [::1]:<port>, or a UDP socket to 127.0.0.1:<port>.
fn inet_bind(port: u16, what: Inet) -> Probe {
    let (domain, kind) = match what {
        Inet::Tcp6 => (libc::AF_INET6, libc::SOCK_STREAM),
        Inet::Udp4 => (libc::AF_INET, libc::SOCK_DGRAM),
    };
    // SAFETY: plain socket(2) call.
    let fd = Fd(check(unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, 0) }.into())? as libc::c_int);
    let ret = match what {
        Inet::Tcp6 => {
            // SAFETY: sockaddr_in6 is plain old data; all zeroes is a valid value.
            let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            addr.sin6_port = port.to_be();
            addr.sin6_addr.s6_addr = std::net::Ipv6Addr::LOCALHOST.octets();
            let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            // SAFETY: addr is a valid sockaddr_in6 of the given length.
            unsafe { libc::bind(fd.0, (&addr as *const libc::sockaddr_in6).cast(), len) }
        }
        Inet::Udp4 => {
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: addr is a valid sockaddr_in of the given length.
            unsafe { libc::bind(fd.0, (&addr as *const libc::sockaddr_in).cast(), len) }
        }
    };
    check(ret.into()).map(drop)
}

enum Unix<'a> {
    Path(&'a str),
    Abstract(&'a str),
}

fn unix_socket() -> Result<Fd, Errno> {
    // SAFETY: plain socket(2) call.
    Ok(Fd(
        check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }.into())? as libc::c_int
    ))
}

/// A sockaddr_un for a path, or for an abstract name (a leading NUL, no terminating one).
fn unix_addr(addr: &Unix) -> Result<(libc::sockaddr_un, libc::socklen_t), Errno> {
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let (bytes, skip) = match addr {
        Unix::Path(p) => (p.as_bytes(), 0),
        Unix::Abstract(name) => (name.as_bytes(), 1),
    };
    if bytes.len() + skip >= sun.sun_path.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    for (i, b) in bytes.iter().enumerate() {
        sun.sun_path[i + skip] = *b as libc::c_char;
    }
    let base = std::mem::size_of::<libc::sa_family_t>();
    let len = match addr {
        Unix::Path(_) => base + bytes.len() + 1,
        Unix::Abstract(_) => base + 1 + bytes.len(),
    };
    Ok((sun, len as libc::socklen_t))
}

fn unix_connect(addr: Unix) -> Probe {
    let (sun, len) = unix_addr(&addr)?;
    let fd = unix_socket()?;
    // SAFETY: sun is a valid sockaddr_un of the given length.
    check(unsafe { libc::connect(fd.0, (&sun as *const libc::sockaddr_un).cast(), len) }.into()).map(drop)
}

/// Binds and listens on an abstract socket of its own (inside the domain), then connects to
/// it: the connect is the probe.
fn abstract_connect_inside() -> Probe {
    let name = format!("lockgate-peer-inside-{}", std::process::id());
    let (sun, len) = unix_addr(&Unix::Abstract(&name))?;
    let listener = unix_socket()?;
    // SAFETY: sun is a valid sockaddr_un of the given length; listener is open.
    check(unsafe { libc::bind(listener.0, (&sun as *const libc::sockaddr_un).cast(), len) }.into())?;
    // SAFETY: listener is a bound socket.
    check(unsafe { libc::listen(listener.0, 1) }.into())?;
    unix_connect(Unix::Abstract(&name))
}

/// sendto from an unbound unix datagram socket to the abstract socket `name`; with `bind_first`
/// the runner binds that name itself first (inside the domain).
fn abstract_sendto(name: &str, bind_first: bool) -> Probe {
    let (sun, len) = unix_addr(&Unix::Abstract(name))?;
    let dgram = || -> Result<Fd, Errno> {
        // SAFETY: plain socket(2) call.
        Ok(Fd(check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }.into())?
            as libc::c_int))
    };
    let receiver = match bind_first {
        true => {
            let r = dgram()?;
            // SAFETY: sun is a valid sockaddr_un of the given length; r is open.
            check(unsafe { libc::bind(r.0, (&sun as *const libc::sockaddr_un).cast(), len) }.into())?;
            Some(r)
        }
        false => None,
    };
    let sender = dgram()?;
    // SAFETY: sends one byte from a valid buffer to a valid sockaddr_un of the given length.
    let ret =
        unsafe { libc::sendto(sender.0, b"x".as_ptr().cast(), 1, 0, (&sun as *const libc::sockaddr_un).cast(), len) };
    drop(receiver);
    check(ret as libc::c_long).map(drop)
}

/// kill(pid, 0): every permission check of a signal, no signal.
fn signal(pid: libc::pid_t) -> Probe {
    // SAFETY: signal 0 delivers nothing.
    check(unsafe { libc::kill(pid, 0) }.into()).map(drop)
}

/// stat("/proc/<pid>"): whether this process's /proc shows the process.
fn pid_visible(pid: libc::pid_t) -> Probe {
    let p = cpath(&format!("/proc/{pid}"))?;
    // SAFETY: valid C string; the buffer is a plain struct the call fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    check(unsafe { libc::stat(p.as_ptr(), &mut st) }.into()).map(drop)
}

/// Signals a child of ours (inside the domain, same uid).
fn signal_inside() -> Probe {
    probe_child::with_paused_child(signal)
}

enum Tcp {
    Bind,
    Connect,
}

/// bind a TCP socket to 127.0.0.1:<port>, or connect one to the harness's listener on
/// [`CONNECT_PROBE_ADDR`]:<port>.
fn tcp(port: u16, what: Tcp) -> Probe {
    // SAFETY: plain socket(2) call.
    let fd =
        Fd(check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }.into())?
            as libc::c_int);
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(match what {
                Tcp::Bind => std::net::Ipv4Addr::LOCALHOST,
                Tcp::Connect => std::net::Ipv4Addr::from(lockgate_protocol::CONNECT_PROBE_ADDR),
            })
            .to_be(),
        },
        sin_zero: [0; 8],
    };
    let ptr = (&addr as *const libc::sockaddr_in).cast::<libc::sockaddr>();
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_in of the given length.
    let ret = unsafe {
        match what {
            Tcp::Bind => libc::bind(fd.0, ptr, len),
            Tcp::Connect => libc::connect(fd.0, ptr, len),
        }
    };
    check(ret.into()).map(drop)
}

/// fork + execve(path, [path]). The child reports a failed execve's errno through an O_CLOEXEC
/// pipe: EOF on the pipe means execve succeeded (the pipe was closed by the exec). The program's
/// own exit status does not matter; it is waited for (and killed after a deadline) so that it
/// cannot outlive the step.
fn exec(path: &str) -> Probe {
    // Everything the child needs is allocated before fork: after fork only async-signal-safe
    // calls are allowed.
    let prog = cpath(path)?;
    let argv = [prog.as_ptr(), std::ptr::null()];
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let envp: Vec<*const libc::c_char> = env.iter().map(|s| s.as_ptr()).chain([std::ptr::null()]).collect();
    // The program must not write into our stdout (the report) or read our stdin. /dev/null may
    // be forbidden by the sandbox; then its standard descriptors are simply closed.
    // SAFETY: valid C string literal.
    let devnull = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    let devnull = (devnull >= 0).then_some(Fd(devnull));
    let mut pipe = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    check(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) }.into())?;
    let (reader, writer) = (Fd(pipe[0]), Fd(pipe[1]));

    // SAFETY: the runner is single-threaded; the child only calls async-signal-safe functions.
    let pid = check(unsafe { libc::fork() }.into())? as libc::pid_t;
    if pid == 0 {
        // SAFETY: async-signal-safe calls only, then execve or _exit.
        unsafe {
            libc::setpgid(0, 0);
            for target in 0..3 {
                match &devnull {
                    Some(null) => libc::dup2(null.0, target),
                    None => libc::close(target),
                };
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
            let errno = Errno::last_raw().to_ne_bytes();
            libc::write(writer.0, errno.as_ptr().cast(), errno.len());
            libc::_exit(127);
        }
    }
    drop(writer);
    let mut report = [0u8; 4];
    let mut got = 0;
    while got < report.len() {
        // SAFETY: reads into the unfilled part of a valid buffer.
        let n = unsafe { libc::read(reader.0, report[got..].as_mut_ptr().cast(), report.len() - got) };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if Errno::last() == Errno::EINTR => continue,
            _ => break,
        }
    }
    reap(pid);
    if got == report.len() {
        Err(Errno::from_raw(i32::from_ne_bytes(report)))
    } else {
        Ok(())
    }
}

/// Waits for the probed program, killing its process group after [`EXEC_DEADLINE`].
fn reap(pid: libc::pid_t) {
    let stop = Instant::now() + EXEC_DEADLINE;
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r != 0 && !(r < 0 && Errno::last() == Errno::EINTR) {
            break; // reaped (or no longer ours)
        }
        if Instant::now() >= stop {
            // SAFETY: signals our own child's process group, then reaps the child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
