//! `lockgate init [DIR]`: a minimal project that `lockgate check` accepts and `lockgate run`
//! runs — `lockgate.yaml` (which enforcer: lockgate's reference until yours is wired in), one
//! scenario, an adapter skeleton for the project's own enforcer and `scenarios/Cargo.toml` (for
//! `cargo insta review`), each file commented with
//! what to change and naming its JSON Schema (written into `schemas/`) for editors. It never overwrites a file: a directory that already holds any of them is
//! refused, naming it.

use super::project::Project;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(super) struct InitArgs {
    /// Where to write the project (default: the project directory, i.e. `--project` or the
    /// current directory).
    dir: Option<PathBuf>,
}

const LOCKGATE_YAML: &str = "\
# yaml-language-server: $schema=schemas/lockgate.schema.json
# The enforcer `lockgate run` tests unless told otherwise (`--enforcer NAME` names another):
# `reference` is lockgate's own reference enforcer. Once enforcers/my-enforcer.yaml points at
# your enforcer, write `enforcer: my-enforcer`.
enforcer: reference
";

const SCENARIO: &str = "\
# yaml-language-server: $schema=../schemas/scenario.schema.json
# A scenario: a policy, and what must be denied or allowed under it. lockgate runs every step
# twice, as the same user, with and without the enforcer (the control run), so a denial is
# attributed: `by: sandbox` holds only when the control run was allowed.
name: read-only-tree
about: >
  /srv/data is read-only for the sandbox user: it reads the file, and cannot write it or
  create anything beside it (the control run can: it is that user's own tree).
setup:
  users: [{name: sandbox, uid: 998}]
  paths:
    - {path: /srv, kind: dir}
    - {path: /srv/data, kind: dir, owner: sandbox}
    - {path: /srv/data/notes, kind: file, owner: sandbox, content: \"hello\\n\"}
policy:                        # OpenShell's policy format
  filesystem_policy:
    read_only: [/srv/data, /usr, /bin, /lib, /etc]
    read_write: [/tmp]
  landlock: {compatibility: best_effort}
  process: {run_as_user: sandbox}
expect:
  - {probe: read /srv/data/notes, allowed: true}
  # `when:` guards what only holds where Landlock can act: a kernel without it (`abi == none`),
  # or a container whose seccomp profile hides it (`landlock == blocked`).
  - {probe: write /srv/data/notes, denied: EACCES, by: sandbox, when: \"abi >= 1 && landlock != blocked\"}
  - {probe: create /srv/data/new, denied: EACCES, by: sandbox, when: \"abi >= 1 && landlock != blocked\"}
  - {enforcement: full, when: \"abi >= 1 && landlock != blocked\"}
  - {enforcement: none, when: \"abi == none || landlock == blocked\"}
";

const ADAPTER: &str = "\
# yaml-language-server: $schema=../schemas/adapter.schema.json
# How lockgate starts your enforcer; `lockgate run --enforcer my-enforcer` tests it. Change the
# binary, the invocation and the claim rules to your enforcer's, then `lockgate check`.
name: my-enforcer
about: this project's enforcer
# A static binary on this machine (relative to this file), copied into each guest; or
# `{build: {package: NAME}}` to have lockgate build it from your cargo workspace.
binary: ../target/release/my-enforcer
invoke:
  # landlock_env: the policy's paths in LL_FS_RO / LL_FS_RW (Landlock's sample sandboxer's
  # convention); policy_file: the policy as a file, e.g.
  #   {style: policy_file, command: \"{binary} --policy {policy_file} -- {cmd}\"}
  style: landlock_env
# Who switches to the policy's run_as_user: `harness` (lockgate starts it as that user) or
# `enforcer` (it is started as root and drops privileges itself).
drop_privileges: harness
# How lockgate reads what your enforcer claims to enforce, from its stderr.
claim:
  - {regex: 'enforcement=(?P<claim>full|partial|none)'}
  - {regex: 'refused', claim: refused}
";

/// `scenarios/Cargo.toml`: cargo-insta looks for pending snapshots only inside a cargo package's
/// directory (`cargo metadata` names them), so `cargo insta review` needs a package around
/// `scenarios/snapshots/`. One in `scenarios/`, a workspace of its own, is seen by nothing else:
/// not by a cargo workspace around the project, nor by an adapter's `build:` (which looks from
/// `enforcers/` up).
const SNAPSHOTS_MANIFEST: &str = "\
# So that `cargo insta review` (run here, in scenarios/) finds the snapshots: cargo-insta reviews
# the snapshots inside a cargo package. Nothing is built from this package (its lib file does
# not exist), and it is a workspace of its own.
[package]
name = \"lockgate-snapshots\"
version = \"0.0.0\"
edition = \"2021\"
publish = false

[lib]
path = \"not-built.rs\"

[workspace]
";

pub(super) fn run(project: &Project, args: &InitArgs) -> Result<bool> {
    let dir = args.dir.clone().unwrap_or_else(|| project.root.clone());
    // The schemas the files' first lines name, so that an editor completes and checks them.
    let schemas = crate::model::schema::all();
    let mut files: Vec<(PathBuf, &str)> = vec![
        (dir.join("lockgate.yaml"), LOCKGATE_YAML),
        (dir.join("scenarios/read-only-tree.yaml"), SCENARIO),
        (dir.join("enforcers/my-enforcer.yaml"), ADAPTER),
        (dir.join("scenarios/Cargo.toml"), SNAPSHOTS_MANIFEST),
    ];
    files.extend(schemas.iter().map(|s| (dir.join("schemas").join(s.file), s.text.as_str())));
    if let Some((existing, _)) = files.iter().find(|(p, _)| p.exists()) {
        bail!("{} already exists: init writes a new project and never overwrites a file", existing.display());
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    std::fs::create_dir_all(dir.join("scenarios/snapshots"))?;
    let at = match args.dir.is_some() {
        true => format!(" --project {}", dir.display()),
        false => String::new(),
    };
    println!(
        "next: `{}` checks the files; `{}` boots the kernel matrix with lockgate's reference enforcer \
         (the first run records no snapshot: review the verdicts, then rerun with --accept)",
        crate::invocation::command(&format!("check{at}")),
        crate::invocation::run_command(&format!("--kernel debian-6.12 --env bare{at}"))
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The project `init` writes passes `check`: every file parses and validates, without
    /// booting, fetching or building anything (the adapter's binary does not exist yet).
    #[test]
    fn an_initialised_project_passes_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::new(dir.path().to_path_buf(), false);
        assert!(run(&p, &InitArgs { dir: None }).unwrap());
        assert!(super::super::check::run(&p).unwrap(), "init's project must pass check");
        let again = format!("{:#}", run(&p, &InitArgs { dir: None }).unwrap_err());
        assert!(again.contains("lockgate.yaml already exists"), "{again}");
    }
}
