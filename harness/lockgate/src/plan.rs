//! Plan: kernels × environments × scenarios, filtered by the command line, grouped so that one
//! boot per kernel runs every (environment, scenario) pair of that kernel.

use crate::enforcer::{Enforcer, RunAs};
use crate::env::{EnvFacts, Prepared};
use crate::model::scenario::{Action, Check, Scenario};
use crate::model::{matrix, Environment, Model};
use anyhow::{bail, Result};
use lockgate_protocol as proto;
use std::collections::HashMap;

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub kernels: Vec<String>,
    pub scenarios: Vec<String>,
    pub envs: Vec<String>,
    /// `(i, n)`, 1-based: this run takes every kernel whose position in name order is i mod n.
    pub shard: Option<(usize, usize)>,
}

/// One scenario × kernel × environment.
#[derive(Debug, Clone)]
pub struct Cell {
    pub scenario: usize,
    pub env: String,
    /// What the judge must know of the environment.
    pub env_facts: EnvFacts,
    /// For each expectation, the index of its step in the case (None for enforcement claims).
    pub step_of: Vec<Option<usize>>,
    /// What the scenario's policy uses that the enforcer cannot express (its adapter says so).
    pub not_asked: Vec<crate::enforcer::Feature>,
    /// The harness's own operations appended to the case's steps (judged by nobody).
    pub sentinels: Vec<Sentinel>,
    /// The plan's variant (enforcer) this cell is of: an index into the variants planned.
    pub variant: usize,
    /// Judge by the expectations of the bare environment on this kernel ([`Variant`]).
    pub judge_as_bare: bool,
    /// The index in [`KernelRun::cases`] of the case observed for this cell. Cells of two
    /// variants share a case when the cases are the same in every field but their id.
    pub case: usize,
}

/// An operation of the harness's own, run in both runs of a case after every step of the
/// scenario, where no rule of the policy reaches: in the enforced run, a Landlock ruleset that
/// handles its right denies it (EACCES) whatever the policy grants elsewhere. Judged by nobody
/// (no expectation, no snapshot); it lets an explanation say whether a ruleset was in effect
/// when the scenario's own steps show nothing either way (issue 24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentinel {
    /// Its step in the case (after the scenario's: it cannot change what they see).
    pub step: usize,
    /// The operation as the words name it: `probe mknod_reg /lockgate-sentinel/f`.
    pub what: String,
    /// Why no rule of the policy reaches it, in words.
    pub outside: String,
    /// The one Landlock right it needs (`MAKE_REG`, `NET_BIND_TCP`).
    pub right: &'static str,
}

/// The file sentinel's directory: a top-level directory of the harness's own (with a tmpfs of
/// its own per run, owned by the run's uid so that only a ruleset can deny it).
pub const SENTINEL_DIR: &str = "/lockgate-sentinel";
/// Ports for the bind sentinel, below the ephemeral range: the first the policy and the
/// scenario's steps do not name.
const SENTINEL_PORTS: [u16; 3] = [29001, 29002, 29003];

/// The sentinels a case gets: a regular file made in [`SENTINEL_DIR`] unless a policy path (or
/// the included workdir) covers it or the scenario uses it; a bind on a port no rule names when
/// the policy has a network section (without one, TCP is not meant to be restricted).
fn sentinels(
    sc: &Scenario,
    steps: &mut Vec<proto::Step>,
    setup: &mut proto::Setup,
    owner: (u32, u32),
) -> Vec<Sentinel> {
    let mut out = Vec::new();
    let fs = &sc.policy.filesystem_policy;
    let mut covering: Vec<String> = sc.checked_paths();
    if fs.include_workdir {
        covering.push(sc.setup.workdir.as_ref().map(|w| w.as_str().to_string()).unwrap_or_else(|| "/".into()));
    }
    let covered = |p: &str| p == "/" || SENTINEL_DIR == p || SENTINEL_DIR.starts_with(&format!("{p}/"));
    let used = setup.tmpfs.iter().any(|t| t == SENTINEL_DIR);
    // Under a chroot the runs would look for the directory in their own root, where it is not.
    let used = used || sc.setup.chroot.is_some();
    if let (false, false, Ok(file)) =
        (covering.iter().any(|p| covered(p)), used, proto::GuestPath::try_from(format!("{SENTINEL_DIR}/f")))
    {
        setup.tmpfs.push(SENTINEL_DIR.into());
        setup.paths.push(proto::PathSpec {
            path: SENTINEL_DIR.into(),
            kind: proto::PathKind::Dir,
            uid: owner.0,
            gid: owner.1,
            mode: 0o700,
            content: String::new(),
            device: None,
            source: None,
            overlay: None,
        });
        out.push(Sentinel {
            step: steps.len(),
            what: format!("probe mknod_reg {file}"),
            outside: "in a directory of the harness's own that no path of the policy covers".into(),
            right: "MAKE_REG",
        });
        steps.push(proto::Step::Probe { op: proto::ProbeOp::MknodReg, target: proto::ProbeTarget::Path(file) });
    }
    if let Some(net) = &sc.policy.network {
        let named = |p: u16| {
            net.bind_tcp.contains(&p)
                || net.connect_tcp.contains(&p)
                || steps
                    .iter()
                    .any(|s| matches!(s, proto::Step::Probe { target: proto::ProbeTarget::Port(q), .. } if *q == p))
        };
        if let Some(port) = SENTINEL_PORTS.into_iter().find(|p| !named(*p)) {
            out.push(Sentinel {
                step: steps.len(),
                what: format!("probe tcp_bind {port}"),
                outside: "a port the policy's network section does not name".into(),
                right: "NET_BIND_TCP",
            });
            steps.push(proto::Step::Probe { op: proto::ProbeOp::TcpBind, target: proto::ProbeTarget::Port(port) });
        }
    }
    out
}

/// Everything one boot of one kernel does.
#[derive(Debug, Clone)]
pub struct KernelRun {
    pub kernel: usize,
    pub cells: Vec<Cell>,
    pub cases: Vec<proto::Case>,
}

/// One enforcer of a plan, and the part of the selection it runs on. Every variant's cases of a
/// kernel go into that kernel's one boot: the mutation gate plans the correct enforcer and each
/// fault mode as variants, so that a kernel boots once however many modes there are.
#[derive(Debug, Clone, Copy)]
pub struct Variant<'a> {
    pub enforcer: &'a crate::enforcer::Enforcer,
    /// Within the run's selection: these kernels, scenarios and environments (each: all when
    /// empty). Its shard is not used.
    pub within: &'a Selection,
    /// Judge by the expectations of the bare environment ([`crate::judge::CellInput`]).
    pub judge_as_bare: bool,
}

pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}` is not a shard: write i/n, like 1/2"))?;
    let (i, n): (usize, usize) = (
        i.parse().map_err(|_| format!("`{i}` is not a number"))?,
        n.parse().map_err(|_| format!("`{n}` is not a number"))?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {s}: i must be between 1 and n"));
    }
    Ok((i, n))
}

/// Every name asked for is a known one; else an error naming it and listing the known ones.
pub(crate) fn check_names(kind: &str, asked: &[String], known: &[&str]) -> Result<()> {
    for a in asked {
        if !known.contains(&a.as_str()) {
            bail!("no {kind} is named `{a}`; known {kind}s: {}", known.join(", "));
        }
    }
    Ok(())
}

/// The kernels `--kernel` asks for, as indices into `model.kernels`, by the one rule of
/// [`matrix::select`]: none named → the default matrix (every manifest of `matrix: default`);
/// `nightly` → the default and nightly matrices; `all` → every manifest; else those named (with
/// `nightly`, those too).
pub fn select_kernels(model: &Model, asked: &[String]) -> Result<Vec<usize>> {
    matrix::select("kernel", &model.kernels, asked)
}

/// The environments `--env` asks for, in the model's order, by the same rule as the kernels
/// ([`matrix::select`]): none named → `bare` and the default matrix; `nightly` → the default and
/// nightly matrices; `all` → every environment; else those named (with `nightly`, those too).
pub fn select_environments<'m>(model: &'m Model, sel: &Selection) -> Result<Vec<&'m Environment>> {
    Ok(matrix::select("environment", &model.environments, &sel.envs)?
        .into_iter()
        .map(|i| &model.environments[i])
        .collect())
}

/// kernels × environments × scenarios, as selected; `envs` are the selected environments, made
/// ready ([`select_environments`], then [`crate::env::prepare`]), so that each case is planned
/// with its container.
pub fn plan(model: &Model, sel: &Selection, enforcer: &Enforcer, envs: &Prepared) -> Result<Vec<KernelRun>> {
    let all = Selection::default();
    plan_variants(model, sel, &[Variant { enforcer, within: &all, judge_as_bare: false }], envs)
}

/// [`plan`] for several enforcers at once: one boot per kernel runs every variant's cases of
/// that kernel. A case equal to one already planned in every field but its id is not planned
/// twice: both cells are judged from the one observation. A case whose control run would have
/// the same inputs as an earlier one's gets that one's control run (`control_of`).
pub fn plan_variants(model: &Model, sel: &Selection, variants: &[Variant], envs: &Prepared) -> Result<Vec<KernelRun>> {
    let kernel_names: Vec<&str> = model.kernels.iter().map(|k| k.value.name.as_str()).collect();
    let scenario_names: Vec<&str> = model.scenarios.iter().map(|s| s.value.name.as_str()).collect();
    check_names("scenario", &sel.scenarios, &scenario_names)?;
    let selected = select_environments(model, sel)?;
    for v in variants {
        check_names("scenario", &v.within.scenarios, &scenario_names)?;
        check_names("kernel", &v.within.kernels, &kernel_names)?;
        select_environments(model, v.within)?;
    }
    // A scenario named with `--scenario` that no enforcer under test is meant for would plan
    // nothing: say so, rather than run an empty plan and report nothing.
    for s in model.scenarios.iter().filter(|s| sel.scenarios.iter().any(|n| *n == s.value.name.as_str())) {
        if !variants.iter().any(|v| s.value.meant_for(&v.enforcer.name)) {
            let meant: Vec<&str> = s.value.enforcers.iter().map(|e| e.as_str()).collect();
            let mut asked: Vec<&str> = variants.iter().map(|v| v.enforcer.name.as_str()).collect();
            asked.sort();
            asked.dedup();
            bail!(
                "{}: enforcers: scenario `{}` is meant only for {} (its `enforcers:` list), and this run tests {}: add `--enforcer {}` to run it",
                s.file.display(),
                s.value.name,
                meant.join(", "),
                asked.join(", "),
                meant.first().copied().unwrap_or("ENFORCER")
            );
        }
    }
    let wanted = |list: &[String], name: &str| list.is_empty() || list.iter().any(|n| n == name);

    let mut kernels = select_kernels(model, &sel.kernels)?;
    kernels.sort_by_key(|&k| kernel_names[k]);
    if let Some((i, n)) = sel.shard {
        kernels = kernels.into_iter().enumerate().filter(|(pos, _)| pos % n == i - 1).map(|(_, k)| k).collect();
    }
    let mut runs = Vec::new();
    for k in kernels {
        let mut run = KernelRun { kernel: k, cells: Vec::new(), cases: Vec::new() };
        // The cases planned so far in this boot, by their content without the id: a case
        // met again is shared, and a case differing only in its enforcer call borrows the
        // first one's control run.
        let mut same_case: HashMap<String, usize> = HashMap::new();
        let mut same_control: HashMap<String, usize> = HashMap::new();
        for (vi, v) in variants.iter().enumerate() {
            if !wanted(&v.within.kernels, kernel_names[k]) {
                continue;
            }
            for env in selected.iter().filter(|e| wanted(&v.within.envs, &e.name)) {
                let Some(ready) = envs.get(&env.name) else {
                    bail!("environment `{}` was selected but not made ready", env.name)
                };
                for (si, s) in model.scenarios.iter().enumerate() {
                    let name = s.value.name.as_str();
                    if !wanted(&sel.scenarios, name) || !wanted(&v.within.scenarios, name) {
                        continue;
                    }
                    let enforcer = v.enforcer;
                    if !s.value.meant_for(&enforcer.name) {
                        continue;
                    }
                    // A native policy is read through this enforcer's adapter.
                    let sc = match enforcer.resolve(&s.value) {
                        Ok(sc) => sc,
                        Err(e) => bail!("{}: {e}", s.file.display()),
                    };
                    let workdir = sc.setup.workdir.as_ref().map(|w| w.as_str()).unwrap_or("/");
                    if let Err(e) = enforcer.check_rule_paths(&sc, workdir) {
                        bail!("{}: {e}", s.file.display());
                    }
                    let (mut case, step_of, sentinels) = case_for(&sc, &env.name, enforcer);
                    case.container = ready.container.clone();
                    case.apparmor = ready.apparmor.clone();
                    if vi > 0 {
                        case.id = format!("{}#{vi}", case.id);
                    }
                    let index = share(&mut run.cases, case, &mut same_case, &mut same_control);
                    run.cells.push(Cell {
                        scenario: si,
                        env: env.name.clone(),
                        env_facts: ready.facts.clone(),
                        step_of,
                        not_asked: enforcer.not_asked(&sc),
                        sentinels,
                        variant: vi,
                        judge_as_bare: v.judge_as_bare,
                        case: index,
                    });
                }
            }
        }
        if !run.cells.is_empty() {
            runs.push(run);
        }
    }
    if runs.is_empty() {
        bail!("the selection matches no cell: check --kernel, --scenario, --env and --shard");
    }
    Ok(runs)
}

/// Adds `case` to `cases` unless an equal one (but for its id) is there; returns its index.
///
/// Why sharing a control run is sound: the control run is the case's steps, run as its
/// identity, in its environment (container or bare), in a fresh tree made from its setup, with
/// its enforcer's files written, on this kernel, in this boot; every case starts from the same
/// root tree (the guest restores it first). None of that is the enforcer's command, which is
/// the one field (besides the id) two cases sharing a control run may differ in: what the
/// control run of one observed is what the other's would have observed.
fn share(
    cases: &mut Vec<proto::Case>,
    mut case: proto::Case,
    same_case: &mut HashMap<String, usize>,
    same_control: &mut HashMap<String, usize>,
) -> usize {
    let key = |c: &proto::Case| {
        let mut c = c.clone();
        c.id.clear();
        serde_json::to_string(&c).unwrap_or_default()
    };
    let whole = key(&case);
    if let Some(&i) = same_case.get(&whole) {
        return i;
    }
    let mut without_command = case.clone();
    (without_command.enforcer.argv, without_command.enforcer.env) = (Vec::new(), Vec::new());
    let control = key(&without_command);
    let index = cases.len();
    match same_control.get(&control) {
        Some(&first) => case.control_of = Some(cases[first].id.clone()),
        None => {
            same_control.insert(control, index);
        }
    }
    same_case.insert(whole, index);
    cases.push(case);
    index
}

fn case_for(sc: &Scenario, env: &str, enforcer: &Enforcer) -> (proto::Case, Vec<Option<usize>>, Vec<Sentinel>) {
    let user = |name: &str| sc.setup.users.iter().find(|u| u.name.as_str() == name);
    let ids = |name: Option<&str>| match name.and_then(user) {
        Some(u) => (u.uid, u.gid.unwrap_or(u.uid)),
        None => (0, 0),
    };
    let mut steps = Vec::new();
    let mut step_of = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut isolated: Vec<usize> = Vec::new();
    for e in &sc.expect {
        match &e.check {
            Check::Operation { action, .. } => {
                let step = match action {
                    Action::Run(cmd) => proto::Step::Shell { command: cmd.clone() },
                    Action::Probe { op, target } => proto::Step::Probe { op: *op, target: target.clone() },
                };
                // The same operation written twice (typically under exclusive `when:`s, one
                // outcome per kind of kernel) is one operation: it runs once, and each of its
                // expectations judges that one result. Run twice, the second would see what
                // the first did (a link already made: EEXIST) on every kernel.
                // Looked up by the step's JSON: planning stays linear in the expectations.
                let key = serde_json::to_string(&step).unwrap_or_default();
                // One of its lines asking for isolation isolates the one operation.
                if e.isolate {
                    isolated.push(seen.get(&key).copied().unwrap_or(steps.len()));
                }
                match seen.get(&key) {
                    Some(&i) => step_of.push(Some(i)),
                    None => {
                        seen.insert(key, steps.len());
                        step_of.push(Some(steps.len()));
                        steps.push(step);
                    }
                }
            }
            Check::Enforcement(_) | Check::Mechanism(_) => step_of.push(None),
        }
    }
    let (uid, mut gid) = ids(sc.policy.process.run_as_user.as_ref().map(|n| n.as_str()));
    if let Some(g) = &sc.policy.process.run_as_group {
        gid = ids(Some(g.as_str())).1;
    }
    let mut setup = proto::Setup {
        users: sc
            .setup
            .users
            .iter()
            .map(|u| proto::User { name: u.name.to_string(), uid: u.uid, gid: u.gid.unwrap_or(u.uid) })
            .collect(),
        tmpfs: sc.tmpfs_roots(),
        workspace: sc.setup.workspace.as_ref().map(|w| w.as_str().to_string()),
        paths: sc.setup.paths.iter().map(|p| p.spec(ids(p.owner.as_ref().map(|n| n.as_str())))).collect(),
        listen: sc.setup.listen.clone(),
    };
    let workdir = sc.setup.workdir.as_ref().or(sc.setup.chroot.as_ref()).map(|w| w.as_str().to_string());
    let workdir = workdir.unwrap_or_else(|| "/".into());
    let name = |n: Option<&crate::model::scenario::Name>| n.map(|n| n.to_string()).unwrap_or_else(|| "root".into());
    let user = name(sc.policy.process.run_as_user.as_ref());
    let group = sc.policy.process.run_as_group.as_ref().map(|g| g.to_string()).unwrap_or_else(|| user.clone());
    let call = enforcer.call(sc, &RunAs { user, group, uid, gid }, &workdir);
    // The limits are the scenario's steps' (the judge works them out from those): the sentinels,
    // two quick probes, live within them.
    let limits = sc.limits.resolve(steps.len());
    let sentinels = sentinels(sc, &mut steps, &mut setup, (uid, gid));
    let case = proto::Case {
        limits,
        id: format!("{}@{env}", sc.name),
        control_of: None,
        setup,
        identity: proto::Identity { uid, gid, groups: vec![gid] },
        enforcer: call,
        steps,
        workdir,
        container: None,
        apparmor: None,
        policy_paths: sc.checked_paths(),
        layers: sc.setup.layers.iter().map(crate::model::layer::Layer::document).collect(),
        open_before: sc.setup.open_before.iter().map(|p| p.as_str().to_string()).collect(),
        isolate: sc.isolate,
        isolated: {
            isolated.sort_unstable();
            isolated.dedup();
            isolated
        },
        chroot: sc.setup.chroot.as_ref().map(|p| p.as_str().to_string()),
    };
    (case, step_of, sentinels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_operation_written_twice_runs_once() {
        let text = "name: t\nsetup: {paths: [{path: /sandbox, kind: dir}]}\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect:\n  - {probe: symlink /etc/passwd /sandbox/l, denied: EACCES, when: 'abi >= 1'}\n  - {enforcement: full}\n  - {probe: symlink /etc/passwd /sandbox/l, allowed: true, when: 'abi == none'}\n  - {probe: symlink /etc/passwd /sandbox/m, allowed: true}\n";
        let scenario: Scenario = serde_yaml::from_str(text).unwrap();
        let (case, step_of, sentinels) = case_for(&scenario, "bare", &crate::enforcer::reference(&[]).unwrap());
        assert_eq!(case.steps.len(), 3, "two operations and the file sentinel");
        assert_eq!(sentinels.len(), 1);
        assert_eq!(step_of, [Some(0), None, Some(0), Some(1)]);
    }

    /// Issue 24, item 5: every case gets its sentinels after the scenario's steps, outside
    /// every rule of the policy; none where a rule reaches it.
    #[test]
    fn sentinels_go_after_the_scenarios_steps_and_outside_every_rule() {
        let enforcer = crate::enforcer::reference(&[]).unwrap();
        let case = |policy: &str| {
            let text = format!("name: t\nsetup: {{users: [{{name: s, uid: 998}}]}}\npolicy: {policy}\nexpect:\n  - {{probe: tcp_bind 29001, allowed: true}}\n  - {{enforcement: full}}\n");
            case_for(&serde_yaml::from_str(&text).unwrap(), "bare", &enforcer)
        };
        let (c, step_of, s) =
            case("{filesystem_policy: {read_only: [/usr]}, network: {bind_tcp: [29002]}, process: {run_as_user: s}}");
        assert_eq!(step_of, [Some(0), None], "the scenario's steps keep their places");
        assert_eq!(
            s.iter().map(|s| (s.step, s.what.as_str())).collect::<Vec<_>>(),
            [(1, "probe mknod_reg /lockgate-sentinel/f"), (2, "probe tcp_bind 29003")]
        );
        let dir = c.setup.paths.iter().find(|p| p.path == SENTINEL_DIR).unwrap();
        assert_eq!((dir.uid, dir.mode), (998, 0o700), "only a ruleset can deny the run's own uid there");
        assert!(c.setup.tmpfs.iter().any(|t| t == SENTINEL_DIR));
        let (c, _, s) = case("{filesystem_policy: {read_write: [/]}}");
        assert!(s.is_empty() && c.steps.len() == 1, "`/` covers the directory, and there is no network section");
    }

    /// `--env` selects as `--kernel` does: the shipped environments' default matrix is bare and
    /// the four containers of every run; `nightly` adds containerd, gVisor and systemd-nspawn.
    #[test]
    fn environments_are_selected_by_matrix_as_kernels_are() {
        let root = crate::supply::guest::workspace_root();
        let model =
            crate::model::load(&root.join("scenarios"), &crate::model::MatrixDirs::beside(&root.join("kernels")))
                .unwrap();
        let names = |envs: &[&str]| -> Vec<String> {
            let sel = Selection { envs: envs.iter().map(|s| s.to_string()).collect(), ..Default::default() };
            select_environments(&model, &sel).unwrap().into_iter().map(|e| e.name.clone()).collect()
        };
        assert_eq!(names(&[]), ["bare", "docker-20.10.24", "docker-20.10.5", "docker-26.1.5", "podman"]);
        let nightly = names(&["nightly"]);
        assert_eq!(nightly.len(), 10, "{nightly:?}");
        for n in ["containerd-1.4", "containerd-1.7", "gvisor", "systemd-nspawn-252", "systemd-nspawn-257"] {
            assert!(nightly.iter().any(|e| e == n), "{nightly:?}");
        }
        assert_eq!(names(&["all"]).len(), model.environments.len());
        assert_eq!(names(&["gvisor"]), ["gvisor"]);
        let sel = Selection { envs: vec!["gvisr".into()], ..Default::default() };
        let err = select_environments(&model, &sel).unwrap_err().to_string();
        assert!(
            err.starts_with("no environment is named `gvisr`; known environments: bare,")
                && err.ends_with("all, nightly"),
            "{err}"
        );
    }

    /// The mutation gate's plan: the correct enforcer everywhere, a fault mode on one scenario
    /// bare, an environment judged as bare. One boot; the fault's case borrows the correct
    /// case's control run; the environment's cases are the correct enforcer's own.
    #[test]
    fn variants_share_one_boot_equal_cases_and_control_runs() {
        let root = crate::supply::guest::workspace_root();
        let model =
            crate::model::load(&root.join("scenarios"), &crate::model::MatrixDirs::beside(&root.join("kernels")))
                .unwrap();
        let mut envs = Prepared::names_only(&model.environments.iter().collect::<Vec<_>>());
        // Names only has no containers: give each container environment one, as `prepare` does.
        for (name, env) in envs.envs.iter_mut().filter(|(n, _)| *n != "bare") {
            let json = format!(
                r#"{{"env": "{name}", "runtime": "/usr/sbin/runc", "seccomp": null, "flavour": "docker", "capabilities": [], "no_new_privileges": false}}"#
            );
            env.container = Some(serde_json::from_str(&json).unwrap());
        }
        let correct = crate::enforcer::reference(&[]).unwrap();
        let faulty = crate::enforcer::reference(&["no-truncate".into()]).unwrap();
        let sel = Selection { kernels: vec!["debian-6.12".into()], ..Default::default() };
        let all = Selection::default();
        let truncate = Selection { scenarios: vec!["right-truncate".into()], envs: vec!["bare".into()], ..all.clone() };
        let docker = Selection { envs: vec!["docker-20.10.5".into()], ..all.clone() };
        let variants = [
            Variant { enforcer: &correct, within: &all, judge_as_bare: false },
            Variant { enforcer: &faulty, within: &truncate, judge_as_bare: false },
            Variant { enforcer: &correct, within: &docker, judge_as_bare: true },
        ];
        let runs = plan_variants(&model, &sel, &variants, &envs).unwrap();
        assert_eq!(runs.len(), 1, "one boot for the kernel");
        // A scenario named that none of the enforcers is meant for plans nothing: an error says
        // which enforcers it is for, not an empty run.
        let bwrap_only = Selection { scenarios: vec!["bubblewrap-sandbox".into()], ..sel.clone() };
        let err = plan_variants(&model, &bwrap_only, &variants, &envs).unwrap_err().to_string();
        assert!(
            err.contains(
                "bubblewrap-sandbox.yaml: enforcers: scenario `bubblewrap-sandbox` is meant only for bubblewrap"
            ) && err.ends_with("this run tests lockgate-enforcer: add `--enforcer bubblewrap` to run it"),
            "{err}"
        );
        let run = &runs[0];
        // The scenarios meant for the reference enforcer (not a namespace sandbox's).
        let n_scenarios = model.scenarios.iter().filter(|s| s.value.meant_for(&correct.name)).count();
        assert!(n_scenarios < model.scenarios.len(), "bubblewrap-sandbox is for bubblewrap only");
        // A plan that names no environment takes the default matrix's: bare and four containers
        // (not the nightly containerd and gVisor ones, nor the opt-in AppArmor ones).
        let n_envs = model.environments.iter().filter(|e| e.matrix() == crate::model::matrix::Matrix::Default).count();
        assert_eq!(n_envs, 5, "the default run (and the gate) stays at five environments");
        assert_eq!(run.cells.len(), n_scenarios * n_envs + 1 + n_scenarios);
        assert_eq!(run.cases.len(), n_scenarios * n_envs + 1, "the environment's cases are not run twice");
        let mut ids: Vec<&str> = run.cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), run.cases.len(), "case ids are unique");

        let fault_cell = run.cells.iter().find(|c| c.variant == 1).unwrap();
        let fault_case = &run.cases[fault_cell.case];
        assert_eq!(fault_case.id, "right-truncate@bare#1");
        assert_eq!(fault_case.control_of.as_deref(), Some("right-truncate@bare"));
        assert!(fault_case.enforcer.argv.iter().any(|a| a.contains("no-truncate")), "{:?}", fault_case.enforcer);
        for c in run.cells.iter().filter(|c| c.variant == 2) {
            let case = &run.cases[c.case];
            assert!(
                c.judge_as_bare && case.id.ends_with("@docker-20.10.5") && case.control_of.is_none(),
                "{}",
                case.id
            );
        }
        assert!(run.cells.iter().filter(|c| c.variant != 2).all(|c| !c.judge_as_bare));
        assert_eq!(run.cases.iter().filter(|c| c.control_of.is_some()).count(), 1);
    }

    #[test]
    fn shards_split_whole_kernels_and_cover_all() {
        assert_eq!(parse_shard("1/2"), Ok((1, 2)));
        assert!(parse_shard("3/2").is_err());
        assert!(parse_shard("0/2").is_err());
        assert!(parse_shard("x").is_err());
    }
}
