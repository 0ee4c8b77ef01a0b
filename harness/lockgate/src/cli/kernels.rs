//! `lockgate kernels list | fetch | lock | build | check | update`: the project's kernel matrix (its `kernels/`,
//! else lockgate's shipped one). These commands read the kernel manifests and environments
//! only: a scenario file, valid or not, does not concern them.

use super::project::Project;
use crate::cache::Cache;
use crate::model::kernel::{KernelManifest, KernelSource};
use crate::model::Model;
use crate::supply::Supply;
use anyhow::{bail, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum KernelsCmd {
    /// Name, source, expected ABI, cached or not.
    List,
    /// Fetch (and verify) every kernel and guest package.
    Fetch,
    /// Fetch what is not pinned yet and record its sha256 in the lock files.
    Lock,
    /// Build the kernels built from source (`source: build:`), or find them in the cache.
    Build {
        /// Kernels to build, comma-separated; default: every `build:` kernel.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
        /// Build again even when the cache has the kernel.
        #[arg(long)]
        rebuild: bool,
    },
    /// Report each archive kernel whose pin is not the archive's current build of its line
    /// (the same package with another build number, e.g. Debian's linux-image-6.1.0-47-… →
    /// -50-…); exit status 1 when any is, so a nightly job sees drift before a pin vanishes.
    Check {
        /// Kernels to check, comma-separated; default: every kernel.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
    },
    /// Move archive kernels to the archive's current build of their line: shows the old and
    /// new package, version and sha256, fetches and verifies the new build, then rewrites the
    /// manifest and the lock (review the diff).
    Update {
        /// Kernels to move.
        kernels: Vec<String>,
        /// Every kernel whose pin is not its line's current build.
        #[arg(long, conflicts_with = "kernels")]
        all: bool,
        /// Show the change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(super) fn run(project: &Project, cmd: KernelsCmd) -> Result<bool> {
    let (root, matrix, cache) = (&project.root, project.matrix()?, project.cache()?);
    let kernels_dir = &matrix.kernels;
    let model = crate::model::load_matrix(&matrix)?;
    match cmd {
        KernelsCmd::List => {
            let f = crate::supply::for_repo(root, kernels_dir, cache.clone(), false)?;
            list(&model, &f, cache)
        }
        KernelsCmd::Build { kernel, rebuild } => {
            super::setup::ensure_build_tools()?;
            let mut f = crate::supply::for_repo(root, kernels_dir, cache.clone(), false)?;
            build(&model, &mut f, &kernel, rebuild)
        }
        KernelsCmd::Check { kernel } => {
            super::setup::ensure_host_tools()?;
            let mut f = crate::supply::for_repo(root, kernels_dir, cache.clone(), false)?;
            super::drift::check(&model, &mut f, &kernel)
        }
        KernelsCmd::Update { kernels, all, dry_run } => {
            super::setup::ensure_host_tools()?;
            let mut f = crate::supply::for_repo(root, kernels_dir, cache.clone(), false)?;
            super::drift::update(&model, &mut f, &kernels, all, dry_run)
        }
        KernelsCmd::Fetch | KernelsCmd::Lock => {
            super::setup::ensure_host_tools()?;
            let update = matches!(cmd, KernelsCmd::Lock);
            let mut f = crate::supply::for_repo(root, kernels_dir, cache.clone(), update)?;
            let b = f.busybox()?;
            println!("busybox        {}", b.sha256);
            fetch_all(&mut f, &model, update)?;
            // Container environments: their seccomp profiles, runc and its libraries.
            let envs: Vec<_> = model
                .environments
                .iter()
                .filter(|e| matches!(e.kind, crate::model::environment::EnvKind::Container(_)))
                .collect();
            let prepared = crate::env::prepare(&envs, root, &mut f)?;
            for (name, env) in &prepared.envs {
                println!("{name:<14} {}", env.facts.profile_sha256.as_deref().unwrap_or("(no profile)"));
            }
            for b in prepared.runtime.iter().flat_map(|rt| &rt.binaries) {
                println!("{:<14} {} ({})", b.name.as_str(), b.sha256, b.version);
            }
            Ok(true)
        }
    }
}

/// Kind of a source, for the listing.
fn kind(k: &KernelManifest) -> &'static str {
    match &k.source {
        KernelSource::Package { .. } => "package",
        KernelSource::Path { .. } => "path",
        KernelSource::Url { .. } => "url",
        KernelSource::Build(_) => "build",
    }
}

fn short(d: &str) -> String {
    format!("{}…", &d[..16.min(d.len())])
}

/// `kernels list`: name, source, ABI, whether the cache has it, its digest.
fn list(model: &Model, f: &Supply, cache: &Cache) -> Result<bool> {
    println!("{:<24} {:<8} {:<6} {:<24} {:<18} source", "kernel", "kind", "abi", "state", "sha256");
    let mut names: Vec<&KernelManifest> = model.kernels.iter().map(|k| &k.value).collect();
    names.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    for k in names {
        let (state, digest) = match &k.source {
            KernelSource::Package { package, .. } => match f.kernel_lock.get(&package.lock_key()) {
                Some(d) => {
                    (if cache.blob_path(d).exists() { "cached" } else { "pinned, not cached" }.to_string(), short(d))
                }
                None => ("NOT PINNED".into(), "-".into()),
            },
            KernelSource::Url { url, .. } => match f.kernel_lock.get(&KernelSource::url_lock_key(url)) {
                Some(d) => {
                    (if cache.blob_path(d).exists() { "cached" } else { "pinned, not cached" }.to_string(), short(d))
                }
                None => ("NOT PINNED".into(), "-".into()),
            },
            KernelSource::Path { path } => {
                let p = std::path::Path::new(path);
                if p.is_file() {
                    ("local (not pinned)".into(), short(&crate::cache::sha256_file(p)?))
                } else {
                    ("MISSING".into(), "-".into())
                }
            }
            KernelSource::Build(b) => match (f.build_source_pin(b), f.cached_build(b)?) {
                (None, _) => ("source NOT PINNED".into(), "-".into()),
                // The image's digest: a build is pinned by its inputs, not its output.
                (Some(_), Some(built)) => ("built".into(), short(&built.image.sha256)),
                (Some(src), None) => ("not built".into(), format!("src {}", short(&src))),
            },
        };
        let abi = k.abi.to_string().replace("ABI ", "");
        let opt = match k.matrix() {
            crate::model::kernel::Matrix::Default => String::new(),
            m => format!(" ({m})"),
        };
        let cmdline = if k.cmdline.is_empty() { String::new() } else { format!(" [{}]", k.cmdline) };
        println!(
            "{:<24} {:<8} {:<6} {:<24} {:<18} {}{cmdline}{opt}",
            k.name.as_str(),
            kind(k),
            abi,
            state,
            digest,
            k.source.describe()
        );
    }
    Ok(true)
}

/// The kernel half of `kernels fetch` / `lock`: every manifest's kernel, verified (and pinned
/// with `lock`). An opt-in kernel that cannot be had here (a URL this machine cannot reach) is
/// reported and skipped: it is not part of the default matrix.
/// With `lock`, a kernel built from source only has its source fetched and pinned (the build
/// itself is `kernels build`, or the first run that needs it).
fn fetch_all(f: &mut Supply, model: &Model, lock: bool) -> Result<()> {
    let mut failed = Vec::new();
    for k in &model.kernels {
        let got = match &k.value.source {
            KernelSource::Build(b) if lock => f.build_source(b),
            // The package of its modules too (Ubuntu's linux-modules-*), pinned beside it.
            _ => f.kernel(&k.value).and_then(|a| f.kernel_modules(&k.value).map(|_| a)),
        };
        match got {
            Ok(a) => println!("{:<24} {} ({})", k.value.name.as_str(), a.sha256, a.path.display()),
            Err(e) if k.value.matrix() == crate::model::kernel::Matrix::OptIn => {
                println!("{:<24} skipped (opt-in): {e:#}", k.value.name.as_str())
            }
            Err(e) => {
                eprintln!("{}: {e:#}", k.value.name);
                failed.push(k.value.name.to_string());
            }
        }
    }
    if !failed.is_empty() {
        bail!("could not fetch {}", failed.join(", "));
    }
    Ok(())
}

/// `kernels build`: build the `build:` kernels (all, or those named), or find them
/// in the cache. `rebuild` ignores the cache.
fn build(model: &Model, f: &mut Supply, asked: &[String], rebuild: bool) -> Result<bool> {
    let buildable: Vec<&KernelManifest> =
        model.kernels.iter().map(|k| &k.value).filter(|k| matches!(k.source, KernelSource::Build(_))).collect();
    for a in asked {
        if !buildable.iter().any(|k| k.name.as_str() == a) {
            let names: Vec<&str> = buildable.iter().map(|k| k.name.as_str()).collect();
            bail!("`{a}` is not a kernel built from source; those are: {}", names.join(", "));
        }
    }
    for k in buildable.iter().filter(|k| asked.is_empty() || asked.iter().any(|a| a == k.name.as_str())) {
        let start = std::time::Instant::now();
        let built = f.built_kernel(k, rebuild)?;
        println!(
            "{:<24} {} ({}, {:.0}s)\n{:<24} .config {}",
            k.name.as_str(),
            built.image.sha256,
            built.image.path.display(),
            start.elapsed().as_secs_f64(),
            "",
            built.config.sha256
        );
    }
    Ok(true)
}
