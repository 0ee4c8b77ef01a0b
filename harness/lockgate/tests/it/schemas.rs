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

/// The schema `file`'s first line names (`# yaml-language-server: $schema=PATH`, PATH relative to
/// the file), as the YAML language server finds it.
fn named_schema(file: &Path) -> PathBuf {
    let text = std::fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap_or("");
    let schema = first
        .strip_prefix(lockgate::internals::model::schema::MODELINE)
        .unwrap_or_else(|| panic!("{}: the first line names no schema: {first}", file.display()));
    file.parent().unwrap().join(schema)
}

/// Every file lockgate ships of a kind a schema covers (scenarios, kernel manifests,
/// environments, adapters, the example project's files: the files `cargo xtask lint` checks the
/// schema line of) names its schema, and that schema accepts it.
#[test]
fn every_shipped_file_validates_against_its_schema() {
    let root = workspace_root();
    let schemas = root.join("schemas");
    let files = lockgate::internals::model::schema::covered_files(&root).unwrap();
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for (rel, schema) in &files {
        *kinds.entry(schema).or_default() += 1;
        let f = root.join(rel);
        let named = named_schema(&f);
        let named = named.canonicalize().unwrap_or_else(|e| panic!("{}: {}: {e}", rel.display(), named.display()));
        assert_eq!(named, schemas.join(schema).canonicalize().unwrap(), "{}", rel.display());
        for e in errors(&validator(&named), &instance(&f)) {
            failures.push(format!("{} against {schema}: {e}", rel.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each kind has its files: the reference adapter and the example project's among them.
    for s in lockgate::internals::model::schema::all() {
        assert!(kinds.get(s.file).is_some_and(|n| *n > 0), "no shipped file for {}: {kinds:?}", s.file);
    }
    for f in [
        "harness/lockgate/src/enforcer/reference.yaml",
        "examples/sandbox/lockgate.yaml",
        "examples/sandbox/enforcers/sandbox-enforcer.yaml",
    ] {
        assert!(files.iter().any(|(rel, _)| rel == Path::new(f)), "{f} is not among the files checked");
    }
    assert!(files.len() > 60, "only {} files validated", files.len());
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
        let schema_file = named_schema(&path);
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
