//! The policy file. Its schema is the one the host writes ([`lockgate_protocol::policy`]):
//! OpenShell's format (so an OpenShell policy as deployed is read natively, `network_policies`
//! included) plus lockgate's extensions, every struct denying unknown fields. Here it is read from YAML, and
//! every error names the file and line.

use anyhow::{Context, Result};
use lockgate_protocol::policy as schema;
use std::path::Path;

pub use lockgate_protocol::path::AbsPath;
pub use schema::{Compatibility, NetworkPolicy};

/// The schema the host writes, with the enforcer's leaves: any absolute rule path, any name.
pub type Policy = schema::Policy<AbsPath, String>;
pub type FilesystemPolicy = schema::FilesystemPolicy<AbsPath>;

pub fn load(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read policy file {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses a policy; errors read `FILE:LINE:COLUMN: what is wrong`.
pub fn parse(text: &str, origin: &str) -> Result<Policy> {
    serde_yaml::from_str(text).map_err(|err| {
        let message = err.to_string();
        match err.location() {
            Some(at) => {
                // serde_yaml appends " at line L column C"; the prefix says it already.
                let suffix = format!(" at line {} column {}", at.line(), at.column());
                let message = message.strip_suffix(&suffix).unwrap_or(&message);
                anyhow::anyhow!("{origin}:{}:{}: {message}", at.line(), at.column())
            }
            None => anyhow::anyhow!("{origin}: {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema::ProcessPolicy;

    #[test]
    fn the_documented_example_parses() {
        let policy = parse(
            "filesystem_policy: {read_only: [/usr, /bin], read_write: [/tmp], include_workdir: false}\n\
             landlock: {compatibility: hard_requirement}\n\
             process: {run_as_user: sandbox, run_as_group: sandbox}\n\
             network: {bind_tcp: [8080], connect_tcp: [80]}\n",
            "p.yaml",
        )
        .unwrap();
        assert_eq!(policy.filesystem_policy.read_only, vec![AbsPath("/usr".into()), AbsPath("/bin".into())]);
        assert_eq!(policy.filesystem_policy.read_write, vec![AbsPath("/tmp".into())]);
        assert_eq!(policy.landlock.compatibility, Compatibility::HardRequirement);
        assert_eq!(policy.process.run_as_user.as_deref(), Some("sandbox"));
        assert_eq!(policy.process.run_as_group.as_deref(), Some("sandbox"));
        let net = policy.network.unwrap();
        assert_eq!((net.bind_tcp, net.connect_tcp), (vec![8080], vec![80]));
    }

    /// A policy in OpenShell's own format, as a deployment writes it, is read as it is.
    #[test]
    fn an_openshell_policy_is_read_natively() {
        let text = "version: 1\nfilesystem_policy:\n  include_workdir: false\n  read_only: [/usr, /dev/urandom, /app]\n  read_write: [/tmp]\nlandlock: {compatibility: best_effort}\nprocess: {run_as_user: sandbox, run_as_group: sandbox}\nnetwork_policies:\n  api:\n    name: api\n    endpoints: [{host: api.example.test, port: 443, protocol: rest, enforcement: enforce, access: read-only}]\n    binaries: [{path: /usr/bin/curl}]\n";
        let policy = parse(text, "p").unwrap();
        assert!(policy.proxy_mode());
        assert_eq!(policy.filesystem_policy.read_only.len(), 3);
        assert!(!parse("version: 1\n", "p").unwrap().proxy_mode());
    }

    #[test]
    fn defaults_are_best_effort_root_and_no_network() {
        let policy = parse("filesystem_policy: {read_only: [/]}\n", "p").unwrap();
        assert_eq!(policy.landlock.compatibility, Compatibility::BestEffort);
        assert_eq!(policy.process, ProcessPolicy::default());
        assert!(policy.network.is_none());
        assert!(!policy.filesystem_policy.include_workdir);
        // An empty network section still means "handle TCP, allow no port".
        let policy = parse("network: {}\n", "p").unwrap();
        assert_eq!(policy.network, Some(NetworkPolicy::default()));
    }

    #[test]
    fn unknown_field_names_file_and_line() {
        let err = parse("filesystem_policy:\n  read_only: [/usr]\n  read_wirte: [/tmp]\n", "/x/policy.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/x/policy.yaml:3:"), "{err}");
        assert!(err.contains("unknown field `read_wirte`"), "{err}");
        assert!(!err.contains(" at line "), "location said twice: {err}");

        let err = parse("landlock: {compatibility: best_effort}\nsandbox: true\n", "p").unwrap_err().to_string();
        assert!(err.starts_with("p:2:"), "{err}");
        assert!(err.contains("unknown field `sandbox`"), "{err}");
    }

    #[test]
    fn bad_values_name_their_line() {
        let err = parse("landlock:\n  compatibility: strict\n", "p").unwrap_err().to_string();
        assert!(err.starts_with("p:2:") && err.contains("strict"), "{err}");
        let err = parse("network:\n  bind_tcp: [70000]\n", "p").unwrap_err().to_string();
        assert!(err.starts_with("p:2:"), "{err}");
        let err = parse("filesystem_policy:\n  read_only:\n    - usr\n", "p").unwrap_err().to_string();
        assert!(err.starts_with("p:3:") && err.contains("must be absolute"), "{err}");
    }
}
