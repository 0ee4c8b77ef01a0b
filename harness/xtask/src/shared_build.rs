//! `cargo xtask test` compiles the workspace twice over: `cargo xtask` builds xtask and its
//! dependencies, then `cargo test --workspace` builds every member's tests, where lockgate's
//! dev-dependencies (jsonschema, proptest) turn on more features of crates xtask uses too. A
//! crate built with other features is another build of it, and of every crate above it
//! (lockgate itself among them). xtask's Cargo.toml turns those features on in its own build;
//! this check (part of `cargo xtask lint`) says which crate's features have drifted apart.

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each crate (`name vX.Y.Z`) of a `cargo tree` and the features it is built with.
type Features = BTreeMap<String, BTreeSet<String>>;

/// The crates xtask's build and the test build both compile, with different features: one
/// line each, naming the features and where to add them.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let xtask = tree(root, &["-p", "xtask", "-e", "normal,build"])?;
    let test = tree(root, &["--workspace", "-e", "normal,build,dev"])?;
    Ok(differences(&xtask, &test))
}

fn differences(xtask: &Features, test: &Features) -> Vec<String> {
    xtask
        .iter()
        .filter_map(|(krate, have)| {
            let want = test.get(krate)?;
            (have != want).then(|| {
                let more: Vec<&str> = want.difference(have).map(String::as_str).collect();
                let fewer: Vec<&str> = have.difference(want).map(String::as_str).collect();
                format!(
                    "{krate} is compiled twice by `cargo xtask test`: the test build adds features [{}] and drops [{}]; \
                     turn the same ones on in harness/xtask/Cargo.toml (the `-features` dependencies)",
                    more.join(", "),
                    fewer.join(", ")
                )
            })
        })
        .collect()
}

fn tree(root: &Path, args: &[&str]) -> Result<Features> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(root)
        .args(["tree", "--locked", "--prefix", "none", "-f", "{p}|{f}"])
        .args(args)
        .output()
        .context("cannot run cargo tree")?;
    if !out.status.success() {
        bail!("cargo tree {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// `name vX.Y.Z (path)|feature,feature (*)` lines: a crate's features, keyed by name and
/// version.
fn parse(text: &str) -> Features {
    let mut crates = Features::new();
    for line in text.lines() {
        let Some((package, features)) = line.split_once('|') else { continue };
        let key: Vec<&str> = package.split_whitespace().take(2).collect();
        let features = features.trim_end_matches("(*)").trim();
        crates
            .entry(key.join(" "))
            .or_default()
            .extend(features.split(',').filter(|f| !f.is_empty()).map(str::to_string));
    }
    crates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_with_other_features_is_named() {
        let xtask =
            parse("lockgate v0.1.0 (/w/harness/lockgate)|\nserde_json v1.0.1|std (*)\nserde_json v1.0.1|default\n");
        let test = parse("lockgate v0.1.0 (/w/harness/lockgate)|\nserde_json v1.0.1|default,float_roundtrip,std\nproptest v1.0.0|std\n");
        assert_eq!(xtask["serde_json v1.0.1"].len(), 2);
        let d = differences(&xtask, &test);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("serde_json v1.0.1 is compiled twice"), "{d:?}");
        assert!(d[0].contains("adds features [float_roundtrip] and drops []"), "{d:?}");
        assert!(differences(&test, &test).is_empty());
    }
}
