//! Image: the guest's initramfs = a cached base archive + a small per-run archive with the plan.

pub mod newc;

use crate::cache::{sha256_bytes, Cache};
use anyhow::{bail, Context, Result};
use lockgate_protocol::{Plan, GUEST_BIN, PLAN_PATH};
use newc::Newc;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when the layout below changes, so cached bases are rebuilt.
const LAYOUT_VERSION: u32 = 2;

/// The binaries the base image is made of, each with its sha256 (known to the caller: the
/// guest build and the fetch have verified them already).
pub struct BaseInputs<'a> {
    pub guest: (&'a Path, &'a str),
    pub enforcer: (&'a Path, &'a str),
    pub busybox: (&'a Path, &'a str),
}

#[derive(Debug, Clone)]
pub struct BaseImage {
    pub path: PathBuf,
    /// Digest of the inputs (names the cached file).
    pub key: String,
    /// Whether this call built it (false: reused from the cache).
    pub built: bool,
}

/// The base archive for these inputs, from the cache or built now.
pub fn base_image(cache: &Cache, inputs: &BaseInputs) -> Result<BaseImage> {
    let digests = [inputs.guest.1, inputs.enforcer.1, inputs.busybox.1];
    let key = sha256_bytes(format!("layout {LAYOUT_VERSION} merged-usr\n{}", digests.join("\n")).as_bytes());
    let path = cache.dir("images").join(format!("base-{}.cpio", &key[..16]));
    if path.exists() {
        return Ok(BaseImage { path, key, built: false });
    }
    let bytes = build_base(inputs)?;
    crate::cache::write_atomic(&path, &bytes)?;
    Ok(BaseImage { path, key, built: true })
}

fn build_base(inputs: &BaseInputs) -> Result<Vec<u8>> {
    let mut a = Newc::new();
    a.merged_usr_root();
    for d in lockgate_protocol::IMAGE_DIRS {
        a.dir(d, if d == "/tmp" { 0o1777 } else { 0o755 });
    }
    // The console must exist before devtmpfs is mounted, or PID 1 starts without stdio.
    a.char_dev("/dev/console", 0o600, 5, 1);
    a.char_dev("/dev/null", 0o666, 1, 3);
    a.char_dev("/dev/ttyS0", 0o600, 4, 64);
    a.char_dev("/dev/ttyS1", 0o600, 4, 65);
    a.file("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n");
    a.file("/etc/group", 0o644, b"root:x:0:\n");
    a.file("/bin/busybox", 0o755, &read(inputs.busybox.0)?);
    for applet in busybox_applets(inputs.busybox.0)? {
        if applet != "/bin/busybox" && !applet.contains("lockgate") {
            a.symlink(&applet, "/bin/busybox");
        }
    }
    a.file(GUEST_BIN, 0o755, &read(inputs.guest.0)?);
    a.file("/bin/lockgate-enforcer", 0o755, &read(inputs.enforcer.0)?);
    a.symlink("/init", GUEST_BIN);
    Ok(a.finish())
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
}

/// Where busybox installs its applets (`/bin/sh`, `/usr/bin/touch`, …), asked of busybox itself.
fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    // The cached blob may lack the execute bit, and busybox picks its applet from argv[0]:
    // run a private copy, called `busybox`.
    let tmp = tempfile::tempdir()?;
    let exe = tmp.path().join("busybox");
    std::fs::copy(busybox, &exe)?;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755))?;
    let out =
        Command::new(&exe).arg("--list-full").output().with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!("{} --list-full failed", busybox.display());
    }
    let mut seen = std::collections::BTreeSet::new();
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| format!("/{}", l.trim()))
        .filter(|l| l.len() > 1 && seen.insert(l.clone()))
        .collect())
}

use std::os::unix::fs::PermissionsExt;

/// The per-run archive: just the plan.
pub fn plan_archive(plan: &Plan) -> Result<Vec<u8>> {
    let mut a = Newc::new();
    a.file(PLAN_PATH, 0o600, serde_json::to_string(plan)?.as_bytes());
    Ok(a.finish())
}

/// base, then extra cached archives (an external enforcer and its libraries), then the plan.
pub fn write_initrd_layers(base: &Path, layers: &[PathBuf], plan: &Plan, dest: &Path) -> Result<()> {
    let mut bytes = read(base)?;
    for layer in layers {
        bytes.extend_from_slice(&read(layer)?);
    }
    bytes.extend_from_slice(&plan_archive(plan)?);
    std::fs::write(dest, bytes).with_context(|| format!("cannot write {}", dest.display()))
}
