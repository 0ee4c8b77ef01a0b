//! `lockgate coverage`: which Landlock right is checked where — right × first ABI × probe ×
//! known-bad mode × the kernels whose recorded snapshots show it checked. Made from the rights
//! catalogue (`lockgate_protocol::rights`), the shipped `scenarios/right-*.yaml` and the
//! reference enforcer's snapshots, so the book's table (`book/src/reference/coverage.md`) cannot
//! drift from what ran: `--book` rewrites the table between its markers, `--check` fails when it
//! is stale.
//!
//! Below it, the same for the enforcer's own seccomp filter (issue 25): each probe of what a
//! filter decides × the filter's known-bad modes it catches × the shipped scenarios that state a
//! filter (`seccomp:`) and expect it × the kernels whose snapshots show it checked.

use anyhow::{bail, Context, Result};
use clap::Args;
use lockgate_protocol::rights::Right;
use std::collections::BTreeMap;
use std::path::Path;

const BEGIN: &str = "<!-- coverage:begin (cargo xtask coverage --book) -->";
/// The book's page that holds the table, in the project.
const PAGE: &str = "book/src/reference/coverage.md";
const END: &str = "<!-- coverage:end -->";

#[derive(Debug, Clone, Args)]
pub struct CoverageArgs {
    /// Rewrite the table in the book's coverage page (book/src/reference/coverage.md).
    #[arg(long)]
    pub book: bool,
    /// Fail when the book's table differs from what the snapshots say.
    #[arg(long, conflicts_with = "book")]
    pub check: bool,
}

/// One recorded cell of a right's scenario.
#[derive(Debug, Default)]
struct Cell {
    kernel: String,
    env: String,
    /// The ABI where the probes ran (`landlock: ABI n`), None without Landlock there.
    abi: Option<u32>,
    /// Expectations on the right's probe that passed without being skipped.
    probe_passed: usize,
    failed: bool,
}

/// Reads the fields the table needs from one snapshot (insta's YAML, stable fields only).
fn read_cell(text: &str, op: &str) -> Cell {
    read_cell_by(text, &format!("probe {op} "))
}

/// The same, counting the expectations whose text starts with `prefix`.
fn read_cell_by(text: &str, prefix: &str) -> Cell {
    let mut cell = Cell::default();
    let mut on_probe = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("kernel: ") {
            cell.kernel = v.trim().into();
        } else if let Some(v) = line.strip_prefix("environment: ") {
            cell.env = v.trim().into();
        } else if let Some(v) = line.strip_prefix("landlock: ABI ") {
            cell.abi = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("- expect: ") {
            on_probe = v.starts_with(prefix);
        } else if let Some(v) = line.trim().strip_prefix("status: ") {
            match v.trim() {
                "pass" if on_probe => cell.probe_passed += 1,
                "fail" => cell.failed = true,
                _ => {}
            }
        }
    }
    cell
}

/// The probes of what a seccomp filter decides, as a scenario's expectation starts (`probe
/// socket AF_INET …`), each with the filter's known-bad modes (`known_bad::FILTER_FAULTS`) that
/// it catches in the mutation gate's scenario, and what it asks.
const FILTER_PROBES: [(&str, &[&str], &str); 18] = [
    (
        "socket AF_INET ",
        &["inet-allowed", "no-filter", "filter-other-thread"],
        "an inet socket where the network is closed (the filter is on the command's thread at all)",
    ),
    ("socket AF_NETLINK SOCK_RAW NETLINK_SOCK_DIAG", &["all-netlink"], "a netlink protocol beside the one allowed"),
    ("socket AF_UNIX ", &[], "a unix socket (sandbox-runtime denies it, Codex's intent allows it)"),
    ("socket AF_VSOCK ", &[], "a VM socket, which no network namespace fences"),
    (
        "socket@i386 ",
        &["no-arch-check"],
        "the same call through the i386 entry (`int 0x80`): killed by the architecture check",
    ),
    ("socket@x32 ", &["x32-allowed"], "the same call with the x32 bit: denied"),
    ("clone3 0", &["clone3-eperm", "stacked-wrong-order"], "clone3 answered ENOSYS, so that libc falls back to clone"),
    ("clone3 CLONE_NEWUSER", &["clone3-unfiltered"], "a user namespace through clone3, whose flags no filter reads"),
    ("clone CLONE_NEWUSER", &[], "a user namespace through clone, by its flags"),
    ("syscall unshare ", &[], "a namespace through unshare, by its flags"),
    ("syscall connect -1", &[], "a call on a socket, on a bad descriptor (EBADF without the filter)"),
    ("ptrace_", &[], "ptrace"),
    ("io_uring_setup", &[], "io_uring, whose operations pass a filter unseen"),
    ("memfd_exec", &[], "executing an anonymous memory file"),
    ("execveat_empty_path ", &[], "execveat with AT_EMPTY_PATH"),
    ("bpf", &[], "loading BPF"),
    ("seccomp", &[], "stacking another filter"),
    (
        "create /sandbox/x → denied",
        &["landlock-other-thread"],
        "the Landlock ruleset beside the filter, on the command's thread",
    ),
];

/// The snapshots whose file name starts with one of `prefixes`.
fn snapshots_of(root: &Path, prefixes: &[String]) -> Result<Vec<(String, String)>> {
    let snapshots = root.join("scenarios/snapshots");
    let mut files: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&snapshots).with_context(|| format!("cannot read {}", snapshots.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) && name.ends_with(".snap") {
            files.push((name, std::fs::read_to_string(&path)?));
        }
    }
    files.sort();
    Ok(files)
}

/// "kernel: number of environments, …" of the cells that checked something.
fn checked_on(checked: &BTreeMap<String, Vec<String>>) -> String {
    if checked.is_empty() {
        return "not yet recorded".to_string();
    }
    checked.iter().map(|(k, envs)| format!("{k}: {}", envs.len())).collect::<Vec<_>>().join(", ")
}

/// The shipped scenarios that state a filter of the enforcer's (`seccomp:` in their policy).
fn filter_scenarios(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("scenarios");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".yaml")) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        if text.lines().any(|l| l.trim_start().starts_with("seccomp:") && l.starts_with("  ")) {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// The filter's table: a probe is checked in a cell where an expectation on it passed (not
/// skipped) and nothing in the cell failed.
fn filter_table(root: &Path) -> Result<String> {
    let scenarios = filter_scenarios(root)?;
    if !scenarios.contains(&super::known_bad::SECCOMP_SCENARIO.to_string()) {
        bail!("scenarios/{}.yaml is missing: the filter's known-bad modes run it", super::known_bad::SECCOMP_SCENARIO);
    }
    let files = snapshots_of(root, &scenarios.iter().map(|s| format!("{s}@")).collect::<Vec<_>>())?;
    let mut out = String::from(
        "| filter probe | what it asks | known-bad modes it catches | scenarios | checked on (kernel: environments) |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for (prefix, modes, what) in FILTER_PROBES {
        let mut checked: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut used: Vec<&str> = Vec::new();
        for (name, text) in &files {
            let cell = read_cell_by(text, &format!("probe {prefix}"));
            if cell.probe_passed > 0 && !cell.failed {
                let envs = checked.entry(cell.kernel).or_default();
                if !envs.contains(&cell.env) {
                    envs.push(cell.env);
                }
                let scenario = name.split('@').next().unwrap_or_default();
                if let Some(s) = scenarios.iter().find(|s| s.as_str() == scenario) {
                    if !used.contains(&s.as_str()) {
                        used.push(s);
                    }
                }
            }
        }
        let modes = if modes.is_empty() {
            "—".to_string()
        } else {
            modes.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        };
        let used = if used.is_empty() {
            "—".to_string()
        } else {
            used.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!("| `{}` | {what} | {modes} | {used} | {} |\n", prefix.trim_end(), checked_on(&checked)));
    }
    Ok(out)
}

/// The setup kinds and the harness's footprint (issue 28, items 5 and 6): what a scenario
/// writes, the shipped scenario that uses it, the known-bad mode it catches, where it can be
/// set up.
const SETUP_FEATURES: [(&str, &str, &str, &str); 11] = [
    ("kind: fifo`, `kind: socket", "nodes made before the run", "setup-nodes", ""),
    ("kind: char_device", "a device node made before the run (CAP_MKNOD)", "setup-nodes", ""),
    ("kind: tmpfs`, `kind: bind", "mounts below the top level (CAP_SYS_ADMIN)", "setup-mounts", "rule-under-mount"),
    ("kind: overlay", "an overlayfs (CAP_SYS_ADMIN, overlayfs built in or its module loaded)", "setup-overlay", ""),
    ("setup.listen", "the ports the harness listens on", "listen-on-request", ""),
    (
        "setup.workspace",
        "a volume of the VM's bind-mounted on a top-level directory, as an engine mounts one",
        "container-workspace",
        "",
    ),
    ("isolate: true", "each step on a fresh tree, in both runs", "isolated-steps", ""),
    ("expect: [{…, isolate: true}]", "that step alone on a fresh tree, the others together", "isolated-step", ""),
    ("setup.layers[].network", "TCP rules in an outer layer (ABI 4)", "landlock-layers-tcp", "abi2"),
    ("signal layer", "a peer in the outer layers only", "landlock-layers-scoped-peer", "no-scope-signal"),
    ("setup.chroot", "a root of the runs' own, entered before the sandbox", "chroot-before-sandbox", "host-root-rules"),
];

/// The setup kinds' table: a scenario is checked in a cell where an expectation passed (not
/// skipped) and nothing failed; a cell whose setup was refused checked nothing.
fn setup_table(root: &Path) -> Result<String> {
    let mut out = String::from(
        "| setup | what it makes | scenario | known-bad mode | checked on (kernel: environments) |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for (field, what, scenario, mode) in SETUP_FEATURES {
        let mut checked: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let files = match scenario {
            "" => Vec::new(),
            s => snapshots_of(root, &[format!("{s}@")])?,
        };
        for (_, text) in &files {
            let cell = read_cell_by(text, "");
            if cell.probe_passed > 0 && !cell.failed {
                checked.entry(cell.kernel).or_default().push(cell.env);
            }
        }
        let or_dash = |s: &str, quote: bool| match (s, quote) {
            ("", _) => "—".to_string(),
            (s, true) => format!("`{s}`"),
            (s, false) => s.to_string(),
        };
        let checked = match scenario {
            "" => "no shipped scenario".to_string(),
            _ => checked_on(&checked),
        };
        out.push_str(&format!(
            "| `{field}` | {what} | {} | {} | {checked} |\n",
            or_dash(scenario, true),
            or_dash(mode, true)
        ));
    }
    Ok(out)
}

/// The Markdown tables: the Landlock rights, the seccomp filter, the setup kinds.
pub fn table(root: &Path) -> Result<String> {
    Ok(format!("{}\n{}\n{}", rights_table(root)?, filter_table(root)?, setup_table(root)?))
}

fn rights_table(root: &Path) -> Result<String> {
    let files = snapshots_of(root, &["right-".to_string()])?;
    let mut out = String::from(
        "| right | first ABI | probe | other probes | known-bad mode | scenario | checked on (kernel: environments) |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for right in Right::ALL {
        let scenario = right.scenario();
        if !root.join(format!("scenarios/{scenario}.yaml")).is_file() {
            bail!("scenarios/{scenario}.yaml is missing: every right needs its scenario");
        }
        let op = right.probe().name();
        // A cell checked the right when Landlock ran there at the right's ABI or above, the
        // right's probe passed an expectation and nothing failed.
        let mut checked: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, text) in files.iter().filter(|(n, _)| n.starts_with(&format!("{scenario}@"))) {
            let cell = read_cell(text, op);
            if cell.abi.is_some_and(|a| a >= right.abi()) && cell.probe_passed > 0 && !cell.failed {
                checked.entry(cell.kernel).or_default().push(cell.env);
            }
        }
        let kernels = checked_on(&checked);
        let others: Vec<String> = right.other_probes().iter().map(|p| format!("`{}`", p.name())).collect();
        let others = if others.is_empty() { "—".to_string() } else { others.join(", ") };
        out.push_str(&format!(
            "| `{}` | {} | `{op}` | {others} | `{}` | `{scenario}` | {kernels} |\n",
            right.constant(),
            right.abi(),
            right.fault()
        ));
    }
    Ok(out)
}

pub(super) fn run(project: &super::project::Project, args: &CoverageArgs) -> Result<bool> {
    let root = &project.root;
    let table = table(root)?;
    if !args.book && !args.check {
        print!("{table}");
        return Ok(true);
    }
    let page_path = root.join(PAGE);
    let page = std::fs::read_to_string(&page_path).with_context(|| format!("cannot read {}", page_path.display()))?;
    let (Some(b), Some(e)) = (page.find(BEGIN), page.find(END)) else {
        bail!("{PAGE} has no coverage markers: put `{BEGIN}` and `{END}` where the table goes");
    };
    let updated = format!("{}{BEGIN}\n{table}{}", &page[..b], &page[e..]);
    if args.check {
        if updated != page {
            println!("{PAGE}: the coverage table is stale: run `{}`", crate::invocation::command("coverage --book"));
            return Ok(false);
        }
        return Ok(true);
    }
    std::fs::write(&page_path, updated)?;
    println!("{PAGE}: coverage table rewritten ({} rights)", Right::ALL.len());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_read_for_its_probe() {
        let snap = "---\nsource: x\n---\nscenario: right-make-char\nkernel: debian-6.12\nenvironment: bare\nlandlock: ABI 6\nexpectations:\n- expect: probe mknod_char /sandbox/c → denied EACCES\n  when: abi >= 1\n  status: pass\n- expect: probe mknod_char /sandbox/c → denied EPERM\n  status: skipped\n- expect: enforcement full\n  status: pass\n";
        let cell = read_cell(snap, "mknod_char");
        assert_eq!((cell.kernel.as_str(), cell.env.as_str(), cell.abi), ("debian-6.12", "bare", Some(6)));
        assert_eq!((cell.probe_passed, cell.failed), (1, false));
        let cell = read_cell(&snap.replace("status: skipped", "status: fail"), "mknod_char");
        assert!(cell.failed);
        let blocked = read_cell(&snap.replace("landlock: ABI 6", "landlock: ENOSYS"), "mknod_char");
        assert_eq!(blocked.abi, None);
    }

    #[test]
    fn every_right_has_a_row() {
        let root = crate::supply::guest::workspace_root();
        let table = table(&root).unwrap();
        for right in Right::ALL {
            assert!(table.contains(&format!("`{}`", right.constant())), "{right:?}");
        }
    }

    /// Every known-bad mode of the filter is caught by a probe the table lists.
    #[test]
    fn every_filter_mode_has_its_probe() {
        for mode in super::super::known_bad::FILTER_FAULTS {
            assert!(
                FILTER_PROBES.iter().any(|(_, modes, _)| modes.contains(&mode)),
                "{mode} has no probe in the table"
            );
        }
        let root = crate::supply::guest::workspace_root();
        let table = table(&root).unwrap();
        assert!(table.contains("| `socket@i386` |"), "{table}");
        assert!(table.contains("`openshell-seccomp`"), "{table}");
    }

    /// A filter probe counts where its expectation passed, by prefix: `socket AF_INET ` is not
    /// `socket AF_INET6`.
    #[test]
    fn a_filter_probe_is_read_by_its_prefix() {
        let snap = "kernel: k\nenvironment: bare\nexpectations:\n- expect: probe socket AF_INET6 SOCK_DGRAM → denied EPERM by filter\n  status: pass\n- expect: probe socket AF_INET SOCK_STREAM → denied EPERM by filter\n  status: skipped\n";
        assert_eq!(read_cell_by(snap, "probe socket AF_INET ").probe_passed, 0);
        assert_eq!(read_cell_by(snap, "probe socket AF_INET6").probe_passed, 1);
    }
}
