//! Known-bad behaviours, switched on one by one with `--fault NAME`.
//!
//! lockgate exists to catch enforcers that *say* they confine while they do not. Its own tests
//! need enforcers that fail in exactly the ways real ones did, on real kernels, so each fault
//! below reproduces one real bug and nothing else: the rest of the run stays the honest path.
//! Without `--fault` none of this code changes anything.

use lockgate_protocol::rights::Right;

/// One known-bad behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// OpenShell #803: drop privileges *before* building the ruleset, so the rule paths are
    /// opened as the unprivileged user. The first path that user cannot open aborts the whole
    /// ruleset build; under `best_effort` the error is logged as a warning, the build function
    /// still returns `Ok(())`, nothing is applied, and the claim is `full` with reason
    /// "all rules enforced" while the command runs unconfined. Under `hard_requirement` the
    /// error is not swallowed: the run is refused. When every path opens fine for the user the
    /// ruleset is applied normally and the claim is honest — the bug only shows on paths the
    /// user cannot reach, as in the report.
    DropFirst,
    /// The `best_effort` pattern that turns `RulesetStatus::NotEnforced` into `Ok(())`: the
    /// restriction status is never looked at and the claim is always `full` ("all rules
    /// enforced"), with the ABI still reported as probed (so `abi=none` with `full` is
    /// possible). Because the hard-requirement gate trusts the claim, it also stops
    /// `hard_requirement` from failing closed. On a kernel where Landlock works the ruleset
    /// really is fully enforced, so this fault is invisible there: it is caught only on kernels
    /// (or in containers) where enforcement is partial or absent.
    IgnoreStatus,
    /// An enforcer written against Landlock ABI V2 (the common `ABI::V2` pin of 2022-era code):
    /// it handles only the V2 filesystem rights whatever the kernel offers, so TRUNCATE (ABI 3),
    /// IOCTL_DEV (ABI 5) and TCP bind/connect (ABI 4) are never restricted, and the `network`
    /// section is ignored because such an enforcer knows nothing of it. The claim is computed
    /// honestly from the crate's status — `full` on any kernel ≥ 5.19, because everything it
    /// asked for is enforced — which is the point: the claim is true for V2 yet `truncate(2)`
    /// and `bind(2)` are allowed. `abi=` reports min(kernel, 2).
    Abi2,
    /// OpenShell #905: in proxy mode — which OpenShell turns on whenever the policy has
    /// `network_policies` — a baseline that adds every `read_only` path to `read_write` as well.
    /// Landlock grants the union of all rules that match a path, so the read-only paths become
    /// writable. Without network policies nothing changes: only a policy as deployed, network
    /// section included, shows the hole. The ruleset is fully enforced and the claim (`full`) is honest about that; only
    /// probing shows the hole.
    BaselineRw,
    /// Turn off the crate's no_new_privs (`no_new_privs(false)`, the former
    /// `set_no_new_privs(false)`; enforcers do it to keep setuid helpers working) and drop every
    /// capability (effective, permitted, inheritable) right before `restrict_self`. Without no_new_privs and without CAP_SYS_ADMIN the kernel
    /// refuses `landlock_restrict_self` with EPERM; the crate returns that as an error (it does
    /// not map it to `NotEnforced`). Under `best_effort` the error is logged as a warning and
    /// swallowed, and the claim is the *requested* level, `full` ("all rules enforced"), while
    /// the command runs unconfined. Under `hard_requirement` the error refuses the run. If the
    /// enforcer was started with no_new_privs already set (e.g. a container with
    /// `no_new_privileges`), `restrict_self` succeeds and the claim is honest.
    NoNnp,
    /// Landlock does not revoke descriptors opened before `restrict_self` (issue 28): an
    /// enforcer that opens a rule file with a full descriptor (to check it, lock it or read it)
    /// instead of `O_PATH`, and forgets `O_CLOEXEC`, hands that descriptor to the command across
    /// execve. Here every regular file among the policy's rule paths is opened read-write as
    /// root, before the privilege drop, and left open: the command can write through it
    /// whatever its rules say (and whatever its uid may open). The ruleset and the claim are the
    /// honest ones; only a probe of the command's inherited descriptors shows the hole.
    LeakFd,
    /// The handled set made from the rules (issue 28): the enforcer handles only the rights
    /// its rules grant somewhere (the union of every rule's rights), instead of the policy's
    /// handled set (or every right of the ABI). A right no rule grants — the one the author
    /// meant denied everywhere, as truncate or make_reg under a rule that grants only reading
    /// and writing — is then not handled, so silently allowed, and the claim (from the crate's
    /// status) is still `full`.
    HandledFromRules,
    /// A rule's `write_file` taken as the crate's `AccessFs::from_write(abi)` (issue 28): every
    /// write-like right of the ABI (make_*, remove_*, refer, truncate, ioctl_dev…), not the one
    /// right the rule names. Only rules with per-rule rights (`filesystem_policy.rules`) change.
    WriteImpliesAll,
    /// `no-<right>` (`no-make-char`, `no-ioctl-dev`, `no-bind-tcp`): the enforcer forgets one
    /// right — it neither handles it in the ruleset nor grants it in any rule, as an enforcer
    /// written before that right existed, or with a hand-written list of rights, would. What
    /// the policy restricts with that right is then allowed, and the claim (computed honestly
    /// from the crate's status) is still `full`. `no-scope-abstract-unix` and `no-scope-signal`:
    /// the enforcer does not set that scope although the policy asks for it.
    Unhandled(Right),
    /// A failed `restrict_self` taken for "Landlock not available here" (issue 28, layers):
    /// under `best_effort` any error of it is logged as a warning and swallowed, and the claim
    /// is the requested level, `full` ("all rules enforced"), while the command runs without the
    /// enforcer's layer. Started inside a domain that already has Landlock's 16 layers, the
    /// kernel refuses a 17th with E2BIG (`landlock-max-layers`): the honest enforcer says
    /// `none`, this one `full`. Under `hard_requirement` the error refuses the run.
    IgnoreRestrictError,
    /// A directory opened before the sandbox and handed down (issue 28): an enforcer that opens
    /// each rule directory with a full descriptor (`O_RDONLY|O_DIRECTORY`, to check it is one,
    /// or to keep it for `openat`) instead of `O_PATH`, and forgets `O_CLOEXEC`. Landlock checks
    /// a path at `openat` whatever descriptor it starts from, so that hands the command nothing
    /// beneath the directory; but it checks read_dir only at open, so the command can list a
    /// directory its rule does not let it read (a drop box granting make_reg and write_file
    /// only). The ruleset and the claim are the honest ones; `inherited_readdir` shows the hole.
    LeakDirfd,
    /// A rule on a mount point tied to the directory the mount covers, not to the mounted
    /// directory (issue 28, item 5): what an enforcer gets that opens its rule paths before the
    /// deployment mounts its workspace there (or in another mount namespace than the one the
    /// command runs in). Landlock's path walk skips a covered directory, so the rule grants
    /// nothing inside the mount and the parent's rule decides. Here each rule path that is a
    /// mount point is opened as the directory beneath the mount (through a non-recursive clone
    /// of its parent's mount, `open_tree`); other rules, the ruleset and the claim are the
    /// honest ones.
    RuleUnderMount,
    /// Rule paths resolved in another root than the command's (issue 28, chroot): what an
    /// enforcer gets that opens its rule paths from the host's view (a supervisor outside the
    /// jail or container, or one that resolves paths through `/proc/1/root`) while the command
    /// runs in a root of its own. Here each rule path is opened under `/proc/1/root` (PID 1's
    /// root, the guest's, as root may), so a rule on the command's `/` is a rule on the whole
    /// guest: a directory outside the chroot, reached through a working directory kept outside
    /// it, is then granted. The ruleset and the claim are otherwise the honest ones.
    HostRootRules,
    /// The seccomp half (issue 25), each a hole real filters have had: the enforcer claims its
    /// filter (`filter=on syscalls=N`) as the policy asks, but the filter it installs is not
    /// that one. See [`FilterFault`].
    Filter(FilterFault),
}

/// A known-bad way of installing the policy's seccomp filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterFault {
    /// Installs no filter at all, yet claims one.
    NoFilter,
    /// The BPF without its architecture check (seccompiler emits it as the program's first
    /// three instructions: load `arch`, compare with AUDIT_ARCH_X86_64, kill otherwise; they are
    /// cut off): a call through the i386 entry (`int 0x80`) carries other numbers and walks
    /// past every rule written for x86_64's.
    NoArchCheck,
    /// The filter does not reject syscall numbers with the x32 bit (0x40000000) set — the
    /// seccompiler default, and so OpenShell's: where the kernel enables x32, `socket` as an
    /// x32 call matches no rule.
    X32Allowed,
    /// AF_INET and AF_INET6 left off the denied domains although the policy's network mode
    /// (no `network_policies`: block) forbids them.
    InetAllowed,
    /// Every netlink protocol allowed (AF_NETLINK left off the denied domains).
    AllNetlink,
    /// `clone3` answered EPERM (in the main filter) instead of ENOSYS: glibc does not fall
    /// back to `clone`, so every thread and process creation through it fails.
    Clone3Eperm,
    /// `clone3` not filtered at all: CLONE_NEWUSER goes through it, unseen.
    Clone3Unfiltered,
    /// The filter installed on a thread other than the one that executes the command, without
    /// TSYNC: the command runs with no filter of the enforcer's.
    FilterOtherThread,
    /// Landlock's `restrict_self` called on another thread (it restricts only the calling
    /// thread below ABI 8): the command runs outside the ruleset.
    LandlockOtherThread,
    /// The two filters stacked in the wrong order: the main filter (which denies further
    /// `seccomp()` installs) first, so installing the ENOSYS filter after it fails with EPERM,
    /// and the error is swallowed: `clone3` is not filtered.
    StackedWrongOrder,
}

impl FilterFault {
    pub const ALL: [FilterFault; 10] = [
        FilterFault::NoFilter,
        FilterFault::NoArchCheck,
        FilterFault::X32Allowed,
        FilterFault::InetAllowed,
        FilterFault::AllNetlink,
        FilterFault::Clone3Eperm,
        FilterFault::Clone3Unfiltered,
        FilterFault::FilterOtherThread,
        FilterFault::LandlockOtherThread,
        FilterFault::StackedWrongOrder,
    ];

    fn name(self) -> &'static str {
        match self {
            FilterFault::NoFilter => "no-filter",
            FilterFault::NoArchCheck => "no-arch-check",
            FilterFault::X32Allowed => "x32-allowed",
            FilterFault::InetAllowed => "inet-allowed",
            FilterFault::AllNetlink => "all-netlink",
            FilterFault::Clone3Eperm => "clone3-eperm",
            FilterFault::Clone3Unfiltered => "clone3-unfiltered",
            FilterFault::FilterOtherThread => "filter-other-thread",
            FilterFault::LandlockOtherThread => "landlock-other-thread",
            FilterFault::StackedWrongOrder => "stacked-wrong-order",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            FilterFault::NoFilter => "install no seccomp filter, claim one",
            FilterFault::NoArchCheck => "seccomp filter without its architecture check (i386 entry walks past)",
            FilterFault::X32Allowed => "seccomp filter that does not reject x32 syscall numbers",
            FilterFault::InetAllowed => "leave AF_INET/AF_INET6 open although the network mode forbids them",
            FilterFault::AllNetlink => "allow every netlink protocol",
            FilterFault::Clone3Eperm => "answer clone3 EPERM, not ENOSYS",
            FilterFault::Clone3Unfiltered => "leave clone3 unfiltered",
            FilterFault::FilterOtherThread => "install the seccomp filter on another thread, no TSYNC",
            FilterFault::LandlockOtherThread => "restrict_self on another thread (below ABI 8)",
            FilterFault::StackedWrongOrder => "main filter before the clone3 filter; swallow the EPERM",
        }
    }
}

impl Fault {
    /// The five behaviours of real bugs, one "does not handle" per right, the filter's faults,
    /// then the leaked descriptor.
    pub fn all() -> Vec<Fault> {
        let fixed = [Fault::DropFirst, Fault::IgnoreStatus, Fault::Abi2, Fault::BaselineRw, Fault::NoNnp];
        fixed
            .into_iter()
            .chain(Right::ALL.into_iter().map(Fault::Unhandled))
            .chain(FilterFault::ALL.into_iter().map(Fault::Filter))
            .chain([
                Fault::LeakFd,
                Fault::HandledFromRules,
                Fault::WriteImpliesAll,
                Fault::IgnoreRestrictError,
                Fault::LeakDirfd,
                Fault::RuleUnderMount,
                Fault::HostRootRules,
            ])
            .collect()
    }

    pub fn name(self) -> String {
        match self {
            Fault::DropFirst => "drop-first".into(),
            Fault::IgnoreStatus => "ignore-status".into(),
            Fault::Abi2 => "abi2".into(),
            Fault::BaselineRw => "baseline-rw".into(),
            Fault::NoNnp => "no-nnp".into(),
            Fault::LeakFd => "leak-fd".into(),
            Fault::HandledFromRules => "handled-from-rules".into(),
            Fault::WriteImpliesAll => "write-implies-all".into(),
            Fault::IgnoreRestrictError => "ignore-restrict-error".into(),
            Fault::LeakDirfd => "leak-dirfd".into(),
            Fault::RuleUnderMount => "rule-under-mount".into(),
            Fault::HostRootRules => "host-root-rules".into(),
            Fault::Unhandled(right) => right.fault(),
            Fault::Filter(f) => f.name().into(),
        }
    }

    /// One line for `--help`.
    pub fn summary(self) -> String {
        match self {
            Fault::DropFirst => "drop privileges before opening rule paths (OpenShell #803)".into(),
            Fault::IgnoreStatus => "ignore the RulesetStatus, always claim full".into(),
            Fault::Abi2 => "pin Landlock ABI V2: no TRUNCATE, no TCP rules".into(),
            Fault::BaselineRw => {
                "with network_policies (proxy mode), add every read_only path to read_write (OpenShell #905)".into()
            }
            Fault::NoNnp => "no no_new_privs, drop caps; swallow restrict_self EPERM".into(),
            Fault::LeakFd => "leave a read-write descriptor to each rule file open across execve".into(),
            Fault::HandledFromRules => "handle only the rights some rule grants, not the policy's handled set".into(),
            Fault::WriteImpliesAll => "grant a rule's write_file as every write right of the ABI (from_write)".into(),
            Fault::IgnoreRestrictError => "swallow a restrict_self error (E2BIG: 16 layers already), claim full".into(),
            Fault::LeakDirfd => "leave a read-only descriptor to each rule directory open across execve".into(),
            Fault::RuleUnderMount => "tie a rule on a mount point to the directory the mount covers".into(),
            Fault::HostRootRules => "open the rule paths in the guest's root (/proc/1/root), not the command's".into(),
            Fault::Unhandled(right) if right.class() == lockgate_protocol::rights::Class::Scope => {
                format!("do not set the scope {} (ABI {})", right.constant(), right.abi())
            }
            Fault::Unhandled(right) => format!("do not handle {} (ABI {})", right.constant(), right.abi()),
            Fault::Filter(f) => f.summary().into(),
        }
    }

    pub fn parse(name: &str) -> Option<Fault> {
        Fault::all().into_iter().find(|f| f.name() == name)
    }

    fn bit(self) -> u64 {
        let index = match self {
            Fault::DropFirst => 0,
            Fault::IgnoreStatus => 1,
            Fault::Abi2 => 2,
            Fault::BaselineRw => 3,
            Fault::NoNnp => 4,
            Fault::Unhandled(right) => 5 + right as u32,
            Fault::Filter(f) => 5 + Right::ALL.len() as u32 + f as u32,
            Fault::LeakFd => 5 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
            Fault::HandledFromRules => 6 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
            Fault::WriteImpliesAll => 7 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
            Fault::IgnoreRestrictError => 8 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
            Fault::LeakDirfd => 9 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
            Fault::RuleUnderMount => 10 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
            Fault::HostRootRules => 11 + (Right::ALL.len() + FilterFault::ALL.len()) as u32,
        };
        1 << index
    }
}

/// The set of faults switched on for this run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults(u64);

impl Faults {
    pub fn insert(&mut self, fault: Fault) {
        self.0 |= fault.bit();
    }

    pub fn has(self, fault: Fault) -> bool {
        self.0 & fault.bit() != 0
    }

    /// The rights the enforcer forgets (`no-<right>` faults).
    pub fn unhandled(self) -> impl Iterator<Item = Right> {
        Right::ALL.into_iter().filter(move |r| self.has(Fault::Unhandled(*r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_them() {
        let mut set = Faults::default();
        for fault in Fault::all() {
            assert_eq!(Fault::parse(&fault.name()), Some(fault));
            assert!(!set.has(fault));
            set.insert(fault);
            assert!(set.has(fault));
        }
        assert_eq!(Fault::parse("drop_first"), None);
        assert_eq!(Fault::parse("no-make-char"), Some(Fault::Unhandled(Right::MakeChar)));
        assert_eq!(set.unhandled().count(), Right::ALL.len());
    }

    /// The host checks `--enforcer-fault` against the reference adapter's `faults:` list before
    /// anything boots: that list must be this one.
    #[test]
    fn the_reference_adapter_lists_every_fault() {
        let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/../lockgate/src/enforcer/reference.yaml");
        let doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(adapter).unwrap()).unwrap();
        let listed: Vec<(String, String)> = doc["faults"]
            .as_sequence()
            .expect("reference.yaml has a `faults:` list")
            .iter()
            .map(|m| (m["name"].as_str().unwrap().to_string(), m["about"].as_str().unwrap().to_string()))
            .collect();
        let ours: Vec<(String, String)> =
            Fault::all().iter().map(|f| (f.name().to_string(), f.summary().to_string())).collect();
        assert_eq!(listed, ours, "list every fault of Fault::all(), with its summary, in {adapter} `faults:`");
    }
}
