//! Observing one case, whatever its environment: the one thing the agent calls per case.
//!
//! A case is prepared once (accounts, enforcer files), then its two runs happen either here, on
//! the VM, or inside a container (`container.rs` starts it, `container_serve.rs` is its PID 1).
//! Either way each run goes through [`observe_run`], so a run is the same thing everywhere: a
//! fresh tree, the listeners its connect probes need, the run, its orphans reaped.

use crate::clock::monotonic;
use crate::console::log;
use crate::setup::{self, Tree};
use crate::{apparmor, container, layers, peers, preflight, run, spawn};
use lockgate_protocol::{Case, CaseObservation, CaseTiming, Container, RunObservation};

/// Both runs of a case, and how long they took. Case-level preparation (accounts, enforcer
/// files) that fails is a setup error of both runs: the case record is still sent, so the host
/// knows which case it was.
pub fn observe(case: &Case) -> (CaseObservation, CaseTiming) {
    let started = monotonic();
    let mut timing = CaseTiming { id: case.id.clone(), ..Default::default() };
    // Every case starts from the same tree, whatever ran before it in this boot. (Done before
    // the case, not after it, so that `--shell` finds the last case's files in place.)
    for problem in setup::restore_baseline() {
        log(&problem);
    }
    // The AppArmor policy of the case's environment (or none) in place before anything else.
    let prepared = apparmor::ensure(case.apparmor.as_ref())
        .and_then(|()| setup::write_accounts(&case.setup.users))
        .and_then(|()| setup::write_files(&case.enforcer.files))
        .and_then(|()| setup::write_files(&layers::files(case)));
    let observation = match (&case.container, &prepared) {
        (Some(container), Ok(())) => {
            let (mut obs, runs) = container::observe(case, container);
            (timing.control, timing.enforced) = runs.unwrap_or_default();
            if container.runs_outside_too() && runs.is_some() {
                obs.outside = Some(outside_container(case, container));
            }
            obs
        }
        _ => {
            let observe = |run: fn(&Case) -> RunObservation| match &prepared {
                Ok(()) => observe_run(case, Tree::default, run),
                Err(e) => (RunObservation { setup_error: Some(e.clone()), ..Default::default() }, 0.0),
            };
            let (control, control_s) = match &case.control_of {
                Some(of) => shared_control(of),
                None => observe(run::control),
            };
            let unlayered = (!case.layers.is_empty()).then(|| observe(run::unlayered).0);
            let (enforced, enforced_s) = observe(run::enforced);
            (timing.control, timing.enforced) = (control_s, enforced_s);
            CaseObservation {
                id: case.id.clone(),
                landlock: preflight::landlock_abi(),
                environment_error: None,
                control,
                enforced,
                unlayered,
                outside: None,
            }
        }
    };
    timing.total = monotonic() - started;
    (observation, timing)
}

/// One run on a tree made by `tree`, with the listeners its connect probes need; then the tree
/// torn down and the run's orphans reaped, so the next run starts clean. The AppArmor denials the
/// kernel logged meanwhile are the run's (`apparmor_denials`). Also returns the
/// seconds the run's processes took (the tree not included).
///
/// An isolated case (`isolate: true`) runs each step alone on a fresh tree, the enforcer
/// started once per step; a case with isolated steps (`Case::isolated`) runs each of them
/// alone and the stretches between them together ([`Case::stretches`]). The observations are
/// joined in step order, up to the first stretch that gave fewer results than it has steps (its
/// run's exit and stderr then say why).
pub fn observe_run(case: &Case, tree: fn() -> Tree, run: fn(&Case) -> RunObservation) -> (RunObservation, f64) {
    let stretches = case.stretches();
    if stretches.len() <= 1 {
        return observe_on(case, tree(), run);
    }
    let mut joined: Option<RunObservation> = None;
    let mut took = 0.0;
    for stretch in &stretches {
        let steps: Vec<_> = stretch.iter().map(|&i| case.steps[i].clone()).collect();
        let alone = Case { steps, ..case.clone() };
        let (obs, s) = observe_on(&alone, tree(), run);
        took += s;
        let complete = obs.steps.len() == stretch.len();
        joined = Some(match joined {
            None => obs,
            Some(mut j) => {
                j.steps.extend(obs.steps.iter().cloned());
                j.apparmor_denials.extend(obs.apparmor_denials.iter().cloned());
                match complete {
                    true => j,
                    false => RunObservation {
                        steps: j.steps,
                        missing_paths: j.missing_paths,
                        apparmor_denials: j.apparmor_denials,
                        ..obs
                    },
                }
            }
        });
        if !complete {
            break;
        }
    }
    (joined.unwrap_or_default(), took)
}

fn observe_on(case: &Case, mut tree: Tree, run: fn(&Case) -> RunObservation) -> (RunObservation, f64) {
    let ready =
        tree.prepare(&case.setup).and_then(|()| Ok(setup::start_listeners(&case.steps, case.setup.listen.as_deref())?));
    let ready =
        ready.and_then(|listeners| Ok(peers::start(case).map(|(peers, resolved)| (listeners, peers, resolved))?));
    let (observation, took) = match ready {
        Ok((_listeners, _peers, resolved)) => {
            // listeners and peers stop when dropped, after the run
            let missing_paths = missing(&case.policy_paths, case.chroot.as_deref());
            let started = monotonic();
            // Under an AppArmor environment, what it refused during the run.
            let mut kernel_log = case.apparmor.as_ref().map(|_| apparmor::KernelLog::from_now());
            let obs = run(resolved.as_ref().unwrap_or(case));
            let took = monotonic() - started;
            let apparmor_denials = kernel_log.as_mut().map(apparmor::KernelLog::apparmor_denials).unwrap_or_default();
            let setup_notes = std::mem::take(&mut tree.notes);
            (RunObservation { missing_paths, apparmor_denials, setup_notes, ..obs }, took)
        }
        Err(f) => {
            let obs = RunObservation { setup_error: Some(f.message), setup_refused: f.refused, ..Default::default() };
            (obs, 0.0)
        }
    };
    for problem in tree.teardown() {
        log(&problem);
    }
    spawn::reap_orphans();
    (observation, took)
}

/// Under a runtime lockgate has no table of (`Container::runs_outside_too`: gVisor, whose
/// Sentry, not the VM's kernel, answers every call of the container; systemd-nspawn, whose
/// filter, capability set and mounts are its own) the control run made again here on the VM, on
/// fresh tmpfs as a bare run makes them, shows what the VM's kernel answers the same probes
/// (`CaseObservation::outside`), so that a denial both runs in the container share can be told
/// to be the runtime's. It runs as the case's identity, as the control run in the container does
/// (`run::control`; nspawn makes no user namespace, so a uid there is the same uid here, and the
/// judge checks the runners' uids agree). runsc's mount namespace is private
/// (`container::gvisor_root`), and nspawn's tmpfs for the case are gone by now: the tmpfs mounted
/// here are not seen in the container.
fn outside_container(case: &Case, container: &Container) -> RunObservation {
    let (run, took) = observe_run(case, Tree::default, run::control);
    log(&format!("{}: the control run outside {} took {took:.2}s", case.id, container.env));
    run
}

/// A case whose control run is another's (`control_of`): no run is made here; the host puts
/// that case's control run in place before judging.
pub fn shared_control(of: &str) -> (RunObservation, f64) {
    (RunObservation { exit: format!("shared with {of}"), ..Default::default() }, 0.0)
}

/// Which of `paths` do not exist, symlinks followed as an enforcer opening its rule paths does:
/// under the case's root when it has one (`chroot`), where the enforcer resolves them.
fn missing(paths: &[String], root: Option<&str>) -> Vec<String> {
    let under = |p: &String| match root {
        Some(r) => format!("{}{p}", r.trim_end_matches('/')),
        None => p.clone(),
    };
    paths.iter().filter(|p| std::fs::metadata(under(p)).is_err()).cloned().collect()
}
