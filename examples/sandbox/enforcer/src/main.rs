//! `sandbox-enforcer CMD ARGS`: restricts itself with Landlock to the paths in `LL_FS_RO`
//! (read and execute) and `LL_FS_RW` (everything), colon-separated, then executes the command.
//! It uses the best ABI the kernel offers and says on stderr what it achieved:
//! `sandbox-enforcer: enforcement full|partial|none`.

use landlock::{Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, ABI};
use std::os::unix::process::CommandExt;

fn paths(var: &str) -> Vec<String> {
    std::env::var(var).unwrap_or_default().split(':').filter(|p| !p.is_empty()).map(String::from).collect()
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, args)) = argv.split_first() else {
        eprintln!("sandbox-enforcer: usage: sandbox-enforcer CMD ARGS");
        std::process::exit(2);
    };
    let read_only = paths("LL_FS_RO");
    // The paths granted read-write: exactly those the policy lists as such.
    let read_write = paths("LL_FS_RW");
    let status = match restrict(&read_only, &read_write) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sandbox-enforcer: refused: {e}");
            std::process::exit(1);
        }
    };
    let claim = match status {
        RulesetStatus::FullyEnforced => "full",
        RulesetStatus::PartiallyEnforced => "partial",
        RulesetStatus::NotEnforced => "none",
    };
    eprintln!("sandbox-enforcer: enforcement {claim}");
    let e = std::process::Command::new(cmd).args(args).exec();
    eprintln!("sandbox-enforcer: cannot execute {cmd}: {e}");
    std::process::exit(127);
}

fn restrict(read_only: &[String], read_write: &[String]) -> Result<RulesetStatus, Box<dyn std::error::Error>> {
    let abi = ABI::V6;
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(abi))?.create()?;
    for (list, access) in [(read_only, AccessFs::from_read(abi)), (read_write, AccessFs::from_all(abi))] {
        for path in list {
            let fd = PathFd::new(path).map_err(|e| format!("{path}: {e}"))?;
            ruleset = ruleset.add_rule(PathBeneath::new(fd, access))?;
        }
    }
    Ok(ruleset.restrict_self()?.ruleset)
}
