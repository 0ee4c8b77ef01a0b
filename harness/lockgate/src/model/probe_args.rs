//! The words of the syscall probes (`syscall unshare CLONE_NEWUSER`, `socket AF_NETLINK SOCK_RAW
//! NETLINK_ROUTE`, `clone3 CLONE_NEWUSER`), resolved to numbers while the scenario loads, so
//! that an unknown call or flag is an error naming the file and line, never a guess in the guest.

use super::errno::distance;
use lockgate_protocol::syscalls::{self, Entry};
use lockgate_protocol::{Call, Flags, ProbeOp};

/// The most arguments a system call takes.
const MAX_ARGS: usize = 6;

/// Calls a `syscall` probe cannot make: they end the throwaway child (or share its memory)
/// instead of answering.
const NOT_PROBED: &[(&str, &str)] = &[
    ("exit", "it ends the probe's child instead of answering"),
    ("exit_group", "it ends the probe's child instead of answering"),
    ("rt_sigreturn", "it returns from a signal frame the probe does not have"),
    ("sigreturn", "it returns from a signal frame the probe does not have"),
    ("vfork", "the child would share the probe's memory and stack; use `clone` or `syscall fork`"),
];

/// Flags a `clone` probe's throwaway child can be made with: a flag that needs a stack, a
/// pointer or a thread (CLONE_VM, CLONE_SETTLS, CLONE_PIDFD, …) is not one.
const CLONE_FLAGS: &[&str] = &[
    "CLONE_NEWNS",
    "CLONE_NEWCGROUP",
    "CLONE_NEWUTS",
    "CLONE_NEWIPC",
    "CLONE_NEWUSER",
    "CLONE_NEWPID",
    "CLONE_NEWNET",
    "CLONE_FS",
    "CLONE_FILES",
    "CLONE_SYSVSEM",
    "CLONE_IO",
    "CLONE_PTRACE",
    "CLONE_UNTRACED",
];

/// What clone3 takes besides [`CLONE_FLAGS`] (in `clone`'s flags these bits are its exit signal
/// or do not exist).
const CLONE3_ONLY: &[&str] = &["CLONE_NEWTIME", "CLONE_CLEAR_SIGHAND"];

/// An operation word with its entry: `socket`, `syscall@i386`.
pub fn split_entry(word: &str) -> Result<(&str, Entry), String> {
    let Some((op, entry)) = word.split_once('@') else { return Ok((word, Entry::X86_64)) };
    let names: Vec<&str> = Entry::ALL.iter().map(|e| e.name()).collect();
    let entry = Entry::ALL.into_iter().find(|e| e.name() == entry).ok_or_else(|| {
        format!("`{word}`: unknown entry `{entry}`; write `{op}@i386` (int 0x80) or `{op}@x32` (the x32 bit), or `{op}` for x86_64 (entries: {})", names.join(", "))
    })?;
    Ok((op, entry))
}

/// The target of a `syscall` or `socket` probe.
pub fn call(op: ProbeOp, entry: Entry, words: &[&str]) -> Result<Call, String> {
    let text = words.join(" ");
    match op {
        ProbeOp::Socket => {
            let (domain, kind, protocol) = match words {
                [d, t] => (*d, *t, "0"),
                [d, t, p] => (*d, *t, *p),
                _ => {
                    return Err(format!(
                        "`socket{}` takes a domain, a type and optionally a protocol: `socket AF_NETLINK SOCK_RAW NETLINK_ROUTE`",
                        at(entry)
                    ))
                }
            };
            expect_family(domain, &["AF_"], "the domain", "socket AF_INET SOCK_STREAM")?;
            expect_family(kind, &["SOCK_"], "the type", "socket AF_INET SOCK_STREAM")?;
            let args = vec![value(domain)?, value(kind)?, value(protocol)?];
            Ok(Call { entry, nr: number_of("socket", entry)?, args, text })
        }
        _ => {
            let Some((&name, args)) = words.split_first() else {
                return Err(format!(
                    "`syscall{}` takes a system call (a name or a number) and its arguments: `syscall unshare CLONE_NEWUSER`",
                    at(entry)
                ));
            };
            if args.len() > MAX_ARGS {
                return Err(format!("`syscall {text}`: a system call takes at most {MAX_ARGS} arguments"));
            }
            let nr = match parse_number(name) {
                Some(n) => u32::try_from(n)
                    .ok()
                    .filter(|n| u64::from(*n) < syscalls::X32_SYSCALL_BIT)
                    .ok_or_else(|| format!("`{name}` is not a system call number"))?,
                None => number_of(name, entry)?,
            };
            if let Some((_, why)) = NOT_PROBED.iter().find(|(n, _)| *n == name) {
                return Err(format!("`syscall {name}` cannot be probed: {why}"));
            }
            let args = args.iter().map(|w| value(w)).collect::<Result<Vec<u64>, String>>()?;
            if name == "clone" {
                if let Some(&flags) = args.first() {
                    // The low byte is the exit signal; the rest must make a child that can exit.
                    check_clone_flags(flags & !0xff, "syscall clone", CLONE_FLAGS)?;
                }
            }
            Ok(Call { entry, nr, args, text })
        }
    }
}

/// The flags of a `clone` or `clone3` probe.
pub fn clone_flags(op: ProbeOp, words: &[&str]) -> Result<Flags, String> {
    let name = op.name();
    let [word] = words else {
        return Err(format!(
            "`{name}` takes its flags as one word, joined with `|`: `{name} CLONE_NEWUSER|CLONE_NEWNS` (or `{name} 0`)"
        ));
    };
    let value = value(word)?;
    let allowed: Vec<&str> = match op {
        ProbeOp::Clone3 => CLONE_FLAGS.iter().chain(CLONE3_ONLY).copied().collect(),
        _ => CLONE_FLAGS.to_vec(),
    };
    check_clone_flags(value, name, &allowed)?;
    Ok(Flags { value, text: word.to_string() })
}

fn check_clone_flags(value: u64, what: &str, allowed: &[&str]) -> Result<(), String> {
    let mask = allowed.iter().filter_map(|f| syscalls::flag(f)).fold(0, |m, v| m | v);
    if value & !mask == 0 {
        return Ok(());
    }
    let named: Vec<&str> = syscalls::flag_names()
        .filter(|n| n.starts_with("CLONE_"))
        .filter(|n| syscalls::flag(n).is_some_and(|v| v & value & !mask == v))
        .collect();
    let bits = if named.is_empty() { format!("{:#x}", value & !mask) } else { named.join("|") };
    Err(format!(
        "`{what}` makes a child that exits at once, which {bits} cannot make (a shared stack, a pointer or a thread, or not a flag of this call); use flags among {}",
        allowed.join(", ")
    ))
}

/// `@i386`, or nothing for x86_64.
fn at(entry: Entry) -> String {
    if entry.is_default() {
        String::new()
    } else {
        format!("@{}", entry.name())
    }
}

fn number_of(name: &str, entry: Entry) -> Result<u32, String> {
    if let Some(nr) = syscalls::number(name, entry) {
        return Ok(nr);
    }
    if syscalls::is_syscall(name) {
        return Err(format!(
            "the {} entry has no system call `{name}`; give its number instead if you mean one",
            entry.name()
        ));
    }
    Err(match closest(name, syscalls::syscall_names()) {
        Some(s) => format!("unknown system call `{name}`; did you mean `{s}`?"),
        None => format!("unknown system call `{name}`; write its name (as in `man 2 syscalls`) or its number"),
    })
}

/// A word naming a constant must be of one of these families: `socket SOCK_STREAM AF_INET` is
/// a swapped pair, not two numbers.
fn expect_family(word: &str, families: &[&str], what: &str, example: &str) -> Result<(), String> {
    if parse_number(word).is_some() || word.split('|').all(|w| families.iter().any(|f| w.starts_with(f))) {
        return Ok(());
    }
    Err(format!("`{word}` is not {what} ({}…, or a number): `{example}`", families.join("…, ")))
}

/// An argument: a number (decimal, `0x…`, `0o…`, negative) or constant names joined with `|`.
pub fn value(word: &str) -> Result<u64, String> {
    if let Some(n) = parse_number(word) {
        return Ok(n);
    }
    let mut v = 0;
    for part in word.split('|') {
        v |= match parse_number(part).or_else(|| syscalls::flag(part)) {
            Some(n) => n,
            None => {
                let families = syscalls::flag_families().join("_*, ");
                return Err(match closest(part, syscalls::flag_names()) {
                    Some(s) => format!("unknown flag `{part}`; did you mean `{s}`?"),
                    None => format!(
                        "unknown flag `{part}`; write a number or constants named {families}_*, SIG* joined with `|`"
                    ),
                });
            }
        };
    }
    Ok(v)
}

fn parse_number(word: &str) -> Option<u64> {
    let (negative, digits) = match word.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, word),
    };
    let n = if let Some(hex) = digits.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        u64::from_str_radix(oct, 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(if negative { (n as i64).checked_neg()? as u64 } else { n })
}

fn closest(word: &str, names: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let upper = word.to_ascii_uppercase();
    names
        .map(|n| (n, distance(word, n).min(distance(&upper, n))))
        .filter(|(n, d)| *d <= 2.max(n.len() / 5))
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbers_or_names() {
        assert_eq!(value("CLONE_NEWUSER|CLONE_NEWNS").unwrap(), 0x1002_0000);
        assert_eq!(value("0x10").unwrap(), 16);
        assert_eq!(value("-100").unwrap(), value("AT_FDCWD").unwrap());
        assert_eq!(value("AF_INET|3").unwrap(), 3);
        let e = value("CLONE_NEWUSR").unwrap_err();
        assert!(e.contains("did you mean `CLONE_NEWUSER`"), "{e}");
        let e = value("FROBNICATE").unwrap_err();
        assert!(e.contains("CLONE_*") && e.contains("AF_*"), "{e}");
    }

    #[test]
    fn calls_resolve_per_entry() {
        let c = call(ProbeOp::Syscall, Entry::X86_64, &["unshare", "CLONE_NEWUSER"]).unwrap();
        assert_eq!((c.nr, c.args.as_slice(), c.text.as_str()), (272, &[0x1000_0000u64][..], "unshare CLONE_NEWUSER"));
        let c = call(ProbeOp::Socket, Entry::I386, &["AF_INET", "SOCK_STREAM"]).unwrap();
        assert_eq!((c.nr, c.args.as_slice()), (359, &[2u64, 1, 0][..]));
        assert_eq!(call(ProbeOp::Syscall, Entry::X32, &["ptrace", "0"]).unwrap().nr, 521);
        assert_eq!(call(ProbeOp::Syscall, Entry::I386, &["102", "1"]).unwrap().nr, 102);
        let e = call(ProbeOp::Syscall, Entry::X86_64, &["socketcall"]).unwrap_err();
        assert!(e.contains("x86_64 entry has no system call `socketcall`"), "{e}");
        let e = call(ProbeOp::Syscall, Entry::X86_64, &["unshar"]).unwrap_err();
        assert!(e.contains("did you mean `unshare`"), "{e}");
        let e = call(ProbeOp::Syscall, Entry::X86_64, &["exit_group", "0"]).unwrap_err();
        assert!(e.contains("cannot be probed"), "{e}");
        let e = call(ProbeOp::Socket, Entry::X86_64, &["SOCK_STREAM", "AF_INET"]).unwrap_err();
        assert!(e.contains("not the domain"), "{e}");
        let e = call(ProbeOp::Socket, Entry::X86_64, &["AF_INET"]).unwrap_err();
        assert!(e.contains("takes a domain, a type"), "{e}");
        let e = call(ProbeOp::Syscall, Entry::X86_64, &["clone", "CLONE_VM|SIGCHLD"]).unwrap_err();
        assert!(e.contains("CLONE_VM"), "{e}");
        assert!(call(ProbeOp::Syscall, Entry::X86_64, &["getpid", "1", "2", "3", "4", "5", "6", "7"]).is_err());
    }

    #[test]
    fn clone_flags_are_checked() {
        assert_eq!(clone_flags(ProbeOp::Clone3, &["CLONE_NEWUSER"]).unwrap().value, 0x1000_0000);
        assert_eq!(clone_flags(ProbeOp::Clone3, &["CLONE_NEWTIME"]).unwrap().value, 0x80);
        assert!(clone_flags(ProbeOp::Clone, &["CLONE_NEWTIME"]).is_err());
        let e = clone_flags(ProbeOp::Clone, &["CLONE_NEWUSER|CLONE_VM|CLONE_SETTLS"]).unwrap_err();
        assert!(e.contains("CLONE_VM|CLONE_SETTLS") && e.contains("CLONE_NEWUSER"), "{e}");
        assert!(clone_flags(ProbeOp::Clone, &[]).is_err());
    }

    #[test]
    fn entries_follow_the_operation() {
        assert_eq!(split_entry("syscall@i386").unwrap(), ("syscall", Entry::I386));
        assert_eq!(split_entry("socket").unwrap(), ("socket", Entry::X86_64));
        let e = split_entry("socket@arm").unwrap_err();
        assert!(e.contains("socket@i386"), "{e}");
    }
}
