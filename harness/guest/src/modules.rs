//! The kernel modules a case needs (overlayfs, for an `overlay` setup path and a container's
//! overlayfs root), loaded before the preflight from what the host staged for this kernel
//! (`MODULES_DIR`): decompressed `.ko` files out of the kernel's own package, in the order the
//! host resolved from their `depends=` (dependencies first). Distribution kernels build
//! overlayfs as a module, and no udev or modprobe runs in the guest to load it on demand.

use crate::errno_text;
use lockgate_protocol::{ModuleLoad, MODULES_DIR};
use std::os::fd::AsRawFd;

/// Loads every staged module, in order; each answer is reported, none stops the others (a
/// module the kernel refuses leaves what depends on it to fail with its own errno).
pub fn load_staged() -> Vec<ModuleLoad> {
    let Ok(order) = std::fs::read_to_string(format!("{MODULES_DIR}/order")) else { return Vec::new() };
    order
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| ModuleLoad { name: name.to_string(), answer: load(&format!("{MODULES_DIR}/{name}.ko")) })
        .collect()
}

/// `finit_module(fd, "", 0)`: the kernel reads the module from the descriptor (the initramfs's
/// copy is uncompressed, so no MODULE_INIT_COMPRESSED_FILE, which older kernels lack).
fn load(path: &str) -> String {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("cannot open {path}: {e}"),
    };
    // SAFETY: finit_module with a descriptor we hold, an empty NUL-terminated parameter string
    // and no flags.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), c"".as_ptr(), 0) };
    if rc == 0 {
        return "loaded".into();
    }
    let errno = nix::errno::Errno::last();
    match errno {
        nix::errno::Errno::EEXIST => "already loaded".into(),
        e => format!("{} ({})", errno_text::name(e), e.desc()),
    }
}

/// Whether the kernel knows overlayfs now (`overlay` in /proc/filesystems: built in, or
/// registered by the module just loaded).
pub fn overlayfs() -> Option<bool> {
    let filesystems = std::fs::read_to_string("/proc/filesystems").ok()?;
    Some(has_filesystem(&filesystems, "overlay"))
}

fn has_filesystem(table: &str, name: &str) -> bool {
    table.lines().any(|l| l.split_whitespace().last() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystems_are_read_from_the_table() {
        let table = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n";
        assert!(has_filesystem(table, "overlay") && has_filesystem(table, "ext4"));
        assert!(!has_filesystem("nodev\ttmpfs\n", "overlay"));
    }
}
