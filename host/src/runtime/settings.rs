//! Which of the operator's `[guest.settings]` each handler receives.
//!
//! A setting named `<kind>:<prefix>` (`sign:premium/`, `abr:live/`) belongs to the guest that serves
//! `<prefix>`: the namespaced handler with the longest namespace `<prefix>` lies in, else `origin`, which
//! serves every key outside namespaces. Settings without a prefix are the operator's to `origin`. Each
//! setting goes to exactly one guest, so a tenant can never read (and mint signed URLs with) the signing key
//! of a prefix it does not serve, not even one nested inside its own namespace but served by another.

use std::collections::BTreeMap;

/// The settings the handler confined to `namespace` (`None`: `origin`) owns, in name order, when the
/// live namespaced handlers are `namespaces`.
pub fn settings_for(
    settings: &BTreeMap<String, String>,
    namespace: Option<&str>,
    namespaces: &[&str],
) -> Vec<(String, String)> {
    settings
        .iter()
        .filter(|(name, _)| owner(name, namespaces) == namespace)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The namespace that owns setting `name` among `namespaces` (`None`: `origin`).
fn owner<'a>(name: &str, namespaces: &[&'a str]) -> Option<&'a str> {
    let (_, prefix) = name.split_once(':')?;
    namespaces
        .iter()
        .filter(|ns| prefix.starts_with(**ns))
        .max_by_key(|ns| ns.len())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> BTreeMap<String, String> {
        [
            ("sign:premium/", "k1"),
            ("sign:tenant/vip/", "k2"),
            ("abr:tenant/", "cmcd"),
            ("cmsd_load_threshold_permille", "800"),
            ("sign:tenantx/", "k3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn names(settings: Vec<(String, String)>) -> Vec<String> {
        settings.into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn each_setting_goes_to_the_guest_serving_its_prefix() {
        assert_eq!(
            names(settings_for(&all(), Some("tenant/"), &["tenant/"])),
            ["abr:tenant/", "sign:tenant/vip/"]
        );
        assert_eq!(
            names(settings_for(&all(), None, &["tenant/"])),
            [
                "cmsd_load_threshold_permille",
                "sign:premium/",
                "sign:tenantx/"
            ]
        );
        assert_eq!(settings_for(&all(), None, &[]).len(), 5);
    }

    #[test]
    fn a_nested_namespace_owns_its_prefixes() {
        let namespaces = ["tenant/", "tenant/vip/"];
        assert_eq!(
            names(settings_for(&all(), Some("tenant/"), &namespaces)),
            ["abr:tenant/"]
        );
        assert_eq!(
            names(settings_for(&all(), Some("tenant/vip/"), &namespaces)),
            ["sign:tenant/vip/"]
        );
    }
}
