//! The book's link check, over the HTML mdBook built: every relative link (`href`, `src`) names
//! a file of the built book, and every `#anchor` an `id` of the page it points to. Nothing is
//! fetched: a link with a scheme (`https:`, `mailto:`) is left alone. mdBook turns a link to a
//! chapter's `.md` into its `.html`, so a link to a page that does not exist, or to a file
//! outside the book (the repository's own files are not part of it), fails here.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// Every broken link of the book built in `out`, as `page: link: why`.
pub(crate) fn check(out: &Path) -> Result<Vec<String>> {
    let mut pages = BTreeMap::new();
    collect(out, out, &mut pages)?;
    let ids: BTreeMap<&PathBuf, BTreeSet<String>> = pages.iter().map(|(p, html)| (p, attrs(html, "id"))).collect();
    let mut problems = Vec::new();
    for (page, html) in &pages {
        // mdBook's 404 page is served from the site's root (`<base href="/">`), not from where
        // it lies: its links do not resolve relative to it.
        if page.as_path() == Path::new("404.html") {
            continue;
        }
        let links: BTreeSet<String> = attrs(html, "href").into_iter().chain(attrs(html, "src")).collect();
        for link in links {
            if let Some(why) = broken(out, page, &link, &ids) {
                problems.push(format!("{}: {link}: {why}", page.display()));
            }
        }
    }
    Ok(problems)
}

/// Every broken relative link of a Markdown file of the repository (`README.md`, the front
/// page, which links into the book's sources): the file must exist, and an anchor into a
/// chapter (`book/src/X.md#a`) must be an `id` of that chapter as the book `out` built it.
pub(crate) fn check_markdown(root: &Path, file: &str, out: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join(file)).with_context(|| format!("cannot read {file}"))?;
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    let mut problems = Vec::new();
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        let Some(link) = rest.split(')').next().filter(|l| !l.contains(char::is_whitespace)) else { continue };
        if link.contains("://") || link.starts_with("mailto:") || link.starts_with('#') || link.is_empty() {
            continue;
        }
        let (path, anchor) = link.split_once('#').map_or((link, None), |(p, a)| (p, Some(a)));
        let Some(target) = normalise(&dir.join(decode(path))) else {
            problems.push(format!("{file}: {link}: outside the repository"));
            continue;
        };
        if !root.join(&target).exists() {
            problems.push(format!("{file}: {link}: no file {}", target.display()));
            continue;
        }
        let (Some(anchor), Ok(chapter)) = (anchor, target.strip_prefix("book/src")) else { continue };
        let page = out.join(chapter.with_extension("html"));
        let html = std::fs::read_to_string(&page).unwrap_or_default();
        if !attrs(&html, "id").contains(&decode(anchor)) {
            problems.push(format!("{file}: {link}: the book's {} has no anchor #{anchor}", chapter.display()));
        }
    }
    Ok(problems)
}

/// Why `link` on `page` does not resolve, if it does not.
fn broken(out: &Path, page: &Path, link: &str, ids: &BTreeMap<&PathBuf, BTreeSet<String>>) -> Option<String> {
    let external = ["http://", "https://", "mailto:", "//", "data:", "javascript:"];
    if link.is_empty() || link == "#" || external.iter().any(|s| link.starts_with(s)) {
        return None;
    }
    let link = link.replace("&amp;", "&");
    let (path, anchor) = match link.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (link.as_str(), None),
    };
    let path = path.split('?').next().unwrap_or("");
    let target = if path.is_empty() {
        page.to_path_buf()
    } else {
        let Some(joined) = normalise(&page.parent().unwrap_or(Path::new("")).join(decode(path))) else {
            return Some("outside the book".into());
        };
        if out.join(&joined).is_dir() {
            joined.join("index.html")
        } else {
            joined
        }
    };
    if !out.join(&target).is_file() {
        return Some(format!("no file {} in the book", target.display()));
    }
    let anchor = decode(anchor?);
    match ids.get(&target) {
        Some(set) if set.contains(&anchor) => None,
        Some(_) => Some(format!("{} has no anchor #{anchor}", target.display())),
        None => None,
    }
}

/// `a/./b/../c` as `a/c`; None when it climbs out of the book.
fn normalise(p: &Path) -> Option<PathBuf> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.iter().collect())
}

/// `%20` and its kind decoded.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The values of every ` name="…"` attribute of a page.
fn attrs(html: &str, name: &str) -> BTreeSet<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// Every `.html` page under `dir`, by its path relative to `out`.
fn collect(out: &Path, dir: &Path, pages: &mut BTreeMap<PathBuf, String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(out, &path, pages)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            pages.insert(path.strip_prefix(out).unwrap_or(&path).to_path_buf(), text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_page_and_a_missing_anchor_are_broken_the_rest_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::create_dir_all(out.join("reference")).unwrap();
        std::fs::write(out.join("index.html"), r##"<h2 id="top">x</h2><a href="reference/cli.html#run">ok</a> <a href="#top">ok</a> <a href="https://example.invalid/x">ext</a> <a href="gone.html">bad</a> <a href="#nowhere">bad</a>"##).unwrap();
        std::fs::write(out.join("reference/cli.html"), r##"<h2 id="run">run</h2><a href="../index.html#top">ok</a> <a href="../../README.html">out</a> <img src="../pic%20x.png">"##).unwrap();
        std::fs::write(out.join("pic x.png"), "").unwrap();
        let problems = check(out).unwrap();
        assert_eq!(
            problems,
            [
                "index.html: #nowhere: index.html has no anchor #nowhere",
                "index.html: gone.html: no file gone.html in the book",
                "reference/cli.html: ../../README.html: outside the book",
            ],
            "{problems:#?}"
        );
    }
}
