//! The backports suite, when a package the user has came from it.
//!
//! A machine can carry a package from `<codename>-backports` (here: qemu-utils 10 beside
//! bookworm's QEMU 7.2) while apt's sources no longer list that suite. Installing
//! qemu-system-x86 from the main suite would then remove or downgrade the user's package, which
//! set-up never does. The same suite, from the mirror the system already uses, has the matching
//! versions: set-up adds it and installs from it, so nothing the user has is touched.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Where set-up writes the suite it adds (deb822), so the user can see and remove it.
const ADDED_SOURCE: &str = "/etc/apt/sources.list.d/lockgate-backports.sources";

/// Whether an installed version came from a Debian backports suite (`…~bpo12+1`).
pub fn is_backport(version: &str) -> bool {
    version.contains("~bpo")
}

/// The system's release codename, from os-release's `VERSION_CODENAME`.
pub fn codename(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|l| l.strip_prefix("VERSION_CODENAME=")).map(|v| v.trim_matches('"').to_string())
}

/// One apt source: its mirror URI, the suites it serves and its keyring, if it names one.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    pub suites: Vec<String>,
    pub signed_by: Option<String>,
}

/// The sources in one file, in either format: deb822 stanzas (`.sources`) or one-line entries
/// (`deb [signed-by=…] URI SUITE COMPONENT…`). Only binary (`deb`) entries count.
pub fn parse_sources(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':'))).map(|v| v.trim())
        };
        if let (Some(types), Some(uris), Some(suites)) = (field("Types"), field("URIs"), field("Suites")) {
            if types.split_whitespace().any(|t| t == "deb") {
                for uri in uris.split_whitespace() {
                    out.push(Source {
                        uri: uri.to_string(),
                        suites: suites.split_whitespace().map(String::from).collect(),
                        signed_by: field("Signed-By").map(String::from),
                    });
                }
            }
        }
    }
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else { continue };
        let (options, rest) = match rest.trim_start().strip_prefix('[') {
            Some(r) => r.split_once(']').unwrap_or(("", r)),
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            let signed_by = options.split_whitespace().find_map(|o| o.strip_prefix("signed-by=")).map(String::from);
            out.push(Source { uri: uri.to_string(), suites: vec![suite.to_string()], signed_by });
        }
    }
    out
}

/// The deb822 stanza that adds `<codename>-backports` from the mirror serving `codename`, or
/// `None` when a source already serves the backports suite or none serves the release itself.
pub fn stanza_to_add(sources: &[Source], codename: &str) -> Option<String> {
    let backports = format!("{codename}-backports");
    if sources.iter().any(|s| s.suites.contains(&backports)) {
        return None;
    }
    let main = sources.iter().find(|s| s.suites.iter().any(|x| x == codename))?;
    let mut stanza = format!("Types: deb\nURIs: {}\nSuites: {backports}\nComponents: main\n", main.uri);
    if let Some(key) = &main.signed_by {
        stanza.push_str(&format!("Signed-By: {key}\n"));
    }
    Some(stanza)
}

/// Makes `<codename>-backports` known to apt (adding it from the system's own mirror when no
/// source lists it) and returns the suite's name, for `apt-get install -t`.
pub fn ensure_suite() -> Result<String> {
    let os_release = std::fs::read_to_string("/etc/os-release").context("reading /etc/os-release")?;
    let Some(codename) = codename(&os_release) else {
        bail!("/etc/os-release has no VERSION_CODENAME: cannot tell which backports suite the installed packages came from")
    };
    let mut sources = Vec::new();
    for file in source_files() {
        if let Ok(text) = std::fs::read_to_string(&file) {
            sources.extend(parse_sources(&text));
        }
    }
    let suite = format!("{codename}-backports");
    if let Some(stanza) = stanza_to_add(&sources, &codename) {
        eprintln!("xtask: adding {suite} (from the mirror apt already uses) in {ADDED_SOURCE}");
        std::fs::write(ADDED_SOURCE, stanza).with_context(|| format!("writing {ADDED_SOURCE}"))?;
        let update =
            std::process::Command::new("apt-get").args(["-q", "update"]).status().context("cannot run apt-get")?;
        if !update.success() {
            bail!("apt-get update failed after adding {suite} in {ADDED_SOURCE}");
        }
    } else if !sources.iter().any(|s| s.suites.contains(&suite)) {
        bail!("no apt source serves {codename}, so set-up cannot tell which mirror has {suite}: add {suite} to apt's sources")
    }
    Ok(suite)
}

fn source_files() -> Vec<std::path::PathBuf> {
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";

    #[test]
    fn backports_versions_are_recognised() {
        assert!(is_backport("1:10.0.2+ds-2+deb13u1~bpo12+1"));
        assert!(!is_backport("1:7.2+dfsg-7+deb12u18+b3"));
    }

    #[test]
    fn the_codename_comes_from_os_release() {
        assert_eq!(codename("NAME=\"Debian\"\nVERSION_CODENAME=bookworm\nID=debian\n").as_deref(), Some("bookworm"));
        assert_eq!(codename("ID=debian\n"), None);
    }

    #[test]
    fn deb822_sources_give_the_release_mirror_and_its_key() {
        let stanza = stanza_to_add(&parse_sources(DEB822), "bookworm").unwrap();
        assert_eq!(
            stanza,
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
    }

    #[test]
    fn one_line_sources_are_read_too() {
        let text = "# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n";
        let sources = parse_sources(text);
        assert_eq!(
            sources,
            vec![Source {
                uri: "http://mirror.example/debian".into(),
                suites: vec!["bookworm".into()],
                signed_by: Some("/k.gpg".into())
            }]
        );
    }

    #[test]
    fn nothing_is_added_when_backports_is_listed_or_the_release_is_not() {
        let listed = format!("{DEB822}\ndeb http://mirror.example/debian bookworm-backports main\n");
        assert_eq!(stanza_to_add(&parse_sources(&listed), "bookworm"), None);
        assert_eq!(stanza_to_add(&parse_sources(DEB822), "trixie"), None);
    }
}
