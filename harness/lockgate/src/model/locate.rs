//! Finding the line of a field in a YAML text, for errors found after deserialisation.
//!
//! serde_yaml reports positions for errors it finds itself; checks that relate several fields run
//! on the typed model, which has no positions. This walks the field path (`a.b[2].c`) through the
//! text. It understands the block and flow styles scenario files use; when it cannot follow the
//! path it returns the line of the deepest component it found, which still points near the fault.

/// 1-based line of `path` in `text`.
pub fn line_of(text: &str, path: &str) -> usize {
    let mut pos = 0;
    for component in path.split('.') {
        let (key, index) = match component.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (component, None),
        };
        if let Some(p) = find_key(text, pos, key) {
            pos = p;
        }
        if let Some(i) = index {
            pos = skip_items(text, pos, i);
        }
    }
    text[..pos].matches('\n').count() + 1
}

fn find_key(text: &str, from: usize, key: &str) -> Option<usize> {
    let mut start = from;
    while let Some(off) = text[start..].find(key) {
        let at = start + off;
        let before_ok = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric() && text.as_bytes()[at - 1] != b'_';
        let after = text[at + key.len()..].trim_start_matches(' ');
        if before_ok && after.starts_with(':') {
            return Some(at);
        }
        start = at + key.len();
    }
    None
}

/// Moves to the start of item `i` of the sequence that follows `from`, flow (`[a, {b: c}]`) or
/// block (`- a` lines), whichever starts first. Items are told apart by structure — commas at
/// the sequence's own depth, dashes at the first item's indentation — so a `-` or `,` inside
/// an item (`when: "kernel != debian-6.1-tiny"`) is not taken for a new one.
fn skip_items(text: &str, from: usize, i: usize) -> usize {
    let rest = &text[from..];
    let flow = rest.find('[');
    let block = first_block_item(rest);
    match (flow, block) {
        (Some(f), Some(b)) if f < b => flow_item(text, from + f, i),
        (Some(f), None) => flow_item(text, from + f, i),
        (_, Some(b)) => block_item(text, from + b, i),
        (None, None) => from,
    }
}

/// Offset of the first `-` that starts a block sequence item on a line after the first.
fn first_block_item(rest: &str) -> Option<usize> {
    let mut at = rest.find('\n')? + 1;
    for line in rest[at..].split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.starts_with("- ") || trimmed.trim_end() == "-" {
            return Some(at + line.len() - trimmed.len());
        }
        at += line.len();
    }
    None
}

/// Item `i` of the block sequence whose first item's dash is at `start`.
fn block_item(text: &str, start: usize, i: usize) -> usize {
    let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
    let indent = start - line_start;
    let mut seen = 0;
    let mut at = line_start;
    for line in text[line_start..].split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let this = line.len() - trimmed.len();
        let content = !trimmed.trim().is_empty() && !trimmed.starts_with('#');
        if content && this < indent {
            break; // the sequence ended
        }
        if this == indent && (trimmed.starts_with("- ") || trimmed.trim_end() == "-") {
            if seen == i {
                return at + this;
            }
            seen += 1;
        }
        at += line.len();
    }
    start
}

/// Item `i` of the flow sequence whose `[` is at `open`.
fn flow_item(text: &str, open: usize, i: usize) -> usize {
    let (mut depth, mut quote, mut seen) = (0usize, None, 0);
    let mut item_start = open + 1;
    for (off, c) in text[open..].char_indices() {
        let at = open + off;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            (None, ',') if depth == 1 => {
                seen += 1;
                item_start = at + 1;
            }
            _ => {}
        }
        if seen == i && depth >= 1 && at >= item_start && !c.is_whitespace() && c != ',' {
            return at;
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn follows_block_and_flow_sequences() {
        let t = "name: x\nsetup:\n  paths:\n    - {path: /a, kind: dir}\n    - {path: /b, kind: dir, owner: bob}\npolicy:\n  process: {run_as_user: eve}\n";
        assert_eq!(line_of(t, "setup.paths[1].owner"), 5);
        assert_eq!(line_of(t, "setup.paths[0].path"), 4);
        assert_eq!(line_of(t, "policy.process.run_as_user"), 7);
        let t = "policy: {filesystem_policy: {read_only: [/a, /b]}}\nexpect: [{run: x}, {run: y}]\n";
        assert_eq!(line_of(t, "expect"), 2);
        // Dashes and commas inside an item are not items.
        let t = "expect:\n  - {probe: a, when: \"kernel == debian-6.1-tiny || env != x\"}\n  - probe: b\n    when: a-b\n  - {probe: c}\n";
        assert_eq!(line_of(t, "expect[1]"), 3);
        assert_eq!(line_of(t, "expect[2]"), 5);
        let t = "expect: [{probe: a, when: \"x, y\"},\n  {probe: b}]\n";
        assert_eq!(line_of(t, "expect[1]"), 2);
    }
}
