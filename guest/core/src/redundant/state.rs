//! What a redundant route remembers per rendition, and its text form in the tiers: which input is current,
//! how its numbering maps to the served one, and the segments served before the last switch (the tail),
//! so the served playlist continues across the switch without a gap and its numbers never go back.

/// One segment as served: its served numbers and its lines, URIs already relative to the served playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Served media sequence number.
    pub seq: u64,
    /// Served discontinuity sequence number.
    pub disc: u64,
    /// The `EXT-X-MAP` line in force, if any.
    pub map: Option<String>,
    /// The `EXT-X-KEY` line in force, if any (`METHOD=NONE` is none).
    pub key: Option<String>,
    /// Its other tag lines (`EXTINF`, program date time, ad markers, ...).
    pub tags: Vec<String>,
    /// Its URI line.
    pub uri: String,
    /// The segment's key relative to its input's folder: the same name on two inputs at the same number
    /// means epoch-locked encoders.
    pub source: String,
}

/// A rendition's remembered state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// Index of the current input in the route's `inputs`.
    pub input: usize,
    /// Served media sequence = the input's + this.
    pub offset: i64,
    /// Served discontinuity sequence = the input's + this.
    pub disc_offset: i64,
    /// The input's segments are served from this served number on; earlier ones come from `tail`.
    pub boundary: u64,
    /// How many segments the served playlist keeps while `tail` is not empty.
    pub window: usize,
    /// The largest target duration the tail needs.
    pub target: u64,
    /// What was served before the last switch.
    pub tail: Vec<Served>,
}

/// First line of the text form, with its version.
const MAGIC: &str = "strata-redundant 1";

impl State {
    /// The text form: a header line, one `name value` line per field, then per tail segment a
    /// `segment <seq> <disc> <source>` line and its lines, each behind a one-letter role.
    pub fn write(&self) -> String {
        let mut out = format!(
            "{MAGIC}\ninput {}\noffset {}\ndisc {}\nboundary {}\nwindow {}\ntarget {}\n",
            self.input, self.offset, self.disc_offset, self.boundary, self.window, self.target
        );
        for s in &self.tail {
            out.push_str(&format!("segment {} {} {}\n", s.seq, s.disc, s.source));
            if let Some(map) = &s.map {
                out.push_str(&format!("m {map}\n"));
            }
            if let Some(key) = &s.key {
                out.push_str(&format!("k {key}\n"));
            }
            for tag in &s.tags {
                out.push_str(&format!("t {tag}\n"));
            }
            out.push_str(&format!("u {}\n", s.uri));
        }
        out
    }

    /// Reads the text form; `None` for anything else (the state is then chosen afresh).
    pub fn parse(text: &str) -> Option<State> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut state = State::default();
        for line in lines {
            let (name, value) = line.split_once(' ')?;
            match name {
                "input" => state.input = value.parse().ok()?,
                "offset" => state.offset = value.parse().ok()?,
                "disc" => state.disc_offset = value.parse().ok()?,
                "boundary" => state.boundary = value.parse().ok()?,
                "window" => state.window = value.parse().ok()?,
                "target" => state.target = value.parse().ok()?,
                "segment" => {
                    let mut parts = value.splitn(3, ' ');
                    state.tail.push(Served {
                        seq: parts.next()?.parse().ok()?,
                        disc: parts.next()?.parse().ok()?,
                        source: parts.next().unwrap_or("").to_owned(),
                        map: None,
                        key: None,
                        tags: Vec::new(),
                        uri: String::new(),
                    });
                }
                "m" => state.tail.last_mut()?.map = Some(value.to_owned()),
                "k" => state.tail.last_mut()?.key = Some(value.to_owned()),
                "t" => state.tail.last_mut()?.tags.push(value.to_owned()),
                "u" => state.tail.last_mut()?.uri = value.to_owned(),
                _ => return None,
            }
        }
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_reads_back() {
        let state = State {
            input: 1,
            offset: -7,
            disc_offset: 2,
            boundary: 106,
            window: 5,
            target: 2,
            tail: vec![Served {
                seq: 105,
                disc: 3,
                map: Some("#EXT-X-MAP:URI=\"@1/init.mp4\"".into()),
                key: None,
                tags: vec!["#EXTINF:1.000,".into()],
                uri: "@1/seg 105.ts".into(),
                source: "seg 105.ts".into(),
            }],
        };
        assert_eq!(State::parse(&state.write()), Some(state));
        assert_eq!(State::parse("something else"), None);
        assert_eq!(State::parse("strata-redundant 1\nm orphan"), None);
    }
}
