//! `cargo xtask test`: everything CI runs, phase by phase, and where the time went (the budget
//! is 8 minutes from a fresh clone with the kernel cache warm, issue 30).

use anyhow::{bail, Context, Result};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub fn test() -> Result<bool> {
    let started = Instant::now();
    let mut took = Phases::default();
    let result = test_phases(&mut took);
    // Where the time went, whatever the outcome.
    let parts: Vec<String> = took.0.iter().map(Phase::to_string).collect();
    eprintln!("\nxtask test: {:.0}s in all: {}", started.elapsed().as_secs_f64(), parts.join(", "));
    result
}

/// One phase of the test command: its name, its seconds, and the test binaries it ran with
/// theirs (slowest first).
struct Phase {
    name: &'static str,
    seconds: f64,
    binaries: Vec<(String, f64)>,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:.0}s", self.name, self.seconds)?;
        if !self.binaries.is_empty() {
            let slowest: Vec<String> = self.binaries.iter().take(3).map(|(b, s)| format!("{b} {s:.0}s")).collect();
            write!(f, " ({})", slowest.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Phases(Vec<Phase>);

impl Phases {
    /// Runs `f` as the phase `name`; `f` returns the test binaries it ran, each with its seconds.
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<(T, Vec<(String, f64)>)>) -> Result<T> {
        let started = Instant::now();
        let result = f();
        let seconds = started.elapsed().as_secs_f64();
        let (result, mut binaries) = match result {
            Ok((value, binaries)) => (Ok(value), binaries),
            Err(e) => (Err(e), Vec::new()),
        };
        binaries.sort_by(|a, b| b.1.total_cmp(&a.1));
        self.0.push(Phase { name, seconds, binaries });
        result
    }
}

/// The test command's phases: set-up and lint, the kernels built from source, the build (with
/// clippy), the unit tests, the integration and VM tests, the mutation gate. One after
/// another: each keeps both cores busy but for its last seconds (the gate beside the build and
/// the tests was tried: the same total, each phase slower), and so each phase's time is its own.
fn test_phases(took: &mut Phases) -> Result<bool> {
    let root = lockgate::internals::supply::guest::workspace_root();
    let driver = clippy_driver();
    let linted = took.time("set-up and lint", || {
        use lockgate::internals::setup;
        setup::ensure_host_tools()?;
        // The VM tests of real enforcers fetch them (npm, gcc) as `enforcers fetch` does.
        setup::ensure_enforcer_tools(&setup::repository_recipes(&root)?)?;
        // The HTML report's test opens it in a headless browser.
        setup::ensure_browser()?;
        // The test of `cargo insta review` on a project's snapshots runs the real cargo-insta.
        setup::ensure_cargo_insta(lockgate::internals::supply::open_cache(None)?.root())?;
        let clippy = if driver.is_some() { crate::Clippy::InTheBuild } else { crate::Clippy::Separately };
        Ok((crate::lint(clippy)?, Vec::new()))
    })?;
    if !linted {
        bail!("the lint failed: its messages above say what to run");
    }
    took.time("kernels", || Ok((build_kernels(&root)?, Vec::new())))?;
    // The whole workspace, guest crates included; the build says where each integration test
    // binary is.
    let name = if driver.is_some() { "build and clippy" } else { "build" };
    let integration = took.time(name, || Ok((build(&root, driver.as_deref())?, Vec::new())))?;
    took.time("unit tests", || {
        let (_, mut binaries) = cargo_test(&root, &["--lib", "--bins"], "unit tests", driver.as_deref())?;
        binaries.extend(cargo_test(&root, &["--doc"], "doc tests", driver.as_deref())?.1);
        Ok(((), binaries))
    })?;
    took.time("integration and VM tests", || run_at_once(&integration))?;
    took.time("mutation gate", || Ok((crate::product(&["known-bad"])?, Vec::new())))
}

/// Every line from `reader` on stdout with `[name] ` before it, each line written whole.
fn pass_through(name: &str, reader: std::io::PipeReader) {
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let mut text = format!("[{name}] {}", String::from_utf8_lossy(&line));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

/// The default matrix's kernels built from source, built now when the cache lacks them (with
/// the tools a build needs, installed as `lockgate kernels build` installs them): from nothing
/// they are most of the command's time, and built here they are a phase of their own rather
/// than a wait inside whichever VM test asks first, where three tests asking at once would each
/// wait on the cache's lock with their deadlines running.
fn build_kernels(root: &Path) -> Result<()> {
    let model = lockgate::internals::model::load(
        &root.join("scenarios"),
        &lockgate::internals::model::MatrixDirs::beside(&root.join("kernels")),
    )?;
    let names: Vec<&str> = model
        .kernels
        .iter()
        .map(|k| &k.value)
        .filter(|k| k.in_default_matrix())
        .filter(|k| matches!(k.source, lockgate::internals::model::kernel::KernelSource::Build(_)))
        .map(|k| k.name.as_str())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    if !crate::product(&["kernels", "build", "--kernel", &names.join(",")])? {
        bail!("kernels build failed (its error is above)");
    }
    Ok(())
}

/// An integration test binary, as the build made it.
struct TestBinary {
    /// `lockgate tests/it/main.rs`: the package and the test's source.
    name: String,
    executable: std::path::PathBuf,
    /// The package's directory: cargo runs a test binary there.
    package_dir: std::path::PathBuf,
}

/// The lint flags `cargo clippy` hands its driver in `CLIPPY_ARGS`, separated as here: its
/// `-- -D warnings`.
const CLIPPY_ARGS: &str = "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__";

/// clippy's driver, if this toolchain has it: the one this xtask was itself compiled through
/// when its caller says so (`.ci/run` sets `RUSTC_WORKSPACE_WRAPPER` and `CLIPPY_ARGS` as
/// [`through_clippy`] does, so that the test build finds lockgate's library compiled already by
/// the xtask's build), else the one beside the cargo that runs the xtask. Either way the two
/// variables leave this process's environment here, at its start: the tests' own builds (an
/// example project, cargo-insta, the guest's) are not this workspace's and get no driver.
fn clippy_driver() -> Option<std::path::PathBuf> {
    let inherited = std::env::var_os("RUSTC_WORKSPACE_WRAPPER").map(std::path::PathBuf::from);
    // Still one thread: nothing reads the environment while it changes.
    std::env::remove_var("RUSTC_WORKSPACE_WRAPPER");
    std::env::remove_var("CLIPPY_ARGS");
    let beside_cargo = std::env::var_os("CARGO").map(|c| std::path::PathBuf::from(c).with_file_name("clippy-driver"));
    inherited.filter(|w| w.file_name().is_some_and(|n| n == "clippy-driver")).or(beside_cargo).filter(|d| d.is_file())
}

/// The workspace's members compiled by clippy's driver, which lints a crate and then compiles
/// it as rustc would: `cargo clippy` checked the whole workspace, dependencies included, and the
/// build then compiled it all again, about a minute of a fresh clone's two cores. The unit and
/// doc tests' cargo gets the same, or it would see the members built by another compiler and
/// build them again.
fn through_clippy(cmd: &mut Command, driver: Option<&Path>) {
    if let Some(driver) = driver {
        cmd.env("RUSTC_WORKSPACE_WRAPPER", driver).env("CLIPPY_ARGS", CLIPPY_ARGS);
    }
}

/// `cargo test --workspace --all-targets --no-run` (the targets `cargo clippy --all-targets`
/// lints; through clippy's driver when there is one), its messages passed through: the
/// integration test binaries it built.
fn build(root: &Path, driver: Option<&Path>) -> Result<Vec<TestBinary>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root).args(["test", "--workspace", "--all-targets", "--locked", "--no-run"]);
    cmd.arg("--message-format=json-render-diagnostics").stderr(std::process::Stdio::inherit());
    through_clippy(&mut cmd, driver);
    let out = cmd.output().context("cannot run cargo test --no-run")?;
    if !out.status.success() {
        bail!("cargo test failed (build)");
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(m) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(exe), Some(manifest)) = (m["executable"].as_str(), m["manifest_path"].as_str()) else { continue };
        if !m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "test")) {
            continue;
        }
        let package_dir = Path::new(manifest).parent().context("a manifest without a directory")?.to_path_buf();
        let src = m["target"]["src_path"].as_str().unwrap_or_default();
        let src = Path::new(src).strip_prefix(&package_dir).map(|p| p.display().to_string()).unwrap_or(src.into());
        let package = package_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        binaries.push(TestBinary { name: format!("{package} {src}"), executable: exe.into(), package_dir });
    }
    if binaries.is_empty() {
        bail!("cargo test --no-run built no integration test binary");
    }
    Ok(binaries)
}

/// The integration test binaries, all at once, each with one test thread more than the machine
/// has cores, their output passed through line by line with the binary's name before it; each
/// binary's seconds. At once: `cargo test` runs them one after another, and the xtask's bench
/// test boots one guest at a time while the other core idled; beside lockgate's VM tests it
/// takes what they leave (a guest that waits for its deadline, a download). One thread more:
/// with as many threads as cores, one core idled through the last ~50 s of the VM tests (CPU
/// sampled every 5 s: about 52% busy) as the last tests ran, and wherever a test waits
/// (a deadline, a download, a QEMU killed from outside). They are the binaries `cargo test`
/// would run, from the directory and with the `CARGO` it gives them.
fn run_at_once(binaries: &[TestBinary]) -> Result<((), Vec<(String, f64)>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let results: Vec<(String, f64, Result<bool>)> = std::thread::scope(|s| {
        let handles: Vec<_> = binaries
            .iter()
            .map(|b| {
                let cargo = &cargo;
                s.spawn(move || {
                    let started = Instant::now();
                    let passed = run_binary(b, cargo);
                    (b.name.clone(), started.elapsed().as_secs_f64(), passed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| ("?".into(), 0.0, Ok(false)))).collect()
    });
    let mut failed = Vec::new();
    let mut times = Vec::new();
    for (name, seconds, passed) in results {
        match passed {
            Ok(true) => {}
            Ok(false) => failed.push(format!("{name} failed")),
            Err(e) => failed.push(format!("{name}: {e:#}")),
        }
        times.push((name, seconds));
    }
    if !failed.is_empty() {
        bail!("integration and VM tests: {}", failed.join("; "));
    }
    Ok(((), times))
}

/// The test threads of each integration binary: the machine's cores and one more.
fn test_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) + 1
}

/// One test binary, its output (stdout and stderr, in order) passed through with its name
/// before each line; whether it passed.
fn run_binary(b: &TestBinary, cargo: &std::ffi::OsStr) -> Result<bool> {
    let (reader, writer) = std::io::pipe().context("cannot make a pipe")?;
    let mut child = {
        let mut cmd = Command::new(&b.executable);
        cmd.current_dir(&b.package_dir)
            .arg(format!("--test-threads={}", test_threads()))
            .env("CARGO", cargo)
            .env("CARGO_MANIFEST_DIR", &b.package_dir);
        cmd.stdout(writer.try_clone().context("cannot make a pipe")?).stderr(writer);
        // This process's ends of the pipe's writer go with the command, at the block's end.
        cmd.spawn().with_context(|| format!("cannot run {}", b.executable.display()))?
    };
    pass_through(&b.name, reader);
    Ok(child.wait().context("cannot wait for a test binary")?.success())
}

/// `cargo test --workspace ARGS` in `root`, its output passed through; each test binary it ran
/// with its seconds, from the line cargo prints as it starts one (`Running …`, `Doc-tests …`)
/// to the next such line or the end.
fn cargo_test(root: &Path, args: &[&str], what: &str, driver: Option<&Path>) -> Result<((), Vec<(String, f64)>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // cargo's messages (stderr) and the tests' (stdout) on one pipe, in the order they came.
    let (reader, writer) = std::io::pipe().context("cannot make a pipe")?;
    let mut child = {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root).args(["test", "--workspace"]).args(args);
        through_clippy(&mut cmd, driver);
        cmd.stdout(writer.try_clone().context("cannot make a pipe")?).stderr(writer);
        // The command, and with it this process's ends of the pipe's writer, goes when the
        // block ends: the reader sees the end when cargo and the tests are done.
        cmd.spawn().context("cannot run cargo test")?
    };
    let mut binaries = Vec::new();
    let mut current: Option<(String, Instant)> = None;
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    let mut out = std::io::stdout();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).context("cannot read cargo test's output")? == 0 {
            break;
        }
        let _ = out.write_all(&line);
        if let Some(name) = binary_started(&String::from_utf8_lossy(&line)) {
            binaries.extend(current.take().map(|(n, at)| (n, at.elapsed().as_secs_f64())));
            current = Some((name, Instant::now()));
        }
    }
    binaries.extend(current.map(|(n, at)| (n, at.elapsed().as_secs_f64())));
    let status = child.wait().context("cannot wait for cargo test")?;
    if !status.success() {
        bail!("cargo test failed ({what})");
    }
    Ok(((), binaries))
}

/// The test binary a line of cargo's names as it starts it: `     Running tests/it/main.rs
/// (target/debug/deps/it-…)` → `tests/it/main.rs`, with the package's directory when cargo
/// gives it (`unittests src/lib.rs`); `   Doc-tests lockgate` → `doc tests lockgate`.
fn binary_started(line: &str) -> Option<String> {
    let line = line.trim();
    if let Some(krate) = line.strip_prefix("Doc-tests ") {
        return Some(format!("doc tests {krate}"));
    }
    let rest = line.strip_prefix("Running ")?;
    let (name, path) = rest.strip_suffix(')')?.split_once(" (")?;
    if !path.contains("/deps/") {
        return None;
    }
    // The binary's file name says its crate for unit tests (`lockgate-…`, `xtask-…`).
    let file = path.rsplit('/').next()?;
    let krate = file.rsplit_once('-').map_or(file, |(k, _)| k);
    Some(match name.strip_prefix("unittests ") {
        Some(src) => format!("{krate} {src}"),
        None => name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::{binary_started, run_at_once, TestBinary};

    fn binary(name: &str, exe: &str) -> TestBinary {
        TestBinary { name: name.into(), executable: exe.into(), package_dir: std::env::temp_dir() }
    }

    /// Binaries run at once, each timed; the phase fails naming the one that failed, and ends
    /// when their output does.
    #[test]
    fn binaries_run_at_once_and_a_failure_is_named() {
        let ((), times) = run_at_once(&[binary("echo", "/bin/echo"), binary("true", "/bin/true")]).unwrap();
        assert_eq!(times.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["echo", "true"]);
        let e = run_at_once(&[binary("echo", "/bin/echo"), binary("false", "/bin/false")]).unwrap_err();
        assert_eq!(format!("{e:#}"), "integration and VM tests: false failed");
    }

    #[test]
    fn the_binary_cargo_starts_is_named() {
        assert_eq!(
            binary_started("     Running tests/it/main.rs (target/debug/deps/it-81a356656be068bd)\n").as_deref(),
            Some("tests/it/main.rs")
        );
        assert_eq!(
            binary_started("     Running unittests src/lib.rs (target/debug/deps/lockgate-c312939b8d35cd5e)")
                .as_deref(),
            Some("lockgate src/lib.rs")
        );
        assert_eq!(binary_started("   Doc-tests lockgate").as_deref(), Some("doc tests lockgate"));
        assert_eq!(binary_started("test vm::a_garbled_record_is_a_harness_error ... ok"), None);
        assert_eq!(binary_started("Running the guest (no binary here)"), None);
    }
}
