//! `[[limits]]`: the configuration of throttling, and its checks. Each rule covers the keys its pattern
//! matches (the decoded key, as every rule), for reads, writes or both, first match wins; every client gets
//! its own buckets under it.

use bytesize::ByteSize;
use serde::Deserialize;
use strata_tiers::{InvalidSetting, KeyPattern};

/// One throttling rule, as written in the configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    /// The `rule` label of `strata_requests_throttled_total` (default: the pattern as written).
    #[serde(default)]
    pub name: Option<String>,
    /// The keys it covers, e.g. `live/**`.
    pub pattern: Option<KeyPattern>,
    /// Read only to say how to write it now, as the other rules (decision 0049).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Which requests it limits.
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// Requests each client may make per second, on average.
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Requests each client may make at once above the rate (default: one second's worth, at least 1).
    #[serde(default)]
    pub burst: Option<f64>,
    /// Body bytes each client may move per second: response bodies of reads, request bodies of writes.
    #[serde(default)]
    pub bytes_per_second: Option<ByteSize>,
    /// Bytes each client may move at once above the rate (default: one second's worth).
    #[serde(default)]
    pub burst_bytes: Option<ByteSize>,
}

/// Which requests a rule limits, and so who its clients are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppliesTo {
    /// GET, HEAD and OPTIONS, per client address.
    Reads,
    /// PUT, POST, DELETE and other methods, per ingest credential (per address when none is required).
    Writes,
    /// Both, each kind keyed as above.
    #[default]
    All,
}

impl LimitRule {
    /// The `rule` label its refusals are counted under.
    pub fn label(&self) -> String {
        match (&self.name, &self.pattern) {
            (Some(name), _) => name.clone(),
            (None, Some(pattern)) => pattern.to_string(),
            (None, None) => String::new(),
        }
    }

    /// The request bucket's rate and capacity, if the rule counts requests.
    pub fn request_bucket(&self) -> Option<(f64, f64)> {
        let rate = self.requests_per_second?;
        Some((rate, self.burst.unwrap_or(rate.ceil().max(1.0))))
    }

    /// The bytes bucket's rate and capacity, if the rule counts bytes.
    pub fn byte_bucket(&self) -> Option<(f64, f64)> {
        let rate = self.bytes_per_second?.as_u64() as f64;
        Some((rate, self.burst_bytes.map_or(rate, |b| b.as_u64() as f64)))
    }
}

/// Checks every rule, naming the first key at fault: a pattern (not the old `prefix`), at least one rate,
/// rates above zero, bursts of at least one request or byte and only beside their rate, labels that are
/// distinct and not empty.
///
/// # Errors
/// [`InvalidSetting`] naming `limits[<i>].<key>`.
pub fn validate_limits(rules: &[LimitRule]) -> Result<(), InvalidSetting> {
    let mut labels = std::collections::BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let key = |field: &str| format!("limits[{i}].{field}");
        let fault = |field: &str, reason: &str| Err(InvalidSetting::new(&key(field), reason));
        if let Some(prefix) = &rule.prefix {
            let folder = prefix.trim_start_matches('/').trim_end_matches('/');
            return fault(
                "prefix",
                &format!("rules name keys by pattern: write pattern = \"{folder}/**\""),
            );
        }
        if rule.pattern.is_none() {
            return fault(
                "pattern",
                "each rule needs the pattern of the keys it limits, e.g. \"live/**\"",
            );
        }
        if rule.requests_per_second.is_none() && rule.bytes_per_second.is_none() {
            return fault(
                "requests_per_second",
                "each rule needs requests_per_second, bytes_per_second or both",
            );
        }
        if let Some(rate) = rule.requests_per_second
            && !(rate.is_finite() && rate > 0.0)
        {
            return fault("requests_per_second", "must be a number above 0");
        }
        if rule.bytes_per_second.is_some_and(|b| b.as_u64() == 0) {
            return fault("bytes_per_second", "must be above 0");
        }
        match (rule.burst, rule.requests_per_second) {
            (Some(burst), Some(_)) if !(burst.is_finite() && burst >= 1.0) => {
                return fault("burst", "must be at least 1 (a request)");
            }
            (Some(_), None) => {
                return fault("burst", "sizes the request bucket: set requests_per_second");
            }
            _ => {}
        }
        match (rule.burst_bytes, rule.bytes_per_second) {
            (Some(burst), Some(_)) if burst.as_u64() == 0 => {
                return fault("burst_bytes", "must be at least 1 byte");
            }
            (Some(_), None) => {
                return fault(
                    "burst_bytes",
                    "sizes the bytes bucket: set bytes_per_second",
                );
            }
            _ => {}
        }
        let label = rule.label();
        if label.trim().is_empty() {
            return fault("name", "is empty");
        }
        if label.chars().any(char::is_control) {
            return fault(
                "name",
                "must be printable: it is a metric label and appears in refusals",
            );
        }
        if !labels.insert(label.clone()) {
            return fault(
                "name",
                &format!(
                    "another rule is already counted as {label:?}: give each rule a distinct name"
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Limits {
        limits: Vec<LimitRule>,
    }

    fn check(text: &str) -> Result<(), String> {
        let limits: Limits = toml::from_str(text).map_err(|e| e.to_string())?;
        validate_limits(&limits.limits).map_err(|e| e.to_string())
    }

    #[test]
    fn a_rule_parses_with_its_defaults() {
        let limits: Limits = toml::from_str(
            "[[limits]]\npattern = \"live/**\"\nrequests_per_second = 2.5\nbytes_per_second = \"1 MiB\"\n",
        )
        .unwrap();
        let rule = &limits.limits[0];
        assert_eq!(rule.applies_to, AppliesTo::All);
        assert_eq!(rule.label(), "live/**");
        assert_eq!(rule.request_bucket(), Some((2.5, 3.0)));
        assert_eq!(rule.byte_bucket(), Some((1_048_576.0, 1_048_576.0)));
        validate_limits(&limits.limits).unwrap();
    }

    #[test]
    fn impossible_values_are_refused_naming_the_key() {
        let rule = |body: &str| format!("[[limits]]\npattern = \"live/**\"\n{body}\n");
        for (text, key) in [
            (
                rule("requests_per_second = 0"),
                "limits[0].requests_per_second",
            ),
            (
                rule("requests_per_second = -1"),
                "limits[0].requests_per_second",
            ),
            (
                rule("requests_per_second = nan"),
                "limits[0].requests_per_second",
            ),
            (rule(""), "limits[0].requests_per_second"),
            (rule("bytes_per_second = 0"), "limits[0].bytes_per_second"),
            (
                rule("requests_per_second = 1\nburst = 0.5"),
                "limits[0].burst",
            ),
            (rule("bytes_per_second = 10\nburst = 2"), "limits[0].burst"),
            (
                rule("bytes_per_second = 10\nburst_bytes = 0"),
                "limits[0].burst_bytes",
            ),
            (
                "[[limits]]\nrequests_per_second = 1\n".to_owned(),
                "limits[0].pattern",
            ),
            (
                "[[limits]]\nprefix = \"/live/\"\nrequests_per_second = 1\n".to_owned(),
                "pattern = \"live/**\"",
            ),
            (
                format!("{}name = \"a\\nb\"", rule("requests_per_second = 1")),
                "limits[0].name",
            ),
            (
                format!(
                    "{}{}",
                    rule("requests_per_second = 1"),
                    rule("bytes_per_second = 1")
                ),
                "limits[1].name",
            ),
        ] {
            let error = check(&text).unwrap_err();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn bad_patterns_and_kinds_are_refused_when_read() {
        let error =
            check("[[limits]]\npattern = \"/live/**\"\nrequests_per_second = 1\n").unwrap_err();
        assert!(error.contains("no leading '/'"), "{error}");
        let error = check(
            "[[limits]]\npattern = \"live/**\"\napplies_to = \"uploads\"\nrequests_per_second = 1\n",
        )
        .unwrap_err();
        assert!(error.contains("applies_to"), "{error}");
        let error =
            check("[[limits]]\npattern = \"live/**\"\nbytes_per_second = -5\n").unwrap_err();
        assert!(error.contains("bytes_per_second"), "{error}");
    }
}
