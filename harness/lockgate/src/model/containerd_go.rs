//! containerd's default seccomp profile, read from its Go source (`contrib/seccomp/
//! seccomp_default.go`, as Debian's `golang-github-containerd-containerd-dev` carries it): the
//! profile Kubernetes' `RuntimeDefault` means on containerd is not a data file but the function
//! `DefaultProfile`, which builds the OCI `linux.seccomp` from the container's bounding
//! capabilities, `runtime.GOARCH` and the running kernel's version.
//!
//! This reads that function (gofmt'd Go, the statement forms containerd 1.4 to 1.7 use) and
//! writes the same profile in Docker's format, which says the same conditions: a rule appended
//! under `case "CAP_X":` of the capability loop is `includes: {caps: [CAP_X]}`, one under
//! `if !admin` (CAP_SYS_ADMIN not in the bounding set) is `excludes: {caps: [CAP_SYS_ADMIN]}`,
//! one under `kernelversion.GreaterEqualThan({Kernel: 4, Major: 8})` is `includes: {minKernel:
//! "4.8"}`. `runtime.GOARCH` is settled here, for amd64 (lockgate's guests): only the `amd64`
//! cases (or `default:` where no case names amd64) are kept, and `arches()` gives the
//! architectures. dockerd's reading of the result (`seccomp::convert`) then gives what
//! `DefaultProfile` returns for that capability set and kernel.
//!
//! Anything else in the function is an error naming the file and line: a containerd whose
//! profile is written differently is not guessed at.

use anyhow::{bail, Result};
use lockgate_protocol::seccomp::{Action, Arg, Filter, KernelVersion, Operator, Profile, Rule};
use std::path::Path;

/// The architecture the profile is read for (Go's GOARCH).
const GOARCH: &str = "amd64";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(u64),
    Punct(&'static str),
}

const PUNCTS: [&str; 17] = [":=", "==", "!=", "&&", "||", "...", "{", "}", "(", ")", "[", "]", ",", ":", ".", "&", "|"];
const SINGLE: [&str; 4] = ["=", ";", "!", "*"];

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, String> {
    let b = text.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if text[i..].starts_with("/*") {
            let end = text[i + 2..].find("*/").ok_or(format!("line {line}: unterminated comment"))? + i + 4;
            line += text[i..end].matches('\n').count();
            i = end;
        } else if c == b'"' || c == b'`' {
            let end = text[i + 1..].find(c as char).ok_or(format!("line {line}: unterminated string"))? + i + 1;
            let s = &text[i + 1..end];
            if c == b'"' && s.contains('\\') {
                return Err(format!("line {line}: escapes in strings are not read"));
            }
            out.push((Tok::Str(s.to_string()), line));
            i = end + 1;
        } else if c.is_ascii_digit() {
            let end = text[i..].find(|ch: char| !ch.is_ascii_alphanumeric()).map_or(b.len(), |n| i + n);
            let lit = &text[i..end];
            let v = match lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => lit.parse(),
            }
            .map_err(|_| format!("line {line}: `{lit}` is not a number lockgate reads"))?;
            out.push((Tok::Int(v), line));
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = text[i..].find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).map_or(b.len(), |n| i + n);
            out.push((Tok::Ident(text[i..end].to_string()), line));
            i = end;
        } else if let Some(p) = PUNCTS.iter().chain(SINGLE.iter()).find(|p| text[i..].starts_with(**p)) {
            out.push((Tok::Punct(p), line));
            i += p.len();
        } else {
            return Err(format!("line {line}: unexpected character `{}`", c as char));
        }
    }
    Ok(out)
}

/// A switch's case: its labels (`None` for `default:`) and where its statements start.
type Case = (Option<Vec<String>>, usize);

/// The conditions the statements being read are under.
#[derive(Debug, Clone, Default)]
struct Cond {
    cap: Option<String>,
    not_admin: bool,
    min_kernel: Option<KernelVersion>,
}

struct Reader {
    toks: Vec<(Tok, usize)>,
    at: usize,
    nosys: Option<u32>,
    profile: Option<Profile>,
    pending: Vec<Rule>,
    arches: Vec<String>,
}

impl Reader {
    fn line(&self) -> usize {
        self.toks.get(self.at).or(self.toks.last()).map_or(0, |t| t.1)
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.at + n).map(|t| &t.0)
    }
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        let near = self.peek().map(|t| format!(" (at {t:?})")).unwrap_or_default();
        Err(format!("line {}: {what}{near}", self.line()))
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) || matches!(self.peek(), Some(Tok::Ident(i)) if i == p)
    }
    fn eat(&mut self, p: &str) -> bool {
        let yes = self.is(p);
        if yes {
            self.at += 1;
        }
        yes
    }
    /// Expects a sequence of punctuation and identifiers, space-separated.
    fn expect(&mut self, seq: &str) -> Result<(), String> {
        for p in seq.split(' ') {
            if !self.eat(p) {
                return self.fail(&format!("expected `{p}` in `{seq}`"));
            }
        }
        Ok(())
    }
    /// The next token, when `pick` takes it.
    fn take<T>(&mut self, what: &str, pick: impl Fn(&Tok) -> Option<T>) -> Result<T, String> {
        match self.peek().and_then(pick) {
            Some(v) => {
                self.at += 1;
                Ok(v)
            }
            None => self.fail(&format!("expected {what}")),
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        self.take("a name", |t| if let Tok::Ident(i) = t { Some(i.clone()) } else { None })
    }
    fn string(&mut self) -> Result<String, String> {
        self.take("a string", |t| if let Tok::Str(s) = t { Some(s.clone()) } else { None })
    }
    fn int(&mut self) -> Result<u64, String> {
        self.take("a number", |t| if let Tok::Int(v) = t { Some(*v) } else { None })
    }
    /// Skips to the token after `func NAME(`…`) … {`, the function's body.
    fn find_func(&mut self, name: &str) -> Result<(), String> {
        while self.at + 1 < self.toks.len() {
            if self.is("func") && self.peek_at(1) == Some(&Tok::Ident(name.into())) {
                while !self.eat("{") {
                    self.at += 1;
                }
                return Ok(());
            }
            self.at += 1;
        }
        Err(format!("no function {name}"))
    }

    /// `case "a", "b":` (or `default:`): the strings, `None` for default.
    fn case_label(&mut self) -> Result<Option<Vec<String>>, String> {
        if self.eat("default") {
            self.expect(":")?;
            return Ok(None);
        }
        self.expect("case")?;
        let mut labels = vec![self.string()?];
        while self.eat(",") {
            labels.push(self.string()?);
        }
        self.expect(":")?;
        Ok(Some(labels))
    }

    /// A switch's cases: each label and the token range of its statements.
    fn cases(&mut self) -> Result<Vec<Case>, String> {
        let mut out = Vec::new();
        while !self.is("}") {
            let label = self.case_label()?;
            out.push((label, self.at));
            self.skip_case_body()?;
        }
        self.expect("}")?;
        Ok(out)
    }
    fn skip_case_body(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return self.fail("unterminated switch"),
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) if depth == 0 => return Ok(()),
                Some(Tok::Punct("}")) => depth -= 1,
                Some(Tok::Ident(i)) if depth == 0 && (i == "case" || i == "default") => return Ok(()),
                _ => {}
            }
            self.at += 1;
        }
    }

    /// `switch runtime.GOARCH {…}` in `arches()`: amd64's architectures.
    fn read_arches(&mut self) -> Result<(), String> {
        self.find_func("arches")?;
        self.expect("switch runtime . GOARCH {")?;
        let cases = self.cases()?;
        let chosen = pick_arch_case(&cases).ok_or_else(|| "arches(): no case for amd64".to_string())?;
        self.at = chosen;
        self.expect("return [ ] specs . Arch {")?;
        while !self.eat("}") {
            self.expect("specs .")?;
            let a = self.ident()?;
            let name = a.strip_prefix("Arch").ok_or("arches(): not a specs.Arch")?;
            self.arches.push(format!("SCMP_ARCH_{}", name.to_ascii_uppercase()));
            self.eat(",");
        }
        Ok(())
    }

    /// Statements until the block's closing `}` (eaten) or, in a case, the next case label.
    fn block(&mut self, cond: &Cond, in_case: bool) -> Result<(), String> {
        loop {
            if in_case && (self.is("case") || self.is("default") || self.is("}")) {
                return Ok(());
            }
            if self.eat("}") {
                return Ok(());
            }
            self.statement(cond)?;
        }
    }

    fn statement(&mut self, cond: &Cond) -> Result<(), String> {
        let line = self.line();
        if self.eat("return") {
            return self.expect("s");
        }
        if self.eat("switch") {
            self.expect("runtime . GOARCH {")?;
            let cases = self.cases()?;
            let end = self.at;
            if let Some(start) = pick_arch_case(&cases) {
                self.at = start;
                self.block(cond, true)?;
            }
            self.at = end;
            return Ok(());
        }
        if self.eat("for") {
            self.expect("_ , c := range sp . Process . Capabilities . Bounding { switch c {")?;
            for (label, start) in self.cases()? {
                let Some(caps) = label else { return Err(format!("line {line}: `default:` of the capability switch")) };
                if caps.len() != 1 {
                    return Err(format!("line {line}: one capability per case is what lockgate reads"));
                }
                let end = self.at;
                self.at = start;
                let inner = Cond { cap: Some(caps[0].clone()), ..cond.clone() };
                if cond.cap.is_some() {
                    return Err(format!("line {line}: nested capability loops"));
                }
                self.block(&inner, true)?;
                self.at = end;
            }
            return self.expect("}");
        }
        if self.eat("if") {
            if self.eat("!") {
                self.expect("admin {")?;
                return self.block(&Cond { not_admin: true, ..cond.clone() }, false);
            }
            self.expect("ok , err := kernelversion . GreaterEqualThan ( kernelversion . KernelVersion { Kernel :")?;
            let kernel = self.int()?;
            self.expect(", Major :")?;
            let major = self.int()?;
            self.eat(",");
            self.expect("} ) ; err == nil { if ok {")?;
            self.block(&Cond { min_kernel: Some(KernelVersion { kernel, major }), ..cond.clone() }, false)?;
            return self.expect("}");
        }
        let name = self.ident()?;
        match name.as_str() {
            "nosys" => {
                self.expect(":= uint ( unix . ENOSYS )")?;
                self.nosys = Some(38);
            }
            "admin" if self.eat(":=") => self.expect("false")?,
            "admin" => {
                self.expect("= true")?;
                if cond.cap.as_deref() != Some("CAP_SYS_ADMIN") {
                    return Err(format!("line {line}: `admin = true` outside `case \"CAP_SYS_ADMIN\"`"));
                }
            }
            "syscalls" => {
                self.expect(":= [ ] specs . LinuxSyscall {")?;
                while !self.eat("}") {
                    let r = self.rule(cond)?;
                    self.pending.push(r);
                    self.eat(",");
                }
            }
            "s" if self.eat(":=") => {
                self.expect("& specs . LinuxSeccomp {")?;
                let mut p = Profile {
                    default_action: Action::Errno,
                    default_errno_ret: None,
                    default_errno: None,
                    architectures: Vec::new(),
                    arch_map: Vec::new(),
                    syscalls: Vec::new(),
                    flags: Vec::new(),
                    listener_path: None,
                    listener_metadata: None,
                };
                while !self.eat("}") {
                    let field = self.ident()?;
                    self.expect(":")?;
                    match field.as_str() {
                        "DefaultAction" => p.default_action = self.action()?,
                        "DefaultErrnoRet" => p.default_errno_ret = Some(self.errno_ref()?),
                        "Architectures" => {
                            self.expect("arches ( )")?;
                            p.architectures = self.arches.clone();
                        }
                        "Syscalls" => {
                            self.expect("syscalls")?;
                            p.syscalls = std::mem::take(&mut self.pending);
                        }
                        other => return Err(format!("line {line}: LinuxSeccomp field {other}")),
                    }
                    self.eat(",");
                }
                self.profile = Some(p);
            }
            "s" => {
                self.expect(". Syscalls = append ( s . Syscalls ,")?;
                let mut rules = Vec::new();
                loop {
                    self.expect("specs . LinuxSyscall")?;
                    rules.push(self.rule(cond)?);
                    if !self.eat(",") || self.is(")") {
                        break;
                    }
                }
                self.expect(")")?;
                let Some(p) = self.profile.as_mut() else {
                    return Err(format!("line {line}: rules appended before `s` is made"));
                };
                p.syscalls.extend(rules);
            }
            other => return Err(format!("line {line}: a statement starting with `{other}`")),
        }
        Ok(())
    }

    fn action(&mut self) -> Result<Action, String> {
        self.expect("specs .")?;
        let a = self.ident()?;
        Ok(match a.as_str() {
            "ActKill" => Action::Kill,
            "ActKillProcess" => Action::KillProcess,
            "ActKillThread" => Action::KillThread,
            "ActTrap" => Action::Trap,
            "ActErrno" => Action::Errno,
            "ActTrace" => Action::Trace,
            "ActAllow" => Action::Allow,
            "ActLog" => Action::Log,
            "ActNotify" => Action::Notify,
            _ => return self.fail(&format!("unknown action specs.{a}")),
        })
    }

    fn errno_ref(&mut self) -> Result<u32, String> {
        self.expect("& nosys")?;
        match self.nosys {
            Some(n) => Ok(n),
            None => self.fail("`&nosys` before `nosys :=`"),
        }
    }

    /// `{Names: …, Action: …, Args: …, ErrnoRet: …}`, under `cond`.
    fn rule(&mut self, cond: &Cond) -> Result<Rule, String> {
        self.expect("{")?;
        let mut rule = Rule {
            name: None,
            names: Vec::new(),
            action: Action::Errno,
            args: Vec::new(),
            comment: None,
            includes: None,
            excludes: None,
            errno_ret: None,
            errno: None,
        };
        let mut has_action = false;
        while !self.eat("}") {
            let field = self.ident()?;
            self.expect(":")?;
            match field.as_str() {
                "Names" => {
                    self.expect("[ ] string {")?;
                    while !self.eat("}") {
                        rule.names.push(self.string()?);
                        self.eat(",");
                    }
                }
                "Action" => {
                    rule.action = self.action()?;
                    has_action = true;
                }
                "ErrnoRet" => rule.errno_ret = Some(self.errno_ref()?),
                "Args" => {
                    self.expect("[ ] specs . LinuxSeccompArg {")?;
                    while !self.eat("}") {
                        rule.args.push(self.arg()?);
                        self.eat(",");
                    }
                }
                other => return self.fail(&format!("LinuxSyscall field {other}")),
            }
            self.eat(",");
        }
        if !has_action {
            return self.fail("a rule without an Action");
        }
        let includes =
            Filter { caps: cond.cap.iter().cloned().collect(), arches: Vec::new(), min_kernel: cond.min_kernel };
        if includes != Filter::default() {
            rule.includes = Some(includes);
        }
        if cond.not_admin {
            rule.excludes = Some(Filter { caps: vec!["CAP_SYS_ADMIN".into()], ..Filter::default() });
        }
        Ok(rule)
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.expect("{")?;
        let mut arg = Arg { index: 0, value: 0, value_two: 0, op: Operator::Eq };
        let mut has_op = false;
        while !self.eat("}") {
            let field = self.ident()?;
            self.expect(":")?;
            match field.as_str() {
                "Index" => arg.index = u32::try_from(self.int()?).map_err(|_| "index too large".to_string())?,
                "Value" => arg.value = self.value()?,
                "ValueTwo" => arg.value_two = self.value()?,
                "Op" => {
                    self.expect("specs .")?;
                    let op = self.ident()?;
                    arg.op = match op.as_str() {
                        "OpNotEqual" => Operator::Ne,
                        "OpLessThan" => Operator::Lt,
                        "OpLessEqual" => Operator::Le,
                        "OpEqualTo" => Operator::Eq,
                        "OpGreaterEqual" => Operator::Ge,
                        "OpGreaterThan" => Operator::Gt,
                        "OpMaskedEqual" => Operator::MaskedEq,
                        _ => return self.fail(&format!("unknown operator specs.{op}")),
                    };
                    has_op = true;
                }
                other => return self.fail(&format!("LinuxSeccompArg field {other}")),
            }
            self.eat(",");
        }
        if !has_op {
            return self.fail("an argument without an Op");
        }
        Ok(arg)
    }

    /// A number, or `unix.NAME | unix.NAME …` (the flags lockgate's tables know).
    fn value(&mut self) -> Result<u64, String> {
        let mut v = 0;
        loop {
            if let Some(Tok::Int(n)) = self.peek() {
                v |= *n;
                self.at += 1;
            } else {
                self.expect("unix .")?;
                let name = self.ident()?;
                v |= lockgate_protocol::syscalls::flag(&name)
                    .ok_or_else(|| format!("line {}: unix.{name} is not a constant lockgate knows", self.line()))?;
            }
            if !self.eat("|") {
                return Ok(v);
            }
        }
    }
}

/// The case of a `switch runtime.GOARCH` that amd64 takes: the one naming it, else `default:`.
fn pick_arch_case(cases: &[Case]) -> Option<usize> {
    cases
        .iter()
        .find(|(l, _)| l.as_ref().is_some_and(|l| l.iter().any(|a| a == GOARCH)))
        .or_else(|| cases.iter().find(|(l, _)| l.is_none()))
        .map(|(_, at)| *at)
}

/// `seccomp_default.go`'s `DefaultProfile` as a profile in Docker's format (for amd64).
pub fn read(file: &Path, text: &str) -> Result<Profile> {
    let toks = tokenize(text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut r = Reader { toks, at: 0, nosys: None, profile: None, pending: Vec::new(), arches: Vec::new() };
    let how = "lockgate reads containerd's DefaultProfile as containerd 1.4 to 1.7 write it; point `seccomp:` at a JSON profile instead";
    r.read_arches().map_err(|e| anyhow::anyhow!("{}: {e}: {how}", file.display()))?;
    r.at = 0;
    r.find_func("DefaultProfile").map_err(|e| anyhow::anyhow!("{}: {e}: {how}", file.display()))?;
    r.block(&Cond::default(), false).map_err(|e| anyhow::anyhow!("{}: {e}: {how}", file.display()))?;
    match r.profile {
        Some(p) if !p.syscalls.is_empty() => Ok(p),
        _ => bail!("{}: DefaultProfile made no profile with rules: {how}", file.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::seccomp::{convert, Flavour, Target, DOCKER_DEFAULT_CAPABILITIES};

    const SOURCE: &str = r#"
package seccomp

func arches() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchARM, specs.ArchAARCH64}
	default:
		return []specs.Arch{}
	}
}

// DefaultProfile defines the allowed syscalls for the default seccomp profile
func DefaultProfile(sp *specs.Spec) *specs.LinuxSeccomp {
	nosys := uint(unix.ENOSYS)
	syscalls := []specs.LinuxSyscall{
		{
			Names: []string{
				"read", // a comment
				"write",
			},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{},
		},
		{
			Names:  []string{"socket"},
			Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{
				{
					Index: 0,
					Value: unix.AF_VSOCK,
					Op:    specs.OpNotEqual,
				},
			},
		},
	}

	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: arches(),
		Syscalls:      syscalls,
	}

	if ok, err := kernelversion.GreaterEqualThan(
		kernelversion.KernelVersion{Kernel: 4, Major: 8}); err == nil {
		if ok {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names:  []string{"ptrace"},
				Action: specs.ActAllow,
				Args:   []specs.LinuxSeccompArg{},
			})
		}
	}

	switch runtime.GOARCH {
	case "arm", "arm64":
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names:  []string{"arm_fadvise64_64"},
			Action: specs.ActAllow,
		})
	case "amd64":
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names:  []string{"arch_prctl"},
			Action: specs.ActAllow,
		})
	}

	admin := false
	for _, c := range sp.Process.Capabilities.Bounding {
		switch c {
		case "CAP_SYS_ADMIN":
			admin = true
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names:  []string{"mount", "unshare"},
				Action: specs.ActAllow,
			})
		case "CAP_SYS_CHROOT":
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names:  []string{"chroot"},
				Action: specs.ActAllow,
			})
		}
	}

	if !admin {
		switch runtime.GOARCH {
		case "s390", "s390x":
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names:  []string{"clone"},
				Action: specs.ActAllow,
			})
		default:
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names:  []string{"clone"},
				Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{
					{
						Index:    0,
						Value:    unix.CLONE_NEWNS | unix.CLONE_NEWUSER,
						ValueTwo: 0,
						Op:       specs.OpMaskedEqual,
					},
				},
			})
		}
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names:    []string{"clone3"},
			Action:   specs.ActErrno,
			ErrnoRet: &nosys,
		})
	}

	return s
}
"#;

    fn names(caps: &[&str], release: &str) -> Vec<String> {
        let p = read(Path::new("seccomp_default.go"), SOURCE).unwrap();
        let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
        let c = convert(&p, Flavour::Docker, &Target { arch: "amd64", capabilities: &caps, release }).unwrap();
        assert_eq!(c.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        c.syscalls.iter().flat_map(|r| r.names.clone()).collect()
    }

    #[test]
    fn the_go_conditions_become_the_profiles_conditions() {
        let p = read(Path::new("seccomp_default.go"), SOURCE).unwrap();
        assert_eq!(p.default_action, Action::Errno);
        assert_eq!(p.default_errno_ret, None, "no DefaultErrnoRet: blocked calls answer EPERM");
        let vsock = &p.syscalls[1];
        assert_eq!(vsock.args[0].value, 40);
        assert_eq!(vsock.args[0].op, Operator::Ne);
        let clone3 = p.syscalls.iter().find(|r| r.names == ["clone3"]).unwrap();
        assert_eq!(clone3.errno_ret, Some(38));
        let clone = p.syscalls.iter().find(|r| r.names == ["clone"]).unwrap();
        assert_eq!(clone.args[0].value, 0x20000 | 0x10000000);

        let docker: Vec<&str> = DOCKER_DEFAULT_CAPABILITIES.to_vec();
        assert_eq!(
            names(&docker, "6.12.0"),
            ["read", "write", "socket", "ptrace", "arch_prctl", "chroot", "clone", "clone3"]
        );
        assert_eq!(names(&docker, "4.4.0"), ["read", "write", "socket", "arch_prctl", "chroot", "clone", "clone3"]);
        assert_eq!(
            names(&["CAP_SYS_ADMIN"], "6.12.0"),
            ["read", "write", "socket", "ptrace", "arch_prctl", "mount", "unshare"]
        );
    }

    #[test]
    fn what_it_does_not_know_is_an_error_naming_the_line() {
        let bad = SOURCE.replace("admin := false", "admin := false\n\tlog.Print(\"x\")");
        let err = format!("{:#}", read(Path::new("x.go"), &bad).unwrap_err());
        assert!(err.contains("x.go: line 71: a statement starting with `log`"), "{err}");
        let bad = SOURCE.replace("unix.AF_VSOCK", "unix.AF_NOPE");
        let err = format!("{:#}", read(Path::new("x.go"), &bad).unwrap_err());
        assert!(err.contains("unix.AF_NOPE is not a constant lockgate knows"), "{err}");
        let err = format!("{:#}", read(Path::new("x.go"), "package seccomp\n").unwrap_err());
        assert!(err.contains("no function arches"), "{err}");
    }
}
