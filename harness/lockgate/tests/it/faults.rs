//! Fault injection for inputs and fetching: every fault is a named error, never a pass, and
//! nothing half-written is left in the cache. VM boots are real (Debian 5.10, the fastest).

use lockgate::internals::cache::Cache;
use lockgate::internals::run::{run, RunOptions};
use lockgate::internals::supply::guest::workspace_root;
use std::path::{Path, PathBuf};
use std::process::Command;

const BULLSEYE_KERNEL: &str = "debian/bullseye/linux-image-5.10.0-32-cloud-amd64=5.10.223-1";

/// A kernels directory holding copies of the real manifests, with `edit` applied to the text
/// of `kernel`'s manifest and `lock_edit` to the lock file.
fn kernels_dir(
    dir: &Path,
    names: &[&str],
    edit: impl Fn(&str, String) -> String,
    lock_edit: impl Fn(String) -> String,
) -> PathBuf {
    let k = dir.join("kernels");
    std::fs::create_dir_all(&k).unwrap();
    for n in names {
        let text = std::fs::read_to_string(workspace_root().join(format!("kernels/{n}.yaml"))).unwrap();
        std::fs::write(k.join(format!("{n}.yaml")), edit(n, text)).unwrap();
    }
    let lock = std::fs::read_to_string(workspace_root().join("kernels/lock.yaml")).unwrap();
    std::fs::write(k.join("lock.yaml"), lock_edit(lock)).unwrap();
    k
}

fn options(kernels: PathBuf) -> RunOptions {
    let mut o = RunOptions::new(workspace_root());
    o.kernels_dir = Some(kernels);
    o.selection.scenarios = vec!["openshell-803".into()];
    o.selection.envs = vec!["bare".into()];
    o.snapshots = false;
    o
}

/// An empty cache at `dir/cache` but for the guest binaries, copied from the shared cache
/// (built there once for every test): these tests are about fetching into an empty cache, and a
/// nested cargo build of the guest per empty cache cost minutes of the test command (issue 30).
/// The host's KVM verdict comes along when the shared cache has one: it is what this host's
/// KVM did, not something fetched, and without it the first boot in the empty cache would
/// wait out the KVM probe's silence (15 s where KVM hangs) before falling back to TCG.
fn fresh_cache(dir: &Path) -> PathBuf {
    let bins = lockgate::internals::supply::guest::build(&lockgate::internals::supply::open_cache(None).unwrap(), true)
        .unwrap();
    let key = bins.guest.parent().and_then(|p| p.file_name()).unwrap();
    let cache = dir.join("cache");
    let to = Cache::at(cache.clone()).unwrap().dir("guest").join(key);
    std::fs::create_dir_all(&to).unwrap();
    for bin in [&bins.guest, &bins.enforcer] {
        std::fs::copy(bin, to.join(bin.file_name().unwrap())).unwrap();
    }
    let verdict = lockgate::internals::supply::open_cache(None).unwrap().dir("host").join("kvm-verdict.json");
    if verdict.exists() {
        let host = Cache::at(cache.clone()).unwrap().dir("host");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::copy(&verdict, host.join("kvm-verdict.json")).unwrap();
    }
    cache
}

/// Files in the cache that are not finished blobs: temporary work left behind.
fn leftovers(cache: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(cache.join("tmp"))
        .map(|d| d.flatten().map(|e| e.path().display().to_string()).collect())
        .unwrap_or_default();
    for e in std::fs::read_dir(cache.join("blobs")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() != 64 {
            out.push(name);
        } else if lockgate::internals::cache::sha256_file(&e.path()).unwrap() != name {
            out.push(format!("{name} (content does not match its name)"));
        }
    }
    out
}

#[test]
fn an_unpinned_or_missing_kernel_is_an_error_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let k = kernels_dir(
        dir.path(),
        &["debian-5.10", "debian-6.12"],
        |n, t| if n == "debian-6.12" { t.replace("6.12.117-1", "6.12.999-1") } else { t },
        |l| l,
    );
    std::fs::write(k.join("mine.yaml"), "name: mine\nabi: 4\nsource: {path: /nonexistent/bzImage}\n").unwrap();
    let r = run(&options(k)).unwrap();
    assert!(!r.ok(), "a run with a kernel that cannot be had must fail");
    let by_kernel = |name: &str| r.cells.iter().find(|c| c.kernel == name).unwrap();
    assert!(by_kernel("debian-5.10").ok(), "the other kernels still run");
    let e = by_kernel("debian-6.12").outcome.as_ref().unwrap_err().to_string();
    assert!(e.contains("is not pinned") && e.contains("`lockgate kernels lock`"), "{e}");
    let e = by_kernel("mine").outcome.as_ref().unwrap_err().to_string();
    assert!(e.contains("/nonexistent/bzImage does not exist"), "{e}");
}

#[test]
fn a_wrong_digest_is_refused_and_nothing_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let k = kernels_dir(
        dir.path(),
        &["debian-5.10"],
        |_, t| t,
        |l| {
            let wrong = "0".repeat(64);
            l.lines()
                .map(|line| {
                    if line.starts_with(BULLSEYE_KERNEL) {
                        format!("{BULLSEYE_KERNEL}: {wrong}")
                    } else {
                        line.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    let cache = fresh_cache(dir.path());
    let mut o = options(k);
    o.cache_dir = Some(cache.clone());
    let r = run(&o).unwrap();
    let e = r.cells[0].outcome.as_ref().unwrap_err().to_string();
    assert!(e.contains("digest mismatch") && e.contains(&"0".repeat(64)) && e.contains("nothing was cached"), "{e}");
    assert!(leftovers(&cache).is_empty(), "{:?}", leftovers(&cache));
    // Only busybox and the keyring-free Debian path were fetched: no kernel blob.
    let blobs = std::fs::read_dir(cache.join("blobs")).unwrap().count();
    assert_eq!(blobs, 2, "busybox's package and its extracted binary, nothing of the refused kernel");
}

#[test]
fn a_version_the_archive_does_not_carry_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(dir.path().join("cache")).unwrap();
    let mut f =
        lockgate::internals::supply::for_repo(&workspace_root(), &workspace_root().join("kernels"), cache, true)
            .unwrap();
    let text = std::fs::read_to_string(workspace_root().join("kernels/debian-5.10.yaml"))
        .unwrap()
        .replace("5.10.223-1", "5.10.0-lockgate-1");
    let file = dir.path().join("k.yaml");
    std::fs::write(&file, text).unwrap();
    let manifest = lockgate::internals::model::load_kernel(&file).unwrap();
    let e = format!("{:#}", f.kernel(&manifest).unwrap_err());
    assert!(e.contains("index has no linux-image-5.10.0-32-cloud-amd64=5.10.0-lockgate-1"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path().join("cache/blobs")).unwrap().count(), 0);
}

/// Two runs at once on an empty cache: the fetch lock serialises them, both pass, and the cache
/// holds only whole, correctly named blobs. Then a corrupted blob is noticed and fetched again.
#[test]
fn two_runs_share_a_fresh_cache_and_a_corrupt_entry_is_refetched() {
    let dir = tempfile::tempdir().unwrap();
    let cache = fresh_cache(dir.path());
    let mut o = options(workspace_root().join("kernels"));
    o.selection.kernels = vec!["debian-5.10".into()];
    o.cache_dir = Some(cache.clone());
    o.jobs = 1;
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&o).unwrap());
        let b = s.spawn(|| run(&o).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.ok() && b.ok(), "{:?}\n{:?}", a.cells, b.cells);
    assert_eq!(a.downloads + b.downloads, 2, "busybox and the kernel, fetched once between the two runs");
    assert!(leftovers(&cache).is_empty(), "{:?}", leftovers(&cache));

    let lock = lockgate::internals::supply::lock::LockFile::load(&workspace_root().join("kernels/lock.yaml")).unwrap();
    let deb = cache.join("blobs").join(lock.get(BULLSEYE_KERNEL).unwrap());
    let index: Vec<PathBuf> = std::fs::read_dir(cache.join("index")).unwrap().flatten().map(|e| e.path()).collect();
    for i in &index {
        // Corrupt every extracted file and the package itself.
        let digest = std::fs::read_to_string(i).unwrap();
        std::fs::write(cache.join("blobs").join(digest.trim()), b"corrupt").unwrap();
    }
    std::fs::write(&deb, b"corrupt").unwrap();
    let again = run(&o).unwrap();
    assert!(again.ok(), "{:?}", again.cells);
    assert!(again.downloads >= 1, "the corrupt entries were fetched again");
    assert!(leftovers(&cache).is_empty(), "{:?}", leftovers(&cache));
}

fn lockgate_with_qemu(qemu: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .args(["run", "--kernel", "debian-5.10", "--no-snapshots"])
        // the binary's project is the directory it runs in: lockgate's own checkout here
        .current_dir(workspace_root())
        .env("LOCKGATE_QEMU", qemu)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_missing_or_old_qemu_is_named() {
    let (code, err) = lockgate_with_qemu("/nonexistent/qemu-system-x86_64");
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot run /nonexistent/qemu-system-x86_64: install QEMU"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("qemu-old");
    std::fs::write(&old, "#!/bin/sh\necho 'QEMU emulator version 5.2.0 (Debian 1:5.2+dfsg-11)'\n").unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, err) = lockgate_with_qemu(old.to_str().unwrap());
    assert_eq!(code, Some(2));
    assert!(err.contains("is version 5.2.0; lockgate needs QEMU 7.2 or newer"), "{err}");
}
