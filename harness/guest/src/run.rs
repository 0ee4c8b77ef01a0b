//! The two runs of a case: the control run (the probe runner as the plain user, no enforcer)
//! and the enforced run (the enforcer, as root, which starts the probe runner in its sandbox).
//! Both get the steps on stdin, have their output captured, and are killed at a deadline.

use crate::runner::RunnerReport;
use crate::{errno_text, layers, spawn};
use lockgate_protocol::{bounded, bounded_to, Case, Identity, RunObservation, GUEST_BIN, RUN_OUTPUT_LIMIT};
use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What is kept of a run's stdout (the runner's report) and stderr (the enforcer's messages).
const STDOUT_KEPT: usize = 8 << 20;
const STDERR_KEPT: usize = 256 << 10;

/// Stands for the probe runner's argv in an enforcer's argv.
pub const CMD_PLACEHOLDER: &str = "{cmd}";

/// The environment both runs start from: nothing inherited from PID 1.
const CLEAN_ENV: [(&str, &str); 2] = [("PATH", "/bin:/sbin:/usr/bin:/usr/sbin"), ("HOME", "/")];

/// The probe runner's argv after argv[0].
fn runner_args() -> [&'static str; 1] {
    ["run-steps"]
}

/// The enforcer's argv with `{cmd}` replaced by the runner's argv, or the runner's argv
/// appended when no element is `{cmd}`.
pub fn enforcer_argv(argv: &[String]) -> Vec<String> {
    let runner: Vec<String> = std::iter::once(GUEST_BIN).chain(runner_args()).map(String::from).collect();
    if !argv.iter().any(|a| a == CMD_PLACEHOLDER) {
        return argv.iter().cloned().chain(runner).collect();
    }
    argv.iter().flat_map(|a| if a == CMD_PLACEHOLDER { runner.clone() } else { vec![a.clone()] }).collect()
}

/// Resolves a program name like execvp does: names with a slash are used as they are, others
/// are looked up in `path_var`.
pub fn resolve(program: &str, path_var: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    path_var
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: valid C string.
    path.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
}

/// The control run: the probe runner as `identity`, in `workdir`, no enforcer; inside the
/// case's layers when it has some (started as `identity` too: the layers' rule paths are opened
/// as the user).
pub fn control(case: &Case) -> RunObservation {
    runner_as_user(case, true)
}

/// The unlayered run of a case with layers: the control run outside them.
pub fn unlayered(case: &Case) -> RunObservation {
    runner_as_user(case, false)
}

fn runner_as_user(case: &Case, in_layers: bool) -> RunObservation {
    let argv: Vec<String> = std::iter::once("lockgate-guest").chain(runner_args()).map(String::from).collect();
    let (program, argv) = match in_layers {
        true => layers::wrap(case, GUEST_BIN.to_string(), argv),
        false => (GUEST_BIN.to_string(), argv),
    };
    let mut cmd = Command::new(&program);
    cmd.arg0(&argv[0]).args(&argv[1..]).env_clear().envs(CLEAN_ENV);
    open_before(&mut cmd, &case.open_before);
    enter(&mut cmd, Some(&case.identity), &case.workdir, case.chroot.as_deref());
    layers::check(case, execute(cmd, &program, case))
}

/// The enforced run: the enforcer as root in `workdir` (or as the case's identity when its call
/// says `drop_privileges`), with the clean environment plus the enforcer's own variables.
pub fn enforced(case: &Case) -> RunObservation {
    let argv = enforcer_argv(&case.enforcer.argv);
    let Some(program) = argv.first() else {
        return not_started("the enforcer's argv is empty".to_string());
    };
    let mut env: Vec<(String, String)> = CLEAN_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (key, value) in &case.enforcer.env {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    let path_var = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str()).unwrap_or("");
    let Some(resolved) = resolve(program, path_var) else {
        return not_started(format!("cannot start the enforcer: {program} not found in PATH={path_var}"));
    };
    // Inside the case's layers, when it has some: the enforcer starts in that domain.
    let (resolved, argv) = layers::wrap(case, resolved.to_string_lossy().into_owned(), argv.clone());
    let mut cmd = Command::new(&resolved);
    cmd.arg0(&argv[0]).args(&argv[1..]).env_clear().envs(env);
    open_before(&mut cmd, &case.open_before);
    // An enforcer that does not switch users itself starts as the policy's user.
    let identity = case.enforcer.drop_privileges.then_some(&case.identity);
    enter(&mut cmd, identity, &case.workdir, case.chroot.as_deref());
    layers::check(case, execute(cmd, program, case))
}

fn not_started(message: String) -> RunObservation {
    RunObservation { setup_error: Some(message), ..Default::default() }
}

/// Opens each of `paths` O_RDONLY without O_CLOEXEC in the child, before anything else it does
/// (the privilege drop, the exec of the layers or the enforcer): descriptors the run starts
/// with, opened before any sandbox (`Case::open_before`). A path that does not open fails the
/// run's start with its errno.
fn open_before(cmd: &mut Command, paths: &[String]) {
    if paths.is_empty() {
        return;
    }
    let paths: Vec<CString> = paths.iter().map(|p| CString::new(p.as_str()).unwrap_or_default()).collect();
    // SAFETY: the closure runs between fork and exec and only makes raw system calls on data
    // allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for path in &paths {
                if libc::open(path.as_ptr(), libc::O_RDONLY) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Where the run starts: its working directory taken (as root, a path of the guest's root),
/// then the case's root entered with chroot (as root: it needs CAP_SYS_CHROOT), then, when
/// `identity` is given, setgroups, setgid, setuid, and last the working directory entered as
/// that user (fchdir, checked like chdir), so a workdir the user cannot enter fails the run as
/// it would fail the user. A working directory outside the new root stays outside it, as a
/// process that chroots without chdir keeps it (fs_test's `REL_CHROOT_ONLY`).
fn enter(cmd: &mut Command, identity: Option<&Identity>, workdir: &str, root: Option<&str>) {
    let ids = identity.map(|id| (id.groups.clone(), id.uid, id.gid));
    let workdir = CString::new(workdir).unwrap_or_default();
    let root = root.map(|r| CString::new(r).unwrap_or_default());
    // SAFETY: the closure runs between fork and exec and only makes raw system calls on data
    // allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(io::Error::last_os_error());
            let dir = libc::open(workdir.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC);
            if dir < 0 {
                return fail();
            }
            if let Some(root) = &root {
                if libc::chroot(root.as_ptr()) != 0 {
                    return fail();
                }
            }
            if let Some((groups, uid, gid)) = &ids {
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setgid(*gid) != 0
                    || libc::setuid(*uid) != 0
                {
                    return fail();
                }
            }
            if libc::fchdir(dir) != 0 {
                return fail();
            }
            libc::close(dir);
            Ok(())
        });
    }
}

/// Spawns the run in its own process group with piped stdio, feeds it the steps, and turns
/// what came back into an observation. Never invents step results: no output means no steps.
fn execute(mut cmd: Command, what: &str, case: &Case) -> RunObservation {
    let input = match serde_json::to_string(&crate::runner::RunnerInput {
        steps: case.steps.clone(),
        step_seconds: Some(case.limits.step_seconds),
    }) {
        Ok(json) => json,
        Err(e) => return not_started(format!("cannot encode the steps: {e}")),
    };
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let errno = errno_text::name_of_io(&e);
            return not_started(format!("cannot start {what}: {errno} ({e})"));
        }
    };
    let captured = match spawn::supervise(
        &mut child,
        input.as_bytes(),
        // A run still going at the run limit is killed (its whole process group): `timeout`.
        Duration::from_secs(case.limits.run_seconds.into()),
        STDOUT_KEPT,
    ) {
        Ok(c) => c,
        Err(e) => return not_started(format!("lost track of {what}: {e}")),
    };
    let mut stderr = captured.stderr;
    stderr.truncate(STDERR_KEPT);
    let mut obs = RunObservation {
        setup_error: None,
        setup_refused: false,
        exit: captured.end.describe(),
        stderr: bounded_to(&String::from_utf8_lossy(&stderr), RUN_OUTPUT_LIMIT),
        claim_env: None,
        steps: Vec::new(),
        runner: None,
        missing_paths: Vec::new(),
        apparmor_denials: Vec::new(),
        setup_notes: Vec::new(),
    };
    match read_report(&captured.stdout) {
        Ok(Some(report)) => {
            obs.claim_env = report.claim_env;
            obs.steps = report.steps;
            obs.runner = Some(report.facts);
        }
        Ok(None) => {
            // The runner never ran: what the enforcer printed on stdout is its own say (nono
            // logs its refusal there), kept with its stderr, where reasons and claims are read.
            let own = String::from_utf8_lossy(&captured.stdout);
            if !own.trim().is_empty() {
                obs.stderr = bounded_to(&format!("{}{}", obs.stderr, own), RUN_OUTPUT_LIMIT);
            }
        }
        Err(message) => obs.setup_error = Some(message),
    }
    obs
}

/// Parses the runner's report from a run's stdout. Empty stdout: the runner never ran (the
/// enforcer refused to start it). The report is one line; an enforcer that prints on stdout
/// before starting the runner leaves lines before it, so the last line is tried too. Stdout
/// with no line that starts a JSON object holds no report at all: the runner, which always
/// prints one, never ran, and what is there is the enforcer's own (nono logs its refusal on
/// stdout before exiting), which is not a garbled report.
pub fn read_report(stdout: &[u8]) -> Result<Option<RunnerReport>, String> {
    let text = String::from_utf8_lossy(stdout);
    let trimmed = text.trim();
    if !trimmed.lines().any(|l| l.trim_start().starts_with('{')) {
        return Ok(None);
    }
    let whole = serde_json::from_str::<RunnerReport>(trimmed);
    if let Ok(report) = whole {
        return Ok(Some(report));
    }
    let last_line = trimmed.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match serde_json::from_str::<RunnerReport>(last_line) {
        Ok(report) => Ok(Some(report)),
        Err(_) => {
            let err = whole.err().map(|e| e.to_string()).unwrap_or_default();
            Err(format!("runner output unreadable: {err}; stdout was: {}", bounded(trimmed)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmd_placeholder_is_replaced_by_the_runner() {
        assert_eq!(
            enforcer_argv(&strings(&["landrun", "--ro", "/", "--", "{cmd}"])),
            strings(&["landrun", "--ro", "/", "--", GUEST_BIN, "run-steps"])
        );
        assert_eq!(
            enforcer_argv(&strings(&["env", "{cmd}", "--then", "{cmd}"])),
            strings(&["env", GUEST_BIN, "run-steps", "--then", GUEST_BIN, "run-steps"])
        );
    }

    #[test]
    fn runner_is_appended_without_a_placeholder() {
        assert_eq!(
            enforcer_argv(&strings(&["lockgate-enforcer", "--policy", "/p.yaml"])),
            strings(&["lockgate-enforcer", "--policy", "/p.yaml", GUEST_BIN, "run-steps"])
        );
        assert_eq!(enforcer_argv(&[]), strings(&[GUEST_BIN, "run-steps"]));
    }

    #[test]
    fn programs_resolve_like_execvp() {
        assert_eq!(resolve("/x/y", ""), Some(PathBuf::from("/x/y")));
        assert_eq!(resolve("sh", "/nonexistent:/bin"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(resolve("no-such-program-here", "/bin:/usr/bin"), None);
    }

    #[test]
    fn reports_are_read_or_flagged_never_invented() {
        assert_eq!(read_report(b"  \n"), Ok(None));
        let report = crate::runner::run(&[]);
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(read_report(line.as_bytes()), Ok(Some(report.clone())));
        let noisy = format!("enforcer: full enforcement\n{line}\n");
        assert_eq!(read_report(noisy.as_bytes()), Ok(Some(report)));
        let err = read_report(b"{\"facts\":").unwrap_err();
        assert!(err.starts_with("runner output unreadable"), "{err}");
        // Issue 13: an enforcer that logs its refusal on stdout and exits never ran the runner.
        assert_eq!(read_report(b"2026-12-02T19:00:00Z ERROR Sandbox initialization failed: x\n"), Ok(None));
        let err = read_report(b"enforcer: starting\n{\"facts\":").unwrap_err();
        assert!(err.starts_with("runner output unreadable"), "a cut-off report stays flagged: {err}");
    }
}
