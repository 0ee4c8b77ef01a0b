//! Environments: where the runs happen inside the guest. `bare` is built in (the enforcer under
//! the guest's PID 1). Every other environment is a container, described by a manifest in
//! `images/environments/*.yaml`:
//!
//! ```yaml
//! name: docker-20.10.5
//! engine: docker            # whose reading of the profile: docker (dockerd) or podman
//! runtime: runc             # the OCI runtime that starts the container: runc (default), crun or runsc
//! seccomp:                  # a file of a pinned Debian package, a file of yours, or `unconfined`
//!   package: {distro: debian, suite: bullseye, name: golang-github-docker-docker-dev, version: "20.10.5+dfsg1-1+deb11u2"}
//!   file: usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
//! capabilities: docker      # docker, podman, or a list of CAP_ names
//! no_new_privileges: false
//! matrix: default           # default, nightly (`--env nightly`) or opt-in
//! ```
//!
//! An environment is [`EnvKind::Bare`] or [`EnvKind::Container`]; [`crate::env`] makes a container
//! environment ready for a run (its profile fetched, the runtime archive), before planning.

use super::apparmor::AppArmorManifest;
use super::file::{parse_yaml, Loaded};
use super::kernel::{PackageRef, PackagedFile};
use super::locate;
use super::matrix::Matrix;
use super::scenario::Name;
use anyhow::{bail, Context, Result};
use lockgate_protocol::seccomp::{self, Flavour, Profile, Target, ALL_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where a run happens inside the guest.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub kind: EnvKind,
}

#[derive(Debug, Clone)]
pub enum EnvKind {
    /// The enforcer runs directly under the guest's PID 1.
    Bare,
    /// Inside a container started by the runtime, as its manifest says.
    Container(Box<Loaded<ContainerManifest>>),
    /// Bare, under an AppArmor policy loaded by AppArmor's own parser ([`super::apparmor`]).
    AppArmor(Box<Loaded<AppArmorManifest>>),
}

impl Environment {
    pub fn bare() -> Environment {
        Environment { name: "bare".into(), kind: EnvKind::Bare }
    }

    pub fn container(m: Loaded<ContainerManifest>) -> Environment {
        Environment { name: m.value.name.to_string(), kind: EnvKind::Container(Box::new(m)) }
    }

    pub fn apparmor(m: Loaded<AppArmorManifest>) -> Environment {
        Environment { name: m.value.name.to_string(), kind: EnvKind::AppArmor(Box::new(m)) }
    }

    /// The matrix the environment belongs to (`bare`: the default one).
    pub fn matrix(&self) -> Matrix {
        match &self.kind {
            EnvKind::Bare => Matrix::Default,
            EnvKind::Container(m) => m.value.matrix,
            EnvKind::AppArmor(m) => m.value.matrix,
        }
    }

    /// The manifest's `about:` (empty for `bare`).
    pub fn about(&self) -> &str {
        match &self.kind {
            EnvKind::Bare => "",
            EnvKind::Container(m) => &m.value.about,
            EnvKind::AppArmor(m) => &m.value.about,
        }
    }
}

impl super::matrix::Member for Environment {
    fn name(&self) -> &str {
        &self.name
    }
    fn matrix(&self) -> Matrix {
        Environment::matrix(self)
    }
}

/// Podman's default capability set (containers-common 0.62.2, `pkg/config/default.go`).
pub const PODMAN_DEFAULT_CAPABILITIES: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// A container environment's manifest.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerManifest {
    pub name: Name,
    #[serde(default)]
    pub about: String,
    /// Whose reading of the profile applies: `docker` (dockerd), `podman` (containers/common) or
    /// `containerd` (its `DefaultProfile`, read from Go source).
    pub engine: Flavour,
    /// The OCI runtime the engine starts (default `runc`): `runc` (Docker's and containerd's),
    /// `crun` (Podman's default) or `runsc` (gVisor's), each from the pinned package
    /// `images/runtime.yaml` names.
    #[serde(default)]
    pub runtime: RuntimeName,
    pub seccomp: SeccompSource,
    /// `docker` (Docker's default set), `podman`, or a list of capability names.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Docker and Podman leave it off unless asked (`--security-opt no-new-privileges`).
    #[serde(default)]
    pub no_new_privileges: bool,
    /// Which matrix the environment belongs to, as a kernel's `matrix:` (default `default`):
    /// `default` (every run that names no `--env`: pull requests, the mutation gate, the
    /// bench), `nightly` (`--env nightly`, the nightly workflow's run) or `opt-in` (only when
    /// `--env` names it, or `--env all`). `bare` is always in the default matrix.
    #[serde(default)]
    pub matrix: Matrix,
}

/// An OCI runtime lockgate carries (`images/runtime.yaml` pins each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeName {
    #[default]
    Runc,
    Crun,
    /// gVisor's runtime: the container runs on gVisor's own kernel (the Sentry), not Linux's.
    Runsc,
    /// systemd-nspawn of systemd 252 (Debian 12, bookworm), with its built-in seccomp filter.
    #[serde(rename = "systemd-nspawn-252")]
    SystemdNspawn252,
    /// systemd-nspawn of systemd 257 (Debian 13, trixie).
    #[serde(rename = "systemd-nspawn-257")]
    SystemdNspawn257,
}

impl RuntimeName {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeName::Runc => "runc",
            RuntimeName::Crun => "crun",
            RuntimeName::Runsc => "runsc",
            RuntimeName::SystemdNspawn252 => "systemd-nspawn-252",
            RuntimeName::SystemdNspawn257 => "systemd-nspawn-257",
        }
    }

    /// Whether it is a systemd-nspawn (not an OCI runtime: it takes no bundle, and applies a
    /// seccomp filter of its own).
    pub fn is_nspawn(self) -> bool {
        matches!(self, RuntimeName::SystemdNspawn252 | RuntimeName::SystemdNspawn257)
    }
}

/// Where the profile comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "serde_yaml::Value")]
pub enum SeccompSource {
    /// A file of a pinned Debian package (images/lock.yaml).
    Package(PackagedFile),
    /// A file on this machine, relative to the manifest; read and checked when the manifest
    /// is loaded.
    Path { written: String, resolved: PathBuf },
    /// No seccomp filter at all (`--security-opt seccomp=unconfined`).
    Unconfined,
    /// The runtime's own filter, built into it (systemd-nspawn's): `seccomp: built-in`.
    BuiltIn,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSeccomp {
    package: Option<PackageRef>,
    file: Option<String>,
    path: Option<String>,
}

/// What `SeccompSource::try_from` accepts.
impl schemars::JsonSchema for SeccompSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SeccompSource".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let raw = g.subschema_for::<RawSeccomp>();
        schemars::json_schema!({
            "description": "Where the profile comes from: `{package, file}`, `{path}`, `unconfined`, or `built-in` (systemd-nspawn's own filter).",
            "anyOf": [{"const": "unconfined"}, {"const": "built-in"}, raw]
        })
    }
}

impl TryFrom<serde_yaml::Value> for SeccompSource {
    type Error = String;
    fn try_from(v: serde_yaml::Value) -> Result<Self, String> {
        const HOW: &str = "seccomp: write `seccomp: {package: {distro, suite, name, version}, file: PATH-IN-PACKAGE}`, `seccomp: {path: your-profile.json}`, `seccomp: unconfined` or (systemd-nspawn) `seccomp: built-in`";
        match v.as_str() {
            Some("unconfined") => return Ok(SeccompSource::Unconfined),
            Some("built-in") => return Ok(SeccompSource::BuiltIn),
            _ => {}
        }
        if !v.is_mapping() {
            return Err(format!("not a seccomp source. {HOW}"));
        }
        let raw: RawSeccomp = serde_yaml::from_value(v).map_err(|e| format!("{e}. {HOW}"))?;
        match raw {
            RawSeccomp { package: Some(package), file: Some(file), path: None } => {
                Ok(SeccompSource::Package(PackagedFile { package, file }))
            }
            RawSeccomp { package: None, file: None, path: Some(p) } => {
                Ok(SeccompSource::Path { resolved: PathBuf::from(&p), written: p })
            }
            _ => Err(format!("give either `package` and `file`, or `path`. {HOW}")),
        }
    }
}

/// The capability set of the container's process.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_yaml::Value")]
pub struct Capabilities(pub Vec<String>);

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities(DOCKER_DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect())
    }
}

/// What `Capabilities::try_from` accepts.
impl schemars::JsonSchema for Capabilities {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capabilities".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`docker` (Docker's default set), `podman`, or a list of capability names (`CAP_CHOWN` or `chown`).",
            "anyOf": [{"enum": ["docker", "podman"]}, {"type": "array", "items": {"type": "string"}}]
        })
    }
}

impl TryFrom<serde_yaml::Value> for Capabilities {
    type Error = String;
    fn try_from(v: serde_yaml::Value) -> Result<Self, String> {
        let list = |l: &[&str]| Capabilities(l.iter().map(|s| s.to_string()).collect());
        match &v {
            serde_yaml::Value::String(s) if s == "docker" => Ok(list(&DOCKER_DEFAULT_CAPABILITIES)),
            serde_yaml::Value::String(s) if s == "podman" => Ok(list(&PODMAN_DEFAULT_CAPABILITIES)),
            serde_yaml::Value::Sequence(items) => {
                let mut caps = Vec::new();
                for item in items {
                    let name = item
                        .as_str()
                        .ok_or("capabilities: capabilities are names, like CAP_CHOWN")?
                        .to_ascii_uppercase();
                    let name = if name.starts_with("CAP_") { name } else { format!("CAP_{name}") };
                    if !ALL_CAPABILITIES.contains(&name.as_str()) {
                        return Err(format!("capabilities: `{name}` is not a Linux capability"));
                    }
                    if !caps.contains(&name) {
                        caps.push(name);
                    }
                }
                Ok(Capabilities(caps))
            }
            _ => {
                Err("capabilities: write `capabilities: docker`, `capabilities: podman` or a list of capability names"
                    .into())
            }
        }
    }
}

/// Reads a seccomp profile as `engine` has it; errors say `file:line:column: field: what`.
pub fn read_profile(file: &Path, engine: Flavour) -> Result<Profile> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read the seccomp profile {}", file.display()))?;
    parse_profile_of(file, &text, engine)
}

/// A profile's text as `engine` has it: containerd's is the Go source of its `DefaultProfile`
/// (a `.go` file, `model/containerd_go.rs`), every other a JSON profile.
pub fn parse_profile_of(file: &Path, text: &str, engine: Flavour) -> Result<Profile> {
    if engine == Flavour::Containerd && file.extension().is_some_and(|e| e == "go") {
        return super::containerd_go::read(file, text);
    }
    parse_profile(file, text)
}

pub fn parse_profile(file: &Path, text: &str) -> Result<Profile> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, Profile>(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let field = if field == "." { "(top level)".to_string() } else { field };
        anyhow::anyhow!("{}:{}:{}: {field}: {msg}", file.display(), inner.line(), inner.column())
    })
}

/// Checks what only the conversion sees (both `architectures` and `archMap`, a field of the
/// other engine, an errno name it does not know), on a recent kernel.
pub fn check_converts(file: &Path, profile: &Profile, m: &ContainerManifest) -> Result<()> {
    let target = Target { arch: "amd64", capabilities: &m.capabilities.0, release: "6.12.0" };
    seccomp::convert(profile, m.engine, &target)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{}: {e} (read as `engine: {}`)", file.display(), engine_name(m.engine)))
}

fn engine_name(f: Flavour) -> &'static str {
    match f {
        Flavour::Docker => "docker",
        Flavour::Podman => "podman",
        Flavour::Containerd => "containerd",
        Flavour::SystemdNspawn => "systemd-nspawn",
    }
}

/// One manifest; a profile of the user's (`path:`) is read and checked now, so that a bad one
/// is a load error naming its file and field.
pub fn load_manifest(file: &Path) -> Result<ContainerManifest> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read environment manifest {}", file.display()))?;
    let mut m: ContainerManifest = parse_yaml(file, &text)?;
    if m.name.as_str() == "bare" {
        bail!(
            "{}:{}: name: `bare` is built in; give this environment another name",
            file.display(),
            locate::line_of(&text, "name")
        );
    }
    check_nspawn(file, &text, &m)?;
    if let SeccompSource::Path { written, resolved } = &mut m.seccomp {
        *resolved = file.parent().unwrap_or(Path::new(".")).join(&*written);
    }
    if let SeccompSource::Path { resolved, .. } = &m.seccomp {
        let line = locate::line_of(&text, "seccomp.path");
        if !resolved.is_file() {
            bail!(
                "{}:{line}: seccomp.path: {} does not exist (the path is relative to the manifest)",
                file.display(),
                resolved.display()
            );
        }
        let profile =
            read_profile(resolved, m.engine).with_context(|| format!("{}:{line}: seccomp.path", file.display()))?;
        check_converts(resolved, &profile, &m).with_context(|| format!("{}:{line}: seccomp.path", file.display()))?;
    }
    Ok(m)
}

/// systemd-nspawn goes with its own filter and capability set, and nothing else does: `engine:
/// systemd-nspawn`, a `systemd-nspawn-*` runtime and `seccomp: built-in` come together, and no
/// `capabilities:` (nspawn gives the container its default set, which the guest leaves alone).
fn check_nspawn(file: &Path, text: &str, m: &ContainerManifest) -> Result<()> {
    let engine = m.engine == Flavour::SystemdNspawn;
    let runtime = m.runtime.is_nspawn();
    let built_in = matches!(m.seccomp, SeccompSource::BuiltIn);
    let at = |field: &str| format!("{}:{}: {field}", file.display(), locate::line_of(text, field));
    if engine != runtime {
        bail!(
            "{}: `engine: systemd-nspawn` and a `runtime: systemd-nspawn-252` or `systemd-nspawn-257` go together (nspawn starts the container itself; no OCI runtime does it for an engine)",
            at(if engine { "runtime" } else { "engine" })
        );
    }
    if built_in != engine {
        bail!(
            "{}: {}",
            at("seccomp"),
            match engine {
                true => "systemd-nspawn applies its own built-in filter: write `seccomp: built-in`",
                false => "`built-in` is systemd-nspawn's own filter: write `engine: systemd-nspawn` and a systemd-nspawn runtime, or name a profile",
            }
        );
    }
    let raw: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_default();
    if engine && raw.get("capabilities").is_some() {
        bail!(
            "{}: systemd-nspawn gives the container its own default capability set, which lockgate leaves as nspawn makes it: remove `capabilities:`",
            at("capabilities")
        );
    }
    Ok(())
}

/// Every container manifest in `dir` (none when it does not exist; AppArmor manifests are
/// [`load_apparmor_dir`]'s); errors are collected per file.
pub fn load_dir(dir: &Path, errors: &mut Vec<String>) -> Vec<Loaded<ContainerManifest>> {
    let mut out = Vec::new();
    for (file, text) in manifests(dir) {
        if super::apparmor::is_apparmor(&text) {
            continue;
        }
        match load_manifest(&file) {
            Ok(value) => out.push(Loaded { file, value }),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    out
}

/// Every AppArmor manifest in `dir` (those with an `apparmor:` key); errors are collected per file.
pub fn load_apparmor_dir(dir: &Path, errors: &mut Vec<String>) -> Vec<Loaded<AppArmorManifest>> {
    let mut out = Vec::new();
    for (file, text) in manifests(dir) {
        if !super::apparmor::is_apparmor(&text) {
            continue;
        }
        match super::apparmor::load(&file, &text) {
            Ok(value) => out.push(Loaded { file, value }),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    out
}

/// The YAML files of `dir`, sorted, with their text (an unreadable one is left to
/// [`load_manifest`], which names it).
fn manifests(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml")).collect();
    files.sort();
    files.into_iter().map(|f| (std::fs::read_to_string(&f).unwrap_or_default(), f)).map(|(t, f)| (f, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn shipped_manifests_load() {
        let mut errors = Vec::new();
        let envs = load_dir(&crate::supply::guest::workspace_root().join("images/environments"), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = envs.iter().map(|e| e.value.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "containerd-1.4",
                "containerd-1.7",
                "docker-20.10.24",
                "docker-20.10.5",
                "docker-26.1.5",
                "gvisor",
                "podman",
                "systemd-nspawn-252",
                "systemd-nspawn-257"
            ]
        );
        assert!(envs[7..].iter().all(|e| e.value.engine == Flavour::SystemdNspawn && e.value.runtime.is_nspawn()));
        assert!(envs[7..].iter().all(|e| matches!(e.value.seccomp, SeccompSource::BuiltIn)));
        assert!(envs[..2].iter().all(|e| e.value.engine == Flavour::Containerd));
        assert_eq!(envs[5].value.runtime, RuntimeName::Runsc, "gVisor starts runsc");
        let envs: Vec<_> = envs[2..5].iter().chain(&envs[6..7]).collect();
        let podman = &envs[3].value;
        assert_eq!(podman.engine, Flavour::Podman);
        assert_eq!(podman.runtime, RuntimeName::Crun, "Podman starts crun");
        assert!(envs[..3].iter().all(|e| e.value.runtime == RuntimeName::Runc), "Docker starts runc");
        assert_eq!(podman.capabilities.0.len(), 11);
        assert!(envs[1].value.capabilities.0.contains(&"CAP_NET_RAW".to_string()));
        // The default run stays at bare and four containers; containerd and gVisor are nightly.
        let default: Vec<&str> =
            envs.iter().filter(|e| e.value.matrix == Matrix::Default).map(|e| e.value.name.as_str()).collect();
        assert_eq!(default, ["docker-20.10.24", "docker-20.10.5", "docker-26.1.5", "podman"]);
    }

    #[test]
    fn nspawn_goes_with_its_own_filter_and_capabilities_only() {
        let dir = tempfile::tempdir().unwrap();
        let ok = "name: n\nengine: systemd-nspawn\nruntime: systemd-nspawn-257\nseccomp: built-in\n";
        assert_eq!(load_manifest(&write(dir.path(), "ok.yaml", ok)).unwrap().runtime, RuntimeName::SystemdNspawn257);
        let cases = [
            ("a.yaml", "name: a\nengine: docker\nruntime: systemd-nspawn-252\nseccomp: unconfined\n", "a.yaml:2: engine: `engine: systemd-nspawn` and a `runtime: systemd-nspawn-252`"),
            ("b.yaml", "name: b\nengine: systemd-nspawn\nruntime: runc\nseccomp: built-in\n", "b.yaml:3: runtime:"),
            ("c.yaml", "name: c\nengine: systemd-nspawn\nruntime: systemd-nspawn-252\nseccomp: unconfined\n", "c.yaml:4: seccomp: systemd-nspawn applies its own built-in filter"),
            ("d.yaml", "name: d\nengine: docker\nseccomp: built-in\n", "d.yaml:3: seccomp: `built-in` is systemd-nspawn's own filter"),
            ("e.yaml", "name: e\nengine: systemd-nspawn\nruntime: systemd-nspawn-252\nseccomp: built-in\ncapabilities: docker\n", "e.yaml:5: capabilities: systemd-nspawn gives the container its own"),
        ];
        for (file, text, want) in cases {
            let err = format!("{:#}", load_manifest(&write(dir.path(), file, text)).unwrap_err());
            assert!(err.contains(want), "{file}: {err}");
        }
    }

    #[test]
    fn matrix_is_read_and_a_wrong_one_names_file_field_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "n.yaml", "name: n\nengine: docker\nseccomp: unconfined\nmatrix: nightly\n");
        assert_eq!(load_manifest(&m).unwrap().matrix, Matrix::Nightly);
        let m = write(dir.path(), "d.yaml", "name: d\nengine: docker\nseccomp: unconfined\n");
        assert_eq!(load_manifest(&m).unwrap().matrix, Matrix::Default, "default: the default matrix");
        let m = write(dir.path(), "w.yaml", "name: w\nengine: docker\nseccomp: unconfined\nmatrix: weekly\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(err.contains("w.yaml:4:") && err.contains("matrix: `weekly` is no matrix: write `default`"), "{err}");
        assert_eq!(Environment::bare().matrix(), Matrix::Default);
    }

    #[test]
    fn a_users_profile_is_read_and_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "mine.json",
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        let m = write(
            dir.path(),
            "mine.yaml",
            "name: mine\nengine: docker\nseccomp: {path: mine.json}\ncapabilities: [chown, CAP_SETUID]\n",
        );
        let env = load_manifest(&m).unwrap();
        assert_eq!(env.capabilities.0, ["CAP_CHOWN", "CAP_SETUID"]);

        write(dir.path(), "bad.json", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALOW\"}]}");
        let m = write(dir.path(), "bad.yaml", "name: bad\nengine: docker\nseccomp: {path: bad.json}\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(
            err.contains("bad.yaml:3: seccomp.path")
                && err.contains("bad.json:2:")
                && err.contains("syscalls[0].action")
                && err.contains("SCMP_ACT_ALOW"),
            "{err}"
        );

        write(dir.path(), "typo.json", r#"{"defaultAction": "SCMP_ACT_ERRNO", "sycalls": []}"#);
        let m = write(dir.path(), "typo.yaml", "name: typo\nengine: docker\nseccomp: {path: typo.json}\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(err.contains("typo.json:1:") && err.contains("unknown field `sycalls`"), "{err}");

        write(dir.path(), "corrupt.json", "{\"defaultAction\": ");
        let m = write(dir.path(), "corrupt.yaml", "name: corrupt\nengine: docker\nseccomp: {path: corrupt.json}\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(err.contains("corrupt.json:1:") && err.contains("defaultAction"), "{err}");

        let m = write(dir.path(), "gone.yaml", "name: gone\nengine: docker\nseccomp: {path: nowhere.json}\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(err.contains("gone.yaml:3: seccomp.path:") && err.contains("nowhere.json does not exist"), "{err}");

        write(
            dir.path(),
            "pod.json",
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS", "syscalls": []}"#,
        );
        let m = write(dir.path(), "pod.yaml", "name: pod\nengine: docker\nseccomp: {path: pod.json}\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(err.contains("pod.json: defaultErrno is Podman's field"), "{err}");

        let m = write(
            dir.path(),
            "caps.yaml",
            "name: caps\nengine: docker\nseccomp: unconfined\ncapabilities: [CAP_FLY]\n",
        );
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(
            err.contains("caps.yaml") && err.contains("capabilities: `CAP_FLY` is not a Linux capability"),
            "{err}"
        );
        let m = write(dir.path(), "src.yaml", "name: src\nengine: docker\nseccomp: {path: a.json, file: b}\n");
        let err = format!("{:#}", load_manifest(&m).unwrap_err());
        assert!(err.contains("src.yaml") && err.contains("seccomp: write"), "{err}");
    }
}
