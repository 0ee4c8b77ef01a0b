//! Who the command runs as: `/etc/passwd` and `/etc/group` parsed by hand (the binary is static
//! and the guest has no NSS), and the privilege drop itself.

use anyhow::{bail, Context, Result};
use nix::unistd::{getgroups, getresgid, getresuid, setgroups, setresgid, setresuid, Gid, Uid};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
}

/// `name:password:uid:gid:gecos:home:shell`; comments, blank and malformed lines are skipped,
/// as libc's files backend does.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?.trim();
            let _password = fields.next()?;
            let uid = fields.next()?.trim().parse().ok()?;
            let gid = fields.next()?.trim().parse().ok()?;
            (!name.is_empty()).then(|| PasswdEntry { name: name.to_owned(), uid, gid })
        })
        .collect()
}

/// `name:password:gid:members`.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?.trim();
            let _password = fields.next()?;
            let gid = fields.next()?.trim().parse().ok()?;
            (!name.is_empty()).then(|| GroupEntry { name: name.to_owned(), gid })
        })
        .collect()
}

/// The identity to drop to. `uid: None` keeps the current user (only a group was asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub uid: Option<u32>,
    pub gid: u32,
}

/// Resolves `run_as_user` / `run_as_group` against the given passwd and group texts. Names are
/// looked up first; a number that names no entry is taken as a raw id (scenarios may use ids
/// that have no entry). `Ok(None)`: nothing asked, stay who we are.
pub fn resolve(user: Option<&str>, group: Option<&str>, passwd: &str, groups: &str) -> Result<Option<Target>> {
    let passwd = parse_passwd(passwd);
    let groups = parse_group(groups);

    let user = match user {
        None => None,
        Some(name) => Some(
            passwd
                .iter()
                .find(|e| e.name == name)
                .map(|e| (e.uid, Some(e.gid)))
                .or_else(|| {
                    let uid = name.parse::<u32>().ok()?;
                    Some((uid, passwd.iter().find(|e| e.uid == uid).map(|e| e.gid)))
                })
                .with_context(|| format!("run_as_user {name:?} is not in /etc/passwd; add it or use a number"))?,
        ),
    };
    let gid = match group {
        Some(name) => Some(
            groups
                .iter()
                .find(|g| g.name == name)
                .map(|g| g.gid)
                .or_else(|| name.parse().ok())
                .with_context(|| format!("run_as_group {name:?} is not in /etc/group; add it or use a number"))?,
        ),
        None => None,
    };

    Ok(match (user, gid) {
        (None, None) => None,
        (None, Some(gid)) => Some(Target { uid: None, gid }),
        (Some((uid, _primary)), Some(gid)) => Some(Target { uid: Some(uid), gid }),
        (Some((uid, primary)), None) => match primary {
            Some(gid) => Some(Target { uid: Some(uid), gid }),
            None => bail!("run_as_user {uid} has no passwd entry, so no primary group: set run_as_group"),
        },
    })
}

/// Reads the system's passwd and group files and resolves the policy's identity.
pub fn resolve_from_system(user: Option<&str>, group: Option<&str>) -> Result<Option<Target>> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let read = |path: &str| std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"));
    // /etc/group is only needed for a group name; a guest may have no group file at all.
    let groups = if group.is_some() { read("/etc/group")? } else { String::new() };
    resolve(user, group, &read("/etc/passwd")?, &groups)
}

/// setgroups([gid]), setresgid, setresuid — in that order, because after the uid change we may
/// no longer change groups — then checks that every id stuck and that root cannot be regained.
pub fn drop_to(target: Target) -> Result<()> {
    let gid = Gid::from_raw(target.gid);
    setgroups(&[gid]).context("setgroups")?;
    setresgid(gid, gid, gid).context("setresgid")?;
    if let Some(uid) = target.uid {
        let uid = Uid::from_raw(uid);
        setresuid(uid, uid, uid).context("setresuid")?;
    }

    let ids = getresgid().context("getresgid")?;
    if [ids.real, ids.effective, ids.saved] != [gid; 3] {
        bail!("group ids did not stick: {ids:?}, wanted {gid}");
    }
    if getgroups().context("getgroups")? != [gid] {
        bail!("supplementary groups did not stick, wanted only {gid}");
    }
    if let Some(uid) = target.uid {
        let uid = Uid::from_raw(uid);
        let ids = getresuid().context("getresuid")?;
        if [ids.real, ids.effective, ids.saved] != [uid; 3] {
            bail!("user ids did not stick: {ids:?}, wanted {uid}");
        }
        if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            bail!("could switch back to root after dropping to uid {uid}");
        }
    }
    Ok(())
}

/// Clears the effective, permitted and inheritable capability sets of this thread. Only the
/// `no-nnp` fault uses it: without no_new_privs, a thread without CAP_SYS_ADMIN cannot call
/// `landlock_restrict_self`, and the fault needs that EPERM even when running as root.
pub fn drop_all_capabilities() -> Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // Version 3 takes two 32-bit halves of each set.
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: both pointers are valid for the sizes the v3 ABI reads.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if ret != 0 {
        return Err(std::io::Error::last_os_error()).context("capset");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
# a comment
sandbox:x:998:997::/sandbox:/bin/sh

broken line without fields
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
badid:x:notanumber:1::/:/bin/sh
";
    const GROUP: &str = "root:x:0:\nsandbox:x:997:\nwheel:x:10:root,sandbox\nnogroup:x:65534:\n";

    #[test]
    fn passwd_and_group_parse() {
        let users = parse_passwd(PASSWD);
        assert_eq!(
            users.iter().map(|u| (u.name.as_str(), u.uid, u.gid)).collect::<Vec<_>>(),
            [("root", 0, 0), ("sandbox", 998, 997), ("nobody", 65534, 65534)]
        );
        let groups = parse_group(GROUP);
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[2], GroupEntry { name: "wheel".into(), gid: 10 });
    }

    #[test]
    fn resolution_rules() {
        let r = |u, g| resolve(u, g, PASSWD, GROUP);
        assert_eq!(r(None, None).unwrap(), None);
        // The group defaults to the user's primary group.
        assert_eq!(r(Some("sandbox"), None).unwrap(), Some(Target { uid: Some(998), gid: 997 }));
        assert_eq!(r(Some("sandbox"), Some("wheel")).unwrap(), Some(Target { uid: Some(998), gid: 10 }));
        assert_eq!(r(None, Some("wheel")).unwrap(), Some(Target { uid: None, gid: 10 }));
        // Numbers work with and without an entry.
        assert_eq!(r(Some("65534"), None).unwrap(), Some(Target { uid: Some(65534), gid: 65534 }));
        assert_eq!(r(Some("4000"), Some("4001")).unwrap(), Some(Target { uid: Some(4000), gid: 4001 }));
        assert!(r(Some("4000"), None).unwrap_err().to_string().contains("run_as_group"));
        assert!(r(Some("ghost"), None).unwrap_err().to_string().contains("ghost"));
        assert!(r(Some("root"), Some("ghosts")).unwrap_err().to_string().contains("ghosts"));
    }
}
