//! A small reader of Rust sources' doc comments, for the book's generated reference pages: the
//! structs and enums of a file, each with its `///` text, its attributes and its fields or
//! variants (with theirs). Line-based, for the plain style lockgate's own sources are written in
//! (one field or variant per line, attributes on lines of their own); not a Rust parser.

/// A struct or an enum of a source file.
pub(crate) struct Item {
    pub name: String,
    pub is_enum: bool,
    pub doc: String,
    pub attrs: Vec<String>,
    /// Fields (a struct) or variants (an enum), in source order.
    pub members: Vec<Member>,
}

/// A field or a variant.
pub(crate) struct Member {
    pub name: String,
    /// The field's type as written; a tuple variant's `(types)`; empty for another variant.
    pub ty: String,
    pub doc: String,
    pub attrs: Vec<String>,
}

impl Item {
    /// Whether one of its attributes contains `needle` (`Deserialize`, `try_from`).
    pub fn has_attr(&self, needle: &str) -> bool {
        self.attrs.iter().any(|a| a.contains(needle))
    }
}

impl Member {
    pub fn has_attr(&self, needle: &str) -> bool {
        self.attrs.iter().any(|a| a.contains(needle))
    }
}

/// Every struct and enum declared at the top level of `source` whose body is braces.
pub(crate) fn items(source: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut doc = Vec::<String>::new();
    let mut attrs = Vec::<String>::new();
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if line.starts_with("///") {
            doc.push(doc_text(t));
            continue;
        }
        if line.starts_with("#[") {
            attrs.push(whole_attr(t, &mut lines));
            continue;
        }
        let decl = t.strip_prefix("pub(crate) ").or_else(|| t.strip_prefix("pub ")).unwrap_or(t);
        let (is_enum, rest) = match (decl.strip_prefix("struct "), decl.strip_prefix("enum ")) {
            (Some(r), _) => (false, r),
            (_, Some(r)) => (true, r),
            _ => {
                if !t.is_empty() && !t.starts_with("//") {
                    doc.clear();
                    attrs.clear();
                }
                continue;
            }
        };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let mut item =
            Item { name, is_enum, doc: doc.join("\n"), attrs: std::mem::take(&mut attrs), members: Vec::new() };
        doc.clear();
        if t.ends_with('{') {
            item.members = members(&mut lines, is_enum);
        }
        out.push(item);
    }
    out
}

/// The members of a body whose opening brace ended the previous line, up to its closing brace.
fn members<'a>(lines: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>, is_enum: bool) -> Vec<Member> {
    let mut out = Vec::new();
    let mut depth = 1i32;
    let mut doc = Vec::<String>::new();
    let mut attrs = Vec::<String>::new();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if depth == 1 {
            if t.starts_with("///") {
                doc.push(doc_text(t));
                continue;
            }
            if t.starts_with("#[") {
                attrs.push(whole_attr(t, lines));
                continue;
            }
            if t.starts_with("//") || t.is_empty() {
                continue;
            }
            if let Some(m) = member(t, is_enum) {
                out.push(Member { doc: doc.join("\n"), attrs: std::mem::take(&mut attrs), ..m });
            }
            doc.clear();
            attrs.clear();
        }
        depth += braces(t);
        if depth <= 0 {
            break;
        }
    }
    out
}

fn member(t: &str, is_enum: bool) -> Option<Member> {
    let t = t.strip_prefix("pub(crate) ").or_else(|| t.strip_prefix("pub ")).unwrap_or(t);
    let name: String = t.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    if name.is_empty() {
        return None;
    }
    let ty = if is_enum {
        // A tuple variant's field types, `(String)`; nothing for a unit or struct variant.
        let rest = t[name.len()..].trim().trim_end_matches(',');
        if rest.starts_with('(') {
            rest.to_string()
        } else {
            String::new()
        }
    } else {
        t[name.len()..].trim_start().strip_prefix(':')?.trim().trim_end_matches(',').to_string()
    };
    Some(Member { name, ty, doc: String::new(), attrs: Vec::new() })
}

/// The change in brace depth a line makes, braces inside string and char literals left out.
fn braces(t: &str) -> i32 {
    let code = t.split("//").next().unwrap_or("");
    let (mut depth, mut in_str, mut prev) = (0, false, ' ');
    for c in code.chars() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '{' if !in_str && prev != '\'' => depth += 1,
            '}' if !in_str && prev != '\'' => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    depth
}

fn doc_text(t: &str) -> String {
    let s = t.trim_start_matches("///");
    s.strip_prefix(' ').unwrap_or(s).to_string()
}

/// An attribute that may span several lines, as one line.
fn whole_attr<'a>(first: &str, lines: &mut impl Iterator<Item = &'a str>) -> String {
    let mut attr = first.to_string();
    while attr.matches('[').count() > attr.matches(']').count() {
        match lines.next() {
            Some(l) => attr.push_str(l.trim()),
            None => break,
        }
    }
    attr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_structs_enums_fields_and_their_docs() {
        let src = r#"
/// A thing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thing {
    /// Its name.
    pub name: String,
    #[serde(default = "two")]
    count: u32,
    nested: Vec<std::collections::BTreeMap<String, u8>>,
}

fn two() -> u32 { 2 }

enum Kind {
    /// One.
    One,
    Two { x: u8 },
    Three(u8),
}
"#;
        let items = items(src);
        assert_eq!(items.len(), 2);
        let t = &items[0];
        assert_eq!((t.name.as_str(), t.doc.as_str(), t.is_enum), ("Thing", "A thing.", false));
        assert!(t.has_attr("Deserialize"));
        let names: Vec<_> = t.members.iter().map(|m| (m.name.as_str(), m.ty.as_str())).collect();
        assert_eq!(
            names,
            [("name", "String"), ("count", "u32"), ("nested", "Vec<std::collections::BTreeMap<String, u8>>")]
        );
        assert_eq!(t.members[0].doc, "Its name.");
        assert!(t.members[1].has_attr("default = \"two\""));
        let k = &items[1];
        let variants: Vec<_> = k.members.iter().map(|m| (m.name.as_str(), m.ty.as_str())).collect();
        assert_eq!(variants, [("One", ""), ("Two", ""), ("Three", "(u8)")]);
        assert_eq!(k.members[0].doc, "One.");
    }
}
