//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: the session store
//! answers; the identity provider's discovery document was read at start). For load
//! balancers: cheap, no session, no identity-provider call per probe.

use std::sync::Arc;

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::store::Stores;

#[derive(Clone)]
pub struct Probes {
    pub stores: Arc<Stores>,
}

pub fn router(probes: Probes) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(probes)
}

async fn ready(State(probes): State<Probes>) -> (StatusCode, String) {
    match probes.stores.ping().await {
        Ok(()) => (StatusCode::OK, "ready".into()),
        Err(err) => {
            tracing::warn!("not ready: the session store: {err}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the session store does not answer".into(),
            )
        }
    }
}
