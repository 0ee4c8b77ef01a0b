//! A writer for the "newc" cpio format, the one the kernel unpacks as an initramfs.
//!
//! Entries are written with fixed inode numbers and zero timestamps so that the same inputs give
//! the same bytes (the base image is cached under the digest of its inputs). The kernel accepts
//! several archives concatenated, which is how the per-run plan rides after the cached base.
//!
//! Every archive lands on a merged-/usr root, like the images sandboxes ship in (Debian 12+,
//! Ubuntu 22.04+): `/bin`, `/sbin`, `/lib` and `/lib64` are symlinks into `/usr`, so that a
//! policy copied from a real deployment (`read_only: [/usr, /lib, /etc]`, no `/bin`) covers
//! what the guest runs. Entry names are written where they really are (`/bin/sh` as
//! `usr/bin/sh`): the kernel's unpacker replaces an existing entry of another type, so a later
//! archive's directory `lib` would otherwise delete the `/lib` symlink.

use std::borrow::Cow;

const MAGIC: &str = "070701";

/// The merged-/usr links of the guest's root: (link, target).
pub const MERGED_USR: [(&str, &str); 4] =
    [("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")];

/// Where `name` really is on a merged-/usr root: `/bin/sh` → `/usr/bin/sh`.
pub fn merged_usr(name: &str) -> Cow<'_, str> {
    for (link, target) in MERGED_USR {
        if let Some(rest) = name.strip_prefix(link).filter(|r| r.is_empty() || r.starts_with('/')) {
            return Cow::Owned(format!("/{target}{rest}"));
        }
    }
    Cow::Borrowed(name)
}

pub struct Newc {
    out: Vec<u8>,
    next_ino: u32,
}

pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;

impl Newc {
    pub fn new() -> Newc {
        Newc { out: Vec::new(), next_ino: 1 }
    }

    /// The merged-/usr root: `/usr` and its directories, and the links into them. First in the
    /// first archive, before anything is written under them.
    pub fn merged_usr_root(&mut self) {
        self.raw_entry("/usr", S_IFDIR | 0o755, &[], (0, 0));
        for (link, target) in MERGED_USR {
            self.raw_entry(&format!("/{target}"), S_IFDIR | 0o755, &[], (0, 0));
            self.raw_entry(link, S_IFLNK | 0o777, target.as_bytes(), (0, 0));
        }
    }

    /// `name` is written where it really is on the merged-/usr root.
    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
        let name = merged_usr(name).into_owned();
        self.raw_entry(&name, mode, data, rdev)
    }

    /// `name` is written without its leading `/`, as the kernel expects.
    fn raw_entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
        let name = name.trim_start_matches('/');
        let ino = self.next_ino;
        self.next_ino += 1;
        let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
        let fields = [ino, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.out.extend_from_slice(MAGIC.as_bytes());
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    pub fn dir(&mut self, name: &str, perm: u32) {
        self.entry(name, S_IFDIR | perm, &[], (0, 0));
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, S_IFREG | perm, data, (0, 0));
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, S_IFLNK | 0o777, target.as_bytes(), (0, 0));
    }

    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) {
        self.entry(name, S_IFCHR | perm, &[], (major, minor));
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.raw_entry("TRAILER!!!", 0, &[], (0, 0));
        // Pad to 512 bytes like cpio(1) does; harmless for the kernel, friendlier to tools.
        while !self.out.len().is_multiple_of(512) {
            self.out.push(0);
        }
        self.out
    }
}

impl Default for Newc {
    fn default() -> Self {
        Newc::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_land_under_usr() {
        assert_eq!(merged_usr("/bin/sh"), "/usr/bin/sh");
        assert_eq!(merged_usr("/lib64"), "/usr/lib64");
        assert_eq!(merged_usr("/lib/x86_64-linux-gnu/libc.so.6"), "/usr/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(merged_usr("/library"), "/library");
        assert_eq!(merged_usr("/usr/bin/env"), "/usr/bin/env");
        assert_eq!(merged_usr("/etc/passwd"), "/etc/passwd");
    }

    /// The archive must be readable by the reference implementation, cpio(1), when it is there.
    #[test]
    fn cpio_lists_what_we_wrote() {
        let mut n = Newc::new();
        n.merged_usr_root();
        n.dir("/bin", 0o755);
        n.file("/bin/hello", 0o755, b"#!/bin/sh\necho hi\n");
        n.symlink("/bin/sh", "busybox");
        n.char_dev("/dev/console", 0o600, 5, 1);
        let bytes = n.finish();
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.starts_with(b"070701"));
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-t", "-v"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            // cpio is installed by `cargo xtask test`'s set-up; the byte-level checks above still ran.
            return;
        };
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        for want in ["bin -> usr/bin", "lib64 -> usr/lib64", "usr/bin/hello", "usr/bin/sh -> busybox", "dev/console"] {
            assert!(listing.contains(want), "cpio does not list {want}:\n{listing}");
        }
    }
}
