//! A generic XML tree that writes back what it read: element and attribute order, raw attribute values and
//! text (entities left escaped), comments, processing instructions, CDATA and the declaration.

use quick_xml::Reader;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesStart, Event};
use thiserror::Error;

/// Why text is not a well-formed XML document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    /// The tokenizer refused it; carries its one-line reason and the byte offset.
    #[error("malformed XML at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the problem.
        offset: u64,
        /// What quick-xml reported.
        reason: String,
    },
    /// The document has no root element, or an element is not closed.
    #[error("malformed XML: {0}")]
    Structure(&'static str),
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("XML nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
}

/// Deepest nesting accepted; real MPDs nest about eight deep, and a bound keeps hostile input from
/// exhausting the guest's stack when the tree is written or dropped.
pub const MAX_DEPTH: usize = 64;

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data as written, entities still escaped.
    Text(String),
    /// Markup kept verbatim: comments, processing instructions, CDATA, the declaration, a doctype.
    Raw(String),
}

/// One element: its name, attributes (values as written, escaped) and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Qualified name, prefix included (`cenc:pssh`).
    pub name: String,
    /// `(name, escaped value)` pairs in order.
    pub attributes: Vec<(String, String)>,
    /// Child nodes in order.
    pub children: Vec<Node>,
}

impl Element {
    /// The unescaped value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| unescape(v).map_or_else(|_| v.clone(), |c| c.into_owned()))
    }

    /// Sets attribute `name` to `value` (escaped here), in place if present, else at the end.
    pub fn set_attr(&mut self, name: &str, value: &str) {
        let value = escape(value).into_owned();
        match self.attributes.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = value,
            None => self.attributes.push((name.to_string(), value)),
        }
    }

    /// Child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Child elements named `name` (local name, any prefix).
    pub fn children_named<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a Element> + use<'a, 'n> {
        self.elements().filter(move |e| local(&e.name) == name)
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children_named(name).next()
    }

    /// Calls `f` on each child element named `name`, mutably.
    pub fn for_each_child_mut(&mut self, name: &str, mut f: impl FnMut(&mut Element)) {
        for n in &mut self.children {
            if let Node::Element(e) = n
                && local(&e.name) == name
            {
                f(e);
            }
        }
    }

    /// Removes the child elements named `name` for which `keep` is false (and the whitespace before each).
    pub fn retain_children(&mut self, name: &str, mut keep: impl FnMut(&Element) -> bool) {
        let mut out: Vec<Node> = Vec::with_capacity(self.children.len());
        for n in self.children.drain(..) {
            if let Node::Element(e) = &n
                && local(&e.name) == name
                && !keep(e)
            {
                if matches!(out.last(), Some(Node::Text(t)) if t.trim().is_empty()) {
                    out.pop();
                }
                continue;
            }
            out.push(n);
        }
        self.children = out;
    }
}

/// The local part of a qualified name.
pub fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// A parsed document: what precedes the root (declaration, comments), the root, and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Nodes before the root element.
    pub prolog: Vec<Node>,
    /// The root element.
    pub root: Element,
    /// Nodes after the root element.
    pub epilog: Vec<Node>,
}

impl Document {
    /// Parses a document.
    ///
    /// # Errors
    /// [`XmlError`] when it is not well-formed, has no root, or nests deeper than [`MAX_DEPTH`].
    pub fn parse(text: &str) -> Result<Self, XmlError> {
        // quick-xml drops one leading byte-order mark; dropping them all here keeps a second one from
        // becoming prolog text that the next parse would drop, so writing stays stable.
        let text = text.trim_start_matches('\u{feff}');
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Element> = Vec::new();
        let (mut prolog, mut epilog, mut root) = (Vec::new(), Vec::new(), None);
        loop {
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                offset: reader.error_position(),
                reason: e.to_string(),
            })?;
            let node = match event {
                Event::Eof => break,
                Event::Start(s) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError::TooDeep);
                    }
                    stack.push(element(&s)?);
                    continue;
                }
                Event::End(_) => {
                    let done = stack
                        .pop()
                        .ok_or(XmlError::Structure("unexpected end tag"))?;
                    Node::Element(done)
                }
                Event::Empty(s) => Node::Element(element(&s)?),
                Event::Text(t) => Node::Text(t.as_ref().to_string()),
                Event::GeneralRef(r) => Node::Text(format!("&{};", r.as_ref())),
                Event::CData(c) => Node::Raw(format!("<![CDATA[{}]]>", c.as_ref())),
                Event::Comment(c) => Node::Raw(format!("<!--{}-->", c.as_ref())),
                Event::Decl(d) => Node::Raw(format!("<?{}?>", d.as_ref())),
                Event::PI(p) => Node::Raw(format!("<?{}?>", p.as_ref())),
                Event::DocType(d) => Node::Raw(format!("<!DOCTYPE {}>", d.as_ref())),
            };
            match (stack.last_mut(), node) {
                (Some(parent), node) => push(&mut parent.children, node),
                (None, Node::Element(e)) if root.is_none() => root = Some(e),
                (None, Node::Element(_)) => {
                    return Err(XmlError::Structure("more than one root element"));
                }
                (None, node) if root.is_none() => push(&mut prolog, node),
                (None, node) => push(&mut epilog, node),
            }
        }
        if !stack.is_empty() {
            return Err(XmlError::Structure("element not closed"));
        }
        let root = root.ok_or(XmlError::Structure("no root element"))?;
        Ok(Self {
            prolog,
            root,
            epilog,
        })
    }

    /// The document's text.
    pub fn write(&self) -> String {
        let mut out = String::new();
        for n in &self.prolog {
            write_node(n, &mut out);
        }
        write_element(&self.root, &mut out);
        for n in &self.epilog {
            write_node(n, &mut out);
        }
        out
    }
}

/// Appends `node`, merging adjacent text (the tokenizer splits text at entity references).
fn push(nodes: &mut Vec<Node>, node: Node) {
    if let (Some(Node::Text(prev)), Node::Text(t)) = (nodes.last_mut(), &node) {
        prev.push_str(t);
    } else {
        nodes.push(node);
    }
}

/// An element with no children yet, from its start tag.
fn element(start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let mut attributes = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| XmlError::Malformed {
            offset: 0,
            reason: e.to_string(),
        })?;
        attributes.push((a.key.as_ref().to_string(), a.value.into_owned()));
    }
    let name = start.name().as_ref().to_string();
    // The tokenizer lets `< />` through with an empty name; it could not be written back.
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
    {
        return Err(XmlError::Structure("element without a valid name"));
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
    })
}

fn write_node(node: &Node, out: &mut String) {
    match node {
        Node::Element(e) => write_element(e, out),
        Node::Text(t) | Node::Raw(t) => out.push_str(t),
    }
}

fn write_element(e: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for (n, v) in &e.attributes {
        // A value holding `"` was single-quoted in the source; keep it valid.
        let q = if v.contains('"') { '\'' } else { '"' };
        out.push(' ');
        out.push_str(n);
        out.push('=');
        out.push(q);
        out.push_str(v);
        out.push(q);
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        write_node(c, out);
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- generated -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" type="static">
  <Period id="p0">
    <cenc:pssh>AAAA&amp;</cenc:pssh>
    <Vendor x='a "quoted" value'><![CDATA[raw <stuff>]]></Vendor>
    <BaseURL>http://cdn.example/a?x=1&amp;y=2</BaseURL>
  </Period>
</MPD>
"#;

    #[test]
    fn round_trip_is_exact_for_tidy_documents() {
        let d = Document::parse(DOC).unwrap();
        assert_eq!(d.write(), DOC);
        let period = d.root.child("Period").unwrap();
        assert_eq!(period.attr("id").as_deref(), Some("p0"));
        assert_eq!(period.child("pssh").unwrap().name, "cenc:pssh");
        assert_eq!(
            period.child("Vendor").unwrap().attr("x").as_deref(),
            Some("a \"quoted\" value")
        );
    }

    #[test]
    fn retain_removes_element_and_its_indent() {
        let mut d = Document::parse("<a>\n  <b i=\"1\"/>\n  <b i=\"2\"/>\n</a>").unwrap();
        d.root
            .retain_children("b", |b| b.attr("i").as_deref() == Some("2"));
        assert_eq!(d.write(), "<a>\n  <b i=\"2\"/>\n</a>");
        d.root.for_each_child_mut("b", |b| b.set_attr("i", "<3"));
        assert_eq!(d.write(), "<a>\n  <b i=\"&lt;3\"/>\n</a>");
    }

    #[test]
    fn repeated_byte_order_marks_do_not_change_the_written_text() {
        let doc = Document::parse("\u{feff}\u{feff}<MPD a=\"1\"/>").unwrap();
        let text = doc.write();
        assert_eq!(Document::parse(&text).unwrap().write(), text);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text",
            "<a x=1/>",
            "</a>",
            "<a>< /></a>",
            "<1/>",
        ] {
            assert!(Document::parse(bad).is_err(), "{bad}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(Document::parse(&deep), Err(XmlError::TooDeep));
    }
}
