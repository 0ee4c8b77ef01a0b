//! `cargo xtask bench` end to end on one real kernel, once: the benchmark must keep working and
//! its figures must be internally consistent. It asserts no timing bound (speed is what the
//! benchmark reports, not what a test decides).

use std::process::Command;

#[test]
fn one_round_on_the_tiny_kernel_accounts_for_its_time() {
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        // A generated scenario of 2,000 expectations, not 100,000, one container environment
        // measured against bare, not every one (the whole-matrix figures still take them all),
        // and four scenarios, not the suite (the gate too, with the modes that run them, each
        // caught by one of the four): the test checks the figures' consistency, not the speed. The whole suite made this test a
        // fifth of the test command's VM time, beside the tests it ran with.
        .args(["bench", "--repeat", "1", "--kernel", "debian-6.12-tiny", "--large-expectations", "2000"])
        .args(["--scenario", "openshell-803,read-only-vs-read-write,root-only-rule-path,tcp-bind-connect"])
        .args(["--env", "bare,docker-26.1.5", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    let rows = b["kernels"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r["kernel"].as_str(), r["scenarios"].as_u64()), (Some("debian-6.12-tiny"), Some(4)));
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    assert!(f(&r["floor_s"]) > 0.0);
    assert!(f(&r["floor_s"]) > 0.0 && f(&r["all_scenarios_s"]) > 0.0, "{r}");
    // The guest's account covers the cell's wall time exactly (one round: no medians to mix).
    let d = &r["breakdown"];
    let sum = f(&d["to_agent_s"]) + f(&d["preflight_s"]) + f(&d["cases_s"]) + f(&d["rest_s"]);
    assert!((sum - f(&r["all_scenarios_s"])).abs() < 1e-6, "{d} against {}", r["all_scenarios_s"]);
    // The cell ran its cases, by the guest's own clock (four scenarios' cases take less than
    // two boots of the same kernel differ by, so the cell's wall time against the floor's
    // would not tell).
    assert!(f(&d["cases_s"]) > 0.0, "{d}");
    assert!(f(&d["case_control_s"]) > 0.0 && f(&d["case_enforced_s"]) > 0.0, "{d}");
    assert!(f(&r["peak_rss_mib"]) > 0.0);

    // The environments asked for are measured on one kernel, bare among them, each against bare.
    let envs = b["envs"].as_array().unwrap();
    assert_eq!(envs.iter().map(|e| e["env"].as_str().unwrap()).collect::<Vec<_>>(), ["bare", "docker-26.1.5"]);
    let containers: Vec<&serde_json::Value> = envs.iter().filter(|e| e["env"] != "bare").collect();
    for e in &containers {
        assert!(f(&e["cell_s"]) > 0.0 && f(&e["bare_s"]) > 0.0 && f(&e["case_runs_s"]) > 0.0, "{e}");
    }
    // The whole default matrix against the bare-only one, and the floor of that ratio.
    assert!(f(&b["matrix_all_envs_s"]) > f(&b["matrix_bare_s"]), "five environments' cases take longer than one's");
    assert!(f(&b["ratio_matrix_floor"]) > 1.0, "{}", b["ratio_matrix_floor"]);
    assert!(f(&b["matrix_j1_s"]) > 0.0 && f(&b["matrix_jn_s"]) > 0.0);
    let phases = b["warm_host_phases"].as_array().unwrap();
    assert!(phases.iter().any(|p| p[0] == "guest binaries"), "{phases:?}");

    // The mutation gate, in the same run: one boot for its one kernel, and it passed.
    let g = &b["gate"];
    assert_eq!(
        (g["kernels"].as_u64(), g["boots"].as_u64(), g["passed"].as_bool()),
        (Some(1), Some(1), Some(true)),
        "{g}"
    );
    assert!(f(&b["ratio_gate_to_matrix"]) > 0.0);
    // The generated scenario: booted, judged, snapshotted; each step timed.
    let l = &b["large"];
    assert_eq!((l["expectations"].as_u64(), l["operations"].as_u64()), (Some(2000), Some(1000)), "{l}");
    assert!(f(&l["boot_s"]) > 0.0 && f(&l["judge_s"]) > 0.0 && f(&l["snapshot_s"]) > 0.0, "{l}");

    // Every target is checked and reported, met or not.
    let targets = b["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2 + containers.len() + 3 + 3, "{targets:?}");
    for t in targets {
        assert!(t["met"].is_boolean() && f(&t["measured"]).is_finite(), "{t}");
        let line = t["what"].as_str().unwrap();
        assert!(stdout.contains(line), "the table lacks `{line}`:\n{stdout}");
    }
}
