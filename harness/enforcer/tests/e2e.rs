//! End to end on the host kernel: the built `lockgate-enforcer` runs real commands as `nobody`
//! under a real Landlock ruleset, honest and with each fault.
//!
//! Needs root (to drop to `nobody`) and a kernel with Landlock; otherwise each test says so and
//! passes without checking anything. Every sandbox directory is mode 0777 and a *control run*
//! (same command, same uid, no enforcer) shows DAC allows the operation, so a denial below is
//! Landlock's.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_lockgate-enforcer");
const NOBODY: u32 = 65534;

/// The kernel's Landlock ABI, clamped like the enforcer clamps it (the crate knows ≥ 9).
fn kernel_abi() -> Option<i64> {
    // SAFETY: the version probe reads no memory.
    let v = unsafe { libc::syscall(444, std::ptr::null::<libc::c_void>(), 0usize, 1u32) };
    (v >= 1).then_some(v)
}

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: cannot drop to nobody");
    }
    if kernel_abi().is_none() {
        return Some("kernel has no Landlock");
    }
    if !std::fs::read_to_string("/etc/passwd").unwrap_or_default().lines().any(|l| l.starts_with("nobody:x:65534:")) {
        return Some("no nobody (65534) in /etc/passwd");
    }
    None
}

macro_rules! require_host {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

struct Sandbox {
    dir: tempfile::TempDir,
    /// Policy files live apart from the sandbox dir so that they never matter to the rules.
    policies: tempfile::TempDir,
    written: std::cell::Cell<u32>,
}

struct Run {
    output: Output,
    claim: String,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    fn show(&self, label: &str) {
        eprintln!("--- {label}: exit {:?}\nstdout: {}stderr: {}", self.code(), self.stdout(), self.stderr());
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o777);
        Sandbox { dir, policies: tempfile::tempdir().unwrap(), written: Default::default() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// The policy of the brief: the sandbox and the system read-only, nothing writable.
    fn read_only_policy(&self, extra_read_only: &[&str], tail: &str) -> PathBuf {
        let mut ro = vec![self.root()];
        ro.extend(extra_read_only.iter().map(|s| s.to_string()));
        ro.extend(["/bin", "/usr", "/lib", "/lib64", "/etc"].map(String::from));
        self.policy(&format!(
            "filesystem_policy: {{read_only: [{}], read_write: []}}\nprocess: {{run_as_user: nobody}}\n{tail}",
            ro.join(", ")
        ))
    }

    fn policy(&self, text: &str) -> PathBuf {
        let n = self.written.get() + 1;
        self.written.set(n);
        let path = self.policies.path().join(format!("policy-{n}.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn enforce(&self, policy: &Path, faults: &[&str], script: &str) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.arg("--policy").arg(policy);
        for fault in faults {
            cmd.args(["--fault", fault]);
        }
        let output = cmd.args(["--", "sh", "-c", script]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let claims: Vec<_> = stderr.lines().filter(|l| l.starts_with("lockgate-enforcer: enforcement=")).collect();
        assert_eq!(claims.len(), 1, "exactly one claim line expected:\n{stderr}");
        let claim = claims[0].to_owned();
        Run { output, claim }
    }

    /// The control run: same command as nobody, without the enforcer.
    fn control(&self, script: &str) -> Output {
        Command::new("sh").args(["-c", script]).uid(NOBODY).gid(NOBODY).output().unwrap()
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn full_claim() -> String {
    format!("lockgate-enforcer: enforcement=full abi={} reason=all rules enforced", kernel_abi().unwrap())
}

fn has_no_new_privs() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("NoNewPrivs:") && l.trim_end().ends_with('1'))
}

#[test]
fn honest_enforcer_denies_the_write_that_dac_allows() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    let script = format!("id -u; echo \"$LOCKGATE_ENFORCEMENT\"; touch {}", target.display());

    let control = sb.control(&format!("touch {} && rm {0}", target.display()));
    assert!(control.status.success(), "control run: DAC must allow nobody to write");

    let run = sb.enforce(&sb.read_only_policy(&[], ""), &[], &script);
    run.show("honest");
    assert_eq!(run.claim, full_claim());
    assert_eq!(run.stdout(), format!("65534\nfull abi={}\n", kernel_abi().unwrap()));
    assert_ne!(run.code(), Some(0));
    assert!(run.stderr().contains("Permission denied"), "{}", run.stderr());
    assert!(!target.exists());
}

/// OpenShell #905: in proxy mode (the policy has network policies) the baseline widens the
/// read-only paths; without network policies the same fault changes nothing.
#[test]
fn baseline_rw_fault_makes_read_only_paths_writable_in_proxy_mode() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    let proxy = "network_policies: {api: {name: api, endpoints: [{host: api.example.test, port: 443}]}}\n";
    let run = sb.enforce(&sb.read_only_policy(&[], proxy), &["baseline-rw"], &format!("touch {}", target.display()));
    run.show("baseline-rw");
    assert_eq!(run.claim, full_claim(), "the ruleset is fully enforced: the claim is honest");
    assert_eq!(run.code(), Some(0), "union of rules: the read-only dir became writable");
    assert!(target.exists());
    std::fs::remove_file(&target).unwrap();
    let run = sb.enforce(&sb.read_only_policy(&[], ""), &["baseline-rw"], &format!("touch {}", target.display()));
    run.show("baseline-rw without network policies");
    assert_ne!(run.code(), Some(0), "no proxy mode, no baseline: the read-only dir stays read-only");
    assert!(!target.exists());
}

#[test]
fn ignore_status_fault_is_invisible_where_landlock_works() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    let run = sb.enforce(&sb.read_only_policy(&[], ""), &["ignore-status"], &format!("touch {}", target.display()));
    run.show("ignore-status");
    // This kernel really enforces the ruleset, so the lie happens to be true: the fault is
    // only caught on kernels (or containers) where the status is partial or not enforced.
    assert_eq!(run.claim, full_claim());
    assert_ne!(run.code(), Some(0));
    assert!(!target.exists());
}

#[test]
fn drop_first_fault_runs_unconfined_when_nobody_cannot_open_a_rule_path() {
    require_host!();
    let sb = Sandbox::new();
    // A rule path nobody cannot reach: its parent is root's, mode 0700 (#803's situation).
    let secret = sb.path("secret");
    std::fs::create_dir_all(secret.join("inner")).unwrap();
    chmod(&secret, 0o700);
    let inner = secret.join("inner").display().to_string();
    let policy = sb.read_only_policy(&[&inner], "");
    let target = sb.path("x");
    let script = format!("touch {}", target.display());

    // Honest order: opened as root, everything enforced.
    let honest = sb.enforce(&policy, &[], &script);
    honest.show("honest, same policy");
    assert_eq!(honest.claim, full_claim());
    assert_ne!(honest.code(), Some(0));
    assert!(!target.exists());

    let run = sb.enforce(&policy, &["drop-first"], &script);
    run.show("drop-first");
    assert!(run.stderr().contains("warning: Landlock ruleset not applied (best_effort)"), "{}", run.stderr());
    assert!(run.stderr().contains("Permission denied (os error 13)"));
    assert_eq!(run.claim, full_claim(), "the bug: still claims full");
    assert_eq!(run.code(), Some(0), "and runs unconfined");
    assert!(target.exists());

    // Under hard_requirement the same error is not swallowed.
    std::fs::remove_file(&target).unwrap();
    let hard = sb.read_only_policy(&[&inner], "landlock: {compatibility: hard_requirement}\n");
    let run = sb.enforce(&hard, &["drop-first"], &script);
    run.show("drop-first, hard_requirement");
    assert!(run.claim.contains("enforcement=refused"), "{}", run.claim);
    assert_eq!(run.code(), Some(1));
    assert!(!target.exists());
}

#[test]
fn drop_first_fault_is_harmless_when_every_path_opens() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    let run = sb.enforce(&sb.read_only_policy(&[], ""), &["drop-first"], &format!("touch {}", target.display()));
    run.show("drop-first, reachable paths");
    assert_eq!(run.claim, full_claim());
    assert_ne!(run.code(), Some(0));
    assert!(!target.exists());
}

#[test]
fn no_nnp_fault_swallows_eperm_and_runs_unconfined() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    let run = sb.enforce(&sb.read_only_policy(&[], ""), &["no-nnp"], &format!("touch {}", target.display()));
    run.show("no-nnp");
    assert_eq!(run.claim, full_claim());
    if has_no_new_privs() {
        // Started with no_new_privs already set: restrict_self works, the claim is true.
        assert_ne!(run.code(), Some(0));
        return;
    }
    assert!(
        run.stderr().contains("restrict_self failed, continuing (best_effort)")
            && run.stderr().contains("Operation not permitted"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.code(), Some(0));
    assert!(target.exists());
}

/// abi2 pins V2: truncate(2) (ABI 3) and bind(2) (ABI 4) are not handled. Needs python3 for the
/// raw syscalls (busybox/coreutils `truncate` opens for writing first, which V1 denies anyway).
#[test]
fn abi2_fault_leaves_truncate_and_bind_unrestricted() {
    require_host!();
    if kernel_abi().unwrap() < 4 || !Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: needs ABI >= 4 and /usr/bin/python3");
        return;
    }
    let sb = Sandbox::new();
    let file = sb.path("owned");
    std::fs::write(&file, "data").unwrap();
    chmod(&file, 0o666);
    let script = format!(
        "python3 -c '
import os, socket
try:
    os.truncate(\"{}\", 0); print(\"truncate allowed\")
except OSError as e: print(\"truncate\", e.strerror)
s = socket.socket()
try:
    s.bind((\"127.0.0.1\", 0)); print(\"bind allowed\")
except OSError as e: print(\"bind\", e.strerror)
'",
        file.display()
    );
    // `network: {}`: TCP handled, no port allowed.
    let policy = sb.read_only_policy(&[], "network: {bind_tcp: [], connect_tcp: []}\n");

    let control = sb.control(&script);
    assert_eq!(String::from_utf8_lossy(&control.stdout), "truncate allowed\nbind allowed\n");
    std::fs::write(&file, "data").unwrap();

    let honest = sb.enforce(&policy, &[], &script);
    honest.show("honest");
    assert_eq!(honest.claim, full_claim());
    assert_eq!(honest.stdout(), "truncate Permission denied\nbind Permission denied\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");

    let run = sb.enforce(&policy, &["abi2"], &script);
    run.show("abi2");
    assert_eq!(run.claim, "lockgate-enforcer: enforcement=full abi=2 reason=all rules enforced");
    assert_eq!(run.stdout(), "truncate allowed\nbind allowed\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
}

#[test]
fn network_rules_allow_only_listed_ports() {
    require_host!();
    if kernel_abi().unwrap() < 4 || !Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: needs ABI >= 4 and /usr/bin/python3");
        return;
    }
    let sb = Sandbox::new();
    // Two free ports, found by binding port 0 here and releasing it.
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (allowed, denied) = (free(), free());
    let script = format!(
        "python3 -c '
import socket
for p in ({allowed}, {denied}):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((\"127.0.0.1\", p)); print(p, \"ok\")
    except OSError as e: print(p, e.strerror)
'"
    );
    let policy = sb.read_only_policy(&[], &format!("network: {{bind_tcp: [{allowed}]}}\n"));
    let run = sb.enforce(&policy, &[], &script);
    run.show("network");
    assert_eq!(run.claim, full_claim());
    assert_eq!(run.stdout(), format!("{allowed} ok\n{denied} Permission denied\n"));
}

#[test]
fn hard_requirement_refuses_without_running_the_command() {
    require_host!();
    let sb = Sandbox::new();
    let marker = sb.path("ran");
    let policy = sb.policy(&format!(
        "filesystem_policy: {{read_only: [/nonexistent/lockgate], read_write: [{}]}}\n\
         landlock: {{compatibility: hard_requirement}}\n",
        sb.root()
    ));
    let run = sb.enforce(&policy, &[], &format!("touch {}", marker.display()));
    run.show("hard_requirement");
    assert_eq!(run.code(), Some(1));
    assert!(
        run.claim.starts_with(&format!(
            "lockgate-enforcer: enforcement=refused abi={} reason=cannot open rule path: ",
            kernel_abi().unwrap()
        )),
        "{}",
        run.claim
    );
    assert!(!marker.exists(), "fail closed: the command must not run");

    // best_effort skips the same path and runs, saying so.
    let policy = sb.policy(&format!(
        "filesystem_policy: {{read_only: [/nonexistent/lockgate, /bin, /usr, /lib, /lib64, /etc], read_write: [{}]}}\n",
        sb.root()
    ));
    let run = sb.enforce(&policy, &[], &format!("touch {}", marker.display()));
    run.show("best_effort");
    assert_eq!(run.code(), Some(0));
    assert!(run.claim.contains("enforcement=full") && run.claim.contains("1 unopenable"));
    assert!(marker.exists());
}

#[test]
fn root_is_confined_too_and_exit_status_passes_through() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    // No process section: the command runs as root, and Landlock still applies.
    let policy =
        sb.policy(&format!("filesystem_policy: {{read_only: [{}, /bin, /usr, /lib, /lib64, /etc]}}\n", sb.root()));
    let run = sb.enforce(&policy, &[], &format!("touch {} 2>/dev/null || exit 42", target.display()));
    run.show("root");
    assert_eq!(run.claim, full_claim());
    assert_eq!(run.code(), Some(42));
    assert!(!target.exists());
}

#[test]
fn read_write_and_workdir_rules_allow_writes() {
    require_host!();
    let sb = Sandbox::new();
    let rw = sb.path("rw");
    let wd = sb.path("wd");
    for d in [&rw, &wd] {
        std::fs::create_dir(d).unwrap();
        chmod(d, 0o777);
    }
    let policy = sb.policy(&format!(
        "filesystem_policy: {{read_only: [{}, /bin, /usr, /lib, /lib64, /etc], read_write: [{}], include_workdir: true}}\nprocess: {{run_as_user: nobody}}\n",
        sb.root(),
        rw.display()
    ));
    let output = Command::new(BIN)
        .current_dir(&wd)
        .arg("--policy")
        .arg(&policy)
        .args(["--", "sh", "-c"])
        .arg(format!(
            "touch {0}/a && truncate -s 0 {0}/a && mkdir {0}/d && touch ./b && rm ./b && touch {1}/c",
            rw.display(),
            sb.root()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert!(stderr.contains("enforcement=full"));
    assert!(rw.join("a").exists() && rw.join("d").is_dir());
    // Everything allowed ran; the last write, in the read-only root, was denied.
    assert!(stderr.contains("touch: cannot touch") && stderr.contains("Permission denied"));
    assert!(!sb.path("c").exists());
}

#[test]
fn exec_failure_is_127_and_bad_policies_name_their_line() {
    require_host!();
    let sb = Sandbox::new();
    let policy = sb.read_only_policy(&[], "");
    let output =
        Command::new(BIN).arg("--policy").arg(&policy).args(["--", "no-such-command-lockgate"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(127), "{stderr}");
    assert!(stderr.contains("cannot execute no-such-command-lockgate"));

    let bad = sb.policy("filesystem_policy:\n  read_only: [/usr]\nproces: {}\n");
    let output = Command::new(BIN).arg("--policy").arg(&bad).args(["--", "true"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:3:1: unknown field `proces`", bad.display())), "{stderr}");
    assert!(!stderr.contains("enforcement="), "nothing attempted, no claim");
}

#[test]
fn version_and_help() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("lockgate-enforcer {}\n", env!("CARGO_PKG_VERSION")));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for fault in ["drop-first", "ignore-status", "abi2", "baseline-rw", "no-nnp"] {
        assert!(help.contains(fault), "{help}");
    }
}

/// Runs the enforcer under a seccomp filter that fails the three Landlock syscalls (444–446)
/// with `errno`, as runc's stub does for a profile that predates them (ENOSYS) or as a profile
/// without the stub does (EPERM) — DESIGN §1. The kernel still has Landlock; only the enforcer
/// cannot reach it.
fn enforce_blocked(errno: i32, policy: &Path, faults: &[&str], script: &str) -> Run {
    let filter = [
        // A = syscall number
        bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        // 444 <= A <= 446 → errno, else allow
        bpf(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, 0, 2, 444),
        bpf(libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K, 1, 0, 446),
        bpf(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ERRNO | errno as u32),
        bpf(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let mut cmd = Command::new(BIN);
    cmd.arg("--policy").arg(policy);
    for fault in faults {
        cmd.args(["--fault", fault]);
    }
    cmd.args(["--", "sh", "-c", script]);
    // SAFETY: the closure only calls prctl on data that outlives it.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
            // As root (CAP_SYS_ADMIN) no no_new_privs is needed, as with runc.
            if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let claim = stderr
        .lines()
        .find(|l| l.starts_with("lockgate-enforcer: enforcement="))
        .unwrap_or_else(|| panic!("no claim line:\n{stderr}"))
        .to_owned();
    Run { output, claim }
}

fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

#[test]
fn blocked_landlock_is_claimed_none_and_hard_requirement_refuses() {
    require_host!();
    let sb = Sandbox::new();
    let target = sb.path("x");
    let script = format!("touch {}", target.display());
    let best = sb.read_only_policy(&[], "");
    let hard = sb.read_only_policy(&[], "landlock: {compatibility: hard_requirement}\n");

    for (errno, reason) in
        [(libc::ENOSYS, "kernel has no Landlock (ENOSYS)"), (libc::EPERM, "Landlock blocked (EPERM)")]
    {
        // best_effort: runs unconfined, and says so.
        let run = enforce_blocked(errno, &best, &[], &script);
        run.show(reason);
        assert_eq!(run.claim, format!("lockgate-enforcer: enforcement=none abi=none reason={reason}"));
        assert_eq!(run.code(), Some(0));
        assert!(target.exists());
        std::fs::remove_file(&target).unwrap();

        // hard_requirement: fails closed.
        let run = enforce_blocked(errno, &hard, &[], &script);
        run.show(&format!("{reason}, hard_requirement"));
        assert_eq!(run.claim, format!("lockgate-enforcer: enforcement=refused abi=none reason={reason}"));
        assert_eq!(run.code(), Some(1));
        assert!(!target.exists());

        // ignore-status: the lie lockgate must catch — "full", unconfined.
        let run = enforce_blocked(errno, &best, &["ignore-status"], &script);
        run.show(&format!("{reason}, ignore-status"));
        assert_eq!(run.claim, "lockgate-enforcer: enforcement=full abi=none reason=all rules enforced");
        assert_eq!(run.code(), Some(0));
        assert!(target.exists());
        std::fs::remove_file(&target).unwrap();
    }
}
