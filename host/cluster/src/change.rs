//! The messages nodes send each other through the feed: a new version (its metadata, and its bytes when
//! small) or a removal. A message is a JSON header line followed by the raw bytes, so a playlist travels
//! as it is, not base64-encoded.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use strata_tiers::ObjectMeta;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Change {
    /// A version became current (committed, and in the store unless it is memory-only).
    Put {
        /// Its metadata.
        meta: ObjectMeta,
        /// The store held this very version once its write completed: it is the store's last write, and
        /// wins over any version a node knows, whatever their sequences (which a slow upload started
        /// before a fast one, or a bad clock, can invert).
        #[serde(default)]
        stored: bool,
    },
    /// The key was removed at this sequence; older versions are gone.
    Delete {
        /// The key.
        key: String,
        /// The sequence of the removal.
        seq: u64,
    },
}

impl Change {
    /// The key concerned.
    pub fn key(&self) -> &str {
        match self {
            Change::Put { meta, .. } => &meta.key,
            Change::Delete { key, .. } => key,
        }
    }

    /// The sequence of the change.
    pub fn seq(&self) -> u64 {
        match self {
            Change::Put { meta, .. } => meta.seq,
            Change::Delete { seq, .. } => *seq,
        }
    }
}

/// One message on the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sending node's name.
    pub node: String,
    /// The sending process, so a node skips its own messages even when two share a name.
    pub instance: u64,
    /// What changed.
    pub change: Change,
    /// The body of a small new version.
    pub body: Option<Bytes>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    node: String,
    instance: u64,
    change: Change,
    /// Length of the body following the header line; none when it is not inlined.
    body: Option<u64>,
}

impl Message {
    /// The message as sent: header line, then the body.
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            node: self.node.clone(),
            instance: self.instance,
            change: self.change.clone(),
            body: self.body.as_ref().map(|b| b.len() as u64),
        };
        // Serialising plain data into a Vec cannot fail.
        let mut out = serde_json::to_vec(&header).unwrap_or_default();
        out.push(b'\n');
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
        }
        out
    }

    /// Reads a message as sent.
    ///
    /// # Errors
    /// A one-line reason when it is not one.
    pub fn decode(raw: &Bytes) -> Result<Message, String> {
        let line_end = raw
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no header line")?;
        let header: Header =
            serde_json::from_slice(&raw[..line_end]).map_err(|e| format!("bad header: {e}"))?;
        let rest = raw.slice(line_end + 1..);
        let body = match header.body {
            Some(len) if len == rest.len() as u64 => Some(rest),
            Some(len) => {
                return Err(format!(
                    "body is {} bytes, the header says {len}",
                    rest.len()
                ));
            }
            None if rest.is_empty() => None,
            None => return Err("bytes after a header that announces none".into()),
        };
        Ok(Message {
            node: header.node,
            instance: header.instance,
            change: header.change,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_tiers::Placement;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            key: "live/index.m3u8".into(),
            size: 5,
            content_type: "application/vnd.apple.mpegurl".into(),
            etag: "\"00000000000000aa\"".into(),
            last_modified: 1,
            cache_control: None,
            metadata: vec![("x".into(), "y".into())],
            seq: 170,
            placement: Placement::Durable,
            expires_at: Some(9),
            complete: true,
        }
    }

    #[test]
    fn messages_round_trip_with_and_without_a_body() {
        for message in [
            Message {
                node: "a".into(),
                instance: 7,
                change: Change::Put {
                    meta: meta(),
                    stored: true,
                },
                body: Some(Bytes::from_static(b"#EXT\n")),
            },
            Message {
                node: "b".into(),
                instance: 8,
                change: Change::Delete {
                    key: "live/0.ts".into(),
                    seq: 171,
                },
                body: None,
            },
        ] {
            let raw = Bytes::from(message.encode());
            assert_eq!(Message::decode(&raw).unwrap(), message);
        }
    }

    #[test]
    fn a_truncated_or_foreign_message_is_refused() {
        let raw = Message {
            node: "a".into(),
            instance: 7,
            change: Change::Put {
                meta: meta(),
                stored: true,
            },
            body: Some(Bytes::from_static(b"#EXT\n")),
        }
        .encode();
        let cut = Bytes::copy_from_slice(&raw[..raw.len() - 1]);
        assert!(
            Message::decode(&cut)
                .unwrap_err()
                .contains("body is 4 bytes")
        );
        assert!(Message::decode(&Bytes::from_static(b"hello")).is_err());
        assert!(Message::decode(&Bytes::from_static(b"{}\n")).is_err());
    }
}
