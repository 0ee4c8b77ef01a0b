//! Command-line and environment templates of an enforcer adapter.
//!
//! A command template is a line of words separated by spaces (or a YAML list of words):
//!
//! - `{name}` is a scalar: `{binary}`, `{policy_file}`, `{scenario}`, `{user}`, `{group}`,
//!   `{uid}`, `{gid}`, `{workdir}`, `{compatibility}`;
//! - `{cmd}`, a word of its own, is where the probe runner's argv goes;
//! - `{ro}`, `{rw}`, `{tcp_bind}`, `{tcp_connect}` are lists (and `{fault}`, the known-bad modes
//!   asked for with `--enforcer-fault`, empty in a normal run), and the template says how each is
//!   spelled: `{ro,}` (or `{ro:}`, any one punctuation character) joins the list into one word
//!   with that separator; `[--ro {ro}]` repeats the bracketed words once per element
//!   (`--ro /usr --ro /bin`), and `[--ro {ro,}]` writes them once with the list joined
//!   (`--ro /usr,/bin`); `{rw:json}` writes the list as one JSON array of strings
//!   (`["/tmp","/work"]`), for an enforcer whose policy is JSON on its command line. A bracketed group is left out when its list is empty, or absent (the
//!   TCP lists are absent when the policy has no `network:` section);
//! - `{{` and `}}` are literal braces.
//!
//! An environment value is one word: scalars and joined lists (`LL_FS_RO: "{ro:}"`). A variable
//! whose value names an absent list is not set at all.

use std::collections::BTreeMap;

pub const SCALARS: [&str; 9] =
    ["binary", "policy_file", "scenario", "user", "group", "uid", "gid", "workdir", "compatibility"];
pub const LISTS: [&str; 8] = ["ro", "rw", "ro_noexec", "tcp_bind", "tcp_connect", "ioctl_dev", "scoped", "fault"];
pub const CMD: &str = "{cmd}";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Scalar(String),
    /// A list and how it is spelled.
    List {
        name: String,
        spell: Spell,
    },
    Cmd,
}

/// How a list is spelled in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spell {
    /// One element (the word is repeated per element, inside a `[...]` group).
    Each,
    /// The whole list joined with a separator (`{ro,}`).
    Joined(char),
    /// The whole list as a JSON array of strings (`{ro:json}`).
    Json,
}

type Word = Vec<Piece>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Word(Word),
    Group(Vec<Word>),
}

/// A parsed command template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    items: Vec<Item>,
}

/// A parsed environment value template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueTemplate {
    word: Word,
}

/// What the placeholders stand for, for one scenario.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub scalars: BTreeMap<&'static str, String>,
    /// `None`: the list is absent (not just empty).
    pub lists: BTreeMap<&'static str, Option<Vec<String>>>,
}

impl Values {
    fn list(&self, name: &str) -> Option<&Vec<String>> {
        self.lists.get(name).and_then(Option::as_ref)
    }
}

fn parse_word(word: &str) -> Result<Word, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '}' => return Err(format!("`{word}`: a `}}` without its `{{` (write `}}}}` for a literal brace)")),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("`{word}`: `{{{name}` is not closed with `}}`")),
                    }
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(placeholder(&name, word)?);
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

fn placeholder(name: &str, word: &str) -> Result<Piece, String> {
    if name == "cmd" {
        return Ok(Piece::Cmd);
    }
    if SCALARS.contains(&name) {
        return Ok(Piece::Scalar(name.to_string()));
    }
    let mut chars = name.chars();
    let last = chars.next_back();
    let (base, spell) = match (name.strip_suffix(":json"), last) {
        (Some(base), _) => (base, Spell::Json),
        (None, Some(c)) if c.is_ascii_punctuation() && c != '_' => (chars.as_str(), Spell::Joined(c)),
        _ => (name, Spell::Each),
    };
    if LISTS.contains(&base) {
        return Ok(Piece::List { name: base.to_string(), spell });
    }
    Err(format!(
        "`{word}`: unknown placeholder `{{{name}}}`; known: {{cmd}}, {}, and the lists {} (joined as `{{ro,}}`, or per element inside `[...]`)",
        SCALARS.map(|s| format!("{{{s}}}")).join(", "),
        LISTS.map(|s| format!("{{{s}}}")).join(", ")
    ))
}

fn lists_in(word: &Word) -> impl Iterator<Item = (&str, Spell)> {
    word.iter().filter_map(|p| match p {
        Piece::List { name, spell } => Some((name.as_str(), *spell)),
        _ => None,
    })
}

impl Template {
    /// Parses a template given as one line (split on whitespace) or as a list of words.
    pub fn parse(words: &[String]) -> Result<Template, String> {
        let mut items = Vec::new();
        let mut group: Option<Vec<Word>> = None;
        let mut cmds = 0;
        for raw in words {
            let mut w = raw.as_str();
            let opens = w.starts_with('[');
            if opens {
                if group.is_some() {
                    return Err(format!("`{raw}`: a `[` group inside another; close the first with `]`"));
                }
                w = &w[1..];
                group = Some(Vec::new());
            }
            let closes = w.ends_with(']') && group.is_some();
            if closes {
                w = &w[..w.len() - 1];
            }
            let word = parse_word(w)?;
            if word.contains(&Piece::Cmd) {
                if word.len() != 1 || group.is_some() {
                    return Err(format!("`{raw}`: {{cmd}} is a word of its own, outside any `[...]` group"));
                }
                cmds += 1;
            }
            match group.as_mut() {
                Some(g) => {
                    if !w.is_empty() {
                        g.push(word);
                    }
                }
                None => {
                    if let Some((name, Spell::Each)) = lists_in(&word).next() {
                        return Err(format!(
                            "`{raw}`: say how the list {{{name}}} is spelled: `[--flag {{{name}}}]` repeats the words per element, `{{{name},}}` joins it with commas (`{{{name}:}}` with colons)"
                        ));
                    }
                    items.push(Item::Word(word));
                }
            }
            if closes {
                let g = group.take().unwrap_or_default();
                let lists: Vec<(&str, Spell)> = g.iter().flat_map(lists_in).collect();
                let per_element: std::collections::BTreeSet<&str> =
                    lists.iter().filter(|(_, s)| *s == Spell::Each).map(|(n, _)| *n).collect();
                if lists.is_empty() {
                    return Err(format!(
                        "the group ending in `{raw}` names no list ({}): brackets are for lists only",
                        LISTS.join(", ")
                    ));
                }
                if per_element.len() > 1 {
                    return Err(format!(
                        "the group ending in `{raw}` repeats over two lists at once ({}); give each its own group",
                        per_element.into_iter().collect::<Vec<_>>().join(", ")
                    ));
                }
                items.push(Item::Group(g));
            }
        }
        if group.is_some() {
            return Err("a `[` group is not closed with `]`".into());
        }
        if cmds > 1 {
            return Err("{cmd} appears more than once".into());
        }
        Ok(Template { items })
    }

    #[cfg(test)]
    fn parse_line(line: &str) -> Result<Template, String> {
        Template::parse(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    /// Whether `{cmd}` is in the template (without it the guest appends the runner).
    #[cfg(test)]
    fn has_cmd(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item::Word(w) if w == &vec![Piece::Cmd]))
    }

    /// The scalar placeholders used.
    /// Whether a scalar or a list of this name appears in the template.
    pub fn uses(&self, name: &str) -> bool {
        let named = |p: &Piece| matches!(p, Piece::Scalar(n) | Piece::List { name: n, .. } if n == name);
        self.items.iter().any(|i| match i {
            Item::Word(w) => w.iter().any(named),
            Item::Group(g) => g.iter().any(|w| w.iter().any(named)),
        })
    }

    /// The lists joined into one word, with their separators (`{ro:}` → `("ro", ':')`).
    pub fn joined_lists(&self) -> Vec<(String, char)> {
        let words = self.items.iter().flat_map(|i| match i {
            Item::Word(w) => std::slice::from_ref(w).iter(),
            Item::Group(g) => g.iter(),
        });
        words.flat_map(lists_in).filter_map(joined).collect()
    }

    /// Replaces the first word when it is exactly `name` by `{binary}` (so `landrun --ro …`
    /// starts the installed landrun, wherever it is in the guest).
    pub fn program_name_is_binary(&mut self, name: &str) {
        if let Some(Item::Word(w)) = self.items.first_mut() {
            if w == &vec![Piece::Lit(name.to_string())] {
                *w = vec![Piece::Scalar("binary".into())];
            }
        }
    }

    pub fn expand(&self, v: &Values) -> Vec<String> {
        let mut out = Vec::new();
        for item in &self.items {
            match item {
                Item::Word(w) => out.push(render(w, v, None)),
                Item::Group(g) => {
                    let lists: Vec<(&str, Spell)> = g.iter().flat_map(lists_in).collect();
                    if lists.iter().any(|(n, _)| v.list(n).is_none_or(|l| l.is_empty())) {
                        continue;
                    }
                    match lists.iter().find(|(_, s)| *s == Spell::Each) {
                        Some((name, _)) => {
                            for element in v.list(name).into_iter().flatten() {
                                out.extend(g.iter().map(|w| render(w, v, Some(element))));
                            }
                        }
                        None => out.extend(g.iter().map(|w| render(w, v, None))),
                    }
                }
            }
        }
        out
    }
}

impl ValueTemplate {
    pub fn parse(value: &str) -> Result<ValueTemplate, String> {
        let word = parse_word(value)?;
        if word.contains(&Piece::Cmd) {
            return Err(format!("`{value}`: {{cmd}} belongs in the command, not in a variable"));
        }
        if let Some((name, Spell::Each)) = lists_in(&word).next() {
            return Err(format!("`{value}`: say how the list {{{name}}} is joined, e.g. `{{{name}:}}` for colons"));
        }
        Ok(ValueTemplate { word })
    }

    /// The lists joined into the value, with their separators.
    pub fn joined_lists(&self) -> Vec<(String, char)> {
        lists_in(&self.word).filter_map(joined).collect()
    }

    /// The value, or `None` when it names an absent list (the variable is then not set).
    pub fn expand(&self, v: &Values) -> Option<String> {
        if lists_in(&self.word).any(|(n, _)| v.list(n).is_none()) {
            return None;
        }
        Some(render(&self.word, v, None))
    }
}

/// A list joined with a separator, and the separator (a path holding it would be split).
fn joined((name, spell): (&str, Spell)) -> Option<(String, char)> {
    match spell {
        Spell::Joined(sep) => Some((name.to_string(), sep)),
        Spell::Each | Spell::Json => None,
    }
}

fn render(word: &Word, v: &Values, element: Option<&String>) -> String {
    let mut s = String::new();
    for p in word {
        match p {
            Piece::Lit(l) => s.push_str(l),
            Piece::Scalar(name) => s.push_str(v.scalars.get(name.as_str()).map(String::as_str).unwrap_or("")),
            Piece::Cmd => s.push_str(CMD),
            Piece::List { spell: Spell::Each, .. } => s.push_str(element.map(String::as_str).unwrap_or("")),
            Piece::List { name, spell: Spell::Joined(sep) } => {
                s.push_str(&v.list(name).map(|l| l.join(&sep.to_string())).unwrap_or_default())
            }
            Piece::List { name, spell: Spell::Json } => {
                let list = v.list(name).cloned().unwrap_or_default();
                s.push_str(&serde_json::to_string(&list).expect("strings always serialise"))
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ro: &[&str], rw: &[&str], bind: Option<&[&str]>) -> Values {
        let mut v = Values::default();
        v.scalars.insert("binary", "/usr/local/bin/landrun".into());
        v.scalars.insert("policy_file", "/lockgate/policy/s.yaml".into());
        v.lists.insert("ro", Some(ro.iter().map(|s| s.to_string()).collect()));
        v.lists.insert("rw", Some(rw.iter().map(|s| s.to_string()).collect()));
        v.lists.insert("tcp_bind", bind.map(|b| b.iter().map(|s| s.to_string()).collect()));
        v.lists.insert("tcp_connect", None);
        v
    }

    fn expand(t: &str, v: &Values) -> String {
        Template::parse_line(t).unwrap().expand(v).join(" ")
    }

    #[test]
    fn groups_repeat_per_path_or_join() {
        let v = values(&["/usr", "/bin"], &["/tmp"], None);
        assert_eq!(
            expand("{binary} [--ro {ro}] [--rw {rw}] -- {cmd}", &v),
            "/usr/local/bin/landrun --ro /usr --ro /bin --rw /tmp -- {cmd}"
        );
        assert_eq!(
            expand("{binary} [--ro {ro,}] [--rw {rw,}] -- {cmd}", &v),
            "/usr/local/bin/landrun --ro /usr,/bin --rw /tmp -- {cmd}"
        );
        assert_eq!(
            expand("bwrap [--ro-bind {ro} {ro}] {cmd}", &v),
            "bwrap --ro-bind /usr /usr --ro-bind /bin /bin {cmd}"
        );
        assert_eq!(expand("x --paths={ro:} {cmd}", &v), "x --paths=/usr:/bin {cmd}");
        assert_eq!(expand("x [--ro={ro}] {cmd}", &v), "x --ro=/usr --ro=/bin {cmd}");
    }

    #[test]
    fn empty_and_absent_lists_drop_their_group() {
        let v = values(&["/usr"], &[], None);
        assert_eq!(expand("l [--ro {ro}] [--rw {rw}] [--bind-tcp {tcp_bind}] {cmd}", &v), "l --ro /usr {cmd}");
        let v = values(&["/usr"], &[], Some(&["8080", "9090"]));
        assert_eq!(expand("l [--bind-tcp {tcp_bind,}] {cmd}", &v), "l --bind-tcp 8080,9090 {cmd}");
    }

    #[test]
    fn env_values_join_and_absent_lists_unset() {
        let v = values(&["/usr", "/bin"], &[], None);
        assert_eq!(ValueTemplate::parse("{ro:}").unwrap().expand(&v).as_deref(), Some("/usr:/bin"));
        assert_eq!(ValueTemplate::parse("{rw:}").unwrap().expand(&v).as_deref(), Some(""));
        assert_eq!(ValueTemplate::parse("{tcp_bind:}").unwrap().expand(&v), None);
        assert!(ValueTemplate::parse("{ro}").unwrap_err().contains("joined"));
    }

    #[test]
    fn the_template_must_say_how_lists_are_spelled() {
        let e = Template::parse_line("landrun --ro {ro} -- {cmd}").unwrap_err();
        assert!(e.contains("say how the list {ro} is spelled"), "{e}");
        assert!(Template::parse_line("x {nope} {cmd}").unwrap_err().contains("unknown placeholder `{nope}`"));
        assert!(Template::parse_line("x [--a {ro}").unwrap_err().contains("not closed"));
        assert!(Template::parse_line("x [--a b] {cmd}").unwrap_err().contains("names no list"));
        assert!(Template::parse_line("x [--a {ro} {rw}] {cmd}").unwrap_err().contains("two lists"));
        assert!(Template::parse_line("x {cmd} {cmd}").unwrap_err().contains("more than once"));
        assert!(Template::parse_line("x --c={cmd}").unwrap_err().contains("word of its own"));
        assert_eq!(expand("x {{literal}} {cmd}", &values(&[], &[], None)), "x {literal} {cmd}");
    }

    #[test]
    fn a_leading_program_name_is_the_installed_binary() {
        let mut t = Template::parse_line("landrun [--ro {ro}] -- {cmd}").unwrap();
        t.program_name_is_binary("landrun");
        assert_eq!(t.expand(&values(&["/usr"], &[], None)).join(" "), "/usr/local/bin/landrun --ro /usr -- {cmd}");
        assert!(t.has_cmd());
    }

    /// Issue 13: an enforcer whose policy is JSON on its command line (Codex's sandbox) gets a
    /// list as a JSON array, quoted and escaped, whatever the paths hold.
    #[test]
    fn a_list_spelled_as_json_is_one_array() {
        let t = Template::parse(&["{binary}".into(), r#"{{"roots":{rw:json}}}"#.into(), "{cmd}".into()]).unwrap();
        let v = values(&["/usr"], &["/tmp", "/a\"b,c"], None);
        assert_eq!(t.expand(&v), vec!["/usr/local/bin/landrun", r#"{"roots":["/tmp","/a\"b,c"]}"#, CMD]);
        assert!(t.joined_lists().is_empty(), "no separator can split a JSON array");
    }
}
