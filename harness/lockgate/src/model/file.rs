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

/// Parse one YAML file into `T`, turning serde_yaml's message into `file:line:col: field: what`.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        // serde_yaml appends " at line L column C"; the location is already in front.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        anyhow::anyhow!("{}{loc}: {msg}", file.display())
    })
}
