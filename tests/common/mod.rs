//! Shared harness for Strata's end-to-end tests.
//!
//! Each test starts its own `strata serve` on a free loopback port with a fresh data directory,
//! talks to it over real HTTP, and kills it when done. The server's stderr goes to a log file that
//! is printed when a test fails, so a failing assertion comes with the server's side of the story.
//!
//! Every wait is bounded: startup by [`STARTUP_TIMEOUT`], every HTTP request by the client's
//! timeouts, and conditions that settle asynchronously are polled with [`poll_until`].

#![allow(dead_code)] // Each test binary uses a different subset of the harness.

pub mod encoder;
pub mod playlists;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long `strata serve` may take to print its listening line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Whole-request timeout of [`client`]; large enough for a 50 MiB body on a loaded debug build.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The prefix of the one line `strata serve` prints on stdout once it serves.
pub const LISTENING_PREFIX: &str = "strata listening on ";

/// Path of the binary under test, built by cargo for this integration test.
pub fn strata_bin() -> &'static str {
    env!("CARGO_BIN_EXE_strata")
}

/// A blocking HTTP client with connect and request timeouts, no proxy and no redirects.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build the HTTP client")
}

/// One client per protocol a player may speak to the plain listener: HTTP/1.1, and HTTP/2 with prior
/// knowledge (h2c), each named for assertion messages.
pub fn clients() -> [(&'static str, reqwest::blocking::Client); 2] {
    let builder = || {
        reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
    };
    [
        (
            "HTTP/1.1",
            builder()
                .http1_only()
                .build()
                .expect("build the HTTP/1.1 client"),
        ),
        (
            "HTTP/2",
            builder()
                .http2_prior_knowledge()
                .build()
                .expect("build the HTTP/2 client"),
        ),
    ]
}

/// A running `strata serve` on `127.0.0.1:0` with its own temporary data directory.
///
/// Dropping it kills the process; if the test is panicking, the server's stderr is printed.
pub struct Strata {
    data: tempfile::TempDir,
    logs: tempfile::TempDir,
    /// A command the binary runs under (e.g. `prlimit --nofile=64`), empty for none.
    wrapper: Vec<String>,
    /// The folder of the config file written by [`Strata::with_config`], kept while the server lives.
    config: Option<tempfile::TempDir>,
    args: Vec<String>,
    child: Option<Child>,
    base_url: String,
    extra_stdout: Arc<Mutex<Vec<String>>>,
    client: reqwest::blocking::Client,
}

impl Strata {
    /// Starts `strata serve --listen 127.0.0.1:0 --data <tempdir>` followed by `args`, and waits
    /// (at most [`STARTUP_TIMEOUT`]) for its listening line. Panics, showing stderr, if it fails.
    pub fn start(args: &[&str]) -> Strata {
        Strata::start_under(&[], args)
    }

    /// As [`Strata::start`], with `config` (TOML) written to a file of its own and passed with `--config`.
    pub fn with_config(config: &str, args: &[&str]) -> Strata {
        let dir = tempfile::Builder::new()
            .prefix("strata-config-")
            .tempdir()
            .expect("create config dir");
        let path = dir.path().join("strata.toml");
        std::fs::write(&path, config).expect("write config");
        let path = path.to_str().expect("utf-8 temp path").to_owned();
        let mut all = vec!["--config", path.as_str()];
        all.extend_from_slice(args);
        let mut strata = Strata::start(&all);
        strata.config = Some(dir);
        strata
    }

    /// As [`Strata::start`], with the binary run by `wrapper` (a command and its arguments, such as
    /// `["prlimit", "--nofile=64"]`), which must exec it with the arguments that follow.
    pub fn start_under(wrapper: &[&str], args: &[&str]) -> Strata {
        let data = tempfile::Builder::new()
            .prefix("strata-data-")
            .tempdir()
            .expect("create data dir");
        let logs = tempfile::Builder::new()
            .prefix("strata-logs-")
            .tempdir()
            .expect("create log dir");
        let mut strata = Strata {
            data,
            logs,
            wrapper: wrapper.iter().map(|a| a.to_string()).collect(),
            config: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
            base_url: String::new(),
            extra_stdout: Arc::default(),
            client: client(),
        };
        strata.spawn();
        strata
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS), without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of `path`, which must start with `/`.
    pub fn url(&self, path: &str) -> String {
        assert!(path.starts_with('/'), "path {path:?} must start with '/'");
        format!("{}{}", self.base_url, path)
    }

    /// `host:port` of the listener, for raw TCP requests.
    pub fn addr(&self) -> &str {
        self.base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, addr)| addr)
    }

    /// The data directory (survives [`Strata::restart`]).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The file that collects the server's stderr across restarts.
    pub fn stderr_path(&self) -> PathBuf {
        self.logs.path().join("stderr.log")
    }

    /// The server's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Lines the server printed on stdout after its listening line (there should be none).
    pub fn extra_stdout(&self) -> Vec<String> {
        self.extra_stdout.lock().expect("stdout lines lock").clone()
    }

    /// The shared HTTP client (see [`client`]).
    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// Replaces the client of [`Strata::http`] and the metric helpers, e.g. with one that trusts the
    /// test's own TLS certificate.
    pub fn use_client(&mut self, client: reqwest::blocking::Client) {
        self.client = client;
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends the signal `name` (`HUP`, `KILL`, …) to the server without waiting for it.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args([&format!("-{name}"), &child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -{name} failed: {status}");
        }
    }

    /// Sends SIGKILL to the server without waiting for it, from any thread that shares the harness (the
    /// process is reaped by the next [`Strata::kill`] or [`Strata::restart`]).
    pub fn sigkill(&self) {
        self.signal("KILL");
    }

    /// Kills the server if it still runs, then starts it again on the same data directory with
    /// the same arguments. The port changes: use [`Strata::url`] afresh.
    pub fn restart(&mut self) {
        self.kill();
        self.append_log("---- strata restarted by the test harness ----\n");
        self.spawn();
    }

    /// Whether the process has exited on its own (it never should while a test runs).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("poll child"))
    }

    /// Reads the Prometheus exposition from `/_strata/metrics` (asserting 200).
    pub fn metrics_text(&self) -> String {
        let resp = self
            .client
            .get(self.url("/_strata/metrics"))
            .send()
            .expect("GET /_strata/metrics");
        assert_eq!(resp.status().as_u16(), 200, "GET /_strata/metrics status");
        resp.text().expect("read metrics body")
    }

    /// Parsed samples of `/_strata/metrics`.
    pub fn metrics(&self) -> Vec<Sample> {
        parse_prometheus(&self.metrics_text())
    }

    /// The value of a metric series such as `strata_requests_total{method="PUT",status="201"}`.
    ///
    /// Sums every sample with that name whose labels include all the given labels (so extra
    /// labels added by the host do not break the lookup, and `strata_requests_total{method="PUT"}`
    /// sums over statuses). A series never emitted counts as 0.
    pub fn metric(&self, series: &str) -> f64 {
        let (name, labels) =
            parse_series(series).unwrap_or_else(|| panic!("bad series {series:?}"));
        sum_matching(&self.metrics(), &name, &labels)
    }

    /// Sends raw bytes on a fresh TCP connection and reads the whole answer (the request should
    /// carry `Connection: close`). For requests reqwest would normalise, such as `/a/../b`.
    pub fn raw(&self, request: &[u8]) -> RawResponse {
        raw_http(self.addr(), request)
    }

    /// `GET` (or another bodiless method) of `target` sent verbatim on the wire.
    pub fn raw_method(&self, method: &str, target: &str) -> RawResponse {
        let req = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr()
        );
        self.raw(req.as_bytes())
    }

    fn spawn(&mut self) {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("open stderr log");
        let data = self
            .data
            .path()
            .to_str()
            .expect("utf-8 temp path")
            .to_owned();
        let mut command = match self.wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(strata_bin());
                command
            }
            None => Command::new(strata_bin()),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data", &data])
            .args(&self.args)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", strata_bin()));
        let stdout = child.stdout.take().expect("child stdout");
        self.child = Some(child);
        self.extra_stdout = Arc::default();
        match wait_for_listening_line(stdout, Arc::clone(&self.extra_stdout)) {
            Ok(url) => self.base_url = url,
            Err(why) => {
                let status = self.exited();
                self.kill();
                panic!(
                    "strata did not start ({why}; exit status {status:?}); args {:?}\n--- stderr ---\n{}",
                    self.args,
                    self.stderr()
                );
            }
        }
    }

    fn append_log(&self, line: &str) {
        if let Ok(mut f) = OpenOptions::new().append(true).open(self.stderr_path()) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

impl Drop for Strata {
    fn drop(&mut self) {
        let status = self.exited();
        self.kill();
        if thread::panicking() {
            eprintln!(
                "--- strata stderr (exit status before the harness killed it: {status:?}) ---\n{}\n--- end of strata stderr ---",
                tail(&self.stderr(), 200)
            );
        }
    }
}

/// Reads `stdout` on a thread until the listening line, bounded by [`STARTUP_TIMEOUT`]; the
/// thread then keeps draining stdout into `extra` so the server never blocks on a full pipe.
fn wait_for_listening_line(
    stdout: std::process::ChildStdout,
    extra: Arc<Mutex<Vec<String>>>,
) -> Result<String, String> {
    let (tx, rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        let mut first = true;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if first {
                first = false;
                let _ = tx.send(line);
            } else {
                extra.lock().expect("stdout lines lock").push(line);
            }
        }
    });
    let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(line) => line,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(format!(
                "no listening line on stdout within {STARTUP_TIMEOUT:?}"
            ));
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err("stdout closed before any line".into());
        }
    };
    let url = line.strip_prefix(LISTENING_PREFIX).ok_or_else(|| {
        format!("first stdout line {line:?} is not `{LISTENING_PREFIX}http://127.0.0.1:PORT`")
    })?;
    let (scheme, port) = url
        .split_once("://127.0.0.1:")
        .filter(|(scheme, _)| ["http", "https"].contains(scheme))
        .and_then(|(scheme, p)| Some((scheme, p.parse::<u16>().ok()?)))
        .filter(|(_, p)| *p != 0)
        .ok_or_else(|| format!("listening line {line:?} does not name http(s)://127.0.0.1:PORT"))?;
    Ok(format!("{scheme}://127.0.0.1:{port}"))
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `cond` every 20 ms until it is true; panics with `what` after `timeout`.
pub fn poll_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    if !poll(timeout, cond) {
        panic!("timed out after {timeout:?} waiting for: {what}");
    }
}

/// Polls `cond` every 20 ms until it is true (returns true) or `timeout` passes (returns false).
pub fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// One sample of a Prometheus text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `strata_requests_total`.
    pub name: String,
    /// Label pairs.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

/// Parses Prometheus text format 0.0.4, skipping comments and lines it cannot read.
pub fn parse_prometheus(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            // The series ends at the closing brace, or at the first space without labels.
            let series_end = match line.find('{') {
                Some(_) => line.rfind('}')? + 1,
                None => line.find(char::is_whitespace)?,
            };
            let (series, rest) = line.split_at(series_end);
            let value = rest.split_whitespace().next()?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            let (name, labels) = parse_series(series)?;
            Some(Sample {
                name,
                labels,
                value,
            })
        })
        .collect()
}

/// Splits `name{a="x",b="y"}` into its name and labels (label values may use `\\`, `\"`, `\n`).
pub fn parse_series(series: &str) -> Option<(String, BTreeMap<String, String>)> {
    let Some(open) = series.find('{') else {
        return Some((series.trim().to_owned(), BTreeMap::new()));
    };
    let name = series[..open].trim().to_owned();
    let body = series[open + 1..].trim_end().strip_suffix('}')?;
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key.trim().to_owned(), value);
    }
    Some((name, labels))
}

/// Sum of the samples named `name` whose labels include every pair of `labels`.
pub fn sum_matching(samples: &[Sample], name: &str, labels: &BTreeMap<String, String>) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

/// A response read off a raw TCP connection.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code of the status line.
    pub status: u16,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Everything after the head (undecoded if chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `request` to `addr` and reads until the server closes (10 s read timeout).
///
/// The request is written from a second thread while this one reads, so a server that answers
/// early (400, 413) and stops reading is still heard, as curl would hear it.
pub fn raw_http(addr: &str, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("set write timeout");
    let mut writer = stream.try_clone().expect("clone TCP stream");
    let request = request.to_vec();
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => panic!("read raw response from {addr}: {e}"),
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    parse_raw_response(&buf).unwrap_or_else(|| {
        panic!(
            "unparsable raw response: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(512)])
        )
    })
}

/// Writes `request` to `addr`, shuts down the sending side (a half-close, as TCP proxies and some clients
/// do after a request) and reads the answer until the server closes (10 s read timeout). `None` when the
/// server closed without answering.
pub fn raw_half_closed(addr: &str, request: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    stream.write_all(request).expect("write request");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shut down the write side");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    parse_raw_response(&buf)
}

/// Writes `request` to `addr` and closes the connection without reading any answer, as ffmpeg
/// does after each upload. With `half_close`, only the write side is shut down first.
pub fn raw_send_and_close(addr: &str, request: &[u8], half_close: bool) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("set write timeout");
    stream.write_all(request).expect("write request");
    if half_close {
        stream
            .shutdown(std::net::Shutdown::Write)
            .expect("shut down the write side");
    }
}

/// `body` in HTTP/1.1 chunked transfer coding, in chunks of `chunk` bytes.
pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / chunk * 12 + 8);
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn parse_raw_response(buf: &[u8]) -> Option<RawResponse> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(RawResponse {
        status,
        headers,
        body: buf[head_end + 4..].to_vec(),
    })
}

/// Deterministic pseudo-random bytes: byte `i` of stream `seed` is a pure function of both, so
/// any range can be regenerated without keeping the data around.
#[derive(Debug, Clone)]
pub struct PseudoRandom {
    seed: u64,
    pos: u64,
    len: u64,
}

impl PseudoRandom {
    /// A stream of `len` bytes identified by `seed`, positioned at 0.
    pub fn new(seed: u64, len: u64) -> PseudoRandom {
        PseudoRandom { seed, pos: 0, len }
    }

    /// The bytes `start..end` of stream `seed`.
    pub fn bytes(seed: u64, start: u64, end: u64) -> Vec<u8> {
        (start..end).map(|i| Self::byte_at(seed, i)).collect()
    }

    /// The whole stream `seed` of `len` bytes.
    pub fn vec(seed: u64, len: usize) -> Vec<u8> {
        Self::bytes(seed, 0, len as u64)
    }

    /// Byte `i` of stream `seed`.
    pub fn byte_at(seed: u64, i: u64) -> u8 {
        splitmix64(seed ^ splitmix64(i / 8)).to_le_bytes()[(i % 8) as usize]
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min((self.len - self.pos) as usize);
        let mut i = 0;
        while i < n {
            let word = splitmix64(self.seed ^ splitmix64(self.pos / 8)).to_le_bytes();
            let off = (self.pos % 8) as usize;
            let take = (8 - off).min(n - i);
            out[i..i + take].copy_from_slice(&word[off..off + take]);
            i += take;
            self.pos += take as u64;
        }
        n
    }
}

impl Read for PseudoRandom {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        // Small, uneven reads make the chunked encoder send many chunks of varied sizes.
        let cap = out.len().min(61 * 1024 + 7);
        Ok(self.fill(&mut out[..cap]))
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Reads `body` to its end, comparing it with `expected` as it streams, without buffering it.
/// Returns `Err` describing the first difference (offset, or length mismatch).
pub fn compare_stream(mut body: impl Read, mut expected: impl Read) -> Result<u64, String> {
    let mut got = vec![0u8; 256 * 1024];
    let mut want = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    loop {
        let n = body
            .read(&mut got)
            .map_err(|e| format!("reading body at offset {offset}: {e}"))?;
        if n == 0 {
            let mut probe = [0u8; 1];
            return match expected.read(&mut probe).map_err(|e| e.to_string())? {
                0 => Ok(offset),
                _ => Err(format!("body ended early at offset {offset}")),
            };
        }
        let mut filled = 0;
        while filled < n {
            let m = expected
                .read(&mut want[filled..n])
                .map_err(|e| e.to_string())?;
            if m == 0 {
                return Err(format!(
                    "body is longer than expected: more than {} bytes",
                    offset + filled as u64
                ));
            }
            filled += m;
        }
        if let Some(i) = (0..n).find(|&i| got[i] != want[i]) {
            return Err(format!(
                "first differing byte at offset {}",
                offset + i as u64
            ));
        }
        offset += n as u64;
    }
}

/// FNV-1a 64 of `data`, for short mismatch reports.
pub fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs `cmd` to completion, killing it after `timeout`. Returns its status and output.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> (ExitStatus, String, String) {
    let what = format!("{cmd:?}");
    let logs = tempfile::tempdir().expect("temp dir for command output");
    let out_path = logs.path().join("stdout");
    let err_path = logs.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create stdout file"))
        .stderr(File::create(&err_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll command") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {timeout:?}\n--- its stderr ---\n{}",
                tail(&std::fs::read_to_string(&err_path).unwrap_or_default(), 50)
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    (status, read(&out_path), read(&err_path))
}

/// Seconds since the Unix epoch by this machine's clock (the origin's clock too, on loopback).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Waits until Unix second `second` has begun: for what only the wall clock shows (an expiry, a playlist
/// going stale), which no state of the origin can be polled for beforehand.
pub fn sleep_until_second(second: u64) {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(second);
    if let Ok(left) = at.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left + Duration::from_millis(20));
    }
}
