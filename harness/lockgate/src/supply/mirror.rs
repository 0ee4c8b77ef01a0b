//! Which archive mirror to ask for a distribution's packages.
//!
//! No host name is written in lockgate: a mirror comes from the user (`LOCKGATE_DEBIAN_MIRROR`,
//! `LOCKGATE_UBUNTU_MIRROR`), else from this machine's own apt sources, else — for Ubuntu on a
//! Debian host — from debootstrap's suite script, which names each distribution's default mirror.

use crate::model::kernel::Distro;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

pub fn mirror_for(distro: Distro, suite: &str) -> Result<String> {
    let var = match distro {
        Distro::Debian => "LOCKGATE_DEBIAN_MIRROR",
        Distro::Ubuntu => "LOCKGATE_UBUNTU_MIRROR",
    };
    if let Ok(m) = std::env::var(var) {
        if !m.is_empty() {
            return Ok(m);
        }
    }
    let tail = match distro {
        Distro::Debian => "debian",
        Distro::Ubuntu => "ubuntu",
    };
    if let Some(m) = host_source_uris().into_iter().find(|u| u.trim_end_matches('/').ends_with(&format!("/{tail}"))) {
        return Ok(m);
    }
    if let Some(m) = debootstrap_default_mirror(suite)? {
        return Ok(m);
    }
    bail!(
        "cannot find a mirror for {distro} ({suite}): this machine's apt sources name none, and debootstrap's script for `{suite}` gives none. \
         Install debootstrap (apt-get install debootstrap) or set {var} to the archive's URL"
    )
}

/// URIs of this machine's apt sources, in both the one-line and the deb822 formats.
fn host_source_uris() -> Vec<String> {
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let mut uris = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("URIs:") {
                uris.extend(rest.split_whitespace().map(String::from));
            } else if let Some(rest) = line.strip_prefix("deb ") {
                // `deb [options] URI suite components`
                let rest = match rest.trim_start().strip_prefix('[') {
                    Some(r) => r.split_once(']').map(|(_, r)| r).unwrap_or(""),
                    None => rest,
                };
                if let Some(uri) = rest.split_whitespace().next() {
                    uris.push(uri.to_string());
                }
            }
        }
    }
    uris
}

/// Runs debootstrap's suite script with stub functions: the script calls `default_mirror URL`
/// for the architecture, which we print.
fn debootstrap_default_mirror(suite: &str) -> Result<Option<String>> {
    let base = suite.split('-').next().unwrap_or(suite);
    let script = Path::new("/usr/share/debootstrap/scripts").join(base);
    if !script.exists() {
        return Ok(None);
    }
    let sh = r#"default_mirror() { echo "$1"; exit 0; }
mirror_style() { :; }; download_style() { :; }; finddebs_style() { :; }; variants() { :; }
keyring() { :; }; force_md5() { :; }; work_out_debs() { :; }; first_stage_install() { :; }
second_stage_install() { :; }; error() { exit 1; }
. "$0"; exit 0"#;
    let out = Command::new("sh")
        .args(["-c", sh])
        .arg(&script)
        .env("ARCH", "amd64")
        .env("SUITE", base)
        .env("DEBOOTSTRAP_DIR", "/usr/share/debootstrap")
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    let m = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(if m.contains("://") { Some(m) } else { None })
}
