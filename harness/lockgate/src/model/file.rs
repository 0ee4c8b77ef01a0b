//! What every loaded file has in common: it is remembered with its path, and a parse error names
//! the file, line, column and field.

use anyhow::Result;
use std::path::{Path, PathBuf};

/// Something loaded from a file, remembering which.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub file: PathBuf,
    pub value: T,
}

impl<T: super::matrix::Member> super::matrix::Member for Loaded<T> {
    fn name(&self) -> &str {
        self.value.name()
    }
    fn matrix(&self) -> super::matrix::Matrix {
        self.value.matrix()
    }
}

/// Parse one YAML file into `T`, turning serde_yaml's message into `file:line:col: field: what`.
/// The field is named with its list indices (`policy.filesystem_policy.read_only[1]`), which
/// serde_yaml's own path leaves out.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T> {
    serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        let loc = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        // serde_yaml appends " at line L column C"; the location is already in front.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // serde_yaml starts with its own path (without indices): ours replaces it.
        let unindexed: String = {
            let mut out = String::new();
            let mut depth = 0;
            for c in path.chars() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ if depth == 0 => out.push(c),
                    _ => {}
                }
            }
            out
        };
        let msg = [format!("{path}: "), format!("{unindexed}: ")]
            .iter()
            .find_map(|p| msg.strip_prefix(p.as_str()))
            .map(str::to_string)
            .unwrap_or(msg);
        match path.as_str() {
            "" | "." => anyhow::anyhow!("{}{loc}: {msg}", file.display()),
            // A whole list item refused as one (an expectation): serde_yaml places the error
            // before the item, at the list's start, so the item's own line is found in the text.
            _ if path.ends_with(']')
                && e.location().is_some_and(|l| super::locate::line_of(text, &path) > l.line()) =>
            {
                anyhow::anyhow!("{}:{}: {path}: {msg}", file.display(), super::locate::line_of(text, &path))
            }
            // A value refused by its own type after it was read (a custom error, like a wrong
            // `matrix:`) comes without a position of its own (1:1): the field's line is found.
            _ if e.location().is_none_or(|l| l.line() == 1 && l.column() == 1)
                && super::locate::line_of(text, &path) > 1 =>
            {
                anyhow::anyhow!("{}:{}: {path}: {msg}", file.display(), super::locate::line_of(text, &path))
            }
            _ => anyhow::anyhow!("{}{loc}: {path}: {msg}", file.display()),
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::model::scenario::Scenario;
    use std::path::Path;

    #[test]
    fn a_refused_list_item_is_placed_on_its_own_line() {
        let text = "name: t\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect:\n  - {probe: read /bin/a, allowed: true, when: \"kernel != debian-6.1-tiny\"}\n  - {probe: syscall unshare CLONE_NEWUSR, allowed: true}\n";
        let e = super::parse_yaml::<Scenario>(Path::new("s.yaml"), text).unwrap_err().to_string();
        assert!(e.starts_with("s.yaml:5: expect[1]: probe: unknown flag `CLONE_NEWUSR`"), "{e}");
        // A leaf value keeps serde_yaml's own line and column.
        let text = "name: t\nsetup:\n  paths: [{path: /s, kind: dir, mode: \"0999\"}]\npolicy: {filesystem_policy: {read_only: [/bin]}}\nexpect: [{probe: read /bin/a, allowed: true}]\n";
        let e = super::parse_yaml::<Scenario>(Path::new("s.yaml"), text).unwrap_err().to_string();
        assert!(e.starts_with("s.yaml:3:"), "{e}");
    }
}
