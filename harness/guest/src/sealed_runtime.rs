//! The container runtime, started from a sealed copy made once per boot.
//!
//! runc defends against a container overwriting its binary (CVE-2019-5736) by copying
//! /proc/self/exe into a sealed memfd at the start of every `runc init` — unless /proc/self/exe
//! already is a memfd with the seals runc itself applies (SEAL, SHRINK, GROW, WRITE), which it
//! accepts as "already cloned". Under TCG that copy of a 10 MB binary costs ~0.5 s per container
//! start, and a boot starts one container per environment that uses runc. The agent makes the
//! same sealed copy once per boot and starts the runtime from it: runc still runs from a binary
//! no container can write, and no start copies it again. runc's own check decides; nothing of
//! its behaviour is patched. crun (600 kB) is started the same way, one mechanism for both.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Mutex;

/// The seals runc applies to its own copy, and checks for.
const RUNC_SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Open sealed copies, by the runtime's path. Kept open for the life of the agent: the path
/// handed out names the agent's descriptor.
static COPIES: Mutex<BTreeMap<String, (File, String)>> = Mutex::new(BTreeMap::new());

/// The path to exec for `runtime`: `/proc/<agent>/fd/<n>` of a sealed copy, made at the first
/// call. An error says why no copy could be made (the caller then runs `runtime` itself).
pub fn path_for(runtime: &str) -> Result<String, String> {
    let mut copies = COPIES.lock().map_err(|_| "the sealed-copy table is poisoned".to_string())?;
    if let Some((_, path)) = copies.get(runtime) {
        return Ok(path.clone());
    }
    let copy = sealed_copy(runtime)?;
    let path = format!("/proc/{}/fd/{}", std::process::id(), copy.as_raw_fd());
    copies.insert(runtime.to_string(), (copy, path.clone()));
    Ok(path)
}

fn sealed_copy(runtime: &str) -> Result<File, String> {
    let mut source = File::open(runtime).map_err(|e| format!("cannot open {runtime}: {e}"))?;
    // SAFETY: memfd_create takes a NUL-terminated name and flags, returns a new descriptor.
    let fd = unsafe { libc::memfd_create(c"runc-sealed".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    std::io::copy(&mut source, &mut copy).map_err(|e| format!("cannot copy {runtime}: {e}"))?;
    // SAFETY: fcntl on our own descriptor with integer arguments.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, RUNC_SEALS) } < 0 {
        return Err(format!("cannot seal the copy of {runtime}: {}", std::io::Error::last_os_error()));
    }
    Ok(copy)
}
