//! System calls by name and the flag names their arguments take, for the probes of what syscall
//! filters decide (`syscall`, `socket`, `clone`, …). The host resolves a scenario's words to
//! numbers with these when it loads the scenario (an unknown name is a load-time error); the
//! guest only executes numbers. A filter sees `seccomp_data.arch` and the number *of the entry
//! the call came through*, so each entry has its own numbers (`socket` is 41 on x86_64, 359 on
//! i386; 102, `socketcall`, multiplexes it there too).

use crate::flag_table::FLAGS;
use crate::syscall_table::SYSCALLS;
use serde::{Deserialize, Serialize};

/// Set in the number of a syscall made through the x32 entry (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// The entry into the kernel a syscall probe takes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// The `syscall` instruction, x86_64 numbers (`AUDIT_ARCH_X86_64`).
    #[default]
    X86_64,
    /// `int 0x80`, i386 numbers (`AUDIT_ARCH_I386`): only where IA32 emulation is on.
    I386,
    /// The `syscall` instruction with [`X32_SYSCALL_BIT`] set in the number (still
    /// `AUDIT_ARCH_X86_64`): only where the kernel enables x32.
    X32,
}

impl Entry {
    pub const ALL: [Entry; 3] = [Entry::X86_64, Entry::I386, Entry::X32];

    /// As a scenario writes it after `@` (`syscall@i386`).
    pub fn name(self) -> &'static str {
        match self {
            Entry::X86_64 => "x86_64",
            Entry::I386 => "i386",
            Entry::X32 => "x32",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Entry::X86_64
    }
}

/// The number of the system call `name` through `entry` (x32: without the x32 bit).
pub fn number(name: &str, entry: Entry) -> Option<u32> {
    let &(_, x86_64, i386, x32) = SYSCALLS.iter().find(|(n, ..)| *n == name)?;
    let nr = match entry {
        Entry::X86_64 => x86_64,
        Entry::I386 => i386,
        Entry::X32 => x32,
    };
    u32::try_from(nr).ok()
}

/// Whether any entry has a system call `name`.
pub fn is_syscall(name: &str) -> bool {
    SYSCALLS.iter().any(|(n, ..)| *n == name)
}

/// Every system call name, for suggestions.
pub fn syscall_names() -> impl Iterator<Item = &'static str> {
    SYSCALLS.iter().map(|(n, ..)| *n)
}

/// The value of a flag or constant name (`CLONE_NEWUSER`, `AF_NETLINK`, `AT_FDCWD`).
pub fn flag(name: &str) -> Option<u64> {
    FLAGS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v as u64)
}

/// Every flag name, for suggestions.
pub fn flag_names() -> impl Iterator<Item = &'static str> {
    FLAGS.iter().map(|(n, _)| *n)
}

/// The families of flag names (`CLONE`, `AF`, …), for messages.
pub fn flag_families() -> Vec<&'static str> {
    let mut families: Vec<&str> = FLAGS.iter().filter_map(|(n, _)| n.split_once('_').map(|(f, _)| f)).collect();
    families.dedup();
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_differ_by_entry() {
        assert_eq!(number("socket", Entry::X86_64), Some(41));
        assert_eq!(number("socket", Entry::I386), Some(359));
        assert_eq!(number("socketcall", Entry::I386), Some(102));
        assert_eq!(number("socketcall", Entry::X86_64), None);
        assert_eq!(number("getpid", Entry::I386), Some(20));
        assert_eq!(number("unshare", Entry::X86_64), Some(272));
        // x32 has its own number where the 64-bit call's structures differ.
        assert_eq!(number("ptrace", Entry::X32), Some(521));
        assert_eq!(number("execveat", Entry::X32), Some(545));
        assert_eq!(number("landlock_create_ruleset", Entry::I386), Some(444));
        assert_eq!(number("map_shadow_stack", Entry::I386), None);
        assert_eq!(number("no_such_call", Entry::X86_64), None);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = syscall_names().collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "a syscall name appears twice");
        let mut flags: Vec<&str> = flag_names().collect();
        flags.sort();
        let n = flags.len();
        flags.dedup();
        assert_eq!(n, flags.len(), "a flag name appears twice");
    }

    #[test]
    fn flags_by_name() {
        assert_eq!(flag("CLONE_NEWUSER"), Some(0x1000_0000));
        assert_eq!(flag("AT_FDCWD"), Some(-100i64 as u64));
        assert_eq!(flag("NETLINK_SOCK_DIAG"), Some(4));
        assert_eq!(flag("clone_newuser"), None);
        assert!(flag_families().contains(&"CLONE") && flag_families().contains(&"AF"));
    }
}
