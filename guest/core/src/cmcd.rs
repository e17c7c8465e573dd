//! CMCD (CTA-5004): what a player says about itself, read from the `CMCD=` query parameter or the
//! `CMCD-Object`, `CMCD-Request`, `CMCD-Session` and `CMCD-Status` headers.
//!
//! CMCD never changes the object served and is never part of a cache key: the host's cache keys are object
//! keys, which never include the query string.

use crate::query;
use crate::types::Request;
use strata_abi::cmcd::{entries, unquote};

pub use strata_abi::cmcd::HEADERS;

/// The CMCD keys an origin acts on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cmcd {
    /// `nor`: the next object the player will request, relative to this one's URL.
    pub next_object: Option<String>,
    /// `nrr`: the byte range of the next request, `first-last`.
    pub next_range: Option<String>,
    /// `bl`: buffer length, ms.
    pub buffer_ms: Option<f64>,
    /// `mtp`: measured throughput, kbps.
    pub throughput_kbps: Option<f64>,
    /// `rtp`: requested maximum throughput, kbps.
    pub requested_kbps: Option<f64>,
    /// `br`: encoded bitrate of the object, kbps.
    pub bitrate_kbps: Option<f64>,
    /// `su`: the player is starting up (or rebuffering).
    pub startup: bool,
    /// `sid`: session id.
    pub session: Option<String>,
}

impl Cmcd {
    /// The CMCD of `req`: the query's `CMCD=` value and every CMCD header, headers winning.
    pub fn from_request(req: &Request) -> Self {
        let mut c = Self::default();
        if let Some(q) = query::param(&req.query, "CMCD") {
            c.read(&q);
        }
        for (name, value) in &req.headers {
            if HEADERS.contains(&name.as_str()) {
                c.read(value);
            }
        }
        c
    }

    /// Whether the player sent any CMCD this origin acts on.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Reads one CMCD dictionary, `k=v,k="string",flag`.
    fn read(&mut self, text: &str) {
        for (k, v) in entries(text) {
            let number = || v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0);
            match k {
                "nor" => self.next_object = Some(unquote(v)),
                "nrr" => self.next_range = Some(unquote(v)),
                "bl" => self.buffer_ms = number(),
                "mtp" => self.throughput_kbps = number(),
                "rtp" => self.requested_kbps = number(),
                "br" => self.bitrate_kbps = number(),
                "su" => self.startup = v.is_empty() || v == "?1",
                "sid" => self.session = Some(unquote(v)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    #[test]
    fn query_form() {
        let mut req = request("GET", "/v/seg1.m4s", &[]);
        req.query = "CMCD=bl%3D21300%2Cbr%3D3200%2Cmtp%3D25400%2Cnor%3D%22seg2.m4s%22%2Cnrr%3D%2212323-48763%22%2Csid%3D%226e2fb550%2Cx%22%2Csu".into();
        let c = Cmcd::from_request(&req);
        assert_eq!(c.buffer_ms, Some(21300.0));
        assert_eq!(c.bitrate_kbps, Some(3200.0));
        assert_eq!(c.throughput_kbps, Some(25400.0));
        assert_eq!(c.next_object.as_deref(), Some("seg2.m4s"));
        assert_eq!(c.next_range.as_deref(), Some("12323-48763"));
        assert_eq!(c.session.as_deref(), Some("6e2fb550,x"));
        assert!(c.startup);
    }

    #[test]
    fn header_form() {
        let req = request(
            "GET",
            "/v/seg1.m4s",
            &[
                ("cmcd-request", "bl=1200,mtp=900,nor=\"../a/seg2.m4s\""),
                ("cmcd-status", "rtp=1500"),
                ("cmcd-object", "br=800,ot=v"),
            ],
        );
        let c = Cmcd::from_request(&req);
        assert_eq!(
            (c.buffer_ms, c.throughput_kbps, c.requested_kbps),
            (Some(1200.0), Some(900.0), Some(1500.0))
        );
        assert_eq!(c.next_object.as_deref(), Some("../a/seg2.m4s"));
        assert!(!c.startup);
        assert!(Cmcd::from_request(&request("GET", "/a", &[])).is_empty());
        let junk = request("GET", "/a", &[("cmcd-request", "bl=-1,mtp=x,,=,\"")]);
        assert!(Cmcd::from_request(&junk).is_empty());
    }
}
