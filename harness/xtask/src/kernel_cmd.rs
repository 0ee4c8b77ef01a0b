//! `cargo xtask kernels list | build`, and the kernel half of `fetch` / `lock`.

use anyhow::{bail, Result};
use lockgate::cache::Cache;
use lockgate::fetch::Fetcher;
use lockgate::model::kernel::{KernelManifest, KernelSource};
use lockgate::model::Model;

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

/// `cargo xtask kernels list`: name, source, ABI, whether the cache has it, its digest.
pub fn list(model: &Model, f: &Fetcher, cache: &Cache) -> Result<bool> {
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
                    ("local (not pinned)".into(), short(&lockgate::cache::sha256_file(p)?))
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
        let opt = if k.opt_in { " (opt-in)" } else { "" };
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
/// itself is `cargo xtask kernels build`, or the first run that needs it).
pub fn fetch_all(f: &mut Fetcher, model: &Model, lock: bool) -> Result<()> {
    let mut failed = Vec::new();
    for k in &model.kernels {
        let got = match &k.value.source {
            KernelSource::Build(b) if lock => f.build_source(b),
            _ => f.kernel(&k.value),
        };
        match got {
            Ok(a) => println!("{:<24} {} ({})", k.value.name.as_str(), a.sha256, a.path.display()),
            Err(e) if k.value.opt_in => println!("{:<24} skipped (opt-in): {e:#}", k.value.name.as_str()),
            Err(e) => {
                eprintln!("xtask: {}: {e:#}", k.value.name);
                failed.push(k.value.name.to_string());
            }
        }
    }
    if !failed.is_empty() {
        bail!("could not fetch {}", failed.join(", "));
    }
    Ok(())
}

/// `cargo xtask kernels build`: build the `build:` kernels (all, or those named), or find them
/// in the cache. `rebuild` ignores the cache.
pub fn build(model: &Model, f: &mut Fetcher, asked: &[String], rebuild: bool) -> Result<bool> {
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
