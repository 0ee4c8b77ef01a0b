//! Boot: the pool that boots one guest per kernel, at most `jobs` at once, longest first, and
//! falls back from a KVM that hangs to TCG (the first KVM boot runs alone, so that a hanging KVM
//! costs one boot, not one per guest). Each boot writes the plan into the initramfs, supervises
//! the console and reads the records back ([`crate::observe`]).

use crate::cache::Cache;
use crate::error::{AbiMismatch, BootError, CellError};
use crate::event::{emit, Event};
use crate::image::{self, BaseImage};
use crate::model::{self, Model};
use crate::observe::{self, Observations};
use crate::plan::KernelRun;
use crate::supply::Artifact;
use crate::vm::accel::{self, AccelChoice};
use crate::vm::console::{self, BootOutcome, Ended, Pace, Watch};
use crate::vm::qemu::{self, Accel};
use anyhow::{Context, Result};
use lockgate_protocol::{Fault, Plan, Preflight, VERSION};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// How the guests are booted.
#[derive(Debug, Clone)]
pub struct BootOptions {
    pub accel: AccelChoice,
    pub jobs: usize,
    pub verbose: bool,
    /// Per-boot deadline; default scales with the number of cases and the accelerator.
    pub timeout: Option<Duration>,
    /// Make the guest agent misbehave (the harness's own fault tests).
    pub guest_fault: Option<Fault>,
    /// Extra kernel command-line arguments for every boot.
    pub extra_cmdline: String,
    /// Hand the terminal to a shell in the guest after the cell ran (one cell only).
    pub shell: bool,
}

/// What one kernel's boot gave.
#[derive(Debug, Clone)]
pub struct KernelReport {
    pub name: String,
    pub kernel_sha256: Option<String>,
    pub boot: Option<BootSummary>,
    pub preflight: Option<Preflight>,
    /// A harness error for the whole boot (every cell of this kernel is then an error).
    pub error: Option<CellError>,
}

#[derive(Debug, Clone)]
pub struct BootSummary {
    pub accel: Accel,
    pub wall: Duration,
    pub ready_after: Option<Duration>,
    /// The guest's own account of its time (absent when its records were unusable).
    pub guest: Option<lockgate_protocol::GuestTiming>,
    /// QEMU's peak resident memory, KiB.
    pub peak_rss_kib: Option<u64>,
    /// How the boot ended, in words (`powered off`, or the limit that fired).
    pub ended: String,
}

/// What the pool boots with: the staged images and each run's kernel.
pub struct Inputs<'a> {
    pub model: &'a Model,
    pub runs: &'a [KernelRun],
    pub kernels: &'a [Result<Artifact, String>],
    /// Per run, its kernel's modules archive, laid last before the plan.
    pub modules: &'a [Option<PathBuf>],
    /// Per run, what QEMU boots in place of the kernel's image, if anything: its uncompressed
    /// ELF (`Staged::boot_images`).
    pub boot_images: &'a [Option<PathBuf>],
    pub base: &'a BaseImage,
    pub layers: &'a [PathBuf],
    pub cache: &'a Cache,
    pub qemu_version: &'a str,
}

/// A run's files beside its kernel's image (`Inputs`), for one boot.
#[derive(Clone, Copy)]
struct RunFiles<'a> {
    modules: Option<&'a std::path::Path>,
    boot_image: Option<&'a std::path::Path>,
}

/// Boots every run's kernel; the outcomes come back in the order of `runs`.
pub fn boot_all(input: &Inputs, opts: &BootOptions) -> Vec<KernelOutcome> {
    let (first_accel, fallback) = accel::initial(opts.accel, input.cache, input.qemu_version);
    let ctx = BootContext {
        model: input.model,
        opts,
        base: input.base,
        layers: input.layers,
        cache: input.cache,
        qemu_version: input.qemu_version,
        boots_total: input.runs.len(),
        boots_done: std::sync::atomic::AtomicUsize::new(0),
    };
    let runs = input.runs;
    let kernels = input.kernels;
    let files =
        |i: usize| RunFiles { modules: input.modules[i].as_deref(), boot_image: input.boot_images[i].as_deref() };
    let results: Mutex<Vec<(usize, KernelOutcome)>> = Mutex::new(Vec::new());
    let mut times = crate::vm::order::BootTimes::load(input.cache);
    let boots: Vec<(&str, usize)> =
        runs.iter().map(|r| (input.model.kernels[r.kernel].value.name.as_str(), r.cases.len())).collect();
    let mut order = times.longest_first(&boots);
    let mut chosen = first_accel;
    if fallback && !order.is_empty() {
        // The first KVM boot runs alone: if KVM hangs on this host, every later boot goes to
        // TCG instead of each of them hanging in parallel.
        let i = order.remove(0);
        let out = ctx.boot_kernel(&runs[i], &kernels[i], files(i), Accel::Kvm, true);
        chosen = out.accel_used;
        results.lock().unwrap().push((i, out));
    }
    let queue = Mutex::new(order.into_iter());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap().next() else { break };
                let out = ctx.boot_kernel(&runs[i], &kernels[i], files(i), chosen, false);
                results.lock().unwrap().push((i, out));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    for (i, out) in &results {
        if let Some(b) = &out.report.boot {
            times.record(boots[*i].0, boots[*i].1, b.wall.as_secs_f64());
        }
    }
    times.save();
    results.into_iter().map(|(_, out)| out).collect()
}

struct BootContext<'a> {
    model: &'a Model,
    opts: &'a BootOptions,
    base: &'a BaseImage,
    /// Archives unpacked after the base (an external enforcer, the container runtime).
    layers: &'a [PathBuf],
    cache: &'a Cache,
    qemu_version: &'a str,
    /// Progress: kernels booted so far, of how many.
    boots_total: usize,
    boots_done: std::sync::atomic::AtomicUsize,
}

/// What one kernel's boot gave: its report, and the observations (or why there are none).
pub struct KernelOutcome {
    pub report: KernelReport,
    /// The observations, or the harness error every cell of the boot then is.
    pub observations: Result<Observations, CellError>,
    accel_used: Accel,
}

impl BootContext<'_> {
    fn boot_kernel(
        &self,
        run: &KernelRun,
        kernel: &Result<Artifact, String>,
        files: RunFiles,
        accel: Accel,
        may_fall_back: bool,
    ) -> KernelOutcome {
        let manifest = &self.model.kernels[run.kernel].value;
        let name = manifest.name.to_string();
        let mut report =
            KernelReport { name: name.clone(), kernel_sha256: None, boot: None, preflight: None, error: None };
        let artifact = match kernel {
            Ok(a) => a,
            Err(e) => {
                // Said once for the kernel by the report (its cells are not run), with what to do.
                let error = CellError::KernelUnavailable {
                    kernel: name.clone(),
                    manifest: self.model.kernels[run.kernel].file.clone(),
                    cause: e.clone(),
                };
                report.error = Some(error.clone());
                return KernelOutcome { observations: Err(error), report, accel_used: accel };
            }
        };
        report.kernel_sha256 = Some(artifact.sha256.clone());
        let result = self.boot_once(run, manifest, artifact, files, accel);
        let (outcome, observations, accel_used) = match result {
            // A KVM guest that never reached the agent (silent, or QEMU aborting on KVM) means
            // KVM does not work here; the same kernel then decides under TCG.
            Ok((out, _)) if may_fall_back && out.ready_after.is_none() => {
                let why = match &out.ended {
                    Ended::Silent(d) => format!("the guest agent was not ready within {}s", d.as_secs()),
                    other => ended_text(other),
                };
                emit(Event::KvmFallback { why: why.clone(), console: out.console_tail(1).trim().to_string() });
                let _ = accel::remember(self.cache, self.qemu_version, false, &why);
                match self.boot_once(run, manifest, artifact, files, Accel::Tcg) {
                    Ok((out, obs)) => (Some(out), obs, Accel::Tcg),
                    Err(e) => (None, Err(BootError::Qemu(format!("{e:#}"))), Accel::Tcg),
                }
            }
            Ok((out, obs)) => {
                if may_fall_back && out.ready_after.is_some() {
                    let _ = accel::remember(self.cache, self.qemu_version, true, "a KVM guest booted");
                }
                (Some(out), obs, accel)
            }
            Err(e) => (None, Err(BootError::Qemu(format!("{e:#}"))), accel),
        };
        if let Some(out) = &outcome {
            let guest = observations.as_ref().ok().and_then(|o| o.timing.clone());
            let timing = guest.as_ref().filter(|_| self.opts.verbose).map(|g| timing_text(&name, out.wall, g));
            report.boot = Some(BootSummary {
                accel: out.accel,
                wall: out.wall,
                ready_after: out.ready_after,
                ended: ended_text(&out.ended),
                guest,
                peak_rss_kib: out.peak_rss_kib,
            });
            let done = self.boots_done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            emit(Event::Booted {
                done,
                total: self.boots_total,
                kernel: name.clone(),
                accel: out.accel.to_string(),
                wall: out.wall,
                ended: ended_text(&out.ended),
            });
            if let Some(text) = timing {
                emit(Event::GuestTiming(text));
            }
        }
        let observations = observations.and_then(|obs| {
            report.preflight = Some(obs.preflight.clone());
            let got = obs.preflight.landlock.abi();
            if got != manifest.abi.0 {
                return Err(BootError::AbiMismatch(Box::new(AbiMismatch {
                    kernel: name.clone(),
                    manifest: self.model.kernels[run.kernel].file.clone(),
                    expected: manifest.abi.to_string(),
                    probed: obs.preflight.landlock.to_string(),
                    release: obs.preflight.release.clone(),
                    explanation: lockgate_protocol::explain_landlock(
                        &obs.preflight.landlock,
                        Some(&obs.preflight.lsm_seen()),
                        obs.preflight.config.as_ref(),
                    )
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                })));
            }
            Ok(obs)
        });
        let observations = observations.map_err(|cause| {
            let console_tail = outcome.as_ref().map(|o| o.console_tail(25)).unwrap_or_default();
            let error = CellError::Boot { kernel: name.clone(), cause, console_tail };
            report.error = Some(error.clone());
            error
        });
        KernelOutcome { report, observations, accel_used }
    }

    /// One boot; `Ok((boot, Err(..)))` when QEMU ran but the observations are unusable.
    fn boot_once(
        &self,
        run: &KernelRun,
        manifest: &model::kernel::KernelManifest,
        kernel: &Artifact,
        files: RunFiles,
        accel: Accel,
    ) -> Result<(BootOutcome, Result<Observations, BootError>)> {
        let work = self.cache.tempdir()?;
        let plan = Plan {
            version: VERSION,
            nonce: nonce(),
            rng_seed: nonce() + &nonce(),
            kernel: manifest.name.to_string(),
            cases: run.cases.clone(),
            fault: self.opts.guest_fault,
            shell: self.opts.shell,
            mount_securityfs: manifest.mount_securityfs,
        };
        let initrd = work.path().join("initrd.cpio");
        // The kernel's own modules go last: only this kernel's boot has them.
        let layers: Vec<PathBuf> = self.layers.iter().cloned().chain(files.modules.map(|m| m.to_path_buf())).collect();
        image::write_initrd_layers(&self.base.path, &layers, &plan, &initrd)?;
        let records = work.path().join("records.jsonl");
        let cmdline = format!("{} {}", manifest.cmdline, self.opts.extra_cmdline);
        // A container start costs runc's copy of itself and a Go runtime: more memory and time.
        let containers = run.cases.iter().filter(|c| c.container.is_some()).count() as u64;
        let memory_mb = if containers > 0 { 512 } else { 256 };
        let boot = qemu::Boot {
            kernel: files.boot_image.unwrap_or(&kernel.path),
            initrd: &initrd,
            extra_cmdline: cmdline.trim(),
            records: &records,
            accel,
            memory_mb,
        };
        let cases = run.cases.len() as u64;
        let deadline = self.opts.timeout.unwrap_or_else(|| boot_deadline(accel, &run.cases));
        let watch = Watch {
            deadline,
            silence_limit: (accel == Accel::Kvm).then_some(accel::KVM_SILENCE),
            echo: self.opts.verbose.then(|| format!("{}| ", manifest.name)),
            interactive: self.opts.shell,
            pace: (!self.opts.shell).then(|| Pace {
                records: records.clone(),
                boot: boot_allowance(accel),
                cases: run.cases.iter().map(case_budget).collect(),
            }),
        };
        emit(Event::Booting { kernel: manifest.name.to_string(), accel: accel.to_string(), cases: cases as usize });
        let out = console::boot(&boot, &watch).context("running QEMU")?;
        let text = std::fs::read_to_string(&records).unwrap_or_default();
        let planned: Vec<String> = run.cases.iter().map(|c| c.id.clone()).collect();
        let obs = match &out.ended {
            // Powered off before its final record: say so, and during which case.
            Ended::PoweredOff => {
                observe::read_records(&text, &plan.nonce, &planned).map_err(|e| match has_done(&text) {
                    true => BootError::Records(e),
                    false => BootError::PoweredOff { at: stopped_at(&text, &planned), cause: e },
                })
            }
            Ended::Timeout(d) => Err(BootError::Ended(timeout_text(*d, self.opts.timeout.is_some(), &text, &planned))),
            Ended::Stalled(d) => Err(BootError::Ended(stalled_text(*d, &text, &planned))),
            other => Err(BootError::Ended(format!("{}{}", ended_text(other), stopped_at(&text, &planned)))),
        };
        Ok((out, obs))
    }
}

/// `--verbose`: where a boot's time went, by the guest's clock.
fn timing_text(kernel: &str, wall: Duration, g: &lockgate_protocol::GuestTiming) -> String {
    let mut text = format!(
        "{kernel}: {:.2}s to the agent, preflight {:.0}ms, {} case(s) {:.2}s, the rest {:.2}s",
        g.agent_start,
        1000.0 * (g.preflight_end - g.agent_start),
        g.cases.len(),
        g.done - g.preflight_end,
        wall.as_secs_f64() - g.done
    );
    for c in &g.cases {
        text.push_str(&format!(
            "\n  {:<40} {:>6.1}ms: control {:.1}ms, enforced {:.1}ms",
            c.id,
            1000.0 * c.total,
            1000.0 * c.control,
            1000.0 * c.enforced
        ));
    }
    text
}

/// The boot's deadline: the boot itself, and for each case its two runs at their run limit (the
/// guest's own limits, so that those always fire first) and a container's start and teardown.
pub fn boot_deadline(accel: Accel, cases: &[lockgate_protocol::Case]) -> Duration {
    boot_allowance(accel) + cases.iter().map(case_budget).sum::<Duration>()
}

/// The kernel's boot to the agent and its preflight.
fn boot_allowance(accel: Accel) -> Duration {
    Duration::from_secs(match accel {
        Accel::Tcg => 60,
        Accel::Kvm => 30,
    })
}

/// The longest one case may take: its two runs at their run limit, their trees, and a
/// container's start and teardown. The boot's deadline is their sum (the worst case of every
/// case); the pace watch holds each case to its own, so that a guest that stops is caught
/// within one case's budget of its last record.
fn case_budget(c: &lockgate_protocol::Case) -> Duration {
    // The control and the enforced run, and the control run again outside a container whose
    // runtime the host has no table of (`Container::runs_outside_too`).
    let runs = 2 + u64::from(c.container.as_ref().is_some_and(|k| k.runs_outside_too()));
    Duration::from_secs(
        runs * c.runs_per_run() * u64::from(c.limits.run_seconds) + 10 + if c.container.is_some() { 40 } else { 0 },
    )
}

/// The cases that sent their record.
fn sent_cases(records: &str) -> Vec<String> {
    records
        .lines()
        .filter_map(|l| serde_json::from_str::<lockgate_protocol::Record>(l).ok())
        .filter_map(|r| match r {
            lockgate_protocol::Record::Case { case, .. } => Some(case.id),
            _ => None,
        })
        .collect()
}

/// A guest that stopped sending records: which case it was running, and its budget.
fn stalled_text(allowance: Duration, records: &str, planned: &[String]) -> String {
    let sent = sent_cases(records);
    match planned.iter().find(|id| !sent.contains(id)) {
        Some(id) => format!(
            "case {id} sent no record within {}s (its two runs at their run limit, plus the boot for a first case): the guest stopped; QEMU was killed ({} of {} cases had sent their records)",
            allowance.as_secs(),
            sent.len(),
            planned.len()
        ),
        None => format!(
            "no done record within {}s after all {} cases had sent theirs: the guest stopped; QEMU was killed",
            allowance.as_secs(),
            planned.len()
        ),
    }
}

/// A boot killed at its deadline: which limit, and which case was running (the first planned
/// case whose record had not come).
fn timeout_text(deadline: Duration, from_flag: bool, records: &str, planned: &[String]) -> String {
    let limit = match from_flag {
        true => format!("the boot deadline of {}s set by --timeout", deadline.as_secs()),
        false => format!(
            "the boot deadline of {}s (the boot, plus each case's two runs at their run limit)",
            deadline.as_secs()
        ),
    };
    format!("no power-off within {limit}; QEMU was killed{}", running(records, planned))
}

/// ` while case X was running (n of m cases had sent their records)`: the first planned case
/// whose record had not come, from the records the guest sent.
fn running(records: &str, planned: &[String]) -> String {
    let sent = sent_cases(records);
    match planned.iter().find(|id| !sent.contains(id)) {
        Some(id) => {
            format!(" while case {id} was running ({} of {} cases had sent their records)", sent.len(), planned.len())
        }
        None => format!(" after all {} cases had sent their records", planned.len()),
    }
}

/// ` before case X sent its record (n of m cases had sent theirs)`: where a guest that stopped
/// by itself (powered off, panicked, QEMU failed) was, from the records it sent.
fn stopped_at(records: &str, planned: &[String]) -> String {
    let sent = sent_cases(records);
    match planned.iter().find(|id| !sent.contains(id)) {
        Some(id) => {
            format!(" before case {id} sent its record ({} of {} cases had sent theirs)", sent.len(), planned.len())
        }
        None => format!(" after all {} cases had sent their records, before the final record", planned.len()),
    }
}

/// Whether the guest sent its final record.
fn has_done(records: &str) -> bool {
    records
        .lines()
        .filter_map(|l| serde_json::from_str::<lockgate_protocol::Record>(l).ok())
        .any(|r| matches!(r, lockgate_protocol::Record::Done { .. }))
}

fn ended_text(e: &Ended) -> String {
    match e {
        Ended::PoweredOff => "powered off".into(),
        Ended::QemuFailed(s) => format!("{s} before the guest powered off"),
        Ended::Panic => "the kernel panicked".into(),
        Ended::Timeout(d) => format!("no power-off within the {}s deadline; QEMU was killed", d.as_secs()),
        Ended::Stalled(d) => format!("no record within {}s of the previous one; QEMU was killed", d.as_secs()),
        Ended::Silent(d) => format!("the guest agent was not ready within {}s", d.as_secs()),
    }
}

/// A per-run nonce: the records of another run (or a replayed file) never match it. 16 random
/// bytes, hex.
fn nonce() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(run_seconds: u32, container: bool) -> lockgate_protocol::Case {
        let json = format!(
            r#"{{"id": "s@e", "setup": {{"users": [], "tmpfs": [], "paths": []}}, "identity": {{"uid": 0, "gid": 0, "groups": []}},
                "enforcer": {{"argv": [], "env": [], "files": [], "drop_privileges": false}}, "steps": [], "workdir": "/",
                "limits": {{"step_seconds": 20, "run_seconds": {run_seconds}}}}}"#
        );
        let mut c: lockgate_protocol::Case = serde_json::from_str(&json).unwrap();
        if container {
            c.container = Some(serde_json::from_str(r#"{"env": "d", "runtime": "/usr/sbin/runc", "seccomp": null, "flavour": "docker", "capabilities": [], "no_new_privileges": false}"#).unwrap());
        }
        c
    }

    /// Issue 24, item 6: a guest that powered off or panicked mid-case is named so, with the
    /// case that was running.
    #[test]
    fn the_case_running_when_the_guest_stopped_is_named() {
        let rec = |r: lockgate_protocol::Record| serde_json::to_string(&r).unwrap() + "\n";
        let planned = vec!["a@bare".to_string(), "b@bare".to_string()];
        let hello = rec(lockgate_protocol::Record::Hello { nonce: "n".into(), version: VERSION });
        assert_eq!(running(&hello, &planned), " while case a@bare was running (0 of 2 cases had sent their records)");
        assert_eq!(stopped_at(&hello, &planned), " before case a@bare sent its record (0 of 2 cases had sent theirs)");
        assert!(!has_done(&hello));
        let done = hello + &rec(lockgate_protocol::Record::Done { nonce: "n".into(), cases: 0, timing: None });
        assert!(has_done(&done));
    }

    /// Issue 18: the boot's deadline leaves every case's runs their whole run limit.
    #[test]
    fn the_boot_deadline_covers_the_guests_own_limits() {
        let cases = vec![case(90, false), case(60, true), case(300, false)];
        for accel in [Accel::Tcg, Accel::Kvm] {
            let guest: u64 = cases.iter().map(|c| 2 * u64::from(c.limits.run_seconds)).sum();
            assert!(boot_deadline(accel, &cases).as_secs() > guest, "{accel:?}");
        }
        assert_eq!(boot_deadline(Accel::Tcg, &cases).as_secs(), 60 + (180 + 10) + (120 + 10 + 40) + (600 + 10));
    }
}
