//! `/_strata/console`: the operator's web console, its files embedded in the binary so it needs no other
//! host. The page is static; everything it shows comes from the admin API, which it calls with the admin
//! token in an `Authorization` header (`decisions/0056-web-console.md`).
//!
//! Its own scripts are in `console/src/`; hls.js and dash.js come from npm through
//! `console/package-lock.json` (installed by `build.rs`). Every answer forbids framing and allows scripts,
//! styles, media and requests from this origin only (media also from `blob:`, which MSE players use).

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::http::{ResponseBody, error_response, full_body};

/// The policy of every console file: this origin only, no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/_strata/console/`, type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! source {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/src/", $name)),
        }
    };
}

macro_rules! package {
    ($name:literal, $path:literal) => {
        Asset {
            name: $name,
            content_type: "text/javascript; charset=utf-8",
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/console/node_modules/",
                $path
            )),
        }
    };
}

const ASSETS: &[Asset] = &[
    source!("index.html", "text/html; charset=utf-8"),
    source!("console.css", "text/css; charset=utf-8"),
    source!("main.js", "text/javascript; charset=utf-8"),
    source!("api.js", "text/javascript; charset=utf-8"),
    source!("dom.js", "text/javascript; charset=utf-8"),
    source!("streams.js", "text/javascript; charset=utf-8"),
    source!("player.js", "text/javascript; charset=utf-8"),
    source!("storage.js", "text/javascript; charset=utf-8"),
    source!("chart.js", "text/javascript; charset=utf-8"),
    source!("guests.js", "text/javascript; charset=utf-8"),
    package!("hls.min.js", "hls.js/dist/hls.min.js"),
    package!("dash.all.min.js", "dashjs/dist/modern/umd/dash.all.min.js"),
];

/// `/_strata/console/access`: whether the admin API wants a token, so the page shows its login form
/// without first provoking a 401 (which a browser reports as an error).
pub fn access(token_required: bool) -> Response<ResponseBody> {
    let mut response = super::json(
        StatusCode::OK,
        &serde_json::json!({ "token_required": token_required }),
    );
    secure(response.headers_mut(), "application/json");
    response
}

/// Answers `/_strata/console` (the page: `file` empty) and `/_strata/console/{file}`.
pub fn serve(file: &str) -> Response<ResponseBody> {
    let name = match file {
        "" => "index.html",
        _ => file,
    };
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return error_response(
            StatusCode::NOT_FOUND,
            format!("the console has no file {name:?}"),
        );
    };
    let mut response = Response::new(full_body(asset.body));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(headers, asset.content_type);
    response
}

/// The type and the headers every console answer carries: its policy, no framing, no sniffing, no referrer.
fn secure(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_carry_the_policy() {
        for rest in ["", "index.html", "main.js", "hls.min.js", "dash.all.min.js"] {
            let response = serve(rest);
            assert_eq!(response.status(), StatusCode::OK, "{rest}");
            let headers = response.headers();
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(policy.contains("script-src 'self';"), "{policy}");
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        }
        assert_eq!(
            serve("")
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap()),
            Some("text/html; charset=utf-8")
        );
    }

    #[test]
    fn unknown_files_are_not_found() {
        for rest in ["nope.js", "../admin", "main.js/", "index.html/x"] {
            assert_eq!(serve(rest).status(), StatusCode::NOT_FOUND, "{rest}");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(!page.contains("<script>") && !page.contains("style="));
    }
}
