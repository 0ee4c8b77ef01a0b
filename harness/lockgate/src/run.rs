//! A whole run: load → plan → fetch → image → boot → observe → judge → report.

use crate::cache::Cache;
use crate::fetch::{lock::LockFile, Artifact, Fetcher, ImagePackages};
use crate::image::{self, BaseImage};
use crate::judge::{self, CellInput};
use crate::model::{self, Model};
use crate::observe::{self, Observations};
use crate::plan::{self, EnforcerChoice, KernelRun, Selection};
use crate::report::{snapshot, CellResult};
use crate::vm::accel::{self, AccelChoice};
use crate::vm::console::{self, BootOutcome, Ended, Watch};
use crate::vm::qemu::{self, Accel};
use anyhow::{Context, Result};
use lockgate_protocol::{Fault, Plan, Preflight, VERSION};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub repo: PathBuf,
    /// Scenario files (default: `<repo>/scenarios`).
    pub scenarios_dir: PathBuf,
    /// Kernel manifests and their lock (default: `<repo>/kernels`).
    pub kernels_dir: PathBuf,
    pub selection: Selection,
    pub enforcer: EnforcerChoice,
    pub accel: AccelChoice,
    pub jobs: usize,
    /// Compare each cell with its insta snapshot.
    pub snapshots: bool,
    /// Record new snapshots in place instead of failing on a difference.
    pub accept: bool,
    pub verbose: bool,
    /// Per-boot deadline; default scales with the number of cases and the accelerator.
    pub timeout: Option<Duration>,
    /// Make the guest agent misbehave (the harness's own fault tests).
    pub guest_fault: Option<Fault>,
    /// Extra kernel command-line arguments for every boot (fault tests: an impossible `init=`).
    pub extra_cmdline: String,
    /// Hand the terminal to a shell in the guest after the cell ran (one cell only).
    pub shell: bool,
    /// Judge every cell by the expectations of the bare environment on its kernel (`when:` sees
    /// `env == bare` and the kernel's own Landlock ABI): the mutation gate's check that a
    /// container environment leaves Landlock to the enforcer.
    pub judge_as_bare: bool,
    /// The cache directory (default: `$LOCKGATE_CACHE`, else `~/.cache/lockgate`).
    pub cache_dir: Option<PathBuf>,
}

impl RunOptions {
    pub fn new(repo: PathBuf) -> RunOptions {
        RunOptions {
            scenarios_dir: repo.join("scenarios"),
            kernels_dir: repo.join("kernels"),
            repo,
            selection: Selection::default(),
            enforcer: EnforcerChoice::default(),
            accel: AccelChoice::Auto,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            snapshots: true,
            accept: false,
            verbose: false,
            timeout: None,
            guest_fault: None,
            extra_cmdline: String::new(),
            shell: false,
            judge_as_bare: false,
            cache_dir: None,
        }
    }
}

/// What one kernel's boot gave.
#[derive(Debug, Clone)]
pub struct KernelReport {
    pub name: String,
    pub kernel_sha256: Option<String>,
    pub boot: Option<BootSummary>,
    pub preflight: Option<Preflight>,
    /// A harness error for the whole boot (every cell of this kernel is then an error).
    pub error: Option<String>,
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
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub cells: Vec<CellResult>,
    pub kernels: Vec<KernelReport>,
    pub qemu_version: String,
    pub wall: Duration,
    /// Whether the guest base image was rebuilt by this run.
    pub image_built: bool,
    /// Packages downloaded by this run (0 on a warm run).
    pub downloads: usize,
    /// The enforcer under test, in one line (the reference, or an external one's adapter).
    pub enforcer: String,
    /// Each environment's `about:` (empty for `bare`), for failure reports.
    pub environments: std::collections::BTreeMap<String, String>,
    /// Host-side work before the first guest boot started (load, plan, build check, fetch, image).
    pub host_setup: Duration,
    /// `host_setup`, step by step (what a warm start spends its time on).
    pub host_phases: Vec<(&'static str, Duration)>,
}

/// Times consecutive steps: each `mark` closes the step that began at the previous one.
struct Phases {
    last: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn new(start: Instant) -> Phases {
        Phases { last: start, done: Vec::new() }
    }

    fn mark(&mut self, step: &'static str) {
        let now = Instant::now();
        self.done.push((step, now - self.last));
        self.last = now;
    }
}

impl RunReport {
    pub fn ok(&self) -> bool {
        !self.cells.is_empty() && self.cells.iter().all(CellResult::ok)
    }
}

fn say(msg: &str) {
    eprintln!("lockgate: {msg}");
}

pub fn run(opts: &RunOptions) -> Result<RunReport> {
    let start = Instant::now();
    let mut phases = Phases::new(start);
    crate::vm::guests::install_interrupt_handler();
    let model = model::load(&opts.scenarios_dir, &opts.kernels_dir)?;
    let adapter = opts.enforcer.load()?;
    let mut runs = plan::plan_with(&model, &opts.selection, &opts.enforcer, adapter.as_ref())?;
    if opts.shell && (runs.len() != 1 || runs[0].cells.len() != 1) {
        anyhow::bail!(
            "--shell opens one cell's guest, but the selection has {} cells: pass --kernel, --scenario and --env naming one of each",
            runs.iter().map(|r| r.cells.len()).sum::<usize>()
        );
    }
    let qemu_version = qemu::version()?;
    phases.mark("load and plan, QEMU version");
    let bins = crate::guest_build::build(!opts.verbose)?;
    phases.mark("guest binaries");
    let cache = match &opts.cache_dir {
        Some(dir) => Cache::at(dir.clone())?,
        None => Cache::from_env()?,
    };
    let mut fetcher = fetcher(&opts.repo, &opts.kernels_dir, cache.clone(), false)?;
    let busybox = fetcher.busybox()?;
    let base = image::base_image(
        &cache,
        &image::BaseInputs { guest: (&bins.guest, &bins.guest_sha256), enforcer: (&bins.enforcer, &bins.enforcer_sha256), busybox: (&busybox.path, &busybox.sha256) },
    )?;
    if base.built {
        say(&format!("built the guest base image {}", base.path.display()));
    }
    phases.mark("busybox and base image");
    // An external enforcer rides in an archive of its own (binary + libraries), after the base.
    let mut layers: Vec<PathBuf> = match &adapter {
        Some(a) => vec![a.archive(&cache)?],
        None => vec![],
    };
    // Container environments: their seccomp profiles, and runc with its libraries in an archive
    // of its own; each case of such an environment is given its container.
    let manifests: Vec<_> = model.environments.iter().filter_map(|e| e.manifest.clone()).collect();
    let envs = crate::env::prepare(&crate::env::used(&manifests, &runs), &opts.repo, &mut fetcher, &cache)?;
    envs.attach(&mut runs);
    if let Some(rt) = &envs.runtime {
        layers.push(rt.archive.clone());
    }
    phases.mark("adapter and environments");
    let claims = adapter.as_ref().map(|a| a.claims.clone()).unwrap_or_default();
    // Fetch every kernel first (sequentially: apt and the cache lock are shared), so that a
    // kernel that cannot be had is a named error for its cells and the others still run.
    let kernels: Vec<Result<Artifact, String>> = runs
        .iter()
        .map(|r| fetcher.kernel(&model.kernels[r.kernel].value).map_err(|e| format!("{e:#}")))
        .collect();
    phases.mark("kernels");
    // The host-side half of the preflight: each kernel's build config (package config file, a
    // built kernel's .config), used where the guest has no /proc/config.gz.
    let host_configs: Vec<Option<lockgate_protocol::KernelConfig>> =
        runs.iter().map(|r| fetcher.kernel_config(&model.kernels[r.kernel].value).ok().flatten()).collect();
    phases.mark("kernel configs");
    let host_setup = start.elapsed();
    let (first_accel, fallback) = accel::initial(opts.accel, &cache, &qemu_version);
    let ctx = BootContext {
        model: &model,
        opts,
        base: &base,
        layers: &layers,
        cache: &cache,
        qemu_version: &qemu_version,
        boots_total: runs.len(),
        boots_done: std::sync::atomic::AtomicUsize::new(0),
    };
    let results: Mutex<Vec<(usize, KernelOutcome)>> = Mutex::new(Vec::new());
    let mut times = crate::vm::order::BootTimes::load(&cache);
    let boots: Vec<(&str, usize)> = runs.iter().map(|r| (model.kernels[r.kernel].value.name.as_str(), r.cases.len())).collect();
    let mut order = times.longest_first(&boots);
    let mut chosen = first_accel;
    if fallback && !order.is_empty() {
        // The first KVM boot runs alone: if KVM hangs on this host, every later boot goes to
        // TCG instead of each of them hanging in parallel.
        let i = order.remove(0);
        let out = ctx.boot_kernel(&runs[i], &kernels[i], Accel::Kvm, true);
        chosen = out.accel_used;
        results.lock().unwrap().push((i, out));
    }
    let queue = Mutex::new(order.into_iter());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap().next() else { break };
                let out = ctx.boot_kernel(&runs[i], &kernels[i], chosen, false);
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

    let mut cells = Vec::new();
    let mut reports = Vec::new();
    for (i, mut out) in results {
        if let Some(p) = out.report.preflight.as_mut() {
            if p.config.is_none() {
                p.config = host_configs[i].clone();
            }
        }
        let run = &runs[i];
        let kernel = &model.kernels[run.kernel].value;
        for (cell, case) in run.cells.iter().zip(&run.cases) {
            let scenario = &model.scenarios[cell.scenario].value;
            let outcome = match (&out.observations, &out.report.error) {
                (Ok(obs), None) => {
                    let case_obs = &obs.cases[&case.id];
                    let env_facts = envs.facts.get(&cell.env);
                    let blocked = crate::env::landlock_blocked(&cell.env, env_facts, &case_obs.landlock, &obs.preflight.landlock);
                    match &case_obs.environment_error {
                        Some(e) => Err(format!("harness error on {}: {e}", kernel.name)),
                        None => Ok(judge::judge(&CellInput {
                            scenario,
                            kernel: kernel.name.as_str(),
                            env: &cell.env,
                            obs: case_obs,
                            step_of: &cell.step_of,
                            seccomp_errno: env_facts.and_then(|f| f.seccomp_errno.as_deref()),
                            claims: &claims,
                            landlock_blocked: blocked.as_deref(),
                            judge_as: opts.judge_as_bare.then(|| ("bare", obs.preflight.landlock.abi())),
                        })),
                    }
                }
                (_, Some(e)) | (Err(e), None) => Err(e.clone()),
            };
            cells.push(CellResult {
                kernel: kernel.name.to_string(),
                env: cell.env.clone(),
                scenario: scenario.name.to_string(),
                outcome,
                snapshot_error: None,
            });
        }
        reports.push(out.report);
    }
    let provenance = Provenance {
        qemu_version: qemu_version.clone(),
        enforcer_sha256: match &adapter {
            Some(a) => a.digest()?,
            None => bins.enforcer_sha256.clone(),
        },
        guest_sha256: bins.guest_sha256.clone(),
        busybox_sha256: busybox.sha256.clone(),
        base_image: base.key.clone(),
    };
    // An external enforcer's snapshots live beside the reference's, in a directory of its own.
    let snapshot_dir = match &adapter {
        Some(a) => opts.scenarios_dir.join("snapshots").join(&a.name),
        None => opts.scenarios_dir.join("snapshots"),
    };
    write_provenance(&snapshot_dir, &cells, &reports, &provenance, &envs);
    if opts.snapshots {
        if opts.accept {
            std::env::set_var("INSTA_UPDATE", "always");
        }
        let dir = &snapshot_dir;
        for c in &mut cells {
            if let Ok(v) = &c.outcome {
                c.snapshot_error = snapshot::check(dir, &opts.repo, v).err();
            }
        }
    }
    let enforcer = match &adapter {
        Some(a) => a.describe(),
        None if opts.enforcer.faults.is_empty() => "lockgate-enforcer (the reference)".to_string(),
        None => format!("lockgate-enforcer (the reference) with known-bad mode {}", opts.enforcer.faults.join(", ")),
    };
    let environments = model.environments.iter().map(|e| (e.name.clone(), e.manifest.as_ref().map(|m| m.value.about.clone()).unwrap_or_default())).collect();
    Ok(RunReport { cells, kernels: reports, qemu_version, wall: start.elapsed(), image_built: base.built, downloads: fetcher.downloads, host_setup, host_phases: phases.done, enforcer, environments })
}

/// What a cell's result depends on besides the scenario: kept beside its snapshot (as
/// `<cell>.provenance.json`, not committed) so the snapshot itself stays stable.
#[derive(serde::Serialize)]
struct Provenance {
    qemu_version: String,
    enforcer_sha256: String,
    guest_sha256: String,
    busybox_sha256: String,
    base_image: String,
}

fn write_provenance(dir: &Path, cells: &[CellResult], kernels: &[KernelReport], common: &Provenance, envs: &crate::env::Prepared) {
    for c in cells {
        let Some(k) = kernels.iter().find(|k| k.name == c.kernel) else { continue };
        let record = serde_json::json!({
            "cell": format!("{}@{}@{}", c.scenario, c.kernel, c.env),
            "kernel_sha256": k.kernel_sha256,
            "accelerator": k.boot.as_ref().map(|b| b.accel.to_string()),
            "boot_seconds": k.boot.as_ref().map(|b| b.wall.as_secs_f64()),
            "kernel_release": k.preflight.as_ref().map(|p| p.release.clone()),
            "lsm": k.preflight.as_ref().and_then(|p| p.lsm.clone()),
            "landlock": k.preflight.as_ref().map(|p| p.landlock.to_string()),
            "cmdline": k.preflight.as_ref().map(|p| p.cmdline.clone()),
            "seccomp_filter": k.preflight.as_ref().and_then(|p| p.seccomp_filter.as_ref()).map(|s| s.to_string()),
            "kernel_config": k.preflight.as_ref().and_then(|p| p.config.clone()),
            "common": common,
            "environment": envs.facts.get(&c.env).map(|f| serde_json::json!({
                "seccomp_profile_sha256": f.profile_sha256,
                "runtime": envs.runtime.as_ref().map(|r| r.version.clone()),
                "runc_sha256": envs.runtime.as_ref().map(|r| r.runc_sha256.clone()),
            })),
        });
        let path = dir.join(format!("{}@{}@{}.provenance.json", c.scenario, c.kernel, c.env));
        if let Err(e) = crate::cache::write_atomic(&path, serde_json::to_string_pretty(&record).unwrap_or_default().as_bytes()) {
            say(&format!("cannot write {}: {e:#}", path.display()));
        }
    }
}

pub fn fetcher(repo: &Path, kernels_dir: &Path, cache: Cache, update_lock: bool) -> Result<Fetcher> {
    Ok(Fetcher {
        cache,
        kernel_lock: LockFile::load(&kernels_dir.join("lock.yaml"))?,
        image_lock: LockFile::load(&repo.join("images/lock.yaml"))?,
        images: ImagePackages::load(&repo.join("images/packages.yaml"))?,
        update_lock,
        verbose: true,
        held: None,
        downloads: 0,
    })
}

struct BootContext<'a> {
    model: &'a Model,
    opts: &'a RunOptions,
    base: &'a BaseImage,
    /// Archives unpacked after the base (an external enforcer).
    layers: &'a [PathBuf],
    cache: &'a Cache,
    qemu_version: &'a str,
    /// Progress: kernels booted so far, of how many.
    boots_total: usize,
    boots_done: std::sync::atomic::AtomicUsize,
}

struct KernelOutcome {
    report: KernelReport,
    observations: Result<Observations, String>,
    accel_used: Accel,
}

impl BootContext<'_> {
    fn boot_kernel(&self, run: &KernelRun, kernel: &Result<Artifact, String>, accel: Accel, may_fall_back: bool) -> KernelOutcome {
        let manifest = &self.model.kernels[run.kernel].value;
        let name = manifest.name.to_string();
        let mut report = KernelReport { name: name.clone(), kernel_sha256: None, boot: None, preflight: None, error: None };
        let artifact = match kernel {
            Ok(a) => a,
            Err(e) => {
                report.error = Some(format!("kernel {name} could not be fetched: {e}"));
                return KernelOutcome { observations: Err(report.error.clone().unwrap()), report, accel_used: accel };
            }
        };
        report.kernel_sha256 = Some(artifact.sha256.clone());
        let result = self.boot_once(run, manifest, artifact, accel);
        let (outcome, observations, accel_used) = match result {
            // A KVM guest that never reached the agent (silent, or QEMU aborting on KVM) means
            // KVM does not work here; the same kernel then decides under TCG.
            Ok((out, _)) if may_fall_back && out.ready_after.is_none() => {
                let why = match &out.ended {
                    Ended::Silent(d) => format!("the guest agent was not ready within {}s", d.as_secs()),
                    other => ended_text(other),
                };
                say(&format!(
                    "KVM does not work on this host ({why}; {}). Falling back to TCG, remembered for this host (--accel kvm forces KVM)",
                    out.console_tail(1).trim()
                ));
                let _ = accel::remember(self.cache, self.qemu_version, false, &why);
                match self.boot_once(run, manifest, artifact, Accel::Tcg) {
                    Ok((out, obs)) => (Some(out), obs, Accel::Tcg),
                    Err(e) => (None, Err(format!("{e:#}")), Accel::Tcg),
                }
            }
            Ok((out, obs)) => {
                if may_fall_back && out.ready_after.is_some() {
                    let _ = accel::remember(self.cache, self.qemu_version, true, "a KVM guest booted");
                }
                (Some(out), obs, accel)
            }
            Err(e) => (None, Err(format!("{e:#}")), accel),
        };
        if let Some(out) = &outcome {
            let guest = observations.as_ref().ok().and_then(|o| o.timing.clone());
            let timing = guest.as_ref().filter(|_| self.opts.verbose).map(|g| timing_text(&name, out.wall, g));
            report.boot = Some(BootSummary { accel: out.accel, wall: out.wall, ready_after: out.ready_after, guest, peak_rss_kib: out.peak_rss_kib });
            let done = self.boots_done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            say(&format!(
                "[{done}/{}] {name}: booted under {} in {:.1}s ({})",
                self.boots_total,
                out.accel,
                out.wall.as_secs_f64(),
                ended_text(&out.ended)
            ));
            if let Some(text) = timing {
                say(&text);
            }
        }
        let observations = observations.and_then(|obs| {
            report.preflight = Some(obs.preflight.clone());
            let got = obs.preflight.landlock.abi();
            if got != manifest.abi.0 {
                return Err(format!(
                    "kernel {name}: the manifest ({}) says Landlock {}, but the guest's probe answered {} (release {}){}; fix the manifest or the kernel",
                    self.model.kernels[run.kernel].file.display(),
                    manifest.abi,
                    obs.preflight.landlock,
                    obs.preflight.release,
                    lockgate_protocol::explain_landlock(&obs.preflight.landlock, obs.preflight.lsm.as_deref(), obs.preflight.config.as_ref())
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ));
            }
            Ok(obs)
        });
        if let Err(e) = &observations {
            let tail = outcome.as_ref().map(|o| o.console_tail(25)).unwrap_or_default();
            report.error = Some(format!("harness error on {name}: {e}\n--- console tail ---\n{tail}"));
        }
        KernelOutcome { report, observations, accel_used }
    }

    /// One boot; `Ok((boot, Err(..)))` when QEMU ran but the observations are unusable.
    fn boot_once(&self, run: &KernelRun, manifest: &model::kernel::KernelManifest, kernel: &Artifact, accel: Accel) -> Result<(BootOutcome, Result<Observations, String>)> {
        let work = self.cache.tempdir()?;
        let plan = Plan {
            version: VERSION,
            nonce: nonce(),
            kernel: manifest.name.to_string(),
            cases: run.cases.clone(),
            fault: self.opts.guest_fault,
            shell: self.opts.shell,
        };
        let initrd = work.path().join("initrd.cpio");
        image::write_initrd_layers(&self.base.path, self.layers, &plan, &initrd)?;
        let records = work.path().join("records.jsonl");
        let cmdline = format!("{} {}", manifest.cmdline, self.opts.extra_cmdline);
        // A container start costs runc's copy of itself and a Go runtime: more memory and time.
        let containers = run.cases.iter().filter(|c| c.container.is_some()).count() as u64;
        let memory_mb = if containers > 0 { 512 } else { 256 };
        let boot = qemu::Boot { kernel: &kernel.path, initrd: &initrd, extra_cmdline: cmdline.trim(), records: &records, accel, memory_mb };
        let cases = run.cases.len() as u64;
        let deadline = self.opts.timeout.unwrap_or(match accel {
            Accel::Tcg => Duration::from_secs(60 + 20 * cases + 20 * containers),
            Accel::Kvm => Duration::from_secs(30 + 10 * cases + 5 * containers),
        });
        let watch = Watch {
            deadline,
            silence_limit: (accel == Accel::Kvm).then_some(accel::KVM_SILENCE),
            echo: self.opts.verbose.then(|| format!("{}| ", manifest.name)),
            interactive: self.opts.shell,
        };
        say(&format!("{}: booting under {accel} ({} case{})", manifest.name, cases, if cases == 1 { "" } else { "s" }));
        let out = console::boot(&boot, &watch).context("running QEMU")?;
        let text = std::fs::read_to_string(&records).unwrap_or_default();
        let planned: Vec<String> = run.cases.iter().map(|c| c.id.clone()).collect();
        let obs = match &out.ended {
            Ended::PoweredOff => observe::read_records(&text, &plan.nonce, &planned),
            other => Err(ended_text(other)),
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

fn ended_text(e: &Ended) -> String {
    match e {
        Ended::PoweredOff => "powered off".into(),
        Ended::QemuFailed(s) => format!("{s} before the guest powered off"),
        Ended::Panic => "the kernel panicked".into(),
        Ended::Timeout(d) => format!("no power-off within the {}s deadline; QEMU was killed", d.as_secs()),
        Ended::Silent(d) => format!("the guest agent was not ready within {}s", d.as_secs()),
    }
}

/// A per-run nonce: the records of another run (or a replayed file) never match it.
fn nonce() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    hex::encode(b)
}
