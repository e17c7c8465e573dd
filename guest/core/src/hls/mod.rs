//! HLS playlists (RFC 8216bis): a parser and writer that keep every line, and the views the origin needs.
//!
//! Hand-written rather than taken from a crate: the Rust HLS crates (`m3u8-rs`, `hls_m3u8`) parse into typed
//! models that reorder, normalise or reject tags and attributes they do not know, so a playlist would not
//! survive a round trip. An origin must pass vendor tags (SCTE-35 cues, `EXT-X-CUE-OUT`, DRM hints, LL-HLS
//! additions newer than the parser) through untouched. Here a playlist is its lines; typed views
//! ([`media`], [`attributes`]) are read on demand and edits replace whole lines.

pub mod attributes;
pub mod daterange;
pub mod media;
pub mod playlist;

pub use playlist::{Kind, Line, ParseError, Playlist, Tag};
