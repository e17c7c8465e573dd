//! Placement and lifecycle rules: which tier holds an object, how long it lives, and whether readers may
//! follow its upload, chosen by the first [`KeyPattern`] that matches its key (like MediaStore's lifecycle
//! policy). Checked once at start so a bad pattern stops the origin with a message naming it.

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

use crate::pattern::KeyPattern;

/// Where an object lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Memory only: acknowledged at once, lost on restart or when evicted (short-lived live objects).
    Memory,
    /// Acknowledged once synced to disk, and kept hot in memory.
    #[default]
    Durable,
    /// On disk; memory is only a cache filled by reads.
    Disk,
}

impl Placement {
    /// Whether objects so placed are written to the disk tier.
    pub fn on_disk(self) -> bool {
        self != Placement::Memory
    }

    /// The lower-case name, as in the config and the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Memory => "memory",
            Placement::Durable => "durable",
            Placement::Disk => "disk",
        }
    }

    /// The placement `name` names (as [`Placement::name`] writes it).
    pub fn parse(name: &str) -> Option<Placement> {
        [Placement::Memory, Placement::Durable, Placement::Disk]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// The `[storage]` config section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Most bytes the disk tier may hold; a write past it answers 507. No limit but the filesystem's if absent.
    pub disk_bytes: Option<ByteSize>,
    /// The policy of keys no rule matches.
    pub default: Policy,
    /// Rules by key pattern, first match wins.
    pub rules: Vec<RuleConfig>,
    /// Which objects the memory tier keeps when full.
    pub memory_policy: super::MemoryPolicy,
}

/// What a rule decides for the objects it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The tier placement.
    pub placement: Placement,
    /// Lifetime after the upload completes, unless the upload names its own; none means forever.
    pub ttl_seconds: Option<u64>,
    /// Whether GETs may stream an object while its upload is still arriving.
    pub streaming_reads: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            placement: Placement::Durable,
            ttl_seconds: None,
            streaming_reads: true,
        }
    }
}

/// One `[[storage.rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The keys it places ([`KeyPattern`]).
    pub pattern: KeyPattern,
    /// What the rule decides.
    #[serde(flatten)]
    pub policy: Policy,
}

/// Why the rules cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("storage.rules[{index}] pattern {pattern:?}: {reason}")]
pub struct RuleError {
    /// Position of the rule in the file, from 0.
    pub index: usize,
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong.
    pub reason: String,
}

/// The checked rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<(KeyPattern, Policy)>,
    default: Policy,
}

impl Rules {
    /// Compiles every pattern, refusing the first bad one.
    pub fn compile(config: &StorageConfig) -> Result<Self, RuleError> {
        let mut rules = Vec::with_capacity(config.rules.len());
        for (index, rule) in config.rules.iter().enumerate() {
            if rule.policy.ttl_seconds == Some(0) {
                return Err(RuleError {
                    index,
                    pattern: rule.pattern.to_string(),
                    reason: "ttl_seconds must be above 0".into(),
                });
            }
            rules.push((rule.pattern.clone(), rule.policy));
        }
        if config.default.ttl_seconds == Some(0) {
            return Err(RuleError {
                index: usize::MAX,
                pattern: "default".into(),
                reason: "ttl_seconds must be above 0".into(),
            });
        }
        Ok(Rules {
            rules,
            default: config.default,
        })
    }

    /// The policy of `key`: the first matching rule's, else the default.
    pub fn policy(&self, key: &str) -> Policy {
        self.rules
            .iter()
            .find(|(pattern, _)| pattern.matches(key))
            .map_or(self.default, |(_, policy)| *policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> StorageConfig {
        toml::from_str(text).unwrap()
    }

    fn matches(pattern: &str, key: &str) -> bool {
        let rules = Rules::compile(&config(&format!(
            "default = {{ placement = \"disk\" }}\n[[rules]]\npattern = {pattern:?}\n"
        )))
        .unwrap();
        rules.policy(key).placement == Placement::Durable
    }

    #[test]
    fn first_match_wins_and_the_default_catches_the_rest() {
        let rules = Rules::compile(&config(
            r#"
            default = { placement = "disk" }
            [[rules]]
            pattern = "live/**/*.ts"
            placement = "memory"
            ttl_seconds = 60
            [[rules]]
            pattern = "live/**"
            placement = "durable"
            streaming_reads = false
            "#,
        ))
        .unwrap();
        let seg = rules.policy("live/ch1/720p/seg9.ts");
        assert_eq!(
            (seg.placement, seg.ttl_seconds),
            (Placement::Memory, Some(60))
        );
        assert!(seg.streaming_reads);
        let playlist = rules.policy("live/ch1/index.m3u8");
        assert_eq!(playlist.placement, Placement::Durable);
        assert!(!playlist.streaming_reads);
        assert_eq!(rules.policy("vod/movie.mp4").placement, Placement::Disk);
    }

    #[test]
    fn star_stays_within_a_segment() {
        assert!(matches("live/*.ts", "live/a.ts"));
        assert!(!matches("live/*.ts", "live/x/a.ts"));
        assert!(matches("live/**/*.ts", "live/x/y/a.ts"));
    }

    #[test]
    fn bad_rules_are_named() {
        for (text, expect) in [
            ("[[rules]]\npattern = \"live/[a\"\n", "pattern \"live/[a\""),
            ("[[rules]]\npattern = \"/live/*\"\n", "leading '/'"),
            ("[[rules]]\npattern = \"a\"\nplacement = \"ram\"\n", "ram"),
        ] {
            let error = toml::from_str::<StorageConfig>(text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expect), "{error}");
        }
        let error = Rules::compile(&config("[[rules]]\npattern = \"a\"\nttl_seconds = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("storage.rules[0]") && error.contains("ttl_seconds"),
            "{error}"
        );
    }
}
