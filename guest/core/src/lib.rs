//! Strata's default request decisions, in plain Rust: no WIT, no Wasm, no host.
//!
//! The host carries out *outcomes*; this crate decides them. [`decide`] takes the head of a data-plane
//! request and read access to the stored objects ([`objects::Objects`]) and answers with an
//! [`types::Outcome`]: write a small response, stream a stored object, store the body, delete, or park and
//! ask again. Request bodies and segment bytes never pass through here.
//!
//! How the crate is organised, one concern per module:
//! - [`types`] (from `strata-abi`), [`objects`]: the plain mirror of the WIT types and the storage a
//!   decision may consult.
//! - [`handler`]: method dispatch, the entry point [`decide`].
//! - [`media_type`]: extension → Content-Type and object class.
//! - [`cache_control`]: the default Cache-Control per object class.
//! - [`cors`]: CORS headers and the preflight answer.
//! - [`conditional`]: `If-None-Match`, `If-Modified-Since`, `If-Range`.
//! - [`range`]: the `Range` header.
//! - [`http_date`]: HTTP-date formatting and parsing over Unix seconds.
//! - [`response`]: the shapes of small responses (errors, 204, 304).
//! - [`segment_wait`]: park a request for a segment a stored playlist names but whose upload has not begun.
//! - [`naming_playlist`]: the playlist in a segment's folder that names it (waits, CMSD `d`/`br`).
//! - [`lookup_budget`]: the bound on what one request may read of other playlists.
//! - [`ttl`]: the per-object lifetime an upload asks for.
//! - [`hls`], [`dash`]: playlist and MPD parsing and writing that keep what they do not understand.
//! - [`manifest`]: GET of a playlist or MPD: rewrites, Cache-Control by content, CMSD-Static.
//! - [`cmcd`], [`cmsd`]: what players tell the origin, and what the origin tells them.
//! - [`prefetch`]: the next object a player announced (CMCD `nor`), for the host to warm.
//! - [`abr`]: CMCD-driven capping and ordering of variants, on routes that ask for it.
//! - [`filter`]: MediaPackage-compatible `aws.manifestfilter` on multivariant playlists and MPDs.
//! - [`time_shift`]: MediaPackage-compatible start/end/delay/window views of live HLS media playlists.
//! - [`signing`]: HMAC-SHA256 signed URLs on configured prefixes, carried into child URIs.
//! - [`query`]: query-string parameters.
//! - [`iso8601`]: date-times and durations as playlists and query parameters write them.
//! - [`llhls`]: LL-HLS blocking playlist reload, delta updates, rendition reports and their caching.
//! - [`utc_timing`]: the clock source live MPDs name for players.
//! - [`reuse`]: whether the host may replay a decision, and what it depends on.
//! - [`ad_markers`]: ad markers passed through, converted to `EXT-X-DATERANGE`, or removed, per route.
//! - [`redundant`]: channels served from the healthiest of several encoders' folders (`[[live.redundant]]`).
//! - [`stale`]: live playlists whose encoder stopped updating them answer 404 (or a 5xx) for CDN failover.

pub mod abr;
pub mod ad_markers;
pub mod cache_control;
pub mod cmcd;
pub mod cmsd;
pub mod conditional;
pub mod cors;
pub mod dash;
pub mod filter;
pub mod handler;
pub mod hls;
pub mod http_date;
pub mod iso8601;
pub mod llhls;
pub mod lookup_budget;
pub mod manifest;
pub mod media_type;
pub mod naming_playlist;
pub mod objects;
pub mod prefetch;
/// Query-string parameters, shared with the host (`strata_abi::query`).
pub use strata_abi::query;
pub mod range;
pub mod redundant;
pub mod response;
pub mod reuse;
pub mod segment_wait;
pub mod signing;
pub mod stale;
pub mod time_shift;
pub mod ttl;
pub mod utc_timing;

pub use strata_abi::types;

#[cfg(test)]
mod test_support;

pub use handler::decide;
