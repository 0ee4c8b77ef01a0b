//! `cargo xtask test`: everything CI runs, phase by phase, and where the time went (the budget
//! is 8 minutes from a fresh clone with the kernel cache warm, issue 30).

use anyhow::{bail, Context, Result};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub fn test() -> Result<bool> {
    let mut took = Phases::default();
    let result = test_phases(&mut took);
    // Where the time went, whatever the outcome.
    let total: f64 = took.0.iter().map(|p| p.seconds).sum();
    let parts: Vec<String> = took.0.iter().map(Phase::to_string).collect();
    eprintln!("\nxtask test: {total:.0}s in all: {}", parts.join(", "));
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

/// The test command's phases: set-up and lint, the build, the unit tests, the integration and
/// VM tests, the mutation gate.
fn test_phases(took: &mut Phases) -> Result<bool> {
    let root = lockgate::internals::guest_build::workspace_root();
    took.time("set-up and lint", || {
        use lockgate::internals::setup;
        setup::ensure_host_tools()?;
        // The VM tests of real enforcers fetch them (npm, gcc) as `enforcers fetch` does.
        setup::ensure_enforcer_tools(&setup::repository_recipes(&root)?)?;
        Ok((crate::lint()?, Vec::new()))
    })?;
    // The whole workspace, guest crates included; the VM tests in harness/lockgate/tests boot
    // real kernels. The integration tests are one binary (harness/lockgate/tests/it), so its
    // VM tests share the test threads: one per core is what the machine can boot at once.
    took.time("build", || cargo_test(&root, &["--no-run"], "build"))?;
    took.time("unit tests", || {
        let (_, mut binaries) = cargo_test(&root, &["--lib", "--bins"], "unit tests")?;
        binaries.extend(cargo_test(&root, &["--doc"], "doc tests")?.1);
        Ok(((), binaries))
    })?;
    took.time("integration and VM tests", || {
        cargo_test(&root, &["--test", "*", "--", "--test-threads=2"], "integration and VM tests")
    })?;
    took.time("mutation gate", || Ok((crate::product(&["known-bad"])?, Vec::new())))
}

/// `cargo test --workspace ARGS` in `root`, its output passed through; each test binary it ran
/// with its seconds, from the line cargo prints as it starts one (`Running …`, `Doc-tests …`)
/// to the next such line or the end.
fn cargo_test(root: &Path, args: &[&str], what: &str) -> Result<((), Vec<(String, f64)>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // cargo's messages (stderr) and the tests' (stdout) on one pipe, in the order they came.
    let (reader, writer) = std::io::pipe().context("cannot make a pipe")?;
    let mut child = {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root).args(["test", "--workspace"]).args(args);
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
    use super::binary_started;

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
