//! Seeding the kernel's random pool from the host's seed (`Plan::rng_seed`), so that no case
//! waits for the kernel to gather entropy: the first /dev/urandom read of an unseeded 6.x kernel
//! under TCG waited about a second, charged to whichever case read it first.

/// `RNDADDENTROPY` (`_IOW('R', 0x03, int[2])`): adds bytes to the pool and credits their bits.
const RNDADDENTROPY: libc::c_ulong = 0x4008_5203;

/// Credits `hex` (the plan's seed) to the kernel's pool. Needs CAP_SYS_ADMIN: the agent is
/// root, PID 1. An empty seed does nothing.
pub fn seed(hex: &str) -> Result<(), String> {
    if hex.is_empty() {
        return Ok(());
    }
    let bytes = decode(hex).ok_or_else(|| "the plan's rng_seed is not hex".to_string())?;
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }, as one buffer of
    // 32-bit words: the two counts, then the bytes.
    let mut info = vec![0u32; 2 + bytes.len().div_ceil(4)];
    info[0] = (bytes.len() * 8) as u32;
    info[1] = bytes.len() as u32;
    for (i, b) in bytes.iter().enumerate() {
        info[2 + i / 4] |= u32::from(*b) << (8 * (i % 4));
    }
    let urandom = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/urandom")
        .map_err(|e| format!("cannot open /dev/urandom: {e}"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: the ioctl reads `info`, laid out as struct rand_pool_info with buf_size bytes
    // after the two counts, and the buffer outlives the call.
    match unsafe { libc::ioctl(urandom.as_raw_fd(), RNDADDENTROPY as _, info.as_ptr()) } {
        0 => Ok(()),
        _ => Err(format!("RNDADDENTROPY: {}", std::io::Error::last_os_error())),
    }
}

fn decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_seed_is_hex() {
        assert_eq!(super::decode("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(super::decode("0g"), None);
        assert_eq!(super::decode("abc"), None);
    }
}
