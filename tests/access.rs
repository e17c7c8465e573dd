//! End-to-end: every access, routing and plugin decision sees the decoded key the guest sees
//! (`docs/decisions/0046-one-key-decided-once.md`), over HTTP/1.1 and HTTP/2. Percent-encodings of a path
//! (`%70rivate`, `premium%2F`, `index%2Em3u8`) cannot pass a check as one key and reach the guest as
//! another; a tenant handler gets only its own settings; the admin API refuses proxied requests without a
//! token; empty secrets stop the start.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Strata, clients, run_with_timeout};

const CONFIG: &str = r#"
[[auth.ingest]]
pattern = "private/**"
bearer = ["private-token"]
protect_reads = true

[[auth.ingest]]
pattern = "premium/**"
bearer = ["premium-token"]

[[auth.ingest]]
pattern = "**"
bearer = ["other-token"]

[[filters]]
pattern = "live/*.m3u8"
plugins = ["variant-cap"]

[guest]
cmsd_load_threshold_permille = 800

[[guest.signing]]
prefix = "secret/"
key = "secret-key"

[[guest.signing]]
prefix = "tenant/vip/"
key = "tenant-key"
"#;

const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=5000000\nhigh.m3u8\n";

fn start() -> (Strata, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, CONFIG).expect("write config");
    let s = Strata::start(&["--config", path.to_str().expect("utf-8 path")]);
    (s, dir)
}

/// PUTs the component at `wasm_path` as guest `name` (with `query`), returning status and body.
fn deploy(s: &Strata, name: &str, query: &str, wasm_path: &str) -> (u16, String) {
    let wasm = std::fs::read(wasm_path).expect("read test guest");
    let resp = s
        .http()
        .put(s.url(&format!("/_strata/guests/{name}{query}")))
        .body(wasm)
        .send()
        .expect("PUT guest");
    (resp.status().as_u16(), resp.text().expect("body"))
}

fn put(s: &Strata, path: &str, token: &str, body: &str) -> u16 {
    s.http()
        .put(s.url(path))
        .bearer_auth(token)
        .body(body.to_owned())
        .send()
        .expect("PUT")
        .status()
        .as_u16()
}

#[test]
fn encodings_of_a_protected_prefix_need_its_credentials() {
    let (s, _dir) = start();
    assert_eq!(put(&s, "/private/s.ts", "private-token", "secret"), 201);
    for (protocol, client) in clients() {
        for path in ["/%70rivate/s.ts", "/private%2Fs.ts", "/%70rivate%2F%73.ts"] {
            let anonymous = client.get(s.url(path)).send().expect("GET");
            assert_eq!(anonymous.status().as_u16(), 401, "{protocol} GET {path}");
            let head = client.head(s.url(path)).send().expect("HEAD");
            assert_eq!(head.status().as_u16(), 401, "{protocol} HEAD {path}");
            let allowed = client
                .get(s.url(path))
                .bearer_auth("private-token")
                .send()
                .expect("GET");
            assert_eq!(allowed.status().as_u16(), 200, "{protocol} GET {path}");
            assert_eq!(allowed.text().expect("body"), "secret");
        }
    }
}

#[test]
fn under_a_rule_every_method_but_reads_and_preflights_needs_credentials() {
    let (s, _dir) = start();
    assert_eq!(put(&s, "/private/s.ts", "private-token", "secret"), 201);
    for (protocol, client) in clients() {
        for method in ["OPTIONS", "PATCH", "PROPFIND", "get", "XGET"] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let resp = client
                .request(method.clone(), s.url("/private/s.ts"))
                .send()
                .expect("request");
            assert_eq!(
                resp.status().as_u16(),
                401,
                "{protocol} {method} on a protected prefix"
            );
            let elsewhere = client
                .request(method.clone(), s.url("/premium/s.ts"))
                .send()
                .expect("request");
            let expected = if method == reqwest::Method::OPTIONS {
                204
            } else {
                401
            };
            assert_eq!(
                elsewhere.status().as_u16(),
                expected,
                "{protocol} {method} on a write prefix"
            );
        }
        let preflight = client
            .request(reqwest::Method::OPTIONS, s.url("/private/s.ts"))
            .header("origin", "https://player.example")
            .header("access-control-request-method", "GET")
            .send()
            .expect("preflight");
        assert_eq!(preflight.status().as_u16(), 204, "{protocol} preflight");
        assert!(preflight.text().expect("body").is_empty());
    }
}

#[test]
fn writes_under_a_prefix_need_that_prefixs_token_whatever_the_encoding() {
    let (s, _dir) = start();
    assert_eq!(put(&s, "/premium/x.ts", "premium-token", "original"), 201);
    for (protocol, client) in clients() {
        for path in ["/%70remium/x.ts", "/premium%2Fx.ts", "/%70remium%2Fnew.ts"] {
            let write = client
                .put(s.url(path))
                .bearer_auth("other-token")
                .body("forged")
                .send()
                .expect("PUT");
            assert_eq!(write.status().as_u16(), 401, "{protocol} PUT {path}");
            let delete = client
                .delete(s.url(path))
                .bearer_auth("other-token")
                .send()
                .expect("DELETE");
            assert_eq!(delete.status().as_u16(), 401, "{protocol} DELETE {path}");
        }
    }
    let stored = s.http().get(s.url("/premium/x.ts")).send().expect("GET");
    assert_eq!(stored.text().expect("body"), "original");
    let never = s.http().get(s.url("/premium/new.ts")).send().expect("GET");
    assert_eq!(never.status().as_u16(), 404, "nothing refused was stored");
    // The prefix's own token still writes through an encoded path, to the decoded key.
    assert_eq!(put(&s, "/premium%2Fy.ts", "premium-token", "y"), 201);
    let y = s.http().get(s.url("/premium/y.ts")).send().expect("GET");
    assert_eq!(y.text().expect("body"), "y");
}

#[test]
fn a_tenants_requests_reach_its_handler_whatever_the_encoding() {
    let (s, _dir) = start();
    let (status, body) = deploy(
        &s,
        "tenant",
        "?namespace=tenant/",
        strata_test_guests::SNOOPER,
    );
    assert_eq!(status, 200, "{body}");
    for (protocol, client) in clients() {
        for path in ["/tenant/x.ts", "/%74enant/x.ts", "/tenant%2Fx.ts"] {
            let resp = client.get(s.url(path)).send().expect("GET");
            assert_eq!(
                resp.headers()
                    .get("x-snooper-path")
                    .map(|v| v.to_str().expect("ASCII")),
                Some("/tenant/x.ts"),
                "{protocol} GET {path} was not decided by the tenant's handler, with the canonical path"
            );
        }
    }
}

#[test]
fn a_tenant_gets_only_the_settings_of_what_it_serves() {
    let (s, _dir) = start();
    let (status, body) = deploy(
        &s,
        "tenant",
        "?namespace=tenant/",
        strata_test_guests::SNOOPER,
    );
    assert_eq!(status, 200, "{body}");
    let settings = |path: &str| {
        s.http()
            .get(s.url(path))
            .send()
            .expect("GET")
            .text()
            .expect("body")
    };
    assert_eq!(
        settings("/tenant/x.ts?settings"),
        "sign:tenant/vip/=tenant-key"
    );
    // Once another guest serves tenant/vip/, its key is that guest's alone.
    let (status, body) = deploy(
        &s,
        "vip",
        "?namespace=tenant/vip/",
        strata_test_guests::SNOOPER,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(settings("/tenant/x.ts?settings"), "");
    assert_eq!(
        settings("/tenant/vip/x.ts?settings"),
        "sign:tenant/vip/=tenant-key"
    );
}

#[test]
fn the_plugin_chain_applies_to_every_encoding_and_to_ranges() {
    let (s, _dir) = start();
    let (status, body) = deploy(
        &s,
        "variant-cap",
        "",
        strata_test_guests::FILTER_VARIANT_CAP,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(put(&s, "/live/index.m3u8", "other-token", MASTER), 201);
    let filtered = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n";
    for (protocol, client) in clients() {
        for path in [
            "/live/index.m3u8",
            "/live/index%2Em3u8",
            "/%6Cive/index.m3u8",
        ] {
            let resp = client
                .get(s.url(&format!("{path}?max_bandwidth=1000000")))
                .send()
                .expect("GET");
            assert_eq!(resp.status().as_u16(), 200, "{protocol} {path}");
            assert_eq!(resp.text().expect("body"), filtered, "{protocol} {path}");
        }
        let ranged = client
            .get(s.url("/live/index.m3u8?max_bandwidth=1000000"))
            .header("range", "bytes=0-60")
            .send()
            .expect("GET with Range");
        let status = ranged.status().as_u16();
        let text = ranged.text().expect("body");
        match status {
            200 => assert_eq!(text, filtered, "{protocol}"),
            206 => assert_eq!(text, filtered[..=60], "{protocol}"),
            other => panic!("{protocol}: a ranged GET of a filtered playlist answered {other}"),
        }
        assert!(
            !text.contains("high.m3u8"),
            "{protocol}: unfiltered bytes served"
        );
        let head = client
            .head(s.url("/live/index.m3u8?max_bandwidth=1000000"))
            .send()
            .expect("HEAD");
        assert_eq!(
            head.headers()["content-length"],
            filtered.len().to_string().as_str(),
            "{protocol}: HEAD describes the rewritten playlist"
        );
        assert!(head.headers().get("etag").is_none(), "{protocol}");
    }
    // The chain follows the key, whatever Content-Type the uploader gave the playlist.
    for content_type in ["audio/x-mpegurl", "text/plain"] {
        let resp = s
            .http()
            .put(s.url("/live/typed.m3u8"))
            .bearer_auth("other-token")
            .header("content-type", content_type)
            .body(MASTER)
            .send()
            .expect("PUT");
        assert!(resp.status().is_success());
        let got = s
            .http()
            .get(s.url("/live/typed.m3u8?max_bandwidth=1000000"))
            .header("range", "bytes=0-400")
            .send()
            .expect("GET");
        assert_eq!(
            got.text().expect("body"),
            filtered,
            "stored as {content_type}"
        );
    }
}

#[test]
fn keys_under_the_operator_prefix_are_refused_on_the_data_plane() {
    let (s, _dir) = start();
    for path in ["/%5Fstrata/x.ts", "/_strata%2Fx.ts", "/%5F%73trata/guests"] {
        let resp = s
            .http()
            .put(s.url(path))
            .bearer_auth("other-token")
            .body("x")
            .send()
            .expect("PUT");
        let status = resp.status().as_u16();
        let reason = resp.text().expect("body");
        assert!(
            status == 400 || status == 404,
            "PUT {path} answered {status}: {reason}"
        );
    }
}

#[test]
fn without_a_token_the_admin_api_refuses_proxied_requests() {
    let (s, _dir) = start();
    let direct = s.http().get(s.url("/_strata/guests")).send().expect("GET");
    assert_eq!(direct.status().as_u16(), 200);
    for (name, value) in [
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7"),
        ("x-real-ip", "203.0.113.7"),
        ("via", "1.1 proxy"),
        ("x-forwarded-proto", "https"),
    ] {
        let proxied = s
            .http()
            .get(s.url("/_strata/guests"))
            .header(name, value)
            .send()
            .expect("GET");
        assert_eq!(proxied.status().as_u16(), 403, "{name}");
    }
    let proxied_deploy = s
        .http()
        .put(s.url("/_strata/guests/origin"))
        .header("x-forwarded-for", "203.0.113.7")
        .body(std::fs::read(strata_test_guests::VERSION_ONE).expect("read guest"))
        .send()
        .expect("PUT");
    assert_eq!(proxied_deploy.status().as_u16(), 403);
    assert!(
        s.stderr().contains("the admin API has no token"),
        "the start-up log says the admin API is open:\n{}",
        s.stderr()
    );
}

#[test]
fn deploys_that_could_never_serve_are_refused_with_the_reason() {
    let (s, _dir) = start();
    let (status, body) = deploy(&s, "tenant2", "", strata_test_guests::SNOOPER);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("namespace"), "{body}");
    for query in [
        "?namespace=../x/",
        "?namespace=tenant",
        "?namespace=_strata/",
        "?namespace=%2F",
    ] {
        let (status, body) = deploy(&s, "tenant3", query, strata_test_guests::SNOOPER);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.starts_with("invalid namespace"), "{query}: {body}");
    }
}

#[test]
fn empty_secrets_stop_the_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("", vec!["--admin-token", ""], "admin.token"),
        (
            "[[auth.ingest]]\npattern = \"live/**\"\nbearer = [\"\"]\n",
            vec![],
            "auth.ingest[0].bearer",
        ),
        (
            "[[guest.signing]]\nprefix = \"premium/\"\nkey = \"\"\n",
            vec![],
            "guest.signing[0].key",
        ),
        (
            "[[auth.cdn]]\npattern = \"live/**\"\nsecrets = [\"current\", \" \"]\n",
            vec![],
            "auth.cdn[0].secrets",
        ),
    ];
    for (i, (config, flags, key)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("strata-{i}.toml"));
        std::fs::write(&path, config).expect("write config");
        let mut cmd = Command::new(common::strata_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&path)
            .args(flags);
        let (status, _, stderr) = run_with_timeout(cmd, Duration::from_secs(30));
        assert!(!status.success(), "{key}: started anyway");
        assert!(
            stderr.contains(key) && stderr.contains("empty"),
            "{key}: {stderr}"
        );
    }
}

/// `[[auth.cdn]]`: reads of covered keys need one of the CDN's two secrets (rotation) in its header, however
/// the path is spelled; other keys, writes (the ingest rules' business) and preflights do not.
#[test]
fn reads_under_a_cdn_rule_need_the_cdns_secret() {
    let s = Strata::with_config(
        "[[auth.cdn]]\npattern = \"live/**\"\nsecrets = [\"old-secret\", \"new-secret\"]\n\n\
         [[auth.cdn]]\npattern = \"tenant/**\"\nheader = \"X-Edge-Key\"\nsecrets = [\"edge\"]\n",
        &[],
    );
    for (path, body) in [
        ("/live/index.m3u8", "#EXTM3U\n"),
        ("/vod/index.m3u8", "#EXTM3U\n"),
    ] {
        let status = s
            .http()
            .put(s.url(path))
            .body(body)
            .send()
            .expect("PUT")
            .status();
        assert!(status.is_success(), "PUT {path}: {status}");
    }
    let get = |path: &str, header: Option<(&str, &str)>| {
        let mut request = s.http().get(s.url(path));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().expect("GET");
        (response.status().as_u16(), response.text().expect("body"))
    };
    for path in [
        "/live/index.m3u8",
        "/%6Cive/index.m3u8",
        "/live/%69ndex.m3u8",
        "/live/missing.ts",
    ] {
        let (status, body) = get(path, None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("x-strata-cdn-secret"), "{body}");
        assert_eq!(
            get(path, Some(("x-strata-cdn-secret", "wrong"))).0,
            403,
            "{path}"
        );
    }
    for secret in ["old-secret", "new-secret"] {
        let (status, body) = get("/live/index.m3u8", Some(("X-Strata-CDN-Secret", secret)));
        assert_eq!((status, body.as_str()), (200, "#EXTM3U\n"), "{secret}");
    }
    assert_eq!(get("/vod/index.m3u8", None).0, 200);
    assert_eq!(
        get("/tenant/a.ts", Some(("x-strata-cdn-secret", "old-secret"))).0,
        403
    );
    assert_eq!(get("/tenant/a.ts", Some(("x-edge-key", "edge"))).0, 404);
    let head = s
        .http()
        .head(s.url("/live/index.m3u8"))
        .send()
        .expect("HEAD")
        .status();
    assert_eq!(head.as_u16(), 403);
    let preflight = s
        .http()
        .request(reqwest::Method::OPTIONS, s.url("/live/index.m3u8"))
        .header("origin", "https://player.example")
        .header("access-control-request-method", "GET")
        .send()
        .expect("OPTIONS")
        .status();
    assert!(preflight.is_success(), "preflight: {preflight}");
}
