//! lockgate's extension of the policy for the enforcer's own seccomp filter (`seccomp:`), and
//! the one resolution of it into rules ([`SeccompPolicy::resolve`]) that the reference enforcer
//! compiles into BPF and the host reads for its explanations.
//!
//! OpenShell installs its filter from its own fields: `seccomp: {openshell: true}` asks for that
//! filter exactly as OpenShell's `sandbox/linux/seccomp.rs` builds it (default allow; socket
//! domains AF_PACKET, AF_BLUETOOTH, AF_VSOCK and AF_NETLINK denied, AF_INET and AF_INET6 too
//! unless the network mode is proxy — on whenever the policy has `network_policies`; escape
//! syscalls denied outright; `execveat` with AT_EMPTY_PATH, `unshare`/`clone` with
//! CLONE_NEWUSER and `seccomp(SECCOMP_SET_MODE_FILTER)` denied by argument; all EPERM; `clone3`
//! answered ENOSYS by a filter of its own installed first). A scenario may state a filter
//! explicitly instead or besides (`deny_syscalls`, `deny_socket_domains`, `enosys`, `errno`).
//!
//! Names are x86_64's (the guest's architecture), from the probes' tables ([`crate::syscalls`]),
//! whose numbers the reference enforcer's tests check against libc's.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `seccomp:` in a policy. Present (even empty): the enforcer installs a filter.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompPolicy {
    /// OpenShell's own filter, as its fields decide it (the network mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub openshell: bool,
    /// The errno a denied call gets; EPERM when absent (OpenShell's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<Name<Errno>>,
    /// Syscalls denied, each outright or when an argument has the named flags set / equals a
    /// value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_syscalls: Vec<SyscallRule>,
    /// `socket()` domains denied, each whole or but for some protocols.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_socket_domains: Vec<DomainRule>,
    /// Syscalls answered ENOSYS, in a filter of their own installed before the main one (so
    /// that the main one may deny `seccomp()` itself): `clone3`, whose flags no filter can
    /// read, so that libc falls back to `clone`, whose flags it can.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enosys: Vec<Name<Syscall>>,
}

/// One entry of `deny_syscalls`: `bpf`, or `{syscall: unshare, arg: 0, flags: [CLONE_NEWUSER]}`,
/// or `{syscall: seccomp, arg: 0, equals: SECCOMP_SET_MODE_FILTER}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallRule {
    pub syscall: Name<Syscall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg: Option<u8>,
    /// Denied when every one of these bits is set in the argument.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Name<Flag>>,
    /// Denied when the argument equals this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<Name<Flag>>,
}

/// One entry of `deny_socket_domains`: `AF_PACKET`, or
/// `{domain: AF_NETLINK, except_protocols: [NETLINK_ROUTE]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainRule {
    pub domain: Name<Domain>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub except_protocols: Vec<Name<Protocol>>,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyscallRuleMap {
    syscall: Name<Syscall>,
    #[serde(default)]
    arg: Option<u8>,
    #[serde(default)]
    flags: Vec<Name<Flag>>,
    #[serde(default)]
    equals: Option<Name<Flag>>,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainRuleMap {
    domain: Name<Domain>,
    #[serde(default)]
    except_protocols: Vec<Name<Protocol>>,
}

/// A word or a map, each with serde's own error (and line) for what is wrong in it.
struct WordOrMap<W, M>(std::marker::PhantomData<(W, M)>);

impl<'de, W: Deserialize<'de>, M: Deserialize<'de>> Visitor<'de> for WordOrMap<W, M> {
    type Value = Result<W, M>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a name, or a map")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        W::deserialize(de::value::StrDeserializer::new(v)).map(Ok)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        M::deserialize(de::value::MapAccessDeserializer::new(map)).map(Err)
    }
}

impl<'de> Deserialize<'de> for SyscallRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(WordOrMap::<Name<Syscall>, SyscallRuleMap>(std::marker::PhantomData))? {
            Ok(syscall) => Ok(SyscallRule { syscall, arg: None, flags: Vec::new(), equals: None }),
            Err(m) => {
                if m.arg.is_some() != (!m.flags.is_empty() || m.equals.is_some()) {
                    return Err(de::Error::custom(format!(
                        "`{}`: an argument condition needs both `arg: N` and `flags: [..]` or `equals: ..`; without one, write the syscall's name alone to deny it outright",
                        m.syscall
                    )));
                }
                if !m.flags.is_empty() && m.equals.is_some() {
                    return Err(de::Error::custom(format!(
                        "`{}`: give `flags:` or `equals:`, not both (write two rules to deny either)",
                        m.syscall
                    )));
                }
                if m.arg.is_some_and(|a| a > 5) {
                    return Err(de::Error::custom(format!("`{}`: a syscall has arguments 0 to 5", m.syscall)));
                }
                Ok(SyscallRule { syscall: m.syscall, arg: m.arg, flags: m.flags, equals: m.equals })
            }
        }
    }
}

impl<'de> Deserialize<'de> for DomainRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(WordOrMap::<Name<Domain>, DomainRuleMap>(std::marker::PhantomData))? {
            Ok(domain) => Ok(DomainRule { domain, except_protocols: Vec::new() }),
            Err(m) => Ok(DomainRule { domain: m.domain, except_protocols: m.except_protocols }),
        }
    }
}

/// A name from one of the tables below (or, for flags and protocols, a number), checked while
/// deserialising so that a misspelt name is an error with its line, never a rule that matches
/// nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Name<T> {
    text: String,
    value: u64,
    kind: std::marker::PhantomData<T>,
}

impl<T> fmt::Debug for Name<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.text)
    }
}

impl<T> fmt::Display for Name<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<T> Name<T> {
    pub fn as_str(&self) -> &str {
        &self.text
    }
    pub fn value(&self) -> u64 {
        self.value
    }
}

/// A kind of name: what it is, and its value. Syscalls and flags are the probes' tables
/// ([`crate::syscalls`]), so that a filter and a probe spell a call the same way.
pub trait Table {
    const WHAT: &'static str;
    /// The value of `text`, or what to write instead.
    fn lookup(text: &str) -> Result<u64, String>;
}

impl<T: Table> Name<T> {
    pub fn parse(text: &str) -> Result<Self, String> {
        let value = T::lookup(text).map_err(|how| format!("`{text}` is not {}: {how}", T::WHAT))?;
        Ok(Name { text: text.to_string(), value, kind: std::marker::PhantomData })
    }
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A flag of the probes' table whose name starts with `prefix`, or (`numbers`) a number;
/// `examples` for the message.
fn flag_of(text: &str, prefix: &str, numbers: bool, examples: &str) -> Result<u64, String> {
    match (crate::syscalls::flag(text), parse_number(text)) {
        (Some(v), _) if text.starts_with(prefix) => Ok(v),
        (_, Some(v)) if numbers => Ok(v),
        _ => Err(format!(
            "write a name as the kernel's headers spell it ({examples}){}",
            if numbers { ", or a number" } else { "" }
        )),
    }
}

impl<'de, T: Table> Deserialize<'de> for Name<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A number in YAML (`arg` values such as 0x1000) arrives as a number, not a string.
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: Table> Visitor<'_> for V<T> {
            type Value = Name<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::WHAT)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<T>, E> {
                Name::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Name<T>, E> {
                Name::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A name of a table, or a number where the table takes one: checked by lockgate when it loads
/// the file (the schema says only what kind of value it is).
#[cfg(feature = "schemars")]
impl<T: Table> schemars::JsonSchema for Name<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("{}Name", std::any::type_name::<T>().rsplit("::").next().unwrap_or("Table")).into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"description": T::WHAT, "type": ["string", "integer"], "minimum": 0})
    }
}

/// A word (the syscall, denied outright) or a map with an argument condition.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for SyscallRule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SyscallRule".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let (word, map) = (g.subschema_for::<Name<Syscall>>(), g.subschema_for::<SyscallRuleMap>());
        schemars::json_schema!({"anyOf": [word, map]})
    }
}

/// A word (the domain, denied whole) or a map with the protocols it keeps.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for DomainRule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DomainRule".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let (word, map) = (g.subschema_for::<Name<Domain>>(), g.subschema_for::<DomainRuleMap>());
        schemars::json_schema!({"anyOf": [word, map]})
    }
}

impl<T> Serialize for Name<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errno;

impl Table for Syscall {
    const WHAT: &'static str = "an x86_64 syscall";
    fn lookup(text: &str) -> Result<u64, String> {
        crate::syscalls::number(text, crate::Entry::X86_64)
            .map(u64::from)
            .ok_or_else(|| "write its name as in the kernel's syscall table (`unshare`, `clone3`)".into())
    }
}

impl Table for Flag {
    const WHAT: &'static str = "a flag";
    fn lookup(text: &str) -> Result<u64, String> {
        flag_of(text, "", true, "CLONE_NEWUSER, AT_EMPTY_PATH, SECCOMP_SET_MODE_FILTER")
    }
}

impl Table for Domain {
    const WHAT: &'static str = "a socket domain";
    fn lookup(text: &str) -> Result<u64, String> {
        flag_of(text, "AF_", false, "AF_INET, AF_NETLINK, AF_PACKET, AF_VSOCK")
    }
}

impl Table for Protocol {
    const WHAT: &'static str = "a netlink protocol";
    fn lookup(text: &str) -> Result<u64, String> {
        flag_of(text, "NETLINK_", true, "NETLINK_ROUTE, NETLINK_SOCK_DIAG")
    }
}

/// The errnos a filter may answer with (the few a sandbox's filter uses).
const ERRNOS: [(&str, u64); 6] =
    [("EPERM", 1), ("EACCES", 13), ("EINVAL", 22), ("ENOSYS", 38), ("EOPNOTSUPP", 95), ("EAFNOSUPPORT", 97)];

impl Table for Errno {
    const WHAT: &'static str = "an errno a filter answers with";
    fn lookup(text: &str) -> Result<u64, String> {
        let known = || ERRNOS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        ERRNOS.iter().find(|(n, _)| *n == text).map(|(_, v)| *v).ok_or_else(|| format!("write one of {}", known()))
    }
}

/// The x86_64 number of a syscall of the table (a programming error otherwise).
pub fn syscall_nr(name: &str) -> u64 {
    crate::syscalls::number(name, crate::Entry::X86_64).map(u64::from).unwrap_or_else(|| panic!("{name} is a syscall"))
}

// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

/// A filter as rules: a call is denied with `errno` when any rule for its number holds (a
/// rule holds when all its conditions do); `enosys` is a filter of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub errno: u32,
    pub rules: Vec<Rule>,
    pub enosys: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub syscall: String,
    pub nr: u64,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub arg: u8,
    pub op: Op,
    pub value: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    /// `(arg & mask) == value`.
    MaskedEq(u64),
}

/// OpenShell's filter (`sandbox/linux/seccomp.rs`, `build_filter_rules`): denied outright.
pub const OPENSHELL_DENIED: [&str; 21] = [
    "memfd_create",
    "ptrace",
    "bpf",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "io_uring_setup",
    "mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "setns",
    "umount2",
    "pivot_root",
    "userfaultfd",
    "perf_event_open",
];

/// OpenShell's socket domains denied in every network mode; AF_INET and AF_INET6 join them
/// unless the mode is proxy (or allow).
pub const OPENSHELL_DOMAINS: [&str; 4] = ["AF_PACKET", "AF_BLUETOOTH", "AF_VSOCK", "AF_NETLINK"];

fn name<T: Table>(text: &str) -> Name<T> {
    Name::parse(text).expect("a name of the table")
}

impl SeccompPolicy {
    /// The filter this section asks for. `proxy_mode`: OpenShell's network mode is proxy (the
    /// policy has `network_policies`), so AF_INET/AF_INET6 stay open.
    pub fn resolve(&self, proxy_mode: bool) -> Filter {
        let mut denied = self.deny_syscalls.clone();
        let mut domains = Vec::new();
        let mut enosys: Vec<Name<Syscall>> = Vec::new();
        if self.openshell {
            let mut base: Vec<&str> = OPENSHELL_DOMAINS.to_vec();
            if !proxy_mode {
                base.extend(["AF_INET", "AF_INET6"]);
            }
            domains.extend(base.into_iter().map(|d| DomainRule { domain: name(d), except_protocols: Vec::new() }));
            denied.extend(OPENSHELL_DENIED.iter().map(|s| SyscallRule {
                syscall: name(s),
                arg: None,
                flags: Vec::new(),
                equals: None,
            }));
            for (syscall, arg, flag) in
                [("execveat", 4, "AT_EMPTY_PATH"), ("unshare", 0, "CLONE_NEWUSER"), ("clone", 0, "CLONE_NEWUSER")]
            {
                denied.push(SyscallRule {
                    syscall: name(syscall),
                    arg: Some(arg),
                    flags: vec![name(flag)],
                    equals: None,
                });
            }
            denied.push(SyscallRule {
                syscall: name("seccomp"),
                arg: Some(0),
                flags: Vec::new(),
                equals: Some(name("SECCOMP_SET_MODE_FILTER")),
            });
            enosys.push(name("clone3"));
        }
        domains.extend(self.deny_socket_domains.iter().cloned());
        enosys.extend(self.enosys.iter().cloned());

        let mut rules: Vec<Rule> = Vec::new();
        let mut push = |rule: Rule| {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        };
        for d in &domains {
            let mut conditions = vec![Condition { arg: 0, op: Op::Eq, value: d.domain.value() }];
            // The protocol is socket()'s third argument.
            conditions.extend(d.except_protocols.iter().map(|p| Condition { arg: 2, op: Op::Ne, value: p.value() }));
            push(Rule { syscall: "socket".into(), nr: syscall_nr("socket"), conditions });
        }
        for r in &denied {
            let conditions = match (r.arg, r.flags.is_empty(), &r.equals) {
                (Some(arg), false, _) => {
                    let mask = r.flags.iter().fold(0, |m, f| m | f.value());
                    vec![Condition { arg, op: Op::MaskedEq(mask), value: mask }]
                }
                (Some(arg), true, Some(v)) => vec![Condition { arg, op: Op::Eq, value: v.value() }],
                _ => Vec::new(),
            };
            push(Rule { syscall: r.syscall.as_str().to_string(), nr: r.syscall.value(), conditions });
        }
        let mut enosys_list: Vec<(String, u64)> = Vec::new();
        for s in enosys {
            if !enosys_list.iter().any(|(n, _)| n == s.as_str()) {
                enosys_list.push((s.as_str().to_string(), s.value()));
            }
        }
        Filter { errno: self.errno.as_ref().map_or(1, |e| e.value() as u32), rules, enosys: enosys_list }
    }
}

impl Filter {
    /// How many distinct syscalls the filters deny (or answer ENOSYS): the claim's `syscalls=`.
    pub fn syscalls(&self) -> usize {
        let mut nrs: Vec<u64> = self.rules.iter().map(|r| r.nr).chain(self.enosys.iter().map(|(_, n)| *n)).collect();
        nrs.sort_unstable();
        nrs.dedup();
        nrs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SeccompPolicy, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn openshell_filter_follows_the_network_mode() {
        let p = parse(r#"{"openshell":true}"#).unwrap();
        let block = p.resolve(false);
        let proxy = p.resolve(true);
        let inet = |f: &Filter| f.rules.iter().any(|r| r.syscall == "socket" && r.conditions[0].value == 2);
        assert!(inet(&block) && !inet(&proxy));
        assert_eq!(block.rules.len(), proxy.rules.len() + 2);
        assert_eq!(block.errno, 1);
        assert_eq!(block.enosys, [("clone3".to_string(), 435)]);
        let unshare = block.rules.iter().find(|r| r.syscall == "unshare").unwrap();
        assert_eq!(unshare.conditions, [Condition { arg: 0, op: Op::MaskedEq(0x1000_0000), value: 0x1000_0000 }]);
        let seccomp = block.rules.iter().find(|r| r.syscall == "seccomp").unwrap();
        assert_eq!(seccomp.conditions, [Condition { arg: 0, op: Op::Eq, value: 1 }]);
        // socket, 21 outright, execveat, unshare, clone, seccomp, clone3.
        assert_eq!(block.syscalls(), 1 + 21 + 4 + 1);
    }

    #[test]
    fn explicit_rules_with_the_netlink_exception() {
        let p = parse(
            r#"{"errno":"EACCES","deny_syscalls":["bpf",{"syscall":"unshare","arg":0,"flags":["CLONE_NEWUSER","CLONE_NEWNET"]}],"deny_socket_domains":[{"domain":"AF_NETLINK","except_protocols":["NETLINK_ROUTE"]}],"enosys":["clone3"]}"#,
        )
        .unwrap();
        let f = p.resolve(false);
        assert_eq!(f.errno, 13);
        assert_eq!(
            f.rules[0].conditions,
            [Condition { arg: 0, op: Op::Eq, value: 16 }, Condition { arg: 2, op: Op::Ne, value: 0 }]
        );
        assert_eq!(f.rules[2].conditions[0].op, Op::MaskedEq(0x5000_0000));
        // Written back as it was read.
        let back: SeccompPolicy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bad_names_and_half_conditions_are_errors() {
        assert!(parse(r#"{"deny_syscalls":["unshere"]}"#).unwrap_err().contains("`unshere` is not an x86_64 syscall"));
        assert!(parse(r#"{"deny_socket_domains":["AF_NETLNK"]}"#).unwrap_err().contains("AF_NETLINK"));
        assert!(parse(r#"{"deny_syscalls":[{"syscall":"unshare","flags":["CLONE_NEWUSER"]}]}"#)
            .unwrap_err()
            .contains("needs both `arg: N`"));
        assert!(parse(r#"{"deny_syscalls":[{"syscall":"unshare","arg":7,"flags":[1]}]}"#)
            .unwrap_err()
            .contains("0 to 5"));
        assert!(parse(r#"{"errno":"EPREM"}"#).unwrap_err().contains("EPERM"));
        assert!(parse(r#"{"deny":[]}"#).unwrap_err().contains("unknown field"));
        let p = parse(r#"{"deny_syscalls":[{"syscall":"execveat","arg":4,"flags":["0x1000"]}]}"#).unwrap();
        assert_eq!(p.resolve(false).rules[0].conditions[0].value, 0x1000);
    }
}
