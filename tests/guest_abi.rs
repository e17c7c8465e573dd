//! End-to-end: the versioned guest ABI (`docs/decisions/0048-versioned-guest-abi.md`). A handler and a
//! manifest plugin built against the frozen `strata:origin@0.1.0` (`wit/v0.1.0`) still deploy and give the
//! same answers as today's builds; a component of a version this host does not run is refused with 422
//! naming the versions it runs.

mod common;

use common::Strata;

const CONFIG: &str = r#"
[[guest.signing]]
prefix = "premium/"
key = "secret"

[[filters]]
pattern = "live/master.m3u8"
plugins = ["cap"]
"#;

const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=5000000\nhigh.m3u8\n";
const MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\nseg1.ts\n#EXTINF:2,\nseg2.ts\n";

/// A request to compare: method, path and query, header fields.
type Probe<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// PUTs the component at `wasm_path` as guest `name`, returning status and body.
fn deploy(s: &Strata, name: &str, wasm_path: &str) -> (u16, String) {
    let wasm = std::fs::read(wasm_path).expect("read guest");
    let resp = s
        .http()
        .put(s.url(&format!("/_strata/guests/{name}")))
        .body(wasm)
        .send()
        .expect("PUT guest");
    (resp.status().as_u16(), resp.text().expect("body"))
}

/// An origin whose `cap` plugin is `plugin` and whose handler is `handler` (the built-in one when `None`),
/// with a small live stream stored.
fn origin(handler: Option<&str>, plugin: &str) -> Strata {
    let s = Strata::with_config(CONFIG, &[]);
    for (name, wasm) in handler
        .map(|h| ("origin", h))
        .into_iter()
        .chain([("cap", plugin)])
    {
        let (status, body) = deploy(&s, name, wasm);
        assert_eq!(status, 200, "{name}: {body}");
    }
    for (path, body) in [
        ("/live/master.m3u8", MASTER),
        ("/live/index.m3u8", MEDIA),
        ("/live/seg1.ts", "0123456789"),
        ("/premium/a.ts", "paid"),
    ] {
        let resp = s.http().put(s.url(path)).body(body).send().expect("PUT");
        assert!(resp.status().is_success(), "PUT {path}: {}", resp.status());
    }
    s
}

/// What a client sees of one request: status, the headers a cache or player reads, and the body.
fn answer(s: &Strata, method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = s.http().request(method.clone(), s.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let resp = request.send().expect("request");
    let mut seen = format!("{} {method} {path}\n", resp.status().as_u16());
    for name in [
        "content-type",
        "content-length",
        "content-range",
        "etag",
        "cache-control",
        "cmsd-static",
        "retry-after",
    ] {
        if let Some(value) = resp.headers().get(name) {
            seen.push_str(&format!("{name}: {}\n", value.to_str().expect("ASCII")));
        }
    }
    seen + &resp.text().expect("body")
}

#[test]
fn guests_built_for_0_1_0_deploy_and_answer_as_todays() {
    let today = origin(None, strata_test_guests::FILTER_VARIANT_CAP);
    let first = origin(
        Some(strata_test_guests::ORIGIN_ABI_V0_1),
        strata_test_guests::FILTER_VARIANT_CAP_ABI_V0_1,
    );
    let listing: serde_json::Value = serde_json::from_str(
        &first
            .http()
            .get(first.url("/_strata/guests"))
            .send()
            .expect("GET guests")
            .text()
            .expect("body"),
    )
    .expect("JSON");
    for guest in listing["guests"].as_array().expect("guests") {
        assert_eq!(guest["abi"], "0.1.0", "{guest}");
    }
    let requests: &[Probe] = &[
        ("GET", "/live/index.m3u8", &[]),
        ("GET", "/live/master.m3u8?max_bandwidth=1000000", &[]),
        ("GET", "/live/seg1.ts", &[("range", "bytes=2-5")]),
        ("HEAD", "/live/seg1.ts", &[]),
        ("GET", "/live/seg2.ts", &[]),
        ("GET", "/live/nothing.ts", &[]),
        ("GET", "/premium/a.ts", &[]),
        (
            "GET",
            "/live/index.m3u8?aws.manifestfilter=video_height:0-720",
            &[],
        ),
        (
            "OPTIONS",
            "/live/index.m3u8",
            &[("access-control-request-method", "GET")],
        ),
        ("PATCH", "/live/index.m3u8", &[]),
    ];
    for (method, path, headers) in requests {
        assert_eq!(
            answer(&first, method, path, headers),
            answer(&today, method, path, headers),
            "{method} {path}: a 0.1.0 guest answers differently"
        );
    }
}

#[test]
fn a_version_this_host_does_not_run_is_refused_with_the_versions_it_runs() {
    let s = Strata::start(&[]);
    let (status, body) = deploy(&s, "origin", strata_test_guests::FUTURE_ABI);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("strata:origin@0.3.0") && body.contains("0.1.0 and 0.2.0"),
        "{body}"
    );
    // The live version keeps serving.
    let resp = s.http().get(s.url("/x.ts")).send().expect("GET");
    assert_eq!(resp.status().as_u16(), 404);
}
