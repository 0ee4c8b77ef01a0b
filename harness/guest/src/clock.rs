//! The guest's CLOCK_MONOTONIC, which starts with the kernel and which every PID namespace of
//! the guest shares: timings taken in a container and in the agent are on one scale.

/// Seconds since the kernel started its monotonic clock.
pub fn monotonic() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
