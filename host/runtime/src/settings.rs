//! Which of the operator's settings each handler receives.
//!
//! A signed prefix, an ABR route, a stale-playlist route, an ad-marker route, a redundant route (by its
//! `serve`) and a custom setting named `<kind>:<prefix>` belong to the guest that serves their prefix: the
//! namespaced handler with the longest namespace the prefix lies in, else `origin`,
//! which serves every key outside namespaces. Each goes to exactly one guest, so a tenant can never read
//! (and mint signed URLs with) the signing key of a prefix it does not serve, not even one nested inside its
//! own namespace but served by another. Custom settings without a prefix are `origin`'s. The operator-wide,
//! non-secret settings (the CMSD load threshold, the clock source) go to every handler.

use strata_abi::settings::Settings;

/// The settings the handler confined to `namespace` (`None`: `origin`) owns, when the live namespaced
/// handlers are `namespaces`.
pub fn settings_for(settings: &Settings, namespace: Option<&str>, namespaces: &[&str]) -> Settings {
    let owns = |prefix: Option<&str>| owner(prefix, namespaces) == namespace;
    Settings {
        signing: settings
            .signing
            .iter()
            .filter(|s| owns(Some(&s.prefix)))
            .cloned()
            .collect(),
        abr: settings
            .abr
            .iter()
            .filter(|r| owns(Some(&r.prefix)))
            .cloned()
            .collect(),
        cmsd_load_threshold_permille: settings.cmsd_load_threshold_permille,
        clock: settings.clock.clone(),
        stale: settings
            .stale
            .iter()
            .filter(|r| owns(Some(&r.prefix)))
            .cloned()
            .collect(),
        ad_markers: settings
            .ad_markers
            .iter()
            .filter(|r| owns(Some(&r.prefix)))
            .cloned()
            .collect(),
        redundant: settings
            .redundant
            .iter()
            .filter(|r| owns(Some(&r.serve)))
            .cloned()
            .collect(),
        custom: settings
            .custom
            .iter()
            .filter(|(name, _)| owns(name.split_once(':').map(|(_, prefix)| prefix)))
            .cloned()
            .collect(),
    }
}

/// The namespace that owns `prefix` among `namespaces` (`None`: `origin`, also for no prefix at all).
fn owner<'a>(prefix: Option<&str>, namespaces: &[&'a str]) -> Option<&'a str> {
    let prefix = prefix?;
    namespaces
        .iter()
        .filter(|ns| prefix.starts_with(**ns))
        .max_by_key(|ns| ns.len())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Settings {
        let pairs: Vec<(String, String)> = [
            ("sign:premium/", "k1"),
            ("sign:tenant/vip/", "k2"),
            ("abr:tenant/", "cmcd"),
            ("ad_markers:tenant/live/", "daterange"),
            ("ad_markers:live/", "none"),
            ("cmsd_load_threshold_permille", "700"),
            ("sign:tenantx/", "k3"),
            ("token:tenant/", "t"),
            ("flag", "on"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Settings::from_pairs(&pairs).unwrap()
    }

    fn signing(settings: &Settings) -> Vec<&str> {
        settings.signing.iter().map(|s| s.prefix.as_str()).collect()
    }

    #[test]
    fn each_setting_goes_to_the_guest_serving_its_prefix() {
        let tenant = settings_for(&all(), Some("tenant/"), &["tenant/"]);
        assert_eq!(signing(&tenant), ["tenant/vip/"]);
        assert_eq!(tenant.abr.len(), 1);
        assert_eq!(tenant.ad_markers.len(), 1);
        assert_eq!(tenant.ad_markers[0].prefix, "tenant/live/");
        assert_eq!(
            tenant.custom,
            [("token:tenant/".to_owned(), "t".to_owned())]
        );
        assert_eq!(tenant.cmsd_load_threshold_permille, 700);
        let origin = settings_for(&all(), None, &["tenant/"]);
        assert_eq!(signing(&origin), ["premium/", "tenantx/"]);
        assert!(origin.abr.is_empty());
        assert_eq!(origin.ad_markers.len(), 1);
        assert_eq!(origin.ad_markers[0].prefix, "live/");
        assert_eq!(origin.custom, [("flag".to_owned(), "on".to_owned())]);
        assert_eq!(settings_for(&all(), None, &[]), all());
    }

    #[test]
    fn a_nested_namespace_owns_its_prefixes() {
        let namespaces = ["tenant/", "tenant/vip/"];
        assert!(signing(&settings_for(&all(), Some("tenant/"), &namespaces)).is_empty());
        assert_eq!(
            signing(&settings_for(&all(), Some("tenant/vip/"), &namespaces)),
            ["tenant/vip/"]
        );
    }
}
