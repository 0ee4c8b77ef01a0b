//! Reading an enforcer's claim about itself from its stderr.
//!
//! An enforcer's adapter gives rules: regular expressions tried in order over the
//! lines of stderr; the first rule that matches any line decides, and the last line it matches is
//! the claim line. A rule maps to a claim either by `claim:` or by a named group
//! `(?P<claim>…)` whose text is `full`, `partial`, `none` or `refused`. An adapter may also say
//! the enforcer makes no claim at all: enforcement expectations then fail with that reason.

use crate::model::scenario::Claim;
use regex::Regex;
use serde::Deserialize;

/// How the judge reads the claim.
#[derive(Debug, Clone)]
pub enum ClaimReader {
    Rules(Vec<ClaimRule>),
    /// The enforcer says nothing about its enforcement (the adapter's `claim: unsupported`).
    Unsupported,
}

#[derive(Debug, Clone)]
pub struct ClaimRule {
    pub regex: Regex,
    /// `None`: the claim is the text of the named group `claim`.
    pub claim: Option<Claim>,
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Claimed(Claim, String),
    /// Nothing matched.
    Nothing,
    /// The adapter says there is nothing to read.
    Unsupported,
}

impl Reading {
    pub fn claim(&self) -> Option<(Claim, &str)> {
        match self {
            Reading::Claimed(c, l) => Some((*c, l.as_str())),
            _ => None,
        }
    }
}

/// The text that stands for a missing claim in verdicts and snapshots.
pub const NO_CLAIM_PRINTED: &str = "(no claim printed)";
pub const NO_CLAIM_MADE: &str = "(this enforcer makes no claim: its adapter says `claim: unsupported`)";

fn word(s: &str) -> Option<Claim> {
    match s {
        "full" => Some(Claim::Full),
        "partial" => Some(Claim::Partial),
        "none" => Some(Claim::None),
        "refused" => Some(Claim::Refused),
        _ => None,
    }
}

impl ClaimReader {
    pub fn read(&self, stderr: &str) -> Reading {
        match self {
            ClaimReader::Unsupported => Reading::Unsupported,
            ClaimReader::Rules(rules) => {
                for rule in rules {
                    let found = stderr.lines().rev().find_map(|line| {
                        let caps = rule.regex.captures(line)?;
                        let claim = match rule.claim {
                            Some(c) => Some(c),
                            None => caps.name("claim").and_then(|m| word(m.as_str())),
                        }?;
                        Some((claim, line.trim().to_string()))
                    });
                    if let Some((c, l)) = found {
                        return Reading::Claimed(c, l);
                    }
                }
                Reading::Nothing
            }
        }
    }
}

impl ClaimReader {
    /// The enforcer's claim about its own seccomp filter: a rule's named group `filter`
    /// (`on` or `off`) on the last line it matches, with that line. `None`: it says nothing
    /// about a filter.
    pub fn filter(&self, stderr: &str) -> Option<(bool, String)> {
        let ClaimReader::Rules(rules) = self else { return None };
        rules.iter().find_map(|rule| {
            stderr.lines().rev().find_map(|line| {
                let on = match rule.regex.captures(line)?.name("filter")?.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return None,
                };
                Some((on, line.trim().to_string()))
            })
        })
    }
}

/// `claim:` in an adapter file: a list of rules, or `unsupported`.
#[derive(Debug, Clone)]
pub struct ClaimSpec(pub ClaimReader);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRule {
    /// A regex tried on each line of the enforcer's stderr (and of its stdout when the probe
    /// runner never ran); the first rule that matches any line decides.
    regex: String,
    /// The claim when it matches: `full`, `partial`, `none` or `refused`. Absent: the regex's
    /// named group `(?P<claim>…)` says it.
    #[serde(default)]
    claim: Option<Claim>,
}

/// What `ClaimSpec`'s deserialiser accepts.
impl schemars::JsonSchema for ClaimSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClaimSpec".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let rule = g.subschema_for::<RawRule>();
        schemars::json_schema!({
            "description": "How to read the enforcer's claim from its stderr: a list of rules, or `unsupported`.",
            "anyOf": [{"const": "unsupported"}, {"type": "array", "items": rule, "minItems": 1}]
        })
    }
}

impl<'de> Deserialize<'de> for ClaimSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        parse_spec(value).map(ClaimSpec).map_err(serde::de::Error::custom)
    }
}

fn parse_spec(value: serde_yaml::Value) -> Result<ClaimReader, String> {
    const HOW: &str = "write a list of rules like `- {regex: '^Executing', claim: full}` (or a regex with a `(?P<claim>…)` group), or `unsupported` when the enforcer says nothing about its enforcement";
    match value {
        serde_yaml::Value::String(s) if s == "unsupported" => Ok(ClaimReader::Unsupported),
        serde_yaml::Value::Sequence(items) => {
            if items.is_empty() {
                return Err(format!("an empty list of claim rules: {HOW}"));
            }
            let mut rules = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let raw: RawRule = serde_yaml::from_value(item).map_err(|e| format!("rule {i}: {e}"))?;
                let regex = Regex::new(&raw.regex)
                    .map_err(|e| format!("rule {i}: `{}` is not a valid regular expression: {e}", raw.regex))?;
                let named = regex.capture_names().any(|n| n == Some("claim"));
                match (&raw.claim, named) {
                    (Some(_), true) => return Err(format!("rule {i}: give either `claim:` or a `(?P<claim>…)` group, not both")),
                    (None, false) => return Err(format!("rule {i}: say what a match means: `claim: full|partial|none|refused`, or a `(?P<claim>…)` group in the regex")),
                    _ => {}
                }
                rules.push(ClaimRule { regex, claim: raw.claim });
            }
            Ok(ClaimReader::Rules(rules))
        }
        other => Err(format!(
            "`{}` is not a claim rule list: {HOW}",
            serde_yaml::to_string(&other).unwrap_or_default().trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Result<ClaimReader, String> {
        serde_yaml::from_str::<ClaimSpec>(yaml).map(|s| s.0).map_err(|e| e.to_string())
    }

    #[test]
    fn rules_are_tried_in_order_and_the_last_matching_line_is_the_claim() {
        let r = spec(
            "- {regex: '^Executing the sandboxed command', claim: full}\n- {regex: '^Failed to', claim: refused}\n",
        )
        .unwrap();
        let stderr = "Hint: You should update the running kernel\nExecuting the sandboxed command...\n";
        assert_eq!(r.read(stderr), Reading::Claimed(Claim::Full, "Executing the sandboxed command...".into()));
        let refused = "Failed to check Landlock compatibility: Function not implemented\nHint: ...\n";
        assert_eq!(r.read(refused).claim().map(|(c, _)| c), Some(Claim::Refused));
        assert_eq!(r.read("something else\n"), Reading::Nothing);
    }

    #[test]
    fn a_named_group_carries_the_claim() {
        let r = spec("- {regex: 'enforcement=(?P<claim>\\w+)'}\n").unwrap();
        assert_eq!(r.read("x: enforcement=partial abi=1\n").claim().map(|(c, _)| c), Some(Claim::Partial));
        assert_eq!(r.read("x: enforcement=bogus\n"), Reading::Nothing);
    }

    #[test]
    fn unsupported_and_bad_specs() {
        assert!(matches!(spec("unsupported").unwrap(), ClaimReader::Unsupported));
        assert_eq!(ClaimReader::Unsupported.read("enforcement=full"), Reading::Unsupported);
        assert!(spec("[]").unwrap_err().contains("empty list"));
        assert!(spec("- {regex: '('}").unwrap_err().contains("not a valid regular expression"));
        assert!(spec("- {regex: 'x'}").unwrap_err().contains("say what a match means"));
        assert!(spec("- {regex: '(?P<claim>x)', claim: full}").unwrap_err().contains("not both"));
        assert!(spec("maybe").unwrap_err().contains("not a claim rule list"));
    }

    #[test]
    fn the_reference_reader_is_the_enforcement_line() {
        let r = crate::enforcer::reference(&[]).unwrap().claims;
        assert_eq!(
            r.read("lockgate-enforcer: enforcement=none abi=none reason=x\n").claim().map(|(c, _)| c),
            Some(Claim::None)
        );
        assert_eq!(
            r.read("lockgate-enforcer: enforcement=full abi=4 reason=all rules enforced\n"),
            Reading::Claimed(Claim::Full, "lockgate-enforcer: enforcement=full abi=4 reason=all rules enforced".into())
        );
        assert_eq!(r.read(""), Reading::Nothing);
        assert_eq!(r.read("enforcement=bogus\n"), Reading::Nothing);
        // Its seccomp filter, when the policy asks for one.
        let line = "lockgate-enforcer: enforcement=full abi=6 filter=on syscalls=27 reason=all rules enforced";
        assert_eq!(r.read(line).claim().map(|(c, _)| c), Some(Claim::Full));
        assert_eq!(r.filter(line), Some((true, line.to_string())));
        assert_eq!(
            r.filter("lockgate-enforcer: enforcement=none abi=none filter=off reason=x").map(|f| f.0),
            Some(false)
        );
        assert_eq!(r.filter("lockgate-enforcer: enforcement=full abi=4 reason=all rules enforced"), None);
    }
}
