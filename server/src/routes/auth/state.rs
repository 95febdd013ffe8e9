//! What the sign-in routes share: their state, and how a failure of the session store or a
//! refused sign-in is answered and counted.

use std::sync::Arc;

use axum::response::Response;

use crate::{
    config::Config, metrics::Metrics, profiles::Profiles, store::Stores, tokens::TokenService,
};

#[derive(Clone)]
pub struct AuthState {
    pub config: Arc<Config>,
    pub tokens: Arc<TokenService>,
    pub metrics: Arc<Metrics>,
    pub profiles: Profiles,
    pub stores: Arc<Stores>,
}

/// The session store failed: the 503 page that says so (nothing is lost).
pub(super) fn store_failed(err: impl std::fmt::Display) -> Response {
    tracing::error!("session store: {err}");
    crate::store::health::unavailable("/auth/")
}

/// Counts a failed sign-in by its AADSTS code: only codes the catalogue knows, so that a
/// crafted error text cannot grow the metrics without bound.
pub(super) fn failed(state: &AuthState, problem: &app::model::Problem) {
    match problem.code {
        Some(code) if problem.lookup_url.is_none() => {
            count_failure(state, &format!("AADSTS{code}"))
        }
        _ => count_failure(state, "other"),
    }
}

pub(super) fn count_failure(state: &AuthState, code: &str) {
    state
        .metrics
        .sign_in_failures
        .get_or_create(&crate::metrics::CodeLabels { code: code.into() })
        .inc();
}
