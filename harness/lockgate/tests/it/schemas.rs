//! The JSON Schemas in `schemas/` (generated from the file kinds' types: `cargo xtask schemas`)
//! accept every file lockgate ships — scenarios, kernel manifests, environments, adapters, the
//! example project's files and what `lockgate init` writes — and the validator reports a
//! deliberately wrong field with its place.

use lockgate::internals::supply::guest::workspace_root;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn validator(schema_file: &Path) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_file).unwrap_or_else(|e| panic!("{}: {e}", schema_file.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", schema_file.display()))
}

/// A YAML file as the JSON an editor's YAML language server validates.
fn instance(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::to_value(yaml).unwrap()
}

/// Every error the validator gives `value`, each with its place (a JSON pointer).
fn errors(v: &jsonschema::Validator, value: &Value) -> Vec<String> {
    v.iter_errors(value).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn yaml_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_file_validates_against_its_schema() {
    let root = workspace_root();
    let schemas = root.join("schemas");
    let kernels: Vec<PathBuf> =
        yaml_in(&root.join("kernels")).into_iter().filter(|p| !p.ends_with("lock.yaml")).collect();
    let example = root.join("examples/sandbox");
    let mut adapters = yaml_in(&root.join("enforcers"));
    adapters.push(root.join("harness/lockgate/src/enforcer/reference.yaml"));
    adapters.extend(yaml_in(&example.join("enforcers")));
    let mut scenarios = yaml_in(&root.join("scenarios"));
    scenarios.extend(yaml_in(&example.join("scenarios")));
    let groups = [
        ("scenario.schema.json", scenarios),
        ("kernel.schema.json", kernels),
        ("environment.schema.json", yaml_in(&root.join("images/environments"))),
        ("adapter.schema.json", adapters),
        ("lockgate.schema.json", vec![example.join("lockgate.yaml")]),
    ];
    let mut failures = Vec::new();
    for (schema, files) in &groups {
        assert!(!files.is_empty(), "no file for {schema}");
        let v = validator(&schemas.join(schema));
        for f in files {
            for e in errors(&v, &instance(f)) {
                failures.push(format!("{} against {schema}: {e}", f.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let counted: usize = groups.iter().map(|(_, f)| f.len()).sum();
    assert!(counted > 60, "only {counted} files validated");
}

/// `lockgate init` writes the schemas beside its files, and each file's first line names the
/// one that validates it (relative to the file, as the YAML language server resolves it).
#[test]
fn init_files_name_schemas_that_accept_them() {
    let dir = tempfile::tempdir().unwrap();
    let argv = ["lockgate", "init", dir.path().to_str().unwrap()];
    assert_eq!(lockgate::cli::dispatch(argv.map(Into::into), None, lockgate::cli::Invocation::Binary), 0);
    for file in ["lockgate.yaml", "scenarios/read-only-tree.yaml", "enforcers/my-enforcer.yaml"] {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        let schema =
            first.strip_prefix("# yaml-language-server: $schema=").unwrap_or_else(|| panic!("{file}: {first}"));
        let schema_file = path.parent().unwrap().join(schema);
        let committed = workspace_root().join("schemas").join(schema_file.file_name().unwrap());
        assert_eq!(std::fs::read_to_string(&schema_file).unwrap(), std::fs::read_to_string(committed).unwrap());
        let errs = errors(&validator(&schema_file), &instance(&path));
        assert!(errs.is_empty(), "{file}: {errs:?}");
    }
}

/// A wrong field is the validator's error, at its place: an unknown key in an expectation, a
/// uid that is not a number, a kernel ABI that is neither a number nor `none`.
#[test]
fn a_wrong_field_is_reported_with_its_place() {
    let schemas = workspace_root().join("schemas");
    let scenario = validator(&schemas.join("scenario.schema.json"));
    let bad: serde_yaml::Value = serde_yaml::from_str(
        "name: t\nsetup:\n  users: [{name: sandbox, uid: nine}]\npolicy: {filesystem_policy: {read_only: [/usr]}}\nexpect:\n  - {probe: read /usr, allowed: true}\n  - {run: touch /tmp/x, allowed: true, colour: red}\n",
    )
    .unwrap();
    let errs = errors(&scenario, &serde_json::to_value(bad).unwrap());
    assert!(errs.iter().any(|e| e.starts_with("/expect/1: ") && e.contains("colour")), "{errs:#?}");
    assert!(errs.iter().any(|e| e.starts_with("/setup/users/0/uid: ") && e.contains("nine")), "{errs:#?}");
    assert_eq!(errs.len(), 2, "{errs:#?}");

    let kernel = validator(&schemas.join("kernel.schema.json"));
    let mut k = instance(&workspace_root().join("kernels/debian-6.12.yaml"));
    k["abi"] = "six".into();
    let errs = errors(&kernel, &k);
    assert!(errs.iter().any(|e| e.starts_with("/abi: ")), "{errs:#?}");
}

/// Where a field's form is checked by a deserialiser of lockgate's own (a name, a mode, an ABI,
/// a policy that is a mapping or a document, a time limit), the schema accepts what it accepts
/// and refuses what it refuses.
#[test]
fn hand_written_schemas_accept_what_lockgate_loads() {
    use lockgate::internals::model::{kernel::KernelManifest, parse_yaml, scenario::Scenario};
    let schemas = workspace_root().join("schemas");
    let scenario = validator(&schemas.join("scenario.schema.json"));
    let kernel = validator(&schemas.join("kernel.schema.json"));
    let file = Path::new("t.yaml");
    let sc = |name: &str, mode: &str, policy: &str, limits: &str| {
        format!("name: {name}\nsetup:\n  paths: [{{path: /srv, kind: dir, mode: \"{mode}\"}}]\npolicy: {policy}\nlimits: {limits}\nexpect: [{{enforcement: full}}]\n")
    };
    let good_policy = "{filesystem_policy: {read_only: [/usr]}, seccomp: {deny_syscalls: [bpf, {syscall: unshare, arg: 0, flags: [CLONE_NEWUSER]}]}}";
    let cases = [
        sc("ok-name_1.2", "0755", good_policy, "{step: 5}"),
        sc("ok", "755", "|\n  any: native document\n", "{}"),
        sc(".hidden", "0755", good_policy, "{}"),
        sc("-dash", "0755", good_policy, "{}"),
        sc("ok", "75", good_policy, "{}"),
        sc("ok", "0855", good_policy, "{}"),
        sc("ok", "0755", "[/usr]", "{}"),
        sc("ok", "0755", good_policy, "{step: 0}"),
        sc("ok", "0755", good_policy, "{run: 3601}"),
        sc("ok", "0755", "{version: 2}", "{}"),
        sc(
            "ok",
            "0755",
            "{seccomp: {deny_socket_domains: [AF_PACKET, {domain: AF_NETLINK, except_protocols: [NETLINK_ROUTE]}]}}",
            "{}",
        ),
    ];
    for text in &cases {
        let loads = parse_yaml::<Scenario>(file, text).is_ok();
        let value = serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(text).unwrap()).unwrap();
        assert_eq!(
            scenario.is_valid(&value),
            loads,
            "schema and loader disagree on:\n{text}{:?}",
            errors(&scenario, &value)
        );
    }
    let base = std::fs::read_to_string(workspace_root().join("kernels/debian-6.12.yaml")).unwrap();
    for abi in ["6", "none", "0", "65", "six", "\"6\""] {
        let text = base
            .lines()
            .map(|l| if l.starts_with("abi:") { format!("abi: {abi}") } else { l.to_string() })
            .collect::<Vec<_>>()
            .join("\n");
        let loads = parse_yaml::<KernelManifest>(file, &text).is_ok();
        let value = serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap()).unwrap();
        assert_eq!(kernel.is_valid(&value), loads, "schema and loader disagree on abi: {abi}");
    }
}
