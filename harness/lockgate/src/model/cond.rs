//! `when:` conditions: on which kernels and environments an expectation holds.
//!
//! Grammar (no parentheses; `&&` binds tighter than `||`):
//! `clause (("&&" | "||") clause)*` where a clause is `abi OP N`, `abi == none`,
//! `abi != none`, `kernel == NAME`, `kernel != NAME`, `env == NAME`, `env != NAME`.
//! `abi` is the Landlock ABI observed *where the probes run* (inside the container for
//! container environments), `none` when the probe failed.

use std::fmt;

/// Highest Landlock ABI any released kernel offers (Linux 7.x: ABI 10). Conditions naming a
/// higher ABI can never hold, which is a mistake in the scenario, not a condition.
pub const HIGHEST_KNOWN_ABI: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    text: String,
    /// Disjunction of conjunctions.
    any_of: Vec<Vec<Clause>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    Abi(Cmp, Option<u32>),
    Kernel(bool, String),
    Env(bool, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What a condition is evaluated against.
pub struct Facts<'a> {
    pub abi: Option<u32>,
    pub kernel: &'a str,
    pub env: &'a str,
}

impl When {
    pub fn parse(text: &str) -> Result<When, String> {
        let mut any_of = Vec::new();
        for alternative in text.split("||") {
            let mut all_of = Vec::new();
            for clause in alternative.split("&&") {
                all_of.push(parse_clause(clause.trim())?);
            }
            any_of.push(all_of);
        }
        Ok(When { text: text.trim().to_string(), any_of })
    }

    pub fn holds(&self, f: &Facts) -> bool {
        self.any_of.iter().any(|all| all.iter().all(|c| c.holds(f)))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Kernel and environment names this condition mentions, for validation against the matrix.
    pub fn names(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.any_of.iter().flatten().filter_map(|c| match c {
            Clause::Kernel(_, n) => Some(("kernel", n.as_str())),
            Clause::Env(_, n) => Some(("env", n.as_str())),
            Clause::Abi(..) => None,
        })
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_clause(s: &str) -> Result<Clause, String> {
    let ops = [("==", Cmp::Eq), ("!=", Cmp::Ne), ("<=", Cmp::Le), (">=", Cmp::Ge), ("<", Cmp::Lt), (">", Cmp::Gt)];
    let (lhs, cmp, rhs) = ops
        .iter()
        .find_map(|(tok, cmp)| s.split_once(tok).map(|(l, r)| (l.trim(), *cmp, r.trim())))
        .ok_or_else(|| format!("`{s}` is not a condition; write e.g. `abi >= 3`, `abi == none`, `kernel == ubuntu-6.8` or `env != bare`"))?;
    if rhs.is_empty() {
        return Err(format!("`{s}` has nothing after the operator"));
    }
    match lhs {
        "abi" => {
            if rhs == "none" {
                return match cmp {
                    Cmp::Eq | Cmp::Ne => Ok(Clause::Abi(cmp, None)),
                    _ => Err(format!("`{s}`: `none` can only be compared with == or !=")),
                };
            }
            let n: u32 = rhs.parse().map_err(|_| format!("`{s}`: `{rhs}` is not an ABI number or `none`"))?;
            // A clause that can never hold is a mistake in the scenario (its expectation would
            // silently never be checked), so it is rejected rather than evaluated.
            let never = match cmp {
                Cmp::Eq | Cmp::Ge => n > HIGHEST_KNOWN_ABI,
                Cmp::Gt => n >= HIGHEST_KNOWN_ABI,
                Cmp::Lt => n <= 1,
                Cmp::Le | Cmp::Ne => false,
            };
            if never || n == 0 || n > HIGHEST_KNOWN_ABI + 1 {
                return Err(format!(
                    "`{s}` is impossible: Landlock ABIs run from 1 to {HIGHEST_KNOWN_ABI}; use `abi == none` for kernels without Landlock"
                ));
            }
            Ok(Clause::Abi(cmp, Some(n)))
        }
        "kernel" | "env" => {
            let eq = match cmp {
                Cmp::Eq => true,
                Cmp::Ne => false,
                _ => return Err(format!("`{s}`: {lhs} names can only be compared with == or !=")),
            };
            if !rhs.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(format!("`{s}`: `{rhs}` is not a {lhs} name"));
            }
            Ok(if lhs == "kernel" { Clause::Kernel(eq, rhs.into()) } else { Clause::Env(eq, rhs.into()) })
        }
        other => Err(format!("`{s}`: unknown subject `{other}`; conditions are on `abi`, `kernel` or `env`")),
    }
}

impl Clause {
    fn holds(&self, f: &Facts) -> bool {
        match self {
            Clause::Abi(Cmp::Eq, None) => f.abi.is_none(),
            Clause::Abi(Cmp::Ne, None) => f.abi.is_some(),
            Clause::Abi(_, None) => false,
            // Without Landlock only `!=` holds: "abi < 3" means "a Landlock older than 3".
            Clause::Abi(cmp, Some(n)) => match f.abi {
                None => *cmp == Cmp::Ne,
                Some(a) => match cmp {
                    Cmp::Eq => a == *n,
                    Cmp::Ne => a != *n,
                    Cmp::Lt => a < *n,
                    Cmp::Le => a <= *n,
                    Cmp::Gt => a > *n,
                    Cmp::Ge => a >= *n,
                },
            },
            Clause::Kernel(eq, n) => (f.kernel == n) == *eq,
            Clause::Env(eq, n) => (f.env == n) == *eq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(abi: Option<u32>) -> Facts<'static> {
        Facts { abi, kernel: "ubuntu-6.8", env: "bare" }
    }

    #[test]
    fn abi_comparisons() {
        let w = When::parse("abi >= 3").unwrap();
        assert!(w.holds(&on(Some(4))));
        assert!(!w.holds(&on(Some(1))));
        assert!(!w.holds(&on(None)));
        assert!(When::parse("abi == none").unwrap().holds(&on(None)));
        assert!(!When::parse("abi == none").unwrap().holds(&on(Some(1))));
        assert!(!When::parse("abi < 3").unwrap().holds(&on(None)), "no Landlock is not an old Landlock");
    }

    #[test]
    fn names_and_connectives() {
        let w = When::parse("abi >= 1 && env == bare || kernel == debian-5.10").unwrap();
        assert!(w.holds(&on(Some(1))));
        assert!(!w.holds(&Facts { abi: Some(1), kernel: "x", env: "docker-20.10.5" }));
        assert!(w.holds(&Facts { abi: None, kernel: "debian-5.10", env: "docker-20.10.5" }));
        assert!(!When::parse("kernel != ubuntu-6.8").unwrap().holds(&on(None)));
    }

    #[test]
    fn impossible_or_malformed_conditions_are_errors() {
        for bad in ["abi >= 99", "abi > 10", "abi == 0", "abi >= none", "abi", "kernel > a", "arch == x86", "abi >= three"] {
            assert!(When::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
