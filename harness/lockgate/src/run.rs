//! A whole run: load → plan → stage → boot → observe → judge → report. Each step is a module of
//! its own; this one only strings them together, in that order, with the one cache the run
//! opened (or was handed) going down to every step that needs it. The enforcer's binary and the
//! environments are staged just before the plan is made, which is made of them (ARCHITECTURE.md).

use crate::cache::Cache;
use crate::enforcer::{Enforcer, EnforcerChoice};
use crate::judge::cells::{judge_all, JudgeOptions};
use crate::model::MatrixDirs;
use crate::plan::{self, KernelRun, Selection, Variant};
use crate::pool::{self, BootOptions};
use crate::provenance::{self, Provenance};
use crate::report::{self, snapshot};
use crate::stage::{self, Phases};
use crate::supply::shipped;
use crate::vm::accel::AccelChoice;
use crate::vm::qemu;
use crate::{env, model};
use anyhow::{bail, Result};
use lockgate_protocol::Fault;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use crate::pool::{BootSummary, KernelReport};
pub use crate::report::RunReport;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub repo: PathBuf,
    /// Scenario files (default: `<repo>/scenarios`).
    pub scenarios_dir: PathBuf,
    /// Kernel manifests and their lock (default: `<repo>/kernels`, else lockgate's shipped ones,
    /// unpacked in the run's cache); the environments are read beside them
    /// (`../images/environments`, else lockgate's shipped ones).
    pub kernels_dir: Option<PathBuf>,
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
    /// Further enforcers planned beside `enforcer` (the mutation gate's fault modes), each on a
    /// part of the selection: every kernel still boots once. Their cells carry the variant's
    /// index (`enforcer` is 0, these 1, 2, …); only variant 0's cells are snapshotted and have
    /// their output and provenance files written (the files are named by cell, not variant).
    pub variants: Vec<VariantOptions>,
    /// A cell whose expectations were all skipped fails the run, unless its scenario says that
    /// is intended (default: under `CI=true`).
    pub strict: bool,
    /// The cache directory (default: `$LOCKGATE_CACHE`, else `~/.cache/lockgate`).
    pub cache_dir: Option<PathBuf>,
}

/// One further enforcer of a run ([`RunOptions::variants`]): the run's enforcer with these
/// known-bad modes, on these kernels, scenarios and environments (each: all when empty).
#[derive(Debug, Clone, Default)]
pub struct VariantOptions {
    pub faults: Vec<String>,
    pub within: Selection,
    /// Judge its cells as on the bare environment ([`RunOptions::judge_as_bare`]).
    pub judge_as_bare: bool,
}

impl RunOptions {
    /// How the pool boots the guests.
    pub fn boot_options(&self) -> BootOptions {
        BootOptions {
            accel: self.accel,
            jobs: self.jobs,
            verbose: self.verbose,
            timeout: self.timeout,
            guest_fault: self.guest_fault,
            extra_cmdline: self.extra_cmdline.clone(),
            shell: self.shell,
        }
    }

    pub fn new(repo: PathBuf) -> RunOptions {
        // Absolute: insta places a snapshot path that is relative beside its own source file.
        let repo = repo.canonicalize().or_else(|_| std::path::absolute(&repo)).unwrap_or(repo);
        RunOptions {
            scenarios_dir: repo.join("scenarios"),
            kernels_dir: None,
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
            variants: Vec::new(),
            strict: std::env::var("CI").is_ok_and(|v| v == "true"),
            cache_dir: None,
        }
    }
}

impl RunOptions {
    /// Where the run's kernels and environments are read from, in `cache`'s shipped defaults
    /// where the project has none.
    pub(crate) fn matrix(&self, cache: &Cache) -> Result<MatrixDirs> {
        shipped::matrix_of(cache, &self.repo, self.kernels_dir.as_deref())
    }
}

/// A run, in the cache `opts.cache_dir` names (else the environment's), opened here once.
pub fn run(opts: &RunOptions) -> Result<RunReport> {
    run_with(opts, &crate::supply::open_cache(opts.cache_dir.as_deref())?)
}

/// A run in `cache`, the one its command opened.
pub fn run_with(opts: &RunOptions, cache: &Cache) -> Result<RunReport> {
    let start = Instant::now();
    let mut phases = Phases::new(start);
    if opts.jobs == 0 {
        bail!("-j 0: 0 guests would boot nothing: give at least 1");
    }
    crate::vm::guests::install_interrupt_handler();
    let matrix = opts.matrix(cache)?;
    let (model, unselected) = model::load_selected(&opts.scenarios_dir, &matrix, &opts.selection.scenarios)?;
    for e in unselected {
        crate::event::emit(crate::event::Event::Warning(format!(
            "skipped an invalid scenario file that --scenario does not name (a run of every scenario would stop on it):\n{e}"
        )));
    }
    let mut enforcer = opts.enforcer.load()?;
    let qemu_version = qemu::version()?;
    phases.mark("load, QEMU version");
    // Staging: a fetched enforcer is found in the run's own cache, a workspace's is built there.
    enforcer.stage(cache)?;
    let mut supply = crate::supply::for_repo(&opts.repo, &matrix.kernels, cache.clone(), false)?;
    // Environments are made ready before planning, so that each case is planned with its container.
    let envs = env::prepare(&plan::select_environments(&model, &opts.selection)?, &opts.repo, &mut supply)?;
    let others: Vec<Enforcer> = opts
        .variants
        .iter()
        .map(|v| {
            let mut e = EnforcerChoice { faults: v.faults.clone(), ..opts.enforcer.clone() }.load()?;
            e.stage(cache)?;
            Ok(e)
        })
        .collect::<Result<_>>()?;
    let everything = Selection::default();
    let variants: Vec<Variant> =
        std::iter::once(Variant { enforcer: &enforcer, within: &everything, judge_as_bare: opts.judge_as_bare })
            .chain(opts.variants.iter().zip(&others).map(|(v, enforcer)| Variant {
                enforcer,
                within: &v.within,
                judge_as_bare: v.judge_as_bare,
            }))
            .collect();
    let runs = plan::plan_variants(&model, &opts.selection, &variants, &envs)?;
    if opts.shell && (runs.len() != 1 || runs[0].cells.len() != 1) {
        bail!(
            "--shell opens one cell's guest, but the selection has {} cells: pass --kernel, --scenario and --env naming one of each",
            runs.iter().map(|r| r.cells.len()).sum::<usize>()
        );
    }
    phases.mark("environments and plan");
    // Kernels still to be built from source take minutes on a fresh machine: the other
    // kernels boot and are judged first, and their table is shown while the build runs.
    let (ready, to_build): (Vec<KernelRun>, Vec<KernelRun>) =
        runs.into_iter().partition(|r| !supply.needs_a_build(&model.kernels[r.kernel].value));
    let building: Vec<String> = to_build.iter().map(|r| model.kernels[r.kernel].value.name.to_string()).collect();
    // One pass when every kernel is at hand (or none is), two otherwise.
    let mut passes: Vec<Vec<KernelRun>> = [ready, to_build].into_iter().filter(|p| !p.is_empty()).collect();
    if passes.is_empty() {
        passes.push(Vec::new());
    }
    let judging = JudgeOptions { as_bare: opts.judge_as_bare, strict: opts.strict };
    let (mut cells, mut kernels, mut last, mut host_setup) = (Vec::new(), Vec::<KernelReport>::new(), None, None);
    let n_passes = passes.len();
    let mut judge_time = Duration::ZERO;
    for (i, pass) in passes.into_iter().enumerate() {
        let staged = stage::stage(&model, &pass, &enforcer, &envs, &mut supply, !opts.verbose, &mut phases)?;
        host_setup.get_or_insert(start.elapsed());
        let inputs = pool::Inputs {
            model: &model,
            runs: &pass,
            kernels: &staged.kernels,
            modules: &staged.modules,
            boot_images: &staged.boot_images,
            base: &staged.base,
            layers: &staged.layers,
            cache,
            qemu_version: &qemu_version,
        };
        let mut outcomes = pool::boot_all(&inputs, &opts.boot_options());
        for (out, config) in outcomes.iter_mut().zip(&staged.host_configs) {
            if let Some(p) = out.report.preflight.as_mut().filter(|p| p.config.is_none()) {
                p.config = config.clone();
            }
        }
        let judging_started = Instant::now();
        let judged = judge_all(&model, &pass, &outcomes, &enforcer.claims, judging);
        judge_time += judging_started.elapsed();
        if i + 1 < n_passes {
            // The run's own enforcer's cells: the variants' verdicts are their caller's to word
            // (a fault mode's failing cell is the mutation gate's catch, not a FAIL).
            let own: Vec<_> = judged.iter().filter(|c| c.variant == 0).cloned().collect();
            let table = report::table::render(&own);
            crate::event::emit(crate::event::Event::FirstResults { table, building: building.clone() });
        }
        cells.extend(judged);
        kernels.extend(outcomes.into_iter().map(|o| o.report));
        last = Some(staged);
    }
    let (Some(staged), Some(host_setup)) = (last, host_setup) else { unreachable!("a run has at least one pass") };

    let common = Provenance {
        qemu_version: qemu_version.clone(),
        enforcer_sha256: enforcer.digest(&staged.bins.enforcer_sha256)?,
        guest_sha256: staged.bins.guest_sha256.clone(),
        busybox_sha256: staged.busybox.sha256.clone(),
        base_image: staged.base.key.clone(),
        enforcer_faults: enforcer.faults.clone(),
    };
    let snapshot_dir = opts.scenarios_dir.join("snapshots").join(&enforcer.snapshots);
    // A known-bad mode's evidence goes under its own directory: it never takes the place of the
    // correct enforcer's evidence beside the snapshots.
    let evidence_dir = match enforcer.faults.is_empty() {
        true => snapshot_dir.clone(),
        false => snapshot_dir.join("faults").join(enforcer.faults.join("+")),
    };
    let mut after_boot = vec![("judge", judge_time)];
    let files_started = Instant::now();
    // The files are named by cell: the run's own enforcer (variant 0) writes them.
    let (mut own, others): (Vec<_>, Vec<_>) = cells.into_iter().partition(|c| c.variant == 0);
    provenance::write(&evidence_dir, &own, &kernels, &common, &envs);
    // Each judged cell's whole output, beside its provenance; the failure report points to it.
    for c in own.iter_mut() {
        if let Ok(v) = &mut c.outcome {
            let path = evidence_dir.join(report::output::file_name(v));
            match crate::cache::write_atomic(&path, report::output::render(v).as_bytes()) {
                Ok(()) => v.evidence.output_file = Some(path),
                Err(e) => {
                    crate::event::emit(crate::event::Event::Warning(format!("cannot write {}: {e:#}", path.display())))
                }
            }
        }
    }
    after_boot.push(("output and provenance files", files_started.elapsed()));
    if opts.snapshots {
        let snapshots_started = Instant::now();
        snapshot::check_all(&snapshot_dir, &opts.repo, &mut own, opts.accept);
        after_boot.push(("snapshots", snapshots_started.elapsed()));
    }
    let mut cells = own;
    cells.extend(others);
    let environments = model.environments.iter().map(|e| (e.name.clone(), e.about().to_string())).collect();
    Ok(RunReport {
        cells,
        kernels,
        qemu_version,
        wall: start.elapsed(),
        image_built: staged.base.built,
        downloads: supply.downloads,
        host_setup,
        host_phases: phases.done,
        after_boot,
        evidence_dir,
        enforcer: enforcer.describe(),
        environments,
    })
}
