//! What a run tells its user while it works: every progress line and message is an [`Event`],
//! emitted wherever it happens (fetch, cache, build, boot) and handed to one [`Sink`]. The
//! wording lives here, in [`Event`]'s `Display`; where it goes is the sink's business (the
//! terminal by default; a test or a tool installs its own with [`set_sink`]). The engine never
//! prints: so a library user, `cargo xtask bench` or a test can take the same run quietly.
//!
//! This module imports nothing of the crate: every other module may emit.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A cached blob failed its digest check and is fetched again.
    CacheCorrupt {
        path: PathBuf,
        actual: String,
    },
    /// Another lockgate run holds the cache's fetch lock.
    WaitingForCache {
        lock: PathBuf,
    },
    Downloading {
        url: String,
    },
    /// A package fetched through apt.
    Fetching {
        name: String,
        version: String,
        distro: String,
        suite: String,
    },
    /// A new digest was recorded in a lock file.
    Pinned {
        key: String,
        digest: String,
        lock: PathBuf,
    },
    /// A step of a kernel build (`1/4 unpacking the source`), or its start.
    Build(String),
    /// A kernel build's compile progress; `in_place` redraws one terminal line.
    BuildProgress {
        kernel: String,
        files: usize,
        percent: Option<usize>,
        elapsed: Duration,
        in_place: bool,
    },
    /// Ends a run of in-place progress lines.
    BuildProgressDone,
    StaleBuildRemoved {
        dir: PathBuf,
    },
    BaseImageBuilt {
        path: PathBuf,
    },
    KvmFallback {
        why: String,
        console: String,
    },
    Booting {
        kernel: String,
        accel: String,
        cases: usize,
    },
    Booted {
        done: usize,
        total: usize,
        kernel: String,
        accel: String,
        wall: Duration,
        ended: String,
    },
    /// The verdicts of the kernels that were ready, shown while the kernels in `building` are
    /// built from source (the whole run's report still comes at its end).
    FirstResults {
        table: String,
        building: Vec<String>,
    },
    /// `--verbose`: where one boot's time went, by the guest's clock.
    GuestTiming(String),
    Interrupted {
        guests: usize,
    },
    ReportWritten {
        what: String,
        path: PathBuf,
    },
    /// Something went wrong that does not change a verdict (a provenance file not written).
    Warning(String),
}

fn mmss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::CacheCorrupt { path, actual } => {
                write!(f, "cache entry {} is corrupt (its sha256 is {actual}); fetching it again", path.display())
            }
            Event::WaitingForCache { lock } => write!(f, "waiting for another lockgate run to finish fetching ({})", lock.display()),
            Event::Downloading { url } => write!(f, "downloading {url}"),
            Event::Fetching { name, version, distro, suite } => write!(f, "fetching {name} {version} ({distro} {suite})"),
            Event::Pinned { key, digest, lock } => write!(f, "pinned {key} = {digest} in {}", lock.display()),
            Event::Build(step) => f.write_str(step),
            Event::BuildProgress { kernel, files, percent, elapsed, .. } => {
                let pct = percent.map(|p| format!(" (~{p}%)")).unwrap_or_default();
                write!(f, "  {kernel}: {files} files compiled{pct}, {}", mmss(*elapsed))
            }
            Event::BuildProgressDone => Ok(()),
            Event::StaleBuildRemoved { dir } => write!(f, "removing {}, left by an interrupted kernel build", dir.display()),
            Event::BaseImageBuilt { path } => write!(f, "built the guest base image {}", path.display()),
            Event::KvmFallback { why, console } => write!(
                f,
                "KVM does not work on this host ({why}; {console}). Falling back to TCG, remembered for this host (--accel kvm forces KVM)"
            ),
            Event::Booting { kernel, accel, cases } => {
                write!(f, "{kernel}: booting under {accel} ({cases} case{})", if *cases == 1 { "" } else { "s" })
            }
            Event::Booted { done, total, kernel, accel, wall, ended } => {
                write!(f, "[{done}/{total}] {kernel}: booted under {accel} in {:.1}s ({ended})", wall.as_secs_f64())
            }
            Event::GuestTiming(text) => f.write_str(text),
            Event::Interrupted { guests } => write!(f, "interrupted; stopped {guests} guest(s)"),
            Event::ReportWritten { what, path } => write!(f, "wrote the {what} to {}", path.display()),
            Event::Warning(text) => f.write_str(text),
            Event::FirstResults { table, building } => write!(
                f,
                "first results, while {} {} built from source (the whole report follows at the end):\n\n{table}",
                building.join(", "),
                if building.len() == 1 { "is" } else { "are" }
            ),
        }
    }
}

/// Where events go.
pub trait Sink: Send + Sync {
    fn event(&self, e: &Event);
}

/// The default: one line per event on stderr, `lockgate: ` first; build progress redrawn in
/// place on a terminal.
pub struct Terminal;

impl Sink for Terminal {
    fn event(&self, e: &Event) {
        let mut err = std::io::stderr().lock();
        let _ = match e {
            Event::BuildProgress { in_place: true, .. } => write!(err, "\r\x1b[Klockgate: {e}"),
            Event::BuildProgressDone => writeln!(err),
            Event::Interrupted { .. } => writeln!(err, "\nlockgate: {e}"),
            _ => writeln!(err, "lockgate: {e}"),
        };
        let _ = err.flush();
    }
}

static SINK: RwLock<Option<Box<dyn Sink>>> = RwLock::new(None);

/// Send every later event to `sink` instead of the terminal.
pub fn set_sink(sink: Box<dyn Sink>) {
    if let Ok(mut s) = SINK.write() {
        *s = Some(sink);
    }
}

pub fn emit(e: Event) {
    match SINK.read() {
        Ok(s) if s.is_some() => s.as_ref().unwrap().event(&e),
        _ => Terminal.event(&e),
    }
}

/// Whether stderr is a terminal (in-place progress lines only make sense there).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Collect(Arc<Mutex<Vec<String>>>);
    impl Sink for Collect {
        fn event(&self, e: &Event) {
            self.0.lock().unwrap().push(e.to_string());
        }
    }

    #[test]
    fn events_reach_the_installed_sink_with_their_wording() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        set_sink(Box::new(Collect(seen.clone())));
        emit(Event::Booting { kernel: "k".into(), accel: "tcg".into(), cases: 1 });
        emit(Event::Booted {
            done: 1,
            total: 2,
            kernel: "k".into(),
            accel: "tcg".into(),
            wall: Duration::from_millis(1500),
            ended: "powered off".into(),
        });
        let seen = seen.lock().unwrap().clone();
        assert!(seen.contains(&"k: booting under tcg (1 case)".to_string()), "{seen:?}");
        assert!(seen.contains(&"[1/2] k: booted under tcg in 1.5s (powered off)".to_string()), "{seen:?}");
    }
}
