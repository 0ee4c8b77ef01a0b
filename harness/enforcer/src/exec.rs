//! The last step: replace the enforcer with COMMAND, so that COMMAND's exit status is the run's
//! and nothing of the enforcer stays around unconfined.

use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// Where a bare command name is looked up. Fixed rather than `$PATH`: the policy decides what
/// the sandbox may execute, and the same name must resolve the same way in the control run.
pub const SEARCH_PATH: [&str; 4] = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"];

/// The files to try for `name`, in order.
pub fn candidates(name: &OsStr) -> Vec<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        vec![PathBuf::from(name)]
    } else {
        SEARCH_PATH.iter().map(|dir| PathBuf::from(dir).join(name)).collect()
    }
}

fn c_string(bytes: Vec<u8>) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument or variable holds a NUL byte".to_owned())
}

/// execve's COMMAND with the current environment plus `env_name=env_value`. Returns only on
/// failure, with the reason; the caller exits 127.
pub fn exec(command: &[OsString], env_name: &str, env_value: &str) -> String {
    exec_as(command, None, Some((env_name, env_value)))
}

/// As [`exec`], with `arg0` (when given) as the command's argv[0] instead of its name, and the
/// variable only when given: the layer mode hands the command on unchanged.
pub fn exec_as(command: &[OsString], arg0: Option<&OsStr>, var: Option<(&str, &str)>) -> String {
    let build = || -> Result<(Vec<CString>, Vec<CString>), String> {
        let mut argv = command.iter().map(|a| c_string(a.clone().into_vec())).collect::<Result<Vec<_>, _>>()?;
        if let (Some(arg0), Some(first)) = (arg0, argv.first_mut()) {
            *first = c_string(arg0.as_bytes().to_vec())?;
        }
        let env_name = var.map_or("", |(k, _)| k);
        let mut env = std::env::vars_os()
            .filter(|(k, _)| var.is_none() || k != env_name)
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                c_string(kv)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((name, value)) = var {
            env.push(c_string(format!("{name}={value}").into_bytes())?);
        }
        Ok((argv, env))
    };
    let (argv, env) = match build() {
        Ok(parts) => parts,
        Err(reason) => return reason,
    };

    // Like execvp: a missing file moves on to the next directory, any other error (EACCES from
    // Landlock or DAC, ENOEXEC, ...) is the one worth reporting.
    let mut worst = Errno::ENOENT;
    for path in candidates(&command[0]) {
        let Ok(path) = c_string(path.into_os_string().into_vec()) else {
            continue;
        };
        let Err(errno) = nix::unistd::execve(&path, &argv, &env);
        if !matches!(errno, Errno::ENOENT | Errno::ENOTDIR) {
            worst = errno;
        }
    }
    std::io::Error::from_raw_os_error(worst as i32).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_use_the_fixed_search_path() {
        assert_eq!(
            candidates(OsStr::new("sh")),
            ["/bin/sh", "/sbin/sh", "/usr/bin/sh", "/usr/sbin/sh"].map(PathBuf::from)
        );
        assert_eq!(candidates(OsStr::new("./run")), [PathBuf::from("./run")]);
        assert_eq!(candidates(OsStr::new("/bin/sh")), [PathBuf::from("/bin/sh")]);
    }
}
