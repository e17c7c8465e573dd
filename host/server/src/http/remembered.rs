//! Reads answered without awaiting (decision 0060): a GET or HEAD whose remembered decision
//! (`decision_cache`) is a guest's response, or a serve of an object held in memory, is answered while
//! hyper calls the service, so it never builds the request's future; a connection thread answers a read it
//! answered before from its own copy (`decision_cache::front`). It passes the same checks
//! (`dispatch::screen`), then the throttle, plugin-chain and handler choices in the usual order. Anything
//! else (an operator route, a refusal, a request a throttling rule counts, a plugin chain, a miss, an object
//! on disk or still arriving, a `wait`, a request with a body) is left to `dispatch`, the long way.

use http::{Method, Request};
use hyper::body::{Body, Incoming};

use super::body::ResponseBody;
use super::decision_cache::Asked;
use super::dispatch::{self, Screened};
use super::filters;
use crate::access_log::{self, Decided};
use crate::state::AppState;

/// The answer to `request` from a remembered decision, if it can be given without awaiting.
pub fn answer(
    state: &AppState,
    request: &Request<Incoming>,
) -> Option<http::Response<ResponseBody>> {
    let method = request.method();
    let is_head = match *method {
        Method::GET => false,
        Method::HEAD => true,
        _ => return None,
    };
    if !request.body().is_end_stream() || !state.decisions.enabled() {
        return None;
    }
    let Screened::Passed(target) = dispatch::screen(state, request) else {
        return None;
    };
    let (key, headers) = (target.key(), request.headers());
    if state.throttle.governs(method, key, headers)
        || filters::chain_for(&state.config, method, &target).is_some()
    {
        return None;
    }
    state
        .guests
        .with_handler_for(key, |handler| {
            let asked = Asked {
                generation: handler.generation,
                method,
                key,
                query: request.uri().query().unwrap_or_default(),
                headers,
                // Answered without awaiting, it is never in flight while another request reads the load:
                // it counts only in the load it sees itself (`load.rs`).
                load_permille: state.load.permille_with_one_more(),
            };
            let response =
                state
                    .decisions
                    .answer_at_once(&asked, state.storage.as_ref(), is_head)?;
            state.decisions.count_hit();
            access_log::guest_chosen(&handler.deployment);
            access_log::decided(Decided::Cache);
            Some(response)
        })
        .flatten()
}
