//! The MPD views the origin needs: static or dynamic, update period, and each Representation's effective
//! properties (its own attributes over its AdaptationSet's).

use super::xml::{Document, Element, XmlError, local};
use crate::iso8601;

/// A parsed MPD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mpd {
    /// The whole document, everything kept.
    pub doc: Document,
}

impl Mpd {
    /// Parses an MPD.
    ///
    /// # Errors
    /// [`XmlError`] when the text is not well-formed XML or its root is not `MPD`.
    pub fn parse(text: &str) -> Result<Self, XmlError> {
        let doc = Document::parse(text)?;
        if local(&doc.root.name) != "MPD" {
            return Err(XmlError::Structure("root element is not MPD"));
        }
        Ok(Self { doc })
    }

    /// Parses MPD bytes.
    ///
    /// # Errors
    /// As [`Mpd::parse`], and when the bytes are not UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, XmlError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| XmlError::Structure("MPD is not UTF-8"))?;
        Self::parse(text)
    }

    /// The MPD's text.
    pub fn write(&self) -> String {
        self.doc.write()
    }

    /// Whether `MPD@type` is `dynamic` (live); static is the default.
    pub fn is_dynamic(&self) -> bool {
        self.doc
            .root
            .attr("type")
            .is_some_and(|t| t.trim() == "dynamic")
    }

    /// `MPD@minimumUpdatePeriod`, in seconds.
    pub fn minimum_update_period_s(&self) -> Option<f64> {
        self.doc
            .root
            .attr("minimumUpdatePeriod")
            .and_then(|d| iso8601::parse_duration_s(&d))
    }

    /// `MPD@maxSegmentDuration`, in seconds.
    pub fn max_segment_duration_s(&self) -> Option<f64> {
        self.doc
            .root
            .attr("maxSegmentDuration")
            .and_then(|d| iso8601::parse_duration_s(&d))
    }
}

/// The value of attribute `name` on the Representation, else on its AdaptationSet.
pub fn inherited(set: &Element, rep: &Element, name: &str) -> Option<String> {
    rep.attr(name).or_else(|| set.attr(name))
}

/// `@value` of the first descriptor element `element` (on the Representation, else the AdaptationSet)
/// whose `@schemeIdUri` is `scheme`.
pub fn descriptor(set: &Element, rep: &Element, element: &str, scheme: &str) -> Option<String> {
    [rep, set].into_iter().find_map(|e| {
        e.children_named(element)
            .find(|d| {
                d.attr("schemeIdUri")
                    .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            })
            .map(|d| d.attr("value").unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_properties() {
        let m = Mpd::parse(
            r#"<MPD type="dynamic" minimumUpdatePeriod="PT2S" maxSegmentDuration="PT4S"><Period/></MPD>"#,
        )
        .unwrap();
        assert!(m.is_dynamic());
        assert_eq!(m.minimum_update_period_s(), Some(2.0));
        assert_eq!(m.max_segment_duration_s(), Some(4.0));
        let m = Mpd::parse("<MPD/>").unwrap();
        assert!(!m.is_dynamic());
        assert!(Mpd::parse("<html/>").is_err());
    }

    #[test]
    fn representation_inherits_from_set() {
        let m = Mpd::parse(
            r#"<MPD><Period><AdaptationSet mimeType="video/mp4" codecs="avc1.64001f"><EssentialProperty schemeIdUri="x" value="1"/><Representation id="v" codecs="hvc1"/></AdaptationSet></Period></MPD>"#,
        )
        .unwrap();
        let set = m
            .doc
            .root
            .child("Period")
            .unwrap()
            .child("AdaptationSet")
            .unwrap();
        let rep = set.child("Representation").unwrap();
        assert_eq!(inherited(set, rep, "codecs").as_deref(), Some("hvc1"));
        assert_eq!(
            inherited(set, rep, "mimeType").as_deref(),
            Some("video/mp4")
        );
        assert_eq!(
            descriptor(set, rep, "EssentialProperty", "X").as_deref(),
            Some("1")
        );
        assert_eq!(descriptor(set, rep, "EssentialProperty", "y"), None);
    }
}
