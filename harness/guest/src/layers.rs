//! A case's outer Landlock layers (`Case::layers`, a scenario's `setup.layers`): the domain the
//! enforcer starts inside, as an agent's sandboxed tool or a restricted container entrypoint
//! would start it. The reference enforcer's layer mode (`lockgate-enforcer --layer FILE… --
//! COMMAND`) applies them, one `restrict_self` each, outermost first, and execs the command:
//! the enforcer under test in the enforced run, the probe runner in the control run. The
//! unlayered run starts the probe runner without them.

use lockgate_protocol::{Case, Peer, ProbeTarget, RunObservation, Step, ENFORCER_BIN, LAYER_DIR};

/// The layer files the case's runs read: (guest path, policy document), in order.
pub fn files(case: &Case) -> Vec<(String, String)> {
    case.layers.iter().enumerate().map(|(n, doc)| (format!("{LAYER_DIR}/{n}.yaml"), doc.clone())).collect()
}

/// The program and argv that start `program` (with `argv`, whose first element is its argv[0])
/// inside the case's layers; unchanged without layers.
pub fn wrap(case: &Case, program: String, argv: Vec<String>) -> (String, Vec<String>) {
    if case.layers.is_empty() {
        return (program, argv);
    }
    let mut wrapped = vec![ENFORCER_BIN.to_string()];
    for (path, _) in files(case) {
        wrapped.extend(["--layer".to_string(), path]);
    }
    // A `layer` peer: forked by the layer mode inside the layers, as the run's uid.
    let wants_peer = case.steps.iter().any(|s| matches!(s, Step::Probe { target: ProbeTarget::Peer(Peer::Layer), .. }));
    if wants_peer {
        wrapped.extend(["--peer".to_string(), format!("{}:{}", case.identity.uid, case.identity.gid)]);
    }
    if let Some(arg0) = argv.first() {
        wrapped.extend(["--arg0".to_string(), arg0.clone()]);
    }
    wrapped.push("--".into());
    wrapped.push(program);
    wrapped.extend(argv.into_iter().skip(1));
    (ENFORCER_BIN.to_string(), wrapped)
}

/// A run that never started because its layers could not be made (the layer mode's exit 125
/// and its message, the runner not started) is a setup error naming why: its steps say nothing
/// about the enforcer.
pub fn check(case: &Case, mut obs: RunObservation) -> RunObservation {
    let message = obs.stderr.lines().find(|l| l.starts_with(&format!("{}: layer ", LAYER_TOOL))).map(str::to_string);
    if let (false, None, "exit:125", Some(message)) = (case.layers.is_empty(), &obs.runner, obs.exit.as_str(), message)
    {
        obs.setup_error = Some(format!("the scenario's layers (setup.layers) could not be applied: {message}"));
    }
    obs
}

/// How the layer mode names itself in its messages.
const LAYER_TOOL: &str = "lockgate-enforcer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_wrap_the_program_and_keep_its_argv0() {
        let mut case: Case = serde_json::from_value(serde_json::json!({
            "id": "s@bare", "setup": {"users": [], "tmpfs": [], "paths": []},
            "identity": {"uid": 0, "gid": 0, "groups": []},
            "enforcer": {"argv": [], "env": [], "files": []}, "steps": [], "workdir": "/"
        }))
        .unwrap();
        let plain = wrap(&case, "/x/enf".into(), vec!["enf".into(), "-p".into()]);
        assert_eq!(plain, ("/x/enf".to_string(), vec!["enf".to_string(), "-p".to_string()]));
        case.layers = vec!["a: 1\n".into(), "b: 2\n".into()];
        assert_eq!(files(&case)[1], ("/lockgate/layers/1.yaml".to_string(), "b: 2\n".to_string()));
        let (program, argv) = wrap(&case, "/x/enf".into(), vec!["enf".into(), "-p".into()]);
        assert_eq!(program, ENFORCER_BIN);
        assert_eq!(
            argv.join(" "),
            "/bin/lockgate-enforcer --layer /lockgate/layers/0.yaml --layer /lockgate/layers/1.yaml --arg0 enf -- /x/enf -p"
        );
    }
}
