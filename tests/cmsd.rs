//! CMSD on segment responses from the real binary: `CMSD-Static` carries `d` and `br` from the media
//! playlist that names the segment, and `CMSD-Dynamic` suggests a lower `mb` once the host's load (requests
//! in flight per guest instance slot) reaches the configured threshold.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{Strata, poll_until};

const IN_FLIGHT: &str = "strata_in_flight_requests";

/// Four instance slots and a threshold of 500 permille: two requests in flight besides the GET itself
/// make 750.
fn start() -> (Strata, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        "[guest]\nmax_instances = 4\ncmsd_load_threshold_permille = 500\n",
    )
    .expect("write config");
    let s = Strata::start(&["--config", config.to_str().expect("utf-8 path")]);
    let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n\
        #EXTINF:2.000,\nseg1.ts\n#EXT-X-BITRATE:4000\n#EXTINF:1.5,\nseg2.ts\n";
    // 250 000 bytes over 2 s: 1000 kbps.
    for (path, body) in [
        ("/live/index.m3u8", playlist.as_bytes().to_vec()),
        ("/live/seg1.ts", vec![0x47; 250_000]),
        ("/live/seg2.ts", vec![0x47; 1000]),
        ("/live/orphan.ts", vec![0x47; 1000]),
    ] {
        let r = s.http().put(s.url(path)).body(body).send().expect("put");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    (s, dir)
}

/// The CMSD-Static and CMSD-Dynamic of a GET of `path`.
fn cmsd(s: &Strata, path: &str) -> (Option<String>, Option<String>) {
    let r = s.http().get(s.url(path)).send().expect("get");
    assert_eq!(r.status(), 200, "{path}");
    let value = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_string())
    };
    (value("cmsd-static"), value("cmsd-dynamic"))
}

/// A connection that has sent `request` (a head, perhaps part of a body) and is held open until dropped.
fn held_open(s: &Strata, request: &str) -> TcpStream {
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream.write_all(request.as_bytes()).expect("send head");
    stream
}

/// A blocking playlist reload, parked until the playlist reaches MSN 4 or the stream is dropped.
fn blocking_reload(s: &Strata) -> TcpStream {
    let host = s.addr();
    held_open(
        s,
        &format!("GET /live/index.m3u8?_HLS_msn=4 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    )
}

/// An upload that has sent its head and a few bytes of a larger body.
fn slow_upload(s: &Strata, path: &str) -> TcpStream {
    let host = s.addr();
    held_open(
        s,
        &format!("PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n\r\nsome bytes"),
    )
}

#[test]
fn segment_responses_carry_duration_and_bitrate() {
    let (s, _dir) = start();
    assert_eq!(
        cmsd(&s, "/live/seg1.ts"),
        (Some("ot=av,sf=h,d=2000,br=1000,n=\"strata\"".into()), None)
    );
    // EXT-X-BITRATE wins over the measured bitrate.
    assert_eq!(
        cmsd(&s, "/live/seg2.ts").0.as_deref(),
        Some("ot=av,sf=h,d=1500,br=4000,n=\"strata\"")
    );
    // A segment no playlist names: no d, no br.
    assert_eq!(
        cmsd(&s, "/live/orphan.ts").0.as_deref(),
        Some("ot=av,sf=h,n=\"strata\"")
    );
}

#[test]
fn max_bitrate_is_suggested_under_load_only() {
    let (s, _dir) = start();
    poll_until(Duration::from_secs(10), "no request in flight", || {
        s.metric(IN_FLIGHT) == 0.0
    });
    // Idle: the GET alone is 1 of 4 slots, 250 permille.
    assert_eq!(cmsd(&s, "/live/seg1.ts").1, None);

    // Parked LL-HLS reloads are not load: players keep one parked each in normal operation.
    let parked = [
        blocking_reload(&s),
        blocking_reload(&s),
        blocking_reload(&s),
    ];
    poll_until(Duration::from_secs(10), "three reloads parked", || {
        s.metric("strata_parked_requests") == 3.0
    });
    assert_eq!(s.metric(IN_FLIGHT), 0.0);
    assert_eq!(cmsd(&s, "/live/seg1.ts").1, None);
    drop(parked);
    poll_until(Duration::from_secs(20), "the reloads ended", || {
        s.metric("strata_parked_requests") == 0.0 && s.metric(IN_FLIGHT) == 0.0
    });

    let uploads = [slow_upload(&s, "/up/a.ts"), slow_upload(&s, "/up/b.ts")];
    poll_until(Duration::from_secs(10), "two uploads in flight", || {
        s.metric(IN_FLIGHT) == 2.0
    });
    // 3 of 4 slots: 750 permille; mb = 1000 kbps × 500 / 750.
    assert_eq!(
        cmsd(&s, "/live/seg1.ts"),
        (
            Some("ot=av,sf=h,d=2000,br=1000,n=\"strata\"".into()),
            Some("\"strata\";mb=666".into())
        )
    );
    // Without a known bitrate there is nothing to scale.
    assert_eq!(cmsd(&s, "/live/orphan.ts").1, None);

    drop(uploads);
    poll_until(Duration::from_secs(10), "the uploads ended", || {
        s.metric(IN_FLIGHT) == 0.0
    });
    assert_eq!(cmsd(&s, "/live/seg1.ts").1, None);
}
