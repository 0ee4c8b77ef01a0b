//! Command line: `lockgate-enforcer --policy FILE [--fault NAME]... -- COMMAND [ARGS...]`.
//!
//! Parsed by hand: the binary is copied into every guest image and run under TCG, so a
//! dependency the size of clap buys nothing here.

use crate::faults::{Fault, Faults};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Version,
    Run(Args),
    /// `--layer FILE…`: the harness's outer layers, not an enforcement ([`crate::layer`]).
    Layers(LayerArgs),
}

/// `lockgate-enforcer --layer FILE [--layer FILE]... [--arg0 NAME] -- COMMAND [ARGS...]`.
#[derive(Debug, PartialEq, Eq)]
pub struct LayerArgs {
    /// The layers' policy files, outermost first; never empty.
    pub files: Vec<PathBuf>,
    /// COMMAND's argv[0], when it is not COMMAND itself.
    pub arg0: Option<OsString>,
    /// `--peer UID:GID`: fork a process of that uid and gid inside the layers (the probes'
    /// `layer` peer) before executing COMMAND.
    pub peer: Option<(u32, u32)>,
    /// COMMAND and its arguments; never empty.
    pub command: Vec<OsString>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub policy: PathBuf,
    pub faults: Faults,
    /// COMMAND and its arguments; never empty.
    pub command: Vec<OsString>,
}

pub fn usage() -> String {
    let mut text = String::from(
        "lockgate-enforcer: the reference Landlock enforcer under test\n\
         \n\
         Usage: lockgate-enforcer --policy FILE [--fault NAME]... -- COMMAND [ARGS...]\n\
         \x20      lockgate-enforcer --help | --version\n\
         \n\
         Opens the policy's rule paths as root, drops to process.run_as_user, applies the\n\
         Landlock ruleset, prints one claim line on stderr and execs COMMAND:\n\
         \x20 lockgate-enforcer: enforcement=<full|partial|none|refused> abi=<N|none> reason=<text>\n\
         COMMAND sees the claim as LOCKGATE_ENFORCEMENT=\"<level> abi=<N|none>\".\n\
         hard_requirement refuses (exit 1, COMMAND not run) unless enforcement is full.\n\
         \n\
         --layer: the harness's outer layers. Each FILE's filesystem rules (and /lockgate\n\
         read-only) become one Landlock layer, in order, then COMMAND is executed with no claim;\n\
         without Landlock, COMMAND is executed as it is. Exit 125 when a layer cannot be applied.\n\
         \n\
         Known-bad modes (for lockgate's own tests; never use them to confine anything):\n",
    );
    for fault in Fault::all() {
        text.push_str(&format!("  --fault {:<24} {}\n", fault.name(), fault.summary()));
    }
    text
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, String> {
    let mut args = args.into_iter();
    let mut policy: Option<PathBuf> = None;
    let mut faults = Faults::default();
    let mut command = Vec::new();
    let mut layers: Vec<PathBuf> = Vec::new();
    let mut arg0: Option<OsString> = None;
    let mut peer: Option<(u32, u32)> = None;

    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            // A non-UTF-8 word can only be the command (options are ASCII).
            command.push(arg);
            break;
        };
        // `--name=value` and `--name value` both work.
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (text, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().and_then(|v| v.into_string().ok()).ok_or_else(|| format!("{name} needs {what}")),
            }
        };
        match name {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--policy" => {
                if policy.replace(PathBuf::from(value("a file")?)).is_some() {
                    return Err("--policy given twice".into());
                }
            }
            "--layer" => layers.push(PathBuf::from(value("a file")?)),
            "--arg0" => {
                if arg0.replace(OsString::from(value("a name")?)).is_some() {
                    return Err("--arg0 given twice".into());
                }
            }
            "--peer" => {
                let v = value("UID:GID")?;
                let ids = v.split_once(':').and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
                peer = Some(ids.ok_or_else(|| format!("--peer takes UID:GID, not {v:?}"))?);
            }
            "--fault" => {
                let v = value("a fault name")?;
                let fault = Fault::parse(&v).ok_or_else(|| {
                    let known: Vec<_> = Fault::all().iter().map(|f| f.name()).collect();
                    format!("unknown fault {v:?} (known: {})", known.join(", "))
                })?;
                faults.insert(fault);
            }
            "--" => break,
            _ if text.starts_with('-') => return Err(format!("unknown option {text}")),
            _ => {
                // The first plain word starts the command, as with `env` or `setpriv`.
                command.push(arg);
                break;
            }
        }
    }
    command.extend(args);

    if command.is_empty() {
        return Err("no COMMAND given (put it after --)".into());
    }
    if !layers.is_empty() {
        if policy.is_some() || faults != Faults::default() {
            return Err("--layer applies the harness's layers and takes neither --policy nor --fault".into());
        }
        return Ok(Invocation::Layers(LayerArgs { files: layers, arg0, peer, command }));
    }
    if arg0.is_some() || peer.is_some() {
        return Err("--arg0 and --peer belong to --layer".into());
    }
    let policy = policy.ok_or("--policy FILE is required")?;
    Ok(Invocation::Run(Args { policy, faults, command }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Invocation, String> {
        parse(words.iter().map(OsString::from))
    }

    #[test]
    fn full_command_line() {
        let Invocation::Run(args) =
            parse_words(&["--policy", "/p.yaml", "--fault", "abi2", "--fault=no-nnp", "--", "sh", "-c", "true"])
                .unwrap()
        else {
            panic!("not a run")
        };
        assert_eq!(args.policy, PathBuf::from("/p.yaml"));
        assert!(args.faults.has(Fault::Abi2) && args.faults.has(Fault::NoNnp));
        assert!(!args.faults.has(Fault::DropFirst));
        assert_eq!(args.command, ["sh", "-c", "true"].map(OsString::from));
    }

    #[test]
    fn options_after_the_command_belong_to_it() {
        let Invocation::Run(args) = parse_words(&["--policy=/p", "ls", "--help"]).unwrap() else { panic!() };
        assert_eq!(args.command, ["ls", "--help"].map(OsString::from));
    }

    #[test]
    fn errors_and_info() {
        assert_eq!(parse_words(&["--help"]), Ok(Invocation::Help));
        assert_eq!(parse_words(&["--version"]), Ok(Invocation::Version));
        assert!(parse_words(&["--policy", "/p"]).unwrap_err().contains("COMMAND"));
        assert!(parse_words(&["--", "true"]).unwrap_err().contains("--policy"));
        assert!(parse_words(&["--policy", "/p", "--fault", "nope", "--", "true"]).unwrap_err().contains("drop-first"));
        assert!(parse_words(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(parse_words(&["--policy"]).unwrap_err().contains("needs"));
        assert!(parse_words(&["--layer", "/a", "--policy", "/p", "--", "true"]).unwrap_err().contains("--layer"));
    }

    #[test]
    fn layers() {
        let Invocation::Layers(args) =
            parse_words(&["--layer", "/a.yaml", "--layer=/b.yaml", "--arg0", "enf", "--", "/x/enf", "-p"]).unwrap()
        else {
            panic!("not layers")
        };
        assert_eq!(args.files, [PathBuf::from("/a.yaml"), PathBuf::from("/b.yaml")]);
        assert_eq!(args.arg0, Some(OsString::from("enf")));
        assert_eq!(args.command, ["/x/enf", "-p"].map(OsString::from));
        assert_eq!(args.peer, None);
        let Invocation::Layers(args) = parse_words(&["--layer", "/a", "--peer", "998:998", "--", "x"]).unwrap() else {
            panic!("not layers")
        };
        assert_eq!(args.peer, Some((998, 998)));
        assert!(parse_words(&["--layer", "/a", "--peer", "998", "--", "x"]).unwrap_err().contains("UID:GID"));
        assert!(parse_words(&["--policy", "/p", "--peer", "1:1", "--", "x"]).unwrap_err().contains("--peer"));
    }
}
