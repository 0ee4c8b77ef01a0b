//! Building a kernel from source (`source: build:`): a source tarball (from a pinned package such
//! as Debian's `linux-source-6.1`, or a pinned URL) plus a config fragment kept in `kernels/`.
//!
//! Recipe: `make tinyconfig`, merge the fragment, `make olddefconfig`, check that every setting
//! of the fragment survived, `make -j<cores> bzImage`. The result (bzImage and .config) is cached
//! by (source digest, fragment digest); the source tree is built in a temporary directory of the
//! cache that is deleted afterwards, so a failed or interrupted build leaves nothing behind.
//! Build stamps are fixed (KBUILD_BUILD_TIMESTAMP/USER/HOST) so that the same inputs give the
//! same kernel release string and `uname -v`.

use super::{Artifact, Supply, Which};
use crate::event::{emit, Event};
use crate::model::kernel::{BuildSource, KernelManifest, KernelSource, TarballSource};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bump when the recipe changes in a way that changes the kernel it makes.
const RECIPE: &str = "lockgate-kernel-build-v1";

/// (command, Debian package) a kernel build needs.
const TOOLS: &[(&str, &str)] = &[
    ("gcc", "gcc"),
    ("make", "make"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("perl", "perl"),
    ("lz4", "lz4"),
    ("xz", "xz-utils"),
    ("tar", "tar"),
    ("dpkg-deb", "dpkg"),
];

/// Debian packages missing for a kernel build on this machine (libelf-dev: objtool).
pub fn missing_build_packages() -> Vec<&'static str> {
    let mut missing: Vec<&str> = TOOLS.iter().filter(|(c, _)| !have(c)).map(|(_, p)| *p).collect();
    if !Path::new("/usr/include/libelf.h").exists() && !Path::new("/usr/include/elfutils/libelf.h").exists() {
        missing.push("libelf-dev");
    }
    missing
}

fn have(cmd: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(cmd).is_file()))
}

/// What a built kernel is cached under, and where its pieces are.
pub struct Built {
    pub image: Artifact,
    pub config: Artifact,
}

/// The cache key of a build: the recipe, the source's digest, the fragment's digest.
pub fn build_key(source_sha256: &str, fragment: &[u8]) -> String {
    crate::cache::sha256_bytes(
        format!("{RECIPE}\n{source_sha256}\n{}\n", crate::cache::sha256_bytes(fragment)).as_bytes(),
    )
}

impl Supply {
    /// The source tarball's container (the .deb or the tarball itself), fetched and verified
    /// (and pinned, under `lockgate kernels lock`).
    pub fn build_source(&mut self, b: &BuildSource) -> Result<Artifact> {
        match &b.tarball {
            TarballSource::Package { package, .. } => self.package(package, Which::Kernels),
            TarballSource::Url { url } => self.url_artifact(url, Which::Kernels),
        }
    }

    /// The digest of the pinned source, without fetching it (None when it is not pinned).
    pub fn build_source_pin(&self, b: &BuildSource) -> Option<String> {
        let key = match &b.tarball {
            TarballSource::Package { package, .. } => package.lock_key(),
            TarballSource::Url { url } => KernelSource::url_lock_key(url),
        };
        self.kernel_lock.get(&key).map(str::to_string)
    }

    /// The built kernel when the cache has it (no fetch, no build).
    pub fn cached_build(&self, b: &BuildSource) -> Result<Option<Built>> {
        let Some(source) = self.build_source_pin(b) else { return Ok(None) };
        self.lookup_build(&build_key(&source, &b.fragment_bytes()?))
    }

    /// Whether `k` is a kernel built from source that the cache does not have yet: a run boots
    /// the other kernels first. Anything unreadable counts as not built; the build says why.
    pub fn needs_a_build(&self, k: &KernelManifest) -> bool {
        match &k.source {
            KernelSource::Build(b) => !matches!(self.cached_build(b), Ok(Some(_))),
            _ => false,
        }
    }

    fn lookup_build(&self, key: &str) -> Result<Option<Built>> {
        let index = self.cache.dir("index").join(format!("build-{key}"));
        let Ok(text) = std::fs::read_to_string(&index) else { return Ok(None) };
        let mut image = None;
        let mut config = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("image", d)) => image = Some(d.trim().to_string()),
                Some(("config", d)) => config = Some(d.trim().to_string()),
                _ => {}
            }
        }
        let (Some(image), Some(config)) = (image, config) else { return Ok(None) };
        match (self.cache.blob(&image)?, self.cache.blob(&config)?) {
            (Some(ip), Some(cp)) => Ok(Some(Built {
                image: Artifact { path: ip, sha256: image },
                config: Artifact { path: cp, sha256: config },
            })),
            _ => Ok(None),
        }
    }

    /// The kernel of a `build:` manifest: from the cache, or built now. `rebuild` ignores the
    /// cache (to measure a build, or after changing the host's compiler).
    pub fn built_kernel(&mut self, k: &KernelManifest, rebuild: bool) -> Result<Built> {
        let KernelSource::Build(b) = &k.source else { bail!("kernel `{}` is not built from source", k.name) };
        let fragment = b.fragment_bytes()?;
        if !rebuild {
            if let Some(source) = self.build_source_pin(b) {
                if let Some(built) = self.lookup_build(&build_key(&source, &fragment))? {
                    return Ok(built);
                }
            }
        }
        let missing = missing_build_packages();
        if !missing.is_empty() {
            bail!(
                "kernel `{}` is built from source, and this machine lacks {}: install them (apt-get install {}) or run `{}` as root",
                k.name,
                missing.join(", "),
                missing.join(" "),
                crate::invocation::command("kernels build")
            );
        }
        let source = self.build_source(b)?;
        let key = build_key(&source.sha256, &fragment);
        if !rebuild {
            if let Some(built) = self.lookup_build(&key)? {
                return Ok(built);
            }
        }
        let _fetching = self.cache.lock()?;
        // Another run may have built it while this one waited for the lock.
        if !rebuild {
            if let Some(built) = self.lookup_build(&key)? {
                return Ok(built);
            }
        }
        // Builds only run under the fetch lock: a build directory left in the cache is from a
        // build that was killed (a process that dies of a signal runs no destructors).
        remove_stale_builds(&self.cache.dir("tmp"));
        let work = self.cache.tempdir()?;
        std::fs::write(work.path().join(BUILD_MARKER), b"")?;
        let tree = work.path().join("linux");
        std::fs::create_dir_all(&tree)?;
        let start = Instant::now();
        let progress = Progress::new(k.name.as_str());
        progress.line(&format!("building kernel {} from {} (cached afterwards)", k.name, k.source.describe()));
        progress.line("  1/4 unpacking the source");
        unpack(&source.path, b, &tree)?;
        progress.line("  2/4 configuring: make tinyconfig + fragment + olddefconfig");
        configure(&tree, &b.fragment_names(), &fragment, work.path())?;
        let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        progress.line(&format!("  3/4 make -j{jobs} bzImage"));
        make_bzimage(&tree, jobs, work.path(), &progress)?;
        progress.line("  4/4 caching the image and its .config");
        let (image_digest, image_path) =
            self.cache.insert(&tree.join("arch/x86/boot/bzImage"), None, "built bzImage")?;
        let (config_digest, config_path) = self.cache.insert(&tree.join(".config"), None, "built .config")?;
        let index = self.cache.dir("index").join(format!("build-{key}"));
        crate::cache::write_atomic(&index, format!("image {image_digest}\nconfig {config_digest}\n").as_bytes())?;
        progress.line(&format!(
            "built kernel {} in {} (bzImage {})",
            k.name,
            mmss(start.elapsed()),
            &image_digest[..16]
        ));
        drop(work);
        Ok(Built {
            image: Artifact { path: image_path, sha256: image_digest },
            config: Artifact { path: config_path, sha256: config_digest },
        })
    }
}

/// Marks a temporary directory of the cache as a kernel build's.
const BUILD_MARKER: &str = "lockgate-kernel-build";

fn remove_stale_builds(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.join(BUILD_MARKER).is_file() {
            crate::event::emit(crate::event::Event::StaleBuildRemoved { dir: p.clone() });
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

fn mmss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

/// Progress of one kernel build, as events: updated in place on a terminal, one line every 30 s
/// otherwise.
struct Progress {
    name: String,
    tty: bool,
}

impl Progress {
    fn new(name: &str) -> Progress {
        Progress { name: name.to_string(), tty: crate::event::stderr_is_terminal() }
    }
    fn line(&self, msg: &str) {
        emit(Event::Build(msg.to_string()));
    }
    fn tick(&self, files: usize, expected: Option<usize>, elapsed: Duration, last_print: &mut Instant) {
        let percent = expected.map(|e| (100 * files / e.max(1)).min(99));
        let event = Event::BuildProgress { kernel: self.name.clone(), files, percent, elapsed, in_place: self.tty };
        if self.tty {
            emit(event);
        } else if last_print.elapsed() >= Duration::from_secs(30) {
            emit(event);
            *last_print = Instant::now();
        }
    }
    fn done(&self) {
        if self.tty {
            emit(Event::BuildProgressDone);
        }
    }
}

/// Unpack the source tarball into `tree` (its top directory stripped).
fn unpack(container: &Path, b: &BuildSource, tree: &Path) -> Result<()> {
    let script = match &b.tarball {
        // dpkg-deb gives the package's data as an uncompressed tar; take the tarball out of it
        // and unpack it on the fly.
        TarballSource::Package { tarball, .. } => {
            let member = format!("./{}", tarball.trim_start_matches("./").trim_start_matches('/'));
            format!(
                "set -o pipefail 2>/dev/null; dpkg-deb --fsys-tarfile \"$1\" | tar -xO -f - -- {} | tar -x {} --strip-components=1 -C \"$2\" -f -",
                shell_quote(&member),
                decompress_flag(tarball)?
            )
        }
        TarballSource::Url { url } => {
            format!("tar -x {} --strip-components=1 -C \"$2\" -f \"$1\"", decompress_flag(url)?)
        }
    };
    let out = Command::new("bash")
        .args(["-c", &script, "unpack"])
        .arg(container)
        .arg(tree)
        .stdin(Stdio::null())
        .output()
        .context("cannot run bash, dpkg-deb and tar to unpack the kernel source")?;
    if !out.status.success() || !tree.join("Makefile").is_file() {
        let hint = match &b.tarball {
            TarballSource::Package { tarball, .. } => {
                format!("does the package hold {tarball}? (dpkg-deb -c {})", container.display())
            }
            TarballSource::Url { .. } => "is it a kernel source tarball?".into(),
        };
        bail!(
            "cannot unpack the kernel source from {}: {}; {hint}",
            container.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn decompress_flag(name: &str) -> Result<&'static str> {
    Ok(if name.ends_with(".tar.xz") || name.ends_with(".txz") {
        "-J"
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        "-z"
    } else if name.ends_with(".tar.bz2") {
        "-j"
    } else if name.ends_with(".tar.zst") {
        "--zstd"
    } else if name.ends_with(".tar") {
        ""
    } else {
        bail!("`{name}`: lockgate unpacks .tar, .tar.xz, .tar.gz, .tar.bz2 and .tar.zst kernel sources")
    })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn make(tree: &Path) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(tree)
        .arg("ARCH=x86_64")
        .env("KBUILD_BUILD_TIMESTAMP", "@0")
        .env("KBUILD_BUILD_USER", "lockgate")
        .env("KBUILD_BUILD_HOST", "lockgate")
        .env("LC_ALL", "C")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("CROSS_COMPILE")
        .stdin(Stdio::null());
    cmd
}

fn run_logged(mut cmd: Command, log: &Path, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    let _ = std::fs::write(log, &text);
    if !out.status.success() {
        bail!("{what} failed:\n{}", tail(&String::from_utf8_lossy(&text), 25));
    }
    Ok(())
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// tinyconfig + fragment + olddefconfig, then check the fragment survived.
fn configure(tree: &Path, fragment_names: &str, fragment: &[u8], work: &Path) -> Result<()> {
    let mut c = make(tree);
    c.arg("tinyconfig");
    run_logged(c, &work.join("tinyconfig.log"), "make tinyconfig")?;
    let frag = work.join("fragment.config");
    std::fs::write(&frag, fragment)?;
    let mut m = Command::new("sh");
    m.current_dir(tree).arg("scripts/kconfig/merge_config.sh").arg("-m").arg(".config").arg(&frag).stdin(Stdio::null());
    run_logged(m, &work.join("merge.log"), "scripts/kconfig/merge_config.sh")?;
    let mut o = make(tree);
    o.arg("olddefconfig");
    run_logged(o, &work.join("olddefconfig.log"), "make olddefconfig")?;
    let config = std::fs::read_to_string(tree.join(".config")).context("olddefconfig wrote no .config")?;
    let dropped = dropped_settings(&String::from_utf8_lossy(fragment), &config);
    if !dropped.is_empty() {
        bail!(
            "the config fragment {} asks for settings that `make olddefconfig` did not keep (their dependencies are not met; \
             add those to the fragment, or look the symbols up with `make menuconfig`, `/`):\n  {}",
            fragment_names,
            dropped.join("\n  ")
        );
    }
    Ok(())
}

/// The fragment's settings that the final .config does not have, as `CONFIG_X: wanted W, got G`.
/// A symbol set twice (a later fragment overriding tiny.config) is checked at its last value,
/// the one kconfig keeps.
pub fn dropped_settings(fragment: &str, config: &str) -> Vec<String> {
    let have = parse_settings(config);
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (sym, v) in parse_settings(fragment) {
        wanted.retain(|(s, _)| *s != sym);
        wanted.push((sym, v));
    }
    wanted
        .into_iter()
        .filter_map(|(sym, want)| {
            let got = have.iter().find(|(s, _)| *s == sym).map(|(_, v)| v.clone()).unwrap_or_else(|| "n".into());
            (got != want).then(|| format!("{sym}: the fragment says {want}, the final .config has {got}"))
        })
        .collect()
}

/// `CONFIG_X=v` and `# CONFIG_X is not set` (= `n`) lines of a config file.
fn parse_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if let Some(rest) = l.strip_prefix("# ").and_then(|r| r.strip_suffix(" is not set")) {
                return rest.starts_with("CONFIG_").then(|| (rest.to_string(), "n".to_string()));
            }
            let (k, v) = l.split_once('=')?;
            k.starts_with("CONFIG_").then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// `make -j bzImage`, counting compiled files for the progress line; the full log is kept in
/// the work directory and its tail shown on failure.
fn make_bzimage(tree: &Path, jobs: usize, work: &Path, progress: &Progress) -> Result<()> {
    let log_path = work.join("build.log");
    let mut log = std::fs::File::create(&log_path)?;
    let mut cmd = make(tree);
    cmd.arg(format!("-j{jobs}")).arg("bzImage").stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run make")?;
    // stderr on its own thread (so that neither pipe fills up), into the same log.
    let stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            v.push(line);
        }
        v
    });
    let start = Instant::now();
    let mut last_print = Instant::now();
    let mut files = 0usize;
    let expected = expected_files(tree);
    for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
        let _ = writeln!(log, "{line}");
        if line.starts_with("  CC ") || line.starts_with("  AS ") {
            files += 1;
            progress.tick(files, expected, start.elapsed(), &mut last_print);
        }
    }
    let status = child.wait()?;
    let errs = err_thread.join().unwrap_or_default();
    for l in &errs {
        let _ = writeln!(log, "{l}");
    }
    progress.done();
    if !status.success() || !tree.join("arch/x86/boot/bzImage").is_file() {
        bail!("make bzImage failed (log: {}):\n{}", log_path.display(), tail(&errs.join("\n"), 30));
    }
    save_expected_files(tree, files);
    Ok(())
}

/// Files compiled by the last build of this kernel version (for a percentage), if known.
fn expected_files(tree: &Path) -> Option<usize> {
    std::fs::read_to_string(expected_path(tree)?).ok()?.trim().parse().ok()
}

fn save_expected_files(tree: &Path, n: usize) {
    if let Some(p) = expected_path(tree) {
        let _ = crate::cache::write_atomic(&p, n.to_string().as_bytes());
    }
}

/// `<cache>/index/build-files-<kernelversion>`: the tree is `<cache>/tmp/work-…/linux`.
fn expected_path(tree: &Path) -> Option<PathBuf> {
    let makefile = std::fs::read_to_string(tree.join("Makefile")).ok()?;
    let field = |k: &str| {
        makefile.lines().find_map(|l| l.strip_prefix(k).map(|v| v.trim_start_matches([' ', '=']).trim().to_string()))
    };
    let version = format!("{}.{}", field("VERSION")?, field("PATCHLEVEL")?);
    let cache_root = tree.parent()?.parent()?.parent()?;
    Some(cache_root.join("index").join(format!("build-files-{version}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_settings_are_named() {
        let fragment = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_LSM=\"landlock\"\nCONFIG_C=y\n";
        let config = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_LSM=\"landlock,yama\"\n";
        let d = dropped_settings(fragment, config);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].starts_with("CONFIG_B: the fragment says n"), "{d:?}");
        assert!(d[1].contains("CONFIG_LSM"), "{d:?}");
        assert!(d[2].contains("CONFIG_C: the fragment says y, the final .config has n"), "{d:?}");
        assert!(dropped_settings("CONFIG_A=y\n", "CONFIG_A=y\n").is_empty());
    }

    #[test]
    fn the_shipped_fragment_asks_for_what_the_guest_needs() {
        let root = crate::supply::guest::workspace_root();
        let text = std::fs::read_to_string(root.join("kernels/tiny.config")).unwrap();
        let s = parse_settings(&text);
        let want = |sym: &str, v: &str| {
            assert!(s.iter().any(|(k, x)| k == sym && x == v), "kernels/tiny.config lacks {sym}={v}")
        };
        for sym in [
            "CONFIG_64BIT",
            "CONFIG_PRINTK",
            "CONFIG_SERIAL_8250_CONSOLE",
            "CONFIG_BLK_DEV_INITRD",
            "CONFIG_BINFMT_ELF",
            "CONFIG_BINFMT_SCRIPT",
            "CONFIG_MULTIUSER",
            "CONFIG_FUTEX",
            "CONFIG_EPOLL",
            "CONFIG_UNIX",
            "CONFIG_INET",
            "CONFIG_TMPFS",
            "CONFIG_DEVTMPFS",
            "CONFIG_PROC_FS",
            "CONFIG_SYSFS",
            "CONFIG_SECURITYFS",
            "CONFIG_SECCOMP_FILTER",
            "CONFIG_SECURITY_LANDLOCK",
            "CONFIG_IKCONFIG_PROC",
        ] {
            want(sym, "y");
        }
        assert!(s.iter().any(|(k, v)| k == "CONFIG_LSM" && v.contains("landlock")), "CONFIG_LSM must list landlock");
    }

    #[test]
    fn tarball_kinds() {
        assert_eq!(decompress_flag("usr/src/linux-source-6.1.tar.xz").unwrap(), "-J");
        assert_eq!(decompress_flag("linux-6.1.1.tar.gz").unwrap(), "-z");
        assert!(decompress_flag("linux.zip").is_err());
    }
}
