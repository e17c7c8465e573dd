//! The operator's settings as a guest receives them: typed, checked once where they are written, never
//! re-scanned per request. The host builds them from its TOML (`[[guest.signing]]`, `[[guest.abr]]`, ...);
//! the 0.1.0 ABI and the Spin shell carry them as `name = value` strings, which [`Settings::from_pairs`]
//! reads and [`Settings::to_pairs`] writes:
//!
//! | string form | typed |
//! | --- | --- |
//! | `sign:<prefix>` = key | [`SignedPrefix`] |
//! | `abr:<prefix>` = `cmcd` | [`AbrRoute`] |
//! | `cmsd_load_threshold_permille` = n | [`Settings::cmsd_load_threshold_permille`] |
//! | `utc_timing` = `auto` / `off` / URL | [`ClockSource`] |
//! | `stale:<prefix>` = `<target durations>[,<status>]` | [`StaleRoute`] |
//! | `ad_markers:<prefix>` = `passthrough` / `daterange` / `none` | [`AdMarkersRoute`] |
//! | `redundant:<serve>` = `<input> <input>...[ within=<target durations>]` | [`RedundantRoute`] |
//! | anything else | [`Settings::custom`] |

/// Objects under `prefix` need URLs signed with `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPrefix {
    /// A folder of keys, ending with `/`.
    pub prefix: String,
    /// The HMAC-SHA256 key; never empty.
    pub key: String,
}

/// How the variants of multivariant playlists are chosen for each player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbrPolicy {
    /// Capped at, and ordered by, what the player's CMCD says it sustains.
    Cmcd,
}

/// The variant policy of the playlists under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbrRoute {
    /// A folder of keys, ending with `/`.
    pub prefix: String,
    /// The policy.
    pub policy: AbrPolicy,
}

/// When the live playlists under a prefix count as stale (their encoder stopped updating them) and what
/// they answer then, so a CDN with origin failover moves to another origin (MediaPackage's stale manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRoute {
    /// A folder of keys, ending with `/`.
    pub prefix: String,
    /// Not updated for this many target durations: stale. 0: never.
    pub after_target_durations: u16,
    /// What a stale playlist answers: 404, or a 5xx.
    pub status: u16,
}

/// Target durations without an update after which a live playlist no route names is stale.
pub const DEFAULT_STALE_AFTER_TARGET_DURATIONS: u16 = 3;

/// What a stale playlist no route names answers.
pub const DEFAULT_STALE_STATUS: u16 = 404;

impl StaleRoute {
    /// Whether `status` may answer a stale playlist: 404, or a server error a CDN fails over on.
    pub fn valid_status(status: u16) -> bool {
        status == 404 || (500..=599).contains(&status)
    }
}

/// What HLS media playlists under a prefix carry of their ad breaks (`EXT-X-CUE-OUT` / `EXT-X-CUE-IN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdMarkersMode {
    /// Every ad marker as the encoder wrote it.
    #[default]
    Passthrough,
    /// `EXT-X-CUE-OUT` ... `EXT-X-CUE-IN` breaks become `EXT-X-DATERANGE` tags (with `SCTE35-OUT` when the
    /// source carries the splice info); other markers as written.
    Daterange,
    /// Ad markers removed: CUE tags, SCTE-35 tags and date ranges carrying SCTE-35.
    None,
}

/// The ad-marker mode of the HLS media playlists under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdMarkersRoute {
    /// A folder of keys, ending with `/`.
    pub prefix: String,
    /// The mode.
    pub mode: AdMarkersMode,
}

/// A live channel fed by several encoders: GETs under `serve` are answered from the healthiest of `inputs`
/// (`guest/core/src/redundant`), so the channel stays on air when one encoder fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedundantRoute {
    /// The folder players read, ending with `/`; nothing is stored under it.
    pub serve: String,
    /// The folders the encoders write, in order of preference when none is current yet; at least two.
    pub inputs: Vec<String>,
    /// An input is healthy while its media playlist was written within this many thousandths of its
    /// target duration.
    pub healthy_within_permille: u32,
}

/// The default of [`RedundantRoute::healthy_within_permille`]: 1.5 target durations.
pub const DEFAULT_HEALTHY_WITHIN_PERMILLE: u32 = 1500;

/// Where the remembered state of redundant routes lives: `<this><serve><rendition>`. Keys under `_strata/`
/// are never data-plane paths (`/_strata/*` is the admin API), so no client can read or write them; the host
/// lets a guest write only under the state prefixes of the routes it owns ([`RedundantRoute::state_prefix`]).
pub const REDUNDANT_STATE_ROOT: &str = "_strata/redundant/";

/// Most inputs one redundant route may name.
pub const MAX_REDUNDANT_INPUTS: usize = 8;

impl RedundantRoute {
    /// The folder of this route's remembered state.
    pub fn state_prefix(&self) -> String {
        format!("{REDUNDANT_STATE_ROOT}{}", self.serve)
    }

    /// Checks the route alone: folders, at least two distinct inputs, none overlapping `serve` or each
    /// other, a positive health limit.
    ///
    /// # Errors
    /// A one-line reason naming what is wrong.
    pub fn check(&self) -> Result<(), String> {
        folder_only(&self.serve).map_err(|e| format!("serve {:?}: {e}", self.serve))?;
        if self.inputs.len() < 2 {
            return Err(format!(
                "serve {:?} needs at least two inputs (has {})",
                self.serve,
                self.inputs.len()
            ));
        }
        if self.inputs.len() > MAX_REDUNDANT_INPUTS {
            return Err(format!(
                "serve {:?} names {} inputs, at most {MAX_REDUNDANT_INPUTS}",
                self.serve,
                self.inputs.len()
            ));
        }
        for (i, input) in self.inputs.iter().enumerate() {
            folder_only(input).map_err(|e| format!("input {input:?}: {e}"))?;
            if overlap(input, &self.serve) {
                return Err(format!(
                    "input {input:?} overlaps serve {:?}: they must be separate folders",
                    self.serve
                ));
            }
            if let Some(other) = self.inputs[..i].iter().find(|o| overlap(o, input)) {
                return Err(format!(
                    "inputs {other:?} and {input:?} overlap: each encoder needs its own folder"
                ));
            }
        }
        if self.healthy_within_permille == 0 {
            return Err("healthy_within must be more than 0 target durations".into());
        }
        Ok(())
    }

    /// Checks every route and that no two overlap (a folder served or written by two routes).
    ///
    /// # Errors
    /// The first route's reason, or the two routes that overlap.
    pub fn check_all(routes: &[RedundantRoute]) -> Result<(), String> {
        for (i, route) in routes.iter().enumerate() {
            route.check()?;
            let folders = || std::iter::once(&route.serve).chain(&route.inputs);
            for other in &routes[..i] {
                let theirs = || std::iter::once(&other.serve).chain(&other.inputs);
                if let Some((a, b)) = folders()
                    .flat_map(|a| theirs().map(move |b| (a, b)))
                    .find(|(a, b)| overlap(a, b))
                {
                    return Err(format!(
                        "routes serving {:?} and {:?} overlap ({a:?} and {b:?})",
                        other.serve, route.serve
                    ));
                }
            }
        }
        Ok(())
    }

    /// The route written as `<input> <input>...[ within=<target durations>]`.
    fn parse(name: &str, serve: String, value: &str) -> Result<Self, String> {
        let mut route = RedundantRoute {
            serve,
            inputs: Vec::new(),
            healthy_within_permille: DEFAULT_HEALTHY_WITHIN_PERMILLE,
        };
        for word in value.split_whitespace() {
            match word.strip_prefix("within=") {
                Some(within) => {
                    route.healthy_within_permille = permille(within).ok_or_else(|| {
                        format!("setting {name:?}: {within:?} is not a number of target durations")
                    })?;
                }
                None => route.inputs.push(word.to_owned()),
            }
        }
        route
            .check()
            .map_err(|e| format!("setting {name:?}: {e}"))?;
        Ok(route)
    }

    /// The route's value in the string form.
    fn written(&self) -> String {
        let within = f64::from(self.healthy_within_permille) / 1000.0;
        format!("{} within={within}", self.inputs.join(" "))
    }
}

/// A positive number of target durations written in decimal, in thousandths; `None` when it is not one.
pub fn permille(text: &str) -> Option<u32> {
    permille_of(text.trim().parse().ok()?)
}

/// A positive number of target durations in thousandths; `None` when it is not positive and finite.
pub fn permille_of(value: f64) -> Option<u32> {
    let scaled = (value * 1000.0).round();
    (value.is_finite() && scaled >= 1.0 && scaled <= f64::from(u32::MAX)).then_some(scaled as u32)
}

/// Whether one of two folders holds the other.
fn overlap(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Where live MPDs without a clock source send players for the time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClockSource {
    /// The origin's own clock (`crate::clock::CLOCK_PATH`).
    #[default]
    Origin,
    /// Name no clock source.
    Off,
    /// Another ISO 8601 time source: an absolute `http(s)` URL.
    Url(String),
}

/// The default of [`Settings::cmsd_load_threshold_permille`]: 80 % of the host's capacity.
pub const DEFAULT_CMSD_LOAD_THRESHOLD_PERMILLE: u16 = 800;

/// The operator's settings a guest owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Signed prefixes.
    pub signing: Vec<SignedPrefix>,
    /// Variant policies by prefix.
    pub abr: Vec<AbrRoute>,
    /// At or above this load (permille of capacity) segment answers carry CMSD-Dynamic `mb`.
    pub cmsd_load_threshold_permille: u16,
    /// The clock source of live MPDs.
    pub clock: ClockSource,
    /// When live playlists go stale, by prefix (others: [`DEFAULT_STALE_AFTER_TARGET_DURATIONS`]).
    pub stale: Vec<StaleRoute>,
    /// Ad-marker modes by prefix (others: [`AdMarkersMode::Passthrough`]).
    pub ad_markers: Vec<AdMarkersRoute>,
    /// Live channels served from the healthiest of several encoders' folders.
    pub redundant: Vec<RedundantRoute>,
    /// Free-form settings for customers' guests.
    pub custom: Vec<(String, String)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            signing: Vec::new(),
            abr: Vec::new(),
            cmsd_load_threshold_permille: DEFAULT_CMSD_LOAD_THRESHOLD_PERMILLE,
            clock: ClockSource::Origin,
            stale: Vec::new(),
            ad_markers: Vec::new(),
            redundant: Vec::new(),
            custom: Vec::new(),
        }
    }
}

/// Names of the string form.
const SIGN: &str = "sign:";
const ABR: &str = "abr:";
const THRESHOLD: &str = "cmsd_load_threshold_permille";
const UTC_TIMING: &str = "utc_timing";
const STALE: &str = "stale:";
const AD_MARKERS: &str = "ad_markers:";
const REDUNDANT: &str = "redundant:";

impl Settings {
    /// The settings written as `pairs` in the string form (see the module's table).
    ///
    /// # Errors
    /// A one-line reason naming the first pair that does not hold a valid value.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, String> {
        let mut settings = Settings::default();
        for (name, value) in pairs {
            let value = value.trim();
            if let Some(prefix) = name.strip_prefix(SIGN) {
                settings.signing.push(SignedPrefix {
                    prefix: folder(name, prefix)?,
                    key: non_empty(name, value)?.to_owned(),
                });
            } else if let Some(prefix) = name.strip_prefix(ABR) {
                settings.abr.push(AbrRoute {
                    prefix: folder(name, prefix)?,
                    policy: AbrPolicy::parse(value)
                        .ok_or_else(|| format!("setting {name:?}: policy {value:?} is not cmcd"))?,
                });
            } else if let Some(prefix) = name.strip_prefix(STALE) {
                settings
                    .stale
                    .push(StaleRoute::parse(name, folder(name, prefix)?, value)?);
            } else if let Some(prefix) = name.strip_prefix(AD_MARKERS) {
                settings.ad_markers.push(AdMarkersRoute {
                    prefix: folder(name, prefix)?,
                    mode: AdMarkersMode::parse(value).ok_or_else(|| {
                        format!("setting {name:?}: {value:?} is not passthrough, daterange or none")
                    })?,
                });
            } else if let Some(serve) = name.strip_prefix(REDUNDANT) {
                settings
                    .redundant
                    .push(RedundantRoute::parse(name, serve.to_owned(), value)?);
            } else if name == THRESHOLD {
                settings.cmsd_load_threshold_permille = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("setting {name:?}: {value:?} is not 1-65535"))?;
            } else if name == UTC_TIMING {
                settings.clock = ClockSource::parse(value).ok_or_else(|| {
                    format!("setting {name:?}: {value:?} is not auto, off or an http(s) URL")
                })?;
            } else {
                settings.custom.push((name.clone(), value.to_owned()));
            }
        }
        RedundantRoute::check_all(&settings.redundant)?;
        Ok(settings)
    }

    /// The settings in the string form.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for s in &self.signing {
            pairs.push((format!("{SIGN}{}", s.prefix), s.key.clone()));
        }
        for r in &self.abr {
            pairs.push((format!("{ABR}{}", r.prefix), r.policy.name().to_owned()));
        }
        pairs.push((
            THRESHOLD.to_owned(),
            self.cmsd_load_threshold_permille.to_string(),
        ));
        pairs.push((UTC_TIMING.to_owned(), self.clock.written()));
        for r in &self.stale {
            pairs.push((
                format!("{STALE}{}", r.prefix),
                format!("{},{}", r.after_target_durations, r.status),
            ));
        }
        for r in &self.ad_markers {
            pairs.push((
                format!("{AD_MARKERS}{}", r.prefix),
                r.mode.name().to_owned(),
            ));
        }
        for r in &self.redundant {
            pairs.push((format!("{REDUNDANT}{}", r.serve), r.written()));
        }
        pairs.extend(self.custom.iter().cloned());
        pairs
    }
}

impl StaleRoute {
    /// The route of `prefix` written as `<target durations>[,<status>]`.
    fn parse(name: &str, prefix: String, value: &str) -> Result<Self, String> {
        let (after, status) = value.split_once(',').unwrap_or((value, "404"));
        let after_target_durations = after.trim().parse().map_err(|_| {
            format!("setting {name:?}: {after:?} is not a number of target durations")
        })?;
        let status = status
            .trim()
            .parse()
            .ok()
            .filter(|s| StaleRoute::valid_status(*s))
            .ok_or_else(|| format!("setting {name:?}: the status must be 404 or 5xx"))?;
        Ok(StaleRoute {
            prefix,
            after_target_durations,
            status,
        })
    }
}

impl AbrPolicy {
    /// The policy written as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        text.eq_ignore_ascii_case("cmcd").then_some(AbrPolicy::Cmcd)
    }

    /// Its written name.
    pub fn name(self) -> &'static str {
        match self {
            AbrPolicy::Cmcd => "cmcd",
        }
    }
}

impl AdMarkersMode {
    /// The mode written as `text` (any ASCII case).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Passthrough, Self::Daterange, Self::None]
            .into_iter()
            .find(|m| text.trim().eq_ignore_ascii_case(m.name()))
    }

    /// Its written name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Passthrough => "passthrough",
            Self::Daterange => "daterange",
            Self::None => "none",
        }
    }
}

impl ClockSource {
    /// The source written as `text`: `auto`, `off`, or an absolute `http(s)` URL.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") || text.is_empty() {
            Some(ClockSource::Origin)
        } else if text.eq_ignore_ascii_case("off") {
            Some(ClockSource::Off)
        } else if text.starts_with("http://") || text.starts_with("https://") {
            Some(ClockSource::Url(text.to_owned()))
        } else {
            None
        }
    }

    /// Its written form.
    pub fn written(&self) -> String {
        match self {
            ClockSource::Origin => "auto".into(),
            ClockSource::Off => "off".into(),
            ClockSource::Url(url) => url.clone(),
        }
    }
}

/// `prefix` if it is a folder of keys (ends with `/`, not `/` alone, no leading `/`).
fn folder(name: &str, prefix: &str) -> Result<String, String> {
    folder_only(prefix)
        .map(|()| prefix.to_owned())
        .map_err(|e| format!("setting {name:?}: the prefix {e}"))
}

/// Whether `prefix` is a folder of keys: ends with `/`, is not `/` alone, has no leading `/`.
///
/// # Errors
/// What a folder must look like.
pub fn folder_only(prefix: &str) -> Result<(), String> {
    if prefix.ends_with('/') && !prefix.starts_with('/') && prefix.len() > 1 {
        Ok(())
    } else {
        Err("must be a folder such as live/ (no leading '/', a trailing one)".into())
    }
}

fn non_empty<'a>(name: &str, value: &'a str) -> Result<&'a str, String> {
    if value.is_empty() {
        Err(format!("setting {name:?} is empty"))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_string_form_reads_into_types_and_back() {
        let written = pairs(&[
            ("sign:premium/", "k1"),
            ("abr:live/", "cmcd"),
            ("cmsd_load_threshold_permille", "700"),
            ("utc_timing", "https://time.example/iso"),
            ("stale:live/", "4,503"),
            ("stale:vod/", "0"),
            ("ad_markers:live/", "DateRange"),
            ("redundant:live/ch1/", "live/ch1-a/ live/ch1-b/ within=2.5"),
            ("tenant_flag", "on"),
        ]);
        let settings = Settings::from_pairs(&written).unwrap();
        assert_eq!(
            settings.signing,
            [SignedPrefix {
                prefix: "premium/".into(),
                key: "k1".into()
            }]
        );
        assert_eq!(settings.abr[0].policy, AbrPolicy::Cmcd);
        assert_eq!(settings.cmsd_load_threshold_permille, 700);
        assert_eq!(
            settings.clock,
            ClockSource::Url("https://time.example/iso".into())
        );
        assert_eq!(
            settings.stale,
            [
                StaleRoute {
                    prefix: "live/".into(),
                    after_target_durations: 4,
                    status: 503
                },
                StaleRoute {
                    prefix: "vod/".into(),
                    after_target_durations: 0,
                    status: 404
                }
            ]
        );
        assert_eq!(
            settings.ad_markers,
            [AdMarkersRoute {
                prefix: "live/".into(),
                mode: AdMarkersMode::Daterange
            }]
        );
        assert_eq!(
            settings.redundant,
            [RedundantRoute {
                serve: "live/ch1/".into(),
                inputs: vec!["live/ch1-a/".into(), "live/ch1-b/".into()],
                healthy_within_permille: 2500,
            }]
        );
        assert_eq!(settings.custom, pairs(&[("tenant_flag", "on")]));
        assert_eq!(
            Settings::from_pairs(&settings.to_pairs()).unwrap(),
            settings
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("sign:premium/", ""),
            ("sign:premium", "k"),
            ("abr:live/", "bola"),
            ("cmsd_load_threshold_permille", "lots"),
            ("utc_timing", "ntp://x"),
            ("stale:live/", "soon"),
            ("stale:live/", "3,200"),
            ("ad_markers:live/", "scte"),
            ("ad_markers:/", "none"),
            ("redundant:live/ch1/", "live/ch1-a/"),
            ("redundant:live/ch1/", "live/ch1-a/ live/ch1/b/"),
            ("redundant:live/ch1/", "live/ch1-a/ live/ch1-b"),
            ("redundant:live/ch1", "live/ch1-a/ live/ch1-b/"),
            ("redundant:live/ch1/", "live/ch1-a/ live/ch1-b/ within=0"),
        ] {
            let error = Settings::from_pairs(&pairs(&[(name, value)])).unwrap_err();
            assert!(error.contains(name), "{error}");
        }
        assert_eq!(Settings::from_pairs(&[]).unwrap(), Settings::default());
    }

    #[test]
    fn redundant_routes_must_stay_apart() {
        let route = |serve: &str, inputs: &[&str]| RedundantRoute {
            serve: serve.into(),
            inputs: inputs.iter().map(|i| (*i).to_owned()).collect(),
            healthy_within_permille: DEFAULT_HEALTHY_WITHIN_PERMILLE,
        };
        let one = route("ch1/", &["in/a/", "in/b/"]);
        assert_eq!(
            RedundantRoute::check_all(std::slice::from_ref(&one)),
            Ok(())
        );
        for (bad, named) in [
            (route("ch1/", &["in/a/", "in/a/"]), "overlap"),
            (route("ch1/", &["in/", "in/b/"]), "overlap"),
            (route("ch1/", &[]), "at least two"),
            (route("/ch1/", &["in/a/", "in/b/"]), "folder"),
        ] {
            let error = bad.check().unwrap_err();
            assert!(error.contains(named), "{error}");
        }
        let error =
            RedundantRoute::check_all(&[one, route("ch2/", &["in/b/", "in/c/"])]).unwrap_err();
        assert!(error.contains("\"in/b/\""), "{error}");
        assert_eq!(permille("1.5"), Some(1500));
        assert_eq!(permille("-1"), None);
        assert_eq!(permille("NaN"), None);
    }
}
