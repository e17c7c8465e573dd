//! The modes over whole playlists, and the markers through the other rewrites (time shift, delta updates,
//! signing) as a GET decides them.

use super::*;
use crate::decide;
use crate::test_support::{MemStore, header, request, settings};
use crate::types::{Outcome, Request, Response};

const SPLICE_B64: &str = "/DAlAAAAAAAAAP/wFAUAAAPnf+/+ABH7nv4AKTLgAAEBAQAATRkqWQ==";
const SPLICE_HEX: &str =
    "0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59";
const OPEN: &str = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:06Z\",START-DATE=\"2024-05-01T12:00:06.000Z\",PLANNED-DURATION=18.000,SCTE35-OUT=0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59";
const CLOSE: &str = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:06Z\",START-DATE=\"2024-05-01T12:00:06.000Z\",DURATION=18.000";
/// 12:00:00Z, when segment 100 begins.
const T0: i64 = 1_714_564_800;

/// Segments `first..=last` of a 6 s stream from 12:00:00Z (segment 100) with an 18 s break over segments
/// 101-103, the way AWS Elemental writes it: `EXT-OATCLS-SCTE35` and `EXT-X-CUE-OUT` on the first ad
/// segment, `EXT-X-CUE-OUT-CONT` (when `cont`) on the others, `EXT-X-CUE-IN` on the return.
fn stream(first: u64, last: u64, cont: bool, pdt: bool) -> String {
    let mut t = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for n in first..=last {
        if pdt {
            let s = crate::iso8601::format_date_time_ms((T0 + (n as i64 - 100) * 6) * 1000);
            t.push_str(&format!("#EXT-X-PROGRAM-DATE-TIME:{s}\n"));
        }
        match n {
            101 => t.push_str(&format!(
                "#EXT-OATCLS-SCTE35:{SPLICE_B64}\n#EXT-X-ASSET:CAID=0x0000000020FB6501\n#EXT-X-CUE-OUT:18.000\n"
            )),
            102 | 103 if cont => t.push_str(&format!(
                "#EXT-X-CUE-OUT-CONT:ElapsedTime={}.000,Duration=18,SCTE35={SPLICE_B64}\n",
                (n - 101) * 6
            )),
            104 => t.push_str("#EXT-X-CUE-IN\n"),
            _ => {}
        }
        t.push_str(&format!("#EXTINF:6.000,\ns{n}.ts\n"));
    }
    t
}

fn daterange(text: &str) -> Applied {
    apply(AdMarkersMode::Daterange, &Playlist::parse(text).unwrap())
}

fn date_ranges(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("#EXT-X-DATERANGE"))
        .collect()
}

#[test]
fn a_break_becomes_two_date_ranges_with_one_id() {
    let out = daterange(&stream(100, 105, true, true))
        .playlist
        .unwrap()
        .write();
    assert!(
        out.contains(&format!("{OPEN}\n#EXTINF:6.000,\ns101.ts\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{CLOSE}\n#EXTINF:6.000,\ns104.ts\n")),
        "{out}"
    );
    assert_eq!(date_ranges(&out), [OPEN, CLOSE]);
    for gone in ["CUE-OUT", "CUE-IN", "OATCLS"] {
        assert!(!out.contains(gone), "{gone}: {out}");
    }
    assert!(out.contains("#EXT-X-ASSET:CAID=0x0000000020FB6501\n"));
    assert_eq!(out.matches("#EXT-X-PROGRAM-DATE-TIME").count(), 6);
    assert_eq!(out.matches(".ts\n").count(), 6);
    assert!(SPLICE_HEX.len() > 2 && OPEN.ends_with(SPLICE_HEX));
}

#[test]
fn the_same_break_gets_the_same_tags_on_every_reload() {
    // The live window slides one segment per reload: the break's CUE-OUT leaves it after the first two,
    // and the break is then dated from ElapsedTime.
    for first in 97..=103 {
        let out = daterange(&stream(first, first + 4, true, true))
            .playlist
            .unwrap()
            .write();
        let expected: &[&str] = if first + 4 >= 104 {
            &[OPEN, CLOSE]
        } else {
            &[OPEN]
        };
        assert_eq!(date_ranges(&out), expected, "window from {first}:\n{out}");
        assert!(!out.contains("#EXT-X-CUE"), "{out}");
    }
    // Once the return segment is the first, no date of the break maps to a segment: nothing is left.
    let out = daterange(&stream(104, 108, true, true));
    let text = out.playlist.unwrap().write();
    assert!(
        date_ranges(&text).is_empty() && !text.contains("CUE-IN"),
        "{text}"
    );
    assert_eq!(out.note, None);
}

#[test]
fn converting_twice_changes_nothing() {
    let once = daterange(&stream(100, 105, true, true)).playlist.unwrap();
    assert_eq!(apply(AdMarkersMode::Daterange, &once), Applied::default());
    assert!(!may_change(AdMarkersMode::Daterange, &once.write()));
}

#[test]
fn without_program_date_times_breaks_keep_their_cue_tags_and_say_why() {
    // ffmpeg without -hls_flags program_date_time: nothing dates the break, so nothing is invented.
    let out = daterange(&stream(100, 105, true, false));
    assert_eq!(out.playlist, None);
    assert_eq!(
        out.note.as_deref(),
        Some(
            "1 ad break(s) kept as EXT-X-CUE tags: no EXT-X-PROGRAM-DATE-TIME dates the break's start"
        )
    );
}

#[test]
fn a_return_whose_break_left_the_window_unannounced_is_kept() {
    // Wowza-style breaks carry no CUE-OUT-CONT: once the CUE-OUT has gone, the start is unknown.
    let out = daterange(&stream(102, 106, false, true));
    let text = out.playlist.map(|p| p.write());
    assert_eq!(text, None);
    assert_eq!(
        out.note.as_deref(),
        Some(
            "1 ad break(s) kept as EXT-X-CUE tags: the break's EXT-X-CUE-OUT left the playlist and no EXT-X-CUE-OUT-CONT says when it began"
        )
    );
    // While the CUE-OUT is there, the break converts the same without CUE-OUT-CONT.
    let text = daterange(&stream(100, 105, false, true))
        .playlist
        .unwrap()
        .write();
    assert_eq!(date_ranges(&text), [OPEN, CLOSE]);
}

#[test]
fn none_removes_every_marker_and_keeps_other_date_ranges() {
    let text = "#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXT-X-DATERANGE:ID=\"show\",CLASS=\"com.example.program\",START-DATE=\"2024-05-01T12:00:00Z\"
#EXTINF:6,
a.ts
#EXT-X-DATERANGE:ID=\"7\",START-DATE=\"2024-05-01T12:00:06Z\",PLANNED-DURATION=6,SCTE35-OUT=0xFC00
#EXT-X-SPLICEPOINT-SCTE35:/DAlAAAAAAAAAP/wFAUAAAPnf+/+ABH7nv4AKTLgAAEBAQAATRkqWQ==
#EXT-X-CUE-OUT:6
#EXTINF:6,
b.ts
#EXT-X-DATERANGE:ID=\"7\",END-DATE=\"2024-05-01T12:00:12Z\"
#EXT-X-DATERANGE:ID=\"8\",START-DATE=\"2024-05-01T12:00:12Z\",SCTE35-CMD=0xFC01
#EXT-X-CUE-IN
#EXTINF:6,
c.ts
";
    let p = Playlist::parse(text).unwrap();
    let out = apply(AdMarkersMode::None, &p).playlist.unwrap().write();
    assert_eq!(
        out,
        "#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXT-X-DATERANGE:ID=\"show\",CLASS=\"com.example.program\",START-DATE=\"2024-05-01T12:00:00Z\"
#EXTINF:6,
a.ts
#EXTINF:6,
b.ts
#EXTINF:6,
c.ts
"
    );
    assert_eq!(
        apply(AdMarkersMode::None, &Playlist::parse(&out).unwrap()),
        Applied::default()
    );
    assert_eq!(apply(AdMarkersMode::Passthrough, &p), Applied::default());
    let mv = Playlist::parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n").unwrap();
    assert_eq!(apply(AdMarkersMode::None, &mv), Applied::default());
}

const KEY: &str = "live/ch1/index.m3u8";

fn get(query: &str, route: &[(&str, &str)], text: &str) -> (Outcome, MemStore) {
    let store = MemStore::default().with(KEY, text.as_bytes());
    let req = Request {
        query: query.into(),
        settings: settings(route),
        ..request("GET", &format!("/{KEY}"), &[])
    };
    (decide(&req, &store), store)
}

fn responded(o: Outcome) -> Response {
    match o {
        Outcome::Respond(r) => r,
        other => panic!("expected Respond, got {other:?}"),
    }
}

const DATERANGE_ROUTE: &[(&str, &str)] = &[("ad_markers:live/", "daterange")];

#[test]
fn a_route_converts_and_other_prefixes_pass_through() {
    let r = responded(get("", DATERANGE_ROUTE, &stream(100, 105, true, true)).0);
    let body = String::from_utf8(r.body).unwrap();
    assert_eq!(date_ranges(&body), [OPEN, CLOSE]);
    assert_eq!(header(&r.headers, NOTE_HEADER), None);
    // Another prefix, and the longest prefix wins.
    let (o, _) = get(
        "",
        &[("ad_markers:vod/", "daterange")],
        &stream(100, 105, true, true),
    );
    assert!(matches!(o, Outcome::Serve(_)), "{o:?}");
    let (o, _) = get(
        "",
        &[
            ("ad_markers:live/", "daterange"),
            ("ad_markers:live/ch1/", "passthrough"),
        ],
        &stream(100, 105, true, true),
    );
    assert!(matches!(o, Outcome::Serve(_)), "{o:?}");
    // Kept breaks are served as stored, saying why.
    let (o, _) = get("", DATERANGE_ROUTE, &stream(100, 105, true, false));
    let Outcome::Serve(s) = o else {
        panic!("{o:?}")
    };
    assert!(
        header(&s.headers, NOTE_HEADER)
            .unwrap()
            .contains("EXT-X-PROGRAM-DATE-TIME")
    );
}

#[test]
fn a_time_shift_inside_a_break_keeps_it() {
    // The view begins at segment 102: the CUE-OUT on 101 is cut away.
    let query = format!("start={}", T0 + 12);
    let body = |route, cont| {
        let r = responded(get(&query, route, &stream(100, 105, cont, true)).0);
        String::from_utf8(r.body).unwrap()
    };
    let converted = body(DATERANGE_ROUTE, true);
    assert!(
        converted.contains("#EXT-X-MEDIA-SEQUENCE:102\n"),
        "{converted}"
    );
    assert_eq!(date_ranges(&converted), [OPEN, CLOSE], "{converted}");
    // Passed through without CUE-OUT-CONT, the first segment says it is 6 s into the break.
    let passed = body(&[], false);
    assert!(
        passed.contains(&format!(
            "#EXT-X-CUE-OUT-CONT:ElapsedTime=6.000,Duration=18.000,SCTE35={SPLICE_B64}\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:12.000Z\n#EXTINF:6.000,\ns102.ts\n"
        )),
        "{passed}"
    );
    assert!(passed.contains("#EXT-X-CUE-IN\n"));
    // With the encoder's own CUE-OUT-CONT there, nothing is added.
    let own = body(&[], true);
    assert_eq!(own.matches("#EXT-X-CUE-OUT-CONT").count(), 2, "{own}");
    // A passed-through date range that began before the window stays while it runs.
    let native = stream(100, 105, true, true).replace(
        "#EXT-X-CUE-OUT:18.000\n",
        &format!("{OPEN}\n#EXT-X-CUE-OUT:18.000\n"),
    );
    let r = responded(get(&query, &[], &native).0);
    assert!(String::from_utf8(r.body).unwrap().contains(OPEN));
}

#[test]
fn delta_updates_skip_or_keep_the_converted_date_ranges() {
    let ll = stream(100, 107, true, true).replace(
        "#EXT-X-TARGETDURATION:6\n",
        "#EXT-X-TARGETDURATION:6\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=18,CAN-SKIP-DATERANGES=YES\n#EXT-X-PART-INF:PART-TARGET=1\n",
    );
    let delta = |skip: &str| {
        let r = responded(get(&format!("_HLS_skip={skip}"), DATERANGE_ROUTE, &ll).0);
        String::from_utf8(r.body).unwrap()
    };
    let yes = delta("YES");
    assert!(yes.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n"), "{yes}");
    assert_eq!(date_ranges(&yes), [OPEN, CLOSE], "{yes}");
    assert!(!yes.contains("#EXT-X-CUE"), "{yes}");
    let v2 = delta("v2");
    assert!(v2.contains("RECENTLY-REMOVED-DATERANGES=\"\""), "{v2}");
    assert!(date_ranges(&v2).is_empty(), "{v2}");
}

#[test]
fn signing_keeps_the_markers() {
    let route = [("ad_markers:live/", "daterange"), ("sign:live/", "secret")];
    let expires = crate::test_support::NOW_MS / 1000 + 60;
    let sig = crate::signing::sign(b"secret", "live/", expires);
    let query = format!("st_exp={expires}&st_sig={sig}");
    let r = responded(get(&query, &route, &stream(100, 105, true, true)).0);
    let body = String::from_utf8(r.body).unwrap();
    assert_eq!(date_ranges(&body), [OPEN, CLOSE], "{body}");
    assert!(body.contains("s101.ts?"), "{body}");
}

#[test]
fn a_cue_out_before_the_last_breaks_cue_in_ends_it_and_begins_the_next() {
    let text = stream(100, 105, true, true).replace("#EXT-X-CUE-IN\n", "#EXT-X-CUE-OUT:6\n");
    let out = daterange(&text).playlist.unwrap().write();
    let next = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:24Z\",START-DATE=\"2024-05-01T12:00:24.000Z\",PLANNED-DURATION=6.000";
    assert!(
        out.contains(&format!("{CLOSE}\n{next}\n#EXTINF:6.000,\ns104.ts\n")),
        "{out}"
    );
    assert!(!out.contains("#EXT-X-CUE"), "{out}");
}

#[test]
fn a_converted_playlist_is_a_decision_the_host_may_replay() {
    // The conversion reads only the playlist (whose change stamp the host records) and the route: the
    // hint is the one a plain playlist GET gets, and the replayed outcome is the converted one.
    let store = MemStore::default().with(KEY, stream(100, 105, true, true).as_bytes());
    let req = Request {
        settings: settings(DATERANGE_ROUTE),
        ..request("GET", &format!("/{KEY}"), &[])
    };
    let d = crate::reuse::decide(&req, &store);
    assert!(d.reuse.is_some(), "{d:?}");
    let plain = crate::reuse::decide(&request("GET", &format!("/{KEY}"), &[]), &store);
    assert_eq!(d.reuse, plain.reuse);
    assert_eq!(d.outcome, decide(&req, &store));
    let Outcome::Respond(r) = d.outcome else {
        panic!()
    };
    assert_eq!(
        date_ranges(std::str::from_utf8(&r.body).unwrap()),
        [OPEN, CLOSE]
    );
}

/// Every mode over `text`, and a view starting at each of a few segments, as a GET would run them.
fn every_mode(text: &str) -> Vec<Applied> {
    let p = Playlist::parse(text).unwrap();
    let view = media::view(&p);
    for i in [0, 1, view.segments.len() / 2, view.segments.len()] {
        let _ = continuation_at(&p, &view, i);
    }
    [AdMarkersMode::Daterange, AdMarkersMode::None]
        .into_iter()
        .map(|mode| apply(mode, &p))
        .collect()
}

fn written_len(applied: &Applied) -> usize {
    applied.playlist.as_ref().map_or(0, |p| p.write().len())
}

#[test]
fn hostile_cue_values_neither_panic_nor_date_a_break_wrongly() {
    let values = [
        "",
        "-30",
        "NaN",
        "inf",
        "1e308",
        "DURATION=-1",
        "DURATION=\"",
        "=",
        ",,,",
        "\u{0}",
        "DURATION=30,SCTE35=!!!",
        "SCTE35=AAAA",
        "ElapsedTime=-5",
        "ElapsedTime=NaN/30",
        "5/",
        "/",
        "é/ü",
    ];
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:6\n");
    for (n, value) in values.iter().enumerate() {
        // A program date time jumping backwards every other segment, and an EXTINF past any clock.
        let pdt = if n % 2 == 0 {
            "2024-05-01T12:00:00Z"
        } else {
            "1970-01-01T00:00:00Z"
        };
        text.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{pdt}\n#EXT-X-CUE-IN\n#EXT-X-CUE-OUT:{value}\n\
             #EXT-X-CUE-OUT-CONT:{value}\n#EXT-OATCLS-SCTE35:{value}\n#EXTINF:1e300,\ns{n}.ts\n"
        ));
    }
    for applied in every_mode(&text) {
        let out = applied.playlist.expect("markers to rewrite").write();
        for line in out.lines().filter(|l| l.starts_with("#EXT-X-DATERANGE")) {
            assert!(
                !line.contains("DURATION=-") && !line.contains("NaN") && !line.contains("inf"),
                "{line}"
            );
        }
    }
}

#[test]
fn a_hundred_thousand_cue_tags_on_one_segment_take_linear_time_and_output() {
    let many = 100_000;
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n",
    );
    text.push_str(
        &"#EXT-X-CUE-OUT:30\n#EXT-X-CUE-OUT-CONT:ElapsedTime=1,Duration=30\n".repeat(many),
    );
    text.push_str("#EXTINF:6,\na.ts\n");
    text.push_str(&"#EXT-X-CUE-IN\n".repeat(many));
    text.push_str("#EXTINF:6,\nb.ts\n");
    for applied in every_mode(&text) {
        assert!(
            written_len(&applied) <= 3 * text.len(),
            "{}",
            written_len(&applied)
        );
    }
}

#[test]
fn a_megabyte_of_splice_info_is_carried_once_per_tag_not_per_segment() {
    let mut splice = vec![0xFC_u8];
    splice.extend(std::iter::repeat_n(0x42, 768 * 1024));
    let b64 = scte35::base64(&splice);
    let mut text = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n\
         #EXT-OATCLS-SCTE35:{b64}\n#EXT-X-CUE-OUT:30\n#EXTINF:6,\na.ts\n"
    );
    for n in 0..50 {
        text.push_str(&format!("#EXTINF:6,\nc{n}.ts\n"));
    }
    let p = Playlist::parse(&text).unwrap();
    let view = media::view(&p);
    let cont = continuation_at(&p, &view, 10).expect("a continuation inside the break");
    assert!(
        matches!(&cont, Line::Tag(t) if t.value.as_ref().is_some_and(|v| v.len() < b64.len() + 100))
    );
    for applied in every_mode(&text) {
        assert!(
            written_len(&applied) <= 2 * text.len(),
            "{}",
            written_len(&applied)
        );
    }
}
