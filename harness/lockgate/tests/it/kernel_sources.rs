//! Kernel sources without a VM: `url:` (file://, a local HTTP server, unreachable hosts), a
//! wrong sha256 in the lock, a package version the archive does not have. Each failure must be
//! a clear error and leave nothing in the cache.

use lockgate::internals::cache::Cache;
use lockgate::internals::model::kernel::KernelManifest;
use lockgate::internals::supply::guest::workspace_root;
use lockgate::internals::supply::Supply;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct World {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    cache: Cache,
}

/// A repository with lockgate's images/ (for the guest packages) and an empty kernels/ whose
/// lock holds `lock`, and an empty cache.
fn world(lock: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("kernels")).unwrap();
    std::fs::create_dir_all(repo.join("images")).unwrap();
    for f in ["packages.yaml", "lock.yaml"] {
        std::fs::copy(workspace_root().join("images").join(f), repo.join("images").join(f)).unwrap();
    }
    std::fs::write(repo.join("kernels/lock.yaml"), if lock.is_empty() { "{}\n" } else { lock }).unwrap();
    let cache = Cache::at(dir.path().join("cache")).unwrap();
    World { _dir: dir, repo, cache }
}

impl World {
    fn supply(&self, update_lock: bool) -> Supply {
        let mut f = lockgate::internals::supply::for_repo(
            &self.repo,
            &self.repo.join("kernels"),
            self.cache.clone(),
            update_lock,
        )
        .unwrap();
        f.verbose = false;
        f
    }
    fn manifest(&self, yaml: &str) -> KernelManifest {
        let file = self.repo.join("kernels/k.yaml");
        std::fs::write(&file, yaml).unwrap();
        lockgate::internals::model::load_kernel(&file).unwrap()
    }
    fn blobs(&self) -> usize {
        std::fs::read_dir(self.cache.dir("blobs")).unwrap().count()
    }
    fn lock_text(&self) -> String {
        std::fs::read_to_string(self.repo.join("kernels/lock.yaml")).unwrap()
    }
}

fn sha256(bytes: &[u8]) -> String {
    lockgate::internals::cache::sha256_bytes(bytes)
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn a_url_is_refused_until_pinned_then_pinned_by_lock_then_served_from_the_cache() {
    let w = world("");
    let bz = w.repo.join("bzImage");
    std::fs::write(&bz, b"not really a kernel").unwrap();
    let k = w.manifest(&format!("name: k\nabi: 1\nsource: {{url: '{}'}}\n", file_url(&bz)));

    let err = format!("{:#}", w.supply(false).kernel(&k).unwrap_err());
    assert!(err.contains("is not pinned in") && err.contains("`lockgate kernels lock`"), "{err}");
    assert_eq!(w.blobs(), 0, "nothing is cached for an unpinned URL");

    let a = w.supply(true).kernel(&k).unwrap();
    assert_eq!(a.sha256, sha256(b"not really a kernel"));
    let lock = lockgate::internals::supply::lock::LockFile::load(&w.repo.join("kernels/lock.yaml")).unwrap();
    assert_eq!(lock.get(&format!("url:{}", file_url(&bz))), Some(a.sha256.as_str()), "{}", w.lock_text());

    std::fs::remove_file(&bz).unwrap();
    let again = w.supply(false).kernel(&k).unwrap();
    assert_eq!(again.sha256, a.sha256, "the pinned blob comes from the cache, the URL is not read again");
}

#[test]
fn a_wrong_sha256_in_the_lock_is_an_error_and_nothing_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let bz = dir.path().join("bzImage");
    std::fs::write(&bz, b"kernel bytes").unwrap();
    let wrong = "0".repeat(64);
    let w = world(&format!("url:{}: {wrong}\n", file_url(&bz)));
    let k = w.manifest(&format!("name: k\nabi: 1\nsource: {{url: '{}'}}\n", file_url(&bz)));
    for update in [false, true] {
        let err = format!("{:#}", w.supply(update).kernel(&k).unwrap_err());
        assert!(
            err.contains(&format!("the lock file pins sha256 {wrong}")) && err.contains(&sha256(b"kernel bytes")),
            "{err}"
        );
        assert!(err.contains("nothing was cached"), "{err}");
        assert_eq!(w.blobs(), 0);
        assert!(w.lock_text().contains(&wrong), "a mismatch never re-pins, even under `kernels lock`");
    }
}

#[test]
fn an_unreachable_url_fails_fast_naming_the_host_and_caches_nothing() {
    let w = world("");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for (url, host) in [
        (format!("http://127.0.0.1:{closed}/bzImage"), "127.0.0.1"),
        ("https://kernels.invalid/vmlinuz".to_string(), "kernels.invalid"),
    ] {
        let k = w.manifest(&format!("name: k\nabi: 1\nsource: {{url: '{url}'}}\n"));
        let start = Instant::now();
        let err = format!("{:#}", w.supply(true).kernel(&k).unwrap_err());
        assert!(err.contains(&format!("cannot reach {host}")), "{err}");
        assert!(start.elapsed() < Duration::from_secs(15), "{url}: {:?}", start.elapsed());
        assert_eq!(w.blobs(), 0);
        assert!(!w.lock_text().contains("url:"), "nothing is pinned");
    }
}

/// A .deb holding `boot/vmlinuz-9.9` and `boot/config-9.9`, made with dpkg-deb.
fn kernel_deb(dir: &Path) -> PathBuf {
    let root = dir.join("pkg");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: k\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: t\n",
    )
    .unwrap();
    std::fs::write(root.join("boot/vmlinuz-9.9"), b"image").unwrap();
    std::fs::write(
        root.join("boot/config-9.9"),
        "CONFIG_SECURITY_LANDLOCK=y\nCONFIG_LSM=\"yama,landlock\"\nCONFIG_SECCOMP_FILTER=y\n",
    )
    .unwrap();
    let deb = dir.join("k.deb");
    let st = std::process::Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group", "-Zgzip"])
        .arg(&root)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    deb
}

/// Serves `body` over HTTP on 127.0.0.1 for any number of requests.
fn serve(body: Vec<u8>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}/linux-image-9.9_1_amd64.deb")
}

#[test]
fn a_deb_at_a_url_gives_its_image_and_the_host_side_config() {
    let w = world("");
    let dir = tempfile::tempdir().unwrap();
    let url = serve(std::fs::read(kernel_deb(dir.path())).unwrap());
    let k = w.manifest(&format!("name: k\nabi: 1\nsource:\n  url: '{url}'\n  image: boot/vmlinuz-9.9\n"));
    let mut f = w.supply(true);
    let a = f.kernel(&k).unwrap();
    assert_eq!(std::fs::read(&a.path).unwrap(), b"image");
    let c = f.kernel_config(&k).unwrap().expect("the package has boot/config-9.9");
    assert_eq!(
        (c.security_landlock.as_str(), c.lsm.as_deref(), c.seccomp_filter.as_str()),
        ("y", Some("yama,landlock"), "y")
    );
    assert!(c.source.contains("boot/config-9.9"), "{}", c.source);

    let wrong_inner = w.manifest(&format!("name: k\nabi: 1\nsource:\n  url: '{url}'\n  image: boot/vmlinuz-1.0\n"));
    let err = format!("{:#}", w.supply(false).kernel(&wrong_inner).unwrap_err());
    assert!(err.contains("has no boot/vmlinuz-1.0"), "{err}");
}

#[test]
fn a_missing_build_fragment_is_named_with_its_line() {
    let w = world("");
    let file = w.repo.join("kernels/t.yaml");
    std::fs::write(
        &file,
        "name: t\nabi: 2\nsource:\n  build:\n    url: 'https://e.org/linux.tar.xz'\n    fragment: nope.config\n",
    )
    .unwrap();
    let err = format!("{:#}", lockgate::internals::model::load_kernel(&file).unwrap_err());
    assert!(err.contains("t.yaml:6: source.build.fragment:") && err.contains("nope.config does not exist"), "{err}");
}

/// Through apt: needs the archive mirror (as every VM test does). A version the archive's index
/// lacks is named, with what to do; nothing is cached or pinned.
#[test]
fn a_missing_package_version_is_a_clear_error() {
    let w = world("");
    let k = w.manifest(
        "name: k\nabi: 1\nsource:\n  package: {distro: debian, suite: bookworm, name: linux-image-6.1.0-50-cloud-amd64, version: \"0.0-not-in-the-archive\", image: boot/vmlinuz-6.1.0-50-cloud-amd64}\n",
    );
    let err = format!("{:#}", w.supply(true).kernel(&k).unwrap_err());
    crate::common::assert_archive_answered(&err);
    assert!(err.contains("has no linux-image-6.1.0-50-cloud-amd64=0.0-not-in-the-archive"), "{err}");
    assert!(err.contains("pick a version it carries"), "{err}");
    // Never pinned, so it did not "leave" the archive (that message is for pins: kernel_drift.rs).
    assert!(!err.contains("has left the archive"), "{err}");
    assert_eq!(w.blobs(), 0);
    assert!(!w.lock_text().contains("0.0-not-in-the-archive"));
}

/// Through apt: a package pinned with a wrong sha256 is downloaded, refused, and not kept.
#[test]
fn a_package_whose_pin_is_wrong_is_refused() {
    let images_lock = std::fs::read_to_string(workspace_root().join("images/lock.yaml")).unwrap();
    let busybox_key = images_lock
        .lines()
        .find(|l| l.contains("busybox-static"))
        .and_then(|l| l.rsplit_once(": "))
        .map(|(k, _)| k.to_string())
        .unwrap();
    let wrong = "1".repeat(64);
    let w = world(&format!("{busybox_key}: {wrong}\n"));
    let (_, rest) = busybox_key.split_once('/').unwrap();
    let (suite, nv) = rest.split_once('/').unwrap();
    let (name, version) = nv.split_once('=').unwrap();
    let k = w.manifest(&format!("name: k\nabi: 1\nsource:\n  package: {{distro: debian, suite: {suite}, name: {name}, version: \"{version}\", image: bin/busybox}}\n"));
    let err = format!("{:#}", w.supply(false).kernel(&k).unwrap_err());
    crate::common::assert_archive_answered(&err);
    assert!(err.contains(&format!("the lock file pins sha256 {wrong}")) && err.contains("nothing was cached"), "{err}");
    // The guest image's own packages may be cached (the Ubuntu keyring is not needed here);
    // the refused package is not.
    let blobs: Vec<String> = std::fs::read_dir(w.cache.dir("blobs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(blobs.is_empty(), "{blobs:?}");
}

/// `opt_in: true` keeps a kernel out of the default matrix; `--kernel NAME` or `--kernel all`
/// selects it. `matrix: nightly` keeps one out of the default matrix and in `--kernel nightly`.
#[test]
fn opt_in_kernels_run_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let (s, k) = (dir.path().join("scenarios"), dir.path().join("kernels"));
    std::fs::create_dir_all(&s).unwrap();
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(k.join("a.yaml"), "name: a\nabi: 1\nsource: {path: /a}\n").unwrap();
    std::fs::write(k.join("b.yaml"), "name: b\nabi: 4\nopt_in: true\nsource: {url: 'https://example.org/b'}\n")
        .unwrap();
    std::fs::write(k.join("c.yaml"), "name: c\nabi: 5\nmatrix: nightly\nsource: {path: /c}\n").unwrap();
    let model = lockgate::internals::model::load(&s, &lockgate::internals::model::MatrixDirs::beside(&k)).unwrap();
    let names = |asked: &[&str]| -> Vec<String> {
        let asked: Vec<String> = asked.iter().map(|a| a.to_string()).collect();
        lockgate::internals::plan::select_kernels(&model, &asked)
            .unwrap()
            .into_iter()
            .map(|i| model.kernels[i].value.name.to_string())
            .collect()
    };
    assert_eq!(names(&[]), ["a"]);
    assert_eq!(names(&["b"]), ["b"]);
    assert_eq!(names(&["nightly"]), ["a", "c"]);
    assert_eq!(names(&["nightly", "b"]), ["a", "b", "c"]);
    assert_eq!(names(&["all"]), ["a", "b", "c"]);
    let err = lockgate::internals::plan::select_kernels(&model, &["d".to_string()]).unwrap_err().to_string();
    assert!(err.contains("no kernel is named `d`; known kernels: a, b, c, all, nightly"), "{err}");
}
