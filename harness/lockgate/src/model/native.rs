//! Native policies: a scenario whose `policy:` is a string carries the enforcer's own policy
//! document (YAML or JSON, any schema), which the enforcer receives byte for byte, exactly as a
//! deployment hands it over. lockgate reads in it only what it needs, where the adapter's
//! `native:` section says (dotted paths into the document):
//!
//! ```yaml
//! native:
//!   run_as_user: process.run_as_user        # the control run's user (default: root)
//!   run_as_group: process.run_as_group
//!   compatibility: landlock.compatibility   # best_effort | hard_requirement, for {compatibility}
//!   read_only: [filesystem_policy.read_only]   # rule paths, whose absence the cell reports
//!   read_write: [filesystem_policy.read_write]
//! ```
//!
//! What it finds becomes the scenario's policy as lockgate understands it; the document itself
//! is never rewritten.

use crate::model::scenario::{Compatibility, GuestPath, Name, Policy, Scenario};
use serde::Deserialize;
use serde_yaml::Value;

/// The adapter's `native:` section.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selectors {
    /// Where the user of both runs is (default root); it must be one of `setup.users`.
    #[serde(default)]
    run_as_user: Option<Selector>,
    /// Where the group of both runs is.
    #[serde(default)]
    run_as_group: Option<Selector>,
    /// Where the compatibility mode is (`best_effort` or `hard_requirement`), for
    /// `{compatibility}`.
    #[serde(default)]
    compatibility: Option<Selector>,
    /// Where read-only rule paths are (each a path or a list of them): the cell reports the
    /// missing ones.
    #[serde(default)]
    read_only: Vec<Selector>,
    /// Where read-write rule paths are.
    #[serde(default)]
    read_write: Vec<Selector>,
}

/// A dotted path into a document: `filesystem_policy.read_only`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "String")]
struct Selector(String);

impl TryFrom<String> for Selector {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.split('.').any(str::is_empty) {
            return Err(format!("`{s}` is not a selector: write the keys from the document's top, joined by `.`, like `process.run_as_user`"));
        }
        Ok(Selector(s))
    }
}

impl Selector {
    fn find<'v>(&self, doc: &'v Value) -> Option<&'v Value> {
        self.0.split('.').try_fold(doc, |v, key| v.get(key))
    }
}

impl Selectors {
    /// The policy lockgate understands in `sc`'s native document. Errors name the selector and
    /// say what was found instead.
    pub fn resolve(&self, sc: &Scenario, text: &str) -> Result<Policy, String> {
        let doc: Value =
            serde_yaml::from_str(text).map_err(|e| format!("the native policy is neither YAML nor JSON: {e}"))?;
        let known = |n: &Name| n.as_str() == "root" || sc.setup.users.iter().any(|u| u.name == *n);
        let name = |sel: &Option<Selector>| -> Result<Option<Name>, String> {
            let Some(sel) = sel else { return Ok(None) };
            match sel.find(&doc) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => {
                    let n = Name::try_from(s.clone()).map_err(|e| format!("{} (native: {}): {e}", s, sel.0))?;
                    match known(&n) {
                        true => Ok(Some(n)),
                        false => Err(format!(
                            "the native policy's `{}` names the user `{n}`, who is not in setup.users (nor root): add it to setup.users",
                            sel.0
                        )),
                    }
                }
                Some(other) => Err(format!("the native policy's `{}` is {}, not a user name", sel.0, kind(other))),
            }
        };
        let mut policy = Policy::default();
        policy.process.run_as_user = name(&self.run_as_user)?;
        policy.process.run_as_group = name(&self.run_as_group)?;
        if let Some(sel) = &self.compatibility {
            policy.landlock.compatibility = match sel.find(&doc) {
                None | Some(Value::Null) => Compatibility::default(),
                Some(Value::String(s)) if s == "best_effort" => Compatibility::BestEffort,
                Some(Value::String(s)) if s == "hard_requirement" => Compatibility::HardRequirement,
                Some(other) => {
                    return Err(format!(
                        "the native policy's `{}` is {}: lockgate knows best_effort and hard_requirement",
                        sel.0,
                        kind(other)
                    ))
                }
            };
        }
        policy.filesystem_policy.read_only = paths(&doc, &self.read_only)?;
        policy.filesystem_policy.read_write = paths(&doc, &self.read_write)?;
        Ok(policy)
    }
}

/// The paths the selectors find: each a path or a list of them; absent is none.
fn paths(doc: &Value, selectors: &[Selector]) -> Result<Vec<GuestPath>, String> {
    let mut out = Vec::new();
    for sel in selectors {
        let found: Vec<&Value> = match sel.find(doc) {
            None | Some(Value::Null) => vec![],
            Some(Value::Sequence(items)) => items.iter().collect(),
            Some(one) => vec![one],
        };
        for v in found {
            let Value::String(s) = v else {
                return Err(format!("the native policy's `{}` holds {}, not a path", sel.0, kind(v)));
            };
            out.push(GuestPath::try_from(s.clone()).map_err(|e| format!("the native policy's `{}`: {e}", sel.0))?);
        }
    }
    Ok(out)
}

/// What a value is, for messages.
fn kind(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{}`", s.escape_debug()),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("`{b}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Null => "empty".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(native: &str) -> Scenario {
        let text = format!(
            "name: n\nsetup: {{users: [{{name: sandbox, uid: 998}}]}}\npolicy: |\n{}expect: [{{enforcement: full}}]\n",
            native.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        serde_yaml::from_str(&text).unwrap()
    }

    fn selectors() -> Selectors {
        serde_yaml::from_str(
            "run_as_user: process.run_as_user\nrun_as_group: process.run_as_group\ncompatibility: landlock.compatibility\nread_only: [filesystem_policy.read_only]\nread_write: [filesystem_policy.read_write]\n",
        )
        .unwrap()
    }

    #[test]
    fn the_document_is_kept_byte_for_byte_and_read_through_the_selectors() {
        let doc = "{\"version\": 1, \"filesystem_policy\": {\"read_only\": [\"/usr\", \"/app\"], \"read_write\": \"/tmp\"},\n \"landlock\": {\"compatibility\": \"hard_requirement\"}, \"process\": {\"run_as_user\": \"sandbox\"}}\n";
        let sc = scenario(doc);
        assert_eq!(sc.native_policy.as_deref(), Some(doc));
        let p = selectors().resolve(&sc, doc).unwrap();
        assert_eq!(p.process.run_as_user.as_ref().map(|n| n.as_str()), Some("sandbox"));
        assert_eq!(p.process.run_as_group, None);
        assert_eq!(p.landlock.compatibility, Compatibility::HardRequirement);
        let ro: Vec<&str> = p.filesystem_policy.read_only.iter().map(|p| p.as_str()).collect();
        assert_eq!(ro, ["/usr", "/app"]);
        assert_eq!(p.filesystem_policy.read_write[0].as_str(), "/tmp");
        // Nothing selected: root, best_effort, no paths.
        assert_eq!(Selectors::default().resolve(&sc, doc).unwrap(), Policy::default());
    }

    #[test]
    fn what_the_selectors_find_is_checked() {
        let bad = |doc: &str| selectors().resolve(&scenario(doc), doc).unwrap_err();
        assert!(bad("process: {run_as_user: eve}\n").contains("`eve`, who is not in setup.users"));
        assert!(bad("landlock: {compatibility: strict}\n").contains("`strict`: lockgate knows"));
        assert!(bad("filesystem_policy: {read_only: [{path: /usr}]}\n").contains("holds a mapping, not a path"));
        assert!(bad("filesystem_policy: {read_only: [usr]}\n").contains("not absolute"));
        assert!(bad("process: [\n").contains("neither YAML nor JSON"));
        assert!(serde_yaml::from_str::<Selectors>("read_only: [a..b]\n")
            .unwrap_err()
            .to_string()
            .contains("not a selector"));
    }
}
