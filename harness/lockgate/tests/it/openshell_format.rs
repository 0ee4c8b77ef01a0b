//! The policy file an OpenShell-format adapter receives is OpenShell's format, exactly: it is
//! parsed here by a strict schema of that format, written from OpenShell's documented policy
//! (`version`, `filesystem_policy`, `landlock`, `process`, `network_policies`; unknown fields
//! rejected at every level, as OpenShell's own parser does), so lockgate's writer cannot drift
//! from it.

use crate::common;

use lockgate::internals::enforcer::{self, RunAs};
use lockgate::internals::model::scenario::Scenario;
use serde::Deserialize;
use std::collections::BTreeMap;

/// OpenShell's sandbox policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default)]
    filesystem_policy: Option<Filesystem>,
    #[serde(default)]
    landlock: Option<Landlock>,
    #[serde(default)]
    process: Option<Process>,
    #[serde(default)]
    network_policies: BTreeMap<String, NetworkPolicy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filesystem {
    #[serde(default)]
    include_workdir: bool,
    #[serde(default)]
    read_only: Vec<String>,
    #[serde(default)]
    read_write: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Landlock {
    #[serde(default)]
    compatibility: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Process {
    #[serde(default)]
    run_as_user: String,
    #[serde(default)]
    run_as_group: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkPolicy {
    #[serde(default)]
    name: String,
    #[serde(default)]
    endpoints: Vec<Endpoint>,
    #[serde(default)]
    binaries: Vec<Binary>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoint {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    tls: String,
    #[serde(default)]
    enforcement: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    allowed_ips: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Binary {
    path: String,
}

/// The policy file `adapter` writes for the shipped scenario `name`.
fn written(adapter: &str, name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/true", dir.path().join("tool")).unwrap();
    let file = dir.path().join("a.yaml");
    std::fs::write(&file, format!("name: t\nbinary: tool\n{adapter}claim: unsupported\n")).unwrap();
    let enforcer = enforcer::load(&file).unwrap();
    let scenario: Scenario = serde_yaml::from_str(&common::shipped(name)).unwrap();
    let run_as = RunAs { user: "sandbox".into(), group: "sandbox".into(), uid: 998, gid: 998 };
    let call = enforcer.call(&scenario, &run_as, "/");
    assert_eq!(call.files.len(), 1, "a policy_file adapter writes one file");
    call.files[0].1.clone()
}

#[test]
fn the_openshell_policy_lockgate_writes_is_openshells_format() {
    let text = written(
        "invoke: {style: policy_file, command: 'tool --policy {policy_file} -- {cmd}'}\n",
        "openshell-803-deployed",
    );
    let p: PolicyFile = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("not OpenShell's format: {e}\n{text}"));
    assert_eq!(p.version, 1);
    let fs = p.filesystem_policy.expect("filesystem_policy");
    assert!(!fs.include_workdir);
    assert_eq!(fs.read_only[..3], ["/usr", "/lib", "/proc"]);
    assert!(fs.read_only.contains(&"/app".to_string()), "a missing path is handed over as written");
    assert_eq!(fs.read_write, ["/tmp", "/dev/null", "/sandbox/.openclaw-data", "/sandbox/.nemoclaw"]);
    assert_eq!(p.landlock.expect("landlock").compatibility, "best_effort");
    let process = p.process.expect("process");
    assert_eq!((process.run_as_user.as_str(), process.run_as_group.as_str()), ("sandbox", "sandbox"));
    let net = &p.network_policies["inference"];
    assert_eq!(net.name, "inference");
    let e = &net.endpoints[0];
    assert_eq!((e.host.as_str(), e.port, e.protocol.as_str()), ("inference.example.test", 443, "rest"));
    assert_eq!((e.enforcement.as_str(), e.access.as_str()), ("enforce", "full"));
    assert!(e.ports.is_empty() && e.tls.is_empty() && e.allowed_ips.is_empty());
    assert_eq!(net.binaries[0].path, "/usr/bin/node");
}

/// lockgate's extensions have no field in OpenShell's format: they are left out of the file
/// (and the adapter reports what they govern as not asked for), never written as fields
/// OpenShell's parser would reject.
#[test]
fn extensions_are_left_out_of_an_openshell_policy() {
    let adapter = "invoke: {style: policy_file, command: 'tool --policy {policy_file} -- {cmd}'}\n";
    for name in ["tcp-bind-connect", "right-scope-signal", "right-ioctl-dev", "right-execute"] {
        let text = written(adapter, name);
        let p: Result<PolicyFile, _> = serde_yaml::from_str(&text);
        assert!(p.is_ok(), "{name}: {:?}\n{text}", p.err());
    }
    // The reference enforcer's format keeps them, on top of OpenShell's fields.
    let text = written(
        "invoke: {style: policy_file, format: lockgate, command: 'tool --policy {policy_file} -- {cmd}'}\n",
        "tcp-bind-connect",
    );
    assert!(text.starts_with("version: 1\n") && text.contains("\nnetwork:\n"), "{text}");
    assert!(serde_yaml::from_str::<PolicyFile>(&text).unwrap_err().to_string().contains("unknown field `network`"));
}
