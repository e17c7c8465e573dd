//! What a decision may read of other playlists on behalf of one request: the playlist naming a segment
//! ([`crate::naming_playlist`]), the multivariant playlist and siblings of an LL-HLS rendition
//! ([`crate::llhls`]). Anyone can send such a request (a GET of a missing segment is anonymous), so each
//! lookup reads at most [`MAX_READS`] playlists and [`MAX_BYTES`] in all, whatever the folder holds: a
//! folder of a hundred 1 MiB playlists costs one request a few small reads, not 100 MiB of copying.

use crate::objects::Objects;

/// Most playlists one lookup reads (or tries to: a refused read counts).
pub const MAX_READS: u32 = 8;

/// Most bytes one lookup reads, all playlists together.
pub const MAX_BYTES: u64 = 1 << 20;

/// Largest single playlist a lookup reads; larger ones are skipped (a live playlist is a few KiB, an
/// LL-HLS one with hundreds of parts tens of KiB).
pub const MAX_PLAYLIST_BYTES: u64 = 256 << 10;

/// The reads and bytes left to one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupBudget {
    reads: u32,
    bytes: u64,
}

impl Default for LookupBudget {
    fn default() -> Self {
        LookupBudget {
            reads: MAX_READS,
            bytes: MAX_BYTES,
        }
    }
}

impl LookupBudget {
    /// The bytes of playlist `key` if the budget allows a read and the playlist fits in what is left;
    /// `None` otherwise (missing, too large, or the budget spent).
    pub fn read(&mut self, store: &impl Objects, key: &str) -> Option<Vec<u8>> {
        if self.reads == 0 {
            return None;
        }
        self.reads -= 1;
        let bytes = store.read(key, self.bytes.min(MAX_PLAYLIST_BYTES)).ok()?;
        self.bytes = self.bytes.saturating_sub(bytes.len() as u64);
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::MemStore;

    #[test]
    fn reads_stop_at_the_count_and_byte_limits() {
        let mut store = MemStore::default();
        for i in 0..20 {
            store = store.with(&format!("live/{i:02}.m3u8"), &vec![b'#'; 200 << 10]);
        }
        store = store.with(
            "live/big.m3u8",
            &vec![b'#'; (MAX_PLAYLIST_BYTES + 1) as usize],
        );
        let mut budget = LookupBudget::default();
        assert!(budget.read(&store, "live/big.m3u8").is_none());
        let read = (0..20)
            .filter_map(|i| budget.read(&store, &format!("live/{i:02}.m3u8")))
            .count();
        // 1 MiB holds five 200 KiB playlists.
        assert_eq!(read, 5);
        let mut counted = LookupBudget::default();
        let tries = (0..20)
            .filter(|i| {
                counted
                    .read(&store, &format!("live/missing{i}.m3u8"))
                    .is_none()
            })
            .count();
        assert_eq!(tries, 20);
        assert!(
            counted.read(&store, "live/00.m3u8").is_none(),
            "the reads are spent"
        );
    }
}
