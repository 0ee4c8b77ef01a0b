//! The probes of what syscall filters decide: a raw system call through any entry, `socket`,
//! `clone`/`clone3`, ptrace, io_uring, memfd exec, execveat with AT_EMPTY_PATH, bpf, mount, and
//! a further seccomp filter. Each is one system call (or the smallest sequence that makes the
//! operation), made in a throwaway child ([`probe_child`]) and reported with its exact errno.

use crate::{entries, probe_child, tiny_elf};
use lockgate_protocol::{Call, Flags, Outcome, Peer, ProbeOp, ProbeTarget};
use nix::errno::Errno;
use std::ffi::CString;

type Probe = Result<(), Errno>;

/// Whether `op` is one of these probes.
pub fn handles(op: ProbeOp) -> bool {
    matches!(
        op,
        ProbeOp::Syscall
            | ProbeOp::Socket
            | ProbeOp::Clone
            | ProbeOp::Clone3
            | ProbeOp::PtraceTraceme
            | ProbeOp::PtraceAttach
            | ProbeOp::IoUringSetup
            | ProbeOp::MemfdExec
            | ProbeOp::ExecveatEmptyPath
            | ProbeOp::Bpf
            | ProbeOp::Mount
            | ProbeOp::MountProc
            | ProbeOp::Seccomp
    )
}

/// Runs `op` on `target` in a child of its own. A target of another kind than the operation
/// takes is a malformed step: EINVAL, as for the other probes.
/// The pid of the process the layer mode forked in the outer layers (`Peer::Layer`), from
/// `LAYER_PEER_ENV`: ESRCH when the run has none (no layers, or an enforcer that cleared the
/// environment on its way to the command).
pub fn layer_peer() -> Result<libc::pid_t, nix::errno::Errno> {
    let pid = std::env::var(lockgate_protocol::LAYER_PEER_ENV).ok().and_then(|v| v.parse().ok());
    pid.ok_or(nix::errno::Errno::ESRCH)
}

pub fn run(op: ProbeOp, target: &ProbeTarget) -> Outcome {
    let probe: Box<dyn FnOnce() -> Probe + '_> = match (op, target) {
        (ProbeOp::Syscall | ProbeOp::Socket, ProbeTarget::Call(call)) => Box::new(move || syscall(call)),
        (ProbeOp::Clone, ProbeTarget::Flags(Flags { value, .. })) => Box::new(move || clone(*value)),
        (ProbeOp::Clone3, ProbeTarget::Flags(Flags { value, .. })) => Box::new(move || clone3(*value)),
        (ProbeOp::PtraceTraceme, ProbeTarget::None) => Box::new(|| ptrace(libc::PTRACE_TRACEME, 0).map(drop)),
        (ProbeOp::PtraceAttach, ProbeTarget::Peer(Peer::OutsidePid(pid))) => {
            Box::new(move || ptrace_attach(*pid as libc::pid_t))
        }
        // The guest starts the outside peer and puts its pid in the step: without it there is
        // nobody to attach to.
        (ProbeOp::PtraceAttach, ProbeTarget::Peer(Peer::Outside)) => return Outcome::Err("ESRCH".into()),
        (ProbeOp::PtraceAttach, ProbeTarget::Peer(Peer::Layer)) => match layer_peer() {
            Ok(pid) => {
                return run(ProbeOp::PtraceAttach, &ProbeTarget::Peer(Peer::OutsidePid(pid as u32)));
            }
            Err(_) => return Outcome::Err("ESRCH".into()),
        },
        (ProbeOp::PtraceAttach, ProbeTarget::Peer(Peer::Inside)) => {
            Box::new(|| probe_child::with_paused_child(ptrace_attach))
        }
        (ProbeOp::IoUringSetup, ProbeTarget::None) => Box::new(io_uring_setup),
        (ProbeOp::MemfdExec, ProbeTarget::None) => Box::new(memfd_exec),
        (ProbeOp::ExecveatEmptyPath, ProbeTarget::Path(path)) => Box::new(move || execveat_empty_path(path.as_str())),
        (ProbeOp::Bpf, ProbeTarget::None) => Box::new(bpf_prog_load),
        (ProbeOp::Mount, ProbeTarget::Path(path)) => Box::new(move || mount_tmpfs(path.as_str())),
        (ProbeOp::MountProc, ProbeTarget::Path(path)) => Box::new(move || mount_proc(path.as_str())),
        (ProbeOp::Seccomp, ProbeTarget::None) => Box::new(seccomp_allow_all),
        _ => return Outcome::Err("EINVAL".into()),
    };
    probe_child::run(probe)
}

fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn syscall(call: &Call) -> Probe {
    entries::call(call.entry, call.nr, &call.args).map(drop)
}

/// The raw clone syscall (x86_64 order: flags, stack, parent_tid, child_tid, tls) with no stack:
/// the child returns here like a fork's, and exits at once.
fn clone(flags: u64) -> Probe {
    // SAFETY: without CLONE_VM (the scenario's flags are checked to exclude it) the child gets a
    // copy of our memory and returns from the call on its own copy of the stack.
    let pid = check(unsafe { libc::syscall(libc::SYS_clone, flags | libc::SIGCHLD as u64, 0, 0, 0, 0) })?;
    reap_child(pid as libc::pid_t)
}

/// `struct clone_args` as of Linux 5.3 (CLONE_ARGS_SIZE_VER0): flags, pidfd, child_tid,
/// parent_tid, exit_signal, stack, stack_size, tls.
#[repr(C)]
struct CloneArgs([u64; 8]);

fn clone3(flags: u64) -> Probe {
    let args = CloneArgs([flags, 0, 0, 0, libc::SIGCHLD as u64, 0, 0, 0]);
    // SAFETY: args is a valid clone_args of the size given; no CLONE_VM, so the child runs on a
    // copy of our stack, as after fork.
    let pid =
        check(unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>()) })?;
    reap_child(pid as libc::pid_t)
}

/// In the new child (0): exit at once. In the caller: wait for it.
fn reap_child(pid: libc::pid_t) -> Probe {
    if pid == 0 {
        // SAFETY: the clone's child leaves without touching anything.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    Ok(())
}

fn ptrace(request: libc::c_uint, pid: libc::pid_t) -> Result<libc::c_long, Errno> {
    // SAFETY: TRACEME, ATTACH and DETACH take no pointer (addr and data are 0).
    check(unsafe { libc::ptrace(request, pid, 0usize, 0usize) })
}

/// PTRACE_ATTACH, then wait for the tracee's stop and detach without a signal, so that the
/// tracee goes on as before.
fn ptrace_attach(pid: libc::pid_t) -> Probe {
    ptrace(libc::PTRACE_ATTACH, pid)?;
    let mut status = 0;
    // SAFETY: waits for the tracee's stop.
    unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    let _ = ptrace(libc::PTRACE_DETACH, pid);
    Ok(())
}

/// io_uring_setup(1, params): a ring of one entry (closed with the child).
fn io_uring_setup() -> Probe {
    // struct io_uring_params is 120 bytes; all zeroes asks for the defaults.
    let mut params = [0u8; 120];
    // SAFETY: the kernel writes at most the 120 bytes of io_uring_params into params.
    check(unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) }).map(drop)
}

/// memfd_create, write [`tiny_elf::exit0`], execveat(fd, "", AT_EMPTY_PATH).
fn memfd_exec() -> Probe {
    // SAFETY: a valid C string literal.
    let fd = check(unsafe { libc::syscall(libc::SYS_memfd_create, c"lockgate-probe".as_ptr(), libc::MFD_CLOEXEC) })?
        as libc::c_int;
    let elf = tiny_elf::exit0();
    // SAFETY: writes the program from a valid buffer.
    let written = check(unsafe { libc::write(fd, elf.as_ptr().cast(), elf.len()) } as libc::c_long)?;
    if written as usize != elf.len() {
        return Err(Errno::EIO);
    }
    execveat(fd, "memfd:lockgate-probe")
}

/// open(path, O_PATH), execveat(fd, "", AT_EMPTY_PATH).
fn execveat_empty_path(path: &str) -> Probe {
    let p = CString::new(path).map_err(|_| Errno::EINVAL)?;
    // SAFETY: a valid C string.
    let fd = check(unsafe { libc::open(p.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) }.into())? as libc::c_int;
    execveat(fd, path)
}

/// execveat(fd, "", [argv0], environ, AT_EMPTY_PATH) with the standard descriptors on
/// /dev/null (or closed, where the sandbox denies it), so the program cannot write into the
/// runner's report. Returns only when the exec failed.
fn execveat(fd: libc::c_int, argv0: &str) -> Probe {
    let arg = CString::new(argv0).map_err(|_| Errno::EINVAL)?;
    let argv = [arg.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    // SAFETY: descriptor juggling on our own standard descriptors, in the probe's child.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        for target in 0..3 {
            if null >= 0 {
                libc::dup2(null, target);
            } else {
                libc::close(target);
            }
        }
    }
    // SAFETY: argv and envp are NULL-terminated arrays of valid C strings; "" with AT_EMPTY_PATH
    // executes fd itself.
    check(unsafe {
        libc::syscall(libc::SYS_execveat, fd, c"".as_ptr(), argv.as_ptr(), envp.as_ptr(), libc::AT_EMPTY_PATH)
    })
    .map(drop)
}

/// bpf(BPF_PROG_LOAD) of a socket filter `r0 = 0; exit` (GPL): what an unprivileged process may
/// load where `kernel.unprivileged_bpf_disabled` is 0.
fn bpf_prog_load() -> Probe {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
    // struct bpf_insn: code, dst|src registers, offset, immediate. BPF_ALU64|BPF_MOV|BPF_K r0 = 0;
    // BPF_JMP|BPF_EXIT.
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = c"GPL";
    // union bpf_attr's BPF_PROG_LOAD fields up to prog_flags: prog_type, insn_cnt, insns,
    // license, log_level, log_size, log_buf, kern_version, prog_flags (48 bytes).
    let mut attr = [0u8; 48];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_SOCKET_FILTER.to_ne_bytes());
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    // SAFETY: attr points to 48 valid bytes whose pointers (insns, license) outlive the call.
    check(unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) }).map(drop)
}

/// mount a tmpfs on `dir`; detach it again when that worked (the child shares the runner's
/// mount namespace).
fn mount_tmpfs(dir: &str) -> Probe {
    let target = CString::new(dir).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid C strings; no data argument.
    let ret =
        unsafe { libc::mount(c"lockgate-probe".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), 0, std::ptr::null()) };
    check(ret.into())?;
    // SAFETY: valid C string.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    Ok(())
}

/// unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), then a child (the new PID namespace's
/// first process) mounts a procfs on `dir`; its errno comes back as its exit code.
fn mount_proc(dir: &str) -> Probe {
    let target = CString::new(dir).map_err(|_| Errno::EINVAL)?;
    // SAFETY: unshare takes flags only; this process is the probe's throwaway child.
    check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID) }.into())?;
    // SAFETY: fork in a single-threaded throwaway child; the grandchild only makes raw calls.
    let pid = check(unsafe { libc::fork() }.into())? as libc::pid_t;
    if pid == 0 {
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: valid C strings; no data argument.
        let ret = unsafe { libc::mount(c"proc".as_ptr(), target.as_ptr(), c"proc".as_ptr(), flags, std::ptr::null()) };
        let code = if ret == 0 { 0 } else { Errno::last() as i32 };
        // SAFETY: ends the grandchild at once.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    check(unsafe { libc::waitpid(pid, &mut status, 0) }.into())?;
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Ok(()),
        Some(code) => Err(Errno::from_raw(code)),
        None => Err(Errno::ECHILD),
    }
}

/// seccomp(SECCOMP_SET_MODE_FILTER) of `return SECCOMP_RET_ALLOW`. no_new_privs is set first:
/// without it an unprivileged process is refused (EACCES) whatever any filter says, so the
/// probe would measure the missing flag instead of whether stacking a filter is allowed.
fn seccomp_allow_all() -> Probe {
    const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const BPF_RET_K: u16 = 0x06;
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into())?;
    let filter = [libc::sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW }];
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
    // SAFETY: prog points to a valid one-instruction program that outlives the call.
    check(unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::Entry;

    fn call(nr: u32, args: &[u64]) -> ProbeTarget {
        ProbeTarget::Call(Call { entry: Entry::X86_64, nr, args: args.to_vec(), text: String::new() })
    }

    #[test]
    fn raw_calls_and_sockets_answer_with_the_kernels_errno() {
        // socket(AF_UNIX, SOCK_STREAM, 0) works for anyone; domain 4242 does not exist.
        assert_eq!(run(ProbeOp::Socket, &call(41, &[1, 1, 0])), Outcome::Ok);
        assert_eq!(run(ProbeOp::Socket, &call(41, &[4242, 1, 0])), Outcome::Err("EAFNOSUPPORT".into()));
        assert_eq!(run(ProbeOp::Syscall, &call(3, &[u64::MAX])), Outcome::Err("EBADF".into()));
        // A target of another kind is a malformed step.
        assert_eq!(run(ProbeOp::Socket, &ProbeTarget::None), Outcome::Err("EINVAL".into()));
    }

    #[test]
    fn state_changing_probes_leave_the_caller_alone() {
        // The filter lands in the probe's child: this process keeps its seccomp mode.
        // SAFETY: PR_GET_SECCOMP takes no pointer.
        let before = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
        assert_eq!(run(ProbeOp::Seccomp, &ProbeTarget::None), Outcome::Ok);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) }, before);
        assert_eq!(run(ProbeOp::MemfdExec, &ProbeTarget::None), Outcome::Ok);
        assert_eq!(run(ProbeOp::Clone, &ProbeTarget::Flags(Flags { value: 0, text: "0".into() })), Outcome::Ok);
        assert_eq!(run(ProbeOp::Clone3, &ProbeTarget::Flags(Flags { value: 0, text: "0".into() })), Outcome::Ok);
        assert_eq!(run(ProbeOp::PtraceAttach, &ProbeTarget::Peer(Peer::Inside)), Outcome::Ok);
    }
}

/// The protocol's flag table against the libc crate's constants of the same names (all but
/// AF_MCTP, which libc lacks, and three libc marks deprecated: CLONE_CLEAR_SIGHAND and
/// CLONE_INTO_CGROUP overflow its type, SOCK_PACKET is obsolete; and O_LARGEFILE, which glibc
/// defines as 0 on x86_64 where the kernel sets 0o100000 for every open).
#[cfg(test)]
mod flag_values {
    use lockgate_protocol::syscalls::flag;

    macro_rules! same {
        ($($name:ident),* $(,)?) => {
            // libc types them c_int, c_ulong or u32: the low 32 bits are what they agree on.
            $(assert_eq!(flag(stringify!($name)).map(|v| v as u32), Some(libc::$name as u32), stringify!($name));)*
        };
    }

    #[test]
    fn flags_match_libc() {
        same!(
            CLONE_NEWTIME,
            CLONE_VM,
            CLONE_FS,
            CLONE_FILES,
            CLONE_SIGHAND,
            CLONE_PIDFD,
            CLONE_PTRACE,
            CLONE_VFORK,
            CLONE_PARENT,
            CLONE_THREAD,
            CLONE_NEWNS,
            CLONE_SYSVSEM,
            CLONE_SETTLS,
            CLONE_PARENT_SETTID,
            CLONE_CHILD_CLEARTID,
            CLONE_DETACHED,
            CLONE_UNTRACED,
            CLONE_CHILD_SETTID,
            CLONE_NEWCGROUP,
            CLONE_NEWUTS,
            CLONE_NEWIPC,
            CLONE_NEWUSER,
            CLONE_NEWPID,
            CLONE_NEWNET,
            CLONE_IO,
            AF_UNSPEC,
            AF_UNIX,
            AF_LOCAL,
            AF_INET,
            AF_AX25,
            AF_IPX,
            AF_APPLETALK,
            AF_NETROM,
            AF_BRIDGE,
            AF_ATMPVC,
            AF_X25,
            AF_INET6,
            AF_ROSE,
            AF_DECnet,
            AF_NETBEUI,
            AF_SECURITY,
            AF_KEY,
            AF_NETLINK,
            AF_ROUTE,
            AF_PACKET,
            AF_ASH,
            AF_ECONET,
            AF_ATMSVC,
            AF_RDS,
            AF_SNA,
            AF_IRDA,
            AF_PPPOX,
            AF_WANPIPE,
            AF_LLC,
            AF_IB,
            AF_MPLS,
            AF_CAN,
            AF_TIPC,
            AF_BLUETOOTH,
            AF_IUCV,
            AF_RXRPC,
            AF_ISDN,
            AF_PHONET,
            AF_IEEE802154,
            AF_CAIF,
            AF_ALG,
            AF_NFC,
            AF_VSOCK,
            AF_XDP,
            SOCK_STREAM,
            SOCK_DGRAM,
            SOCK_RAW,
            SOCK_RDM,
            SOCK_SEQPACKET,
            SOCK_DCCP,
            SOCK_NONBLOCK,
            SOCK_CLOEXEC,
            NETLINK_ROUTE,
            NETLINK_UNUSED,
            NETLINK_USERSOCK,
            NETLINK_FIREWALL,
            NETLINK_SOCK_DIAG,
            NETLINK_INET_DIAG,
            NETLINK_NFLOG,
            NETLINK_XFRM,
            NETLINK_SELINUX,
            NETLINK_ISCSI,
            NETLINK_AUDIT,
            NETLINK_FIB_LOOKUP,
            NETLINK_CONNECTOR,
            NETLINK_NETFILTER,
            NETLINK_IP6_FW,
            NETLINK_DNRTMSG,
            NETLINK_KOBJECT_UEVENT,
            NETLINK_GENERIC,
            NETLINK_SCSITRANSPORT,
            NETLINK_ECRYPTFS,
            NETLINK_RDMA,
            NETLINK_CRYPTO,
            IPPROTO_IP,
            IPPROTO_ICMP,
            IPPROTO_IGMP,
            IPPROTO_TCP,
            IPPROTO_UDP,
            IPPROTO_IPV6,
            IPPROTO_ICMPV6,
            IPPROTO_SCTP,
            IPPROTO_UDPLITE,
            IPPROTO_RAW,
            IPPROTO_MPTCP,
            AT_FDCWD,
            AT_SYMLINK_NOFOLLOW,
            AT_REMOVEDIR,
            AT_EACCESS,
            AT_SYMLINK_FOLLOW,
            AT_NO_AUTOMOUNT,
            AT_EMPTY_PATH,
            AT_RECURSIVE,
            O_RDONLY,
            O_WRONLY,
            O_RDWR,
            O_CREAT,
            O_EXCL,
            O_NOCTTY,
            O_TRUNC,
            O_APPEND,
            O_NONBLOCK,
            O_DSYNC,
            O_DIRECT,
            O_DIRECTORY,
            O_NOFOLLOW,
            O_NOATIME,
            O_CLOEXEC,
            O_SYNC,
            O_PATH,
            O_TMPFILE,
            MFD_CLOEXEC,
            MFD_ALLOW_SEALING,
            MFD_HUGETLB,
            MFD_NOEXEC_SEAL,
            MFD_EXEC,
            SIGHUP,
            SIGINT,
            SIGKILL,
            SIGUSR1,
            SIGTERM,
            SIGCHLD,
            SIGCONT,
            SIGSTOP,
            PTRACE_TRACEME,
            PTRACE_PEEKTEXT,
            PTRACE_CONT,
            PTRACE_KILL,
            PTRACE_GETREGS,
            PTRACE_ATTACH,
            PTRACE_DETACH,
            PTRACE_SEIZE,
            PTRACE_INTERRUPT,
            SECCOMP_SET_MODE_STRICT,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_GET_ACTION_AVAIL,
            SECCOMP_GET_NOTIF_SIZES,
            SECCOMP_FILTER_FLAG_TSYNC,
            SECCOMP_FILTER_FLAG_LOG,
            SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
            MS_RDONLY,
            MS_NOSUID,
            MS_NODEV,
            MS_NOEXEC,
            MS_REMOUNT,
            MS_BIND,
            MS_MOVE,
            MS_REC,
            MS_PRIVATE,
            MS_SLAVE,
            MS_SHARED,
            MNT_FORCE,
            MNT_DETACH,
            UMOUNT_NOFOLLOW,
            PR_SET_PDEATHSIG,
            PR_SET_DUMPABLE,
            PR_GET_SECCOMP,
            PR_SET_SECCOMP,
            PR_CAPBSET_DROP,
            PR_SET_NO_NEW_PRIVS,
            PR_GET_NO_NEW_PRIVS,
            PROT_NONE,
            PROT_READ,
            PROT_WRITE,
            PROT_EXEC,
            MAP_SHARED,
            MAP_PRIVATE,
            MAP_FIXED,
            MAP_ANONYMOUS,
        );
    }
}
