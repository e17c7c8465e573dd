//! A manifest plugin that sleeps through WASI clocks when the request's query says `misbehave`, using no
//! CPU: only the host's wall-clock deadline for plugins can end its rewrite.

wit_bindgen::generate!({ path: "../../../wit", world: "manifest-filter" });

use exports::strata::origin::filter::{Context, Guest};

/// A query containing this word makes the plugin sleep; otherwise it passes the playlist through (and so
/// passes the host's canary).
const TRIGGER: &str = "misbehave";

/// How long a misbehaving rewrite sleeps: far past any deadline a test sets.
const SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

struct SleepingFilter;

impl Guest for SleepingFilter {
    fn rewrite(ctx: Context, playlist: String) -> Result<String, String> {
        if ctx.query.contains(TRIGGER) {
            std::thread::sleep(SLEEP);
        }
        Ok(playlist)
    }
}

export!(SleepingFilter);
