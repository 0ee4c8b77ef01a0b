//! Paths, checked while deserialising so that a bad one is reported with its line (serde_yaml
//! knows the line; a check on the finished value would not).

use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;

/// An absolute, normalised path inside the guest: what scenarios, plans and probes name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GuestPath(String);

/// An absolute path (lockgate normalises it when it loads the file).
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for GuestPath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GuestPath".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"description": "An absolute path in the guest.", "type": "string", "pattern": "^/"})
    }
}

impl TryFrom<String> for GuestPath {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !s.starts_with('/') {
            return Err(format!("`{}` is not absolute: guest paths start with `/`", s.escape_debug()));
        }
        if s.split('/').any(|c| c == "." || c == "..") || (s.len() > 1 && (s.ends_with('/') || s.contains("//"))) {
            return Err(format!(
                "`{}` is not normalised: write it without `.`, `..`, `//` or a trailing `/`",
                s.escape_debug()
            ));
        }
        // A space is allowed: Linux allows it and deployed policies carry it; an adapter that
        // cannot hand such a path to its enforcer refuses it (`Enforcer::check_rule_paths`).
        if s.chars().any(|c| c.is_control()) {
            // Escaped, so that a newline or NUL shows as `\n` or `\0` instead of breaking the
            // message.
            return Err(format!("`{}` contains a control character", s.escape_debug()));
        }
        Ok(GuestPath(s))
    }
}

impl From<GuestPath> for String {
    fn from(p: GuestPath) -> String {
        p.0
    }
}

impl GuestPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `/sandbox/.data` → `/sandbox`.
    pub fn top(&self) -> &str {
        match self.0[1..].find('/') {
            Some(i) => &self.0[..i + 1],
            None => &self.0,
        }
    }

    pub fn is_within(&self, dir: &str) -> bool {
        dir == "/" || self.0 == dir || (self.0.starts_with(dir) && self.0.as_bytes().get(dir.len()) == Some(&b'/'))
    }
}

impl std::fmt::Display for GuestPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Any absolute path, as the reference enforcer takes it in a policy file: like the enforcers it
/// stands in for, it does not insist on the normalised form. A relative rule path would silently
/// depend on the enforcer's working directory, so that is an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AbsPath(pub PathBuf);

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::deserialize(deserializer)?;
        if !path.is_absolute() {
            return Err(serde::de::Error::custom(format!("rule path {} must be absolute", path.display())));
        }
        Ok(AbsPath(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_are_absolute_and_normalised() {
        assert!(GuestPath::try_from("relative".to_string()).is_err());
        assert!(GuestPath::try_from("/a/../b".to_string()).is_err());
        assert!(GuestPath::try_from("/a/".to_string()).is_err());
        // A space is a path's own (issue 23); a control character is not.
        assert!(GuestPath::try_from("/a b".to_string()).is_ok());
        assert!(GuestPath::try_from("/a\nb".to_string()).is_err());
        let p = GuestPath::try_from("/sandbox/.data".to_string()).unwrap();
        assert_eq!(p.top(), "/sandbox");
        assert!(p.is_within("/sandbox") && p.is_within("/") && !p.is_within("/sand"));
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""/sandbox/.data""#);
        assert!(serde_json::from_str::<GuestPath>(r#""/x/""#).is_err());
    }

    #[test]
    fn abs_paths_only_need_to_be_absolute() {
        let p: AbsPath = serde_json::from_str(r#""/usr/""#).unwrap();
        assert_eq!(p, AbsPath("/usr/".into()));
        let err = serde_json::from_str::<AbsPath>(r#""usr""#).unwrap_err();
        assert!(err.to_string().contains("rule path usr must be absolute"), "{err}");
    }
}
