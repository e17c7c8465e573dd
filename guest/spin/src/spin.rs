//! The Spin component's entry point: Spin's HTTP request → guest/core's request head, Spin's key-value store
//! → [`Kv`], [`execute::handle`] → Spin's response.

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::variables;
use strata_guest_core::types::{Limits, Request as CoreRequest};

use crate::clock::SystemClock;
use crate::execute;
use crate::kv::{Kv, KvError};
use crate::settings;

/// The component variable holding the guest's settings (spin.toml maps it from `strata_settings`).
const SETTINGS_VARIABLE: &str = "settings";

/// Largest object stored on Spin, in bytes: Spin hands the whole request body to the component, so it is
/// bounded by the component's memory rather than streamed.
const MAX_OBJECT_BYTES: u64 = 64 << 20;

impl Kv for Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Store::get(self, key).map_err(|e| KvError(e.to_string()))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        Store::set(self, key, value).map_err(|e| KvError(e.to_string()))
    }
    fn delete(&self, key: &str) -> Result<(), KvError> {
        Store::delete(self, key).map_err(|e| KvError(e.to_string()))
    }
    fn keys(&self) -> Result<Vec<String>, KvError> {
        Store::get_keys(self).map_err(|e| KvError(e.to_string()))
    }
}

/// Every request of the Spin application (route `/...` in spin.toml).
#[http_component]
fn serve_request(req: Request) -> Response {
    let store = match Store::open_default() {
        Ok(store) => store,
        Err(e) => {
            return text(
                500,
                &format!("cannot open the default key-value store: {e}"),
            );
        }
    };
    let settings = match variables::get(SETTINGS_VARIABLE) {
        Ok(written) => match settings::parse(&written) {
            Ok(settings) => settings,
            Err(reason) => {
                return text(500, &format!("Spin variable {SETTINGS_VARIABLE}: {reason}"));
            }
        },
        Err(variables::Error::Undefined(_)) => Default::default(),
        Err(e) => {
            return text(
                500,
                &format!("cannot read Spin variable {SETTINGS_VARIABLE}: {e}"),
            );
        }
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let head = CoreRequest {
        method: req.method().to_string(),
        // The core checks the path itself and answers 400 with the reason when it names no valid key.
        key: strata_abi::key::key_from_path(req.path()).unwrap_or_default(),
        path: req.path().to_string(),
        query: req.query().to_string(),
        headers: req
            .headers()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    v.as_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        waited_ms: 0,
        limits: Limits {
            max_object_bytes: MAX_OBJECT_BYTES,
        },
        settings,
        now_ms,
        // Spin gives a component no measure of the host's load.
        load_permille: 0,
    };
    let out = execute::handle(&store, &SystemClock::new(), head, req.body());
    let mut response = Response::builder();
    response.status(out.status);
    for (name, value) in out.headers {
        response.header(name, value);
    }
    response.body(out.body).build()
}

fn text(status: u16, reason: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(format!("{reason}\n"))
        .build()
}
