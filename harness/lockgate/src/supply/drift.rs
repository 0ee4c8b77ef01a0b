//! Pins that outlive the archive: a distribution drops a kernel's superseded builds from its
//! index, and renames the package at each ABI bump (Debian's `linux-image-6.1.0-47-cloud-amd64`
//! becomes `-50-`; Ubuntu's `linux-image-unsigned-5.15.0-107-generic` becomes `-204-`). A pinned
//! build that has left the index breaks every machine without a warm cache. This module finds,
//! in the suite's signed index, the current build of a pinned package's *line*: the same name
//! with another build number (or, for a name without one such as `linux-source-6.12`, the same
//! name at another version).

use super::apt::AptRoot;
pub use super::apt::Listed;
use super::Supply;
use crate::model::kernel::PackageRef;
use anyhow::{Context, Result};
use std::cmp::Ordering;

/// A package name with its build number as a hole: `linux-image-6.1.0-` + N + `-cloud-amd64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub prefix: String,
    pub suffix: String,
    /// Whether the name has a build number at all (`linux-source-6.12` has not: its line is the
    /// name itself, at any version).
    pub numbered: bool,
}

impl Line {
    /// The line of a package name. The kernel version in it is the first run of digits, dots
    /// and dash-digits after a `-` (`6.1.0-47`, `6.12.117`, `5.15.0-1121`, `6.12`); when it has
    /// three numbers or more, the last is the build number.
    pub fn of(name: &str) -> Line {
        let b = name.as_bytes();
        let start = (1..b.len()).find(|&i| b[i].is_ascii_digit() && b[i - 1] == b'-');
        let whole = Line { prefix: name.to_string(), suffix: String::new(), numbered: false };
        let Some(start) = start else { return whole };
        let mut end = start;
        while end < b.len()
            && (b[end].is_ascii_digit()
                || (b[end] == b'.' || b[end] == b'-') && b.get(end + 1).is_some_and(u8::is_ascii_digit))
        {
            end += 1;
        }
        let token = &name[start..end];
        if token.split(['.', '-']).count() < 3 {
            return whole;
        }
        let last = token.rfind(['.', '-']).map_or(start, |i| start + i + 1);
        Line { prefix: name[..last].to_string(), suffix: name[end..].to_string(), numbered: true }
    }

    /// The build number of `name` when it is of this line.
    pub fn build_of(&self, name: &str) -> Option<u64> {
        if !self.numbered {
            return (name == self.prefix).then_some(0);
        }
        let middle = name.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        (!middle.is_empty() && middle.bytes().all(|c| c.is_ascii_digit())).then(|| middle.parse().ok())?
    }

    /// The kernel version part of a name of this line (`6.1.0-47`), to find it again in the
    /// manifest's image path.
    pub fn version_part<'a>(&self, name: &'a str) -> &'a str {
        let start = (1..name.len())
            .find(|&i| name.as_bytes()[i].is_ascii_digit() && name.as_bytes()[i - 1] == b'-')
            .unwrap_or(0);
        &name[start..name.len() - self.suffix.len()]
    }
}

/// What the archive says of a pinned package.
#[derive(Debug, Clone)]
pub struct Drift {
    /// Whether the index still lists the pinned name at the pinned version.
    pub pinned_listed: bool,
    /// The line's current build (the highest build number, then the highest version).
    pub current: Option<Listed>,
}

impl Drift {
    /// Whether the pin is not the current build.
    pub fn moved(&self, pinned: &PackageRef) -> bool {
        self.current.as_ref().is_some_and(|c| c.name != pinned.name || c.version != pinned.version)
    }
}

impl Supply {
    /// The suite's current build of `pkg`'s line, from a freshly updated index.
    pub fn drift(&mut self, pkg: &PackageRef) -> Result<Drift> {
        let keyring = self.keyring(pkg.distro)?;
        let root = AptRoot::prepare(&self.cache, pkg, &keyring)?;
        if self.refreshed.insert(format!("{}/{}/{}", pkg.distro, pkg.suite, pkg.component)) {
            root.update()?;
        }
        let line = Line::of(&pkg.name);
        let mut listed = Vec::new();
        for name in root.names_with_prefix(&line.prefix)? {
            if line.build_of(&name).is_some() {
                listed.extend(root.versions(&name)?);
            }
        }
        let pinned_listed = listed.iter().any(|l| l.name == pkg.name && l.version == pkg.version);
        let mut current: Option<Listed> = None;
        for l in listed {
            let better = match &current {
                None => true,
                Some(c) => match line.build_of(&l.name).cmp(&line.build_of(&c.name)) {
                    Ordering::Equal => version_gt(&l.version, &c.version)?,
                    o => o == Ordering::Greater,
                },
            };
            if better {
                current = Some(l);
            }
        }
        Ok(Drift { pinned_listed, current })
    }
}

/// Debian version order (`dpkg --compare-versions a gt b`).
pub(super) fn version_gt(a: &str, b: &str) -> Result<bool> {
    let status = std::process::Command::new("dpkg")
        .args(["--compare-versions", a, "gt", b])
        .status()
        .context("cannot run dpkg --compare-versions (package dpkg)")?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_each_distribution_s_renames() {
        let debian = Line::of("linux-image-6.1.0-47-cloud-amd64");
        assert_eq!((debian.prefix.as_str(), debian.suffix.as_str()), ("linux-image-6.1.0-", "-cloud-amd64"));
        assert_eq!(debian.build_of("linux-image-6.1.0-50-cloud-amd64"), Some(50));
        assert_eq!(debian.build_of("linux-image-6.1.0-50-amd64"), None);
        assert_eq!(debian.build_of("linux-image-6.1.0-50-cloud-amd64-dbg"), None);
        assert_eq!(debian.version_part("linux-image-6.1.0-50-cloud-amd64"), "6.1.0-50");

        let ubuntu = Line::of("linux-image-unsigned-5.15.0-107-generic");
        assert_eq!(ubuntu.build_of("linux-image-unsigned-5.15.0-204-generic"), Some(204));
        assert_eq!(ubuntu.build_of("linux-image-unsigned-5.15.0-1121-aws"), None);
        assert_eq!(ubuntu.build_of("linux-image-unsigned-6.8.0-57-generic"), None);

        let trixie = Line::of("linux-image-6.12.117+deb13-cloud-amd64");
        assert_eq!((trixie.prefix.as_str(), trixie.suffix.as_str()), ("linux-image-6.12.", "+deb13-cloud-amd64"));
        assert_eq!(trixie.build_of("linux-image-6.12.120+deb13-cloud-amd64"), Some(120));
        assert_eq!(trixie.version_part("linux-image-6.12.120+deb13-cloud-amd64"), "6.12.120");

        let sid = Line::of("linux-binary-7.2.13+deb14-cloud-amd64");
        assert_eq!(sid.build_of("linux-binary-7.2.15+deb14-cloud-amd64"), Some(15));

        let source = Line::of("linux-source-6.12");
        assert!(!source.numbered);
        assert_eq!(source.build_of("linux-source-6.12"), Some(0));
        assert_eq!(source.build_of("linux-source-6.1"), None);
    }
}
