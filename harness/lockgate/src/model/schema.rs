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

/// Every file kind's schema, in the order `schemas/` lists them.
pub fn all() -> Vec<SchemaFile> {
    vec![
        schema::<Scenario>("scenario.schema.json", "scenario", "lockgate scenario (scenarios/NAME.yaml)"),
        schema::<KernelManifest>(
            "kernel.schema.json",
            "kernel manifest",
            "lockgate kernel manifest (kernels/NAME.yaml)",
        ),
        schema::<ContainerManifest>(
            "environment.schema.json",
            "environment manifest",
            "lockgate container environment (images/environments/NAME.yaml)",
        ),
        schema::<Adapter>("adapter.schema.json", "adapter", "lockgate enforcer adapter (enforcers/NAME.yaml)"),
        schema::<ProjectConfig>(
            "lockgate.schema.json",
            "lockgate.yaml",
            "lockgate project configuration (lockgate.yaml)",
        ),
    ]
}
