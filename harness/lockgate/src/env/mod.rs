//! Environments made ready for a run, before it is planned: each container environment's seccomp
//! profile fetched and checked, what the judge must know of it ([`EnvFacts`]), the container
//! the guest starts for its cases, and the runtime archive (`supply/runtime.rs`: runc and crun, as
//! the environments name them, with the libraries their ELF headers name). The manifests themselves are part of the model
//! ([`crate::model::environment`]).
//!
//! The guest converts the profile for its own kernel (`lockgate_protocol::seccomp`).

use crate::model::environment::{
    check_converts, parse_profile_of, read_profile, ContainerManifest, EnvKind, Environment, RuntimeName, SeccompSource,
};
use crate::model::scenario::Denier;
use crate::supply::runtime;
use crate::supply::Supply;
use anyhow::{Context, Result};
use lockgate_protocol::seccomp::{self, Profile, Target};
use lockgate_protocol::{self as proto};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the judge needs to know of an environment (all `None`/`false` for `bare`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFacts {
    /// The errno name of the profile's default action (what it answers for what it blocks).
    pub seccomp_errno: Option<String>,
    /// Whether the profile names `landlock_create_ruleset` in an allowing rule.
    pub allows_landlock: bool,
    /// (syscall, errno name) of every rule of the profile that answers a syscall with an errno
    /// whatever its arguments (Docker's `clone3` → ENOSYS): a call failing with it in both runs
    /// was the profile's doing. A rule with argument conditions is left out: the same errno may
    /// come from elsewhere for the arguments it does not match (a socket family it does not
    /// name, denied EPERM for want of CAP_NET_RAW).
    pub errno_rules: Vec<(String, String)>,
    /// The syscalls the profile allows whatever their arguments, under the environment's
    /// capabilities: a call of these denied EPERM in both runs was not the profile's doing (a
    /// missing capability, Yama's ptrace_scope), whatever its default errno.
    pub allowed: Vec<String>,
    pub profile_sha256: Option<String>,
    /// Why the profile refuses to make namespaces for this container's capabilities (no rule
    /// allows `unshare`; `clone` only by its flags), in words; `None` where it allows them.
    pub namespaces_refused: Option<String>,
    /// The container runs on gVisor (runsc), whose own kernel implements no Landlock.
    pub gvisor: bool,
    /// The container is systemd-nspawn's, under its built-in seccomp filter: `systemd-nspawn`
    /// and the pinned package's version (`systemd-nspawn 252.39-1~deb12u2`), for the reasons
    /// that name what took Landlock away.
    pub nspawn: Option<String>,
    /// The runtime, when it denies by rules lockgate has no table of: gVisor's Sentry (a kernel
    /// of its own) and systemd-nspawn (a seccomp allow-list compiled into it, its capability set
    /// and read-only mounts). For an engine's OCI profile lockgate reads the profile itself
    /// (`errno_rules`, `allowed`) and names `seccomp` from it; for these the guest makes the
    /// control run again on the VM outside the container instead, and the judge names the
    /// runtime from that evidence (`judge::through_runtime`).
    pub runtime: Option<Denier>,
}

/// One environment, ready: `container` is `None` for `bare`.
#[derive(Debug, Clone)]
pub struct ReadyEnv {
    pub name: String,
    pub about: String,
    pub container: Option<proto::Container>,
    /// The AppArmor policy the guest puts in place for the environment's cases.
    pub apparmor: Option<proto::AppArmor>,
    pub facts: EnvFacts,
}

/// The environments of a run, made ready, by name; and the runtime archive when a container
/// environment is among them.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub envs: BTreeMap<String, ReadyEnv>,
    pub runtime: Option<runtime::Runtime>,
    /// The archive of each AppArmor environment (its parser, libraries and profiles).
    pub apparmor_archives: Vec<PathBuf>,
}

impl Prepared {
    pub fn get(&self, name: &str) -> Option<&ReadyEnv> {
        self.envs.get(name)
    }

    /// The environments by name only, nothing fetched: enough to plan which cells a selection
    /// has (shard coverage), not to run them (no container is given to any case).
    pub fn names_only(envs: &[&Environment]) -> Prepared {
        let ready = |e: &&Environment| ReadyEnv {
            name: e.name.clone(),
            about: e.about().to_string(),
            container: None,
            apparmor: None,
            facts: EnvFacts::default(),
        };
        Prepared {
            envs: envs.iter().map(|e| (e.name.clone(), ready(e))).collect(),
            runtime: None,
            apparmor_archives: Vec::new(),
        }
    }
}

/// Makes `envs` ready. `repo` holds `images/runtime.yaml` (lockgate's own when it has none).
pub fn prepare(envs: &[&Environment], repo: &Path, supply: &mut Supply) -> Result<Prepared> {
    let mut p = Prepared::default();
    for env in envs {
        let mut apparmor = None;
        let (container, facts) = match &env.kind {
            EnvKind::Bare => (None, EnvFacts::default()),
            EnvKind::AppArmor(m) => {
                let ready = crate::supply::apparmor::prepare(&m.value, &m.file, supply)?;
                p.apparmor_archives.push(ready.archive);
                apparmor = Some(ready.policy);
                (None, EnvFacts::default())
            }
            EnvKind::Container(m) => {
                let (profile, digest) = profile(&m.value, &m.file, supply)?;
                let facts = EnvFacts {
                    gvisor: m.value.runtime == RuntimeName::Runsc,
                    runtime: runtime_denier(m.value.runtime),
                    ..facts_of(profile.as_ref(), &m.value, digest)?
                };
                let c = &m.value;
                let container = proto::Container {
                    env: c.name.to_string(),
                    runtime: runtime::in_guest(c.runtime).to_string(),
                    seccomp: profile,
                    flavour: c.engine,
                    // nspawn gives its own default set (the manifest may not name one).
                    capabilities: match c.runtime.is_nspawn() {
                        true => Vec::new(),
                        false => c.capabilities.0.clone(),
                    },
                    no_new_privileges: c.no_new_privileges,
                };
                (Some(container), facts)
            }
        };
        p.envs.insert(
            env.name.clone(),
            ReadyEnv { name: env.name.clone(), about: env.about().to_string(), container, apparmor, facts },
        );
    }
    let needed: BTreeSet<RuntimeName> = envs
        .iter()
        .filter_map(|e| match &e.kind {
            EnvKind::Container(m) => Some(m.value.runtime),
            EnvKind::Bare | EnvKind::AppArmor(_) => None,
        })
        .collect();
    if !needed.is_empty() {
        let manifest = crate::supply::shipped::or_default(&supply.cache, repo, "images/runtime.yaml")?;
        let ready = runtime::prepare(&manifest, &needed, supply)?;
        // nspawn's facts name the version the archive carries.
        for env in envs {
            let EnvKind::Container(m) = &env.kind else { continue };
            if let (true, Some(b)) = (m.value.runtime.is_nspawn(), ready.binary(m.value.runtime)) {
                if let Some(e) = p.envs.get_mut(&env.name) {
                    e.facts.nspawn = Some(format!("systemd-nspawn {}", b.package_version));
                }
            }
        }
        p.runtime = Some(ready);
    }
    Ok(p)
}

/// The profile as the engine reads it, and its digest; `None` for `unconfined`.
fn profile(m: &ContainerManifest, file: &Path, supply: &mut Supply) -> Result<(Option<Profile>, Option<String>)> {
    Ok(match &m.seccomp {
        SeccompSource::Unconfined | SeccompSource::BuiltIn => (None, None),
        SeccompSource::Path { resolved, .. } => {
            (Some(read_profile(resolved, m.engine)?), Some(crate::cache::sha256_file(resolved)?))
        }
        SeccompSource::Package(f) => {
            let a = supply
                .image_file(f)
                .with_context(|| format!("the seccomp profile of environment `{}` ({})", m.name, file.display()))?;
            let named = PathBuf::from(format!("{}:{}", f.package.lock_key(), f.file));
            let text = std::fs::read_to_string(&a.path)?;
            let profile = parse_profile_of(&named, &text, m.engine)?;
            check_converts(&named, &profile, m)?;
            (Some(profile), Some(a.sha256))
        }
    })
}

fn facts_of(profile: Option<&Profile>, m: &ContainerManifest, digest: Option<String>) -> Result<EnvFacts> {
    let Some(pr) = profile else { return Ok(EnvFacts::default()) };
    let target = Target { arch: "amd64", capabilities: &m.capabilities.0, release: "255.255" };
    let converted = seccomp::convert(pr, m.engine, &target).map_err(anyhow::Error::msg)?;
    // What the filter answers for what it blocks: the default action's errno, or (a profile
    // that allows by default) the one errno all its blocking rules say.
    let blocking: BTreeSet<u32> = converted
        .syscalls
        .iter()
        .filter(|r| r.action == seccomp::Action::Errno)
        .map(|r| r.errno_ret.unwrap_or(1))
        .collect();
    let errno = converted.default_errno().or_else(|| (blocking.len() == 1).then(|| *blocking.iter().next().unwrap()));
    Ok(EnvFacts {
        seccomp_errno: errno
            .map(|n| seccomp::errno_name(n).map(str::to_string).unwrap_or_else(|| format!("errno {n}"))),
        allows_landlock: converted.allows("landlock_create_ruleset"),
        errno_rules: converted
            .syscalls
            .iter()
            .filter(|r| r.action == seccomp::Action::Errno && r.args.is_empty())
            .flat_map(|r| {
                let n = r.errno_ret.unwrap_or(1);
                let errno = seccomp::errno_name(n).map(str::to_string).unwrap_or_else(|| format!("errno {n}"));
                r.names.iter().map(move |name| (name.clone(), errno.clone()))
            })
            .collect(),
        allowed: converted
            .syscalls
            .iter()
            .filter(|r| r.action == seccomp::Action::Allow && r.args.is_empty())
            .flat_map(|r| r.names.iter().cloned())
            .collect(),
        profile_sha256: digest,
        namespaces_refused: namespaces_refused(&converted, errno),
        gvisor: false,
        nspawn: None,
        runtime: None,
    })
}

/// [`EnvFacts::runtime`] of an environment run by `runtime`.
fn runtime_denier(runtime: RuntimeName) -> Option<Denier> {
    match runtime {
        RuntimeName::Runsc => Some(Denier::Gvisor),
        r if r.is_nspawn() => Some(Denier::Nspawn),
        _ => None,
    }
}

/// The words of [`EnvFacts::namespaces_refused`].
fn namespaces_refused(converted: &seccomp::LinuxSeccomp, errno: Option<u32>) -> Option<String> {
    if converted.allows("unshare") {
        return None;
    }
    let errno = errno.and_then(seccomp::errno_name).unwrap_or("its default action's errno");
    let clone_by_flags = converted
        .syscalls
        .iter()
        .filter(|r| r.action == seccomp::Action::Allow && r.names.iter().any(|n| n == "clone"))
        .all(|r| !r.args.is_empty());
    let clone = match clone_by_flags {
        true => " and allows `clone` only by a rule on its flags",
        false => "",
    };
    Some(format!(
        "the container's seccomp profile, for its capabilities, has no rule allowing `unshare`{clone}: making a namespace there answers {errno}, the profile's default action"
    ))
}
