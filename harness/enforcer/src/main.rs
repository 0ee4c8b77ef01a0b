//! lockgate-enforcer: the reference Landlock enforcer under test (DESIGN §5).
//!
//! `lockgate-enforcer --policy FILE [--fault NAME]... -- COMMAND [ARGS...]`, started as root:
//!
//! 1. probe the kernel's Landlock ABI (raw syscall, errno kept for the reason);
//! 2. as root, open every rule path and build the ruleset;
//! 3. drop privileges to `process.run_as_user` / `run_as_group`;
//! 4. `restrict_self` (with no_new_privs);
//! 5. claim what the *actual* status says — one line on stderr, `LOCKGATE_ENFORCEMENT` for the
//!    command — and refuse under `hard_requirement` unless it is `full`;
//! 6. when the policy asks for a seccomp filter (`seccomp:`), install it on this thread, the
//!    one that executes COMMAND ([`filter`]), and say so in the claim;
//! 7. execve COMMAND.
//!
//! Steps 2–4 are in that order because the other order is OpenShell #803 (DESIGN §1). The
//! known-bad modes of [`faults`] each change exactly one of these steps.
//!
//! Exit status: COMMAND's; 1 when refused (the claim line says why); 2 for a bad command line,
//! policy file or user; 127 when COMMAND cannot be executed.

mod abi;
mod claim;
mod cli;
mod exec;
mod faults;
mod filter;
mod identity;
mod layer;
mod policy;
mod ruleset;
mod under_mount;

use claim::{Claim, Level};
use faults::{Fault, Faults};
use landlock::{BitFlags, ABI};
use lockgate_protocol::rights::Class;
use policy::{Compatibility, NetworkPolicy, Policy};
use std::path::PathBuf;
use std::process::exit;

const NAME: &str = "lockgate-enforcer";

pub(crate) fn warn(message: impl std::fmt::Display) {
    eprintln!("{NAME}: warning: {message}");
}

fn main() {
    let invocation = match cli::parse(std::env::args_os().skip(1)) {
        Ok(invocation) => invocation,
        Err(err) => {
            eprintln!("{NAME}: {err}\nTry '{NAME} --help'.");
            exit(2);
        }
    };
    let args = match invocation {
        cli::Invocation::Help => {
            print!("{}", cli::usage());
            exit(0);
        }
        cli::Invocation::Version => {
            println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
            exit(0);
        }
        cli::Invocation::Run(args) => args,
        cli::Invocation::Layers(layers) => exit(layer::run(&layers)),
    };

    let setup = match Setup::load(&args.policy) {
        Ok(setup) => setup,
        Err(err) => {
            eprintln!("{NAME}: error: {err:#}");
            exit(2);
        }
    };

    let claim = claim::gate(enforce(&setup, args.faults), setup.hard_requirement());
    let claim = match (claim.level, setup.policy.filter()) {
        (Level::Refused, _) | (_, None) => claim,
        // Last before exec, after Landlock and the privilege drop: nothing the enforcer
        // still does needs a syscall the filter denies.
        (_, Some(wanted)) => match filter::install(&wanted, args.faults) {
            Ok(installed) => claim.with_filter(Some(installed.syscalls)),
            Err(err) if setup.hard_requirement() => Claim::refused(claim.abi, err).with_filter(None),
            Err(err) => {
                let reason = format!("{}; seccomp filter not installed: {err}", claim.reason);
                Claim::new(claim.level, claim.abi, reason).with_filter(None)
            }
        },
    };
    eprintln!("{claim}");
    if claim.level == Level::Refused {
        exit(1);
    }
    let failure = exec::exec(&args.command, lockgate_protocol::CLAIM_ENV, &claim.env_value());
    eprintln!("{NAME}: cannot execute {}: {failure}", args.command[0].to_string_lossy());
    exit(127);
}

/// Everything read from the system before enforcement starts; an error here is the user's to
/// fix (exit 2, no claim line: nothing was attempted).
struct Setup {
    policy: Policy,
    target: Option<identity::Target>,
    workdir: Option<PathBuf>,
}

impl Setup {
    fn load(policy_path: &std::path::Path) -> anyhow::Result<Setup> {
        use anyhow::Context;
        let policy = policy::load(policy_path)?;
        let process = &policy.process;
        let target = identity::resolve_from_system(process.run_as_user.as_deref(), process.run_as_group.as_deref())?;
        let workdir = if policy.filesystem_policy.include_workdir {
            Some(std::env::current_dir().context("include_workdir: cannot read the working directory")?)
        } else {
            None
        };
        Ok(Setup { policy, target, workdir })
    }

    fn hard_requirement(&self) -> bool {
        self.policy.landlock.compatibility == Compatibility::HardRequirement
    }

    /// A failed drop is never tolerated, best_effort or not: the command must not run as root
    /// when the policy names another user.
    fn drop_privileges(&self, abi: Option<u32>) -> Result<(), Claim> {
        match self.target {
            None => Ok(()),
            Some(target) => {
                identity::drop_to(target).map_err(|err| Claim::refused(abi, format!("cannot drop privileges: {err:#}")))
            }
        }
    }
}

/// What phase one (open + build) left for phase two (drop + restrict).
enum Prepared {
    Ruleset {
        created: landlock::RulesetCreated,
        abi: ABI,
        skipped: usize,
    },
    /// Nothing to apply; claim this once privileges are dropped.
    Claim(Claim),
}

/// Runs steps 1–5 and returns the claim before the hard-requirement gate.
fn enforce(setup: &Setup, faults: Faults) -> Claim {
    let hard = setup.hard_requirement();
    let policy = &setup.policy;

    // 1. Probe.
    let support = abi::Support::probe();
    let abi = match support.effective_abi() {
        // The abi2 fault: an enforcer written against V2 never asks for more.
        Some(abi) if faults.has(Fault::Abi2) => Some(abi.min(ABI::V2)),
        other => other,
    };
    let abi_number = abi.map(abi::number);

    // leak-fd: descriptors opened as root, before any sandbox, left open across execve.
    if faults.has(Fault::LeakFd) {
        let specs = ruleset::specs(&policy.filesystem_policy, setup.workdir.clone(), false);
        for (fd, path) in ruleset::leak_files(&specs) {
            warn(format_args!("descriptor {fd} left open read-write on {}", path.display()));
        }
    }

    // leak-dirfd: the rule directories opened with full descriptors, left open across execve.
    if faults.has(Fault::LeakDirfd) {
        let specs = ruleset::specs(&policy.filesystem_policy, setup.workdir.clone(), false);
        for (fd, path) in ruleset::leak_dirs(&specs) {
            warn(format_args!("descriptor {fd} left open on directory {}", path.display()));
        }
    }

    // drop-first (OpenShell #803): the privilege drop happens before the paths are opened.
    let drop_first = faults.has(Fault::DropFirst);
    if drop_first {
        if let Err(claim) = setup.drop_privileges(abi_number) {
            return claim;
        }
    }

    // 2. Open the rule paths and build the ruleset (as root in the honest order).
    let prepared = match abi {
        None => Prepared::Claim(Claim::new(Level::None, None, support.missing_reason().unwrap_or_default())),
        Some(abi) => {
            // baseline-rw widens only in proxy mode, as OpenShell's baseline did.
            let baseline_rw = faults.has(Fault::BaselineRw) && policy.proxy_mode();
            let mut specs = ruleset::specs(&policy.filesystem_policy, setup.workdir.clone(), baseline_rw);
            // write-implies-all: a rule's write_file read as every write right of the ABI.
            if faults.has(Fault::WriteImpliesAll) {
                for spec in &mut specs {
                    if let ruleset::Grant::Rights(r) = &mut spec.grant {
                        if r.contains(landlock::AccessFs::WriteFile) {
                            *r |= landlock::AccessFs::from_write(abi);
                        }
                    }
                }
            }
            // host-root-rules: each rule path resolved in PID 1's root, not the command's.
            if faults.has(Fault::HostRootRules) {
                for spec in &mut specs {
                    let relative = spec.path.strip_prefix("/").unwrap_or(&spec.path).to_path_buf();
                    spec.path = std::path::Path::new("/proc/1/root").join(relative);
                }
            }
            let mut skipped = 0;
            // best_effort leaves out a path it cannot open (fewer rules = less access); under
            // hard_requirement the policy cannot be honoured, so it refuses. drop-first never
            // skips: in OpenShell the first open error aborted the whole ruleset build.
            let skip = !hard && !drop_first;
            let opened = ruleset::open_all(&specs, skip, |err| {
                warn(format_args!("skipping rule path (best_effort): {err}"));
                skipped += 1;
            });
            match opened {
                Err(err) if drop_first && !hard => {
                    // The #803 bug proper: best_effort logs the error, the function returns
                    // Ok(()), and the caller reports success. Nothing is applied.
                    warn(format_args!("Landlock ruleset not applied (best_effort): {err}"));
                    Prepared::Claim(Claim::pretend_full(abi_number))
                }
                Err(err) => return Claim::refused(abi_number, format!("cannot open rule path: {err}")),
                Ok(mut opened) => {
                    if faults.has(Fault::RuleUnderMount) {
                        for rule in opened.iter_mut().filter(|r| r.is_dir) {
                            if rule.under_mount() {
                                warn(format_args!(
                                    "rule on {} tied to the directory beneath its mount",
                                    rule.spec.path.display()
                                ));
                            }
                        }
                    }
                    // TCP rules exist from ABI 4; an abi2 enforcer knows nothing of them.
                    // A handled set naming TCP rights handles them without a network section:
                    // no port is allowed then.
                    let no_ports = NetworkPolicy::default();
                    let handles_tcp = policy.landlock.handled.iter().flatten().any(|r| r.0.class() == Class::Net);
                    let network = policy
                        .network
                        .as_ref()
                        .or(handles_tcp.then_some(&no_ports))
                        .filter(|_| abi >= ruleset::NET_ABI && !faults.has(Fault::Abi2));
                    // Scopes exist from ABI 6; a `no-<right>` fault forgets one right or scope.
                    let scopes: &[_] = if abi >= ruleset::SCOPE_ABI { &policy.landlock.scoped } else { &[] };
                    let mut handled =
                        ruleset::Handled::new(abi, faults.unhandled()).within(policy.landlock.handled.as_deref());
                    // handled-from-rules: only what some rule grants is handled.
                    if faults.has(Fault::HandledFromRules) {
                        handled.fs &= opened
                            .iter()
                            .map(|r| ruleset::rights(abi, r.spec.grant, r.is_dir))
                            .collect::<BitFlags<_>>();
                    }
                    match ruleset::build(abi, handled, opened, network, scopes) {
                        Ok(created) => Prepared::Ruleset { created, abi, skipped },
                        Err(err) => Prepared::Claim(Claim::new(
                            Level::None,
                            abi_number,
                            format!("cannot build the ruleset: {err}"),
                        )),
                    }
                }
            }
        }
    };

    // 3. Drop privileges (already done under drop-first).
    if !drop_first {
        if let Err(claim) = setup.drop_privileges(abi_number) {
            return claim;
        }
    }

    let (created, abi, skipped) = match prepared {
        Prepared::Claim(claim) if faults.has(Fault::IgnoreStatus) => return Claim::pretend_full(claim.abi),
        Prepared::Claim(claim) => return claim,
        Prepared::Ruleset { created, abi, skipped } => (created, abi, skipped),
    };

    // 4. restrict_self.
    let no_nnp = faults.has(Fault::NoNnp);
    if no_nnp {
        if let Err(err) = identity::drop_all_capabilities() {
            return Claim::refused(abi_number, format!("cannot drop capabilities: {err:#}"));
        }
    }
    let restricted = match faults.has(Fault::Filter(faults::FilterFault::LandlockOtherThread)) {
        // The bug: a helper thread restricts itself (below ABI 8 only the calling thread) and
        // ends; the thread that executes COMMAND stays outside the ruleset.
        true => std::thread::spawn(move || ruleset::restrict(created, !no_nnp))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        false => ruleset::restrict(created, !no_nnp),
    };
    let status = match restricted {
        Ok(status) => status,
        Err(err) if (no_nnp || faults.has(Fault::IgnoreRestrictError)) && !hard => {
            // The no-nnp bug (and ignore-restrict-error): best_effort swallows the error (EPERM,
            // E2BIG) and reports what was asked for.
            warn(format_args!("restrict_self failed, continuing (best_effort): {err}"));
            return Claim::pretend_full(abi_number);
        }
        Err(err) => return Claim::new(Level::None, abi_number, format!("restrict_self failed: {err}")),
    };

    // 5. The claim, from the status the kernel gave.
    if faults.has(Fault::IgnoreStatus) {
        return Claim::pretend_full(abi_number);
    }
    // One rule for every part of the policy this kernel cannot enforce (an abi2 enforcer knows
    // nothing of any of them).
    let unmet = match faults.has(Fault::Abi2) {
        true => None,
        false => claim::unmet(
            &[
                (policy.network.is_some(), ruleset::NET_ABI, "TCP rules"),
                (!policy.filesystem_policy.ioctl_dev.is_empty(), ruleset::IOCTL_DEV_ABI, "device ioctl rules"),
                (!policy.landlock.scoped.is_empty(), ruleset::SCOPE_ABI, "scopes"),
            ],
            abi,
        ),
    };
    // The rights of the policy's handled set that this kernel cannot handle.
    let too_new: Vec<String> = match faults.has(Fault::Abi2) {
        true => Vec::new(),
        false => policy
            .landlock
            .handled
            .iter()
            .flatten()
            .filter(|r| r.0.abi() > abi::number(abi))
            .map(|r| format!("{} (ABI {})", r.0.name(), r.0.abi()))
            .collect(),
    };
    let handled_unmet = (!too_new.is_empty()).then(|| {
        format!(
            "handled rights need a newer Landlock ABI than the kernel's {}: {}",
            abi::number(abi),
            too_new.join(", ")
        )
    });
    let unmet = match (unmet, handled_unmet) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    claim::decide(&status.ruleset, abi::number(abi), unmet.as_deref(), skipped)
}
