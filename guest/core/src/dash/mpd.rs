//! The MPD views the origin needs: static or dynamic, update period, and each Representation's effective
//! properties (its own attributes over its AdaptationSet's).

use super::xml::{Document, Element, Node, XmlError, local};
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

    /// Whether the MPD names a clock source (`UTCTiming`).
    pub fn has_utc_timing(&self) -> bool {
        self.doc.root.child("UTCTiming").is_some()
    }

    /// Appends `<UTCTiming schemeIdUri=scheme value=value/>` as the MPD's last child (where ISO/IEC 23009-1
    /// places it), indented like the MPD's other children and in the root's namespace prefix.
    pub fn add_utc_timing(&mut self, scheme: &str, value: &str) {
        let root = &mut self.doc.root;
        let prefix = root.name.rsplit_once(':').map(|(p, _)| format!("{p}:"));
        let mut timing = Element {
            name: format!("{}UTCTiming", prefix.unwrap_or_default()),
            ..Element::default()
        };
        timing.set_attr("schemeIdUri", scheme);
        timing.set_attr("value", value);
        let indent = match root.children.first() {
            Some(Node::Text(t)) if t.trim().is_empty() => Some(t.clone()),
            _ => None,
        };
        let at = match root.children.last() {
            Some(Node::Text(t)) if t.trim().is_empty() => root.children.len() - 1,
            _ => root.children.len(),
        };
        root.children.insert(at, Node::Element(timing));
        if let Some(indent) = indent {
            root.children.insert(at, Node::Text(indent));
        }
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
    fn a_clock_source_is_appended_in_the_mpds_style() {
        let mut m =
            Mpd::parse("<?xml version=\"1.0\"?>\n<MPD type=\"dynamic\">\n  <Period/>\n</MPD>\n")
                .unwrap();
        assert!(!m.has_utc_timing());
        m.add_utc_timing(
            "urn:mpeg:dash:utc:http-iso:2014",
            "//o.example/_strata/time",
        );
        assert!(m.has_utc_timing());
        assert_eq!(
            m.write(),
            "<?xml version=\"1.0\"?>\n<MPD type=\"dynamic\">\n  <Period/>\n  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"//o.example/_strata/time\"/>\n</MPD>\n"
        );
        let mut prefixed =
            Mpd::parse("<m:MPD xmlns:m=\"urn:mpeg:dash:schema:mpd:2011\"/>").unwrap();
        prefixed.add_utc_timing("s", "v");
        assert!(
            prefixed
                .write()
                .contains("<m:UTCTiming schemeIdUri=\"s\" value=\"v\"/>")
        );
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
