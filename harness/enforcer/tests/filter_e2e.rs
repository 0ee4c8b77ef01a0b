//! The seccomp filter end to end on the host kernel: the built `lockgate-enforcer` installs the
//! policy's filter (`seccomp: {openshell: true}`), the command reads its own seccomp state and
//! makes the calls the filter decides, honest and with each filter fault.
//!
//! Needs root, a kernel with seccomp filters and `/usr/bin/python3` (the calls are made through
//! its `ctypes`, so that each is one syscall with its exact errno); otherwise each test says so
//! and passes without checking anything. The command runs as root: the filter needs no drop.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lockgate-enforcer");
const PYTHON: &str = "/usr/bin/python3";

/// Prints `filters=N`, then one `name=errno` (0 when allowed) per call.
const PROBE: &str = r#"
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
status = open("/proc/self/status").read()
print("filters=" + [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp_filters:")][0])
def call(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    print(f"{name}={0 if r >= 0 else ctypes.get_errno()}")
call("inet", 41, socket.AF_INET, socket.SOCK_STREAM, 0)
call("netlink_diag", 41, 16, socket.SOCK_RAW, 4)
call("unshare_user", 272, 0x10000000)
call("clone3", 435, 0, 0)
call("bpf", 321, 0, 0, 0)
"#;

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root");
    }
    if !std::path::Path::new(PYTHON).exists() {
        return Some("no /usr/bin/python3");
    }
    None
}

/// (claim line, the probe's `name=value` lines).
fn run(faults: &[&str]) -> (String, Vec<(String, i64)>) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "filesystem_policy: {read_only: [/]}\nseccomp: {openshell: true}\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("--policy").arg(&policy);
    for f in faults {
        cmd.args(["--fault", f]);
    }
    let out = cmd.args(["--", PYTHON, "-c", PROBE]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let claim =
        stderr.lines().find(|l| l.starts_with("lockgate-enforcer: enforcement=")).unwrap_or_default().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("--- {faults:?}\n{claim}\n{stdout}{stderr}");
    let values = stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.trim().parse().unwrap())))
        .collect();
    (claim, values)
}

fn value(values: &[(String, i64)], name: &str) -> i64 {
    values.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name} in {values:?}")).1
}

const EPERM: i64 = 1;
const ENOSYS: i64 = 38;

#[test]
fn the_honest_filter_is_installed_on_the_command_and_claimed() {
    if let Some(why) = skip_reason() {
        return eprintln!("SKIPPED: {why}");
    }
    let (claim, v) = run(&[]);
    assert!(claim.contains(" filter=on syscalls=27 reason="), "{claim}");
    assert_eq!(value(&v, "filters"), 2, "the ENOSYS filter and the main one");
    assert_eq!(value(&v, "inet"), EPERM, "no network_policies: block mode denies AF_INET");
    assert_eq!(value(&v, "netlink_diag"), EPERM);
    assert_eq!(value(&v, "unshare_user"), EPERM);
    assert_eq!(value(&v, "clone3"), ENOSYS, "so that libc falls back to clone");
    assert_eq!(value(&v, "bpf"), EPERM);
}

#[test]
fn each_filter_fault_leaves_its_hole_under_the_same_claim() {
    if let Some(why) = skip_reason() {
        return eprintln!("SKIPPED: {why}");
    }
    for fault in ["no-filter", "filter-other-thread"] {
        let (claim, v) = run(&[fault]);
        assert!(claim.contains(" filter=on syscalls=27 "), "{fault}: {claim}");
        assert_eq!(value(&v, "filters"), 0, "{fault}");
        assert_ne!(value(&v, "bpf"), EPERM, "{fault}: bpf(0, NULL, 0) reaches the kernel");
    }
    let (_, v) = run(&["inet-allowed"]);
    assert_eq!((value(&v, "inet"), value(&v, "netlink_diag")), (0, EPERM));
    let (_, v) = run(&["all-netlink"]);
    assert_eq!((value(&v, "inet"), value(&v, "netlink_diag")), (EPERM, 0));
    let (_, v) = run(&["clone3-eperm"]);
    assert_eq!((value(&v, "filters"), value(&v, "clone3")), (1, EPERM));
    for fault in ["clone3-unfiltered", "stacked-wrong-order"] {
        let (claim, v) = run(&[fault]);
        assert!(claim.contains(" filter=on "), "{fault}: {claim}");
        assert_eq!(value(&v, "filters"), 1, "{fault}: only the main filter");
        // clone3(NULL, 0) reaches the kernel, which finds the size too small.
        assert_eq!(value(&v, "clone3"), 22, "{fault}");
    }
}
