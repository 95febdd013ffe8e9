//! `GET /metrics`: the instance's metrics in the Prometheus text format (see
//! [`crate::metrics`]). Counts only: no user, key or token appears here. Served on its own
//! listener (`METRICS_ADDR`, loopback by default), never on the app's public address.

use std::sync::Arc;

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};

use crate::{metrics::Metrics, tokens::TokenService};

#[derive(Clone)]
struct Sources {
    tokens: Arc<TokenService>,
    metrics: Arc<Metrics>,
}

pub fn router(tokens: Arc<TokenService>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(Sources { tokens, metrics })
}

async fn render(State(sources): State<Sources>) -> impl IntoResponse {
    let (entries, bytes) = sources.tokens.cache_size().await;
    let m = &sources.metrics;
    m.obo_cache_entries.set(entries as i64);
    m.obo_cache_bytes.set(bytes as i64);
    m.obo_cache_max_bytes.set(sources.tokens.max_bytes() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
}
