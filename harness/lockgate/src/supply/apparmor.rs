//! An AppArmor environment's archive: AppArmor's parser from its pinned package, the loader
//! and libraries its ELF headers name from the pinned library packages (Ubuntu's parser wants a
//! newer C library than the guest's), the package's whole `etc/apparmor.d` (the profiles, and
//! the abstractions, tunables and ABI files they include) and the user's own profiles, all under
//! [`APPARMOR_ROOT`] so that nothing of the guest's own is shadowed. The parser runs through
//! the packaged loader, with `--library-path` to the packaged libraries.

use crate::cache::sha256_bytes;
use crate::image::newc::Newc;
use crate::model::apparmor::AppArmorManifest;
use crate::supply::runtime::{resolve, root_of};
use crate::supply::Supply;
use anyhow::{Context, Result};
use lockgate_protocol::{self as proto, APPARMOR_ROOT};
use std::path::{Path, PathBuf};

/// Bump when the archive's layout changes, so cached archives are rebuilt.
const LAYOUT_VERSION: u32 = 1;

const PARSER: &str = "sbin/apparmor_parser";

/// The archive, and what the guest is told to do with it.
pub struct Prepared {
    pub archive: PathBuf,
    pub policy: proto::AppArmor,
}

pub fn prepare(m: &AppArmorManifest, manifest: &Path, supply: &mut Supply) -> Result<Prepared> {
    let a = &m.apparmor;
    let root = root_of(&a.package, manifest, supply)?;
    let parser = std::fs::read(root.join(PARSER))
        .with_context(|| format!("{}: {} has no {PARSER}", manifest.display(), a.package.lock_key()))?;
    let mut lib_roots = Vec::new();
    for pkg in &a.libraries {
        lib_roots.push((pkg.name.clone(), root_of(pkg, manifest, supply)?));
    }
    let libs = resolve(&parser, "apparmor_parser", &lib_roots).with_context(|| {
        format!("apparmor_parser's libraries (the packages under `libraries:` in {})", manifest.display())
    })?;
    let loader = libs
        .iter()
        .find(|l| l.guest.contains("ld-linux"))
        .with_context(|| format!("{}: apparmor_parser names no ELF interpreter", manifest.display()))?;
    let etc = root.join("etc/apparmor.d");
    for name in &a.profiles {
        if !etc.join(name).is_file() {
            anyhow::bail!(
                "{}: apparmor.profiles: {} has no etc/apparmor.d/{name}; name a profile file of the package",
                manifest.display(),
                a.package.lock_key()
            );
        }
    }
    let lib_dir = format!("{APPARMOR_ROOT}/lib");
    let in_lib = |guest: &str| format!("{lib_dir}/{}", guest.rsplit('/').next().unwrap_or(guest));
    let mut a_out = Newc::new();
    for d in ["", "/sbin", "/lib", "/etc", "/local"] {
        a_out.dir(&format!("{APPARMOR_ROOT}{d}"), 0o755);
    }
    a_out.file(&format!("{APPARMOR_ROOT}/{PARSER}"), 0o755, &parser);
    let mut key = format!("apparmor layout {LAYOUT_VERSION}\n{}\n", sha256_bytes(&parser));
    for l in &libs {
        let bytes = std::fs::read(&l.host)?;
        key.push_str(&format!("{} {}\n", l.guest, sha256_bytes(&bytes)));
        a_out.file(&in_lib(&l.guest), 0o755, &bytes);
    }
    add_tree(&mut a_out, &etc, &format!("{APPARMOR_ROOT}/etc/apparmor.d"), &mut key)?;
    let mut profiles: Vec<String> = a.profiles.iter().map(|p| format!("{APPARMOR_ROOT}/etc/apparmor.d/{p}")).collect();
    for (name, file) in a.local_profiles.iter().zip(&a.local_files) {
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let guest = format!("{APPARMOR_ROOT}/local/{}", name.replace('/', "_"));
        key.push_str(&format!("{guest} {}\n", sha256_bytes(&bytes)));
        a_out.file(&guest, 0o644, &bytes);
        profiles.push(guest);
    }
    let archive = supply.cache.dir("images").join(format!("apparmor-{}.cpio", &sha256_bytes(key.as_bytes())[..16]));
    if !archive.exists() {
        crate::cache::write_atomic(&archive, &a_out.finish())?;
    }
    let policy = proto::AppArmor {
        env: m.name.to_string(),
        parser: vec![
            in_lib(&loader.guest),
            "--library-path".into(),
            lib_dir.clone(),
            format!("{APPARMOR_ROOT}/{PARSER}"),
            "--base".into(),
            format!("{APPARMOR_ROOT}/etc/apparmor.d"),
        ],
        profiles,
        restrict_unprivileged_userns: a.restrict_unprivileged_userns,
    };
    Ok(Prepared { archive, policy })
}

/// Every directory, file and symlink under `host`, as `guest`, sorted.
fn add_tree(out: &mut Newc, host: &Path, guest: &str, key: &mut String) -> Result<()> {
    out.dir(guest, 0o755);
    let mut entries: Vec<_> = std::fs::read_dir(host)
        .with_context(|| format!("cannot read {}", host.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let g = format!("{guest}/{name}");
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p)?.to_string_lossy().into_owned();
            key.push_str(&format!("{g} -> {target}\n"));
            out.symlink(&g, &target);
        } else if meta.is_dir() {
            add_tree(out, &p, &g, key)?;
        } else if meta.is_file() {
            let bytes = std::fs::read(&p)?;
            key.push_str(&format!("{g} {}\n", sha256_bytes(&bytes)));
            out.file(&g, 0o644, &bytes);
        }
    }
    Ok(())
}
