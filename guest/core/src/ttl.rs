//! Per-object lifetime on upload: `x-strata-ttl: <seconds>` or `?ttl=<seconds>`, so an encoder can say
//! how long a live segment matters without an operator writing a rule for it.

use crate::types::Request;

/// The header naming an object's lifetime in seconds.
pub const TTL_HEADER: &str = "x-strata-ttl";

/// Longest lifetime accepted: ten years, far beyond any stream, small enough never to overflow a clock.
pub const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// The lifetime `req` asks for: the header wins over the query; `Ok(None)` if neither is given.
///
/// # Errors
/// A one-line reason when the value is not a whole number of seconds from 1 to [`MAX_TTL_SECONDS`], or
/// when the header and the query disagree.
pub fn requested(req: &Request) -> Result<Option<u64>, String> {
    let header = req
        .header(TTL_HEADER)
        .map(|v| parse(TTL_HEADER, v))
        .transpose()?;
    let query = req
        .query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("ttl="))
        .map(|v| parse("ttl", v))
        .next()
        .transpose()?;
    match (header, query) {
        (Some(h), Some(q)) if h != q => Err(format!("{TTL_HEADER} ({h}) and ?ttl= ({q}) disagree")),
        (h, q) => Ok(h.or(q)),
    }
}

fn parse(name: &str, value: &str) -> Result<u64, String> {
    let value = value.trim();
    match value.parse::<u64>() {
        Ok(seconds) if (1..=MAX_TTL_SECONDS).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "{name} must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}, not {value:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    fn with_query(query: &str, headers: &[(&str, &str)]) -> Request {
        let mut req = request("PUT", "/live/a.ts", headers);
        req.query = query.into();
        req
    }

    #[test]
    fn header_or_query() {
        assert_eq!(requested(&with_query("", &[])), Ok(None));
        assert_eq!(
            requested(&with_query("", &[("x-strata-ttl", " 30 ")])),
            Ok(Some(30))
        );
        assert_eq!(requested(&with_query("a=1&ttl=45", &[])), Ok(Some(45)));
        assert_eq!(
            requested(&with_query("ttl=45", &[("x-strata-ttl", "45")])),
            Ok(Some(45))
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (query, header) in [
            ("ttl=0", None),
            ("ttl=-1", None),
            ("", Some("1.5")),
            ("ttl=9", Some("8")),
        ] {
            let headers: Vec<(&str, &str)> =
                header.map(|h| ("x-strata-ttl", h)).into_iter().collect();
            let error = requested(&with_query(query, &headers)).unwrap_err();
            assert!(error.contains("ttl"), "{error}");
        }
    }
}
