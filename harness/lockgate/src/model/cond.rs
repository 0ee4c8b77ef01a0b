//! `when:` conditions: on which kernels and environments an expectation holds.
//!
//! Grammar (no parentheses; `&&` binds tighter than `||`):
//! `clause (("&&" | "||") clause)*` where a clause is `abi OP N`, `abi == none`,
//! `abi != none`, `env_abi` likewise, `landlock == available|blocked|absent` (or `!=`),
//! `kernel == NAME`, `kernel != NAME`, `env == NAME`, `env != NAME` (a NAME with `*` is a
//! pattern, `*` standing for any run of characters: `kernel == ubuntu-*` names every Ubuntu
//! kernel of the matrix, the ones added later too; a plain name must be one of the matrix's, a
//! pattern may match none, as in a project's smaller matrix), and the kernel's other
//! system call entries: `ia32` (IA32 emulation: `int 0x80` works), `x32` (x32 syscalls are
//! enabled), each negated with `!` (`!x32`), and `overlayfs` (the kernel has overlayfs, built
//! in or as a module of its package, which the guest loads: `!overlayfs` on the kernels built
//! here from tiny.config). Like `abi`, these are what the **kernel** offers (the preflight's
//! probes on the bare guest), not what an environment lets through.
//!
//! Two facts about Landlock, so that a scenario can tell "this kernel has no Landlock" from
//! "this environment took Landlock away":
//! - `abi` is the ABI the **kernel** offers (the preflight's probe on the bare guest), `none`
//!   without Landlock. An expectation guarded on it is due wherever the kernel could sandbox,
//!   so an environment that removes Landlock fails it instead of skipping it.
//! - `env_abi` is the ABI observed *where the probes run* (inside the container for container
//!   environments), and `landlock` says how the two relate: `available` (the runs have it),
//!   `blocked` (the kernel offers it, the environment took it away: a seccomp profile that
//!   does not allow `landlock_*`) or `absent` (the kernel has none). A scenario that accepts an
//!   environment without Landlock says so: `when: landlock == blocked` on the expectations that
//!   hold there (typically, that the enforcer is honest about enforcing nothing).

use std::fmt;

/// Highest Landlock ABI any released kernel offers (Linux 7.x: ABI 10). Conditions naming a
/// higher ABI can never hold, which is a mistake in the scenario, not a condition.
pub const HIGHEST_KNOWN_ABI: u32 = 10;

/// Whether `name` is `pattern`, where each `*` of the pattern stands for any run of characters
/// (none included); a pattern without `*` is the name itself.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    text: String,
    /// Disjunction of conjunctions.
    any_of: Vec<Vec<Clause>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    /// The kernel's ABI.
    Abi(Cmp, Option<u32>),
    /// The ABI where the runs happen.
    EnvAbi(Cmp, Option<u32>),
    Landlock(bool, Landlock),
    Kernel(bool, String),
    Env(bool, String),
    /// The kernel takes system calls through this entry (`ia32`, `x32`), or not (`!`).
    Entry(bool, OtherEntry),
    /// The kernel has overlayfs (`overlayfs`), or not (`!overlayfs`).
    Overlayfs(bool),
}

/// The x86 entries besides x86_64 that a kernel may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtherEntry {
    Ia32,
    X32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Whether the runs have Landlock, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landlock {
    /// Where the runs happen, Landlock answers.
    Available,
    /// The kernel offers Landlock; the environment took it away.
    Blocked,
    /// The kernel has no Landlock (or has it compiled in, not enabled).
    Absent,
}

impl Landlock {
    /// From the kernel's ABI and the one where the runs happen.
    pub fn of(kernel: Option<u32>, env: Option<u32>) -> Landlock {
        match (kernel, env) {
            (None, _) => Landlock::Absent,
            (Some(_), None) => Landlock::Blocked,
            (Some(_), Some(_)) => Landlock::Available,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Landlock::Available => "available",
            Landlock::Blocked => "blocked",
            Landlock::Absent => "absent",
        }
    }
}

/// What a condition is evaluated against.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The Landlock ABI the kernel offers.
    pub abi: Option<u32>,
    /// The Landlock ABI where the runs happen.
    pub env_abi: Option<u32>,
    pub kernel: &'a str,
    pub env: &'a str,
    /// The kernel takes `int 0x80` (IA32 emulation).
    pub ia32: bool,
    /// The kernel takes x32 system calls.
    pub x32: bool,
    /// The kernel has overlayfs (built in, or its module loaded by the guest).
    pub overlayfs: bool,
}

impl Facts<'_> {
    pub fn landlock(&self) -> Landlock {
        Landlock::of(self.abi, self.env_abi)
    }
}

impl When {
    pub fn parse(text: &str) -> Result<When, String> {
        let mut any_of = Vec::new();
        for alternative in text.split("||") {
            let mut all_of = Vec::new();
            for clause in alternative.split("&&") {
                all_of.push(parse_clause(clause.trim())?);
            }
            any_of.push(all_of);
        }
        Ok(When { text: text.trim().to_string(), any_of })
    }

    pub fn holds(&self, f: &Facts) -> bool {
        self.any_of.iter().any(|all| all.iter().all(|c| c.holds(f)))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Kernel and environment names this condition mentions, for validation against the matrix.
    pub fn names(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.any_of.iter().flatten().filter_map(|c| match c {
            Clause::Kernel(_, n) => Some(("kernel", n.as_str())),
            Clause::Env(_, n) => Some(("env", n.as_str())),
            Clause::Abi(..) | Clause::EnvAbi(..) | Clause::Landlock(..) | Clause::Entry(..) | Clause::Overlayfs(..) => {
                None
            }
        })
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_clause(s: &str) -> Result<Clause, String> {
    let (yes, word) = match s.strip_prefix('!') {
        Some(rest) => (false, rest.trim()),
        None => (true, s),
    };
    match word {
        "ia32" => return Ok(Clause::Entry(yes, OtherEntry::Ia32)),
        "x32" => return Ok(Clause::Entry(yes, OtherEntry::X32)),
        "overlayfs" => return Ok(Clause::Overlayfs(yes)),
        _ => {}
    }
    let ops = [("==", Cmp::Eq), ("!=", Cmp::Ne), ("<=", Cmp::Le), (">=", Cmp::Ge), ("<", Cmp::Lt), (">", Cmp::Gt)];
    let (lhs, cmp, rhs) = ops
        .iter()
        .find_map(|(tok, cmp)| s.split_once(tok).map(|(l, r)| (l.trim(), *cmp, r.trim())))
        .ok_or_else(|| format!("`{s}` is not a condition; write e.g. `abi >= 3`, `abi == none`, `landlock == blocked`, `kernel == ubuntu-6.8`, `env != bare`, `ia32`, `!x32` or `overlayfs`"))?;
    if rhs.is_empty() {
        return Err(format!("`{s}` has nothing after the operator"));
    }
    match lhs {
        "abi" | "env_abi" => {
            let clause = if lhs == "abi" { Clause::Abi } else { Clause::EnvAbi };
            if rhs == "none" {
                return match cmp {
                    Cmp::Eq | Cmp::Ne => Ok(clause(cmp, None)),
                    _ => Err(format!("`{s}`: `none` can only be compared with == or !=")),
                };
            }
            let n: u32 = rhs.parse().map_err(|_| format!("`{s}`: `{rhs}` is not an ABI number or `none`"))?;
            // A clause that can never hold is a mistake in the scenario (its expectation would
            // silently never be checked), so it is rejected rather than evaluated.
            let never = match cmp {
                Cmp::Eq | Cmp::Ge => n > HIGHEST_KNOWN_ABI,
                Cmp::Gt => n >= HIGHEST_KNOWN_ABI,
                Cmp::Lt => n <= 1,
                Cmp::Le | Cmp::Ne => false,
            };
            if never || n == 0 || n > HIGHEST_KNOWN_ABI + 1 {
                return Err(format!(
                    "`{s}` is impossible: Landlock ABIs run from 1 to {HIGHEST_KNOWN_ABI}; use `abi == none` for kernels without Landlock"
                ));
            }
            Ok(clause(cmp, Some(n)))
        }
        "landlock" => {
            let eq = match cmp {
                Cmp::Eq => true,
                Cmp::Ne => false,
                _ => return Err(format!("`{s}`: landlock can only be compared with == or !=")),
            };
            let state = [Landlock::Available, Landlock::Blocked, Landlock::Absent]
                .into_iter()
                .find(|l| l.name() == rhs)
                .ok_or_else(|| format!("`{s}`: landlock is `available`, `blocked` (the kernel offers it, the environment took it away) or `absent` (the kernel has none)"))?;
            Ok(Clause::Landlock(eq, state))
        }
        "kernel" | "env" => {
            let eq = match cmp {
                Cmp::Eq => true,
                Cmp::Ne => false,
                _ => return Err(format!("`{s}`: {lhs} names can only be compared with == or !=")),
            };
            if rhs.is_empty() || !rhs.chars().all(|c| c.is_ascii_alphanumeric() || "-_.*".contains(c)) {
                return Err(format!("`{s}`: `{rhs}` is not a {lhs} name (letters, digits, `-`, `_`, `.`; `*` for any run of them)"));
            }
            Ok(if lhs == "kernel" { Clause::Kernel(eq, rhs.into()) } else { Clause::Env(eq, rhs.into()) })
        }
        other => Err(format!(
            "`{s}`: unknown subject `{other}`; conditions are on `abi`, `env_abi`, `landlock`, `kernel`, `env`, `ia32` or `x32`"
        )),
    }
}

fn abi_holds(cmp: Cmp, want: Option<u32>, have: Option<u32>) -> bool {
    match (cmp, want, have) {
        (Cmp::Eq, None, h) => h.is_none(),
        (Cmp::Ne, None, h) => h.is_some(),
        (_, None, _) => false,
        // Without Landlock only `!=` holds: "abi < 3" means "a Landlock older than 3".
        (cmp, Some(_), None) => cmp == Cmp::Ne,
        (cmp, Some(n), Some(a)) => match cmp {
            Cmp::Eq => a == n,
            Cmp::Ne => a != n,
            Cmp::Lt => a < n,
            Cmp::Le => a <= n,
            Cmp::Gt => a > n,
            Cmp::Ge => a >= n,
        },
    }
}

impl Clause {
    fn holds(&self, f: &Facts) -> bool {
        match self {
            Clause::Abi(cmp, n) => abi_holds(*cmp, *n, f.abi),
            Clause::EnvAbi(cmp, n) => abi_holds(*cmp, *n, f.env_abi),
            Clause::Landlock(eq, state) => (f.landlock() == *state) == *eq,
            Clause::Kernel(eq, n) => name_matches(n, f.kernel) == *eq,
            Clause::Env(eq, n) => name_matches(n, f.env) == *eq,
            Clause::Entry(yes, OtherEntry::Ia32) => f.ia32 == *yes,
            Clause::Entry(yes, OtherEntry::X32) => f.x32 == *yes,
            Clause::Overlayfs(yes) => f.overlayfs == *yes,
        }
    }
}

impl When {
    /// Whether this condition looks at Landlock at all (the ABIs or `landlock`).
    pub fn mentions_landlock(&self) -> bool {
        self.any_of.iter().flatten().any(|c| matches!(c, Clause::Abi(..) | Clause::EnvAbi(..) | Clause::Landlock(..)))
    }

    /// Whether the condition asks whether the kernel has overlayfs.
    pub fn mentions_overlayfs(&self) -> bool {
        self.any_of.iter().flatten().any(|c| matches!(c, Clause::Overlayfs(..)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(abi: Option<u32>) -> Facts<'static> {
        Facts { abi, env_abi: abi, kernel: "ubuntu-6.8", env: "bare", ia32: true, x32: false, overlayfs: true }
    }

    #[test]
    fn abi_comparisons() {
        let w = When::parse("abi >= 3").unwrap();
        assert!(w.holds(&on(Some(4))));
        assert!(!w.holds(&on(Some(1))));
        assert!(!w.holds(&on(None)));
        assert!(When::parse("abi == none").unwrap().holds(&on(None)));
        assert!(!When::parse("abi == none").unwrap().holds(&on(Some(1))));
        assert!(!When::parse("abi < 3").unwrap().holds(&on(None)), "no Landlock is not an old Landlock");
    }

    #[test]
    fn a_name_with_a_star_is_a_pattern() {
        for (pattern, name, holds) in [
            ("ubuntu-*", "ubuntu-6.8", true),
            ("ubuntu-*", "ubuntu-", true),
            ("ubuntu-*", "debian-6.12", false),
            ("*-tiny", "debian-6.12-tiny", true),
            ("*-tiny", "debian-6.12-tiny-x", false),
            ("debian-*-tiny", "debian-6.1-tiny", true),
            ("shape-*", "shape-no-security", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("debian-6.12", "debian-6.12", true),
            ("debian-6.12", "debian-6.12-tiny", false),
        ] {
            assert_eq!(name_matches(pattern, name), holds, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn names_and_connectives() {
        let w = When::parse("abi >= 1 && env == bare || kernel == debian-5.10").unwrap();
        assert!(w.holds(&on(Some(1))));
        assert!(!w.holds(&Facts {
            abi: Some(1),
            env_abi: Some(1),
            kernel: "x",
            env: "docker-20.10.5",
            ia32: true,
            x32: false,
            overlayfs: true
        }));
        assert!(w.holds(&Facts { env: "docker-20.10.5", kernel: "debian-5.10", ..on(None) }));
        assert!(!When::parse("kernel != ubuntu-6.8").unwrap().holds(&on(None)));
    }

    #[test]
    fn the_kernels_landlock_and_the_environments_are_told_apart() {
        // Debian 6.12 offers ABI 6; Docker 20.10.5's profile leaves the container ENOSYS.
        let blocked = Facts { env_abi: None, kernel: "debian-6.12", env: "docker-20.10.5", ..on(Some(6)) };
        let no_landlock = Facts { kernel: "debian-5.10", env: "docker-20.10.5", ..on(None) };
        let bare = Facts {
            abi: Some(6),
            env_abi: Some(6),
            kernel: "debian-6.12",
            env: "bare",
            ia32: true,
            x32: false,
            overlayfs: true,
        };
        let w = When::parse("abi >= 1").unwrap();
        assert!(
            w.holds(&blocked),
            "`abi` is what the kernel offers: the expectation is due where the environment took Landlock away"
        );
        assert!(!w.holds(&no_landlock));
        assert!(When::parse("env_abi == none").unwrap().holds(&blocked));
        let b = When::parse("landlock == blocked").unwrap();
        assert!(b.holds(&blocked) && !b.holds(&no_landlock) && !b.holds(&bare));
        assert!(When::parse("landlock == absent").unwrap().holds(&no_landlock));
        assert!(When::parse("landlock == available").unwrap().holds(&bare));
        assert!(When::parse("abi >= 1 && landlock != blocked").unwrap().holds(&bare));
        assert!(!When::parse("abi >= 1 && landlock != blocked").unwrap().holds(&blocked));
        assert!(When::parse("landlock == blocked").unwrap().mentions_landlock());
        assert!(!When::parse("env == bare").unwrap().mentions_landlock());
    }

    #[test]
    fn the_other_entries() {
        let ia32_only = on(Some(4));
        assert!(When::parse("ia32").unwrap().holds(&ia32_only));
        assert!(!When::parse("x32").unwrap().holds(&ia32_only));
        assert!(When::parse("!x32").unwrap().holds(&ia32_only));
        assert!(When::parse("! x32 && ia32").unwrap().holds(&ia32_only));
        let none = Facts { ia32: false, ..on(Some(4)) };
        assert!(!When::parse("ia32 || x32").unwrap().holds(&none));
        assert!(!When::parse("ia32").unwrap().mentions_landlock());
    }

    #[test]
    fn overlayfs_is_the_kernels() {
        let tiny = Facts { overlayfs: false, ..on(Some(6)) };
        assert!(When::parse("!overlayfs").unwrap().holds(&tiny));
        assert!(!When::parse("overlayfs && abi >= 1").unwrap().holds(&tiny));
        assert!(When::parse("overlayfs && abi >= 1").unwrap().holds(&on(Some(6))));
    }

    #[test]
    fn impossible_or_malformed_conditions_are_errors() {
        for bad in [
            "abi >= 99",
            "abi > 10",
            "abi == 0",
            "abi >= none",
            "abi",
            "kernel > a",
            "arch == x86",
            "abi >= three",
            "landlock == gone",
            "landlock > blocked",
            "env_abi >= 99",
            "ia64",
            "!kernel",
            "ia32 == yes",
        ] {
            assert!(When::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
