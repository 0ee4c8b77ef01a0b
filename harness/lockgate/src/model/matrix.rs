//! The matrices a kernel or an environment belongs to (`matrix:` in its manifest), and what
//! `--kernel` and `--env` select by them: the one rule for both axes.

use anyhow::{bail, Result};
use serde::{Deserialize, Deserializer};

/// The matrices a kernel or an environment can belong to. Each wider one includes the narrower:
/// a nightly run boots the default kernels too, `all` takes every manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Matrix {
    /// Every run that names none (no `--kernel`, no `--env`): pull requests, the mutation gate,
    /// the bench.
    #[default]
    Default,
    /// The nightly run (`--kernel nightly`, `--env nightly`): costlier members that add little
    /// a default one does not already show, or that cost too much for every run.
    Nightly,
    /// Only when named (or `all`).
    OptIn,
}

impl Matrix {
    /// Whether a run that names none (no `--kernel`, no `--env`) selects a member of this matrix.
    pub fn in_default_run(self) -> bool {
        self == Matrix::Default
    }

    /// Whether `nightly` selects a member of this matrix: the default matrix and the nightly one.
    pub fn in_nightly_run(self) -> bool {
        self <= Matrix::Nightly
    }
}

impl std::fmt::Display for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Matrix::Default => "default",
            Matrix::Nightly => "nightly",
            Matrix::OptIn => "opt-in",
        })
    }
}

impl std::str::FromStr for Matrix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(Matrix::Default),
            "nightly" => Ok(Matrix::Nightly),
            "opt-in" => Ok(Matrix::OptIn),
            _ => Err(format!(
                "`{s}` is no matrix: write `default` (every run), `nightly` (runs named `nightly`, the nightly workflow's) or `opt-in` (only when named, or `all`)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Matrix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A kernel or an environment, as `--kernel` and `--env` select it.
pub trait Member {
    fn name(&self) -> &str;
    fn matrix(&self) -> Matrix;
}

impl<T: Member> Member for &T {
    fn name(&self) -> &str {
        (*self).name()
    }
    fn matrix(&self) -> Matrix {
        (*self).matrix()
    }
}

/// The members `asked` selects, as indices into `members` in their order: none asked → the
/// default matrix; `nightly` → the default and nightly matrices; `all` → every member; else those
/// named (with `nightly`, those too). A name no member has is an error listing the known ones
/// (`kind` says of what: `kernel`, `environment`).
pub fn select<M: Member>(kind: &str, members: &[M], asked: &[String]) -> Result<Vec<usize>> {
    if asked.iter().any(|a| a == "all") {
        return Ok((0..members.len()).collect());
    }
    if asked.is_empty() {
        return Ok((0..members.len()).filter(|&i| members[i].matrix().in_default_run()).collect());
    }
    let mut known: Vec<&str> = members.iter().map(|m| m.name()).collect();
    known.extend(["all", "nightly"]);
    for a in asked {
        if !known.contains(&a.as_str()) {
            bail!("no {kind} is named `{a}`; known {kind}s: {}", known.join(", "));
        }
    }
    let nightly = asked.iter().any(|a| a == "nightly");
    Ok((0..members.len())
        .filter(|&i| asked.iter().any(|n| n == members[i].name()) || nightly && members[i].matrix().in_nightly_run())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct M(&'static str, Matrix);
    impl Member for M {
        fn name(&self) -> &str {
            self.0
        }
        fn matrix(&self) -> Matrix {
            self.1
        }
    }

    fn pick(asked: &[&str]) -> Result<Vec<&'static str>> {
        let members =
            [M("a", Matrix::Default), M("b", Matrix::OptIn), M("c", Matrix::Nightly), M("d", Matrix::Default)];
        let asked: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
        Ok(select("kernel", &members, &asked)?.into_iter().map(|i| members[i].0).collect())
    }

    #[test]
    fn every_selection_by_matrix() {
        assert_eq!(pick(&[]).unwrap(), ["a", "d"]);
        assert_eq!(pick(&["nightly"]).unwrap(), ["a", "c", "d"]);
        assert_eq!(pick(&["all"]).unwrap(), ["a", "b", "c", "d"]);
        assert_eq!(pick(&["b"]).unwrap(), ["b"], "a name takes its member whatever its matrix");
        assert_eq!(pick(&["c"]).unwrap(), ["c"]);
        assert_eq!(pick(&["nightly", "b"]).unwrap(), ["a", "b", "c", "d"]);
        let err = pick(&["e"]).unwrap_err().to_string();
        assert_eq!(err, "no kernel is named `e`; known kernels: a, b, c, d, all, nightly");
    }

    #[test]
    fn a_matrix_is_read_from_its_word_or_refused_with_the_words() {
        for m in [Matrix::Default, Matrix::Nightly, Matrix::OptIn] {
            assert_eq!(m.to_string().parse::<Matrix>(), Ok(m));
        }
        let err = "weekly".parse::<Matrix>().unwrap_err();
        assert!(err.starts_with("`weekly` is no matrix: write `default`") && err.contains("`opt-in`"), "{err}");
    }
}
