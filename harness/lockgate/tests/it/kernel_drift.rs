//! Pins that outlive the archive, against the real archive: a kernel pinned to a build that
//! Debian's bookworm index no longer lists (`linux-image-6.1.0-47-cloud-amd64` at 6.1.170-1)
//! cannot be fetched, and the error names `kernels update`; `kernels check` reports the drift
//! with exit status 1; `kernels update` moves the manifest to the current build of the same
//! line (the package renamed at Debian's ABI bump, `-47-` → `-50-` or later, the image path
//! with it), pins the sha256 of what it downloaded, and `kernels check` is then clean.

use lockgate::internals::cache::{sha256_file, Cache};
use std::path::Path;
use std::process::Command;

const OLD_NAME: &str = "linux-image-6.1.0-47-cloud-amd64";
const OLD_VERSION: &str = "6.1.170-1";

fn lockgate(project: &Path, cache: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .arg("--project")
        .arg(project)
        .args(args)
        .env("LOCKGATE_CACHE", cache)
        .env_remove("CI")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_vanished_pin_is_named_reported_and_moved_to_the_current_build_of_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (project, cache_dir) = (dir.path().join("project"), dir.path().join("cache"));
    let kernels = project.join("kernels");
    std::fs::create_dir_all(&kernels).unwrap();
    let manifest = kernels.join("old.yaml");
    std::fs::write(
        &manifest,
        format!(
            "name: old\n# a comment the update keeps\nabi: 2\nsource:\n  package:\n    distro: debian\n    suite: bookworm\n    name: {OLD_NAME}\n    version: \"{OLD_VERSION}\"\n    image: boot/vmlinuz-6.1.0-47-cloud-amd64\n"
        ),
    )
    .unwrap();
    let old_digest = "4".repeat(64);
    let old_key = format!("debian/bookworm/{OLD_NAME}={OLD_VERSION}");
    std::fs::write(kernels.join("lock.yaml"), format!("{old_key}: {old_digest}\n")).unwrap();

    // A run that needs the kernel: the archive has no such build, and the error says what to run.
    let cache = Cache::at(cache_dir.clone()).unwrap();
    let mut f = lockgate::internals::supply::for_repo(&project, &kernels, cache.clone(), false).unwrap();
    f.verbose = false;
    let k = lockgate::internals::model::load_kernel(&manifest).unwrap();
    let err = format!("{:#}", f.kernel(&k).unwrap_err());
    // The fetcher holds the cache's fetch lock from its first miss on: let the commands have it.
    drop(f);
    crate::common::assert_archive_answered(&err);
    assert!(err.contains("its pinned build has left the archive"), "{err}");
    assert!(err.contains("Run `lockgate kernels update old`"), "{err}");
    assert!(!err.contains("cargo xtask"), "{err}");

    // The drift report fails, and says where the line went.
    let (code, out) = lockgate(&project, &cache_dir, &["kernels", "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("GONE     {OLD_NAME}={OLD_VERSION} → linux-image-6.1.0-")), "{out}");
    assert!(out.contains("lockgate kernels update --all"), "{out}");

    // The update shows old and new, then writes the manifest and the lock.
    let (code, out) = lockgate(&project, &cache_dir, &["kernels", "update", "old"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("sha256  {old_digest} → ")), "{out}");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("# a comment the update keeps"), "{text}");
    let moved = lockgate::internals::model::load_kernel(&manifest).unwrap();
    let lockgate::internals::model::kernel::KernelSource::Package { package, image, .. } = &moved.source else {
        panic!("{text}")
    };
    let build: u32 = package
        .name
        .strip_prefix("linux-image-6.1.0-")
        .and_then(|r| r.strip_suffix("-cloud-amd64"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not the same line: {}", package.name));
    assert!(build > 47, "{}", package.name);
    assert_eq!(image, &format!("boot/vmlinuz-6.1.0-{build}-cloud-amd64"));
    assert!(out.contains(&format!("package {OLD_NAME} {OLD_VERSION} → {} {}", package.name, package.version)), "{out}");
    let lock = std::fs::read_to_string(kernels.join("lock.yaml")).unwrap();
    assert!(!lock.contains(&old_key), "the vanished pin stays in the lock:\n{lock}");
    let new_key = format!("debian/bookworm/{}={}: ", package.name, package.version);
    let digest = lock.lines().find_map(|l| l.strip_prefix(&new_key)).unwrap_or_else(|| panic!("{lock}"));
    assert!(out.contains(digest), "the new digest is shown before it is written:\n{out}");
    assert_eq!(sha256_file(&cache.blob_path(digest)).unwrap(), digest, "the pin is what was downloaded");

    // Now the pin is the line's current build, and the kernel's image is there.
    let (code, out) = lockgate(&project, &cache_dir, &["kernels", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("current  {}={}", package.name, package.version)), "{out}");
    let mut f = lockgate::internals::supply::for_repo(&project, &kernels, cache, false).unwrap();
    f.verbose = false;
    f.kernel(&moved).expect("the moved kernel's image, from the cache");
}
