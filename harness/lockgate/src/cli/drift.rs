//! `lockgate kernels check | update`: pins that outlive the archive. `check` reports every
//! package kernel whose pin is not its line's current build in the archive (the nightly
//! workflow runs it, so drift is seen before a pin vanishes and breaks fresh machines);
//! `update` moves kernels to that build, following the distribution's rename, and shows the old
//! and new names, versions and sha256 before it writes the manifest and the lock.

use crate::model::kernel::{KernelManifest, KernelSource, PackageRef, TarballSource};
use crate::model::{Loaded as Located, Model};
use crate::supply::drift::{Drift, Line, Listed};
use crate::supply::Supply;
use anyhow::{bail, Context, Result};

/// The archive package a kernel is pinned to: its image's, or its source's for a built kernel.
fn pinned_package(k: &KernelManifest) -> Option<&PackageRef> {
    match &k.source {
        KernelSource::Package { package, .. } => Some(package),
        KernelSource::Build(b) => match &b.tarball {
            TarballSource::Package { package, .. } => Some(package),
            TarballSource::Url { .. } => None,
        },
        KernelSource::Url { .. } | KernelSource::Path { .. } => None,
    }
}

/// The kernels asked for (all when none), each with its pinned package; the others are named
/// as not from an archive.
fn selected<'m>(model: &'m Model, asked: &[String]) -> Result<Vec<&'m Located<KernelManifest>>> {
    for a in asked {
        if !model.kernels.iter().any(|k| k.value.name.as_str() == a) {
            let names: Vec<&str> = model.kernels.iter().map(|k| k.value.name.as_str()).collect();
            bail!("no kernel is named `{a}`; known kernels: {}", names.join(", "));
        }
    }
    Ok(model.kernels.iter().filter(|k| asked.is_empty() || asked.iter().any(|a| a == k.value.name.as_str())).collect())
}

/// One line per kernel: the pin and the archive's current build of its line.
fn describe(k: &KernelManifest, pkg: &PackageRef, d: &Drift) -> String {
    let name = k.name.as_str();
    let pin = format!("{}={}", pkg.name, pkg.version);
    match (&d.current, d.moved(pkg), d.pinned_listed) {
        (Some(c), true, true) if k.hold.is_some() => format!(
            "{name:<26} held     {pin} (newest {}={}; held: {})",
            c.name,
            c.version,
            k.hold.as_deref().unwrap_or_default()
        ),
        (None, _, _) => format!("{name:<26} GONE     {pin}: the {} index lists no build of its line", pkg.suite),
        (Some(_), false, _) => format!("{name:<26} current  {pin}"),
        (Some(c), true, true) => {
            format!("{name:<26} behind   {pin} → {}={} (the pin is still listed)", c.name, c.version)
        }
        (Some(c), true, false) => {
            format!("{name:<26} GONE     {pin} → {}={} (the pin has left the {} index)", c.name, c.version, pkg.suite)
        }
    }
}

/// Whether a kernel's pin needs moving: not its line's current build, unless it is held and the
/// archive still lists it. A held build that has left the archive breaks fresh machines all
/// the same.
fn drifts(k: &KernelManifest, pkg: &PackageRef, d: &Drift) -> bool {
    d.current.is_none() || d.moved(pkg) && !(k.hold.is_some() && d.pinned_listed)
}

/// `kernels check`: false (exit 1) when any pin is not its line's current build.
pub(super) fn check(model: &Model, f: &mut Supply, asked: &[String]) -> Result<bool> {
    let mut drifted = Vec::new();
    for k in selected(model, asked)? {
        let k = &k.value;
        let Some(pkg) = pinned_package(k) else {
            println!("{:<26} -        not from an archive ({})", k.name.as_str(), k.source.describe());
            continue;
        };
        let d = f.drift(pkg).with_context(|| format!("kernel `{}`", k.name))?;
        println!("{}", describe(k, pkg, &d));
        if drifts(k, pkg, &d) {
            drifted.push(k.name.to_string());
        }
    }
    if !drifted.is_empty() {
        println!(
            "\n{} kernel(s) pinned to a build that is not the archive's current one: {}. Run `{}` (or name them) to move them, then review the diff",
            drifted.len(),
            drifted.join(", "),
            crate::invocation::command("kernels update --all")
        );
    }
    Ok(drifted.is_empty())
}

/// `kernels update`: move each kernel asked for to its line's current build.
pub(super) fn update(model: &Model, f: &mut Supply, asked: &[String], all: bool, dry_run: bool) -> Result<bool> {
    if asked.is_empty() && !all {
        bail!(
            "name the kernels to move to the archive's current build (`{}`), or give --all",
            crate::invocation::command("kernels update debian-6.1")
        );
    }
    let mut moved = 0;
    for k in selected(model, asked)? {
        let Some(pkg) = pinned_package(&k.value) else {
            if !asked.is_empty() {
                bail!(
                    "kernel `{}` is not from an archive ({}): nothing to update",
                    k.value.name,
                    k.value.source.describe()
                );
            }
            continue;
        };
        let d = f.drift(pkg).with_context(|| format!("kernel `{}`", k.value.name))?;
        println!("{}", describe(&k.value, pkg, &d));
        // A held kernel moves only when named: --all leaves it on its build while it is listed.
        let wanted = if asked.is_empty() { drifts(&k.value, pkg, &d) } else { d.moved(pkg) };
        let Some(current) = d.current.as_ref().filter(|_| wanted) else { continue };
        move_kernel(model, f, k, pkg, current, dry_run)?;
        moved += 1;
    }
    if moved > 0 && !dry_run {
        println!("\nmoved {moved} kernel(s): review the diff of the manifests and the lock; the snapshots of a moved kernel may change with it (run it with --accept after reviewing)");
    }
    Ok(true)
}

/// Shows the change, fetches and verifies the new build (its sha256 from the signed index,
/// checked on download; its image present), then writes the manifest and the lock.
fn move_kernel(
    model: &Model,
    f: &mut Supply,
    k: &Located<KernelManifest>,
    old: &PackageRef,
    current: &Listed,
    dry_run: bool,
) -> Result<()> {
    let line = Line::of(&old.name);
    let (old_part, new_part) = (line.version_part(&old.name), line.version_part(&current.name));
    let new = PackageRef { name: current.name.clone(), version: current.version.clone(), ..old.clone() };
    let old_sha = f.kernel_lock.get(&old.lock_key()).unwrap_or("(not pinned)").to_string();
    println!("  package {} {} → {} {}", old.name, old.version, new.name, new.version);
    println!("  sha256  {old_sha} → {} (the signed index's; checked on download)", current.sha256);
    let mut moved = k.value.clone();
    match &mut moved.source {
        KernelSource::Package { package, image, modules } => {
            let new_image = image.replace(old_part, new_part);
            if new_image != *image {
                println!("  image   {image} → {new_image}");
            }
            if let Some(m) = modules {
                let new_modules = m.replace(old_part, new_part);
                println!("  modules {m} → {new_modules} (pinned by `kernels lock`)");
                *m = new_modules;
            }
            *package = new.clone();
            *image = new_image;
        }
        KernelSource::Build(b) => {
            if let TarballSource::Package { package, .. } = &mut b.tarball {
                *package = new.clone();
            }
            println!("  (a built kernel: the new source is built on its next run, or with `kernels build`)");
        }
        _ => unreachable!("only archive kernels are moved"),
    }
    if dry_run {
        return Ok(());
    }
    let text = std::fs::read_to_string(&k.file).with_context(|| format!("cannot read {}", k.file.display()))?;
    let rewritten = rewrite(&text, old, &new, &k.value, &moved);
    let reparsed: KernelManifest = crate::model::parse_yaml(&k.file, &rewritten)?;
    if pinned_package(&reparsed) != Some(&new) {
        bail!(
            "{}: could not rewrite the manifest for {}={} (edit `source:` by hand)",
            k.file.display(),
            new.name,
            new.version
        );
    }
    // Verify before writing anything: the new pin in memory, the .deb fetched against it.
    f.kernel_lock.set(&new.lock_key(), &current.sha256);
    if let KernelSource::Package { .. } = &moved.source {
        f.kernel(&moved).with_context(|| format!("the new build of `{}`", k.value.name))?;
    } else if let KernelSource::Build(b) = &moved.source {
        f.build_source(b).with_context(|| format!("the new source of `{}`", k.value.name))?;
    }
    let still_used = model
        .kernels
        .iter()
        .any(|o| o.value.name != k.value.name && pinned_package(&o.value).is_some_and(|p| p == old));
    if !still_used {
        f.kernel_lock.remove(&old.lock_key());
    }
    f.kernel_lock.save()?;
    crate::cache::write_atomic(&k.file, rewritten.as_bytes())?;
    println!("  wrote {} and {}", k.file.display(), f.kernel_lock.path().display());
    if k.value.about.contains(old_part) {
        println!("  its `about:` still names {old_part}: review it");
    }
    Ok(())
}

/// The manifest's text with the old package name, version and image replaced by the new ones;
/// comments and layout stay.
fn rewrite(text: &str, old: &PackageRef, new: &PackageRef, was: &KernelManifest, now: &KernelManifest) -> String {
    let mut out = text.replace(&old.name, &new.name);
    for (a, b) in [
        (format!("\"{}\"", old.version), format!("\"{}\"", new.version)),
        (format!("'{}'", old.version), format!("'{}'", new.version)),
        (format!("version: {}\n", old.version), format!("version: {}\n", new.version)),
        (format!("version: {},", old.version), format!("version: {},", new.version)),
        (format!("version: {}}}", old.version), format!("version: {}}}", new.version)),
    ] {
        out = out.replace(&a, &b);
    }
    if let (KernelSource::Package { image: a, .. }, KernelSource::Package { image: b, .. }) = (&was.source, &now.source)
    {
        out = out.replace(&format!("image: {a}"), &format!("image: {b}"));
    }
    if let (KernelSource::Package { modules: Some(a), .. }, KernelSource::Package { modules: Some(b), .. }) =
        (&was.source, &now.source)
    {
        out = out.replace(&format!("modules: {a}"), &format!("modules: {b}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(hold: &str) -> KernelManifest {
        let yaml = format!(
            "name: k\nabi: 1\n{hold}source:\n  package: {{distro: ubuntu, suite: jammy-updates, name: linux-image-unsigned-5.15.0-107-generic, version: '5.15.0-107.117', image: boot/vmlinuz-5.15.0-107-generic}}\n"
        );
        crate::model::parse_yaml(std::path::Path::new("k.yaml"), &yaml).unwrap()
    }

    fn drift(listed: bool, current: &str) -> Drift {
        Drift {
            pinned_listed: listed,
            current: Some(Listed {
                name: format!("linux-image-unsigned-5.15.0-{current}-generic"),
                version: format!("5.15.0-{current}.1"),
                sha256: "0".repeat(64),
            }),
        }
    }

    #[test]
    fn a_held_kernel_drifts_only_once_its_build_has_left_the_archive() {
        let (free, held) = (kernel(""), kernel("hold: the report's build\n"));
        let pkg = pinned_package(&free).unwrap().clone();
        let current = Drift {
            current: Some(Listed { name: pkg.name.clone(), version: pkg.version.clone(), sha256: String::new() }),
            pinned_listed: true,
        };
        assert!(!drifts(&free, &pkg, &current));
        assert!(drifts(&free, &pkg, &drift(true, "204")));
        assert!(!drifts(&held, &pkg, &drift(true, "204")));
        assert!(describe(&held, &pkg, &drift(true, "204")).contains("held     "));
        assert!(drifts(&held, &pkg, &drift(false, "204")));
        assert!(describe(&held, &pkg, &drift(false, "204")).contains("GONE"));
        assert!(drifts(&free, &pkg, &Drift { pinned_listed: false, current: None }));
    }
}
