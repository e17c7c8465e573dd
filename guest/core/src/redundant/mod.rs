//! Redundant ingest (`[[live.redundant]]`): GETs under a route's `serve` are answered from the healthiest of
//! its inputs, the folders its encoders write, so the channel stays on air when one encoder fails.
//!
//! - An input is healthy while its media playlist was written within `healthy_within` target durations
//!   (and one second of slack for `last-modified`'s whole seconds), and has not ended.
//! - Each rendition (media playlist) stays on its current input until that input fails, then switches to
//!   the first healthy other one; an input that comes back is not switched back to. The choice and the
//!   numbering at the switch are remembered through [`Objects::write_state`] under the route's state
//!   folder (compare-and-set: two racing requests cannot both switch), see [`state`].
//! - Served playlists are rewritten ([`splice`]): segment URIs become `@<n>/<key in input n>` relative to
//!   the served playlist, so a segment GET names its input and is served from it (bytes never pass through
//!   here), and a CDN never sees one URL change its bytes. Epoch-locked encoders (the same segment names at
//!   the same numbers) continue the numbering; others are joined with `EXT-X-DISCONTINUITY` after the last
//!   served segment, so the media sequence never goes back.
//! - A served playlist answer holds until its current input would turn unhealthy
//!   ([`Objects::expires_in`]), or until any playlist or state it read changes.
//! - Multivariant playlists come from the first input holding them; their children are relative names
//!   that resolve under `serve` to renditions chosen as above. Other keys under `serve` (not tagged, not
//!   playlists) come from the first input holding them. Writes under `serve` are refused.

pub mod splice;
pub mod state;

use crate::media_type::{ObjectClass, class_of};
use crate::objects::{Objects, ReadError, WriteError};
use crate::response;
use crate::types::{ObjectMeta, Outcome, RedundantRoute, Request};
use splice::{InputPlaylist, Place};
use state::State;
use strata_abi::key::path_from_key;

/// Slack for `last-modified`'s whole seconds, in milliseconds.
const ROUNDING_MS: u64 = 1000;

/// Largest input playlist read.
const MAX_PLAYLIST_BYTES: u64 = crate::manifest::MAX_PLAYLIST_BYTES;

/// The decision for `key` when it lies under a redundant route's `serve`; `None` elsewhere.
pub fn decide(req: &Request, key: &str, store: &impl Objects) -> Option<Outcome> {
    let route = req
        .settings
        .redundant
        .iter()
        .find(|r| key.starts_with(&r.serve))?;
    let rest = &key[route.serve.len()..];
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return Some(Outcome::Respond(response::error(
            405,
            &format!(
                "{} is served from its inputs ({}); write to one of them",
                route.serve,
                route.inputs.join(", ")
            ),
        )));
    }
    if let Some((index, in_input)) = splice::tagged(rest) {
        let Some(input) = route.inputs.get(index) else {
            return Some(Outcome::Respond(response::error(
                404,
                &format!("{} has no input {}", route.serve, index + 1),
            )));
        };
        return Some(from_input(req, &format!("{input}{in_input}"), store));
    }
    if class_of(key) == ObjectClass::Playlist && !key.to_ascii_lowercase().ends_with(".mpd") {
        return Some(playlist(req, route, rest, key, store));
    }
    let holder = route
        .inputs
        .iter()
        .map(|input| format!("{input}{rest}"))
        .find(|k| store.head(k).is_some())
        .unwrap_or_else(|| format!("{}{rest}", route.inputs[0]));
    Some(from_input(req, &holder, store))
}

/// The default decision for the input object `key`, as if the request had named it.
fn from_input(req: &Request, key: &str, store: &impl Objects) -> Outcome {
    let req = Request {
        key: key.to_owned(),
        path: path_from_key(key),
        ..req.clone()
    };
    crate::decide(&req, store)
}

/// One input's copy of the requested playlist.
struct Copy {
    meta: ObjectMeta,
    text: String,
}

/// What the inputs hold of one rendition, read as needed.
struct Inputs<'a, O> {
    route: &'a RedundantRoute,
    rest: &'a str,
    store: &'a O,
    now_ms: u64,
}

impl<O: Objects> Inputs<'_, O> {
    fn key(&self, index: usize) -> String {
        format!("{}{}", self.route.inputs[index], self.rest)
    }

    fn copy(&self, index: usize) -> Option<Copy> {
        let key = self.key(index);
        let meta = self.store.head(&key)?;
        let text = String::from_utf8(self.store.read(&key, MAX_PLAYLIST_BYTES).ok()?).ok()?;
        Some(Copy { meta, text })
    }

    fn media(&self, index: usize, copy: &Copy) -> Option<InputPlaylist> {
        let key = self.key(index);
        splice::read_input(
            &copy.text,
            &Place {
                input: index,
                prefix: &self.route.inputs[index],
                key: &key,
                depth: self.rest.matches('/').count(),
            },
        )
    }

    /// Milliseconds input `copy` stays healthy from now; `None` when it is not healthy.
    fn healthy_for(&self, copy: &Copy, playlist: &InputPlaylist) -> Option<u64> {
        if playlist.ended || playlist.segments.is_empty() {
            return None;
        }
        let limit = playlist
            .target
            .saturating_mul(u64::from(self.route.healthy_within_permille))
            .saturating_add(ROUNDING_MS);
        let age = self
            .now_ms
            .saturating_sub(copy.meta.last_modified.saturating_mul(1000));
        (age < limit).then(|| limit - age)
    }

    /// The first healthy input other than `skip`, in the route's order.
    fn first_healthy(&self, skip: Option<usize>) -> Option<(usize, Copy, InputPlaylist)> {
        (0..self.route.inputs.len())
            .filter(|i| Some(*i) != skip)
            .find_map(|i| {
                let copy = self.copy(i)?;
                let playlist = self.media(i, &copy)?;
                self.healthy_for(&copy, &playlist)?;
                Some((i, copy, playlist))
            })
    }
}

/// GET of a playlist under `serve`.
fn playlist(
    req: &Request,
    route: &RedundantRoute,
    rest: &str,
    key: &str,
    store: &impl Objects,
) -> Outcome {
    let inputs = Inputs {
        route,
        rest,
        store,
        now_ms: req.now_ms,
    };
    let state_key = format!("{}{rest}", route.state_prefix());
    let remembered = read_state(store, &state_key, route);
    let current = remembered.as_ref().map(|r| r.1.input);
    let copy = current.and_then(|i| inputs.copy(i));
    if let Some(copy) = &copy
        && inputs.media(current.unwrap_or(0), copy).is_none()
    {
        return multivariant(req, &inputs, key, store);
    }
    let chosen = match (remembered, copy) {
        (Some((etag, state)), Some(copy)) => {
            let playlist = inputs.media(state.input, &copy);
            match playlist.map(|p| (inputs.healthy_for(&copy, &p), p)) {
                Some((Some(left), p)) => {
                    store.expires_in(left);
                    Some((state, copy, p))
                }
                from => switch(
                    &inputs,
                    &state_key,
                    Some((etag, state)),
                    from.map(|(_, p)| (copy, p)),
                ),
            }
        }
        (remembered, _) => switch(&inputs, &state_key, remembered, None),
    };
    let Some((state, copy, p)) = chosen else {
        return match (0..route.inputs.len()).find_map(|i| inputs.copy(i).map(|c| (i, c))) {
            Some((i, c)) if inputs.media(i, &c).is_none() => multivariant(req, &inputs, key, store),
            _ => Outcome::Respond(response::error(
                404,
                &format!("no input of {} holds {rest}", route.serve),
            )),
        };
    };
    answer(req, key, &copy.meta, splice::render(&state, &p), store)
}

/// The state after the current input (`state`, its playlist `from`) failed or none was chosen yet: the
/// first healthy other input, remembered; else the current one, else the most recently written one.
fn switch<O: Objects>(
    inputs: &Inputs<'_, O>,
    state_key: &str,
    remembered: Option<(String, State)>,
    from: Option<(Copy, InputPlaylist)>,
) -> Option<(State, Copy, InputPlaylist)> {
    let store = inputs.store;
    let (expected, state) = remembered.map_or((None, None), |(etag, s)| (Some(etag), Some(s)));
    let current = state.as_ref().map(|s| s.input);
    let Some((to, copy, playlist)) = inputs.first_healthy(current) else {
        // Nothing healthy: stay where we are (the playlist then goes stale by the stale-manifest rule).
        if let (Some(state), Some((copy, p))) = (state.clone(), from) {
            return Some((state, copy, p));
        }
        return (0..inputs.route.inputs.len())
            .filter_map(|i| {
                let copy = inputs.copy(i)?;
                let p = inputs.media(i, &copy)?;
                Some((i, copy, p))
            })
            .max_by_key(|(i, copy, _)| (copy.meta.last_modified, std::cmp::Reverse(*i)))
            .map(|(i, copy, p)| {
                let remembered = state.clone().filter(|s| s.input == i);
                (
                    remembered.unwrap_or(State {
                        input: i,
                        ..State::default()
                    }),
                    copy,
                    p,
                )
            });
    };
    if let Some(left) = inputs.healthy_for(&copy, &playlist) {
        store.expires_in(left);
    }
    let next = match (&state, &from) {
        (Some(state), from) => {
            // The segments the new input wrote since the old one's last write: those follow its last one.
            let new_segments = from.as_ref().map_or(1, |(old, _)| {
                let gap_ms = copy
                    .meta
                    .last_modified
                    .saturating_sub(old.meta.last_modified)
                    .saturating_mul(1000);
                usize::try_from(gap_ms / playlist.target.max(1).saturating_mul(1000)).unwrap_or(1)
            });
            splice::switch(
                state,
                from.as_ref().map(|(_, p)| p),
                to,
                &playlist,
                new_segments,
            )
        }
        (None, _) => State {
            input: to,
            ..State::default()
        },
    };
    match store.write_state(state_key, expected.as_deref(), next.write().as_bytes()) {
        Err(WriteError::Conflict) => {
            // Another request switched first: follow its choice.
            let (_, theirs) = read_state(store, state_key, inputs.route)?;
            let copy = inputs.copy(theirs.input)?;
            let p = inputs.media(theirs.input, &copy)?;
            Some((theirs, copy, p))
        }
        _ => Some((next, copy, playlist)),
    }
}

/// The remembered state of a rendition and its entity tag, if any (and naming one of the route's inputs).
fn read_state(store: &impl Objects, key: &str, route: &RedundantRoute) -> Option<(String, State)> {
    let meta = store.head(key)?;
    let bytes = match store.read(key, crate::manifest::MAX_PLAYLIST_BYTES) {
        Ok(bytes) => bytes,
        Err(
            ReadError::NotFound | ReadError::TooLarge(_) | ReadError::Denied | ReadError::Io(_),
        ) => {
            return None;
        }
    };
    let state = State::parse(std::str::from_utf8(&bytes).ok()?)?;
    (state.input < route.inputs.len()).then_some((meta.etag, state))
}

/// A multivariant playlist under `serve`: the first input's copy; its children resolve under `serve`.
fn multivariant(
    req: &Request,
    inputs: &Inputs<'_, impl Objects>,
    key: &str,
    store: &impl Objects,
) -> Outcome {
    match (0..inputs.route.inputs.len()).find_map(|i| inputs.copy(i)) {
        Some(copy) => answer(req, key, &copy.meta, copy.text, store),
        None => Outcome::Respond(response::error(404, &format!("no input holds {key}"))),
    }
}

/// The answer for the served playlist `text` at `key`, made from the input copy `meta`: the default
/// playlist decision (conditionals, filters, time shift, signing, staleness, caching) over a store that
/// holds `text` at `key`.
fn answer(
    req: &Request,
    key: &str,
    meta: &ObjectMeta,
    text: String,
    store: &impl Objects,
) -> Outcome {
    let served = ServedStore {
        store,
        meta: ObjectMeta {
            key: key.to_owned(),
            size: text.len() as u64,
            etag: format!("\"r{:016x}\"", crate::manifest::fnv1a(text.as_bytes())),
            complete: true,
            ..meta.clone()
        },
        text,
    };
    match crate::handler::get(req, key.to_owned(), &served) {
        // Nothing is stored at `key`: a plain serve becomes the text itself.
        Outcome::Serve(plan) if plan.key == key => {
            // Answered whole: a Range on a playlist is ignored, as RFC 9110 allows.
            let headers = plan
                .headers
                .into_iter()
                .filter(|(name, _)| name != "accept-ranges")
                .collect();
            Outcome::Respond(crate::types::Response {
                status: 200,
                headers,
                // As for every generated playlist, the host sends no body to a HEAD.
                body: served.text.into_bytes(),
            })
        }
        other => other,
    }
}

/// The store as the default playlist decision sees it: the served text at its key, the rest as stored.
struct ServedStore<'a, O> {
    store: &'a O,
    meta: ObjectMeta,
    text: String,
}

impl<O: Objects> Objects for ServedStore<'_, O> {
    fn head(&self, key: &str) -> Option<ObjectMeta> {
        if key == self.meta.key {
            return Some(self.meta.clone());
        }
        self.store.head(key)
    }

    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        if key == self.meta.key {
            return if self.text.len() as u64 > max_bytes {
                Err(ReadError::TooLarge(self.text.len() as u64))
            } else {
                Ok(self.text.clone().into_bytes())
            };
        }
        self.store.read(key, max_bytes)
    }

    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String> {
        self.store.list_ending(prefix, suffixes, limit)
    }

    fn write_state(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<String, WriteError> {
        self.store.write_state(key, expected, body)
    }

    fn expires_in(&self, ms: u64) {
        self.store.expires_in(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MemStore, header, request};
    use crate::types::{Response, ServePlan};

    const NOW_S: u64 = 1_800_000_000;

    /// A live playlist of 1 s segments `<name><n>.ts` for `n` in `first..=last`.
    fn live(name: &str, first: u64, last: u64) -> String {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        for n in first..=last {
            text.push_str(&format!("#EXTINF:1.000000,\n{name}{n}.ts\n"));
        }
        text
    }

    fn put(store: &mut MemStore, key: &str, text: &str, written_s: u64) {
        store.put(key, text.as_bytes());
        store.objects.get_mut(key).unwrap().0.last_modified = written_s;
    }

    fn get(store: &MemStore, path: &str, now_s: u64) -> Outcome {
        let mut req = request("GET", path, &[]);
        req.now_ms = now_s * 1000;
        req.settings.stale.clear();
        req.settings.redundant = vec![RedundantRoute {
            serve: "ch/".into(),
            inputs: vec!["ch-a/".into(), "ch-b/".into()],
            healthy_within_permille: 1500,
        }];
        crate::decide(&req, store)
    }

    fn text(o: Outcome) -> String {
        match o {
            Outcome::Respond(Response {
                status: 200, body, ..
            }) => String::from_utf8(body).unwrap(),
            other => panic!("expected a 200, got {other:?}"),
        }
    }

    /// The numbers a playlist's text says: (media sequence, discontinuity sequence, segment URIs).
    fn numbers(text: &str) -> (u64, u64, Vec<String>) {
        let value = |tag: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(tag))
                .map_or(0, |v| v.parse().unwrap())
        };
        let uris = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        (
            value("#EXT-X-MEDIA-SEQUENCE:"),
            value("#EXT-X-DISCONTINUITY-SEQUENCE:"),
            uris,
        )
    }

    #[test]
    fn epoch_locked_inputs_switch_without_a_discontinuity() {
        let mut store = MemStore::default();
        put(&mut store, "ch-a/index.m3u8", &live("s", 100, 104), NOW_S);
        put(&mut store, "ch-b/index.m3u8", &live("s", 100, 104), NOW_S);
        let before = text(get(&store, "/ch/index.m3u8", NOW_S));
        assert_eq!(
            numbers(&before).2,
            [
                "@1/s100.ts",
                "@1/s101.ts",
                "@1/s102.ts",
                "@1/s103.ts",
                "@1/s104.ts"
            ]
        );
        // A stops at 104; B carries on to 107.
        put(
            &mut store,
            "ch-b/index.m3u8",
            &live("s", 103, 107),
            NOW_S + 3,
        );
        let after = text(get(&store, "/ch/index.m3u8", NOW_S + 3));
        assert!(!after.contains("DISCONTINUITY"), "{after}");
        let (seq, _, uris) = numbers(&after);
        assert!(seq >= 100, "{after}");
        assert_eq!(
            uris.last().map(String::as_str),
            Some("@2/s107.ts"),
            "{after}"
        );
        assert!(uris.contains(&"@2/s105.ts".to_owned()), "no gap: {after}");
    }

    #[test]
    fn other_inputs_join_after_a_discontinuity_and_the_numbers_never_go_back() {
        let mut store = MemStore::default();
        put(&mut store, "ch-a/index.m3u8", &live("a", 500, 504), NOW_S);
        put(&mut store, "ch-b/index.m3u8", &live("b", 3, 7), NOW_S);
        assert_eq!(numbers(&text(get(&store, "/ch/index.m3u8", NOW_S))).0, 500);
        // A stopped writing at NOW_S; B wrote 3 segments since.
        put(&mut store, "ch-b/index.m3u8", &live("b", 5, 9), NOW_S + 3);
        let after = text(get(&store, "/ch/index.m3u8", NOW_S + 3));
        let (seq, disc, uris) = numbers(&after);
        assert_eq!(seq, 503, "{after}");
        assert_eq!(disc, 0);
        assert_eq!(
            uris,
            [
                "@1/a503.ts",
                "@1/a504.ts",
                "@2/b7.ts",
                "@2/b8.ts",
                "@2/b9.ts"
            ]
        );
        assert!(
            after.contains("@1/a504.ts\n#EXT-X-DISCONTINUITY\n"),
            "{after}"
        );
        assert_eq!(uris.last().map(String::as_str), Some("@2/b9.ts"), "{after}");
        // B runs on until A's segments have left: the discontinuity leaves with them, counted.
        put(&mut store, "ch-b/index.m3u8", &live("b", 10, 14), NOW_S + 7);
        let later = text(get(&store, "/ch/index.m3u8", NOW_S + 7));
        let (later_seq, later_disc, later_uris) = numbers(&later);
        assert!(later_seq > seq, "{later}");
        assert_eq!(later_disc, 1, "{later}");
        assert!(!later.contains("#EXT-X-DISCONTINUITY\n"), "{later}");
        assert!(later_uris.iter().all(|u| u.starts_with("@2/")), "{later}");
    }

    #[test]
    fn the_same_names_from_an_encoder_started_later_are_not_locked() {
        let mut store = MemStore::default();
        put(&mut store, "ch-a/index.m3u8", &live("s", 10, 14), NOW_S);
        put(&mut store, "ch-b/index.m3u8", &live("s", 6, 10), NOW_S);
        text(get(&store, "/ch/index.m3u8", NOW_S));
        // B numbers from its own later start: its s13 is not A's s13.
        put(&mut store, "ch-b/index.m3u8", &live("s", 9, 13), NOW_S + 3);
        let after = text(get(&store, "/ch/index.m3u8", NOW_S + 3));
        assert!(
            after.contains("@1/s14.ts\n#EXT-X-DISCONTINUITY\n"),
            "{after}"
        );
        assert!(after.ends_with("@2/s13.ts\n"), "{after}");
        assert_eq!(numbers(&after).0, 13, "{after}");
    }

    #[test]
    fn an_input_that_comes_back_is_not_switched_back_to() {
        let mut store = MemStore::default();
        put(&mut store, "ch-a/index.m3u8", &live("s", 10, 14), NOW_S);
        put(&mut store, "ch-b/index.m3u8", &live("s", 10, 14), NOW_S);
        text(get(&store, "/ch/index.m3u8", NOW_S));
        put(&mut store, "ch-b/index.m3u8", &live("s", 12, 16), NOW_S + 3);
        assert!(text(get(&store, "/ch/index.m3u8", NOW_S + 3)).ends_with("@2/s16.ts\n"));
        put(&mut store, "ch-a/index.m3u8", &live("s", 13, 17), NOW_S + 4);
        put(&mut store, "ch-b/index.m3u8", &live("s", 13, 17), NOW_S + 4);
        assert!(text(get(&store, "/ch/index.m3u8", NOW_S + 4)).ends_with("@2/s17.ts\n"));
    }

    #[test]
    fn with_both_inputs_down_the_last_one_is_served_until_it_goes_stale() {
        let mut store = MemStore::default();
        put(&mut store, "ch-a/index.m3u8", &live("s", 10, 14), NOW_S);
        put(&mut store, "ch-b/index.m3u8", &live("s", 10, 13), NOW_S - 1);
        text(get(&store, "/ch/index.m3u8", NOW_S));
        assert!(text(get(&store, "/ch/index.m3u8", NOW_S + 3)).ends_with("@1/s14.ts\n"));
        match get(&store, "/ch/index.m3u8", NOW_S + 10) {
            Outcome::Respond(r) => assert_eq!(r.status, 404, "stale"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn segments_are_served_from_the_input_their_uri_names() {
        let mut store = MemStore::default();
        store.put("ch-b/s10.ts", b"ts");
        let Outcome::Serve(ServePlan { key, .. }) = get(&store, "/ch/@2/s10.ts", NOW_S) else {
            panic!("a tagged segment is served");
        };
        assert_eq!(key, "ch-b/s10.ts");
        assert!(
            matches!(get(&store, "/ch/@9/s10.ts", NOW_S), Outcome::Respond(r) if r.status == 404)
        );
        let mut put_req = request("PUT", "/ch/index.m3u8", &[]);
        put_req.settings.redundant = vec![RedundantRoute {
            serve: "ch/".into(),
            inputs: vec!["ch-a/".into(), "ch-b/".into()],
            healthy_within_permille: 1500,
        }];
        assert!(matches!(crate::decide(&put_req, &store), Outcome::Respond(r) if r.status == 405));
    }

    #[test]
    fn multivariant_playlists_come_from_an_input_and_the_answer_holds_until_the_input_would_fail() {
        let mut store = MemStore::default();
        let mv = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv0/index.m3u8\n";
        put(&mut store, "ch-b/master.m3u8", mv, NOW_S);
        assert_eq!(text(get(&store, "/ch/master.m3u8", NOW_S)), mv);
        put(&mut store, "ch-a/v0/index.m3u8", &live("s", 1, 3), NOW_S);
        let mut req = request("GET", "/ch/v0/index.m3u8", &[]);
        req.now_ms = NOW_S * 1000 + 200;
        req.settings.stale.clear();
        req.settings.redundant = vec![RedundantRoute {
            serve: "ch/".into(),
            inputs: vec!["ch-a/".into(), "ch-b/".into()],
            healthy_within_permille: 1500,
        }];
        let decision = crate::reuse::decide(&req, &store);
        let served = text(decision.outcome);
        assert!(served.contains("../@1/v0/s3.ts"), "{served}");
        assert_eq!(
            decision.reuse.map(|r| r.max_age_ms),
            Some(2300),
            "1.5 s + 1 s slack - 0.2 s"
        );
        let Outcome::Respond(r) = get(&store, "/ch/v0/index.m3u8", NOW_S) else {
            panic!()
        };
        assert_eq!(
            header(&r.headers, "content-type"),
            Some("application/vnd.apple.mpegurl")
        );
    }
}
