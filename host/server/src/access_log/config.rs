//! `[log]`: whether and where the access log is written.

use std::path::PathBuf;

use serde::Deserialize;
use strata_tiers::InvalidSetting;

/// The access log's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// One line per request in this format, or none.
    pub access: Format,
    /// The file lines are appended to (reopened on SIGHUP, for logrotate); stderr when unset.
    pub access_file: Option<PathBuf>,
}

/// The shape of an access log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// No access log.
    #[default]
    Off,
    /// One JSON object a line.
    Json,
    /// The combined log format (Apache, nginx), then Strata's fields as `key=value`.
    Combined,
}

impl LogConfig {
    /// Refuses a file without a format to write in it, and an empty file name.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming `log.access_file`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        match &self.access_file {
            Some(path) if path.as_os_str().is_empty() => Err(InvalidSetting::new(
                "log.access_file",
                "must name a file (leave it out to write to stderr)",
            )),
            Some(_) if self.access == Format::Off => Err(InvalidSetting::new(
                "log.access_file",
                "is set but log.access is \"off\": set access = \"json\" or \"combined\"",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_needs_a_format_and_a_name() {
        let parse = |text: &str| toml::from_str::<LogConfig>(text).map_err(|e| e.to_string());
        assert_eq!(parse("").unwrap(), LogConfig::default());
        assert!(parse("access = \"json\"").unwrap().validate().is_ok());
        let error = parse("access_file = \"/tmp/a.log\"").unwrap().validate();
        assert!(error.unwrap_err().to_string().contains("log.access_file"));
        let error = parse("access = \"json\"\naccess_file = \"\"")
            .unwrap()
            .validate();
        assert!(error.unwrap_err().to_string().contains("must name a file"));
        assert!(
            parse("access = \"xml\"")
                .unwrap_err()
                .contains("unknown variant")
        );
    }
}
