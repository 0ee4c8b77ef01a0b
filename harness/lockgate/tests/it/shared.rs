//! Runs several tests share (issue 30): tests that boot the same kernel, in the same
//! environments, with the reference enforcer (correct or with a known-bad mode) have their
//! cases planned into one run, as the mutation gate plans its modes: each test's enforcer is a
//! variant of the run ([`RunOptions::variants`]), on its own scenarios, so the kernel boots once
//! for all of them. Each run is made once per test process (`OnceLock`), by whichever test asks
//! first; each test then picks its own cells (scenario and variant) and asserts on them alone.
//!
//! Why a test sees what it saw in a run of its own: every case of a boot starts from the same
//! root tree, with a fresh tree of its own, its own users and policy files (the guest restores
//! the tree first; `outside_runs::every_case_starts_from_the_same_tree` checks it), so a cell's
//! observation does not depend on the other cases of its boot; each cell is judged from its
//! own case alone; a variant's case differs from another's only in its enforcer call, and
//! borrows a control run only when that run's inputs are the same (`plan::plan_variants`).
//! What a shared run cannot give is kept out: the guest's own faults, a changed kernel
//! manifest, another adapter, a deadline or a judging option apply to a whole run, and the
//! tests that need them run alone.

use crate::common;
use lockgate::internals::run::{run, RunReport, VariantOptions};
use lockgate::CellResult;
use std::sync::OnceLock;

/// A run made once, its directory (scenarios, evidence files) kept for the process's life.
pub struct Shared {
    pub dir: tempfile::TempDir,
    pub report: RunReport,
}

impl Shared {
    /// The cell of `scenario` of variant `variant` on `kernel` in `env`.
    pub fn cell(&self, kernel: &str, env: &str, scenario: &str, variant: usize) -> &CellResult {
        self.report
            .cells
            .iter()
            .find(|c| c.kernel == kernel && c.env == env && c.scenario == scenario && c.variant == variant)
            .unwrap_or_else(|| {
                panic!("no cell {scenario}@{kernel}@{env} of variant {variant} in {:#?}", self.report.cells)
            })
    }
}

fn variant(faults: &[&str], scenarios: &[&str], envs: &[&str], judge_as_bare: bool) -> VariantOptions {
    let mut v = VariantOptions { judge_as_bare, ..Default::default() };
    v.faults = faults.iter().map(|f| f.to_string()).collect();
    v.within.scenarios = scenarios.iter().map(|s| s.to_string()).collect();
    v.within.envs = envs.iter().map(|e| e.to_string()).collect();
    v
}

/// Debian 6.12 (Landlock ABI 6), bare: six tests' runs in one boot.
///
/// - variant 0, `baseline-rw` (its cells alone get output and provenance files, under the
///   fault's own directory): `openshell-803-deployed` and `dac-only`
///   (`outside_runs::every_cell_keeps_its_whole_output_in_a_file`,
///   `verdict_words::baseline_rw_is_explained_by_the_sentinel_and_kept_apart`) and
///   `native-openshell` (`native_policy::the_network_section_of_a_native_policy_reaches_the_enforcer`);
///   it also runs the other scenarios below, whose cells no test reads but the HTML report's
///   (`html_report::the_html_report_opens_offline_and_a_failing_cell_opens_its_details` renders
///   every variant-0 cell, `openshell-803-deployed` failing on purpose under `baseline-rw`);
/// - variant 1, the correct enforcer: the issue-24 scenarios
///   (`verdict_words::the_same_failure_in_both_runs_is_the_operations_own`) and
///   `native-openshell` (`native_policy::a_native_openshell_policy_runs_unchanged`) and
///   `syscall-probes-bare` (`syscall_probes::each_probe_answers_the_kernels_own_errno`);
/// - variant 2, `no-connect-tcp`: `binds-and-connects`
///   (`verdict_words::denied_binds_are_evidence_when_a_connect_goes_through`);
/// - issue 28 (`crossing`): variant 1 also runs `inherited-descriptor` and `rights-per-rule`;
///   variant 3, `leak-fd`, runs `inherited-descriptor`; variant 4, `handled-from-rules`, runs
///   `rights-per-rule`; variant 1 also runs `landlock-layers`, `landlock-max-layers` and
///   `descriptors-before-sandbox`, variant 5, `ignore-restrict-error`, `landlock-max-layers`,
///   and variant 6, `leak-dirfd`, `descriptors-before-sandbox`.
pub fn debian_6_12() -> &'static Shared {
    static RUN: OnceLock<Shared> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (deployed, dac, by_op, one_port) = (
            common::shipped("openshell-803-deployed"),
            common::shipped("dac-only"),
            common::shipped("same-errno-by-operation"),
            common::shipped("bind-and-connect-one-port"),
        );
        let (inherited, per_rule) = (common::shipped("inherited-descriptor"), common::shipped("rights-per-rule"));
        let (layers, max_layers, before) = (
            common::shipped("landlock-layers"),
            common::shipped("landlock-max-layers"),
            common::shipped("descriptors-before-sandbox"),
        );
        let mut o = common::options(
            &["debian-6.12"],
            &["bare"],
            &[
                ("openshell-803-deployed", &deployed),
                ("dac-only", &dac),
                ("native-openshell", crate::native_policy::NATIVE),
                ("same-errno-not-dac", crate::verdict_words::SAME_ERRNO),
                ("same-errno-by-operation", &by_op),
                ("bind-and-connect-one-port", &one_port),
                ("binds-and-connects", crate::verdict_words::BINDS),
                ("syscall-probes-bare", crate::syscall_probes::PROBES),
                ("inherited-descriptor", &inherited),
                ("rights-per-rule", &per_rule),
                ("landlock-layers", &layers),
                ("landlock-max-layers", &max_layers),
                ("descriptors-before-sandbox", &before),
            ],
            dir.path(),
        );
        o.enforcer.faults = vec!["baseline-rw".into()];
        let correct = [
            "same-errno-not-dac",
            "same-errno-by-operation",
            "bind-and-connect-one-port",
            "native-openshell",
            "syscall-probes-bare",
            "inherited-descriptor",
            "rights-per-rule",
            "landlock-layers",
            "landlock-max-layers",
            "descriptors-before-sandbox",
        ];
        o.variants = vec![
            variant(&[], &correct, &[], false),
            variant(&["no-connect-tcp"], &["binds-and-connects"], &[], false),
            variant(&["leak-fd"], &["inherited-descriptor"], &[], false),
            variant(&["handled-from-rules"], &["rights-per-rule"], &[], false),
            variant(&["ignore-restrict-error"], &["landlock-max-layers"], &[], false),
            variant(&["leak-dirfd"], &["descriptors-before-sandbox"], &[], false),
        ];
        let report = run(&o).unwrap();
        assert_eq!(report.boots(), 1, "one boot for every test of the group");
        Shared { dir, report }
    })
}

/// Ubuntu 6.8 (ABI 4), bare: variant 0, the correct enforcer, on the seed and a DAC denial
/// mislabelled as the sandbox's (`vm::seed_is_denied_by_the_sandbox_and_a_dac_denial_is_not`);
/// variant 1, `abi2`, on `truncate-read-only`
/// (`outside_runs::an_unhandled_right_is_not_explained_as_landlock_off`).
pub fn ubuntu_6_8() -> &'static Shared {
    static RUN: OnceLock<Shared> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (seed, truncate) = (common::shipped("openshell-803"), common::shipped("truncate-read-only"));
        let mut o = common::options(
            &["ubuntu-6.8"],
            &["bare"],
            &[("seed", &seed), ("dac", crate::vm::DAC_MISLABELLED), ("truncate-read-only", &truncate)],
            dir.path(),
        );
        o.variants = vec![variant(&["abi2"], &["truncate-read-only"], &[], false)];
        let report = run(&o).unwrap();
        assert_eq!(report.boots(), 1, "one boot for both tests");
        Shared { dir, report }
    })
}

/// Ubuntu 5.15 (ABI 1), bare and Docker 20.10.5, the correct enforcer: the portable scenario
/// (`containers::the_portable_scenario_fails_where_docker_20_10_5_takes_landlock_from_ubuntu_5_15`)
/// and `native-openshell` (`native_policy::a_native_openshell_policy_runs_unchanged`, which
/// reads its bare cell).
pub fn ubuntu_5_15() -> &'static Shared {
    static RUN: OnceLock<Shared> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let o = common::options(
            &["ubuntu-5.15"],
            &["bare", "docker-20.10.5"],
            &[("portable", crate::containers::PORTABLE), ("native-openshell", crate::native_policy::NATIVE)],
            dir.path(),
        );
        let report = run(&o).unwrap();
        assert_eq!(report.boots(), 1, "one boot for both tests");
        Shared { dir, report }
    })
}
