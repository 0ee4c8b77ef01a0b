//! A system call by number through each x86 entry into the kernel: `syscall` (x86_64), the same
//! with the x32 bit, and `int 0x80` (i386). A seccomp filter sees the entry's architecture
//! (`AUDIT_ARCH_I386` for `int 0x80`) and its number, so a filter written for x86_64 numbers
//! that does not check both is walked past through the other entries.

use crate::probe_child;
use lockgate_protocol::syscalls::X32_SYSCALL_BIT;
use lockgate_protocol::{Entries, Entry, EntryProbe, Outcome};
use nix::errno::Errno;

/// `getpid` on i386 and on x86_64/x32.
const GETPID_I386: u32 = 20;
const GETPID_X86_64: u32 = 39;

/// Makes system call `nr` through `entry` with up to six integer arguments (missing ones are 0);
/// the return value, or the errno.
pub fn call(entry: Entry, nr: u32, args: &[u64]) -> Result<i64, Errno> {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    let ret = match entry {
        Entry::X86_64 | Entry::X32 => {
            let nr = match entry {
                Entry::X32 => u64::from(nr) | X32_SYSCALL_BIT,
                _ => u64::from(nr),
            };
            // SAFETY: a raw system call with integer arguments, made in a throwaway child (the
            // probe's): no argument is a pointer into memory the call could corrupt, beyond what
            // the scenario chose to pass.
            let r = unsafe { libc::syscall(nr as libc::c_long, a(0), a(1), a(2), a(3), a(4), a(5)) };
            return if r < 0 { Err(Errno::last()) } else { Ok(r) };
        }
        Entry::I386 => int80(nr, [a(0), a(1), a(2), a(3), a(4), a(5)].map(|v| v as u32)),
    };
    // The kernel returns -errno in eax for i386 calls.
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw(-ret as i32))
    } else {
        Ok(ret)
    }
}

/// `int 0x80` with eax = nr and ebx, ecx, edx, esi, edi, ebp = the arguments; eax back, as the
/// i386 ABI defines it. Without IA32 emulation the instruction faults (SIGSEGV): callers make it
/// in a child of their own.
fn int80(nr: u32, args: [u32; 6]) -> i64 {
    let ret: i32;
    // SAFETY: rbx and rbp are reserved by the compiler, so arg 0 is swapped into rbx and arg 5
    // moved into ebp around the instruction, and both are put back before the block ends. The
    // 64-bit kernel zeroes r8–r11 on return from `int 0x80`, so they are declared clobbered; no
    // operand refers to memory, so the push/pop (the block is not `nostack`) moves nothing the
    // compiler relies on.
    unsafe {
        std::arch::asm!(
            "xchg {b:r}, rbx",
            "push rbp",
            "mov ebp, {f:e}",
            "int 0x80",
            "pop rbp",
            "xchg {b:r}, rbx",
            b = inout(reg) u64::from(args[0]) => _,
            f = in(reg) args[5],
            inlateout("eax") nr as i32 => ret,
            in("ecx") args[1],
            in("edx") args[2],
            in("esi") args[3],
            in("edi") args[4],
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
        );
    }
    i64::from(ret)
}

/// The preflight's probes: `getpid` through `int 0x80` and with the x32 bit, each in a child
/// (a fault must not kill PID 1).
pub fn probe() -> Entries {
    let try_entry = |entry, nr| match probe_child::run(|| call(entry, nr, &[]).map(drop)) {
        Outcome::Ok => EntryProbe::Available,
        Outcome::Err(why) => EntryProbe::Unavailable(why),
        Outcome::Timeout => EntryProbe::Unavailable("timeout".into()),
    };
    Entries { ia32: try_entry(Entry::I386, GETPID_I386), x32: try_entry(Entry::X32, GETPID_X86_64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x86_64_entry_makes_the_call() {
        assert_eq!(call(Entry::X86_64, GETPID_X86_64, &[]).unwrap(), i64::from(std::process::id()));
        // close(-1): the errno comes back as an Err.
        assert_eq!(call(Entry::X86_64, 3, &[u64::MAX]), Err(Errno::EBADF));
    }

    #[test]
    fn the_other_entries_answer_as_this_kernel_allows() {
        // Whatever the host kernel offers, each entry either works (getpid) or is reported
        // unavailable with a reason; i386 getpid through int 0x80 returns the pid where it works.
        let entries = probe();
        for e in [&entries.ia32, &entries.x32] {
            if let EntryProbe::Unavailable(why) = e {
                assert!(why == "ENOSYS" || why.starts_with("SIG"), "{why}");
            }
        }
        if entries.ia32.available() {
            let pid = probe_child::run(|| {
                // All six argument registers set (ebp among them): getpid ignores them, and
                // the swaps around `int 0x80` must leave this process intact.
                let got = call(Entry::I386, GETPID_I386, &[1, 2, 3, 4, 5, 6])?;
                if got == i64::from(std::process::id()) {
                    Ok(())
                } else {
                    Err(Errno::ESRCH)
                }
            });
            assert_eq!(pid, Outcome::Ok);
            // close(-1) through i386: EBADF, read from eax.
            let bad = probe_child::run(|| call(Entry::I386, 6, &[u64::from(u32::MAX)]).map(drop));
            assert_eq!(bad, Outcome::Err("EBADF".into()));
        }
    }
}
