//! Load: scenario files and kernel manifests → a validated model. Every error names the file,
//! the line and the field, and says how to fix it.

pub mod adapter;
pub mod apparmor;
pub mod claim;
pub mod cond;
pub mod config;
pub mod containerd_go;
pub mod environment;
pub mod errno;
pub mod file;
pub mod kernel;
pub mod layer;
pub mod locate;
pub mod matrix;
pub mod native;
pub mod packages;
pub mod probe_args;
pub mod runtime;
pub mod scenario;
pub mod schema;
pub mod setup_kinds;

use anyhow::{bail, Context, Result};
pub use environment::Environment;
pub use file::{parse_yaml, Loaded};
use kernel::KernelManifest;
use scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Model {
    pub scenarios: Vec<Loaded<Scenario>>,
    pub kernels: Vec<Loaded<KernelManifest>>,
    pub environments: Vec<Environment>,
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read directory {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub fn load_scenario(file: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read scenario {}", file.display()))?;
    let s: Scenario = parse_yaml(file, &text)?;
    let errs = s.validate();
    if !errs.is_empty() {
        let lines: Vec<String> = errs
            .iter()
            .map(|(field, msg)| format!("{}:{}: {field}: {msg}", file.display(), locate::line_of(&text, field)))
            .collect();
        bail!("{}", lines.join("\n"));
    }
    Ok(s)
}

pub fn load_kernel(file: &Path) -> Result<KernelManifest> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read kernel manifest {}", file.display()))?;
    let mut k: KernelManifest = parse_yaml(file, &text)?;
    k.source.resolve_paths(file.parent().unwrap_or(Path::new(".")));
    if k.opt_in && k.matrix != kernel::Matrix::Default {
        bail!(
            "{}:{}: opt_in: `opt_in: true` is the older spelling of `matrix: opt-in`; keep only `matrix: {}`",
            file.display(),
            locate::line_of(&text, "opt_in"),
            k.matrix
        );
    }
    if let kernel::KernelSource::Build(b) = &k.source {
        if let Some(f) = b.fragments.iter().find(|f| !f.path.is_file()) {
            bail!(
                "{}:{}: source.build.fragment: {} does not exist; keep the config fragment beside the manifest",
                file.display(),
                locate::line_of(&text, "source.build.fragment"),
                f.path.display()
            );
        }
    }
    Ok(k)
}

/// Load every scenario under `scenarios_dir` and every kernel and environment of `matrix`, and check the
/// whole: unique names, and `when:` conditions that name kernels and environments that exist.
pub fn load(scenarios_dir: &Path, matrix: &MatrixDirs) -> Result<Model> {
    Ok(load_selected(scenarios_dir, matrix, &[])?.0)
}

/// Where the matrix is read from: the kernel manifests (with their lock) and the environment
/// manifests. The command resolves them (a project's own, else lockgate's shipped ones, unpacked
/// by supply in its cache: `supply::shipped::matrix_of`); loading only reads them.
#[derive(Debug, Clone)]
pub struct MatrixDirs {
    pub kernels: PathBuf,
    pub environments: PathBuf,
}

impl MatrixDirs {
    /// `kernels` and the environments beside it (`../images/environments`), as in lockgate's
    /// own checkout or a test's tree.
    pub fn beside(kernels: &Path) -> MatrixDirs {
        let environments = kernels.parent().unwrap_or(Path::new(".")).join("images/environments");
        MatrixDirs { kernels: kernels.to_path_buf(), environments }
    }
}

/// The name a scenario file gives itself (its `name:` line), else its file stem: how an invalid
/// file is matched against `--scenario`.
fn scenario_name_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("name:").map(|n| n.trim().trim_matches(['"', '\'']).to_string()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default())
}

/// As [`load`], for a run that names its scenarios (`--scenario`, empty: all). Every file's
/// errors are reported at once. An invalid scenario file the selection does not name does not
/// stop the run: its errors come back as the second value, for a warning. Without a selection
/// every scenario file must be valid.
pub fn load_selected(scenarios_dir: &Path, matrix: &MatrixDirs, selected: &[String]) -> Result<(Model, Vec<String>)> {
    let mut errors = Vec::new();
    let mut unselected = Vec::new();
    let mut scenarios = Vec::new();
    for file in yaml_files(scenarios_dir)? {
        match load_scenario(&file) {
            Ok(value) => scenarios.push(Loaded { file, value }),
            Err(e) if !selected.is_empty() && !selected.contains(&scenario_name_of(&file)) => {
                unselected.push(format!("{e:#}"))
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let (kernels, environments) = load_kernels_and_environments(matrix, &mut errors)?;
    check_unique("scenario", scenarios.iter().map(|s| (s.value.name.as_str(), &s.file)), &mut errors);
    for s in &scenarios {
        let text = std::fs::read_to_string(&s.file).unwrap_or_default();
        for (i, e) in s.value.expect.iter().enumerate() {
            let Some(when) = &e.when else { continue };
            for (kind, name) in when.names() {
                // A name must be one of the matrix's (a typo is caught); a pattern names a family
                // of kernels or environments, which a project's smaller matrix may lack.
                let known = name.contains('*')
                    || match kind {
                        "kernel" => kernels.iter().any(|k| cond::name_matches(name, k.value.name.as_str())),
                        _ => environments.iter().any(|e| cond::name_matches(name, &e.name)),
                    };
                if !known {
                    let field = format!("expect[{i}].when");
                    errors.push(format!(
                        "{}:{}: {field}: no {kind} is named `{name}`; known: {}",
                        s.file.display(),
                        locate::line_of(&text, &field),
                        match kind {
                            "kernel" => kernels.iter().map(|k| k.value.name.to_string()).collect::<Vec<_>>().join(", "),
                            _ => environments.iter().map(|e| e.name.clone()).collect::<Vec<_>>().join(", "),
                        }
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        let scope = match selected.is_empty() {
            true => "every scenario file must be valid for a run of them all; `--scenario NAME` runs only the named ones, and only those must be valid",
            false => "only the selected scenarios, the kernel manifests and the environments must be valid",
        };
        bail!("{}\n({n} error{} in all: {scope})", errors.join("\n"), if n == 1 { "" } else { "s" });
    }
    Ok((Model { scenarios, kernels, environments }, unselected))
}

/// Everything a project's user writes, loaded: the scenarios, kernels and environments (the
/// [`Model`]), every adapter in `enforcers/` and `lockgate.yaml`. The one loader: each file kind
/// has its serde type in a module of its own here (`scenario`, `kernel`, `environment`,
/// `adapter`, `config`, `packages`, `runtime`), and loading reads and checks text only — it
/// fetches, builds and caches nothing (staging does). Every file is tried and every error kept,
/// so that `lockgate check` can report them all at once.
#[derive(Debug)]
pub struct Project {
    /// The scenarios, kernels and environments; `None` when any of them has an error.
    pub model: Option<Model>,
    /// `enforcers/*.yaml` that parsed, by file name, each with its text (for the lines of the
    /// checks made on the whole adapter).
    pub adapters: Vec<(Loaded<adapter::Adapter>, String)>,
    /// `lockgate.yaml`, when the project has one and it parsed.
    pub config: Option<Loaded<config::ProjectConfig>>,
    /// Every error, each naming its file, line and field.
    pub errors: Vec<String>,
}

/// The project at `root` (its kernels and environments from `matrix`).
pub fn load_project(root: &Path, matrix: &MatrixDirs) -> Project {
    let mut errors = Vec::new();
    let model = load(&root.join("scenarios"), matrix).map_err(|e| errors.push(format!("{e:#}"))).ok();
    let mut adapters = Vec::new();
    let dir = root.join("enforcers");
    for file in yaml_files(&dir).unwrap_or_default() {
        let read = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()));
        match read.and_then(|text| adapter::read(&file, &text).map(|a| (a, text))) {
            Ok((value, text)) => adapters.push((Loaded { file, value }, text)),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let file = root.join("lockgate.yaml");
    let config = match file.is_file() {
        false => None,
        true => config::read(&file).map(|value| Loaded { file, value }).map_err(|e| errors.push(format!("{e:#}"))).ok(),
    };
    Project { model, adapters, config, errors }
}

/// The matrix alone: every kernel manifest and every environment of `matrix`, for the
/// commands that take no scenarios (`kernels list|fetch|lock|build`): a scenario file, valid or
/// not, does not concern them.
pub fn load_matrix(matrix: &MatrixDirs) -> Result<Model> {
    let mut errors = Vec::new();
    let (kernels, environments) = load_kernels_and_environments(matrix, &mut errors)?;
    if !errors.is_empty() {
        let n = errors.len();
        bail!(
            "{}\n({n} error{} in the kernel manifests and environments)",
            errors.join("\n"),
            if n == 1 { "" } else { "s" }
        );
    }
    Ok(Model { scenarios: Vec::new(), kernels, environments })
}

/// Every kernel manifest and environment (bare first), each file's errors added to `errors`.
fn load_kernels_and_environments(
    matrix: &MatrixDirs,
    errors: &mut Vec<String>,
) -> Result<(Vec<Loaded<KernelManifest>>, Vec<Environment>)> {
    let mut kernels = Vec::new();
    for file in yaml_files(&matrix.kernels)? {
        if file.file_name().is_some_and(|n| n == "lock.yaml") {
            continue;
        }
        match load_kernel(&file) {
            Ok(value) => kernels.push(Loaded { file, value }),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let mut environments = vec![Environment::bare()];
    let manifests = environment::load_dir(&matrix.environments, errors);
    let apparmor = environment::load_apparmor_dir(&matrix.environments, errors);
    check_unique(
        "environment",
        manifests
            .iter()
            .map(|m| (m.value.name.as_str(), &m.file))
            .chain(apparmor.iter().map(|m| (m.value.name.as_str(), &m.file))),
        errors,
    );
    environments.extend(manifests.into_iter().map(Environment::container));
    environments.extend(apparmor.into_iter().map(Environment::apparmor));
    check_unique("kernel", kernels.iter().map(|k| (k.value.name.as_str(), &k.file)), errors);
    Ok((kernels, environments))
}

fn check_unique<'a>(kind: &str, names: impl Iterator<Item = (&'a str, &'a PathBuf)>, errors: &mut Vec<String>) {
    let mut seen: BTreeMap<&str, &PathBuf> = BTreeMap::new();
    for (name, file) in names {
        if let Some(first) = seen.insert(name, file) {
            errors.push(format!(
                "{}: name: {kind} name `{name}` is already used by {}; give each {kind} its own name",
                file.display(),
                first.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("s");
        let k = dir.path().join("k");
        std::fs::create_dir_all(&s).unwrap();
        std::fs::create_dir_all(&k).unwrap();
        std::fs::write(s.join("a.yaml"), "name: a\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect: [{enforcement: full, when: 'kernel == nope'}]\n").unwrap();
        std::fs::write(
            s.join("b.yaml"),
            "name: a\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        std::fs::write(
            s.join("c.yaml"),
            "name: c\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect: [{enforcement: full}]\nextra: 1\n",
        )
        .unwrap();
        let err = format!("{:#}", load(&s, &MatrixDirs::beside(&k)).unwrap_err());
        assert!(err.contains("a.yaml:3: expect[0].when: no kernel is named `nope`"), "{err}");
        assert!(err.contains("b.yaml: name: scenario name `a` is already used by"), "{err}");
        assert!(err.contains("c.yaml:4:1: extra: unknown field `extra`"), "{err}");
        assert!(err.ends_with("(3 errors in all: every scenario file must be valid for a run of them all; `--scenario NAME` runs only the named ones, and only those must be valid)"), "{err}");
    }

    /// Issue 18: a path with a newline is shown escaped, with its list index; an invalid file
    /// that `--scenario` does not name does not stop the run, one it names does.
    #[test]
    fn bad_paths_are_escaped_and_unselected_files_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let (s, k) = (dir.path().join("s"), dir.path().join("k"));
        std::fs::create_dir_all(&s).unwrap();
        std::fs::create_dir_all(&k).unwrap();
        std::fs::write(
            s.join("good.yaml"),
            "name: good\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        std::fs::write(
            s.join("bad.yaml"),
            "name: bad\npolicy:\n  filesystem_policy: {read_only: [/usr, \"/sand\\nbox\", \"/a\\0b\"]}\nexpect: [{enforcement: full}]\n",
        )
        .unwrap();
        let err = format!("{:#}", load(&s, &MatrixDirs::beside(&k)).unwrap_err());
        assert!(
            err.starts_with(&format!(
                "{}:3:34: policy.filesystem_policy.read_only[1]: `/sand\\nbox` contains a control character",
                s.join("bad.yaml").display()
            )),
            "{err}"
        );
        let (model, skipped) = load_selected(&s, &MatrixDirs::beside(&k), &["good".to_string()]).unwrap();
        assert_eq!(model.scenarios.len(), 1);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        let err = format!("{:#}", load_selected(&s, &MatrixDirs::beside(&k), &["bad".to_string()]).unwrap_err());
        assert!(err.contains("read_only[1]") && err.contains("only the selected scenarios"), "{err}");
    }
}
