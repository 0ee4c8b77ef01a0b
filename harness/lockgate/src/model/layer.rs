//! A scenario's outer Landlock layers (`setup.layers`): the domain the enforcer starts inside.
//!
//! A sandbox started inside a process already in a Landlock domain (an agent's sandboxed tool
//! starting its own sandbox, a container whose entrypoint restricted itself) adds a layer to
//! that domain; Landlock allows an access only if every layer allows it, so a new layer cannot
//! grant what an earlier one denied. Each layer here is one `restrict_self` the guest makes
//! (through the reference enforcer's `--layer` mode) before it starts the enforcer, and before
//! the probe runner of the control run, so that the control run differs from the enforced run
//! by the enforcer alone; a third run, without the layers, tells a denial of the layers (`by:
//! layer`) from one of plain permissions.

use lockgate_protocol::policy::{Compatibility, FilesystemPolicy, LandlockPolicy, NetworkPolicy, Policy, Scope};
use lockgate_protocol::rights::AccessRight;
use lockgate_protocol::GuestPath;
use serde::Deserialize;

/// Landlock's limit: a domain has at most 16 layers (`LANDLOCK_MAX_NUM_LAYERS`); the 17th
/// `restrict_self` fails with E2BIG. 16 outer layers leave the enforcer no room for its own.
pub const MAX_LAYERS: usize = 16;

/// One layer: its rules, the rights it handles, its scopes.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// The layer's rules, written as `policy.filesystem_policy` is (`read_only`, `read_write`,
    /// `read_only_noexec`, `rules`, `ioctl_dev`, `include_workdir`). Default: no rule, so the
    /// layer denies everywhere every right it handles. `/lockgate` (where the enforcer's policy
    /// file lives) is readable in every layer besides; every path must exist when the run starts.
    #[serde(default)]
    pub filesystem_policy: FilesystemPolicy<GuestPath>,
    /// The layer's TCP rules, written as `policy.network` is (`bind_tcp`, `connect_tcp`: the
    /// ports allowed), from ABI 4. Present (even empty): the layer handles TCP bind and connect
    /// (unless `handled` says otherwise) and allows only these ports. Default: the layer does
    /// not handle TCP.
    #[serde(default)]
    pub network: Option<NetworkPolicy>,
    /// The rights the layer handles, named as in `policy.landlock.handled` (filesystem rights,
    /// and `bind_tcp`/`connect_tcp` for a layer with a `network` section). Default: every
    /// filesystem right of the kernel's ABI, and TCP bind and connect when there is a
    /// `network` section. A layer of TCP rules alone says `handled: [bind_tcp, connect_tcp]`
    /// (otherwise it denies every file access but /lockgate).
    #[serde(default)]
    pub handled: Option<Vec<AccessRight>>,
    /// The IPC scopes the layer sets (`abstract_unix_socket`, `signal`), from ABI 6. Default:
    /// none.
    #[serde(default)]
    pub scoped: Vec<Scope>,
}

impl Layer {
    /// The layer as the reference enforcer's `--layer` mode reads it: a policy document in
    /// lockgate's format with only its filesystem rules and Landlock settings.
    pub fn document(&self) -> String {
        let policy: Policy<GuestPath, String> = Policy {
            filesystem_policy: self.filesystem_policy.clone(),
            network: self.network.clone(),
            landlock: LandlockPolicy {
                compatibility: Compatibility::HardRequirement,
                scoped: self.scoped.clone(),
                handled: self.handled.clone(),
            },
            ..Policy::default()
        };
        serde_yaml::to_string(&policy).unwrap_or_default()
    }

    /// Every rule path of the layer.
    pub fn paths(&self) -> impl Iterator<Item = &GuestPath> {
        let fs = &self.filesystem_policy;
        fs.read_only
            .iter()
            .chain(&fs.read_write)
            .chain(&fs.read_only_noexec)
            .chain(&fs.ioctl_dev)
            .chain(fs.rules.iter().map(|r| &r.path))
    }
}

/// The cross-field checks of `setup.layers`: `(field, message)` as [`super::scenario`] reports
/// them. `fresh`: the top-level directories the setup mounts a fresh tmpfs on for each run;
/// `made`: the paths it makes there. A layer path under a fresh directory that nothing makes
/// cannot exist when the run starts, so the layer could not be applied.
pub fn validate(layers: &[Layer], by_layer: bool, fresh: &[String], made: &[&GuestPath]) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        for p in layer.paths() {
            let top = p.top();
            if p.as_str() != top && fresh.iter().any(|f| f == top) && !made.contains(&p) {
                errs.push((
                    format!("setup.layers[{i}]"),
                    format!(
                        "`{}` is under {top}, which each run gets fresh, and no setup path makes it: every layer path must exist when the run starts (add it to setup.paths)",
                        p.as_str()
                    ),
                ));
            }
        }
    }
    if layers.len() > MAX_LAYERS {
        errs.push((
            "setup.layers".into(),
            format!(
                "{} layers: Landlock stacks at most {MAX_LAYERS} in a domain (the next restrict_self fails with E2BIG); give at most {MAX_LAYERS}",
                layers.len()
            ),
        ));
    }
    for (i, layer) in layers.iter().enumerate() {
        // Landlock refuses a ruleset that handles nothing (landlock_create_ruleset: ENOMSG,
        // fs_test's empty_or_same_ruleset): such a layer cannot be made on any kernel.
        if layer.handled.as_ref().is_some_and(Vec::is_empty) && layer.scoped.is_empty() {
            errs.push((
                format!("setup.layers[{i}].handled"),
                "an empty handled set and no scope: Landlock refuses a ruleset that handles nothing (landlock_create_ruleset answers ENOMSG), so this layer could not be made on any kernel; name a right it handles, or remove the layer".into(),
            ));
        }
        let tcp = layer.handled.iter().flatten().find(|r| r.0.class() == lockgate_protocol::rights::Class::Net);
        if let (Some(tcp), None) = (tcp, &layer.network) {
            errs.push((
                format!("setup.layers[{i}].handled"),
                format!("`{}` is a TCP right, and the layer has no `network` section: add `network: {{bind_tcp: [ports], connect_tcp: [ports]}}` (empty lists allow no port)", tcp.0.name()),
            ));
        }
    }
    if by_layer && layers.is_empty() {
        errs.push((
            "expect".into(),
            "`by: layer` names the outer layers the enforcer starts inside, and this scenario has none: add `setup.layers`, or say `by: sandbox` or `by: dac`".into(),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_is_a_policy_document_the_enforcer_reads() {
        let layer: Layer = serde_yaml::from_str(
            "filesystem_policy: {read_only: [/usr], read_write: [/work]}\nhandled: [write_file]\n",
        )
        .unwrap();
        let doc = layer.document();
        assert!(doc.contains("read_write:\n  - /work"), "{doc}");
        assert!(doc.contains("compatibility: hard_requirement"), "{doc}");
        assert!(doc.contains("handled:\n  - write_file"), "{doc}");
        assert_eq!(layer.paths().map(|p| p.as_str()).collect::<Vec<_>>(), ["/usr", "/work"]);
        let e = serde_yaml::from_str::<Layer>("read_only: [/usr]\n").unwrap_err().to_string();
        assert!(e.contains("read_only"), "{e}");
    }

    #[test]
    fn too_many_layers_a_tcp_right_and_a_lone_by_layer_are_errors() {
        let many = vec![Layer::default(); MAX_LAYERS + 1];
        assert!(validate(&many, false, &[], &[])[0].1.contains("E2BIG"));
        assert!(validate(&many[..MAX_LAYERS], false, &[], &[]).is_empty());
        let tcp: Layer = serde_yaml::from_str("handled: [bind_tcp]\n").unwrap();
        assert_eq!(validate(&[tcp], false, &[], &[])[0].0, "setup.layers[0].handled");
        let empty: Layer = serde_yaml::from_str("handled: []\n").unwrap();
        assert!(validate(&[empty], false, &[], &[])[0].1.contains("ENOMSG"));
        let scoped: Layer = serde_yaml::from_str("handled: []\nscoped: [signal]\n").unwrap();
        assert!(validate(&[scoped], false, &[], &[]).is_empty());
        let tcp: Layer = serde_yaml::from_str("handled: [bind_tcp]\nnetwork: {bind_tcp: [80]}\n").unwrap();
        assert!(validate(std::slice::from_ref(&tcp), false, &[], &[]).is_empty());
        assert!(tcp.document().contains("network:\n  bind_tcp:\n  - 80"), "{}", tcp.document());
        assert!(validate(&[], true, &[], &[])[0].1.contains("setup.layers"));
        let layer: Layer =
            serde_yaml::from_str("filesystem_policy: {read_only: [/usr, /sandbox, /sandbox/a, /sandbox/b]}\n").unwrap();
        let a = GuestPath::try_from("/sandbox/a".to_string()).unwrap();
        let errs = validate(&[layer], false, &["/sandbox".to_string(), "/tmp".to_string()], &[&a]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].1.starts_with("`/sandbox/b` is under /sandbox"), "{errs:?}");
    }
}
