//! Which of the operator's `[guest.settings]` a handler receives.
//!
//! Settings named `<kind>:<prefix>` (`sign:premium/`, `abr:live/`) belong to the guest that serves that
//! prefix. `origin`, which serves every path outside namespaces, receives them all; a namespaced tenant
//! handler receives only those whose prefix lies inside its namespace, so it can never read (and mint
//! signed URLs with) a signing key of another prefix. Settings without a prefix are the operator's to
//! `origin` alone.

use std::collections::BTreeMap;

/// The settings a handler confined to `namespace` (none for `origin`) may see, in name order.
pub fn settings_for(
    settings: &BTreeMap<String, String>,
    namespace: Option<&str>,
) -> Vec<(String, String)> {
    settings
        .iter()
        .filter(|(name, _)| namespace.is_none_or(|ns| owned_by(name, ns)))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Whether setting `name` is scoped to a prefix inside namespace `ns`.
fn owned_by(name: &str, ns: &str) -> bool {
    name.split_once(':')
        .is_some_and(|(_, prefix)| prefix.starts_with(ns))
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

    #[test]
    fn origin_gets_everything() {
        assert_eq!(settings_for(&all(), None).len(), 5);
    }

    #[test]
    fn a_tenant_gets_only_what_lies_in_its_namespace() {
        let names: Vec<String> = settings_for(&all(), Some("tenant/"))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["abr:tenant/", "sign:tenant/vip/"]);
    }
}
