//! The plain-Rust mirror of the WIT `types` interface (`strata:origin@0.2.0`), so decisions can be made
//! and tested without Wasm. Each shell (the Strata component, the Spin component) and the host's runtime
//! convert these to and from their own bindings; the host's HTTP layer works on these, never on generated
//! types.

pub use crate::settings::{
    AbrPolicy, AbrRoute, AdMarkersMode, AdMarkersRoute, ClockSource, RedundantRoute, Settings,
    SignedPrefix, StaleRoute,
};

/// The response header a guest puts on its refusal of a stale live playlist (its value: seconds since the
/// last update), so the host can count those refusals; CDNs and operators see why the origin refused.
pub const STALE_MANIFEST_HEADER: &str = "x-strata-stale-manifest";

/// The response header a guest puts on a playlist whose ad breaks a `daterange` route kept as CUE tags (its
/// value: how many and why), so the host can count them; operators see why no date range was made.
pub const AD_MARKERS_KEPT_HEADER: &str = "x-strata-ad-markers";

/// Header fields in arrival order; names lower-case.
pub type Headers = Vec<(String, String)>;

/// Limits the host enforces that a decision needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest object a store may write, in bytes.
    pub max_object_bytes: u64,
}

/// The head of one data-plane request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// The object key the path names, decoded and checked ([`crate::key`]); empty when it names none.
    pub key: String,
    /// The key's canonical path ([`crate::key::path_from_key`]), starting with `/`.
    pub path: String,
    /// Query string without `?`.
    pub query: String,
    /// Request header fields, names lower-case.
    pub headers: Headers,
    /// Milliseconds already spent parked by earlier `Wait` outcomes.
    pub waited_ms: u32,
    /// The host's limits.
    pub limits: Limits,
    /// The operator's settings this guest owns.
    pub settings: Settings,
    /// The host's wall clock when it received the request, ms since the Unix epoch.
    pub now_ms: u64,
    /// The host's load when it received the request, in permille of its capacity (may exceed 1000); 0 when
    /// the host reports none.
    pub load_permille: u16,
}

impl Request {
    /// The first value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the host knows of a stored object, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Key: path without the leading `/`.
    pub key: String,
    /// Length in bytes.
    pub size: u64,
    /// Content-Type recorded at store time.
    pub content_type: String,
    /// Strong entity tag, quotes included.
    pub etag: String,
    /// Last modification, seconds since the Unix epoch.
    pub last_modified: u64,
    /// Cache-Control given by the uploader, if any.
    pub cache_control: Option<String>,
    /// Custom `x-strata-meta-*` metadata.
    pub metadata: Headers,
    /// False while its upload is still arriving (size so far, entity tag of the upload).
    pub complete: bool,
}

/// An inclusive byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte offset.
    pub first: u64,
    /// Last byte offset, inclusive.
    pub last: u64,
}

/// A response written whole by the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Response header fields.
    pub headers: Headers,
    /// Small body.
    pub body: Vec<u8>,
}

/// Stream a stored object back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServePlan {
    /// The object to send.
    pub key: String,
    /// 200, or 206 with `range`.
    pub status: u16,
    /// The part of the object to send.
    pub range: Option<ByteRange>,
    /// The entity tag decided on; the host re-asks if the object changed since.
    pub etag: String,
    /// Response header fields (the host adds Content-Length and Content-Range).
    pub headers: Headers,
    /// Keys to warm into memory after answering (CMCD `nor`); a hint.
    pub prefetch: Vec<String>,
}

/// Stream the request body into the tiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePlan {
    /// Where to store it.
    pub key: String,
    /// Content-Type to record.
    pub content_type: String,
    /// Cache-Control to record, if the uploader gave one.
    pub cache_control: Option<String>,
    /// Custom metadata to record.
    pub metadata: Headers,
    /// Status to answer once stored.
    pub status: u16,
    /// Response header fields (the host adds ETag).
    pub headers: Headers,
    /// Lifetime in seconds the uploader asked for; `None` leaves it to the host's rules.
    pub ttl_seconds: Option<u64>,
}

/// Remove an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    /// The object to remove.
    pub key: String,
    /// Status when removed; a missing object answers 404.
    pub status: u16,
    /// Response header fields.
    pub headers: Headers,
}

/// Park the request in the host, then decide again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitPlan {
    /// The object to watch.
    pub key: String,
    /// Wake when the entity tag differs from this; `None` wakes once the object exists.
    pub unless_etag: Option<String>,
    /// Wake anyway after this many milliseconds.
    pub timeout_ms: u32,
}

/// What the host does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answer with this response.
    Respond(Response),
    /// Stream a stored object.
    Serve(ServePlan),
    /// Store the request body.
    Store(StorePlan),
    /// Remove an object.
    Delete(DeletePlan),
    /// Park, then decide again.
    Wait(WaitPlan),
}

/// Which query parameters a reusable decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryParts {
    /// None: the decision is the same whatever the query.
    None,
    /// Every parameter.
    All,
    /// Only these parameters, by exact name.
    Only(Vec<String>),
}

/// When the host may carry out a decision again for another request without asking the guest: the WIT
/// `reuse` record (`docs/decisions/0051`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reuse {
    /// The query parameters the decision depends on (`CMCD` never counts).
    pub query: QueryParts,
    /// Lower-case names of the request headers the decision depends on (`cmcd-*` never count).
    pub headers: Vec<String>,
    /// Longest the decision stays right, in milliseconds from the request's `now_ms`.
    pub max_age_ms: u32,
    /// The decision depends on whether the load is at or above this threshold.
    pub load_threshold_permille: Option<u16>,
}

/// A guest's answer: the outcome, and whether the host may reuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What the host does with this request.
    pub outcome: Outcome,
    /// `None`: ask the guest for every request.
    pub reuse: Option<Reuse>,
}

impl From<Outcome> for Decision {
    /// A decision the host must not reuse.
    fn from(outcome: Outcome) -> Self {
        Decision {
            outcome,
            reuse: None,
        }
    }
}
