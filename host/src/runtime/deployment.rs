//! A deployment: one compiled, linked version of a named guest, ready to instantiate per request.
//!
//! Requests hold an `Arc<Deployment>` for all their decisions, so a swap never changes a request's version
//! midway and the old version is freed when its last request ends.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::component::{Component, Linker};

use super::bindings::OriginHandlerPre;
use super::bindings::filter::ManifestFilterPre;
use super::{GuestError, GuestState};

/// Which world a guest implements, fixed by its first deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestKind {
    /// `origin-handler`: decides data-plane requests.
    Handler,
    /// `manifest-filter`: rewrites playlist responses.
    Filter,
}

impl GuestKind {
    /// The WIT world's name, for error messages.
    pub fn world(self) -> &'static str {
        match self {
            GuestKind::Handler => "strata:origin/origin-handler",
            GuestKind::Filter => "strata:origin/manifest-filter",
        }
    }
}

/// A component linked against its world, ready to instantiate.
pub enum Linked {
    /// A request handler.
    Handler(OriginHandlerPre<GuestState>),
    /// A manifest filter plugin.
    Filter(ManifestFilterPre<GuestState>),
}

impl Linked {
    /// The world it implements.
    pub fn kind(&self) -> GuestKind {
        match self {
            Linked::Handler(_) => GuestKind::Handler,
            Linked::Filter(_) => GuestKind::Filter,
        }
    }
}

/// Identity of one version of a guest, as the admin API reports it and the data folder records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Short id: the first 16 hex digits of the SHA-256.
    pub id: String,
    /// SHA-256 of the `.wasm`, hex.
    pub sha256: String,
    /// When it was (last) activated, seconds since the Unix epoch.
    pub activated_at: u64,
}

/// One live version of a named guest.
pub struct Deployment {
    /// The guest's name, e.g. `origin`.
    pub name: String,
    /// Which version this is.
    pub version: VersionInfo,
    /// The key prefix this guest is confined to, if any; a handler also receives the requests under it.
    pub namespace: Option<Arc<str>>,
    /// The linked component.
    pub linked: Linked,
}

/// Links `component` against the world it must implement (`expected`), or whichever fits when `None`.
pub fn link(
    handler_linker: &Linker<GuestState>,
    filter_linker: &Linker<GuestState>,
    component: &Component,
    expected: Option<GuestKind>,
) -> Result<Linked, GuestError> {
    let as_handler = || {
        handler_linker
            .instantiate_pre(component)
            .and_then(OriginHandlerPre::new)
            .map(Linked::Handler)
    };
    let as_filter = || {
        filter_linker
            .instantiate_pre(component)
            .and_then(ManifestFilterPre::new)
            .map(Linked::Filter)
    };
    let not_world = |kind: GuestKind| {
        move |e: wasmtime::Error| {
            GuestError::Invalid(
                e.context(format!("the component does not implement {}", kind.world())),
            )
        }
    };
    match expected {
        Some(GuestKind::Handler) => as_handler().map_err(not_world(GuestKind::Handler)),
        Some(GuestKind::Filter) => as_filter().map_err(not_world(GuestKind::Filter)),
        None => as_handler().or_else(|handler_error| {
            as_filter().map_err(|_| {
                GuestError::Invalid(handler_error.context(
                    "the component implements neither strata:origin/origin-handler nor strata:origin/manifest-filter",
                ))
            })
        }),
    }
}
