//! VM test of the probes of what syscall filters decide: Debian 6.12, bare, the reference
//! enforcer on a policy without a `seccomp:` section (Landlock only, no filter of its own).
//! Each probe's errno is the kernel's own answer, asserted in the control run (same uid, no
//! enforcer) and in the enforced run. The boot is shared (`shared::debian_6_12`).

use crate::shared;
use lockgate::internals::judge::Status;
use lockgate_protocol::EntryProbe;

/// What Debian 6.12 answers the sandbox user (uid 998, no capabilities): unprivileged user
/// namespaces, io_uring, memfd exec and a further filter are allowed; raw and packet sockets,
/// mount, a new mount namespace and bpf need privileges (EPERM); vsock is a module the guest
/// does not load; the kernel takes `int 0x80` (IA32 emulation) but not x32 (Debian builds x32
/// in, off unless `syscall.x32=y`). Landlock (ABI 6) stops ptrace of a process outside the
/// domain and a procfs mount in a user namespace of the sandbox's own (every mount from inside
/// a domain), and nothing else here: the guest's processes stay visible in /proc.
pub const PROBES: &str = r#"
name: syscall-probes-bare
setup:
  users: [{name: sandbox, uid: 998}]
  paths:
    - {path: /work, kind: dir, owner: sandbox}
    - {path: /work/m, kind: dir, owner: sandbox}
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc, /dev, /proc], read_write: [/work, /tmp]}
  landlock: {compatibility: best_effort}
  process: {run_as_user: sandbox}
expect:
  - {probe: socket AF_INET SOCK_STREAM, allowed: true}
  - {probe: socket AF_UNIX SOCK_STREAM, allowed: true}
  - {probe: socket AF_NETLINK SOCK_RAW NETLINK_ROUTE, allowed: true}
  - {probe: socket AF_NETLINK SOCK_RAW NETLINK_SOCK_DIAG, allowed: true}
  - {probe: socket AF_PACKET SOCK_RAW, denied: EPERM, by: dac}
  - {probe: socket AF_INET SOCK_RAW IPPROTO_ICMP, denied: EPERM, by: dac}
  - {probe: socket AF_VSOCK SOCK_STREAM, denied: EAFNOSUPPORT, by: operation}
  - {probe: socket@i386 AF_INET SOCK_STREAM, allowed: true}
  - {probe: socket@x32 AF_INET SOCK_STREAM, denied: ENOSYS, by: operation}
  - {probe: syscall@i386 socketcall 1 0, denied: EFAULT, by: operation}
  - {probe: syscall unshare CLONE_NEWUSER, allowed: true}
  - {probe: syscall@i386 unshare CLONE_NEWUSER, allowed: true}
  - {probe: syscall unshare CLONE_NEWNS, denied: EPERM, by: dac}
  - {probe: clone CLONE_NEWUSER, allowed: true}
  - {probe: clone3 CLONE_NEWUSER, allowed: true}
  - {probe: ptrace_traceme, allowed: true}
  - {probe: ptrace_attach inside, allowed: true}
  - {probe: ptrace_attach outside, denied: EPERM, by: sandbox}
  - {probe: io_uring_setup, allowed: true}
  - {probe: memfd_exec, allowed: true}
  - {probe: execveat_empty_path /bin/true, allowed: true}
  - {probe: bpf, denied: EPERM, by: dac}
  - {probe: mount /work/m, denied: EPERM, by: dac}
  - {probe: seccomp, allowed: true}
  # Landlock refuses every mount from inside a domain, a new user namespace's too.
  - {probe: mount_proc /work/m, denied: EPERM, by: sandbox}
  - {probe: pid_visible outside, allowed: true}
  - {probe: pid_visible inside, allowed: true}
"#;

#[test]
fn each_probe_answers_the_kernels_own_errno() {
    let r = &shared::debian_6_12().report;
    let preflight = r.kernels[0].preflight.as_ref().expect("a preflight");
    let entries = preflight.entries.as_ref().expect("the preflight probes the other entries");
    assert_eq!(entries.ia32, EntryProbe::Available, "Debian 6.12 has IA32 emulation on");
    assert_eq!(entries.x32, EntryProbe::Unavailable("ENOSYS".into()), "Debian 6.12 leaves x32 off");
    let v = shared::debian_6_12().cell("debian-6.12", "bare", "syscall-probes-bare", 1).outcome.as_ref().unwrap();
    assert!(v.passed(), "{:?}", v.failures());
    for e in &v.expectations {
        assert_eq!(e.status, Status::Pass, "{}", e.expect);
        // Without a filter of the enforcer's, only Landlock's ptrace and mount rules tell the
        // runs apart.
        if !e.expect.contains("ptrace_attach outside") && !e.expect.contains("mount_proc") {
            assert_eq!(e.control, e.enforced, "{}", e.expect);
        }
    }
}
