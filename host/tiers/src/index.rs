//! The index: key → metadata of its current version, ordered for prefix listing, with a side set of the keys
//! guests look for among thousands of segments (playlists and MPDs, [`LISTED_SUFFIXES`]), so finding a
//! folder's playlists costs what the folder's playlists cost, not what its segments do.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use super::meta::ObjectMeta;

/// Key endings kept in the side set (compared ASCII case-insensitively): HLS playlists and DASH MPDs.
pub const LISTED_SUFFIXES: &[&str] = &[".m3u8", ".mpd"];

/// Current versions by key.
#[derive(Debug, Default)]
pub struct Index {
    objects: BTreeMap<String, Arc<ObjectMeta>>,
    listed: BTreeSet<String>,
}

impl Index {
    /// The current version of `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<ObjectMeta>> {
        self.objects.get(key)
    }

    /// Makes `meta` current for its key; returns the version it replaced.
    pub fn insert(&mut self, meta: Arc<ObjectMeta>) -> Option<Arc<ObjectMeta>> {
        if ends_with_any(&meta.key, LISTED_SUFFIXES) {
            self.listed.insert(meta.key.clone());
        }
        self.objects.insert(meta.key.clone(), meta)
    }

    /// Removes `key`; returns the version removed.
    pub fn remove(&mut self, key: &str) -> Option<Arc<ObjectMeta>> {
        self.listed.remove(key);
        self.objects.remove(key)
    }

    /// How many keys are indexed.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Every current version.
    pub fn values(&self) -> impl Iterator<Item = &Arc<ObjectMeta>> {
        self.objects.values()
    }

    /// Up to `limit` keys starting with `prefix`, in lexical order.
    pub fn list(&self, prefix: &str, limit: usize) -> Vec<String> {
        self.keys_under(prefix).take(limit).cloned().collect()
    }

    /// The keys starting with `prefix`, in order.
    fn keys_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.objects
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(key, _)| key)
            .take_while(move |key| key.starts_with(prefix))
    }

    /// The side set's keys starting with `prefix`, in order.
    fn listed_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.listed
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |key| key.starts_with(prefix))
    }

    /// Up to `limit` keys starting with `prefix` and ending with one of `suffixes` (ASCII
    /// case-insensitive), in lexical order, looking at no more than `scan` keys. When every suffix is a
    /// [`LISTED_SUFFIXES`] one, only the side set is looked at.
    pub fn list_ending(
        &self,
        prefix: &str,
        suffixes: &[String],
        limit: usize,
        scan: usize,
    ) -> Vec<String> {
        let listed = suffixes
            .iter()
            .all(|s| LISTED_SUFFIXES.iter().any(|l| l.eq_ignore_ascii_case(s)));
        let suffixes: Vec<&str> = suffixes.iter().map(String::as_str).collect();
        let pick = |keys: &mut dyn Iterator<Item = &String>| -> Vec<String> {
            keys.take(scan)
                .filter(|key| ends_with_any(key, &suffixes))
                .take(limit)
                .cloned()
                .collect()
        };
        if listed {
            pick(&mut self.listed_under(prefix))
        } else {
            pick(&mut self.keys_under(prefix))
        }
    }
}

/// Whether `key` ends with one of `suffixes`, ASCII case-insensitively.
fn ends_with_any(key: &str, suffixes: &[&str]) -> bool {
    suffixes.iter().any(|suffix| {
        key.len() >= suffix.len()
            && key.as_bytes()[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::Placement;

    fn meta(key: &str) -> Arc<ObjectMeta> {
        Arc::new(ObjectMeta {
            key: key.into(),
            size: 1,
            content_type: String::new(),
            etag: "\"e\"".into(),
            last_modified: 0,
            cache_control: None,
            metadata: Vec::new(),
            seq: 1,
            placement: Placement::Durable,
            expires_at: None,
            complete: true,
        })
    }

    #[test]
    fn playlists_are_found_without_scanning_segments() {
        let mut index = Index::default();
        for i in 0..1000 {
            index.insert(meta(&format!("live/seg{i:04}.ts")));
        }
        index.insert(meta("live/index.M3U8"));
        index.insert(meta("live/sub/manifest.mpd"));
        index.insert(meta("vod/index.m3u8"));
        let playlists = [".m3u8".to_owned(), ".mpd".to_owned()];
        // A scan of 2 keys would see only segments in the main index; the side set holds only playlists.
        assert_eq!(
            index.list_ending("live/", &playlists, 10, 2),
            ["live/index.M3U8", "live/sub/manifest.mpd"]
        );
        assert_eq!(
            index.list_ending("live/", &[".ts".to_owned()], 3, 1000),
            ["live/seg0000.ts", "live/seg0001.ts", "live/seg0002.ts"]
        );
        index.remove("live/index.M3U8");
        assert_eq!(
            index.list_ending("live/", &playlists, 10, 10),
            ["live/sub/manifest.mpd"]
        );
        assert_eq!(index.list("vod/", 10), ["vod/index.m3u8"]);
    }
}
