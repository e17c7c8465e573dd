//! The guest's settings on Spin: what the Strata host's TOML gives the handler (signing keys, ABR routes,
//! thresholds), read from the Spin variable `settings` as `key=value` pairs separated by `;`, in the string
//! form of `strata_abi::settings` (`sign:live/=<key>;cmsd_load_threshold_permille=700`).
//!
//! Spin variables are single strings named in lower case, while settings keys such as `sign:live/` are
//! not valid variable names, so all settings travel in one variable.

use strata_abi::settings::Settings;

/// The settings written in `text`.
///
/// # Errors
/// A one-line reason naming the pair that is not `key=value` or holds an invalid value.
pub fn parse(text: &str) -> Result<Settings, String> {
    Settings::from_pairs(&pairs(text)?)
}

/// The `key=value` pairs of `text`, separated by `;`, spaces around them ignored; a value keeps any later
/// `=` (base64 padding).
fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
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
        assert_eq!(pairs("").unwrap(), Vec::new());
        assert_eq!(
            pairs(" sign:live/=c2VjcmV0== ; cmsd_load_threshold_permille=700;").unwrap(),
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

    #[test]
    fn values_are_typed() {
        let settings = parse("sign:live/=k;cmsd_load_threshold_permille=700").unwrap();
        assert_eq!(settings.signing[0].prefix, "live/");
        assert_eq!(settings.cmsd_load_threshold_permille, 700);
        assert!(parse("cmsd_load_threshold_permille=lots").is_err());
    }
}
