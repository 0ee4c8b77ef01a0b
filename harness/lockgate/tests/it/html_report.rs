//! The HTML report in a real headless browser (Debian's chromium, driven through chromedriver's
//! WebDriver protocol): made from a real run's report — the shared Debian 6.12 boot, whose own
//! enforcer runs with the known-bad `baseline-rw`, so `openshell-803-deployed` fails on purpose
//! — it loads offline (the browser's proxy goes nowhere, and the page asks for no resource),
//! shows the grid with a cell per judged cell, and clicking the failing cell opens its
//! explanation, reproduce command and output.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver, started on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (lockgate's set-up installs chromium-driver)");
        let driver = Driver { child, port };
        let started = Instant::now();
        while driver.call("GET", "/status", None).map(|v| v["value"]["ready"] != true).unwrap_or(true) {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver not ready after 30s");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// One WebDriver command: its `value`, or the error the driver answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .map_err(|e| e.to_string())?;
        // chromedriver keeps the connection open: read the head, then as much as it announces.
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        let head_end = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the connection closed before the HTTP head ended".into());
            }
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let length =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|n| n.trim().parse::<usize>().ok());
        let chunked = head.contains("transfer-encoding: chunked");
        loop {
            let body = &raw[head_end..];
            let done = match (length, chunked) {
                (Some(n), _) => body.len() >= n,
                (None, true) => body.ends_with(b"0\r\n\r\n"),
                (None, false) => false,
            };
            if done {
                break;
            }
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let rest = String::from_utf8_lossy(&raw[head_end..]).into_owned();
        let payload = match chunked {
            true => dechunk(&rest),
            false => rest,
        };
        let v: Value = serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))?;
        match v["value"]["error"].as_str() {
            Some(e) => Err(format!("{e}: {}", v["value"]["message"])),
            None => Ok(v),
        }
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// A browser session of `driver`, ended when dropped.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.driver.call("DELETE", &format!("/session/{}", self.id), None);
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl<'a> Session<'a> {
    fn new(driver: &'a Driver) -> Session<'a> {
        let mut options = json!({
            // Offline: every request the page could make goes to a proxy that is not there.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                     "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"],
        });
        if let Some(b) =
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().find(|b| std::path::Path::new(b).exists())
        {
            options["binary"] = json!(b);
        }
        let v = driver
            .call("POST", "/session", Some(json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})))
            .unwrap();
        Session { driver, id: v["value"]["sessionId"].as_str().unwrap().to_string() }
    }
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))["value"]
            .clone()
    }
    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        v.as_array().unwrap().iter().map(|e| e[ELEMENT].as_str().unwrap().to_string()).collect()
    }
    fn find(&self, css: &str) -> String {
        self.find_all(css).into_iter().next().unwrap_or_else(|| panic!("no element {css} on the page"))
    }
    fn displayed(&self, element: &str) -> bool {
        self.cmd("GET", &format!("/element/{element}/displayed"), None) == true
    }
    fn text(&self, element: &str) -> String {
        self.cmd("GET", &format!("/element/{element}/text"), None).as_str().unwrap_or_default().to_string()
    }
    fn script(&self, js: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": js, "args": []})))
    }
}

#[test]
fn the_html_report_opens_offline_and_a_failing_cell_opens_its_details() {
    lockgate::internals::setup::ensure_browser().expect("the browser test needs chromium and chromedriver");
    let shared = crate::shared::debian_6_12();
    let flags = ["--enforcer-fault".to_string(), "baseline-rw".to_string()];
    let html = lockgate::internals::report::html::render(&shared.report, &flags);
    // Self-contained: nothing the page would fetch.
    for reference in ["src=", "http://", "https://", "<link"] {
        assert!(!html.contains(reference), "the page refers to something outside it ({reference})");
    }
    let page = tempfile::Builder::new().suffix(".html").tempfile().unwrap();
    std::fs::write(page.path(), &html).unwrap();

    let driver = Driver::start();
    let s = Session::new(&driver);
    s.cmd("POST", "/url", Some(json!({"url": format!("file://{}", page.path().display())})));
    assert_eq!(s.script("return document.readyState"), "complete");
    assert_eq!(s.script("return performance.getEntriesByType('resource').length"), 0, "the page loaded a resource");

    // The grid: one cell per judged cell of the run's own enforcer, the failing one marked.
    let own: Vec<_> = shared.report.cells.iter().filter(|c| c.variant == 0).collect();
    assert!(s.displayed(&s.find("#matrix")), "the grid is shown");
    assert_eq!(s.find_all("#matrix td.cell").len(), own.len(), "a grid cell per cell");
    let cell = "#matrix td.cell.fail a[title^='openshell-803-deployed@debian-6.12@bare:']";
    let failing = s.find(cell);
    assert!(!s.find_all("#matrix tbody tr:first-child td.cell.fail").is_empty(), "a failing row comes first");

    // Its details are closed until the cell is selected; selecting it opens them.
    let id = s.script(&format!("return document.querySelector(\"{cell}\").dataset.cell")).as_str().unwrap().to_string();
    let explanation = s.find(&format!("#{id} pre.explanation"));
    assert!(!s.displayed(&explanation), "a cell's details start closed");
    s.cmd("POST", &format!("/element/{failing}/click"), Some(json!({})));
    assert_eq!(s.script(&format!("return document.getElementById('{id}').open")), true, "the click opened the cell");
    assert!(s.displayed(&explanation), "the explanation is shown");
    let text = s.text(&explanation);
    assert!(text.starts_with("FAIL openshell-803-deployed@debian-6.12@bare:"), "{text}");
    let repro = s.text(&s.find(&format!("#{id} pre.repro")));
    assert!(
        repro
            .contains("--kernel debian-6.12 --scenario openshell-803-deployed --env bare --enforcer-fault baseline-rw"),
        "{repro}"
    );
    let output = s.text(&s.find(&format!("#{id} pre.output")));
    assert!(output.contains("=== the harness's sentinel: probe mknod_reg /lockgate-sentinel/f"), "{output}");
}
