//! The order in which the pool boots kernels: longest first.
//!
//! With a pool of N guests, the run ends when its last boot does; starting the longest boots
//! first keeps a long one from starting last, alone, while the other slots idle (the greedy
//! "longest processing time first" schedule). A kernel's length is its last boot on this host
//! with the same number of cases, remembered in the cache; a kernel never booted here counts as
//! longest, so that it is not the one left for the end.

use crate::cache::Cache;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Wall seconds of the last boot, by `kernel@cases`.
#[derive(Debug, Default)]
pub struct BootTimes {
    path: Option<PathBuf>,
    seconds: BTreeMap<String, f64>,
}

fn key(kernel: &str, cases: usize) -> String {
    format!("{kernel}@{cases}")
}

impl BootTimes {
    /// The times remembered in this cache (none when the file is missing or unreadable: the
    /// order is only a schedule, never a result).
    pub fn load(cache: &Cache) -> BootTimes {
        let path = cache.dir("host").join("boot-times.json");
        let seconds =
            std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        BootTimes { path: Some(path), seconds }
    }

    fn estimate(&self, kernel: &str, cases: usize) -> f64 {
        self.seconds.get(&key(kernel, cases)).copied().unwrap_or(f64::INFINITY)
    }

    /// Indices of `boots` (kernel name, number of cases), longest first; ties keep plan order.
    pub fn longest_first(&self, boots: &[(&str, usize)]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..boots.len()).collect();
        order.sort_by(|&a, &b| {
            let (ea, eb) = (self.estimate(boots[a].0, boots[a].1), self.estimate(boots[b].0, boots[b].1));
            eb.partial_cmp(&ea).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b))
        });
        order
    }

    pub fn record(&mut self, kernel: &str, cases: usize, seconds: f64) {
        self.seconds.insert(key(kernel, cases), seconds);
    }

    /// Writes the times back; a failure only costs the next run its order.
    pub fn save(&self) {
        if let (Some(path), Ok(text)) = (&self.path, serde_json::to_string_pretty(&self.seconds)) {
            let _ = crate::cache::write_atomic(path, text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_known_boot_goes_first_and_unknown_before_it() {
        let mut t = BootTimes::default();
        t.record("tiny", 12, 1.9);
        t.record("sid", 12, 5.5);
        t.record("focal", 12, 3.0);
        // "sid" with 1 case was never timed: unknown, so first.
        let boots = [("tiny", 12), ("focal", 12), ("sid", 12), ("sid", 1)];
        assert_eq!(t.longest_first(&boots), vec![3, 2, 1, 0]);
    }

    #[test]
    fn without_any_times_the_plan_order_stays() {
        let t = BootTimes::default();
        assert_eq!(t.longest_first(&[("a", 1), ("b", 1), ("c", 1)]), vec![0, 1, 2]);
    }
}
