//! Encrypted streams pass through every rewrite: `EXT-X-KEY` (AES-128, SAMPLE-AES, SAMPLE-AES-CTR) and
//! `EXT-X-SESSION-KEY` lines, and DASH `ContentProtection` with `cenc:pssh`, come out of filters, time shift
//! and signing exactly as the packager wrote them; a key URI under a signed prefix carries the playback
//! token like any other child URI (and a key server elsewhere is left alone).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use strata_guest_core::objects::{Objects, ReadError, ends_with_any};
use strata_guest_core::signing;
use strata_guest_core::types::{
    Limits, ObjectMeta, Outcome, Request, Settings, SignedPrefix, StaleRoute,
};

/// Objects in memory, as the host's tiers would hold them.
#[derive(Default)]
struct Store(HashMap<String, Vec<u8>>);

impl Objects for Store {
    fn head(&self, key: &str) -> Option<ObjectMeta> {
        self.0.get(key).map(|body| ObjectMeta {
            key: key.to_owned(),
            size: body.len() as u64,
            content_type: String::new(),
            etag: format!("\"{}\"", body.len()),
            last_modified: 1_714_564_800,
            cache_control: None,
            metadata: Vec::new(),
            complete: true,
        })
    }

    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        match self.0.get(key) {
            Some(body) if body.len() as u64 > max_bytes => {
                Err(ReadError::TooLarge(body.len() as u64))
            }
            Some(body) => Ok(body.clone()),
            None => Err(ReadError::NotFound),
        }
    }

    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String> {
        let mut keys: Vec<String> = self
            .0
            .keys()
            .filter(|k| k.starts_with(prefix) && ends_with_any(k, suffixes))
            .cloned()
            .collect();
        keys.sort();
        keys.truncate(limit as usize);
        keys
    }
}

fn corpus(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
    .expect("corpus file")
}

/// A GET at `now_ms`; the corpus playlists were written long before, so staleness is off here.
fn get(key: &str, query: &str, mut settings: Settings, now_ms: u64) -> Request {
    settings.stale.push(StaleRoute {
        prefix: String::new(),
        after_target_durations: 0,
        status: 404,
    });
    Request {
        method: "GET".into(),
        key: key.into(),
        path: format!("/{key}"),
        query: query.into(),
        headers: Vec::new(),
        waited_ms: 0,
        limits: Limits {
            max_object_bytes: 1 << 30,
        },
        settings,
        now_ms,
        load_permille: 0,
    }
}

/// The body of a rewritten playlist: the decision must be a 200 the guest wrote (a rewrite), not a serve of
/// the stored bytes.
fn rewritten(outcome: Outcome) -> String {
    match outcome {
        Outcome::Respond(r) => {
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            String::from_utf8(r.body).expect("UTF-8")
        }
        other => panic!("expected a rewritten playlist, got {other:?}"),
    }
}

fn key_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("#EXT-X-KEY") || l.starts_with("#EXT-X-SESSION-KEY"))
        .collect()
}

#[test]
fn key_tags_survive_time_shift_unchanged() {
    let key = "live/aes/index.m3u8";
    let text = corpus("hls/mediapackage-live-aes128-rotation.m3u8");
    let mut store = Store::default();
    store.0.insert(key.into(), text.clone().into_bytes());
    for query in [
        "aws.manifestsettings=time_delay:4",
        "aws.manifestsettings=manifest_window_seconds:6",
        "start=2024-05-01T12:00:04Z&end=2024-05-01T12:00:09Z",
    ] {
        let out = rewritten(strata_guest_core::decide(
            &get(key, query, Settings::default(), 0),
            &store,
        ));
        let lines = key_lines(&out);
        assert!(
            !lines.is_empty(),
            "{query}: the key in effect was dropped:\n{out}"
        );
        for line in lines {
            assert!(
                text.lines().any(|l| l == line),
                "{query}: changed key line {line}"
            );
        }
        // Each kept segment is still preceded by the key that encrypts it.
        let first_kept = out.lines().find(|l| l.ends_with(".ts")).expect("a segment");
        let key_in_effect = text
            .lines()
            .take_while(|l| *l != first_kept)
            .filter(|l| l.starts_with("#EXT-X-KEY"))
            .last()
            .expect("a key before it");
        let kept_key = out
            .lines()
            .take_while(|l| *l != first_kept)
            .filter(|l| l.starts_with("#EXT-X-KEY"))
            .last();
        assert_eq!(kept_key, Some(key_in_effect), "{query}:\n{out}");
    }
}

#[test]
fn session_keys_survive_filters_and_sample_aes_survives_signing() {
    let master = "vod/drm/master.m3u8";
    let text = corpus("hls/shaka-packager-multivariant.m3u8");
    let mut store = Store::default();
    store.0.insert(master.into(), text.clone().into_bytes());
    let filtered = rewritten(strata_guest_core::decide(
        &get(
            master,
            "aws.manifestfilter=video_bitrate:0-3000000",
            Settings::default(),
            0,
        ),
        &store,
    ));
    assert_eq!(key_lines(&filtered), key_lines(&text));
    assert!(!key_lines(&text).is_empty());

    // Signed: the data: key URIs of SAMPLE-AES-CTR are not child URIs and stay exactly as written.
    let media = "vod/drm/video.m3u8";
    let text = corpus("hls/shaka-packager-media-sample-aes-ctr.m3u8");
    store.0.insert(media.into(), text.clone().into_bytes());
    let (settings, query, now_ms) = signed("vod/");
    let out = rewritten(strata_guest_core::decide(
        &get(media, &query, settings, now_ms),
        &store,
    ));
    assert_eq!(key_lines(&out), key_lines(&text));
}

/// Settings signing `prefix`, and a token for it valid for an hour from the returned clock.
fn signed(prefix: &str) -> (Settings, String, u64) {
    let settings = Settings {
        signing: vec![SignedPrefix {
            prefix: prefix.into(),
            key: "secret".into(),
        }],
        ..Settings::default()
    };
    let now = 1_800_000_000;
    let expires = now + 3600;
    let sig = signing::sign(b"secret", prefix, expires);
    (
        settings,
        format!("st_exp={expires}&st_sig={sig}"),
        now * 1000,
    )
}

#[test]
fn a_key_uri_under_a_signed_prefix_carries_the_token() {
    let key = "paid/live/index.m3u8";
    let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n\
                #EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.key\",IV=0x01\n#EXTINF:2,\ns1.ts\n\
                #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k2\"\n#EXTINF:2,\ns2.ts\n";
    let mut store = Store::default();
    store.0.insert(key.into(), text.as_bytes().to_vec());
    let (settings, query, now_ms) = signed("paid/");
    let out = rewritten(strata_guest_core::decide(
        &get(key, &query, settings, now_ms),
        &store,
    ));
    assert!(
        out.contains(&format!(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.key?{query}\",IV=0x01\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k2\"\n"),
        "a key server elsewhere got the token:\n{out}"
    );
    assert!(out.contains(&format!("s1.ts?{query}")), "{out}");
}

#[test]
fn content_protection_survives_mpd_filters() {
    let key = "vod/cenc/manifest.mpd";
    let text = corpus("dash/shaka-packager-static-cenc.mpd");
    let mut store = Store::default();
    store.0.insert(key.into(), text.clone().into_bytes());
    let out = rewritten(strata_guest_core::decide(
        &get(
            key,
            "aws.manifestfilter=video_bitrate:0-3000000",
            Settings::default(),
            0,
        ),
        &store,
    ));
    let pssh = |t: &str| -> Vec<String> {
        t.split("<cenc:pssh>")
            .skip(1)
            .map(|rest| {
                rest.split("</cenc:pssh>")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    assert!(!pssh(&text).is_empty());
    assert_eq!(pssh(&out), pssh(&text), "{out}");
    let protections = |t: &str| t.matches("<ContentProtection").count();
    assert_eq!(protections(&out), protections(&text), "{out}");
    for kid in [
        "cenc:default_KID=\"6d76f25c-b17f-5e16-b8ea-ef6bbf582d8e\"",
        "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
    ] {
        assert_eq!(out.matches(kid).count(), text.matches(kid).count(), "{kid}");
    }
}
