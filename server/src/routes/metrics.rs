//! `GET /metrics`: the instance's metrics in the Prometheus text format (see
//! [`crate::metrics`]). Counts only: no user, key or token appears here. Served on its own
//! listener (`METRICS_ADDR`, loopback by default), never on the app's public address.

use std::sync::Arc;

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};

use crate::{metrics::Metrics, profiles::Profiles, tokens::TokenService};

/// What the figures are read from.
#[derive(Clone)]
pub struct Sources {
    pub tokens: Arc<TokenService>,
    pub profiles: Profiles,
    pub metrics: Arc<Metrics>,
}

pub fn router(sources: Sources) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(sources)
}

async fn render(State(sources): State<Sources>) -> impl IntoResponse {
    let (entries, bytes) = sources.tokens.cache_size().await;
    let m = &sources.metrics;
    m.obo_cache_entries.set(entries as i64);
    m.obo_cache_bytes.set(bytes as i64);
    m.obo_cache_max_bytes.set(sources.tokens.max_bytes() as i64);
    let (entries, bytes) = sources.profiles.size().await;
    m.profile_cache_entries.set(entries as i64);
    m.profile_cache_bytes.set(bytes as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
}
