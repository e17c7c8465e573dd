//! DASH MPDs (ISO/IEC 23009-1): an XML tree that keeps every element, attribute, comment and namespace it
//! does not understand, and the MPD views the origin needs.
//!
//! Parsing uses `quick-xml` (a streaming tokenizer, small in Wasm) into a generic tree rather than a typed
//! MPD model (`dash-mpd`): a typed model drops vendor elements and namespaced extensions (`cenc:pssh`,
//! `scte35:*`) on the way back out, and an origin must pass them through.

pub mod mpd;
pub mod xml;

pub use mpd::Mpd;
pub use xml::{Element, Node, XmlError};
