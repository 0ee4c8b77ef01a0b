//! What an enforcer binary needs in the guest besides itself: its ELF interpreter and the shared
//! libraries it links (DT_NEEDED, recursively), as the host's own loader resolves them.
//!
//! The binary must be an x86-64 ELF executable (the guest is x86-64), read by lockgate's one ELF
//! reader (`crate::elf`). A static one needs nothing; a dynamic one is listed with
//! `<its PT_INTERP> --list <binary>` (what `ldd` runs), falling back to `ldd`: the host's own
//! loader, with its search path, `ld.so.conf` and `$ORIGIN`, says which files it would load,
//! which no ELF library knows.
//!
//! The guest may hold another C library already (the container runtime brings its own glibc),
//! and a loader must match its libc exactly. So the enforcer's loader and libraries go in a
//! directory of their own ([`PRIVATE_LIB_DIR`]), the guest's copy of the binary names that
//! loader in its PT_INTERP (rewritten in place, as patchelf does when the new path fits), and
//! the enforcer is started with `LD_LIBRARY_PATH` pointing there.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Beside a fetched binary, the directory of the libraries its recipe brings (a `deb:`
/// recipe's `libraries:`): when it holds a loader, that loader lists the binary's libraries,
/// searching there first, and is the one the guest gets.
pub const SYSROOT_DIR: &str = "lib";
const LOADER: &str = "ld-linux-x86-64.so.2";

/// Where an external enforcer's loader and libraries live in the guest.
pub const PRIVATE_LIB_DIR: &str = "/lockgate/lib";
/// Its loader (short enough to replace any usual PT_INTERP in place).
pub const PRIVATE_INTERP: &str = "/lockgate/lib/ld.so";

/// Parses the loader's `--list` (ldd) output into the files to copy. `linux-vdso` has no file;
/// a library the loader could not find is an error naming it.
pub fn parse_list(out: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, rest) = match line.split_once(" => ") {
            Some((n, r)) => (n.trim(), r.trim()),
            None => (line, line),
        };
        if rest.starts_with("not found") {
            missing.push(name.to_string());
            continue;
        }
        let path = rest.split(" (0x").next().unwrap_or(rest).trim();
        if path.starts_with('/') {
            files.push(PathBuf::from(path));
        }
    }
    if !missing.is_empty() {
        return Err(format!("the host's loader cannot find {}", missing.join(", ")));
    }
    Ok(files)
}

/// The host files a binary needs in the guest (its interpreter and libraries), each at the
/// path where the guest must find it. Empty for a static binary.
pub fn dependencies(binary: &Path) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let interp = match crate::elf::read(&bytes) {
        Ok(needs) => needs.interpreter,
        Err(e) => bail!("{}: {e}", binary.display()),
    };
    let Some(interp) = interp else { return Ok(Vec::new()) };
    let sysroot = binary.parent().map(|d| d.join(SYSROOT_DIR)).filter(|d| d.join(LOADER).is_file());
    if let Some(root) = &sysroot {
        let root = std::fs::canonicalize(root)?;
        let loader = root.join(LOADER);
        let out = Command::new(&loader)
            .arg("--library-path")
            .arg(&root)
            .arg("--list")
            .arg(binary)
            .output()
            .with_context(|| format!("cannot start {}", loader.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "cannot list the libraries of {} with its own loader {}: {}",
                binary.display(),
                loader.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut files = parse_list(&text).map_err(|e| anyhow::anyhow!("{}: {e}", binary.display()))?;
        files.retain(|f| f.file_name() != loader.file_name());
        files.push(loader);
        return Ok(files);
    }
    let listed = Command::new(&interp).arg("--list").arg(binary).output();
    let out = match listed {
        Ok(o) if o.status.success() => o,
        _ => Command::new("ldd").arg(binary).output().with_context(|| {
            format!("cannot list the libraries of {}: neither `{interp} --list` nor `ldd` ran", binary.display())
        })?,
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "cannot list the libraries of {} (its loader {interp} said: {}{})",
            binary.display(),
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut files = parse_list(&text).map_err(|e| {
        anyhow::anyhow!("{}: {e}; install them on this host, or link the enforcer statically", binary.display())
    })?;
    let interp = PathBuf::from(interp);
    if !files.contains(&interp) {
        files.push(interp);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_output_is_parsed() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3e)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f3e)\n";
        assert_eq!(
            parse_list(out).unwrap(),
            vec![PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"), PathBuf::from("/lib64/ld-linux-x86-64.so.2")]
        );
        let err = parse_list("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(err.contains("cannot find libfoo.so.1"), "{err}");
    }

    #[test]
    fn a_dynamic_binary_brings_its_loader_and_libc() {
        // /bin/sh on the host is dynamic on every Debian/Ubuntu.
        let interp = crate::elf::read(&std::fs::read("/bin/sh").unwrap()).unwrap().interpreter.unwrap();
        let deps = dependencies(Path::new("/bin/sh")).unwrap();
        assert!(deps.iter().any(|d| d.to_string_lossy().contains("libc.so")), "{deps:?}");
        assert!(deps.contains(&PathBuf::from(interp)));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("enforce.sh");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        assert!(dependencies(&script).unwrap_err().to_string().contains("it is a script"));
    }
}
