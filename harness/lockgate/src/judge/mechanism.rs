//! Which of the enforcer's two mechanisms denied a call — its seccomp filter or its Landlock
//! ruleset — when the run shows it installed a filter (issue 25).
//!
//! The rule, and why it is sound:
//!
//! 1. **The enforcer installed a filter** only if the probe runner, which the enforcer executes,
//!    runs under more seccomp filters than the same runner in the control run (same environment,
//!    no enforcer: `Seccomp_filters:` of /proc/self/status). Without that, nothing here applies
//!    and a denial only the enforced run got stays `sandbox`, as before.
//! 2. **Landlock cannot answer every call.** It has hooks for file access (EACCES, EXDEV for a
//!    rename or link across rules), TCP bind/connect (EACCES), pathname unix connect (EACCES),
//!    and its scopes (abstract unix connect, signals: EPERM). A call it has no hook for —
//!    `socket()` itself, `unshare`, `bpf`, `io_uring_setup`, `mount`, `clone3` — or an errno it
//!    never gives for that call (ENOSYS; EPERM for a TCP bind) was not its doing. The control
//!    run allowed the call (or failed it with another errno, by itself: a socket family the
//!    kernel lacks), so neither DAC nor the environment's profile, which decides on the call
//!    alone, gave this errno; the filter the enforcer added is what is left: `filter`.
//! 3. **An errno Landlock gives for that call** is Landlock's unless the filter was seen
//!    answering that errno elsewhere in the run (by rule 2): then either could have, and the
//!    denial stays `sandbox`. (What this takes on trust: a filter that answers EACCES for a file
//!    or TCP call and for nothing a scenario probes by itself would pass for Landlock; no
//!    enforcer known here does — OpenShell's and Codex's filters answer EPERM.)
//! 4. **Stacked under a container's profile**: the control run was denied with the profile's
//!    errno (`seccomp`). A filter acts at syscall entry, before Landlock or DAC, and the profile's
//!    decision depends only on the call, so in the enforced run the profile answered the same.
//!    Among filters that all answer with an errno, the kernel returns the errno of the one
//!    installed *last*: a different errno in the enforced run is the enforcer's filter's
//!    (`filter`). The same errno cannot be told apart — the profile alone explains it — and stays
//!    `seccomp`.
//!
//! 5. **A call on a bad file descriptor**: the control run was denied EBADF. The kernel looks the
//!    descriptor up before any LSM hook (Landlock's among them) and before any permission check,
//!    so neither Landlock nor DAC can change that answer, and the environment's profile, which
//!    decides on the call alone, did not give it (it would have in the control run too). Another
//!    errno in the enforced run is what a filter at syscall entry answers: the enforcer's
//!    (`filter`). This is how a scenario probes a filter on `connect`, `sendmsg` or `setns`
//!    without a socket or namespace to hand: `syscall connect -1 0 0`.
//!
//! 6. **A call the container's profile allows** whatever its arguments (under the container's
//!    capabilities, `EnvFacts::allowed`) was not answered by the profile, even when both runs
//!    got the profile's default errno: the same EPERM in both runs is a permission check's (a
//!    missing CAP_NET_RAW for `socket(AF_PACKET)`, Yama's ptrace_scope for `ptrace_attach`),
//!    `dac`, not `seccomp` ([`env_errno`]). A call the profile allows only for some arguments
//!    keeps the default errno: the arguments are not evaluated here.
//!
//! 7. **A PID namespace of the enforcer's** (the runner's /proc/self/ns/pid is another than in
//!    the control run) hides every process outside it: a signal or an attach to one
//!    answered ESRCH is the namespace's doing, part of the sandbox but neither its filter nor its
//!    ruleset, and stays `sandbox` ([`hidden_by_pid_ns`]).
//!
//! Landlock's ptrace restriction (a sandboxed process cannot trace one outside its domain, EPERM)
//! and its refusal of every mount from inside a domain (EPERM) are EPERMs Landlock gives: a
//! `ptrace_*` or `mount` probe denied EPERM is never `filter`: `sandbox` where the filter was seen
//! answering EPERM, else `landlock` (rule 3, with what it takes on trust).

use crate::enforcer::claim::ClaimReader;
use crate::model::scenario::{Action, Denier, Mechanism};
use lockgate_protocol::{Outcome, ProbeOp, ProbeTarget, RunObservation};

/// Rule 1: the enforced run shows more seccomp filters than the control run; `None` when
/// either run could not read its count.
pub fn own_filter(control: &RunObservation, enforced: &RunObservation) -> Option<bool> {
    let count = |run: &RunObservation| run.runner.as_ref().and_then(|r| r.filters());
    Some(count(enforced)? > count(control)?)
}

/// The enforcer put the runner in a PID namespace of its own: another than the control run's
/// (/proc/self/ns/pid); `false` when either run could not say.
pub fn own_pid_ns(control: &RunObservation, enforced: &RunObservation) -> bool {
    match (&control.runner, &enforced.runner) {
        (Some(c), Some(e)) => e.new_namespaces(c).contains(&"pid"),
        _ => false,
    }
}

/// Rule 7: a process outside the sandbox not found (ESRCH) by a signal or an attach from inside
/// a PID namespace of the enforcer's was hidden by that namespace, not refused by a filter or a
/// ruleset (neither is told apart by it): the denial stays `sandbox`.
pub fn hidden_by_pid_ns(action: &Action, enforced: &Outcome, own_pid_ns: bool) -> bool {
    let Action::Probe { op, .. } = action else { return false };
    own_pid_ns
        && matches!(op, ProbeOp::Signal | ProbeOp::PtraceAttach)
        && matches!(enforced, Outcome::Err(e) if e == "ESRCH")
}

/// What a `mechanism:` expectation saw: each run's side in words, and why it failed.
pub struct Seen {
    pub control: String,
    pub enforced: String,
    pub failure: Option<String>,
}

/// A `mechanism:` expectation (issue 27): `namespaces` holds when the runner the enforcer
/// executed is in a namespace other than the control run's (its `/proc/self/ns` links),
/// `seccomp` when it runs under more filters. What the enforcer said about its mechanism (its
/// adapter's rules) is only named: a sandbox that fell back to something weaker fails here by
/// what the runner shows, whether it said so, said nothing, or claimed the mechanism anyway.
pub fn seen(want: Mechanism, control: &RunObservation, enforced: &RunObservation, claims: &ClaimReader) -> Seen {
    let said = match claims.mechanism(&enforced.stderr) {
        Some((Mechanism::Fallback, line)) => format!("; it said it fell back: `{line}`"),
        Some((m, line)) if m == want => format!(", although it claimed {m}: `{line}`"),
        Some((m, line)) => format!("; it said it used {m}: `{line}`"),
        None => ", and it said nothing about it".to_string(),
    };
    let (Some(c), Some(e)) = (&control.runner, &enforced.runner) else {
        let which = if control.runner.is_none() { "control" } else { "enforced" };
        let run = if control.runner.is_none() { control } else { enforced };
        return Seen {
            control: control.runner.as_ref().map_or("no report".into(), |_| "reported".into()),
            enforced: enforced.runner.as_ref().map_or("no report".into(), |_| "reported".into()),
            failure: Some(format!(
                "not observed: the probe runner never reported in the {which} run (exit {}), so no {want} could be seen",
                run.exit
            )),
        };
    };
    match want {
        Mechanism::Namespaces => {
            let new = e.new_namespaces(c);
            let unread: Vec<String> =
                e.namespaces.iter().filter(|(_, v)| !v.contains(":[")).map(|(n, v)| format!("{n}: {v}")).collect();
            let enforced_words = match new.is_empty() {
                true => "no new namespace".to_string(),
                false => format!("new namespaces: {}", new.join(", ")),
            };
            let failure = match (new.is_empty(), e.namespaces.is_empty() || unread.len() == e.namespaces.len()) {
                (false, _) => None,
                (true, true) => Some(format!(
                    "not observed: the runner could not read its /proc/self/ns links under the enforcer ({}): give the sandbox a /proc to show its namespaces",
                    if unread.is_empty() { "none reported".to_string() } else { unread.join(", ") }
                )),
                (true, false) => Some(format!(
                    "the command ran in the namespaces of the control run (no /proc/self/ns link differs): the enforcer made no namespace{said}"
                )),
            };
            Seen { control: "the guest's namespaces".into(), enforced: enforced_words, failure }
        }
        _ => {
            let (cn, en) = (c.filters(), e.filters());
            let words = |n: Option<u32>| n.map_or("filters unknown".to_string(), |n| format!("{n} seccomp filter(s)"));
            let failure = match (cn, en) {
                (Some(cn), Some(en)) if en > cn => None,
                (Some(_), Some(_)) => Some(format!(
                    "the command ran under no more seccomp filters than in the control run: the enforcer installed none{said}"
                )),
                _ => Some("not observed: a run could not read its Seccomp_filters".to_string()),
            };
            Seen { control: words(cn), enforced: words(en), failure }
        }
    }
}

/// The raw syscalls (`syscall NAME …` probes) no Landlock hook sees: a sandbox filter's usual
/// targets. Any other is taken as one Landlock may answer (EACCES, EXDEV, EPERM): the mount
/// family, ptrace and process_vm_* (ptrace access checks), pidfd_send_signal and pidfd_getfd
/// (scope and ptrace checks), and every call that takes a path.
const NO_LANDLOCK_HOOK: [&str; 24] = [
    "socket",
    "socketpair",
    "clone",
    "clone3",
    "unshare",
    "setns",
    "bpf",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "seccomp",
    "memfd_create",
    "userfaultfd",
    "perf_event_open",
    "personality",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "pidfd_open",
];

/// Rule 2's table: can a Landlock ruleset answer `action` with `errno`?
pub fn landlock_can(action: &Action, errno: &str) -> bool {
    // A shell command, or a raw syscall Landlock has a hook for, may be answered by it.
    let any = matches!(errno, "EACCES" | "EXDEV" | "EPERM");
    let (op, target) = match action {
        Action::Run(_) => return any,
        Action::Probe { op, target } => (*op, target),
    };
    match op {
        // Creating a socket, a process or a namespace, loading BPF, setting up io_uring,
        // stacking a filter: no Landlock hook.
        ProbeOp::Socket
        | ProbeOp::Clone
        | ProbeOp::Clone3
        | ProbeOp::IoUringSetup
        | ProbeOp::Bpf
        | ProbeOp::Seccomp
        // A write through a descriptor already open: Landlock decided when it was opened. An
        // O_PATH open, FIOCLEX/FIONBIO and UDP: Landlock never checks them.
        | ProbeOp::InheritedWrite
        | ProbeOp::InheritedReaddir
        | ProbeOp::OpenPath
        | ProbeOp::IoctlFioclex
        | ProbeOp::IoctlFionbio
        | ProbeOp::UdpBind
        | ProbeOp::MemfdFtruncate => false,
        ProbeOp::RenameExchange => matches!(errno, "EACCES" | "EXDEV"),
        ProbeOp::OpenTrunc | ProbeOp::Tcp6Bind | ProbeOp::Ftruncate | ProbeOp::Openat => errno == "EACCES",
        ProbeOp::Syscall => {
            let name = match target {
                ProbeTarget::Call(call) => call.text.split_whitespace().next().unwrap_or_default(),
                _ => "",
            };
            !NO_LANDLOCK_HOOK.contains(&name) && any
        }
        // Landlock denies tracing a process outside the domain (EPERM), and any mount,
        // umount, pivot_root or remount from inside one (EPERM).
        ProbeOp::PtraceTraceme | ProbeOp::PtraceAttach | ProbeOp::Mount | ProbeOp::MountProc => errno == "EPERM",
        // A stat of /proc/<pid>: no Landlock right covers it.
        ProbeOp::PidVisible => false,
        // Executing is a file access (EACCES); memfd_create itself has no hook.
        ProbeOp::MemfdExec | ProbeOp::ExecveatEmptyPath => errno == "EACCES",
        ProbeOp::Rename | ProbeOp::Link => matches!(errno, "EACCES" | "EXDEV"),
        ProbeOp::AbstractConnect | ProbeOp::Signal | ProbeOp::AbstractSendto => errno == "EPERM",
        ProbeOp::Create
        | ProbeOp::MknodReg
        | ProbeOp::Write
        | ProbeOp::Read
        | ProbeOp::Truncate
        | ProbeOp::Exec
        | ProbeOp::Mkdir
        | ProbeOp::Unlink
        | ProbeOp::Readdir
        | ProbeOp::TcpBind
        | ProbeOp::TcpConnect
        | ProbeOp::Rmdir
        | ProbeOp::MknodChar
        | ProbeOp::MknodBlock
        | ProbeOp::Mkfifo
        | ProbeOp::MknodSock
        | ProbeOp::Symlink
        | ProbeOp::IoctlDev
        | ProbeOp::UnixConnect => errno == "EACCES",
    }
}

/// The syscalls a probe makes that a filter decides on (its last, deciding ones), by name;
/// empty for a file or TCP probe and a shell command, which a profile does not single out.
pub fn syscalls_of(action: &Action) -> Vec<&str> {
    let Action::Probe { op, target } = action else { return Vec::new() };
    match op {
        ProbeOp::Socket => vec!["socket"],
        ProbeOp::Clone => vec!["clone"],
        ProbeOp::Clone3 => vec!["clone3"],
        ProbeOp::PtraceTraceme | ProbeOp::PtraceAttach => vec!["ptrace"],
        ProbeOp::IoUringSetup => vec!["io_uring_setup"],
        ProbeOp::MemfdExec => vec!["memfd_create", "execveat"],
        ProbeOp::ExecveatEmptyPath => vec!["execveat"],
        ProbeOp::Bpf => vec!["bpf"],
        ProbeOp::Mount => vec!["mount"],
        ProbeOp::MountProc => vec!["unshare", "mount"],
        ProbeOp::Seccomp => vec!["seccomp"],
        ProbeOp::Syscall => match target {
            ProbeTarget::Call(call) => call.text.split_whitespace().next().into_iter().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The errno the environment's profile answers `action` with when one of its rules names a
/// syscall of it with the errno the control run got (Docker's `clone3` → ENOSYS): then the
/// control run's failure was the profile's, not the operation's.
pub fn profile_errno<'a>(action: &Action, control: &Outcome, rules: &'a [(String, String)]) -> Option<&'a str> {
    let Outcome::Err(c) = control else { return None };
    let calls = syscalls_of(action);
    rules.iter().find(|(name, errno)| errno == c && calls.contains(&name.as_str())).map(|(_, e)| e.as_str())
}

/// Rule 5: the control run's errno comes from a check the kernel makes before any LSM hook or
/// permission check (the file descriptor's lookup).
fn fails_before_hooks(control_errno: &str) -> bool {
    control_errno == "EBADF"
}

/// The errno the environment's profile answers `action` with: a rule of its own for one of its
/// syscalls ([`profile_errno`]), else its default action's — unless the profile allows every
/// syscall the probe decides on whatever its arguments: then the profile answered nothing, and a
/// denial in both runs was a permission check's (a missing capability, Yama's ptrace_scope),
/// not the profile's, even when its errno is the profile's default (EPERM).
pub fn env_errno<'a>(
    action: &Action,
    control: &Outcome,
    rules: &'a [(String, String)],
    allowed: &[String],
    default: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(e) = profile_errno(action, control, rules) {
        return Some(e);
    }
    let calls = syscalls_of(action);
    match !calls.is_empty() && calls.iter().all(|c| allowed.iter().any(|a| a == c)) {
        true => None,
        false => default,
    }
}

/// The errno of every step that rules 2, 4 and 5 give to the filter, without rule 3 (which needs
/// them): what the filter was seen answering in this run.
pub fn filter_errnos<'a>(
    steps: impl Iterator<Item = (&'a Action, &'a Outcome, &'a Outcome, Option<&'a str>)>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (action, control, enforced, env_errno) in steps {
        let Outcome::Err(e) = enforced else { continue };
        let filters = match control {
            Outcome::Ok => !landlock_can(action, e),
            Outcome::Err(c) => {
                c != e && (env_errno == Some(c.as_str()) || fails_before_hooks(c) || !landlock_can(action, e))
            }
            Outcome::Timeout => false,
        };
        if filters && !out.contains(e) {
            out.push(e.clone());
        }
    }
    out
}

/// The attribution refined by mechanism, given the base one (`super::attribute`), whether the
/// enforcer installed a filter, and the errnos its filter was seen answering.
pub fn refine(
    base: Option<Denier>,
    action: &Action,
    control: &Outcome,
    enforced: &Outcome,
    own_filter: bool,
    env_errno: Option<&str>,
    filter_errnos: &[String],
) -> Option<Denier> {
    let (true, Outcome::Err(e)) = (own_filter, enforced) else { return base };
    match (base, control) {
        (Some(Denier::Sandbox), _) if !landlock_can(action, e) => Some(Denier::Filter),
        (Some(Denier::Sandbox), _) if filter_errnos.contains(e) => base,
        (Some(Denier::Sandbox), _) => Some(Denier::Landlock),
        (Some(Denier::Unknown), Outcome::Err(c)) if env_errno == Some(c.as_str()) => Some(Denier::Filter),
        // Rule 5: the control run failed at the descriptor's lookup, before any hook.
        (Some(Denier::Unknown), Outcome::Err(c)) if fails_before_hooks(c) => Some(Denier::Filter),
        // Rule 2 where the call fails by itself (a socket family the kernel lacks:
        // EAFNOSUPPORT in the control run): the enforced run got an errno Landlock cannot give
        // for it, and the environment's filter, which decides on the call alone, gave the
        // control run none of it.
        (Some(Denier::Unknown), Outcome::Err(_)) if !landlock_can(action, e) => Some(Denier::Filter),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::RunnerFacts;

    fn probe(op: ProbeOp) -> Action {
        Action::Probe { op, target: ProbeTarget::Port(80) }
    }

    fn err(e: &str) -> Outcome {
        Outcome::Err(e.into())
    }

    /// A run whose runner reports these namespace links (`None`: the runner never reported).
    fn in_ns(links: Option<&[(&str, &str)]>, stderr: &str) -> RunObservation {
        RunObservation {
            stderr: stderr.into(),
            exit: "exit:0".into(),
            runner: links.map(|l| RunnerFacts {
                uid: 998,
                gid: 998,
                seccomp: None,
                no_new_privs: None,
                seccomp_filters: Some("0".into()),
                namespaces: l.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            }),
            ..Default::default()
        }
    }

    fn bwrap_claims() -> ClaimReader {
        serde_yaml::from_str::<crate::model::claim::ClaimSpec>(
            "- {regex: '^bwrap: ', claim: refused, mechanism: namespaces}\n- {regex: 'falling back', mechanism: fallback}\n",
        )
        .unwrap()
        .0
    }

    /// Issue 27: namespaces are seen in the runner's /proc/self/ns links against the control
    /// run's; a sandbox that fell back fails, whatever it said.
    #[test]
    fn the_mechanism_is_what_the_runner_shows() {
        let guest: &[(&str, &str)] = &[("user", "user:[1]"), ("mnt", "mnt:[2]"), ("net", "net:[3]")];
        let boxed: &[(&str, &str)] = &[("user", "user:[9]"), ("mnt", "mnt:[8]"), ("net", "net:[3]")];
        let c = in_ns(Some(guest), "");
        let ok = seen(Mechanism::Namespaces, &c, &in_ns(Some(boxed), ""), &bwrap_claims());
        assert_eq!((ok.failure, ok.enforced.as_str()), (None, "new namespaces: mnt, user"));
        let fell = seen(
            Mechanism::Namespaces,
            &c,
            &in_ns(Some(guest), "warning: falling back to Landlock\n"),
            &bwrap_claims(),
        );
        assert_eq!(
            fell.failure.unwrap(),
            "the command ran in the namespaces of the control run (no /proc/self/ns link differs): the enforcer made no namespace; it said it fell back: `warning: falling back to Landlock`"
        );
        let silent = seen(Mechanism::Namespaces, &c, &in_ns(Some(guest), ""), &bwrap_claims());
        assert!(silent.failure.unwrap().ends_with("made no namespace, and it said nothing about it"));
        let no_proc: &[(&str, &str)] = &[("user", "ENOENT"), ("mnt", "ENOENT")];
        let unread = seen(Mechanism::Namespaces, &c, &in_ns(Some(no_proc), ""), &bwrap_claims());
        assert!(unread.failure.unwrap().contains("give the sandbox a /proc"));
        let refused =
            seen(Mechanism::Namespaces, &c, &in_ns(None, "bwrap: Creating new namespace failed\n"), &bwrap_claims());
        assert!(refused
            .failure
            .unwrap()
            .starts_with("not observed: the probe runner never reported in the enforced run"));
        let filter = seen(Mechanism::Seccomp, &c, &in_ns(Some(boxed), ""), &bwrap_claims());
        assert!(filter.failure.unwrap().starts_with("the command ran under no more seccomp filters"));
    }

    #[test]
    fn own_filter_is_more_filters_than_the_control_run() {
        let run = |n: Option<&str>| RunObservation {
            runner: Some(RunnerFacts {
                uid: 0,
                gid: 0,
                seccomp: None,
                no_new_privs: None,
                seccomp_filters: n.map(String::from),
                namespaces: Default::default(),
            }),
            ..Default::default()
        };
        assert_eq!(own_filter(&run(Some("1")), &run(Some("3"))), Some(true));
        assert_eq!(own_filter(&run(Some("1")), &run(Some("1"))), Some(false));
        assert_eq!(own_filter(&run(Some("1")), &run(Some("EACCES"))), None);
        assert_eq!(own_filter(&RunObservation::default(), &run(Some("2"))), None);
    }

    #[test]
    fn what_landlock_cannot_answer_is_the_filters() {
        let bind = probe(ProbeOp::TcpBind);
        let sandbox = Some(Denier::Sandbox);
        // socket() denied EPERM before any bind: Landlock answers a bind with EACCES only.
        assert_eq!(refine(sandbox, &bind, &Outcome::Ok, &err("EPERM"), true, None, &[]), Some(Denier::Filter));
        let seen = filter_errnos([(&bind, &Outcome::Ok, &err("EPERM"), None)].into_iter());
        assert_eq!(seen, ["EPERM"]);
        // EACCES on a bind: Landlock's, unless the filter was seen answering EACCES.
        assert_eq!(refine(sandbox, &bind, &Outcome::Ok, &err("EACCES"), true, None, &seen), Some(Denier::Landlock));
        let eacces = vec!["EACCES".to_string()];
        assert_eq!(refine(sandbox, &bind, &Outcome::Ok, &err("EACCES"), true, None, &eacces), sandbox);
        // Without a filter of the enforcer's, nothing changes.
        assert_eq!(refine(sandbox, &bind, &Outcome::Ok, &err("EPERM"), false, None, &[]), sandbox);
        // A signal denied EPERM is Landlock's scope, unless the filter answers EPERM here.
        let signal = probe(ProbeOp::Signal);
        assert_eq!(refine(sandbox, &signal, &Outcome::Ok, &err("EPERM"), true, None, &[]), Some(Denier::Landlock));
        assert_eq!(refine(sandbox, &signal, &Outcome::Ok, &err("EPERM"), true, None, &seen), sandbox);
    }

    #[test]
    fn the_syscall_probes_by_their_call() {
        let call = |op, text: &str| Action::Probe {
            op,
            target: ProbeTarget::Call(lockgate_protocol::Call {
                entry: Default::default(),
                nr: 0,
                args: vec![],
                text: text.into(),
            }),
        };
        assert!(!landlock_can(&call(ProbeOp::Socket, "AF_INET SOCK_STREAM"), "EPERM"));
        assert!(!landlock_can(&call(ProbeOp::Syscall, "unshare CLONE_NEWUSER"), "EPERM"));
        assert!(landlock_can(&call(ProbeOp::Syscall, "openat AT_FDCWD 0 0"), "EACCES"));
        assert!(landlock_can(&call(ProbeOp::Syscall, "mount 0 0 0 0 0"), "EPERM"));
        let none = |op| Action::Probe { op, target: ProbeTarget::None };
        // Docker's profile answers clone3 ENOSYS by a rule of its own.
        let rules = vec![("clone3".to_string(), "ENOSYS".to_string()), ("bpf".to_string(), "EPERM".to_string())];
        assert_eq!(profile_errno(&none(ProbeOp::Clone3), &err("ENOSYS"), &rules), Some("ENOSYS"));
        assert_eq!(profile_errno(&none(ProbeOp::Clone3), &err("EPERM"), &rules), None);
        assert_eq!(profile_errno(&none(ProbeOp::Seccomp), &err("ENOSYS"), &rules), None);
        assert_eq!(profile_errno(&call(ProbeOp::Syscall, "bpf 0 0 0"), &err("EPERM"), &rules), Some("EPERM"));
        assert!(landlock_can(&none(ProbeOp::PtraceTraceme), "EPERM"));
        assert!(!landlock_can(&none(ProbeOp::MemfdExec), "EPERM") && landlock_can(&none(ProbeOp::MemfdExec), "EACCES"));
        assert!(!landlock_can(&none(ProbeOp::Seccomp), "EPERM"));
        // A ptrace denied EPERM where the filter was seen answering EPERM: either could have.
        let seen = vec!["EPERM".to_string()];
        let traceme = none(ProbeOp::PtraceTraceme);
        assert_eq!(
            refine(Some(Denier::Sandbox), &traceme, &Outcome::Ok, &err("EPERM"), true, None, &seen),
            Some(Denier::Sandbox)
        );
    }

    /// `syscall connect -1 0 0`: EBADF without the enforcer, EPERM with it. Landlock has a hook on
    /// connect, but none runs for a bad descriptor: the filter's, and the same every time
    /// the probe repeats in a run (rule 3 then sees EPERM as the filter's, which must not turn a
    /// later bad-fd probe into `sandbox`).
    #[test]
    fn a_bad_fd_probe_is_the_filters_every_time() {
        let connect = Action::Probe {
            op: ProbeOp::Syscall,
            target: ProbeTarget::Call(lockgate_protocol::Call {
                entry: Default::default(),
                nr: 42,
                args: vec![u64::MAX, 0, 0],
                text: "connect -1 0 0".into(),
            }),
        };
        let (control, enforced) = (err("EBADF"), err("EPERM"));
        let steps = [(&connect, &control, &enforced, None), (&connect, &control, &enforced, None)];
        let seen = filter_errnos(steps.into_iter());
        assert_eq!(seen, ["EPERM"]);
        for _ in 0..2 {
            assert_eq!(
                refine(Some(Denier::Unknown), &connect, &control, &enforced, true, None, &seen),
                Some(Denier::Filter)
            );
        }
        // Without a filter of the enforcer's the rule does not apply.
        assert_eq!(
            refine(Some(Denier::Unknown), &connect, &control, &enforced, false, None, &[]),
            Some(Denier::Unknown)
        );
        // The same EBADF in both runs: the call's own failure, not a denial by anyone.
        assert_eq!(
            refine(Some(Denier::Operation), &connect, &control, &control, true, None, &seen),
            Some(Denier::Operation)
        );
    }

    /// Under Docker's profile (default EPERM), a ptrace it allows unconditionally denied EPERM in
    /// both runs is Yama's or a capability's, not the profile's; a call it does not allow stays
    /// the profile's.
    #[test]
    fn a_call_the_profile_allows_is_not_its_denial() {
        let none = |op| Action::Probe { op, target: ProbeTarget::None };
        let allowed = vec!["ptrace".to_string(), "socket".to_string()];
        let attach = none(ProbeOp::PtraceAttach);
        assert_eq!(env_errno(&attach, &err("EPERM"), &[], &allowed, Some("EPERM")), None);
        assert_eq!(super::super::attribute(&err("EPERM"), &err("EPERM"), None), Some(Denier::Dac));
        assert_eq!(env_errno(&none(ProbeOp::Bpf), &err("EPERM"), &[], &allowed, Some("EPERM")), Some("EPERM"));
        // A rule of its own for the call still names its errno.
        let rules = vec![("ptrace".to_string(), "ENOSYS".to_string())];
        assert_eq!(env_errno(&attach, &err("ENOSYS"), &rules, &allowed, Some("EPERM")), Some("ENOSYS"));
        // A file probe names no syscall: the default stands.
        assert_eq!(env_errno(&none(ProbeOp::MknodChar), &err("EPERM"), &[], &allowed, Some("EPERM")), Some("EPERM"));
    }

    /// sandbox-runtime's apply-seccomp runs the command in a PID namespace of its own: a signal to
    /// a process outside answers ESRCH, the namespace's doing, not the filter's.
    #[test]
    fn a_process_hidden_by_a_pid_namespace_is_not_the_filters() {
        let run = |ns: Option<&str>| RunObservation {
            runner: Some(RunnerFacts {
                uid: 998,
                gid: 998,
                seccomp: None,
                no_new_privs: None,
                seccomp_filters: None,
                namespaces: ns.map(|l| [("pid".to_string(), l.to_string())].into()).unwrap_or_default(),
            }),
            ..Default::default()
        };
        let (outer, inner) = (Some("pid:[4026531836]"), Some("pid:[4026532201]"));
        assert!(own_pid_ns(&run(outer), &run(inner)));
        assert!(!own_pid_ns(&run(outer), &run(outer)));
        assert!(!own_pid_ns(&run(None), &run(inner)));
        let signal = probe(ProbeOp::Signal);
        assert!(hidden_by_pid_ns(&signal, &err("ESRCH"), true));
        assert!(!hidden_by_pid_ns(&signal, &err("EPERM"), true), "Landlock's scope answers EPERM");
        assert!(!hidden_by_pid_ns(&signal, &err("ESRCH"), false));
        assert!(!hidden_by_pid_ns(&probe(ProbeOp::Socket), &err("ESRCH"), true));
    }

    #[test]
    fn stacked_filters_tell_apart_only_by_a_different_errno() {
        let bind = probe(ProbeOp::TcpBind);
        // The container's profile answers ENOSYS, the enforcer's filter (installed last) EPERM.
        assert_eq!(
            refine(Some(Denier::Unknown), &bind, &err("ENOSYS"), &err("EPERM"), true, Some("ENOSYS"), &[]),
            Some(Denier::Filter)
        );
        assert_eq!(filter_errnos([(&bind, &err("ENOSYS"), &err("EPERM"), Some("ENOSYS"))].into_iter()), ["EPERM"]);
        // The same errno: the profile alone explains it.
        assert_eq!(
            refine(Some(Denier::Seccomp), &bind, &err("EPERM"), &err("EPERM"), true, Some("EPERM"), &[]),
            Some(Denier::Seccomp)
        );
        // A control run failed by itself, and the enforced run got an errno Landlock cannot
        // give for the call: the filter's. One Landlock can give stays unknown.
        assert_eq!(
            refine(Some(Denier::Unknown), &bind, &err("EADDRINUSE"), &err("EPERM"), true, Some("EPERM"), &[]),
            Some(Denier::Filter)
        );
        assert_eq!(
            refine(Some(Denier::Unknown), &bind, &err("EADDRINUSE"), &err("EACCES"), true, None, &[]),
            Some(Denier::Unknown)
        );
    }
}
