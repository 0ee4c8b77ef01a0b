//! Supply: every pinned thing a run needs, turned into an artifact with its digest, through
//! the one cache its command opened and handed in ([`Supply::cache`]): kernels (a distribution
//! package, a URL, a local file or a build from source, `kernel_build.rs`) and guest packages
//! through apt (`apt.rs`, `mirror.rs`), verified against the lock files (`lock.rs`); the guest
//! binaries (`guest.rs`); the container runtimes with their libraries (`runtime.rs`); an
//! external enforcer fetched by its pinned recipe (`recipe.rs`) or built from a project's
//! workspace (`cargo.rs`, the one route to a cargo build for the guest), and the host libraries
//! it links (`host_libs.rs`); a kernel's modules out of its own package (`modules.rs`); lockgate's shipped defaults and the guest's sources, unpacked
//! from the crate (`shipped.rs`). Staging calls it; loading and planning never do.
//!
//! A command opens its cache once ([`open_cache`]) and hands it down; nothing below opens one.

pub mod apparmor;
pub mod apt;
mod boot_image;
pub mod cargo;
pub mod drift;
pub mod guest;
pub mod host_libs;
pub mod kconfig;
pub mod kernel_build;
pub mod latest;
pub mod lock;
pub mod mirror;
pub mod modules;
pub mod recipe;
pub mod runtime;
pub mod shipped;
pub mod url;

use crate::cache::Cache;
pub use crate::model::kernel::PackagedFile;
use crate::model::kernel::{Distro, KernelManifest, KernelSource, PackageRef};
use anyhow::{bail, Context, Result};
use lock::LockFile;
use std::path::{Path, PathBuf};

pub use crate::model::packages::ImagePackages;

/// The one place a cache is opened: `dir` (a run's `cache_dir`), else `$LOCKGATE_CACHE`, else
/// `$XDG_CACHE_HOME/lockgate`, else `~/.cache/lockgate`. A command calls it once and hands the
/// cache down.
pub fn open_cache(dir: Option<&Path>) -> Result<Cache> {
    let root = if let Some(dir) = dir {
        dir.to_path_buf()
    } else if let Some(p) = std::env::var_os("LOCKGATE_CACHE") {
        PathBuf::from(p)
    } else if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        PathBuf::from(p).join("lockgate")
    } else {
        let home = std::env::var_os("HOME").context(
            "neither LOCKGATE_CACHE nor HOME is set; set LOCKGATE_CACHE to a directory for lockgate's cache",
        )?;
        PathBuf::from(home).join(".cache/lockgate")
    };
    Cache::at(root)
}

/// A fetched file, with the digest it was verified against.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: PathBuf,
    pub sha256: String,
}

pub struct Supply {
    pub cache: Cache,
    pub kernel_lock: LockFile,
    pub image_lock: LockFile,
    pub images: ImagePackages,
    /// `lockgate kernels lock`: fetch unpinned artifacts and record their digests.
    pub update_lock: bool,
    /// Print a line for each download.
    pub verbose: bool,
    /// Packages downloaded so far (a warm run downloads none).
    pub downloads: usize,
    /// The suites whose index this process has refreshed (`kernels check` asks each once).
    pub refreshed: std::collections::BTreeSet<String>,
}

#[derive(Clone, Copy)]
enum Which {
    Kernels,
    Images,
}

impl Supply {
    fn lock(&mut self, which: Which) -> &mut LockFile {
        match which {
            Which::Kernels => &mut self.kernel_lock,
            Which::Images => &mut self.image_lock,
        }
    }

    /// Writes a first pin (`key` = `digest`) into the lock `which` and says so; a package and a
    /// URL download are pinned the same way.
    fn pin(&mut self, which: Which, key: &str, digest: &str) -> Result<()> {
        let lock = self.lock(which);
        lock.set(key, digest);
        lock.save()?;
        crate::event::emit(crate::event::Event::Pinned {
            key: key.to_string(),
            digest: digest.to_string(),
            lock: lock.path().to_path_buf(),
        });
        Ok(())
    }

    /// The kernel image of a manifest, fetched and verified. A pinned package the archive no
    /// longer lists is an error naming the command that moves the kernel to its line's
    /// current build.
    pub fn kernel(&mut self, k: &KernelManifest) -> Result<Artifact> {
        let pinned = match &k.source {
            KernelSource::Package { package, .. } => Some(package.lock_key()),
            KernelSource::Build(b) => match &b.tarball {
                crate::model::kernel::TarballSource::Package { package, .. } => Some(package.lock_key()),
                crate::model::kernel::TarballSource::Url { .. } => None,
            },
            _ => None,
        }
        .is_some_and(|key| self.kernel_lock.get(&key).is_some());
        self.kernel_image(k).map_err(|e| {
            // Only a pin can have left the archive; a version never pinned was never there.
            if pinned && e.chain().any(|c| c.is::<apt::NotListed>()) {
                e.context(format!(
                    "kernel `{}`: its pinned build has left the archive (distributions drop superseded builds). Run `{}` to move it to the archive's current build of the same line: it shows the old and new versions and sha256 before writing the manifest and the lock; review the diff",
                    k.name,
                    crate::invocation::command(&format!("kernels update {}", k.name))
                ))
            } else {
                e
            }
        })
    }

    fn kernel_image(&mut self, k: &KernelManifest) -> Result<Artifact> {
        match &k.source {
            KernelSource::Package { package, image, .. } => {
                self.packaged_file(package, image, Which::Kernels).with_context(|| format!("kernel `{}`", k.name))
            }
            KernelSource::Path { path } => {
                let p = PathBuf::from(path);
                if !p.is_file() {
                    bail!("kernel `{}`: {path} does not exist; build your bzImage there or fix `source.path`", k.name);
                }
                Ok(Artifact { sha256: crate::cache::sha256_file(&p)?, path: p })
            }
            KernelSource::Url { url, image } => {
                let file = self.url_artifact(url, Which::Kernels).with_context(|| format!("kernel `{}`", k.name))?;
                match image {
                    Some(inner) => {
                        self.file_of_deb(&file, inner).with_context(|| format!("kernel `{}`: {url}", k.name))
                    }
                    None => Ok(file),
                }
            }
            KernelSource::Build(_) => {
                Ok(self.built_kernel(k, false).with_context(|| format!("kernel `{}`", k.name))?.image)
            }
        }
    }

    pub fn busybox(&mut self) -> Result<Artifact> {
        let f = self.images.busybox.clone();
        self.packaged_file(&f.package, &f.file, Which::Images).context("busybox for the guest image")
    }

    /// One file out of a guest package pinned in images/lock.yaml (a seccomp profile).
    pub fn image_file(&mut self, f: &PackagedFile) -> Result<Artifact> {
        self.packaged_file(&f.package, &f.file, Which::Images)
    }

    /// A guest package's .deb, pinned in images/lock.yaml (a runtime and its libraries).
    pub fn image_package(&mut self, pkg: &PackageRef) -> Result<Artifact> {
        // Downloads take the cache's fetch lock, as packaged_file does.
        let cached = self.image_lock.get(&pkg.lock_key()).is_some_and(|d| self.cache.blob_path(d).exists());
        let _fetching = if cached { None } else { Some(self.cache.lock()?) };
        self.package(pkg, Which::Images)
    }

    /// A package's .deb pinned by the digest its user records (an adapter's `deb:` recipe), not
    /// by a lock file: from the cache, or through apt and checked against `sha256`.
    pub fn pinned_deb(&mut self, pkg: &PackageRef, sha256: &str) -> Result<PathBuf> {
        if let Some(path) = self.cache.blob(sha256)? {
            return Ok(path);
        }
        let _fetching = self.cache.lock()?;
        let keyring = self.keyring(pkg.distro)?;
        let root = apt::AptRoot::prepare(&self.cache, pkg, &keyring)?;
        let work = self.cache.tempdir()?;
        let deb = root.download(pkg, work.path())?;
        self.downloads += 1;
        let got = crate::cache::sha256_file(&deb)?;
        if got != sha256 {
            bail!(
                "{} {} ({}): its sha256 is {got}, the adapter pins {sha256}: the archive handed over something else than what was reviewed; if the new build is intended, review it and put its digest in the adapter",
                pkg.name, pkg.version, pkg.suite
            );
        }
        let (_, path) = self.cache.insert(&deb, Some(sha256), &pkg.lock_key())?;
        Ok(path)
    }

    fn keyring(&mut self, distro: Distro) -> Result<PathBuf> {
        match distro {
            Distro::Debian => {
                let p = PathBuf::from("/usr/share/keyrings/debian-archive-keyring.gpg");
                if !p.exists() {
                    bail!(
                        "{} is missing: install debian-archive-keyring (apt-get install debian-archive-keyring)",
                        p.display()
                    );
                }
                Ok(p)
            }
            Distro::Ubuntu => {
                let f = self.images.ubuntu_keyring.clone();
                Ok(self.packaged_file(&f.package, &f.file, Which::Images).context("Ubuntu's archive keyring")?.path)
            }
        }
    }

    /// One file out of a pinned package. The extracted file is itself cached by digest, with a
    /// small index from (package digest, inner path) to it, so a warm run neither downloads nor
    /// unpacks anything.
    fn packaged_file(&mut self, pkg: &PackageRef, inner: &str, which: Which) -> Result<Artifact> {
        if let Some(pinned) = self.lock(which).get(&pkg.lock_key()).map(str::to_string) {
            let index = self.cache.dir("index").join(format!("{pinned}-{}", sanitize(inner)));
            if let Ok(digest) = std::fs::read_to_string(&index) {
                if let Some(path) = self.cache.blob(digest.trim())? {
                    return Ok(Artifact { path, sha256: digest.trim().to_string() });
                }
            }
        }
        let _fetching = self.cache.lock()?;
        let deb = self.package(pkg, which)?;
        let work = self.cache.tempdir()?;
        let out = work.path().join("file");
        apt::extract_file(&deb.path, inner, &out)?;
        let (digest, path) = self.cache.insert(&out, None, inner)?;
        let index = self.cache.dir("index").join(format!("{}-{}", deb.sha256, sanitize(inner)));
        crate::cache::write_atomic(&index, digest.as_bytes())?;
        Ok(Artifact { path, sha256: digest })
    }

    /// The package's .deb, from the cache or through apt, verified against the lock.
    fn package(&mut self, pkg: &PackageRef, which: Which) -> Result<Artifact> {
        let key = pkg.lock_key();
        let pinned = self.lock(which).get(&key).map(str::to_string);
        if let Some(pinned) = &pinned {
            if let Some(path) = self.cache.blob(pinned)? {
                return Ok(Artifact { path, sha256: pinned.clone() });
            }
        } else if !self.update_lock {
            bail!(
                "{key} is not pinned in {}: runs only use artifacts whose sha256 is recorded. Run `{}` to fetch and pin it, then review the change",
                self.lock(which).path().display(),
                crate::invocation::command("kernels lock")
            );
        }
        let keyring = self.keyring(pkg.distro)?;
        if self.verbose {
            crate::event::emit(crate::event::Event::Fetching {
                name: pkg.name.to_string(),
                version: pkg.version.to_string(),
                distro: pkg.distro.to_string(),
                suite: pkg.suite.to_string(),
            });
        }
        let root = apt::AptRoot::prepare(&self.cache, pkg, &keyring)?;
        let work = self.cache.tempdir()?;
        let deb = root.download(pkg, work.path())?;
        self.downloads += 1;
        let (digest, path) = self.cache.insert(&deb, pinned.as_deref(), &key)?;
        if pinned.is_none() {
            self.pin(which, &key, &digest)?;
        }
        Ok(Artifact { path, sha256: digest })
    }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

/// The supply of a project: its kernels' lock (`kernels_dir/lock.yaml`), its guest packages
/// and their lock (`repo/images/`, else lockgate's shipped ones).
pub fn for_repo(repo: &Path, kernels_dir: &Path, cache: Cache, update_lock: bool) -> Result<Supply> {
    Ok(Supply {
        kernel_lock: lock::LockFile::load(&kernels_dir.join("lock.yaml"))?,
        image_lock: lock::LockFile::load(&shipped::or_default(&cache, repo, "images/lock.yaml")?)?,
        images: ImagePackages::load(&shipped::or_default(&cache, repo, "images/packages.yaml")?)?,
        cache,
        update_lock,
        verbose: true,
        downloads: 0,
        refreshed: Default::default(),
    })
}

/// `file` decompressed by the host's `tool` (with `args`, from Debian's `package`), for a
/// module of a kernel package or a kernel's payload (`what`, for the error).
fn decompress(tool: &str, args: &[&str], package: &str, file: &Path, what: &str) -> Result<Vec<u8>> {
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(file)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {tool} to decompress {what} (package {package})"))?;
    if !out.status.success() {
        bail!("{tool} could not decompress {what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out.stdout)
}
