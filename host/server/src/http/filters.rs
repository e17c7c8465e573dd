//! Customer manifest plugins on the way out: the first chain whose pattern matches the request's key
//! rewrites a playlist response, each plugin in its own small sandbox; a failing plugin fails the response
//! (502) or is skipped, as its chain says.

use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use super::body::{self, ResponseBody};
use super::target::Target;
use strata_abi::types as abi;
use strata_runtime::{FilterContext, FilterLimits};

use crate::config::{FilterChain, OnError, ServerConfig};
use crate::state::AppState;

/// Media types of the playlists plugins rewrite (HLS and DASH).
const PLAYLIST_TYPES: &[&str] = &[
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "application/dash+xml",
];

/// Extensions of the keys whose responses a chain rewrites whatever Content-Type they were stored with.
const PLAYLIST_EXTENSIONS: &[&str] = &["m3u8", "mpd"];

/// The sandbox limits of plugin `name`, from its `[plugins.<name>]` section or the defaults.
pub fn plugin_limits(config: &ServerConfig, name: &str) -> FilterLimits {
    config
        .plugins
        .get(name)
        .cloned()
        .unwrap_or_default()
        .limits()
}

/// The chain configured for a GET of `target`, if any: the first whose pattern matches its decoded key.
pub fn chain_for<'c>(
    config: &'c ServerConfig,
    method: &Method,
    target: &Target,
) -> Option<&'c FilterChain> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    config
        .filters
        .iter()
        .find(|c| c.pattern.matches(target.key()))
}

/// Readies the guest's request for a chain: the chain rewrites whole playlists, so the guest is asked for
/// the whole stored one (no `Range`, `If-Range`, or `If-None-Match` on the stored entity tag, which the
/// rewritten playlist does not have), and a HEAD is asked as a GET so its headers describe the rewritten
/// playlist.
pub fn prepare(request: &mut abi::Request) {
    request
        .headers
        .retain(|(name, _)| !matches!(name.as_str(), "range" | "if-range" | "if-none-match"));
    if request.method == Method::HEAD.as_str() {
        request.method = Method::GET.as_str().to_owned();
    }
}

/// `response` rewritten by `chain`, when it is a whole 200 playlist (by its Content-Type, or by its key's
/// extension whatever the uploader said it was): the client never gets the unfiltered bytes, nor a range of
/// them (`prepare`).
pub async fn apply(
    state: &AppState,
    parts: &Parts,
    target: &Target,
    chain: &FilterChain,
    response: Response<ResponseBody>,
) -> Response<ResponseBody> {
    let path = target.path();
    if response.status() == StatusCode::NOT_MODIFIED {
        let mut response = response;
        response.headers_mut().remove(header::ETAG);
        return response;
    }
    if response.status() != StatusCode::OK
        || !(is_playlist(&response) || names_a_playlist(target.key()))
    {
        return response;
    }
    let (mut head, content) = response.into_parts();
    let limit = usize::try_from(state.config.max_playlist_bytes).unwrap_or(usize::MAX);
    let text = match Limited::new(content, limit).collect().await {
        Ok(collected) => String::from_utf8(collected.to_bytes().to_vec()),
        Err(e) => {
            return body::error(
                StatusCode::BAD_GATEWAY,
                format!("cannot read the playlist to filter: {e}"),
            );
        }
    };
    let Ok(mut text) = text else {
        return body::error(
            StatusCode::BAD_GATEWAY,
            "the playlist is not UTF-8 text; plugins cannot rewrite it",
        );
    };
    let context = FilterContext {
        path: path.to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        content_type: head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
    };
    for name in &chain.plugins {
        match run(state, name, &context, &text).await {
            Ok(rewritten) => text = rewritten,
            Err(reason) => {
                crate::metrics::record_filter_failure(name);
                tracing::warn!(plugin = %name, %path, %reason, "manifest plugin failed");
                if chain_fails(chain) {
                    return body::error(
                        StatusCode::BAD_GATEWAY,
                        format!("manifest plugin {name} failed: {reason}"),
                    );
                }
            }
        }
    }
    head.headers.remove(header::ETAG);
    head.headers.remove(header::ACCEPT_RANGES);
    head.headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    Response::from_parts(head, body::full(text))
}

fn chain_fails(chain: &FilterChain) -> bool {
    chain.on_error == OnError::Fail
}

/// One plugin on `text`: its output, or a one-line reason it failed (refused, trapped, not deployed).
async fn run(
    state: &AppState,
    name: &str,
    context: &FilterContext,
    text: &str,
) -> Result<String, String> {
    let Some(plugin) = state.guests.filter(name) else {
        return Err("no manifest plugin of that name is deployed".into());
    };
    let limits = plugin_limits(&state.config, name);
    match state.runtime.rewrite(&plugin, limits, context, text).await {
        Ok(Ok(rewritten)) => Ok(rewritten),
        Ok(Err(refusal)) => Err(refusal),
        Err(e) => {
            crate::metrics::record_guest_failure(&e);
            Err(e.to_string())
        }
    }
}

/// Whether `key`'s extension names an HLS playlist or a DASH MPD.
fn names_a_playlist(key: &str) -> bool {
    key.rsplit_once('.').is_some_and(|(_, extension)| {
        PLAYLIST_EXTENSIONS
            .iter()
            .any(|e| extension.eq_ignore_ascii_case(e))
    })
}

fn is_playlist(response: &Response<ResponseBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            PLAYLIST_TYPES
                .iter()
                .any(|p| t.trim().eq_ignore_ascii_case(p))
        })
}

#[cfg(test)]
mod tests {
    use super::names_a_playlist;

    #[test]
    fn playlists_are_known_by_their_extension() {
        assert!(names_a_playlist("live/index.m3u8"));
        assert!(names_a_playlist("live/manifest.MPD"));
        assert!(!names_a_playlist("live/seg.ts"));
        assert!(!names_a_playlist("live/m3u8"));
    }
}
