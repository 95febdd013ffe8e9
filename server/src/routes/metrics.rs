//! `GET /metrics`: the token cache's size and hit rate, as JSON, for dashboards and tests.
//! Counts only: no user, key or token appears here. Served on its own listener
//! (`METRICS_ADDR`, loopback by default), never on the app's public address.

use std::sync::{Arc, atomic::Ordering};

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use crate::tokens::TokenService;

pub fn router(tokens: Arc<TokenService>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(tokens)
}

async fn metrics(State(tokens): State<Arc<TokenService>>) -> Json<Value> {
    let (entries, bytes) = tokens.cache_size().await;
    let m = &tokens.metrics;
    let hits = m.obo_cache_hits.load(Ordering::Relaxed);
    let exchanges = m.obo_exchanges.load(Ordering::Relaxed);
    let lookups = hits + exchanges;
    Json(json!({
        "obo_cache": {
            "entries": entries,
            "weighted_bytes": bytes,
            "max_bytes": tokens.max_bytes(),
            "hits": hits,
            "exchanges": exchanges,
            "hit_rate": if lookups == 0 { 0.0 } else { hits as f64 / lookups as f64 },
        },
        "sign_in_token_refreshes": m.refreshes.load(Ordering::Relaxed),
    }))
}
