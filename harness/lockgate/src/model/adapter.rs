//! An adapter file (`enforcers/NAME.yaml`): how lockgate starts an enforcer, hands it a
//! scenario's policy and reads its claim. This is the file's serde type and nothing else:
//! loading it reads and checks text, never a binary, a cache or a build; the enforcer module
//! turns a loaded adapter into the enforcer under test (`Enforcer`), and staging finds or
//! builds its binary.
//!
//! Fields without a default are required.

use super::claim::ClaimSpec;
use super::kernel::PackageRef;
use super::scenario::{Name, Scenario};
use lockgate_protocol::rights::{Class, Right};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// A policy file in OpenShell's format, named in the command (`{policy_file}`).
    PolicyFile,
    /// A command line from the template, with the policy's lists spelled into it.
    CommandLine,
    /// Landlock's sample sandboxer: LL_FS_RO, LL_FS_RW (colon-separated), LL_TCP_BIND,
    /// LL_TCP_CONNECT (set only when the policy has a network section), then `binary CMD ARGS`.
    LandlockEnv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DropPrivileges {
    /// The enforcer starts as root and switches to the policy's user itself (the reference does).
    #[default]
    Enforcer,
    /// The guest switches to the policy's user (groups, gid, uid) before starting the enforcer.
    Harness,
}

/// The format of the policy file a `policy_file` adapter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyFormat {
    /// Exactly OpenShell's format (`version`, `filesystem_policy`, `landlock`, `process`,
    /// `network_policies`), which OpenShell's own parser accepts. lockgate's extensions cannot
    /// be written in it: what they govern is not asked for.
    #[default]
    Openshell,
    /// OpenShell's format plus lockgate's extensions (`read_only_noexec`, `ioctl_dev`,
    /// `landlock.scoped`, `network`): what the reference enforcer reads.
    Lockgate,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Words {
    Line(String),
    List(Vec<String>),
}

impl Words {
    pub fn words(&self) -> Vec<String> {
        match self {
            Words::Line(l) => l.split_whitespace().map(String::from).collect(),
            Words::List(l) => l.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoke {
    /// How the policy reaches the enforcer (required).
    pub style: Style,
    /// The command template, one line or a list of words (`{binary}`, `{cmd}`, `{policy_file}`,
    /// `[--ro {ro}]` …). Default: `{binary} {cmd}` for `landlock_env`; required otherwise.
    #[serde(default)]
    pub command: Option<Words>,
    /// More environment variables for the enforcer, as templates (default: none).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where a `policy_file` adapter writes the policy in the guest (default:
    /// `/lockgate/policy/{scenario}.yaml`).
    #[serde(default)]
    pub policy_file: Option<String>,
    /// The policy file's format, for `policy_file` (default: `openshell`).
    #[serde(default)]
    pub format: Option<PolicyFormat>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum BinarySource {
    Host(String),
    InImage {
        in_image: String,
    },
    /// Fetched or built from a registry by `enforcers fetch` (`supply/recipe.rs`).
    Fetch(Fetched),
    /// Built from the project's own cargo workspace (`supply/cargo.rs`).
    Build {
        build: CargoBuild,
    },
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Adapter {
    /// The enforcer's name, as `--enforcer NAME` and reports give it (required).
    pub name: Name,
    /// One line on what it is, for reports (default: empty).
    #[serde(default)]
    pub about: String,
    /// Where its binary comes from: a host path, `{in_image: PATH}`, `{fetch: RECIPE}` or
    /// `{build: {package, bin?}}` (required).
    pub binary: BinarySource,
    /// Where its snapshots live, under the scenarios' snapshot directory (default: its name).
    #[serde(default)]
    pub snapshots: Option<String>,
    /// Where the binary is installed in the guest (default: `/usr/local/bin/<file name>`).
    #[serde(default)]
    pub install_as: Option<String>,
    /// How to start it with a scenario's policy and the command (required).
    pub invoke: Invoke,
    /// Who switches to the policy's user (default: `enforcer`).
    #[serde(default)]
    pub drop_privileges: DropPrivileges,
    /// How to read its claim from stderr: rules, or `unsupported` (required).
    pub claim: ClaimSpec,
    /// The values its `{fault}` accepts, each with one line saying what it does; checked before
    /// anything boots. Empty: any value is handed over.
    #[serde(default)]
    pub faults: Vec<FaultMode>,
    /// Parts of the reference policy this enforcer has no way to express.
    #[serde(default)]
    pub cannot_express: Vec<Feature>,
    /// Where lockgate finds what it needs in a native policy (a scenario carrying this
    /// enforcer's own document): see `model/native.rs`.
    #[serde(default)]
    pub native: Option<super::native::Selectors>,
}

/// One value an adapter's `{fault}` accepts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultMode {
    pub name: String,
    pub about: String,
}

/// A part of the policy an external enforcer may have no way to express (its adapter's
/// `cannot_express:`). A scenario that uses it hands the enforcer its policy without it, and
/// the expectations on what it governs are *not asked for* rather than failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// `landlock.scoped`: the abstract unix socket and signal scopes (ABI 6).
    Scoped,
    /// `filesystem_policy.ioctl_dev`: ioctl on devices (ABI 5).
    IoctlDev,
    /// `filesystem_policy.read_only_noexec`: read without execute.
    ReadOnlyNoexec,
    /// `network`: Landlock's TCP bind/connect rules (ABI 4).
    TcpRules,
    /// `seccomp`: the enforcer's own syscall filter (lockgate's extension). OpenShell derives its
    /// own from its fields; an enforcer that installs none says so with this.
    Seccomp,
    /// `filesystem_policy.rules`: rights per rule.
    Rules,
    /// `landlock.handled`: the handled set.
    Handled,
}

/// A probe that a filesystem rule decides (each right's own probe, and those that need
/// several rights at once).
fn fs_probe(op: lockgate_protocol::ProbeOp) -> bool {
    use lockgate_protocol::ProbeOp;
    matches!(op, ProbeOp::Create | ProbeOp::OpenTrunc | ProbeOp::RenameExchange | ProbeOp::Ftruncate)
        || Right::ALL.iter().any(|r| r.class() == Class::Fs && r.probe() == op)
}

impl Feature {
    /// The policy field, as a scenario writes it.
    pub fn field(self) -> &'static str {
        match self {
            Feature::Scoped => "landlock.scoped",
            Feature::IoctlDev => "filesystem_policy.ioctl_dev",
            Feature::ReadOnlyNoexec => "filesystem_policy.read_only_noexec",
            Feature::TcpRules => "network",
            Feature::Seccomp => "seccomp",
            Feature::Rules => "filesystem_policy.rules",
            Feature::Handled => "landlock.handled",
        }
    }

    /// The probes whose outcome depends on it.
    pub fn governs(self, op: lockgate_protocol::ProbeOp) -> bool {
        use lockgate_protocol::ProbeOp;
        match self {
            Feature::Scoped => matches!(op, ProbeOp::AbstractConnect | ProbeOp::Signal | ProbeOp::AbstractSendto),
            Feature::IoctlDev => op == ProbeOp::IoctlDev,
            // Without it the paths are under no rule: reading and executing there change.
            Feature::ReadOnlyNoexec => matches!(op, ProbeOp::Exec | ProbeOp::Read | ProbeOp::Readdir),
            Feature::TcpRules => matches!(op, ProbeOp::TcpBind | ProbeOp::TcpConnect | ProbeOp::Tcp6Bind),
            // The probes of what a filter decides; a TCP probe stays Landlock's to judge.
            Feature::Seccomp => matches!(
                op,
                ProbeOp::Syscall
                    | ProbeOp::Socket
                    | ProbeOp::Clone
                    | ProbeOp::Clone3
                    | ProbeOp::PtraceTraceme
                    | ProbeOp::PtraceAttach
                    | ProbeOp::IoUringSetup
                    | ProbeOp::MemfdExec
                    | ProbeOp::ExecveatEmptyPath
                    | ProbeOp::Bpf
                    | ProbeOp::Mount
                    | ProbeOp::Seccomp
            ),
            // Which rights are granted where, or handled at all, decides every probe of a
            // filesystem or TCP right.
            Feature::Rules => fs_probe(op),
            Feature::Handled => {
                fs_probe(op)
                    || op == ProbeOp::Tcp6Bind
                    || Right::ALL.iter().any(|r| r.class() == Class::Net && r.probe() == op)
            }
        }
    }

    pub fn used_by(self, sc: &Scenario) -> bool {
        match self {
            Feature::Scoped => !sc.policy.landlock.scoped.is_empty(),
            Feature::IoctlDev => !sc.policy.filesystem_policy.ioctl_dev.is_empty(),
            Feature::ReadOnlyNoexec => !sc.policy.filesystem_policy.read_only_noexec.is_empty(),
            Feature::TcpRules => sc.policy.network.is_some(),
            Feature::Seccomp => sc.policy.seccomp.is_some(),
            Feature::Rules => !sc.policy.filesystem_policy.rules.is_empty(),
            Feature::Handled => sc.policy.landlock.handled.is_some(),
        }
    }
}

/// An adapter's `binary: {fetch: RECIPE}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fetched {
    /// One key naming the source (`npm:`, `crate_example:` …), as YAML writes a choice.
    #[serde(with = "serde_yaml::with::singleton_map")]
    #[schemars(with = "Recipe")]
    pub fetch: Recipe,
}

/// Where an enforcer's binary comes from, and its pin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipe {
    /// One file out of an npm package (`npm pack PACKAGE@VERSION`).
    Npm { package: String, version: String, sha256: String, file: String },
    /// A binary of a crate, `cargo install --locked CRATE@VERSION --bin BIN`.
    CargoInstall {
        #[serde(rename = "crate")]
        krate: String,
        version: String,
        sha256: String,
        bin: String,
        /// Debian packages the crate's build needs on the host (libraries it links, tools its
        /// build scripts run), installed by `enforcers fetch` for this enforcer only.
        #[serde(default)]
        build_packages: Vec<String>,
    },
    /// An example of a crate, built from the crate's own package with its own lock file:
    /// `cargo build --locked --release --example EXAMPLE`.
    CrateExample {
        #[serde(rename = "crate")]
        krate: String,
        version: String,
        sha256: String,
        example: String,
    },
    /// One C file of the Linux sources (Landlock's sample sandboxer), compiled with the uapi
    /// headers of the same tree: `gcc -O2 -I<tree>/usr/include`.
    LinuxSample { package: PackageRef, tarball: String, source: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CargoBuild {
    /// The cargo package of the enforcer, in the adapter's workspace.
    pub package: String,
    /// Its binary target (default: the package's name).
    #[serde(default)]
    pub bin: Option<String>,
}

/// The adapter in `text` (the file `file`): parsed and checked field by field, nothing else.
/// A bad `binary: {fetch: …}` recipe is named by the recipe's own parse first, where the
/// adapter's parse could only say that `binary:` matches none of its forms.
pub fn read(file: &std::path::Path, text: &str) -> anyhow::Result<Adapter> {
    if text.contains("fetch") {
        recipe_in_text(file, text)?;
    }
    super::file::parse_yaml(file, text)
}

/// The recipe of the adapter in `text`, if its binary is fetched: (the adapter's name, recipe).
/// Read on its own so that an adapter whose binary is not fetched yet can still be fetched.
pub fn recipe_in_text(file: &std::path::Path, text: &str) -> anyhow::Result<Option<(String, Recipe)>> {
    #[derive(Deserialize)]
    struct Head {
        name: String,
        binary: serde_yaml::Value,
    }
    let head: Head = super::file::parse_yaml(file, text)?;
    if !matches!(&head.binary, serde_yaml::Value::Mapping(m) if m.contains_key("fetch")) {
        return Ok(None);
    }
    let f: Fetched = serde_yaml::from_value(head.binary).map_err(|e| {
        let line = super::locate::line_of(text, "binary.fetch");
        anyhow::anyhow!("{}:{line}: binary.fetch: {e}", file.display())
    })?;
    Ok(Some((head.name, f.fetch)))
}
