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

/// Moves to the start of item `i` of the sequence that follows `from`.
fn skip_items(text: &str, from: usize, i: usize) -> usize {
    let rest = &text[from..];
    // Flow sequence of maps (`[{..}, {..}]`) or block sequence (`- ...`), whichever comes first.
    let flow = rest.find('[');
    let block = rest.find("\n").and_then(|nl| rest[nl..].find('-').map(|d| nl + d));
    let (marker, start) = match (flow, block) {
        (Some(f), Some(b)) if f < b => ('{', f),
        (Some(f), None) => ('{', f),
        (_, Some(b)) => ('-', b),
        (None, None) => return from,
    };
    let mut pos = from + start;
    for _ in 0..i {
        match text[pos + 1..].find(marker) {
            Some(off) => pos += 1 + off,
            None => break,
        }
    }
    pos
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
    }
}
