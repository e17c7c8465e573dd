//! The runtime's part of the configuration: `[guest]` (limits, the guests folder, and the typed settings
//! handlers receive) and `[plugins.<name>]`. The `strata` binary reads the file and hands these over.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use serde::Deserialize;
use strata_abi::settings::{
    AbrPolicy, AbrRoute, AdMarkersMode, AdMarkersRoute, ClockSource,
    DEFAULT_HEALTHY_WITHIN_PERMILLE, RedundantRoute, Settings, SignedPrefix, StaleRoute,
};
use strata_tiers::InvalidSetting;

use super::{FilterLimits, GuestLimits};

/// Which handler decides requests, what each instance may use, and the settings handlers receive.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuestConfig {
    /// A handler component to run instead of the built-in one.
    pub handler: Option<PathBuf>,
    /// Linear memory cap per instance.
    pub memory_bytes: ByteSize,
    /// CPU deadline per decision, in milliseconds.
    pub deadline_ms: u64,
    /// Wall-clock deadline per decision (CPU, host calls and any sleep through WASI clocks), in
    /// milliseconds; past it the decision is dropped, its instance slot freed, and the request answers 503.
    pub wall_deadline_ms: u64,
    /// Largest object a guest may read whole (playlists, manifests).
    pub max_read_bytes: ByteSize,
    /// Most guest instances alive at once (the pooling allocator's size); more requests wait.
    pub max_instances: u32,
    /// Memory for the host's remembered decisions (`docs/decisions/0051`): a decision the guest marks
    /// reusable is replayed until something it read changes; 0 asks the guest on every request.
    pub decision_cache_bytes: ByteSize,
    /// A folder watched for `<name>.wasm` files, each deployed as guest `<name>` when it changes.
    pub guests_dir: Option<PathBuf>,
    /// Prefixes whose objects need signed URLs (`[[guest.signing]]`).
    pub signing: Vec<SigningConfig>,
    /// Prefixes whose multivariant playlists are chosen per player (`[[guest.abr]]`).
    pub abr: Vec<AbrConfig>,
    /// When the live playlists under a prefix go stale (`[[guest.stale]]`); elsewhere after 3 target
    /// durations, answering 404.
    pub stale: Vec<StaleConfig>,
    /// What the HLS media playlists under a prefix carry of their ad breaks (`[[guest.ad_markers]]`);
    /// elsewhere the markers as written.
    pub ad_markers: Vec<AdMarkersConfig>,
    /// At or above this load (permille of `max_instances`) segment answers carry CMSD-Dynamic `mb`.
    pub cmsd_load_threshold_permille: u16,
    /// The clock source of live MPDs without one: `auto` (the origin's `/_strata/time`), `off`, or an
    /// `http(s)` URL.
    pub utc_timing: String,
    /// Free-form settings for customers' guests (`[guest.settings]`).
    pub settings: BTreeMap<String, String>,
}

/// One signed prefix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// A folder of keys, e.g. `premium/`.
    pub prefix: String,
    /// The HMAC-SHA256 key.
    pub key: String,
}

/// One ABR route.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbrConfig {
    /// A folder of keys, e.g. `live/`.
    pub prefix: String,
    /// The policy: `cmcd`.
    pub policy: String,
}

/// When the live playlists under one prefix go stale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleConfig {
    /// A folder of keys, e.g. `live/`.
    pub prefix: String,
    /// Not updated for this many target durations: stale (0: never).
    #[serde(default = "default_stale_after")]
    pub after_target_durations: u16,
    /// What a stale playlist answers: 404 (default) or a 5xx.
    #[serde(default = "default_stale_status")]
    pub status: u16,
}

/// The ad-marker mode of the HLS media playlists under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdMarkersConfig {
    /// A folder of keys, e.g. `live/`.
    pub prefix: String,
    /// `passthrough`, `daterange` (CUE-OUT/CUE-IN breaks become EXT-X-DATERANGE) or `none`.
    pub mode: String,
}

fn default_stale_after() -> u16 {
    strata_abi::settings::DEFAULT_STALE_AFTER_TARGET_DURATIONS
}

fn default_stale_status() -> u16 {
    strata_abi::settings::DEFAULT_STALE_STATUS
}

/// Live channels (`[live]`): settings of the handler guest kept apart because they describe channels, not
/// guests.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Channels served from the healthiest of several encoders (`[[live.redundant]]`).
    pub redundant: Vec<RedundantConfig>,
}

/// One channel fed by redundant encoders.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedundantConfig {
    /// The folder players read, e.g. `live/ch1/`.
    pub serve: String,
    /// The folders the encoders write, e.g. `["live/ch1-a/", "live/ch1-b/"]`.
    pub inputs: Vec<String>,
    /// An input is healthy while its media playlists were written within this many target durations.
    #[serde(default = "default_healthy_within")]
    pub healthy_within: f64,
}

fn default_healthy_within() -> f64 {
    f64::from(DEFAULT_HEALTHY_WITHIN_PERMILLE) / 1000.0
}

impl LiveConfig {
    /// The typed redundant routes, checked alone and against each other.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming the route (`live.redundant[<i>]`) and what is wrong with it.
    pub fn redundant_routes(&self) -> Result<Vec<RedundantRoute>, InvalidSetting> {
        let mut routes = Vec::new();
        for (i, route) in self.redundant.iter().enumerate() {
            let key = format!("live.redundant[{i}]");
            let healthy_within_permille = strata_abi::settings::permille_of(route.healthy_within)
                .ok_or_else(|| {
                InvalidSetting::new(
                    &format!("{key}.healthy_within"),
                    &format!(
                        "{} is not a positive number of target durations",
                        route.healthy_within
                    ),
                )
            })?;
            let typed = RedundantRoute {
                serve: route.serve.clone(),
                inputs: route.inputs.clone(),
                healthy_within_permille,
            };
            typed
                .check()
                .map_err(|reason| InvalidSetting::new(&key, &reason))?;
            routes.push(typed);
        }
        RedundantRoute::check_all(&routes)
            .map_err(|reason| InvalidSetting::new("live.redundant", &reason))?;
        Ok(routes)
    }
}

/// The sandbox of one manifest plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// Linear memory cap.
    pub memory_bytes: ByteSize,
    /// CPU deadline of one rewrite, in milliseconds.
    pub deadline_ms: u64,
    /// Wall-clock deadline of one rewrite (CPU, waits and all), in milliseconds.
    pub wall_deadline_ms: u64,
}

impl Default for GuestConfig {
    fn default() -> Self {
        GuestConfig {
            handler: None,
            memory_bytes: ByteSize::mib(64),
            deadline_ms: 500,
            wall_deadline_ms: 1_000,
            max_read_bytes: ByteSize::mib(4),
            max_instances: 128,
            decision_cache_bytes: ByteSize::mib(64),
            guests_dir: None,
            signing: Vec::new(),
            abr: Vec::new(),
            stale: Vec::new(),
            ad_markers: Vec::new(),
            cmsd_load_threshold_permille:
                strata_abi::settings::DEFAULT_CMSD_LOAD_THRESHOLD_PERMILLE,
            utc_timing: "auto".into(),
            settings: BTreeMap::new(),
        }
    }
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig {
            memory_bytes: ByteSize::mib(16),
            deadline_ms: 50,
            wall_deadline_ms: 200,
        }
    }
}

/// What older configurations wrote in `[guest.settings]` that now has keys of its own, and how to write it.
const MOVED_SETTINGS: &[(&str, &str)] = &[
    (
        "sign:",
        "signing keys are now written [[guest.signing]] prefix = \"<prefix>\" key = \"<key>\"",
    ),
    (
        "abr:",
        "ABR routes are now written [[guest.abr]] prefix = \"<prefix>\" policy = \"cmcd\"",
    ),
    (
        "cmsd_load_threshold_permille",
        "the threshold is now written [guest] cmsd_load_threshold_permille = <n>",
    ),
    (
        "stale:",
        "stale-playlist routes are written [[guest.stale]] prefix = \"<prefix>\" after_target_durations = <n> status = <404 or 5xx>",
    ),
    (
        "ad_markers:",
        "ad-marker routes are written [[guest.ad_markers]] prefix = \"<prefix>\" mode = \"passthrough\" | \"daterange\" | \"none\"",
    ),
    (
        "utc_timing",
        "the clock source is now written [guest] utc_timing = \"auto\" | \"off\" | \"<url>\"",
    ),
];

impl GuestConfig {
    /// The limits of every handler instance.
    pub fn limits(&self) -> GuestLimits {
        GuestLimits {
            memory_bytes: self.memory_bytes.as_u64(),
            deadline: Duration::from_millis(self.deadline_ms),
            wall_deadline: Duration::from_millis(self.wall_deadline_ms),
            max_read_bytes: self.max_read_bytes.as_u64(),
            max_instances: self.max_instances,
        }
    }

    /// Checks the limits and settings, naming the first key at fault.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming the key and what is wrong with its value.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let invalid = |key: &str, reason: &str| Err(InvalidSetting::new(key, reason));
        if self.memory_bytes.as_u64() < ByteSize::mib(1).as_u64() {
            return invalid("guest.memory_bytes", "must be at least 1 MiB");
        }
        if self.deadline_ms < 10 {
            return invalid("guest.deadline_ms", "must be at least 10 ms");
        }
        if self.wall_deadline_ms < self.deadline_ms {
            return invalid(
                "guest.wall_deadline_ms",
                "must be at least guest.deadline_ms (the CPU deadline)",
            );
        }
        if self.max_instances == 0 {
            return invalid("guest.max_instances", "must be at least 1");
        }
        self.settings().map(drop)
    }

    /// The typed settings handlers receive (before each keeps only what it owns), with the live channels
    /// of `live`.
    ///
    /// # Errors
    /// As [`GuestConfig::settings`] and [`LiveConfig::redundant_routes`].
    pub fn settings_with(&self, live: &LiveConfig) -> Result<Settings, InvalidSetting> {
        Ok(Settings {
            redundant: live.redundant_routes()?,
            ..self.settings()?
        })
    }

    /// The typed settings handlers receive (before each keeps only what it owns).
    ///
    /// # Errors
    /// [`InvalidSetting`] naming the entry: an empty key, a prefix that is not a folder, an unknown policy,
    /// a threshold of 0, a clock that is not `auto`, `off` or a URL, or a `[guest.settings]` entry an older
    /// configuration wrote there that now has keys of its own (the reason says how to write it).
    pub fn settings(&self) -> Result<Settings, InvalidSetting> {
        for name in self.settings.keys() {
            if let Some((_, how)) = MOVED_SETTINGS
                .iter()
                .find(|(moved, _)| name.starts_with(moved))
            {
                return Err(InvalidSetting::new(
                    &format!("guest.settings.{name:?}"),
                    how,
                ));
            }
        }
        let mut signing = Vec::new();
        for (i, s) in self.signing.iter().enumerate() {
            let key = format!("guest.signing[{i}]");
            folder(&key, &s.prefix)?;
            if s.key.trim().is_empty() {
                return Err(InvalidSetting::new(
                    &format!("{key}.key"),
                    "the signing key is empty; give a secret or remove the entry",
                ));
            }
            signing.push(SignedPrefix {
                prefix: s.prefix.clone(),
                key: s.key.clone(),
            });
        }
        let mut abr = Vec::new();
        for (i, route) in self.abr.iter().enumerate() {
            let key = format!("guest.abr[{i}]");
            folder(&key, &route.prefix)?;
            let policy = AbrPolicy::parse(&route.policy).ok_or_else(|| {
                InvalidSetting::new(
                    &format!("{key}.policy"),
                    &format!("{:?} is not a policy (cmcd)", route.policy),
                )
            })?;
            abr.push(AbrRoute {
                prefix: route.prefix.clone(),
                policy,
            });
        }
        let mut stale = Vec::new();
        for (i, route) in self.stale.iter().enumerate() {
            let key = format!("guest.stale[{i}]");
            folder(&key, &route.prefix)?;
            if !StaleRoute::valid_status(route.status) {
                return Err(InvalidSetting::new(
                    &format!("{key}.status"),
                    &format!("{} is not 404 or 5xx", route.status),
                ));
            }
            stale.push(StaleRoute {
                prefix: route.prefix.clone(),
                after_target_durations: route.after_target_durations,
                status: route.status,
            });
        }
        let mut ad_markers = Vec::new();
        for (i, route) in self.ad_markers.iter().enumerate() {
            let key = format!("guest.ad_markers[{i}]");
            folder(&key, &route.prefix)?;
            if let Some(first) = self.ad_markers[..i]
                .iter()
                .position(|r| r.prefix == route.prefix)
            {
                // Two modes for one prefix: which one a playlist gets would depend on the order.
                return Err(InvalidSetting::new(
                    &format!("{key}.prefix"),
                    &format!(
                        "{:?} is already routed by guest.ad_markers[{first}]",
                        route.prefix
                    ),
                ));
            }
            let mode = AdMarkersMode::parse(&route.mode).ok_or_else(|| {
                InvalidSetting::new(
                    &format!("{key}.mode"),
                    &format!("{:?} is not passthrough, daterange or none", route.mode),
                )
            })?;
            ad_markers.push(AdMarkersRoute {
                prefix: route.prefix.clone(),
                mode,
            });
        }
        if self.cmsd_load_threshold_permille == 0 {
            return Err(InvalidSetting::new(
                "guest.cmsd_load_threshold_permille",
                "must be at least 1",
            ));
        }
        let clock = ClockSource::parse(&self.utc_timing).ok_or_else(|| {
            InvalidSetting::new(
                "guest.utc_timing",
                &format!("{:?} is not auto, off or an http(s) URL", self.utc_timing),
            )
        })?;
        Ok(Settings {
            signing,
            abr,
            cmsd_load_threshold_permille: self.cmsd_load_threshold_permille,
            clock,
            stale,
            ad_markers,
            redundant: Vec::new(),
            custom: self
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

impl PluginConfig {
    /// The sandbox limits of one rewrite.
    pub fn limits(&self) -> FilterLimits {
        FilterLimits {
            memory_bytes: self.memory_bytes.as_u64(),
            deadline: Duration::from_millis(self.deadline_ms),
            wall_deadline: Duration::from_millis(self.wall_deadline_ms),
        }
    }

    /// Checks the limits of plugin `name`.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming `plugins.<name>`.
    pub fn validate(&self, name: &str) -> Result<(), InvalidSetting> {
        if self.deadline_ms < 1
            || self.memory_bytes.as_u64() < ByteSize::mib(1).as_u64()
            || self.wall_deadline_ms < self.deadline_ms
        {
            return Err(InvalidSetting::new(
                &format!("plugins.{name}"),
                "needs deadline_ms >= 1, wall_deadline_ms >= deadline_ms and memory_bytes >= 1 MiB",
            ));
        }
        Ok(())
    }
}

/// Checks that `prefix` (of entry `key`) is a folder of keys: `live/`, with no leading `/`.
fn folder(key: &str, prefix: &str) -> Result<(), InvalidSetting> {
    let valid = prefix.ends_with('/')
        && !prefix.starts_with('/')
        && strata_abi::key::key_from_path(&format!("/{}", prefix.trim_end_matches('/'))).is_ok();
    if valid {
        Ok(())
    } else {
        Err(InvalidSetting::new(
            &format!("{key}.prefix"),
            &format!(
                "{prefix:?} is not a folder of keys such as live/ (no leading '/', a trailing one)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> GuestConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn settings_are_typed_and_checked() {
        let config = parse(
            "cmsd_load_threshold_permille = 700\nutc_timing = \"off\"\n\
             [[signing]]\nprefix = \"premium/\"\nkey = \"k\"\n\
             [[abr]]\nprefix = \"live/\"\npolicy = \"cmcd\"\n\
             [[ad_markers]]\nprefix = \"live/\"\nmode = \"daterange\"\n\
             [settings]\nflag = \"on\"\n",
        );
        let settings = config.settings().unwrap();
        assert_eq!(settings.signing[0].prefix, "premium/");
        assert_eq!(settings.abr[0].policy, AbrPolicy::Cmcd);
        assert_eq!(settings.cmsd_load_threshold_permille, 700);
        assert_eq!(settings.clock, ClockSource::Off);
        assert_eq!(
            settings.ad_markers,
            [AdMarkersRoute {
                prefix: "live/".into(),
                mode: AdMarkersMode::Daterange
            }]
        );
        assert_eq!(settings.custom, [("flag".to_owned(), "on".to_owned())]);
    }

    #[test]
    fn bad_values_stop_the_start_naming_the_key() {
        for (text, key) in [
            (
                "[[signing]]\nprefix = \"premium/\"\nkey = \"\"\n",
                "guest.signing[0].key",
            ),
            (
                "[[signing]]\nprefix = \"/premium\"\nkey = \"k\"\n",
                "guest.signing[0].prefix",
            ),
            (
                "[[abr]]\nprefix = \"live/\"\npolicy = \"bola\"\n",
                "guest.abr[0].policy",
            ),
            (
                "cmsd_load_threshold_permille = 0\n",
                "guest.cmsd_load_threshold_permille",
            ),
            ("utc_timing = \"ntp://x\"\n", "guest.utc_timing"),
            (
                "[[ad_markers]]\nprefix = \"live/\"\nmode = \"scte35\"\n",
                "guest.ad_markers[0].mode",
            ),
            (
                "[[ad_markers]]\nprefix = \"live\"\nmode = \"none\"\n",
                "guest.ad_markers[0].prefix",
            ),
            (
                "[[ad_markers]]\nprefix = \"live/\"\nmode = \"none\"\n\
                 [[ad_markers]]\nprefix = \"live/\"\nmode = \"daterange\"\n",
                "guest.ad_markers[1].prefix: \"live/\" is already routed by guest.ad_markers[0]",
            ),
        ] {
            let error = parse(text).validate().unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn settings_an_older_config_wrote_say_how_to_write_them_now() {
        let error = parse("[settings]\n\"sign:premium/\" = \"k\"\n")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sign:premium/") && error.contains("[[guest.signing]]"),
            "{error}"
        );
        let error = parse("[settings]\ncmsd_load_threshold_permille = \"700\"\n")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("[guest] cmsd_load_threshold_permille"),
            "{error}"
        );
    }
}
