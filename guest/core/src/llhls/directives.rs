//! The delivery directives a player puts in a playlist request's query (rfc8216bis §6.2.5):
//! `_HLS_msn`, `_HLS_part` (blocking reload) and `_HLS_skip` (delta update).

/// The query parameter of a blocking reload: a request carrying it blocks.
pub const MSN: &str = "_HLS_msn";

/// Which delta update the player asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// `_HLS_skip=YES`: skip old media segments.
    Yes,
    /// `_HLS_skip=v2`: also skip old `EXT-X-DATERANGE` tags.
    V2,
}

/// The directives of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Directives {
    /// `_HLS_msn`: hold the response until this media sequence number is in the playlist.
    pub msn: Option<u64>,
    /// `_HLS_part`: … and this part of it.
    pub part: Option<u64>,
    /// `_HLS_skip`.
    pub skip: Option<Skip>,
}

impl Directives {
    /// Reads the directives from a query string (without `?`). Other parameters are ignored.
    ///
    /// # Errors
    /// A one-line reason (answered 400) when a value is not a decimal integer, `_HLS_skip` is neither
    /// `YES` nor `v2`, or `_HLS_part` comes without `_HLS_msn`.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut directives = Directives::default();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                MSN => directives.msn = Some(number(name, value)?),
                "_HLS_part" => directives.part = Some(number(name, value)?),
                "_HLS_skip" => {
                    directives.skip = Some(match value {
                        "YES" => Skip::Yes,
                        "v2" => Skip::V2,
                        _ => return Err(format!("_HLS_skip must be YES or v2, not {value:?}")),
                    });
                }
                _ => {}
            }
        }
        if directives.part.is_some() && directives.msn.is_none() {
            return Err("_HLS_part needs _HLS_msn".into());
        }
        Ok(directives)
    }

    /// Whether the request asks to be held until the playlist reaches a point.
    pub fn blocks(&self) -> bool {
        self.msn.is_some()
    }
}

/// A directive's value as a decimal integer (rfc8216bis: decimal-integer, no sign).
fn number(name: &str, value: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} must be a decimal integer, not {value:?}"));
    }
    value
        .parse()
        .map_err(|_| format!("{name} is too large: {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_directive_and_ignores_the_rest() {
        let d = Directives::parse("token=x&_HLS_msn=273&_HLS_part=2&_HLS_skip=v2").unwrap();
        assert_eq!(
            d,
            Directives {
                msn: Some(273),
                part: Some(2),
                skip: Some(Skip::V2)
            }
        );
        assert!(d.blocks());
        let d = Directives::parse("").unwrap();
        assert_eq!(d, Directives::default());
        assert!(!d.blocks());
        assert_eq!(
            Directives::parse("_HLS_skip=YES").unwrap().skip,
            Some(Skip::Yes)
        );
    }

    #[test]
    fn part_alone_is_refused() {
        assert_eq!(
            Directives::parse("_HLS_part=1"),
            Err("_HLS_part needs _HLS_msn".into())
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for query in [
            "_HLS_msn=",
            "_HLS_msn=-1",
            "_HLS_msn=+1",
            "_HLS_msn=1.5",
            "_HLS_msn=1&_HLS_part=x",
            "_HLS_msn=99999999999999999999999",
            "_HLS_skip=yes",
            "_HLS_skip",
        ] {
            assert!(Directives::parse(query).is_err(), "{query}");
        }
    }
}
