//! Downloading a file from a URL (the `url:` source kind, and `build: {url: …}` tarballs).
//!
//! curl does the transfer: it is on every machine lockgate runs on, speaks http(s) and file://,
//! and its exit status says *why* a transfer failed. Every download has a connect timeout and a
//! minimum speed, so an unreachable or stalled host is an error within seconds, never a hang.
//! The file lands in a temporary directory of the cache; the caller verifies its digest and
//! renames it into place, so a failure leaves nothing cached.

use anyhow::{bail, Context, Result};
use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long to wait for a connection: `LOCKGATE_CONNECT_TIMEOUT` (seconds), default 10.
pub fn connect_timeout() -> Duration {
    std::env::var("LOCKGATE_CONNECT_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
}

/// A transfer slower than this many bytes per second for [`STALL`] is abandoned.
const MIN_SPEED: u32 = 1024;
const STALL: Duration = Duration::from_secs(60);

/// The host of a URL (no user, no port), for messages: `https://a.example:8443/x` → `a.example`.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let host = if authority.starts_with('[') {
        authority.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    if host.is_empty() {
        "this machine".into()
    } else {
        host.to_string()
    }
}

/// Download `url` to `dest` (which must not exist). `progress`: show curl's progress bar when
/// stderr is a terminal.
pub fn download(url: &str, dest: &Path, progress: bool) -> Result<()> {
    download_with(url, dest, progress, connect_timeout())
}

fn download_with(url: &str, dest: &Path, progress: bool, timeout: Duration) -> Result<()> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "--fail",
        "--location",
        "--silent",
        "--show-error",
        "--proto",
        "=https,http,file",
        "--proto-redir",
        "=https,http",
    ])
    .arg("--connect-timeout")
    .arg(format!("{:.1}", timeout.as_secs_f64()))
    .arg("--speed-limit")
    .arg(MIN_SPEED.to_string())
    .arg("--speed-time")
    .arg(STALL.as_secs().to_string())
    .arg("--output")
    .arg(dest)
    .arg("--")
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if progress && std::io::stderr().is_terminal() {
        cmd.arg("--progress-bar");
        cmd.stderr(Stdio::inherit());
    }
    let out = cmd
        .output()
        .context("cannot run curl: lockgate downloads `url:` sources with curl; install it (apt-get install curl)")?;
    if out.status.success() {
        if !dest.is_file() {
            bail!("curl reported success for {url} but wrote no file");
        }
        return Ok(());
    }
    let _ = std::fs::remove_file(dest);
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let host = host_of(url);
    let code = out.status.code().unwrap_or(-1);
    let why = match code {
        5 => format!("cannot reach {host}: the proxy's name does not resolve"),
        6 => format!("cannot reach {host}: its name does not resolve (no network, or no DNS for it on this machine)"),
        7 => format!("cannot reach {host}: the connection was refused or the network is unreachable"),
        28 => format!(
            "cannot reach {host}: no answer within {}s (set LOCKGATE_CONNECT_TIMEOUT to wait longer), or the transfer stalled below {MIN_SPEED} bytes/s for {}s",
            timeout.as_secs_f64(),
            STALL.as_secs()
        ),
        35 | 51 | 53 | 54 | 58 | 59 | 60 | 77 | 80 | 82 | 83 | 90 | 91 => format!("cannot reach {host} securely (TLS): {stderr}"),
        22 => format!("{host} refused the download: {stderr}; check the URL in the manifest"),
        37 => format!("cannot read {url}: {stderr}"),
        47 => format!("{url}: too many redirects"),
        1 => format!("{url}: curl does not support this protocol here"),
        _ => format!("download of {url} failed (curl exit {code}): {stderr}"),
    };
    bail!("{why}; nothing was cached")
}

impl super::Supply {
    /// The file at `url`, from the cache or downloaded, verified against the lock (key
    /// `url:<URL>`). Unpinned: refused, unless this is `lockgate kernels lock`.
    pub(super) fn url_artifact(&mut self, url: &str, which: super::Which) -> Result<super::Artifact> {
        let key = crate::model::kernel::KernelSource::url_lock_key(url);
        let pinned = self.lock(which).get(&key).map(str::to_string);
        if let Some(pinned) = &pinned {
            if let Some(path) = self.cache.blob(pinned)? {
                return Ok(super::Artifact { path, sha256: pinned.clone() });
            }
        } else if !self.update_lock {
            bail!(
                "{url} is not pinned in {}: runs only use artifacts whose sha256 is recorded. Run `{}` \
                 on a machine that can reach {} to fetch and pin it, then review the change",
                self.lock(which).path().display(),
                crate::invocation::command("kernels lock"),
                host_of(url)
            );
        }
        let _fetching = self.cache.lock()?;
        // Another run may have fetched it while this one waited for the lock.
        if let Some(path) = pinned.as_deref().map(|p| self.cache.blob(p)).transpose()?.flatten() {
            return Ok(super::Artifact { path, sha256: pinned.unwrap_or_default() });
        }
        if self.verbose {
            crate::event::emit(crate::event::Event::Downloading { url: url.to_string() });
        }
        let work = self.cache.tempdir()?;
        let file = work.path().join("download");
        download(url, &file, self.verbose)?;
        self.downloads += 1;
        let (digest, path) = self.cache.insert(&file, pinned.as_deref(), url)?;
        if pinned.is_none() {
            self.pin(which, &key, &digest)?;
        }
        Ok(super::Artifact { path, sha256: digest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host_of("https://a.example/x/y.deb"), "a.example");
        assert_eq!(host_of("http://u:p@a.example:8080/x"), "a.example");
        assert_eq!(host_of("http://[::1]:8080/x"), "::1");
        assert_eq!(host_of("file:///tmp/x"), "this machine");
    }

    /// A one-shot HTTP server on 127.0.0.1 answering `status` with `body`.
    fn serve(status: &'static str, body: &'static [u8]) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(body);
            }
        });
        format!("http://127.0.0.1:{port}/kernel")
    }

    #[test]
    fn downloads_over_http() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("k");
        download(&serve("200 OK", b"bzImage"), &dest, false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"bzImage");
    }

    #[test]
    fn http_errors_say_so_and_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("k");
        let err = download(&serve("404 Not Found", b"no"), &dest, false).unwrap_err().to_string();
        assert!(err.contains("127.0.0.1 refused the download") && err.contains("404"), "{err}");
        assert!(!dest.exists());
    }

    #[test]
    fn a_closed_port_is_cannot_reach_at_once() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed on drop
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("k");
        let start = Instant::now();
        let err = download(&format!("http://127.0.0.1:{port}/k"), &dest, false).unwrap_err().to_string();
        assert!(err.starts_with("cannot reach 127.0.0.1"), "{err}");
        assert!(err.ends_with("nothing was cached"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!dest.exists());
    }

    #[test]
    fn a_host_that_never_answers_is_cannot_reach_within_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("k");
        let start = Instant::now();
        // TEST-NET-1 (RFC 5737): nothing answers there; either the network says so at once or
        // the connect timeout ends the wait.
        let err =
            download_with("http://192.0.2.1/vmlinuz", &dest, false, Duration::from_secs(1)).unwrap_err().to_string();
        assert!(err.starts_with("cannot reach 192.0.2.1"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        assert!(!dest.exists());
    }

    #[test]
    fn an_unresolvable_host_is_cannot_reach() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("k");
        // `.invalid` never resolves (RFC 2606).
        let err = download("https://kernels.invalid/vmlinuz", &dest, false).unwrap_err().to_string();
        assert!(err.starts_with("cannot reach kernels.invalid"), "{err}");
        assert!(!dest.exists());
    }
}
