//! Kernel manifests: where a kernel comes from and what Landlock it must offer.

use super::scenario::Name;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KernelManifest {
    /// What `--kernel` and `when: kernel == …` use; unique in the matrix.
    pub name: Name,
    /// Free text: why the kernel is in the matrix it is in.
    #[serde(default)]
    pub about: String,
    /// The Landlock ABI the guest's raw probe must report: a number, or `none` (no Landlock,
    /// or compiled in but not enabled). A different answer is a harness error.
    pub abi: ExpectedAbi,
    /// Where the kernel comes from: exactly one of `package`, `path`, `url` or `build`.
    pub source: KernelSource,
    /// Extra kernel command-line arguments (e.g. an `lsm=` without landlock).
    #[serde(default)]
    pub cmdline: String,
    /// Which matrix the kernel belongs to: `default` (every run), `nightly` (`--kernel nightly`,
    /// the nightly workflow's run) or `opt-in` (only when named, or `--kernel all`).
    #[serde(default)]
    pub matrix: Matrix,
    /// The older spelling of `matrix: opt-in`: not in the default matrix, runs only when
    /// `--kernel` names it (or `--kernel all`). For kernels a plain run cannot always have, e.g.
    /// a URL outside the distribution archives, which a machine without internet access cannot
    /// reach.
    #[serde(default)]
    pub opt_in: bool,
    /// Whether the guest mounts securityfs (default `true`). `false` reproduces a system whose
    /// init leaves it unmounted (WSL2): a guest-side fact, not a kernel build option, so it is
    /// said here rather than in a config fragment. The kernel still has Landlock; only tools
    /// that read /sys/kernel/security/lsm are misled.
    #[serde(default = "yes")]
    pub mount_securityfs: bool,
    /// Why this kernel stays on its pinned build although the archive has a newer one of its
    /// line (e.g. the exact build of a bug report). `kernels check` reports it as held, not as
    /// drift, unless the build has left the archive; `kernels update --all` leaves it alone.
    #[serde(default)]
    pub hold: Option<String>,
}

fn yes() -> bool {
    true
}

pub use super::matrix::Matrix;

impl super::matrix::Member for KernelManifest {
    fn name(&self) -> &str {
        self.name.as_str()
    }
    fn matrix(&self) -> Matrix {
        KernelManifest::matrix(self)
    }
}

impl KernelManifest {
    /// The matrix this kernel belongs to (`opt_in: true` is `matrix: opt-in`).
    pub fn matrix(&self) -> Matrix {
        if self.opt_in {
            Matrix::OptIn
        } else {
            self.matrix
        }
    }

    /// Whether a run without `--kernel` boots this kernel.
    pub fn in_default_matrix(&self) -> bool {
        self.matrix().in_default_run()
    }

    /// Whether `--kernel nightly` boots this kernel (the default matrix and the nightly one).
    pub fn in_nightly_matrix(&self) -> bool {
        self.matrix().in_nightly_run()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "serde_yaml::Value")]
pub struct ExpectedAbi(pub Option<u32>);

impl TryFrom<serde_yaml::Value> for ExpectedAbi {
    type Error = String;
    fn try_from(v: serde_yaml::Value) -> Result<Self, String> {
        match &v {
            serde_yaml::Value::String(s) if s == "none" => Ok(ExpectedAbi(None)),
            serde_yaml::Value::Number(n) => match n.as_u64() {
                Some(n @ 1..=64) => Ok(ExpectedAbi(Some(n as u32))),
                _ => Err(format!("`{n}` is not a Landlock ABI: write a number from 1, or `none`")),
            },
            _ => Err("write the Landlock ABI as a number, or `none`".into()),
        }
    }
}

/// What `ExpectedAbi::try_from` accepts.
impl schemars::JsonSchema for ExpectedAbi {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExpectedAbi".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The Landlock ABI the guest's probe must report: a number, or `none`.",
            "anyOf": [{"type": "integer", "minimum": 1, "maximum": 64}, {"const": "none"}]
        })
    }
}

impl std::fmt::Display for ExpectedAbi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "ABI {n}"),
            None => f.write_str("none"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawSource")]
pub enum KernelSource {
    /// A distribution package fetched through apt; `image` is the kernel's path inside it;
    /// `modules`, the package of the same suite and version that holds its loadable modules
    /// where that is another one (Ubuntu's `linux-modules-*`; Debian's image package holds its
    /// own).
    Package { package: PackageRef, image: String, modules: Option<String> },
    /// A bzImage on this machine (a developer's own build). Not pinned: its digest is recorded
    /// in the provenance of each run instead.
    Path { path: String },
    /// A file downloaded from a URL, pinned by sha256 in the lock (key `url:<URL>`): a bzImage,
    /// or a .deb when `image` names the kernel's path inside it.
    Url { url: String, image: Option<String> },
    /// A kernel built here from a source tarball and a config fragment (kept beside the
    /// manifests), cached by (source digest, fragment digest).
    Build(BuildSource),
}

/// `source: build:` — what to build and with which configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSource {
    pub tarball: TarballSource,
    /// The config fragments applied on top of `make tinyconfig`, in order (a later setting of a
    /// symbol overrides an earlier one, as kconfig reads a .config); one or more.
    pub fragments: Vec<Fragment>,
}

/// One config fragment of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// As written in the manifest (relative to the manifest's directory).
    pub written: String,
    /// Where it is on this machine, once resolved by [`KernelSource::resolve_paths`].
    pub path: std::path::PathBuf,
}

impl BuildSource {
    /// The fragments as written, `tiny.config + no-lsm.config`.
    pub fn fragment_names(&self) -> String {
        self.fragments.iter().map(|f| f.written.as_str()).collect::<Vec<_>>().join(" + ")
    }

    /// The fragments' bytes, concatenated in order (a newline between two when the first lacks
    /// one): what the build merges, and what its cache key digests. One fragment is its bytes
    /// unchanged, so a single-fragment build keeps its key.
    pub fn fragment_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut all = Vec::new();
        for f in &self.fragments {
            if !all.is_empty() && !all.ends_with(b"\n") {
                all.push(b'\n');
            }
            let bytes = std::fs::read(&f.path)
                .map_err(|e| anyhow::anyhow!("cannot read the config fragment {}: {e}", f.path.display()))?;
            all.extend_from_slice(&bytes);
        }
        Ok(all)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarballSource {
    /// A source package (e.g. Debian's `linux-source-6.1`); `tarball` is the path of the source
    /// tarball inside it.
    Package { package: PackageRef, tarball: String },
    /// A source tarball at a URL, pinned in the lock like any URL.
    Url { url: String },
}

/// `source:`'s schema: as written (`RawSource`); that exactly one kind is given is checked when
/// lockgate loads it.
impl schemars::JsonSchema for KernelSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KernelSource".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawSource::json_schema(g)
    }
}

/// `source:` as written: exactly one of its kinds.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSource {
    /// A Debian/Ubuntu kernel package by name and exact version, fetched through apt.
    package: Option<PackageSource>,
    /// A bzImage on this machine (a developer's own build): not pinned, its digest goes into
    /// each run's provenance.
    path: Option<String>,
    /// A bzImage (or, with `image`, a .deb) at a URL, pinned by sha256 in the lock file.
    url: Option<String>,
    /// With `url`: the kernel's path inside a downloaded .deb.
    image: Option<String>,
    /// A kernel built here: a source package or tarball, tinyconfig and a config fragment.
    build: Option<RawBuild>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    /// A source package: `{distro, suite, name, version}`.
    package: Option<PackageRef>,
    /// With `package`: the source tarball's path inside it.
    tarball: Option<String>,
    /// Or a source tarball at a URL.
    url: Option<String>,
    /// The config fragment, relative to the manifest's directory, or a list of them (applied
    /// in order).
    fragment: OneOrMany,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PackageSource {
    distro: Distro,
    suite: String,
    name: String,
    version: String,
    #[serde(default = "main_component")]
    component: String,
    /// Path of the kernel image inside the package, e.g. `boot/vmlinuz-6.8.0-57-generic`.
    image: String,
    /// The package (same distro, suite and version) holding the kernel's loadable modules,
    /// where the image's package does not: Ubuntu's `linux-modules-6.8.0-57-generic` beside
    /// `linux-image-unsigned-6.8.0-57-generic`. The modules a case needs (overlayfs) are taken
    /// from it for the guest. Pinned in the lock like the image's package.
    #[serde(default)]
    modules: Option<String>,
}

impl TryFrom<RawSource> for KernelSource {
    type Error = String;
    fn try_from(r: RawSource) -> Result<Self, String> {
        const KINDS: &str = "give exactly one source: `package: {distro, suite, name, version, image}`, `path: /path/to/bzImage`, \
                             `url: https://…` (with `image:` when it is a .deb), or `build: {package: {…}, tarball: …, fragment: …}`";
        if r.image.is_some() && r.url.is_none() {
            return Err("`image:` goes with `url:` (a package names its image inside `package:`)".into());
        }
        match (r.package, r.path, r.url, r.build) {
            (Some(p), None, None, None) => Ok(KernelSource::Package {
                package: PackageRef {
                    distro: p.distro,
                    suite: p.suite,
                    name: p.name,
                    version: p.version,
                    component: p.component,
                },
                image: p.image,
                modules: p.modules,
            }),
            (None, Some(path), None, None) => Ok(KernelSource::Path { path }),
            (None, None, Some(url), None) => {
                check_url(&url)?;
                Ok(KernelSource::Url { url, image: r.image })
            }
            (None, None, None, Some(b)) => {
                let tarball = match (b.package, b.tarball, b.url) {
                    (Some(package), Some(tarball), None) => TarballSource::Package { package, tarball },
                    (Some(_), None, None) => {
                        return Err("`build.package` needs `build.tarball`: the source tarball's path inside the package, e.g. usr/src/linux-source-6.1.tar.xz".into())
                    }
                    (None, None, Some(url)) => {
                        check_url(&url)?;
                        TarballSource::Url { url }
                    }
                    _ => return Err("`build:` takes a source: `package: {…}` with `tarball: <path inside it>`, or `url: <tarball URL>`".into()),
                };
                let written = match b.fragment {
                    OneOrMany::One(f) => vec![f],
                    OneOrMany::Many(fs) => fs,
                };
                if written.is_empty() || written.iter().any(|f| f.trim().is_empty()) {
                    return Err(
                        "`build.fragment` names the config fragment, e.g. tiny.config beside this manifest (or a list: [tiny.config, more.config])".into()
                    );
                }
                let fragments = written.into_iter().map(|w| Fragment { path: w.clone().into(), written: w }).collect();
                Ok(KernelSource::Build(BuildSource { tarball, fragments }))
            }
            _ => Err(KINDS.into()),
        }
    }
}

/// A URL lockgate can fetch: http(s) or file, with a host for http(s).
fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("`{url}` is not a URL: write https://host/path (or file:///path)"));
    };
    match scheme {
        "http" | "https" if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        "file" if rest.starts_with('/') => Ok(()),
        _ => Err(format!("`{url}`: lockgate fetches https://, http:// and file:/// URLs")),
    }
}

impl KernelSource {
    /// Resolve paths written relative to the manifest (a build's fragment) against its directory.
    pub fn resolve_paths(&mut self, manifest_dir: &std::path::Path) {
        if let KernelSource::Build(b) = self {
            for f in &mut b.fragments {
                f.path = manifest_dir.join(&f.written);
            }
        }
    }

    /// The key of a URL in the lock file.
    pub fn url_lock_key(url: &str) -> String {
        format!("url:{url}")
    }

    /// A short description for listings: `debian/bookworm/linux-image-…=…`, `url https://…`,
    /// `build linux-source-6.1=… + tiny.config`, `path /…`.
    pub fn describe(&self) -> String {
        match self {
            KernelSource::Package { package, .. } => package.lock_key(),
            KernelSource::Path { path } => format!("path {path}"),
            KernelSource::Url { url, .. } => format!("url {url}"),
            KernelSource::Build(b) => match &b.tarball {
                TarballSource::Package { package, .. } => {
                    format!("build {}={} + {}", package.name, package.version, b.fragment_names())
                }
                TarballSource::Url { url } => format!("build {url} + {}", b.fragment_names()),
            },
        }
    }
}

/// A Debian-format package, by name and exact version, from a suite of a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageRef {
    pub distro: Distro,
    pub suite: String,
    pub name: String,
    pub version: String,
    /// Archive component; `main` by default.
    #[serde(default = "main_component")]
    pub component: String,
}

fn main_component() -> String {
    "main".into()
}

impl PackageRef {
    /// The key of this package in a lock file.
    pub fn lock_key(&self) -> String {
        format!("{}/{}/{}={}", self.distro, self.suite, self.name, self.version)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Distro {
    Debian,
    Ubuntu,
}

impl std::fmt::Display for Distro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
        })
    }
}

/// A file taken out of a pinned package: `images/packages.yaml` lists these, and container
/// environments take their seccomp profile from one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagedFile {
    #[serde(flatten)]
    pub package: PackageRef,
    /// Path of the file inside the package.
    pub file: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<KernelManifest, String> {
        crate::model::parse_yaml::<KernelManifest>(std::path::Path::new("k.yaml"), yaml).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn every_source_kind_parses() {
        let url = parse("name: n\nabi: 4\nopt_in: true\nsource:\n  url: https://example.org/k.deb\n  image: boot/vmlinuz-6.8.0-57-generic\n").unwrap();
        assert!(!url.in_default_matrix());
        assert!(!url.in_nightly_matrix());
        let nightly = parse("name: n\nabi: 4\nmatrix: nightly\nsource: {path: /k}\n").unwrap();
        assert!(!nightly.in_default_matrix() && nightly.in_nightly_matrix());
        let wrong = parse("name: n\nabi: 4\nmatrix: weekly\nsource: {path: /k}\n").unwrap_err();
        assert!(
            wrong.starts_with("k.yaml:3:") && wrong.contains("matrix: `weekly` is no matrix: write `default`"),
            "{wrong}"
        );
        assert_eq!(url.source.describe(), "url https://example.org/k.deb");
        assert!(
            matches!(&url.source, KernelSource::Url { image: Some(i), .. } if i == "boot/vmlinuz-6.8.0-57-generic")
        );
        let built = parse(
            "name: t\nabi: 2\nsource:\n  build:\n    package: {distro: debian, suite: bookworm, name: linux-source-6.1, version: \"6.1.176-1\"}\n    tarball: usr/src/linux-source-6.1.tar.xz\n    fragment: tiny.config\n",
        )
        .unwrap();
        assert!(built.in_default_matrix());
        assert_eq!(built.source.describe(), "build linux-source-6.1=6.1.176-1 + tiny.config");
        let mut s = built.source.clone();
        s.resolve_paths(std::path::Path::new("/repo/kernels"));
        assert!(
            matches!(&s, KernelSource::Build(b) if b.fragments[0].path == std::path::Path::new("/repo/kernels/tiny.config"))
        );
        let from_url = parse("name: t\nabi: 2\nsource: {build: {url: 'https://example.org/linux-6.1.1.tar.xz', fragment: tiny.config}}\n").unwrap();
        assert!(matches!(&from_url.source, KernelSource::Build(b) if matches!(&b.tarball, TarballSource::Url { .. })));
    }

    #[test]
    fn wrong_sources_say_what_to_write() {
        let two = parse("name: n\nabi: 1\nsource: {path: /k, url: 'https://e.org/k'}\n").unwrap_err();
        assert!(two.contains("give exactly one source"), "{two}");
        let image = parse("name: n\nabi: 1\nsource: {path: /k, image: boot/vmlinuz}\n").unwrap_err();
        assert!(image.contains("`image:` goes with `url:`"), "{image}");
        let scheme = parse("name: n\nabi: 1\nsource: {url: 'ftp://e.org/k'}\n").unwrap_err();
        assert!(scheme.contains("https://, http:// and file:///"), "{scheme}");
        let no_tarball = parse("name: n\nabi: 1\nsource: {build: {package: {distro: debian, suite: s, name: p, version: '1'}, fragment: f}}\n").unwrap_err();
        assert!(no_tarball.contains("needs `build.tarball`"), "{no_tarball}");
        let no_fragment = parse("name: n\nabi: 1\nsource: {build: {url: 'https://e.org/l.tar.xz'}}\n").unwrap_err();
        assert!(no_fragment.contains("fragment"), "{no_fragment}");
    }
}
