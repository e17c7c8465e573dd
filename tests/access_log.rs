//! The access log end to end (issue 15, decision 0057): `strata serve` with `[log] access = "json"` writes
//! one line per request to its file, saying where each answer came from (memory, disk, the guest), who
//! decided and how (ran, replayed), the time parked, the bytes each way and the CMCD session; the combined
//! format parses with the regular expression log tools use, whatever the path or headers hold; a client
//! that leaves mid-body is logged with what it was sent. Rotation on SIGHUP is tested with TLS in
//! `tests/tls.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::{PseudoRandom, Strata, playlists, poll_until};
use serde_json::Value;

/// Longest a line may take to reach the file after its response ended.
const WAIT: Duration = Duration::from_secs(20);

/// `strata serve` logging JSON lines to `file`, with `args`.
fn start_json(file: &Path, args: &[&str]) -> Strata {
    let config = format!("[log]\naccess = \"json\"\naccess_file = {file:?}\n");
    Strata::with_config(&config, args)
}

/// Every line of `file` so far, parsed (each must be one JSON object).
fn lines(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// Waits for the lines of `method` on `path` (query excluded) to number `count`, and returns them.
fn wait_for(file: &Path, method: &str, path: &str, count: usize) -> Vec<Value> {
    let matching = || -> Vec<Value> {
        lines(file)
            .into_iter()
            .filter(|line| line["method"] == method && line["path"] == path)
            .collect()
    };
    poll_until(WAIT, &format!("{count} lines of {method} {path}"), || {
        matching().len() >= count
    });
    matching()
}

#[test]
fn json_lines_say_where_each_answer_came_from_and_who_decided() {
    let logs = tempfile::tempdir().expect("log dir");
    let file = logs.path().join("access.log");
    let mut s = start_json(&file, &[]);
    let http = s.http().clone();
    let segment = PseudoRandom::vec(7, 100_000);
    let put = http
        .put(s.url("/vod/seg.ts"))
        .body(segment.clone())
        .send()
        .expect("PUT");
    assert_eq!(put.status(), 201);
    let put = &wait_for(&file, "PUT", "/vod/seg.ts", 1)[0];
    assert_eq!(put["status"], 201);
    assert_eq!(put["bytes_in"], 100_000);
    assert_eq!(put["class"], "ingest");
    assert_eq!(put["guest"], "origin");
    assert_eq!(put["decision"], "guest");
    assert!(
        put["decision_ms"].as_f64().expect("decision_ms") > 0.0,
        "{put}"
    );
    assert_eq!(put["client"], "127.0.0.1");
    assert_eq!(put["protocol"], "HTTP/1.1");
    let time = put["time"].as_str().expect("time");
    assert!(time.len() == 24 && time.ends_with('Z'), "{time}");

    // Just stored, so hot: from memory, decided by the guest, with the session id of the CMCD header.
    let get = http
        .get(s.url("/vod/seg.ts"))
        .header("cmcd-session", "sid=\"header-session\"")
        .header("user-agent", "player \"quoted\"")
        .send()
        .expect("GET");
    assert_eq!(get.bytes().expect("body").len(), segment.len());
    // The query's CMCD, and the same request again: the guest's decision is replayed.
    for _ in 0..2 {
        let get = http
            .get(s.url("/vod/seg.ts?CMCD=bl%3D300%2Csid%3D%22query-session%22"))
            .send()
            .expect("GET");
        assert_eq!(get.bytes().expect("body").len(), segment.len());
    }
    let gets = wait_for(&file, "GET", "/vod/seg.ts", 3);
    let first = &gets[0];
    assert_eq!(first["status"], 200);
    assert_eq!(first["source"], "memory");
    assert_eq!(first["class"], "segment");
    assert_eq!(first["bytes_out"], 100_000);
    assert_eq!(first["complete"], true);
    assert_eq!(first["sid"], "header-session");
    assert_eq!(first["user_agent"], "player \"quoted\"");
    assert_eq!(first["guest"], "origin");
    let version = first["guest_version"].as_str().expect("guest_version");
    assert!(
        version.len() == 16 && version.bytes().all(|b| b.is_ascii_hexdigit()),
        "{version}"
    );
    assert!(first["object_age_s"].as_u64().expect("object_age_s") < 60);
    assert!(first["duration_ms"].as_f64().expect("duration_ms") >= 0.0);
    assert!(gets[1..].iter().all(|l| l["sid"] == "query-session"));
    assert!(
        gets[1..]
            .iter()
            .all(|l| l["query"] == "CMCD=bl%3D300%2Csid%3D%22query-session%22"),
        "{gets:?}"
    );
    assert!(
        gets.iter().any(|l| l["decision"] == "cache"),
        "a repeated GET replays the remembered decision: {gets:?}"
    );

    let missing = http.get(s.url("/vod/missing.ts")).send().expect("GET");
    assert_eq!(missing.status(), 404);
    let missing = &wait_for(&file, "GET", "/vod/missing.ts", 1)[0];
    assert_eq!(missing["status"], 404);
    assert_eq!(missing["source"], "guest");
    assert_eq!(missing["object_age_s"], Value::Null);
    assert_eq!(missing["sid"], Value::Null);

    // A blocking LL-HLS reload parks until the part it asks for arrives.
    let playlist = "/ll/index.m3u8";
    let put = |parts| {
        let put = http
            .put(s.url(playlist))
            .body(playlists::ll_hls(parts))
            .send()
            .expect("PUT playlist");
        assert!(put.status().is_success(), "{}", put.status());
    };
    put(1);
    let blocking = {
        let http = http.clone();
        let url = s.url(&format!("{playlist}?_HLS_msn=0&_HLS_part=1"));
        std::thread::spawn(move || http.get(url).send().expect("blocking GET").status())
    };
    poll_until(WAIT, "the blocking reload to park", || {
        s.metric("strata_parked_requests") == 1.0
    });
    put(2);
    assert_eq!(blocking.join().expect("blocking GET thread"), 200);
    let reloads = wait_for(&file, "GET", playlist, 1);
    assert!(
        reloads[0]["parked_ms"].as_f64().expect("parked_ms") > 0.0,
        "{reloads:?}"
    );
    assert_eq!(reloads[0]["class"], "playlist");
    // A client that leaves while parked (an HTTP/2 stream reset at its timeout; an HTTP/1.1 close reads as
    // a half-close, answered when the wait ends): 499, as nginx logs it, with the time it was parked.
    let impatient = reqwest::blocking::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_millis(1500))
        .build()
        .expect("an HTTP/2 client");
    let gone = impatient
        .get(s.url(&format!("{playlist}?_HLS_msn=0&_HLS_part=5")))
        .send();
    assert!(gone.is_err(), "the reload must still be parked: {gone:?}");
    let reloads = wait_for(&file, "GET", playlist, 2);
    assert_eq!(reloads[1]["status"], 499, "{reloads:?}");
    assert_eq!(reloads[1]["protocol"], "HTTP/2.0");
    assert!(reloads[1]["parked_ms"].as_f64().expect("parked_ms") >= 1000.0);
    assert_eq!(reloads[1]["bytes_out"], 0);

    // After a restart the memory tier is empty: the first read comes from disk, into the same file.
    s.restart();
    let get = s.http().get(s.url("/vod/seg.ts")).send().expect("GET");
    assert_eq!(get.bytes().expect("body").len(), segment.len());
    let gets = wait_for(&file, "GET", "/vod/seg.ts", 4);
    assert_eq!(gets[3]["source"], "disk", "{:?}", gets[3]);
    assert_eq!(gets[3]["bytes_out"], 100_000);
}

#[test]
fn combined_lines_parse_whatever_the_path_and_headers_hold() {
    let s = Strata::with_config("[log]\naccess = \"combined\"\n", &[]);
    let line = regex::Regex::new(
        r#"^(\S+) - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" rt=(\d+\.\d{6}) in=(\d+) class=([a-z]+) src=([a-z]+) age=(\d+|-) guest="([^"]*)" version="([^"]*)" decision=([a-z]+|-) decision_ms=(\d+\.\d{3}) parked_ms=(\d+\.\d{3}) sid="([^"]*)" complete=([01])$"#,
    )
    .expect("the combined format's expression");
    let put = s
        .http()
        .put(s.url("/c/seg.ts"))
        .body(vec![1u8; 1000])
        .send()
        .expect("PUT");
    assert_eq!(put.status(), 201);
    // A quote, a backslash, a tab and bytes outside ASCII in the headers (hyper refuses a raw quote in the
    // request target before any line could be written; an encoded one is logged as sent).
    let odd = s.raw(
        format!(
            "GET /c/seg.ts?x=%22y%22 HTTP/1.1\r\nHost: {}\r\nUser-Agent: a \"b\" \\ \tc é\r\n\
             Referer: http://x/\"\r\nCMCD-Session: sid=\"s\\\"1\"\r\nConnection: close\r\n\r\n",
            s.addr()
        )
        .as_bytes(),
    );
    assert_eq!(odd.status, 200);
    let combined = || -> Vec<String> {
        s.stderr()
            .lines()
            .filter(|l| l.starts_with("127.0.0.1 - - ["))
            .map(str::to_owned)
            .collect()
    };
    poll_until(WAIT, "two combined lines on stderr", || {
        combined().len() >= 2
    });
    let lines = combined();
    for text in &lines {
        assert!(line.is_match(text), "does not parse: {text:?}");
    }
    let get = line.captures(&lines[1]).expect("the GET's line");
    assert_eq!(&get[3], "GET /c/seg.ts?x=%22y%22 HTTP/1.1");
    assert_eq!(&get[4], "200");
    assert_eq!(&get[5], "1000");
    assert_eq!(&get[6], "http://x/\\x22");
    assert_eq!(&get[7], "a \\x22b\\x22 \\x5C \\x09c \\xC3\\xA9");
    assert_eq!(&get[10], "segment");
    assert_eq!(&get[11], "memory");
    assert_eq!(&get[13], "origin");
    assert_eq!(&get[18], "s\\x221");
    assert_eq!(&get[19], "1");
    let put = line.captures(&lines[0]).expect("the PUT's line");
    assert_eq!((&put[4], &put[9], &put[10]), ("201", "1000", "ingest"));
}

#[test]
fn a_client_that_leaves_mid_body_is_logged_with_what_it_was_sent() {
    let logs = tempfile::tempdir().expect("log dir");
    let file = logs.path().join("access.log");
    // Objects above an eighth of the memory tier are served from disk, streamed in chunks.
    let s = start_json(&file, &["--memory-bytes", "8MiB"]);
    let size = 48 * 1024 * 1024;
    let put = s
        .http()
        .put(s.url("/big.mp4"))
        .body(PseudoRandom::vec(3, size))
        .send()
        .expect("PUT");
    assert_eq!(put.status(), 201);
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "GET /big.mp4 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr()
    )
    .expect("send the request");
    let mut first = vec![0u8; 64 * 1024];
    stream.read_exact(&mut first).expect("read the start");
    drop(stream);
    let get = &wait_for(&file, "GET", "/big.mp4", 1)[0];
    assert_eq!(get["status"], 200);
    assert_eq!(get["source"], "disk");
    assert_eq!(get["complete"], false, "{get}");
    let sent = get["bytes_out"].as_u64().expect("bytes_out");
    assert!(sent > 0 && sent < size as u64, "{get}");
}

#[test]
fn an_access_log_file_that_cannot_be_opened_stops_the_start_and_fails_check_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("no-such-folder/access.log");
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        format!("[log]\naccess = \"json\"\naccess_file = {file:?}\n"),
    )
    .expect("write config");
    let data = dir.path().join("data");
    let run = |args: &[&std::ffi::OsStr]| {
        let mut command = std::process::Command::new(common::strata_bin());
        command.args(args);
        common::run_with_timeout(command, WAIT)
    };
    let (status, _, stderr) = run(&[
        "serve".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(!status.success());
    assert!(
        stderr.contains("log.access_file") && stderr.contains("no-such-folder"),
        "{stderr}"
    );
    let (status, _, stderr) = run(&["check-config".as_ref(), config.as_os_str()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("log.access_file") && stderr.contains("its folder does not exist"),
        "{stderr}"
    );
    std::fs::write(&config, "[log]\naccess_file = \"/tmp/x.log\"\n").expect("write config");
    let (status, _, stderr) = run(&["check-config".as_ref(), config.as_os_str()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("log.access is \"off\""), "{stderr}");
}

#[test]
fn a_signed_url_signature_never_reaches_the_log() {
    let logs = tempfile::tempdir().expect("log dir");
    let file = logs.path().join("access.log");
    let s = start_json(&file, &[]);
    let secret = "5ecre75ecre75ecre7";
    let get = s
        .http()
        .get(s.url(&format!(
            "/premium/a.m3u8?st_exp=4102444800&St%5Fsig={secret}&_HLS_msn=1"
        )))
        .header("Referer", format!("https://player/p?st_sig={secret}"))
        .send()
        .expect("GET");
    assert_eq!(get.status(), 404);
    let line = &wait_for(&file, "GET", "/premium/a.m3u8", 1)[0];
    assert_eq!(
        line["query"],
        "st_exp=4102444800&St%5Fsig=REDACTED&_HLS_msn=1"
    );
    assert_eq!(line["referer"], "https://player/p?st_sig=REDACTED");
    let text = std::fs::read_to_string(&file).expect("read the log");
    assert!(!text.contains(secret), "{text}");
}

#[test]
fn an_upload_dropped_at_shutdown_is_logged_before_the_process_ends() {
    let logs = tempfile::tempdir().expect("log dir");
    let file = logs.path().join("access.log");
    let mut s = Strata::with_config(
        &format!(
            "[log]\naccess = \"json\"\naccess_file = {file:?}\n[http]\nshutdown_grace_ms = 200\n"
        ),
        &[],
    );
    // An upload that never ends: its request is still open when the shutdown grace runs out.
    let mut upload = TcpStream::connect(s.addr()).expect("connect");
    write!(
        upload,
        "PUT /live/never.ts HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n{}",
        s.addr(),
        "x".repeat(0x400)
    )
    .expect("send the start of the upload");
    upload.flush().expect("flush");
    poll_until(WAIT, "the upload to be in flight", || {
        s.metric("strata_in_flight_requests") >= 1.0
    });
    s.signal("TERM");
    poll_until(WAIT, "strata to exit", || s.exited().is_some());
    // Read only after the exit: the line must have been written before the process ended.
    let put = lines(&file)
        .into_iter()
        .find(|line| line["method"] == "PUT" && line["path"] == "/live/never.ts")
        .unwrap_or_else(|| panic!("no line for the dropped upload in {file:?}"));
    assert_eq!(put["status"], 499, "{put}");
    assert_eq!(put["bytes_in"], 0x400, "{put}");
    drop(upload);
}
