//! Manifest intelligence through the real binary: filters, time shift, Cache-Control by content, CMSD and
//! signed URLs configured in `[[guest.signing]]`.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::Strata;
use common::playlists::{LIVE, MULTIVARIANT};
use reqwest::StatusCode;

fn start() -> (Strata, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        "[[guest.signing]]\nprefix = \"premium/\"\nkey = \"secret\"\n",
    )
    .expect("write config");
    let s = Strata::start(&["--config", config.to_str().expect("utf-8 path")]);
    for (path, body) in [
        ("/tv/master.m3u8", MULTIVARIANT),
        ("/tv/hi/index.m3u8", LIVE),
        ("/premium/master.m3u8", MULTIVARIANT),
    ] {
        let r = s.http().put(s.url(path)).body(body).send().expect("put");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    (s, dir)
}

fn get(s: &Strata, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let r = s.http().get(s.url(path)).send().expect("get");
    (r.status(), r.headers().clone(), r.text().expect("body"))
}

#[test]
fn filters_time_shift_and_cache_classes() {
    let (s, _dir) = start();
    let (status, headers, body) = get(&s, "/tv/hi/index.m3u8");
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "max-age=2");
    assert_eq!(headers["cmsd-static"], "ot=m,sf=h,st=l,n=\"strata\"");
    assert_eq!(body, LIVE);

    let (status, headers, body) = get(
        &s,
        "/tv/master.m3u8?aws.manifestfilter=video_height%3A0-480",
    );
    assert_eq!(status, 200);
    assert!(
        body.contains("lo/index.m3u8") && !body.contains("hi/index.m3u8"),
        "{body}"
    );
    assert_eq!(headers["cache-control"], "max-age=60");
    let (status, headers, body) = get(&s, "/tv/master.m3u8?aws.manifestfilter=video_height%3A2160");
    assert_eq!(
        (status, &headers["cache-control"]),
        (StatusCode::BAD_REQUEST, &"no-store".parse().expect("value"))
    );
    assert_eq!(body, "aws.manifestfilter leaves no playable stream\n");

    let (status, headers, body) = get(&s, "/tv/hi/index.m3u8?start=1714564800&end=1714564808");
    assert_eq!(status, 200);
    assert!(body.ends_with("s11.ts\n#EXT-X-ENDLIST\n"), "{body}");
    assert_eq!(headers["cache-control"], "max-age=1209600");
    let (status, _, _) = get(&s, "/tv/hi/index.m3u8?start=1700000000");
    assert_eq!(status, 404);
}

#[test]
fn signed_prefix() {
    let (s, _dir) = start();
    let (status, _, body) = get(&s, "/premium/master.m3u8");
    assert_eq!(status, 403);
    assert_eq!(body, "signed URL required: st_exp missing\n");
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 300;
    let sig = strata_guest_core::signing::sign(b"secret", "premium/", exp);
    let (status, _, body) = get(
        &s,
        &format!("/premium/master.m3u8?st_exp={exp}&st_sig={sig}"),
    );
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("\nlo/index.m3u8?st_exp={exp}&st_sig={sig}\n")),
        "{body}"
    );
    let (status, _, body) = get(
        &s,
        &format!(
            "/premium/master.m3u8?st_exp={exp}&st_sig={}",
            "0".repeat(64)
        ),
    );
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (403, "signed URL: signature does not match\n")
    );
    // Outside the prefix nothing is asked.
    assert_eq!(get(&s, "/tv/master.m3u8").0, 200);
}
