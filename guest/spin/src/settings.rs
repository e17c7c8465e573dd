//! The guest's settings on Spin: what `[guest.settings]` gives the handler on the Strata host (signing keys,
//! thresholds), read from the Spin variable `settings` as `key=value` pairs separated by `;`.
//!
//! Spin variables are single strings named in lower case, while settings keys such as `sign:live/` are
//! not valid variable names, so all settings travel in one variable.

/// The settings written in `text`: `key=value` pairs separated by `;`, spaces around them ignored; a value
/// keeps any later `=` (base64 padding).
///
/// # Errors
/// A one-line reason naming the pair that has no `=` or an empty key.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(format!(
                "setting {pair:?} is not key=value (pairs are separated by ';')"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_split_on_semicolons_and_the_first_equals() {
        assert_eq!(parse("").unwrap(), Vec::new());
        assert_eq!(
            parse(" sign:live/=c2VjcmV0== ; cmsd_load_threshold_permille=700;").unwrap(),
            vec![
                ("sign:live/".to_string(), "c2VjcmV0==".to_string()),
                (
                    "cmsd_load_threshold_permille".to_string(),
                    "700".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_pair_without_a_key_or_equals_is_named() {
        assert!(parse("sign:live/").unwrap_err().contains("\"sign:live/\""));
        assert!(parse("=x").is_err());
    }
}
