//! Enforcers nobody here wrote, fetched or built from a package registry, pinned and cached.
//!
//! An adapter's `binary: {fetch: RECIPE}` says where its enforcer comes from; the recipe carries
//! the pin (the sha256 of what the registry hands over), so the adapter file alone says which
//! enforcer a run tests. `cargo xtask enforcers fetch` carries the recipe out into lockgate's
//! cache (`enforcers/<name>-<key>/`, `key` the digest of the recipe); loading the adapter then
//! finds the binary there, or says which command makes it. A run never fetches an enforcer by
//! itself: a build of someone else's code is an explicit step.
//!
//! ```yaml
//! binary: {fetch: {npm: {package: "@openai/codex", version: 0.20.0, sha256: …, file: package/bin/codex-x86_64-unknown-linux-musl}}}
//! binary: {fetch: {crate_example: {crate: landlock, version: 0.4.8, sha256: …, example: sandboxer}}}
//! binary: {fetch: {cargo_install: {crate: nono-cli, version: 0.7.0, sha256: …, bin: nono}}}
//! binary: {fetch: {linux_sample: {package: {distro: debian, suite: trixie, name: linux-source-6.12, version: 6.12.117-1},
//!                                 tarball: usr/src/linux-source-6.12.tar.xz, source: samples/landlock/sandboxer.c}}}
//! ```
//!
//! The crates are pinned by the sha256 of the `.crate` file cargo downloads (which cargo checks
//! against the registry's index too) and built with `--locked` against the lock file they ship;
//! the npm package by the sha256 of its tarball (`npm pack`); the Linux sources by the digest
//! `kernels/lock.yaml` records for the package (the kernel manifests' own pin).

use crate::cache::{sha256_bytes, sha256_file, Cache};
pub use crate::model::adapter::Recipe;
use crate::model::kernel::{BuildSource, TarballSource};
use crate::supply::Supply;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when a recipe's way of building changes what it makes.
const RECIPES_VERSION: u32 = 1;

impl Recipe {
    /// The Debian packages carrying it out needs on the host (npm for a package, gcc for a
    /// Linux sample, what the adapter names for a crate's build): set-up installs these and no
    /// other recipe's.
    pub fn host_packages(&self) -> Vec<String> {
        match self {
            Recipe::Npm { .. } => vec!["npm".into()],
            Recipe::CargoInstall { build_packages, .. } => build_packages.clone(),
            Recipe::CrateExample { .. } => Vec::new(),
            Recipe::LinuxSample { .. } => vec!["gcc".into()],
        }
    }

    /// What it does, in one line (for messages).
    pub fn describe(&self) -> String {
        match self {
            Recipe::Npm { package, version, file, .. } => format!("{file} from the npm package {package}@{version}"),
            Recipe::CargoInstall { krate, version, bin, .. } => {
                format!("`cargo install --locked {krate}@{version} --bin {bin}`")
            }
            Recipe::CrateExample { krate, version, example, .. } => {
                format!("the example `{example}` of the crate {krate} {version}, built with its own lock file")
            }
            Recipe::LinuxSample { package, source, .. } => {
                format!("{source} from {} {}, compiled with gcc", package.name, package.version)
            }
        }
    }

    /// The file name the artifact is kept under in the cache.
    pub fn file_name(&self) -> String {
        let name = match self {
            Recipe::Npm { file, .. } | Recipe::LinuxSample { source: file, .. } => {
                let stem = Path::new(file).file_stem().map(|s| s.to_string_lossy().to_string());
                stem.unwrap_or_else(|| "enforcer".into())
            }
            Recipe::CargoInstall { bin, .. } => bin.clone(),
            Recipe::CrateExample { example, .. } => example.clone(),
        };
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
    }

    /// Where `enforcers fetch` puts the artifact of enforcer `name`.
    pub fn cached_path(&self, cache: &Cache, name: &str) -> PathBuf {
        let text = format!(
            "enforcer recipe {RECIPES_VERSION}\n{}",
            serde_json::to_string(self).expect("a recipe always serialises")
        );
        let key = sha256_bytes(text.as_bytes());
        cache.dir("enforcers").join(format!("{name}-{}", &key[..16])).join(self.file_name())
    }

    /// Where `enforcers fetch` put the enforcer `name` (staging only finds it there); an error
    /// naming that command, as the user invokes lockgate, when it has not run. `at` is where its
    /// adapter says `binary:`.
    pub fn fetched(&self, cache: &Cache, name: &str, at: &str) -> Result<PathBuf> {
        let path = self.cached_path(cache, name);
        if !path.is_file() {
            bail!(
                "{at}: {name} is not fetched yet: run `{}` ({})",
                crate::invocation::command(&format!("enforcers fetch {name}")),
                self.describe()
            );
        }
        Ok(path)
    }

    /// The artifact, from the cache or fetched and built now (into the cache, atomically).
    pub fn fetch(&self, name: &str, supply: &mut Supply) -> Result<PathBuf> {
        let dest = self.cached_path(&supply.cache, name);
        if dest.is_file() {
            return Ok(dest);
        }
        let work = supply.cache.tempdir()?;
        let built = match self {
            Recipe::Npm { package, version, sha256, file } => npm(work.path(), package, version, sha256, file)?,
            Recipe::CargoInstall { krate, version, sha256, bin, .. } => {
                cargo_install(&supply.cache, work.path(), krate, version, sha256, bin)?
            }
            Recipe::CrateExample { krate, version, sha256, example } => {
                crate_example(&supply.cache, work.path(), krate, version, sha256, example)?
            }
            Recipe::LinuxSample { package, tarball, source } => {
                let b = BuildSource {
                    tarball: TarballSource::Package { package: package.clone(), tarball: tarball.clone() },
                    fragments: Vec::new(),
                };
                let deb = supply.build_source(&b).with_context(|| format!("the Linux sources for {name}"))?;
                linux_sample(work.path(), &deb.path, tarball, source)?
            }
        };
        let dir = dest.parent().expect("a cached path has a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let bytes = std::fs::read(&built).with_context(|| format!("cannot read {}", built.display()))?;
        crate::cache::write_atomic(&dest, &bytes)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
        Ok(dest)
    }
}

/// The recipe of the adapter in `file`, if its binary is fetched: (the adapter's name, recipe).
/// Read on its own so that an adapter whose binary is not fetched yet can still be fetched.
pub fn recipe_in(file: &Path) -> Result<Option<(String, Recipe)>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    crate::model::adapter::recipe_in_text(file, &text)
}

/// Whether the ELF file at `path` loads the number of `landlock_create_ruleset` (444) into the
/// register a system call or libc's `syscall()` takes it in (`mov $0x1bc, %eax` / `%edi`): the
/// evidence that a downloaded artifact really calls Landlock, not just names it.
pub fn calls_landlock(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    const MOVS: [[u8; 5]; 2] = [[0xb8, 0xbc, 0x01, 0x00, 0x00], [0xbf, 0xbc, 0x01, 0x00, 0x00]];
    Ok(bytes.windows(5).any(|w| MOVS.iter().any(|m| w == m)))
}

/// Does the binary install a seccomp filter of its own: the code loads the number of
/// `seccomp` (317) for a system call (`mov eax`, or `mov edi` for libc's `syscall()`), or calls
/// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, …)` (`mov esi, 2` then `mov edi, 22`, in either
/// order). Like [`calls_landlock`], the machine code is read, not the strings.
pub fn installs_seccomp_filter(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    const SECCOMP: [[u8; 5]; 2] = [[0xb8, 0x3d, 0x01, 0x00, 0x00], [0xbf, 0x3d, 0x01, 0x00, 0x00]];
    const PRCTL: [[u8; 10]; 2] = [
        [0xbe, 0x02, 0x00, 0x00, 0x00, 0xbf, 0x16, 0x00, 0x00, 0x00],
        [0xbf, 0x16, 0x00, 0x00, 0x00, 0xbe, 0x02, 0x00, 0x00, 0x00],
    ];
    Ok(bytes.windows(5).any(|w| SECCOMP.iter().any(|m| w == m))
        || bytes.windows(10).any(|w| PRCTL.iter().any(|m| w == m)))
}

fn check_digest(file: &Path, pinned: &str, what: &str) -> Result<()> {
    let got = sha256_file(file)?;
    if got != pinned {
        bail!(
            "{what}: its sha256 is {got}, the adapter pins {pinned}: the registry handed over something else than what was reviewed; if the new version is intended, review it and put its digest in the adapter"
        );
    }
    Ok(())
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("{what}: cannot start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        bail!("{what} failed ({}):\n{}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    Ok(())
}

fn npm(work: &Path, package: &str, version: &str, sha256: &str, file: &str) -> Result<PathBuf> {
    let what = format!("npm package {package}@{version}");
    run(Command::new("npm").args(["pack", "--silent", &format!("{package}@{version}")]).current_dir(work), &what)?;
    let tgz = std::fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .with_context(|| format!("{what}: npm pack left no tarball"))?;
    check_digest(&tgz, sha256, &what)?;
    run(Command::new("tar").arg("-xzf").arg(&tgz).arg(file).current_dir(work), &format!("{what}: {file}"))?;
    Ok(work.join(file))
}

/// Cargo's home (its registry cache holds the `.crate` files it downloaded).
fn cargo_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// The `.crate` file cargo downloaded for krate@version, checked against the pin.
fn downloaded_crate(krate: &str, version: &str, sha256: &str) -> Result<PathBuf> {
    let cache = cargo_home()?.join("registry/cache");
    let name = format!("{krate}-{version}.crate");
    let found = std::fs::read_dir(&cache)
        .with_context(|| format!("cannot read cargo's registry cache {}", cache.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join(&name)))
        .find(|p| p.is_file())
        .with_context(|| format!("cargo downloaded no {name} into {}", cache.display()))?;
    check_digest(&found, sha256, &format!("crate {krate} {version}"))?;
    Ok(found)
}

/// A crate downloaded through cargo with no build: a throwaway package that depends on it
/// exactly, `cargo fetch`.
fn fetch_crate(work: &Path, krate: &str, version: &str, sha256: &str) -> Result<PathBuf> {
    let pkg = work.join("fetch");
    std::fs::create_dir_all(pkg.join("src"))?;
    std::fs::write(
        pkg.join("Cargo.toml"),
        format!("[package]\nname = \"lockgate-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{krate} = \"={version}\"\n\n[workspace]\n"),
    )?;
    std::fs::write(pkg.join("src/lib.rs"), "")?;
    run(Command::new("cargo").arg("fetch").current_dir(&pkg), &format!("cargo fetch of the crate {krate} {version}"))?;
    downloaded_crate(krate, version, sha256)
}

fn cargo_install(cache: &Cache, work: &Path, krate: &str, version: &str, sha256: &str, bin: &str) -> Result<PathBuf> {
    let root = work.join("root");
    run(
        Command::new("cargo")
            .args(["install", "--locked", "--quiet", &format!("{krate}@{version}"), "--bin", bin, "--root"])
            .arg(&root)
            .arg("--target-dir")
            .arg(cache.dir("enforcers").join("target")),
        &format!("cargo install {krate}@{version}"),
    )?;
    downloaded_crate(krate, version, sha256)?;
    Ok(root.join("bin").join(bin))
}

fn crate_example(
    cache: &Cache,
    work: &Path,
    krate: &str,
    version: &str,
    sha256: &str,
    example: &str,
) -> Result<PathBuf> {
    let dot_crate = fetch_crate(work, krate, version, sha256)?;
    run(Command::new("tar").arg("-xzf").arg(&dot_crate).current_dir(work), &format!("unpacking {krate} {version}"))?;
    let src = work.join(format!("{krate}-{version}"));
    let target = cache.dir("enforcers").join("target");
    run(
        Command::new("cargo")
            .args(["build", "--locked", "--quiet", "--release", "--example", example, "--target-dir"])
            .arg(&target)
            .current_dir(&src),
        &format!("cargo build --example {example} of {krate} {version}"),
    )?;
    Ok(target.join("release/examples").join(example))
}

fn linux_sample(work: &Path, deb: &Path, tarball: &str, source: &str) -> Result<PathBuf> {
    let tree = work.join("tree");
    std::fs::create_dir_all(&tree)?;
    // The sources tarball out of the .deb, then only the two files the sample needs.
    let inner = work.join("linux.tar.xz");
    crate::supply::apt::extract_file(deb, tarball, &inner)?;
    let header = "include/uapi/linux/landlock.h";
    run(
        Command::new("tar")
            .arg("-xf")
            .arg(&inner)
            .args(["--strip-components=1", "--wildcards", &format!("*/{source}"), &format!("*/{header}")])
            .current_dir(&tree),
        &format!("unpacking {source} from {tarball}"),
    )?;
    // The sample includes <linux/landlock.h>: the tree's own, not the host's older one.
    let inc = work.join("inc/linux");
    std::fs::create_dir_all(&inc)?;
    std::fs::copy(tree.join(header), inc.join("landlock.h"))?;
    let out = work.join("sample");
    run(
        Command::new("gcc").args(["-O2", "-I"]).arg(work.join("inc")).arg("-o").arg(&out).arg(tree.join(source)),
        &format!("gcc {source}"),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Recipe, serde_yaml::Error> {
        serde_yaml::from_str::<crate::model::adapter::Fetched>(&format!("fetch: {text}")).map(|f| f.fetch)
    }

    fn recipe(sha256: &str) -> Recipe {
        parse(&format!(
            "{{crate_example: {{crate: landlock, version: 0.4.8, sha256: '{sha256}', example: sandboxer}}}}"
        ))
        .unwrap()
    }

    /// The cache path follows the whole recipe: a new pin is a new artifact, never the old one.
    #[test]
    fn the_cache_path_changes_with_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let a = recipe("aa").cached_path(&cache, "e");
        assert_eq!(a, recipe("aa").cached_path(&cache, "e"));
        assert_ne!(a, recipe("bb").cached_path(&cache, "e"));
        assert_eq!(a.file_name().unwrap(), "sandboxer");
        assert!(a.parent().unwrap().file_name().unwrap().to_string_lossy().starts_with("e-"));
    }

    /// For real: cargo downloads the crate (from its own cache when it has it), and a pin that
    /// is not its digest is refused with both digests named.
    #[test]
    fn a_crate_whose_digest_is_not_the_pin_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = fetch_crate(dir.path(), "landlock", "0.4.8", &"0".repeat(64)).unwrap_err().to_string();
        assert!(e.starts_with("crate landlock 0.4.8: its sha256 is "), "{e}");
        assert!(e.contains(&format!("the adapter pins {}", "0".repeat(64))), "{e}");
    }

    #[test]
    fn a_recipe_names_one_source() {
        let e = parse("{git: {url: x}}").unwrap_err().to_string();
        assert!(e.contains("unknown variant `git`"), "{e}");
        let e = parse("{npm: {package: a, version: '1', file: f}}").unwrap_err().to_string();
        assert!(e.contains("missing field `sha256`"), "{e}");
    }

    /// The check that an artifact calls Landlock reads the machine code, not the strings.
    #[test]
    fn calling_landlock_is_seen_in_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"landlock_create_ruleset \x90\x90").unwrap();
        assert!(!calls_landlock(&f).unwrap(), "a name is not a call");
        std::fs::write(&f, b"\x90\xbf\xbc\x01\x00\x00\x31\xf6").unwrap();
        assert!(calls_landlock(&f).unwrap());
    }

    #[test]
    fn installing_a_filter_is_seen_in_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"seccomp PR_SET_SECCOMP \x90").unwrap();
        assert!(!installs_seccomp_filter(&f).unwrap(), "a name is not a call");
        std::fs::write(&f, b"\x90\xbf\x3d\x01\x00\x00").unwrap();
        assert!(installs_seccomp_filter(&f).unwrap(), "syscall(SYS_seccomp, ...)");
        std::fs::write(&f, b"\x31\xc0\xbe\x02\x00\x00\x00\xbf\x16\x00\x00\x00").unwrap();
        assert!(installs_seccomp_filter(&f).unwrap(), "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ...)");
    }
}
