//! JSON Schemas of the files a user writes, generated from their serde types (the same types
//! that load them), for editors: a scenario, a kernel manifest, a container environment, an
//! adapter and `lockgate.yaml`. lockgate's repository keeps them in `schemas/` (`cargo xtask
//! lint` fails when they are stale); `lockgate init` writes them into a new project, and its
//! files name them in a `# yaml-language-server: $schema=…` line.
//!
//! A schema says what each field is, its form and its description; what relates fields to each
//! other (one of `run:`/`probe:`, a user named in `setup.users`, …) and what a name must be
//! (a syscall, an errno, a capability) is checked when lockgate loads the file, which names the
//! file, line and fix.

use super::adapter::Adapter;
use super::config::ProjectConfig;
use super::environment::ContainerManifest;
use super::kernel::KernelManifest;
use super::scenario::Scenario;

/// Where each schema goes (in `schemas/`), the file kind it is for, and its text.
pub struct SchemaFile {
    pub file: &'static str,
    pub kind: &'static str,
    pub text: String,
}

fn schema<T: schemars::JsonSchema>(file: &'static str, kind: &'static str, title: &str) -> SchemaFile {
    let mut s = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    s.insert("title".into(), title.into());
    let text = serde_json::to_string_pretty(&s).unwrap_or_default() + "\n";
    SchemaFile { file, kind, text }
}

/// An environment manifest as written: a container's (an `engine:`) or an AppArmor policy's (an
/// `apparmor:` key), as `model::environment` tells them apart. Only its schema is used.
#[derive(schemars::JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum EnvironmentFile {
    Container(ContainerManifest),
    AppArmor(super::apparmor::AppArmorManifest),
}

/// Every file kind's schema, in the order `schemas/` lists them.
pub fn all() -> Vec<SchemaFile> {
    vec![
        schema::<Scenario>("scenario.schema.json", "scenario", "lockgate scenario (scenarios/NAME.yaml)"),
        schema::<KernelManifest>(
            "kernel.schema.json",
            "kernel manifest",
            "lockgate kernel manifest (kernels/NAME.yaml)",
        ),
        schema::<EnvironmentFile>(
            "environment.schema.json",
            "environment manifest",
            "lockgate environment: a container, or an AppArmor policy (images/environments/NAME.yaml)",
        ),
        schema::<Adapter>("adapter.schema.json", "adapter", "lockgate enforcer adapter (enforcers/NAME.yaml)"),
        schema::<ProjectConfig>(
            "lockgate.schema.json",
            "lockgate.yaml",
            "lockgate project configuration (lockgate.yaml)",
        ),
    ]
}

/// The first line of a file that names its schema for editors (the YAML language server reads
/// it), followed by the schema's path relative to the file.
pub const MODELINE: &str = "# yaml-language-server: $schema=";

/// The schema (its file name in `schemas/`) of the file at `rel`, a path relative to a
/// project's or lockgate's repository root, by where lockgate reads each kind: `lockgate.yaml`,
/// `scenarios/*.yaml`, `enforcers/*.yaml` (and the built-in reference adapter),
/// `kernels/*.yaml` but the lock, `images/environments/*.yaml`; `None` for any other file.
pub fn schema_of(rel: &std::path::Path) -> Option<&'static str> {
    if rel.extension().is_none_or(|x| x != "yaml") {
        return None;
    }
    let name = rel.file_name()?.to_str()?;
    let parent = rel.parent().and_then(|p| p.file_name()).and_then(|p| p.to_str()).unwrap_or("");
    let grandparent = rel.parent().and_then(|p| p.parent()).and_then(|p| p.file_name()).and_then(|p| p.to_str());
    match (grandparent, parent, name) {
        (_, _, "lockgate.yaml") => Some("lockgate.schema.json"),
        (_, "scenarios", _) => Some("scenario.schema.json"),
        (_, "enforcers", _) => Some("adapter.schema.json"),
        (Some("src"), "enforcer", "reference.yaml") => Some("adapter.schema.json"),
        (_, "kernels", "lock.yaml") => None,
        (_, "kernels", _) => Some("kernel.schema.json"),
        (Some("images"), "environments", _) => Some("environment.schema.json"),
        _ => None,
    }
}

/// The line naming `schema` for a file at `rel` (relative to the root that holds `schemas/`):
/// the schema's path relative to the file, as the YAML language server resolves it.
pub fn modeline_for(rel: &std::path::Path, schema: &str) -> String {
    let depth = rel.parent().map_or(0, |p| p.components().count());
    format!("{MODELINE}{}schemas/{schema}", "../".repeat(depth))
}

/// What is wrong with the schema line of `text`, the file at `rel` whose schema is `schema`:
/// missing, or naming another path; each says the line to write.
pub fn modeline_problem(rel: &std::path::Path, schema: &str, text: &str) -> Option<String> {
    let want = modeline_for(rel, schema);
    let first = text.lines().next().unwrap_or("");
    match first.strip_prefix(MODELINE) {
        _ if first == want => None,
        Some(other) => Some(format!(
            "{}:1: names the schema {other}, but it is checked against schemas/{schema}: make the line `{want}`",
            rel.display()
        )),
        None => Some(format!(
            "{}:1: no schema line for editors: add `{want}` as its first line (it is checked against schemas/{schema})",
            rel.display()
        )),
    }
}

/// Every file under `root` that a schema covers (relative to `root`, sorted), with its schema's
/// file name; build output (`target/`) and hidden directories are passed over.
pub fn covered_files(root: &std::path::Path) -> std::io::Result<Vec<(std::path::PathBuf, &'static str)>> {
    let mut found = Vec::new();
    let mut dirs = vec![std::path::PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir))? {
            let entry = entry?;
            let name = entry.file_name();
            let rel = dir.join(&name);
            if entry.file_type()?.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    dirs.push(rel);
                }
            } else if let Some(schema) = schema_of(&rel) {
                found.push((rel, schema));
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn each_kind_is_known_by_where_it_lives() {
        let of = |p: &str| schema_of(Path::new(p));
        assert_eq!(of("scenarios/dac-only.yaml"), Some("scenario.schema.json"));
        assert_eq!(of("examples/sandbox/scenarios/a.yaml"), Some("scenario.schema.json"));
        assert_eq!(of("enforcers/nono.yaml"), Some("adapter.schema.json"));
        assert_eq!(of("harness/lockgate/src/enforcer/reference.yaml"), Some("adapter.schema.json"));
        assert_eq!(of("kernels/debian-6.12.yaml"), Some("kernel.schema.json"));
        assert_eq!(of("images/environments/podman.yaml"), Some("environment.schema.json"));
        assert_eq!(of("examples/sandbox/lockgate.yaml"), Some("lockgate.schema.json"));
        for none in [
            "kernels/lock.yaml",
            "kernels/tiny.config",
            "images/lock.yaml",
            "images/packages.yaml",
            "enforcers/compat/notes.yaml",
            "scenarios/snapshots/a@k@bare.snap",
            ".github/workflows/pr.yml",
        ] {
            assert_eq!(of(none), None, "{none}");
        }
    }

    #[test]
    fn the_line_is_relative_to_the_file_and_a_wrong_one_says_the_fix() {
        let rel = Path::new("examples/sandbox/scenarios/a.yaml");
        let want = "# yaml-language-server: $schema=../../../schemas/scenario.schema.json";
        assert_eq!(modeline_for(rel, "scenario.schema.json"), want);
        assert_eq!(
            modeline_for(Path::new("lockgate.yaml"), "lockgate.schema.json"),
            format!("{MODELINE}schemas/lockgate.schema.json")
        );
        assert_eq!(modeline_problem(rel, "scenario.schema.json", &format!("{want}\nname: a\n")), None);
        let missing = modeline_problem(rel, "scenario.schema.json", "name: a\n").unwrap();
        assert!(
            missing.starts_with("examples/sandbox/scenarios/a.yaml:1: no schema line") && missing.contains(want),
            "{missing}"
        );
        let wrong = format!("{MODELINE}../schemas/adapter.schema.json\nname: a\n");
        let wrong = modeline_problem(rel, "scenario.schema.json", &wrong).unwrap();
        assert!(wrong.contains("names the schema ../schemas/adapter.schema.json") && wrong.contains(want), "{wrong}");
    }
}
