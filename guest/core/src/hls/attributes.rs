//! HLS attribute lists (`NAME=value,NAME="quoted, value"`), kept in order with their quoting.

/// An attribute list: pairs in order; each value as written (quotes included), so it writes back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes {
    /// `(name, raw value)` pairs in order.
    pub pairs: Vec<(String, String)>,
}

impl Attributes {
    /// Parses an attribute list. Never fails: a piece without `=` becomes a name with an empty value, an
    /// unterminated quote runs to the end and empty pieces are dropped, so whatever a vendor wrote is
    /// written back.
    pub fn parse(text: &str) -> Self {
        let mut pairs = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (name, after) = match rest.find(['=', ',']) {
                Some(at) if rest.as_bytes()[at] == b'=' => (&rest[..at], &rest[at + 1..]),
                Some(at) => {
                    if at > 0 {
                        pairs.push((rest[..at].to_string(), String::new()));
                    }
                    rest = &rest[at + 1..];
                    continue;
                }
                None => {
                    pairs.push((rest.to_string(), String::new()));
                    break;
                }
            };
            let end = if let Some(quoted) = after.strip_prefix('"') {
                quoted.find('"').map_or(after.len(), |q| q + 2)
            } else {
                0
            };
            let end = after[end..].find(',').map_or(after.len(), |c| end + c);
            if !(name.is_empty() && end == 0) {
                pairs.push((name.to_string(), after[..end].to_string()));
            }
            rest = after.get(end + 1..).unwrap_or("");
        }
        Self { pairs }
    }

    /// The value of `name`, without quotes.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| unquote(v))
    }

    /// The value of `name` as a number.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.get(name)?.trim().parse().ok()
    }

    /// Sets `name` to `value` (quoted when `quoted`), in place if present, else at the end.
    pub fn set(&mut self, name: &str, value: &str, quoted: bool) {
        let raw = if quoted {
            format!("\"{value}\"")
        } else {
            value.to_string()
        };
        match self.pairs.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = raw,
            None => self.pairs.push((name.to_string(), raw)),
        }
    }

    /// The list's text.
    pub fn write(&self) -> String {
        let mut out = String::new();
        for (i, (n, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(n);
            if !v.is_empty() {
                out.push('=');
                out.push_str(v);
            }
        }
        out
    }
}

/// `v` without surrounding double quotes.
fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .map(|s| s.strip_suffix('"').unwrap_or(s))
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_get_and_round_trip() {
        let text =
            r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=1280x720,X-VENDOR=abc"#;
        let a = Attributes::parse(text);
        assert_eq!(a.get("CODECS"), Some("avc1.4d401f,mp4a.40.2"));
        assert_eq!(a.number("BANDWIDTH"), Some(1_280_000.0));
        assert_eq!(a.get("X-VENDOR"), Some("abc"));
        assert_eq!(a.write(), text);
    }

    #[test]
    fn set_keeps_order() {
        let mut a = Attributes::parse("URI=\"a.m3u8\",LAST-MSN=3");
        a.set("URI", "b.m3u8?t=1", true);
        a.set("NEW", "1", false);
        assert_eq!(a.write(), "URI=\"b.m3u8?t=1\",LAST-MSN=3,NEW=1");
    }

    #[test]
    fn malformed_input_survives() {
        for text in ["", "A", "A=\"unterminated", "=,=,", "A=1,,B", "\"\"=\""] {
            let a = Attributes::parse(text);
            let again = Attributes::parse(&a.write());
            assert_eq!(again.write(), a.write(), "{text}");
        }
    }
}
