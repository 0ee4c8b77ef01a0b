//! The enforcer's own seccomp filter: the policy's `seccomp:` section
//! ([`lockgate_protocol::filter`]) compiled to BPF with `seccompiler` and installed just before
//! COMMAND is executed, after Landlock, on the thread that executes it.
//!
//! Why seccompiler (not libseccomp): pure Rust, so the enforcer stays one static binary with no
//! C library to link into the guest; it is what Firecracker and OpenShell build their filters
//! with, so the reference enforcer's BPF is built the way the enforcer lockgate exists for builds
//! its own. What it does not do, this module adds: seccompiler checks the architecture but
//! not the x32 bit, so after its architecture check the program gets three instructions that
//! deny every syscall number with bit 0x40000000 set.
//!
//! Two filters, in OpenShell's order: the ENOSYS one (`clone3`) first, then the main one,
//! which denies further `seccomp(SECCOMP_SET_MODE_FILTER)`. Both with TSYNC, so every thread of
//! the process has them (there is one today; TSYNC keeps that true if one is ever added).

use crate::faults::{Faults, FilterFault};
use lockgate_protocol::filter::{Condition, Filter, Op};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// The x32 bit of a syscall number (`__X32_SYSCALL_BIT`).
const X32_BIT: u32 = 0x4000_0000;
/// The instructions of seccompiler's architecture check, at the start of every program.
const ARCH_CHECK_LEN: usize = 3;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
/// `offsetof(struct seccomp_data, nr)`.
const NR_OFFSET: u32 = 0;

/// What was installed, for the claim: `filter=on syscalls=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub syscalls: usize,
}

fn op(c: &Condition) -> Result<SeccompCondition, String> {
    let op = match c.op {
        Op::Eq => SeccompCmpOp::Eq,
        Op::Ne => SeccompCmpOp::Ne,
        Op::MaskedEq(mask) => SeccompCmpOp::MaskedEq(mask),
    };
    // Flags, domains and protocols are C ints: compare the low 32 bits, as OpenShell does.
    SeccompCondition::new(c.arg, SeccompCmpArgLen::Dword, op, c.value).map_err(|e| e.to_string())
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: u32, faults: Faults) -> Result<BpfProgram, String> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno), TargetArch::x86_64)
        .map_err(|e| e.to_string())?;
    let mut program: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
    // Every jump of the program is relative and forward, and none crosses from the
    // architecture check into the rest, so instructions can be cut or inserted right after it.
    if !faults.has(crate::faults::Fault::Filter(FilterFault::X32Allowed)) {
        let x32 = [
            seccompiler::sock_filter { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: NR_OFFSET },
            seccompiler::sock_filter { code: BPF_JMP_JGE_K, jt: 0, jf: 1, k: X32_BIT },
            seccompiler::sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_ERRNO | errno },
        ];
        program.splice(ARCH_CHECK_LEN..ARCH_CHECK_LEN, x32);
    }
    if faults.has(crate::faults::Fault::Filter(FilterFault::NoArchCheck)) {
        program.drain(..ARCH_CHECK_LEN);
    }
    Ok(program)
}

/// The two programs the filter asks for: the ENOSYS one (if any) and the main one.
pub fn programs(filter: &Filter, faults: Faults) -> Result<(Option<BpfProgram>, BpfProgram), String> {
    let bad = |f| faults.has(crate::faults::Fault::Filter(f));
    let mut main: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for rule in &filter.rules {
        if rule.syscall == "socket" {
            let domain = rule.conditions.first().map(|c| c.value);
            // AF_INET, AF_INET6; AF_NETLINK.
            if bad(FilterFault::InetAllowed) && matches!(domain, Some(2 | 10)) {
                continue;
            }
            if bad(FilterFault::AllNetlink) && domain == Some(16) {
                continue;
            }
        }
        let entry = main.entry(rule.nr as i64).or_default();
        if !rule.conditions.is_empty() {
            let conditions = rule.conditions.iter().map(op).collect::<Result<Vec<_>, _>>()?;
            entry.push(SeccompRule::new(conditions).map_err(|e| e.to_string())?);
        }
    }
    let mut enosys: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (name, nr) in &filter.enosys {
        match name.as_str() {
            "clone3" if bad(FilterFault::Clone3Unfiltered) => {}
            "clone3" if bad(FilterFault::Clone3Eperm) => {
                main.entry(*nr as i64).or_default();
            }
            _ => {
                enosys.entry(*nr as i64).or_default();
            }
        }
    }
    let enosys = match enosys.is_empty() {
        true => None,
        false => Some(compile(enosys, libc::ENOSYS as u32, faults)?),
    };
    Ok((enosys, compile(main, filter.errno, faults)?))
}

/// Installs the filter on the calling thread (the one that executes COMMAND), and with TSYNC
/// on every other. Sets no_new_privs first: without it (or CAP_SYS_ADMIN, which the dropped
/// user lacks) the kernel refuses a filter.
pub fn install(filter: &Filter, faults: Faults) -> Result<Installed, String> {
    let installed = Installed { syscalls: filter.syscalls() };
    let bad = |f| faults.has(crate::faults::Fault::Filter(f));
    if bad(FilterFault::NoFilter) {
        return Ok(installed);
    }
    let (enosys, main) = programs(filter, faults)?;
    set_no_new_privs()?;
    let apply = |program: &BpfProgram| -> Result<(), String> {
        match bad(FilterFault::FilterOtherThread) {
            // The bug: a helper thread installs it (no TSYNC) and ends; the thread that
            // executes COMMAND never had it.
            true => {
                let program = program.clone();
                std::thread::spawn(move || seccompiler::apply_filter(&program).map_err(|e| e.to_string()))
                    .join()
                    .map_err(|_| "the filter thread panicked".to_string())?
            }
            false => seccompiler::apply_filter_all_threads(program).map_err(|e| e.to_string()),
        }
    };
    if bad(FilterFault::StackedWrongOrder) {
        apply(&main).map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
        if let Some(enosys) = &enosys {
            if let Err(e) = apply(enosys) {
                // The bug proper: the second install's EPERM (the main filter denies
                // seccomp()) is logged and swallowed.
                crate::warn(format_args!("cannot install the ENOSYS filter, continuing: {e}"));
            }
        }
        return Ok(installed);
    }
    if let Some(enosys) = &enosys {
        apply(enosys).map_err(|e| format!("cannot install the ENOSYS filter: {e}"))?;
    }
    apply(&main).map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
    Ok(installed)
}

fn set_no_new_privs() -> Result<(), String> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    match rc {
        0 => Ok(()),
        _ => Err(format!("cannot set no_new_privs: {}", std::io::Error::last_os_error())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use lockgate_protocol::filter::{syscall_nr, SeccompPolicy, OPENSHELL_DENIED};

    fn openshell() -> Filter {
        serde_yaml::from_str::<SeccompPolicy>("openshell: true").unwrap().resolve(false)
    }

    fn with(f: FilterFault) -> Faults {
        let mut faults = Faults::default();
        faults.insert(Fault::Filter(f));
        faults
    }

    /// The probes' table of x86_64 numbers is libc's, for every call a filter here names.
    #[test]
    fn syscall_numbers_are_libcs() {
        let libc_nr = |name: &str| -> i64 {
            match name {
                "socket" => libc::SYS_socket,
                "socketpair" => libc::SYS_socketpair,
                "clone" => libc::SYS_clone,
                "ptrace" => libc::SYS_ptrace,
                "personality" => libc::SYS_personality,
                "pivot_root" => libc::SYS_pivot_root,
                "mount" => libc::SYS_mount,
                "umount2" => libc::SYS_umount2,
                "init_module" => libc::SYS_init_module,
                "delete_module" => libc::SYS_delete_module,
                "kexec_load" => libc::SYS_kexec_load,
                "add_key" => libc::SYS_add_key,
                "request_key" => libc::SYS_request_key,
                "keyctl" => libc::SYS_keyctl,
                "unshare" => libc::SYS_unshare,
                "perf_event_open" => libc::SYS_perf_event_open,
                "setns" => libc::SYS_setns,
                "process_vm_readv" => libc::SYS_process_vm_readv,
                "process_vm_writev" => libc::SYS_process_vm_writev,
                "finit_module" => libc::SYS_finit_module,
                "seccomp" => libc::SYS_seccomp,
                "memfd_create" => libc::SYS_memfd_create,
                "kexec_file_load" => libc::SYS_kexec_file_load,
                "bpf" => libc::SYS_bpf,
                "execveat" => libc::SYS_execveat,
                "userfaultfd" => libc::SYS_userfaultfd,
                "pidfd_send_signal" => libc::SYS_pidfd_send_signal,
                "io_uring_setup" => libc::SYS_io_uring_setup,
                "io_uring_enter" => libc::SYS_io_uring_enter,
                "io_uring_register" => libc::SYS_io_uring_register,
                "open_tree" => libc::SYS_open_tree,
                "move_mount" => libc::SYS_move_mount,
                "fsopen" => libc::SYS_fsopen,
                "fsconfig" => libc::SYS_fsconfig,
                "fsmount" => libc::SYS_fsmount,
                "fspick" => libc::SYS_fspick,
                "pidfd_open" => libc::SYS_pidfd_open,
                "clone3" => libc::SYS_clone3,
                "pidfd_getfd" => libc::SYS_pidfd_getfd,
                other => panic!("{other}: add it to this test"),
            }
        };
        let named = OPENSHELL_DENIED.iter().chain(&["socket", "execveat", "unshare", "clone", "seccomp", "clone3"]);
        for name in named.chain(&["socketpair", "personality", "init_module", "delete_module", "kexec_load"]) {
            assert_eq!(syscall_nr(name) as i64, libc_nr(name), "{name}");
        }
    }

    #[test]
    fn the_program_checks_the_architecture_then_the_x32_bit() {
        let (enosys, main) = programs(&openshell(), Faults::default()).unwrap();
        for p in [&main, enosys.as_ref().unwrap()] {
            assert_eq!(p[0].k, 4, "loads seccomp_data.arch");
            assert_eq!(p[1].k, 0xC000_003E, "compares with AUDIT_ARCH_X86_64");
            assert_eq!(p[2].k, libc::SECCOMP_RET_KILL_PROCESS);
            assert_eq!((p[3].code, p[3].k), (BPF_LD_W_ABS, NR_OFFSET));
            assert_eq!((p[4].code, p[4].k), (BPF_JMP_JGE_K, X32_BIT));
            assert_eq!(p[5].k & 0xFFFF_0000, libc::SECCOMP_RET_ERRNO);
        }
        let (_, no_arch) = programs(&openshell(), with(FilterFault::NoArchCheck)).unwrap();
        assert_eq!(no_arch.len(), main.len() - ARCH_CHECK_LEN);
        assert_eq!((no_arch[0].code, no_arch[0].k), (BPF_LD_W_ABS, NR_OFFSET));
        let (_, x32) = programs(&openshell(), with(FilterFault::X32Allowed)).unwrap();
        assert_eq!(x32.len(), main.len() - 3);
        assert_ne!(x32[4].k, X32_BIT);
    }

    #[test]
    fn clone3_faults_move_or_drop_it() {
        let (enosys, _) = programs(&openshell(), Faults::default()).unwrap();
        assert!(enosys.is_some());
        let (enosys, _) = programs(&openshell(), with(FilterFault::Clone3Eperm)).unwrap();
        assert!(enosys.is_none());
        let (enosys, _) = programs(&openshell(), with(FilterFault::Clone3Unfiltered)).unwrap();
        assert!(enosys.is_none());
        let (_, all) = programs(&openshell(), Faults::default()).unwrap();
        let (_, inet) = programs(&openshell(), with(FilterFault::InetAllowed)).unwrap();
        assert!(inet.len() < all.len());
    }
}
