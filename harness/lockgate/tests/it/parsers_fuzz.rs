//! Property tests: the scenario and manifest parsers never panic, whatever the text — they
//! answer with a value or an error that names the file.

use lockgate::internals::model::{load_kernel, load_scenario};
use proptest::prelude::*;

const SEED: &str = include_str!("../../../../scenarios/openshell-803.yaml");
const KERNEL: &str = include_str!("../../../../kernels/ubuntu-6.8.yaml");

/// Valid files with a random byte range replaced: near-misses reach deep into the parsers.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    (0..base.len(), 0..40usize, proptest::collection::vec(any::<u8>(), 0..24)).prop_map(move |(at, len, bytes)| {
        let mut v = base.as_bytes().to_vec();
        let end = (at + len).min(v.len());
        v.splice(at..end, bytes);
        String::from_utf8_lossy(&v).into_owned()
    })
}

/// Random YAML-looking text built from the grammar's own words.
fn yamlish() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just("name: x\n"),
        Just("policy:\n"),
        Just("  filesystem_policy: {read_only: [/bin]}\n"),
        Just("expect:\n"),
        Just("  - {run: touch /a, denied: EACCES}\n"),
        Just("  - {probe: rename /a, allowed: true}\n"),
        Just("  - {enforcement: full, when: 'abi >= 99'}\n"),
        Just("setup: {paths: [{path: /s, kind: dir, mode: '0999'}]}\n"),
        Just("abi: none\n"),
        Just("source: {package: {distro: debian}}\n"),
        Just("- [\n"),
        Just("{{{\n"),
        Just(": :\n"),
        Just("\t\n"),
        Just("&a *a\n"),
        Just("!tag x\n"),
        Just("when: 'abi == none || kernel != x && env == bare'\n"),
    ];
    proptest::collection::vec(words, 0..12).prop_map(|w| w.concat())
}

fn check(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fuzz.yaml");
    std::fs::write(&file, text).unwrap();
    if let Err(e) = load_scenario(&file) {
        assert!(format!("{e:#}").contains("fuzz.yaml"), "an error must name the file: {e:#}");
    }
    if let Err(e) = load_kernel(&file) {
        assert!(format!("{e:#}").contains("fuzz.yaml"), "an error must name the file: {e:#}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic(text in mutated(SEED)) {
        check(&text);
    }

    #[test]
    fn mutated_manifests_never_panic(text in mutated(KERNEL)) {
        check(&text);
    }

    #[test]
    fn yamlish_text_never_panics(text in yamlish()) {
        check(&text);
    }
}
