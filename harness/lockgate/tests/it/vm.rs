//! VM tests: real kernels booted under QEMU, the real guest agent and enforcer. Nothing is
//! mocked; each test asserts on what the guest observed and on the host's verdict.

use crate::common;

use lockgate::internals::supply::guest::workspace_root;

use lockgate::internals::judge::Status;
use lockgate::internals::model::scenario::Denier;
use lockgate::internals::run::{run, RunOptions, RunReport};
use lockgate_protocol::Fault;
use std::path::Path;
use std::time::Duration;

/// Options for one kernel, bare (container environments have their own tests: containers.rs).
fn options(kernel: &str, scenarios: &[(&str, &str)], dir: &Path) -> RunOptions {
    common::options(&[kernel], &["bare"], scenarios, dir)
}

fn seed() -> String {
    std::fs::read_to_string(workspace_root().join("scenarios/openshell-803.yaml")).unwrap()
}

/// /sandbox is root-owned 0755 and no rule covers it: DAC denies the write, so a scenario that
/// says the *sandbox* denied it must fail.
pub(crate) const DAC_MISLABELLED: &str = r#"
name: dac-mislabelled
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: root, mode: "0755"}]
policy:
  filesystem_policy: {read_only: [/usr, /bin, /lib, /etc], read_write: [/tmp, /sandbox]}
  process: {run_as_user: sandbox}
expect:
  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox}
"#;

fn only_error(r: &RunReport) -> String {
    assert!(!r.ok(), "a faulty run must not pass");
    let errs: Vec<String> = r.cells.iter().filter_map(|c| c.outcome.as_ref().err().map(|e| e.to_string())).collect();
    assert_eq!(errs.len(), r.cells.len(), "every cell of a faulty boot is a harness error: {:?}", r.cells);
    errs[0].clone()
}

#[test]
fn seed_is_denied_by_the_sandbox_and_a_dac_denial_is_not() {
    // The correct enforcer, variant 0 of the shared Ubuntu 6.8 run (`shared::ubuntu_6_8`).
    let shared = crate::shared::ubuntu_6_8();
    let seed = shared.cell("ubuntu-6.8", "bare", "openshell-803", 0);
    let v = seed.outcome.as_ref().unwrap();
    assert!(v.passed(), "{:?}", v.failures());
    assert_eq!(v.landlock, "ABI 4");
    assert_eq!(v.expectations[0].enforced.as_deref(), Some("denied EACCES"));
    assert_eq!(v.expectations[0].control.as_deref(), Some("allowed"));
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Sandbox));
    let dac = shared.cell("ubuntu-6.8", "bare", "dac-mislabelled", 0);
    let v = dac.outcome.as_ref().unwrap();
    assert!(!v.passed());
    assert_eq!(v.expectations[0].status, Status::Fail);
    assert_eq!(v.expectations[0].denied_by, Some(Denier::Dac));
    assert!(
        v.expectations[0].reason.as_ref().unwrap().contains("by dac, not sandbox"),
        "{:?}",
        v.expectations[0].reason
    );
}

/// Guarded on `abi >= 1` only: on a kernel without Landlock every expectation is skipped.
const ONLY_WITH_LANDLOCK: &str = r#"
name: only-with-landlock
setup:
  users: [{name: sandbox, uid: 998}]
  paths: [{path: /sandbox, kind: dir, owner: sandbox, mode: "0755"}]
policy:
  filesystem_policy: {read_only: [/sandbox, /usr, /bin, /lib, /etc], read_write: [/tmp]}
  process: {run_as_user: sandbox}
expect:
  - {run: touch /sandbox/testfile, denied: EACCES, by: sandbox, when: "abi >= 1"}
  - {enforcement: full, when: "abi >= 1"}
"#;

/// On Debian 5.10 (no Landlock) the seed passes by the enforcer's honesty; a scenario whose every
/// expectation is skipped checked nothing: not a pass, and a failure under `CI=true` unless the
/// scenario says it is intended.
#[test]
fn without_landlock_the_enforcer_must_say_it_enforced_nothing() {
    use lockgate::CellState;
    let dir = tempfile::tempdir().unwrap();
    let intended = ONLY_WITH_LANDLOCK.replace("name: only-with-landlock", "name: intended\nmay_skip_all: true");
    let mut o =
        options("debian-5.10", &[("seed", &seed()), ("only", ONLY_WITH_LANDLOCK), ("intended", &intended)], dir.path());
    o.strict = true;
    let r = run(&o).unwrap();
    let cell = |name: &str| r.cells.iter().find(|c| c.scenario == name).unwrap();
    let v = cell("openshell-803").outcome.as_ref().unwrap();
    assert!(v.passed() && !v.checked_nothing(), "{:?}", v.failures());
    assert_eq!(v.landlock, "ENOSYS");
    assert!(v.enforcer_claim.contains("enforcement=none"), "{}", v.enforcer_claim);
    assert_eq!(r.kernels[0].preflight.as_ref().unwrap().landlock.abi(), None);

    let only = cell("only-with-landlock");
    assert_eq!(only.state(), CellState::NothingChecked { fails: true });
    assert!(!only.ok(), "under CI=true a cell that checked nothing fails the run");
    assert!(
        only.problems()[0].contains("checked nothing") && only.problems()[0].contains("may_skip_all"),
        "{:?}",
        only.problems()
    );
    let intended = cell("intended");
    assert_eq!(intended.state(), CellState::NothingChecked { fails: false });
    assert!(intended.ok());
    assert!(!r.ok());
    let table = lockgate::internals::report::table::render(&r.cells);
    assert!(table.contains("NOTHING CHECKED") && table.contains("nothing checked"), "{table}");
    let junit = lockgate::internals::report::junit::render(&r.cells);
    assert!(
        junit.contains(" type=\"nothing-checked\">") && junit.contains("<skipped message=\"checked nothing"),
        "{junit}"
    );
}

#[test]
fn a_manifest_whose_abi_disagrees_is_a_harness_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options("debian-6.12", &[("seed", &seed())], dir.path());
    let kdir = dir.path().join("kernels");
    std::fs::create_dir_all(&kdir).unwrap();
    let manifest = std::fs::read_to_string(workspace_root().join("kernels/debian-6.12.yaml")).unwrap();
    std::fs::write(kdir.join("debian-6.12.yaml"), manifest.replace("abi: 6", "abi: 5")).unwrap();
    std::fs::copy(workspace_root().join("kernels/lock.yaml"), kdir.join("lock.yaml")).unwrap();
    o.kernels_dir = Some(kdir);
    let err = only_error(&run(&o).unwrap());
    assert!(err.contains("says Landlock ABI 5, but the guest's probe answered ABI 6"), "{err}");
}

/// The kernel of the tests of the harness's own failures, which any kernel shows alike: the
/// default matrix's quickest to boot (1.5 s under TCG against debian-6.12's 3.2 s).
const QUICK_KERNEL: &str = "debian-6.12-tiny";

fn faulty(fault: Fault, timeout: Option<u64>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(QUICK_KERNEL, &[("seed", &seed())], dir.path());
    o.guest_fault = Some(fault);
    o.timeout = timeout.map(Duration::from_secs);
    let err = only_error(&run(&o).unwrap());
    assert!(err.contains("--- console tail ---"), "a harness error shows the console tail: {err}");
    err
}

#[test]
fn a_guest_that_never_sends_its_final_record_is_a_harness_error() {
    let err = faulty(Fault::SkipDone, None);
    assert!(err.contains("never sent its final record"), "{err}");
    // Issue 24: what the guest did, and during which case.
    assert!(
        err.contains(
            "the guest powered off before case openshell-803@bare sent its record (0 of 1 cases had sent theirs)"
        ),
        "{err}"
    );
}

#[test]
fn a_garbled_record_is_a_harness_error() {
    let err = faulty(Fault::Garble, None);
    assert!(err.contains("garbled"), "{err}");
}

#[test]
fn a_replayed_record_is_rejected() {
    let err = faulty(Fault::WrongNonce, None);
    assert!(err.contains("stale or replayed"), "{err}");
}

#[test]
fn a_kernel_panic_is_a_harness_error() {
    let err = faulty(Fault::ExitAfterPreflight, None);
    assert!(err.contains("the kernel panicked before case openshell-803@bare sent its record"), "{err}");
    assert!(err.contains("Kernel panic"), "the console tail shows the panic: {err}");
}

#[test]
fn a_hanging_guest_hits_the_deadline() {
    let err = faulty(Fault::Hang, Some(15));
    assert!(err.contains("deadline"), "{err}");
}

#[test]
fn qemu_killed_from_outside_is_a_harness_error() {
    let dir = tempfile::tempdir().unwrap();
    // Not the quick kernel: its whole boot is about as long as the killer's wait.
    let mut o = options("debian-6.12", &[("seed", &seed())], dir.path());
    // A marker on the kernel command line identifies this test's QEMU among concurrent ones.
    let marker = format!("lockgate.test=kill-{}", std::process::id());
    o.extra_cmdline = marker.clone();
    let killer = std::thread::spawn(move || {
        for _ in 0..600 {
            if let Some(pid) = find_process(&marker) {
                std::thread::sleep(Duration::from_millis(1500));
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    let err = only_error(&run(&o).unwrap());
    assert!(killer.join().unwrap(), "the test never found QEMU to kill");
    assert!(err.contains("QEMU was killed by SIGKILL"), "{err}");
}

fn find_process(needle: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.starts_with("qemu-system") && cmd.contains(needle) {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_second_run_downloads_nothing_and_rebuilds_no_image() {
    let dir = tempfile::tempdir().unwrap();
    let o = options("debian-5.10", &[("seed", &seed())], dir.path());
    let first = run(&o).unwrap();
    assert!(first.ok());
    let second = run(&o).unwrap();
    assert!(second.ok());
    assert_eq!(second.downloads, 0, "a warm run downloads nothing");
    assert!(!second.image_built, "a warm run reuses the cached base image");
}

#[test]
fn ctrl_c_stops_every_guest() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .current_dir(workspace_root())
        .args([
            "run",
            "--kernel",
            "debian-6.12",
            "--scenario",
            "openshell-803",
            "--env",
            "bare",
            "--no-snapshots",
            "-j",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let me = child.id();
    let mut qemu = None;
    for _ in 0..1200 {
        qemu = child_qemu(me);
        if qemu.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let qemu = qemu.expect("lockgate never started QEMU");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(me as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "an interrupted run exits 130");
    let gone = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        !Path::new(&format!("/proc/{qemu}")).exists()
            || std::fs::read_to_string(format!("/proc/{qemu}/stat")).is_ok_and(|s| s.contains(") Z "))
    });
    assert!(gone, "QEMU {qemu} outlived the interrupted run");
}

/// A QEMU process whose parent is `parent`.
fn child_qemu(parent: u32) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some((name, rest)) = stat.split_once(") ") else { continue };
        let ppid: u32 = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        if name.contains("qemu-system") && ppid == parent {
            return Some(pid);
        }
    }
    None
}

/// `--shell`, driven as a person would: a command typed in the guest, its output read back,
/// then `exit` powers the guest off and lockgate reports the cell.
#[test]
fn shell_opens_in_the_cells_guest() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lockgate"));
    cmd.current_dir(workspace_root());
    cmd.args([
        "run",
        "--kernel",
        "debian-6.12",
        "--scenario",
        "openshell-803",
        "--env",
        "bare",
        "--no-snapshots",
        "--shell",
    ]);
    let mut p = rexpect::session::spawn_command(cmd, Some(180_000)).unwrap();
    p.exp_string("lockgate-enforcer --policy /lockgate/policy/openshell-803.yaml -- sh").unwrap();
    p.exp_string("lockgate-guest# ").unwrap();
    p.send_line("stat -c '%U %a' /sandbox; echo MARK-$((6*7))").unwrap();
    p.exp_string("sandbox 755").unwrap();
    p.exp_string("MARK-42").unwrap();
    p.send_line("exit").unwrap();
    p.exp_string("1 passed, 0 failed").unwrap();
    p.exp_eof().unwrap();
}
