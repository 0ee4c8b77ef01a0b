//! The enforcer under test. Every enforcer, lockgate's own reference included, is described by
//! an adapter: where its binary is, how to hand it a scenario's policy and the command, who drops
//! privileges, and how to read its claim. An external enforcer's adapter is a file
//! (`enforcers/<name>.yaml`); its binary and the shared libraries it links are copied into the
//! guest in an archive of their own, cached by content (the libraries in a private directory:
//! see [`host_libs`]). The reference enforcer's adapter is built in ([`REFERENCE`]): its binary is
//! already in the guest's base image, its known-bad modes go in its command as `{fault}`.
//!
//! ```yaml
//! name: landlock-sandboxer
//! binary: ${LANDLOCK_SANDBOXER}          # host path: absolute, relative to this file, or ${VAR};
//!                                       # or {fetch: RECIPE}, built or downloaded by [`fetch`]
//! invoke: {style: landlock_env}          # or policy_file / command_line, with a `command:`
//! drop_privileges: harness               # the guest drops to run_as_user before starting it
//! claim:
//!   - {regex: '^Executing the sandboxed command', claim: full}
//!   - {regex: '^(Failed|Missing)', claim: refused}
//! ```

pub mod template;

use crate::cache::{sha256_bytes, sha256_file, Cache};
use crate::image::newc::{merged_usr, Newc};
use crate::model::adapter::{Adapter, BinarySource};
pub use crate::model::adapter::{DropPrivileges, FaultMode, Feature, PolicyFormat, Style};
use crate::model::scenario::{Compatibility, Scenario};
pub use crate::model::{claim, native};
use crate::supply::{cargo, host_libs, recipe};
use anyhow::{bail, Context, Result};
use claim::ClaimReader;
use lockgate_protocol as proto;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use template::{Template, ValueTemplate, Values};

/// Bump when the archive layout changes, so cached enforcer archives are rebuilt.
const ARCHIVE_VERSION: u32 = 3;

/// Where the reference enforcer finds a scenario's policy inside the guest; the default for
/// policy-file adapters too.
pub const DEFAULT_POLICY_PATH: &str = "/lockgate/policy/{scenario}.yaml";

impl PolicyFormat {
    /// What a policy in this format has no field for.
    fn cannot_express(self) -> &'static [Feature] {
        match self {
            PolicyFormat::Openshell => &[
                Feature::Scoped,
                Feature::IoctlDev,
                Feature::ReadOnlyNoexec,
                Feature::TcpRules,
                Feature::Rules,
                Feature::Handled,
            ],
            PolicyFormat::Lockgate => &[],
        }
    }

    /// The policy file's text.
    fn write(self, policy: &crate::model::scenario::Policy) -> String {
        let text = match self {
            PolicyFormat::Openshell => serde_yaml::to_string(&policy.openshell()),
            PolicyFormat::Lockgate => serde_yaml::to_string(policy),
        };
        text.expect("a policy always serialises")
    }
}

/// The reference enforcer's adapter. Its binary is part of the guest's base image.
pub const REFERENCE: &str = include_str!("reference.yaml");

/// The name the reference adapter is known by (`--enforcer reference` names it too).
pub const REFERENCE_NAME: &str = "lockgate-enforcer";

/// Where the enforcer's binary comes from. Loading an adapter only says where; staging
/// ([`Enforcer::stage`]) finds a fetched binary in the cache or builds a workspace's, so that
/// every staged enforcer's binary is `Host` or `InImage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binary {
    /// A file on the host, copied into the guest (with its libraries) at [`Enforcer::guest_path`].
    Host(PathBuf),
    /// Already in the guest's base image (the reference enforcer).
    InImage,
    /// Fetched by its pinned recipe (`enforcers fetch`) into the cache.
    Fetched(recipe::Recipe),
    /// Built from the cargo workspace around the adapter's directory.
    Built(cargo::CargoBuild, PathBuf),
}

/// The enforcer under test: a loaded, checked adapter.
#[derive(Debug, Clone)]
pub struct Enforcer {
    pub name: String,
    pub about: String,
    /// The adapter file (for a built-in adapter, a name that says so).
    pub file: PathBuf,
    pub binary: Binary,
    /// Where it is in the guest.
    pub guest_path: String,
    /// Its snapshots' directory, relative to the scenarios' snapshot directory.
    pub snapshots: PathBuf,
    /// Known-bad modes asked for (`--enforcer-fault`), spelled into the command as `{fault}`.
    pub faults: Vec<String>,
    /// The modes its `{fault}` accepts (the adapter's `faults:`); empty: not checked.
    pub fault_modes: Vec<FaultMode>,
    pub style: Style,
    command: Template,
    env: Vec<(String, ValueTemplate)>,
    policy_file: Option<String>,
    /// The policy file's format (`policy_file` adapters).
    pub format: PolicyFormat,
    pub drop_privileges: DropPrivileges,
    pub claims: ClaimReader,
    /// The binary's PT_INTERP, when it is dynamic (read when staged).
    pub interpreter: Option<String>,
    /// Where the adapter says `binary:` (`file:line: binary`), for staging's errors.
    binary_at: String,
    /// What its adapter says it cannot express.
    pub cannot_express: Vec<Feature>,
    /// Its adapter's `native:` section; `None`: it cannot be handed a native policy.
    native: Option<native::Selectors>,
}

/// `${VAR}` and a leading `~/` in a host path; a relative result is relative to `base`.
fn host_path(raw: &str, base: &Path) -> Result<PathBuf, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| format!("`{raw}`: `${{` is not closed with `}}`"))? + start;
        let var = &rest[start + 2..end];
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => out.push_str(&v),
            _ => return Err(format!("`{raw}` names the environment variable {var}, which is not set: set {var} to the path of the enforcer binary")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    if let Some(home_rel) = out.strip_prefix("~/") {
        let home = std::env::var("HOME").map_err(|_| format!("`{raw}` starts with ~/ but HOME is not set"))?;
        out = format!("{home}/{home_rel}");
    }
    let p = PathBuf::from(out);
    Ok(if p.is_absolute() { p } else { base.join(p) })
}

/// What to say when an adapter file is missing: the adapters beside it, by name.
fn missing(file: &Path) -> anyhow::Error {
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut known: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    anyhow::anyhow!(
        "there is no enforcer adapter at {}; adapters in {}: {} (`--enforcer NAME` names enforcers/NAME.yaml; or give a file with --enforcer-file PATH)",
        file.display(),
        dir.display(),
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )
}

/// Guest paths an enforcer must not be installed over.
const RESERVED: [&str; 4] = [lockgate_protocol::GUEST_BIN, "/init", "/bin/busybox", "/bin/lockgate-enforcer"];

/// Which enforcer a run tests, as the command line says.
#[derive(Debug, Clone, Default)]
pub struct EnforcerChoice {
    /// Known-bad modes (`--enforcer-fault NAME`), empty for the correct enforcer.
    pub faults: Vec<String>,
    /// An external enforcer's adapter file (`--enforcer NAME`, `--enforcer-file PATH`); `None`
    /// for the reference enforcer.
    pub adapter_file: Option<PathBuf>,
    /// The project's `lockgate.yaml`, whose `enforcer: NAME` names the adapter
    /// (`enforcers/NAME.yaml` beside it) tested when the command line names no enforcer.
    pub project_config: Option<PathBuf>,
}

impl EnforcerChoice {
    /// The enforcer, loaded and checked.
    pub fn load(&self) -> Result<Enforcer> {
        let file = match (&self.adapter_file, &self.project_config) {
            (Some(file), _) => file.clone(),
            (None, Some(config)) if self.faults.is_empty() => {
                let c = crate::model::config::read(config)?;
                match c.enforcer.as_ref().map(|n| n.as_str()) {
                    None | Some("reference" | REFERENCE_NAME) => return reference(&self.faults),
                    Some(n) => config.parent().unwrap_or(Path::new(".")).join("enforcers").join(format!("{n}.yaml")),
                }
            }
            (None, _) => return reference(&self.faults),
        };
        let file = &file;
        let mut e = load(file)?;
        if !self.faults.is_empty() {
            if !e.takes_faults() {
                bail!("--enforcer-fault makes the reference enforcer misbehave; it cannot be combined with an external enforcer ({})", file.display());
            }
            e.set_faults(&self.faults)?;
        }
        Ok(e)
    }
}

/// The reference enforcer, with the known-bad modes in `faults` (none: the correct one).
pub fn reference(faults: &[String]) -> Result<Enforcer> {
    let mut e = parse(Path::new("(built in) lockgate-enforcer.yaml"), REFERENCE)?;
    e.set_faults(faults)?;
    Ok(e)
}

impl Enforcer {
    /// Ask for the known-bad modes `faults`, each checked against the adapter's list before
    /// anything boots: a misspelt mode would make every enforced run fail, which looks like a
    /// caught mutation.
    fn set_faults(&mut self, faults: &[String]) -> Result<()> {
        if !self.fault_modes.is_empty() {
            for f in faults {
                if self.fault_modes.iter().any(|m| &m.name == f) {
                    continue;
                }
                let valid: Vec<String> = self.fault_modes.iter().map(|m| format!("{} ({})", m.name, m.about)).collect();
                let near = f.replace('_', "-").to_lowercase();
                let hint = match self.fault_modes.iter().find(|m| m.name == near) {
                    Some(m) => format!("; did you mean `{}`?", m.name),
                    None => String::new(),
                };
                bail!(
                    "--enforcer-fault {}: {} has no such fault mode{hint}; valid modes: {}",
                    escape(f),
                    self.name,
                    valid.join(", ")
                );
            }
        }
        self.faults = faults.to_vec();
        Ok(())
    }
}

/// A value as it can be shown in one line of a message: control characters escaped.
fn escape(s: &str) -> String {
    s.escape_debug().to_string()
}

/// The adapter in `file`.
pub fn load(file: &Path) -> Result<Enforcer> {
    if !file.exists() {
        return Err(missing(file));
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the enforcer adapter {}", file.display()))?;
    parse(file, &text)
}

fn parse(file: &Path, text: &str) -> Result<Enforcer> {
    let raw = crate::model::adapter::read(file, text)?;
    from_adapter(&crate::model::Loaded { file: file.to_path_buf(), value: raw }, text)
}

/// The enforcer an adapter loaded from `adapter.file` (whose text is `text`) describes: its
/// fields checked together (each error names the line), nothing fetched, built or read.
pub fn from_adapter(adapter: &crate::model::Loaded<Adapter>, text: &str) -> Result<Enforcer> {
    let (file, raw) = (adapter.file.as_path(), &adapter.value);
    let text = text.to_string();
    let at = |field: &str| format!("{}:{}: {field}", file.display(), crate::model::locate::line_of(&text, field));
    let base = file.parent().unwrap_or(Path::new("."));
    // Where the binary comes from; a fetched or built one is found or built when staged.
    let binary = match &raw.binary {
        BinarySource::InImage { .. } => Binary::InImage,
        BinarySource::Host(raw_path) => {
            Binary::Host(host_path(raw_path, base).map_err(|e| anyhow::anyhow!("{}: {e}", at("binary")))?)
        }
        BinarySource::Fetch(f) => Binary::Fetched(f.fetch.clone()),
        BinarySource::Build { build } => Binary::Built(build.clone(), base.to_path_buf()),
    };
    let (guest_path, file_name) = match (&raw.binary, &binary) {
        (BinarySource::InImage { in_image }, _) => {
            if raw.install_as.is_some() {
                bail!("{}: a binary already in the image is not installed anywhere", at("install_as"));
            }
            let name = Path::new(in_image).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            (in_image.clone(), name)
        }
        (_, binary) => {
            let file_name = match binary {
                Binary::Host(path) => path.file_name().map(|n| n.to_string_lossy().to_string()),
                Binary::Fetched(recipe) => Some(recipe.file_name()),
                Binary::Built(build, _) => Some(build.bin_name()),
                Binary::InImage => None,
            }
            .unwrap_or_else(|| "enforcer".into());
            let guest_path = match &raw.install_as {
                // `/usr/bin/busybox` is `/bin/busybox` on the merged-/usr root.
                Some(p) if RESERVED.iter().any(|r| merged_usr(r) == merged_usr(p)) || p.starts_with("/lockgate/") => {
                    bail!(
                        "{}: `{p}` is where lockgate's own files live in the guest; install the enforcer elsewhere",
                        at("install_as")
                    )
                }
                Some(p) if p.starts_with('/') && !p.ends_with('/') && !p.split('/').any(|c| c == "..") => p.clone(),
                Some(p) => bail!("{}: `{p}` is not an absolute file path in the guest", at("install_as")),
                None => format!("/usr/local/bin/{file_name}"),
            };
            (guest_path, file_name)
        }
    };
    let snapshots = match &raw.snapshots {
        None => PathBuf::from(raw.name.as_str()),
        Some(d) if d == "." => PathBuf::new(),
        Some(d) if !d.is_empty() && !d.starts_with('/') && !d.split('/').any(|c| c == ".." || c.is_empty()) => {
            PathBuf::from(d)
        }
        Some(d) => bail!(
            "{}: `{d}` is not a directory relative to the snapshot directory (write `.` for the directory itself)",
            at("snapshots")
        ),
    };
    let inv = &raw.invoke;
    let parse_cmd =
        |words: Vec<String>| Template::parse(&words).map_err(|e| anyhow::anyhow!("{}: {e}", at("invoke.command")));
    let mut command = match (&inv.command, inv.style) {
        (Some(c), _) => parse_cmd(c.words())?,
        (None, Style::LandlockEnv) => parse_cmd(vec!["{binary}".into(), "{cmd}".into()])?,
        (None, Style::PolicyFile) => bail!("{}: a policy_file adapter needs a command that names the file, e.g. `command: \"{{binary}} --policy {{policy_file}} -- {{cmd}}\"`", at("invoke")),
        (None, Style::CommandLine) => bail!("{}: a command_line adapter needs a command, e.g. `command: \"{{binary}} [--ro {{ro}}] [--rw {{rw}}] -- {{cmd}}\"`", at("invoke")),
    };
    command.program_name_is_binary(&file_name);
    let mut env_templates: BTreeMap<String, String> = BTreeMap::new();
    if inv.style == Style::LandlockEnv {
        for (k, v) in [
            ("LL_FS_RO", "{ro:}"),
            ("LL_FS_RW", "{rw:}"),
            ("LL_TCP_BIND", "{tcp_bind:}"),
            ("LL_TCP_CONNECT", "{tcp_connect:}"),
        ] {
            env_templates.insert(k.into(), v.into());
        }
    }
    env_templates.extend(inv.env.clone());
    let mut env = Vec::new();
    for (k, v) in env_templates {
        if k.is_empty() || k.contains('=') {
            bail!("{}: `{k}` is not an environment variable name", at("invoke.env"));
        }
        env.push((k, ValueTemplate::parse(&v).map_err(|e| anyhow::anyhow!("{}: {e}", at("invoke.env")))?));
    }
    let policy_file = match (inv.style, &inv.policy_file) {
        (Style::PolicyFile, p) => {
            let p = p.clone().unwrap_or_else(|| DEFAULT_POLICY_PATH.into());
            if !p.starts_with('/') {
                bail!("{}: `{p}` is not an absolute path in the guest", at("invoke.policy_file"));
            }
            if !command.uses("policy_file") && !env_templates_use(&inv.env, "policy_file") {
                bail!("{}: the command never names the policy file: put {{policy_file}} where the enforcer expects its path", at("invoke.command"));
            }
            Some(p)
        }
        (_, Some(_)) => bail!("{}: only `style: policy_file` writes a policy file", at("invoke.policy_file")),
        (_, None) => None,
    };
    if inv.format.is_some() && inv.style != Style::PolicyFile {
        bail!("{}: `format` is for `style: policy_file`", at("invoke.format"));
    }
    Ok(Enforcer {
        name: raw.name.to_string(),
        about: raw.about.clone(),
        file: file.to_path_buf(),
        binary,
        guest_path,
        snapshots,
        faults: Vec::new(),
        fault_modes: raw.faults.clone(),
        style: inv.style,
        command,
        env,
        policy_file,
        format: inv.format.unwrap_or_default(),
        drop_privileges: raw.drop_privileges,
        claims: raw.claim.0.clone(),
        interpreter: None,
        binary_at: at("binary"),
        // What the policy file's format has no field for cannot be expressed either.
        cannot_express: {
            let mut all = raw.cannot_express.clone();
            let lacking: &[Feature] = match inv.style {
                Style::PolicyFile => inv.format.unwrap_or_default().cannot_express(),
                // No placeholder spells a rule's rights or the handled set.
                _ => &[Feature::Rules, Feature::Handled],
            };
            all.extend(lacking.iter().filter(|f| !raw.cannot_express.contains(f)));
            all
        },
        native: match (&raw.native, inv.style) {
            (Some(_), Style::PolicyFile) | (None, _) => raw.native.clone(),
            (Some(_), _) => {
                bail!("{}: only a `style: policy_file` enforcer can be handed a native policy document", at("native"))
            }
        },
    })
}

impl Enforcer {
    /// Stage the binary: a fetched one is found in `cache`, a workspace's is built (or found
    /// built) in it; then the host file is checked and its ELF interpreter read. Loading never
    /// does this: `lockgate check` loads adapters without fetching or building anything.
    pub fn stage(&mut self, cache: &Cache) -> Result<()> {
        let at = self.binary_at.clone();
        let path = match &self.binary {
            Binary::InImage => return Ok(()),
            Binary::Host(path) => path.clone(),
            Binary::Fetched(recipe) => recipe.fetched(cache, &self.name, &at)?,
            Binary::Built(build, dir) => build.binary(dir, cache).map_err(|e| anyhow::anyhow!("{at}.build: {e:#}"))?,
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            anyhow::anyhow!(
                "{at}: the enforcer binary {} cannot be read ({e}); build it, or fix the path",
                path.display()
            )
        })?;
        if !meta.is_file() {
            bail!("{at}: {} is not a file", path.display());
        }
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        self.interpreter =
            crate::elf::read(&bytes).map_err(|e| anyhow::anyhow!("{at}: {}: {e}", path.display()))?.interpreter;
        self.binary = Binary::Host(path);
        Ok(())
    }
}

fn env_templates_use(env: &BTreeMap<String, String>, scalar: &str) -> bool {
    env.values().any(|v| v.contains(&format!("{{{scalar}}}")))
}

/// The identity a scenario's policy asks for, as the plan resolved it.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub user: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
}

impl Enforcer {
    /// `sc` as this enforcer receives it: a native policy's document read through the
    /// adapter's `native:` selectors into the policy lockgate understands (its user, group,
    /// compatibility and rule paths); any other scenario as it is.
    pub fn resolve(&self, sc: &Scenario) -> Result<Scenario, String> {
        let Some(text) = &sc.native_policy else { return Ok(sc.clone()) };
        let Some(selectors) = &self.native else {
            return Err(format!(
                "policy: the scenario carries its enforcer's own policy document, but the adapter of {} ({}) {}",
                self.name,
                self.file.display(),
                match self.style {
                    Style::PolicyFile => "has no `native:` section saying where lockgate finds the user and the rule paths in it: add one",
                    _ => "does not take a policy file: a native policy goes to an enforcer that reads one (`style: policy_file`)",
                }
            ));
        };
        let policy =
            selectors.resolve(sc, text).map_err(|e| format!("policy: {e} (adapter {})", self.file.display()))?;
        Ok(Scenario { policy, ..sc.clone() })
    }

    /// The parts of `sc`'s policy this enforcer cannot express: not handed to it, not asked for.
    pub fn not_asked(&self, sc: &Scenario) -> Vec<Feature> {
        self.cannot_express.iter().copied().filter(|f| f.used_by(sc)).collect()
    }

    /// How the guest starts this enforcer for one scenario.
    /// Refuses a rule path that this enforcer would split: one holding the separator it joins
    /// that list with (`{ro:}` in `LL_FS_RO`: `/sandbox/a:b` would reach it as two paths, and
    /// `/x/a:/etc` would grant `/etc`).
    pub fn check_rule_paths(&self, sc: &Scenario, workdir: &str) -> Result<(), String> {
        let mut joined: Vec<(String, char, String)> =
            self.command.joined_lists().into_iter().map(|(n, j)| (n, j, "its command".to_string())).collect();
        for (k, t) in &self.env {
            joined.extend(t.joined_lists().into_iter().map(|(n, j)| (n, j, format!("the variable {k}"))));
        }
        let fs = &sc.policy.filesystem_policy;
        let mut lists: Vec<(&str, String, String)> = Vec::new();
        for (i, p) in fs.read_only.iter().enumerate() {
            lists.push(("ro", format!("filesystem_policy.read_only[{i}]"), p.as_str().to_string()));
        }
        for (i, p) in fs.read_write.iter().enumerate() {
            lists.push(("rw", format!("filesystem_policy.read_write[{i}]"), p.as_str().to_string()));
        }
        if fs.include_workdir {
            lists.push(("rw", "setup.workdir (include_workdir)".to_string(), workdir.to_string()));
        }
        for (list, field, path) in lists {
            for (name, sep, place) in joined.iter().filter(|(n, _, _)| n == list) {
                if path.contains(*sep) {
                    return Err(format!(
                        "{field}: `{}` contains `{sep}`, the separator the enforcer {} joins its {{{name}{sep}}} list with ({place}): it would read that path as more than one, and could grant a path the policy does not name; rename the path, or test this scenario with an adapter that passes paths one by one (`[--{name} {{{name}}}]`)",
                        path.escape_debug(),
                        self.name
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn call(&self, sc: &Scenario, run_as: &RunAs, workdir: &str) -> proto::EnforcerCall {
        // What it cannot express is left out of what it is given (a policy file included).
        let mut policy = sc.policy.clone();
        for feature in self.not_asked(sc) {
            match feature {
                Feature::Scoped => policy.landlock.scoped.clear(),
                Feature::IoctlDev => policy.filesystem_policy.ioctl_dev.clear(),
                Feature::ReadOnlyNoexec => policy.filesystem_policy.read_only_noexec.clear(),
                Feature::TcpRules => policy.network = None,
                Feature::Seccomp => policy.seccomp = None,
                Feature::Rules => policy.filesystem_policy.rules.clear(),
                Feature::Handled => policy.landlock.handled = None,
            }
        }
        let sc = &Scenario { policy, ..sc.clone() };
        let fs = &sc.policy.filesystem_policy;
        let mut rw: Vec<String> = fs.read_write.iter().map(|p| p.as_str().to_string()).collect();
        if fs.include_workdir && !rw.iter().any(|p| p == workdir) {
            rw.push(workdir.to_string());
        }
        let ports = |l: &Vec<u16>| l.iter().map(u16::to_string).collect::<Vec<_>>();
        let mut v = Values::default();
        let policy_file = self.policy_file.as_ref().map(|p| p.replace("{scenario}", sc.name.as_str()));
        for (k, val) in [
            ("binary", self.guest_path.clone()),
            ("policy_file", policy_file.clone().unwrap_or_default()),
            ("scenario", sc.name.to_string()),
            ("user", run_as.user.clone()),
            ("group", run_as.group.clone()),
            ("uid", run_as.uid.to_string()),
            ("gid", run_as.gid.to_string()),
            ("workdir", workdir.to_string()),
            (
                "compatibility",
                match sc.policy.landlock.compatibility {
                    Compatibility::BestEffort => "best_effort".into(),
                    Compatibility::HardRequirement => "hard_requirement".into(),
                },
            ),
        ] {
            v.scalars.insert(k, val);
        }
        v.lists.insert("fault", Some(self.faults.clone()));
        v.lists.insert("ro", Some(fs.read_only.iter().map(|p| p.as_str().to_string()).collect()));
        v.lists.insert("rw", Some(rw));
        v.lists.insert("tcp_bind", sc.policy.network.as_ref().map(|n| ports(&n.bind_tcp)));
        v.lists.insert("tcp_connect", sc.policy.network.as_ref().map(|n| ports(&n.connect_tcp)));
        // Absent (a bracketed group left out, a variable not set) when the policy has none.
        let present = |l: Vec<String>| (!l.is_empty()).then_some(l);
        v.lists.insert("ro_noexec", present(fs.read_only_noexec.iter().map(|p| p.as_str().to_string()).collect()));
        v.lists.insert("ioctl_dev", present(fs.ioctl_dev.iter().map(|p| p.as_str().to_string()).collect()));
        v.lists.insert("scoped", present(sc.policy.landlock.scoped.iter().map(|s| s.name().to_string()).collect()));
        let files = match &policy_file {
            // A native policy goes as written; lockgate's own is written in the adapter's format.
            Some(path) => {
                vec![(path.clone(), sc.native_policy.clone().unwrap_or_else(|| self.format.write(&sc.policy)))]
            }
            None => vec![],
        };
        let mut env: Vec<(String, String)> =
            self.env.iter().filter_map(|(k, t)| t.expand(&v).map(|val| (k.clone(), val))).collect();
        if self.private_libs() && !env.iter().any(|(k, _)| k == "LD_LIBRARY_PATH") {
            // The enforcer's own libraries, not whatever else the guest holds.
            env.push(("LD_LIBRARY_PATH".into(), host_libs::PRIVATE_LIB_DIR.into()));
        }
        proto::EnforcerCall {
            argv: self.command.expand(&v),
            env,
            files,
            drop_privileges: self.drop_privileges == DropPrivileges::Harness,
        }
    }

    /// One line for reports: the name, the adapter file and the binary, the known-bad modes.
    pub fn describe(&self) -> String {
        let what = match &self.binary {
            Binary::InImage => format!("{} ({})", self.name, self.about.trim()),
            Binary::Host(b) => format!(
                "{} (adapter {}, binary {} → {} in the guest)",
                self.name,
                self.file.display(),
                b.display(),
                self.guest_path
            ),
            Binary::Fetched(recipe) => {
                format!("{} (adapter {}, {}, not staged)", self.name, self.file.display(), recipe.describe())
            }
            Binary::Built(build, _) => format!(
                "{} (adapter {}, package {} of its workspace, not staged)",
                self.name,
                self.file.display(),
                build.package
            ),
        };
        match self.faults.as_slice() {
            [] => what,
            f => format!("{what} with known-bad mode {}", f.join(", ")),
        }
    }

    /// Whether the command has a place for known-bad modes (`{fault}`).
    pub fn takes_faults(&self) -> bool {
        self.command.uses("fault")
    }

    /// Whether its loader and libraries go in the private directory (a dynamic binary whose
    /// PT_INTERP can be rewritten in place; else they go where the host has them).
    fn private_libs(&self) -> bool {
        self.interpreter.as_ref().is_some_and(|i| i.len() >= host_libs::PRIVATE_INTERP.len())
    }

    /// The files this enforcer brings into the guest: (guest path, host file). The binary
    /// comes first.
    pub fn guest_files(&self) -> Result<Vec<(String, PathBuf)>> {
        let Binary::Host(binary) = &self.binary else { return Ok(Vec::new()) };
        let mut files = vec![(self.guest_path.clone(), binary.clone())];
        let deps = host_libs::dependencies(binary)
            .with_context(|| format!("enforcer {} ({})", self.name, self.file.display()))?;
        let mut seen = BTreeMap::new();
        for d in deps {
            let guest = match (self.private_libs(), &self.interpreter) {
                (false, _) => d.to_string_lossy().to_string(),
                (true, Some(interp)) if Path::new(interp) == d => host_libs::PRIVATE_INTERP.to_string(),
                (true, _) => format!(
                    "{}/{}",
                    host_libs::PRIVATE_LIB_DIR,
                    d.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
                ),
            };
            if let Some(other) = seen.insert(guest.clone(), d.clone()) {
                bail!(
                    "enforcer {}: two of its libraries share the name {} ({} and {})",
                    self.name,
                    guest,
                    other.display(),
                    d.display()
                );
            }
            files.push((guest, d));
        }
        Ok(files)
    }

    /// The archive with the binary and its libraries, from the cache or built now (the kernel
    /// unpacks it over the base image, before the plan); `None` when the binary is in the image.
    pub fn archive(&self, cache: &Cache) -> Result<Option<PathBuf>> {
        let files = self.guest_files()?;
        if files.is_empty() {
            return Ok(None);
        }
        let mut key_text = format!("enforcer archive {ARCHIVE_VERSION} merged-usr\n");
        for (guest, host) in &files {
            key_text.push_str(&format!("{guest} {}\n", sha256_file(host)?));
        }
        let key = sha256_bytes(key_text.as_bytes());
        let path = cache.dir("images").join(format!("enforcer-{}.cpio", &key[..16]));
        if path.exists() {
            return Ok(Some(path));
        }
        let mut a = Newc::new();
        let mut dirs = BTreeSet::new();
        for (guest, host) in &files {
            let mut parents: Vec<&str> = Path::new(guest)
                .ancestors()
                .skip(1)
                .filter_map(|p| p.to_str())
                .filter(|p| *p != "/" && !p.is_empty())
                .collect();
            parents.reverse();
            for d in parents {
                if dirs.insert(d.to_string()) {
                    a.dir(d, 0o755);
                }
            }
            let mut bytes = std::fs::read(host).with_context(|| format!("cannot read {}", host.display()))?;
            if guest == &self.guest_path && self.private_libs() {
                crate::elf::set_interpreter(&mut bytes, host_libs::PRIVATE_INTERP)
                    .map_err(|e| anyhow::anyhow!("enforcer {}: {}: {e}", self.name, host.display()))?;
            }
            a.file(guest, 0o755, &bytes);
        }
        crate::cache::write_atomic(&path, &a.finish())?;
        Ok(Some(path))
    }

    /// sha256 of the enforcer binary (for provenance); `in_image` is the digest of the base
    /// image's enforcer.
    pub fn digest(&self, in_image: &str) -> Result<String> {
        match &self.binary {
            Binary::Host(b) => sha256_file(b),
            Binary::InImage => Ok(in_image.to_string()),
            Binary::Fetched(_) | Binary::Built(..) => bail!("enforcer {}: its binary is not staged yet", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project's `lockgate.yaml` names the enforcer tested when the command line names none.
    #[test]
    fn the_project_config_names_the_default_enforcer() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("lockgate.yaml");
        let choice = EnforcerChoice { project_config: Some(config.clone()), ..Default::default() };
        std::fs::write(&config, "enforcer: reference\n").unwrap();
        assert_eq!(choice.load().unwrap().name, REFERENCE_NAME);
        std::fs::write(&config, "enforcer: mine\n").unwrap();
        let e = format!("{:#}", choice.load().unwrap_err());
        assert!(
            e.contains(&format!("no enforcer adapter at {}", dir.path().join("enforcers/mine.yaml").display())),
            "{e}"
        );
        std::fs::write(&config, "enforcers: mine\n").unwrap();
        let e = format!("{:#}", choice.load().unwrap_err());
        assert!(e.contains("lockgate.yaml") && e.contains("enforcers"), "an unknown field is named: {e}");
        // A known-bad mode is the reference enforcer's: the project's default does not apply.
        let faulty = EnforcerChoice { faults: vec!["drop-first".into()], ..choice };
        assert_eq!(faulty.load().unwrap().name, REFERENCE_NAME);
    }

    fn scenario(network: bool) -> Scenario {
        let net = if network { ", network: {bind_tcp: [8080], connect_tcp: []}" } else { "" };
        serde_yaml::from_str(&format!(
            "name: s\nsetup: {{workdir: /work}}\npolicy: {{filesystem_policy: {{read_only: [/usr, /bin], read_write: [/tmp], include_workdir: true}}, process: {{run_as_user: sandbox}}{net}}}\nexpect: [{{enforcement: full}}]\n"
        ))
        .unwrap()
    }

    fn run_as() -> RunAs {
        RunAs { user: "sandbox".into(), group: "sandbox".into(), uid: 998, gid: 998 }
    }

    fn adapter(dir: &Path, body: &str) -> Result<Enforcer> {
        let bin = dir.join("tool");
        std::fs::copy("/bin/true", &bin).unwrap();
        let file = dir.join("a.yaml");
        std::fs::write(&file, format!("name: t\nbinary: tool\n{body}")).unwrap();
        let mut e = load(&file)?;
        e.stage(&Cache::at(dir.join("cache"))?)?;
        Ok(e)
    }

    #[test]
    fn the_sandboxer_convention_is_environment_variables() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(dir.path(), "invoke: {style: landlock_env}\ndrop_privileges: harness\nclaim: unsupported\n")
            .unwrap();
        let call = a.call(&scenario(false), &run_as(), "/work");
        assert_eq!(call.argv, vec!["/usr/local/bin/tool", "{cmd}"]);
        // /bin/true is dynamic on Debian: its own libraries come first.
        assert_eq!(
            call.env,
            vec![
                ("LL_FS_RO".into(), "/usr:/bin".into()),
                ("LL_FS_RW".into(), "/tmp:/work".into()),
                ("LD_LIBRARY_PATH".into(), host_libs::PRIVATE_LIB_DIR.into())
            ]
        );
        assert!(call.drop_privileges && call.files.is_empty());
        let call = a.call(&scenario(true), &run_as(), "/work");
        assert!(call.env.contains(&("LL_TCP_BIND".into(), "8080".into())));
        assert!(
            call.env.contains(&("LL_TCP_CONNECT".into(), String::new())),
            "an empty list denies every connect: {:?}",
            call.env
        );
    }

    /// Issue 18: a rule path holding the separator of a joined list is refused for that adapter
    /// (it would reach the enforcer as two paths); an adapter that passes paths one by one takes it.
    #[test]
    fn a_path_holding_the_join_separator_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let colon: Scenario = serde_yaml::from_str(
            "name: s\npolicy: {filesystem_policy: {read_only: [/usr, /bin], read_write: [/tmp, '/x/a:/etc']}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        let env = adapter(dir.path(), "invoke: {style: landlock_env}\ndrop_privileges: harness\nclaim: unsupported\n")
            .unwrap();
        let e = env.check_rule_paths(&colon, "/").unwrap_err();
        assert_eq!(
            e,
            "filesystem_policy.read_write[1]: `/x/a:/etc` contains `:`, the separator the enforcer t joins its {rw:} list with (the variable LL_FS_RW): it would read that path as more than one, and could grant a path the policy does not name; rename the path, or test this scenario with an adapter that passes paths one by one (`[--rw {rw}]`)"
        );
        let per_path = adapter(
            dir.path(),
            "invoke: {style: command_line, command: 'tool [--rw {rw}] [--ro {ro,}] -- {cmd}'}\nclaim: unsupported\n",
        )
        .unwrap();
        assert_eq!(per_path.check_rule_paths(&colon, "/"), Ok(()));
        assert_eq!(env.check_rule_paths(&scenario(false), "/work"), Ok(()));
        // Issue 23: a space is a path's own (Linux allows it, deployed policies carry it): the
        // scenario loads, and an adapter that joins with `:` or passes paths one by one takes it.
        let spaced: Scenario = serde_yaml::from_str(
            "name: s\npolicy: {filesystem_policy: {read_only: [/usr, '/srv/my data'], read_write: [/tmp]}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        assert_eq!(env.check_rule_paths(&spaced, "/"), Ok(()));
        assert_eq!(per_path.check_rule_paths(&spaced, "/"), Ok(()));
    }

    #[test]
    fn a_command_line_template_spells_the_lists() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(dir.path(), "invoke: {style: command_line, command: 'tool [--ro {ro,}] [--rw {rw}] [--bind-tcp {tcp_bind}] -- {cmd}'}\nclaim: unsupported\n").unwrap();
        assert_eq!(
            a.call(&scenario(true), &run_as(), "/work").argv.join(" "),
            "/usr/local/bin/tool --ro /usr,/bin --rw /tmp --rw /work --bind-tcp 8080 -- {cmd}"
        );
        assert!(!a.call(&scenario(true), &run_as(), "/work").drop_privileges);
    }

    #[test]
    fn a_policy_file_adapter_writes_the_openshell_policy() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(dir.path(), "install_as: /opt/e/enf\ninvoke: {style: policy_file, command: '{binary} --policy {policy_file} --user {user} -- {cmd}'}\nclaim: [{regex: 'enforcement=(?P<claim>\\w+)'}]\n").unwrap();
        let call = a.call(&scenario(false), &run_as(), "/work");
        assert_eq!(call.argv.join(" "), "/opt/e/enf --policy /lockgate/policy/s.yaml --user sandbox -- {cmd}");
        assert_eq!(call.files[0].0, "/lockgate/policy/s.yaml");
        assert!(
            call.files[0].1.contains("read_only:") && call.files[0].1.contains("run_as_user: sandbox"),
            "{}",
            call.files[0].1
        );
    }

    /// A native policy reaches the enforcer as written, byte for byte; what lockgate needs is
    /// read from it through the adapter's selectors.
    #[test]
    fn a_native_policy_is_handed_over_as_written() {
        let doc = "# as deployed\nversion: 1\nprocess:   {run_as_user: sandbox}\nfilesystem_policy: {read_only: [/usr, /app]}\n";
        let text = format!(
            "name: n\nsetup: {{users: [{{name: sandbox, uid: 998}}]}}\npolicy: |\n{}expect: [{{enforcement: full}}]\n",
            doc.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        let sc: Scenario = serde_yaml::from_str(&text).unwrap();
        let reference = reference(&[]).unwrap();
        let resolved = reference.resolve(&sc).unwrap();
        assert_eq!(resolved.policy.process.run_as_user.as_ref().map(|n| n.as_str()), Some("sandbox"));
        assert_eq!(resolved.checked_paths(), ["/usr", "/app"]);
        let call = reference.call(&resolved, &run_as(), "/");
        assert_eq!(call.files, [("/lockgate/policy/n.yaml".to_string(), doc.to_string())]);
        // An enforcer that takes no policy file cannot be handed one.
        let dir = tempfile::tempdir().unwrap();
        let env = adapter(dir.path(), "invoke: {style: landlock_env}\nclaim: unsupported\n").unwrap();
        assert!(env.resolve(&sc).unwrap_err().contains("does not take a policy file"));
    }

    #[test]
    fn bad_adapters_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let e = format!(
            "{:#}",
            adapter(dir.path(), "invoke: {style: policy_file, command: 'tool -- {cmd}'}\nclaim: unsupported\n")
                .unwrap_err()
        );
        assert!(e.contains("a.yaml:3: invoke.command: the command never names the policy file"), "{e}");
        let e = format!(
            "{:#}",
            adapter(dir.path(), "invoke: {style: command_line, command: 'tool --ro {ro} {cmd}'}\nclaim: unsupported\n")
                .unwrap_err()
        );
        assert!(e.contains("say how the list {ro} is spelled"), "{e}");
        let e = format!("{:#}", adapter(dir.path(), "invoke: {style: landlock_env}\n").unwrap_err());
        assert!(e.contains("missing field `claim`"), "{e}");
        let e = format!(
            "{:#}",
            adapter(dir.path(), "install_as: /bin/lockgate-guest\ninvoke: {style: landlock_env}\nclaim: unsupported\n")
                .unwrap_err()
        );
        assert!(e.contains("a.yaml:3: install_as: `/bin/lockgate-guest` is where lockgate's own files live"), "{e}");
        let e = format!("{:#}", load(&dir.path().join("nope.yaml")).unwrap_err());
        assert!(e.contains("there is no enforcer adapter at") && e.contains("adapters in") && e.contains(": a"), "{e}");
        std::env::remove_var("LOCKGATE_TEST_UNSET_ENFORCER");
        let file = dir.path().join("b.yaml");
        std::fs::write(
            &file,
            "name: b\nbinary: ${LOCKGATE_TEST_UNSET_ENFORCER}\ninvoke: {style: landlock_env}\nclaim: unsupported\n",
        )
        .unwrap();
        let e = format!("{:#}", load(&file).unwrap_err());
        assert!(e.contains("b.yaml:2: binary: `${LOCKGATE_TEST_UNSET_ENFORCER}` names the environment variable LOCKGATE_TEST_UNSET_ENFORCER, which is not set"), "{e}");
    }

    /// Issue 13: an adapter whose binary is fetched finds it in the cache, or names the command
    /// that fetches it; a run never fetches by itself. Issue 23: loading the adapter looks in no
    /// cache (it succeeds); staging it in the run's cache does, and names the command as the
    /// user invokes lockgate (the binary's form here).
    #[test]
    fn a_fetched_binary_is_found_in_the_cache_or_its_fetch_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.yaml");
        std::fs::write(
            &file,
            "name: f\nbinary: {fetch: {npm: {package: p, version: 1.0.0, sha256: ab, file: package/bin/f}}}\ninvoke: {style: landlock_env}\nclaim: unsupported\n",
        )
        .unwrap();
        // The pin `ab` is no digest: nothing in any cache answers to it.
        let mut enforcer = load(&file).expect("loading looks in no cache");
        let empty = Cache::at(dir.path().join("empty-cache")).unwrap();
        let e = format!("{:#}", enforcer.stage(&empty).unwrap_err());
        assert!(
            e.contains("f.yaml:2: binary: f is not fetched yet: run `lockgate enforcers fetch f` (package/bin/f from the npm package p@1.0.0)"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("bad.yaml"),
            "name: b\nbinary: {fetch: {git: {url: x}}}\ninvoke: {style: landlock_env}\nclaim: unsupported\n",
        )
        .unwrap();
        let e = format!("{:#}", load(&dir.path().join("bad.yaml")).unwrap_err());
        assert!(e.contains("bad.yaml:2: binary.fetch: unknown variant `git`"), "{e}");
        let (name, recipe) = recipe::recipe_in(&file).unwrap().unwrap();
        let cache = Cache::at(dir.path().join("cache")).unwrap();
        let cached = recipe.cached_path(&cache, &name);
        std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
        std::fs::copy("/bin/true", &cached).unwrap();
        assert_eq!(recipe.fetched(&cache, "f", "here").unwrap(), cached);
    }

    #[test]
    fn the_archive_holds_the_binary_and_its_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(dir.path(), "invoke: {style: landlock_env}\nclaim: unsupported\n").unwrap();
        let files = a.guest_files().unwrap();
        assert_eq!(files[0].0, "/usr/local/bin/tool");
        assert!(files.iter().any(|(g, _)| g == "/lockgate/lib/libc.so.6"), "/bin/true is dynamic on Debian: {files:?}");
        assert!(files.iter().any(|(g, _)| g == host_libs::PRIVATE_INTERP), "{files:?}");
        let cache = Cache::at(dir.path().join("cache")).unwrap();
        let p1 = a.archive(&cache).unwrap().unwrap();
        assert_eq!(a.archive(&cache).unwrap().unwrap(), p1, "cached by content");
        let bytes = std::fs::read(&p1).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("usr/local/bin/tool") && text.contains("lockgate/lib/libc.so.6"));
        assert!(text.contains(host_libs::PRIVATE_INTERP), "the guest's copy names the private loader");
    }
}
