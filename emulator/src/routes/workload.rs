//! A workload-identity issuer, as a Kubernetes cluster's service-account issuer serves one
//! (AKS's OIDC issuer): `/_workload/{cluster}/.well-known/openid-configuration` and its keys at
//! `/_workload/{cluster}/openid/v1/jwks`. Tests mint its service-account tokens through the
//! admin surface ([`service_account_token`]) and write them where a kubelet would
//! (`AZURE_FEDERATED_TOKEN_FILE`); an app registration trusts them through a federated
//! identity credential naming this issuer.

use axum::{
    Json, Router,
    extract::{Path, State},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    keys::now,
    state::{AppState, Shared},
    tokens,
};

/// The issuer's public routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/_workload/{cluster}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/_workload/{cluster}/openid/v1/jwks", get(jwks))
}

/// The issuer URL of cluster `cluster` on this emulator.
pub fn issuer(st: &Shared, cluster: &str) -> String {
    format!("{}/_workload/{cluster}", st.base_url)
}

/// What a test asks of a service-account token.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountToken {
    /// The pod's namespace.
    pub namespace: String,
    /// The service account's name.
    pub service_account: String,
    /// `aud` (AKS projects `api://AzureADTokenExchange`).
    #[serde(default = "exchange_audience")]
    pub audience: String,
    /// Seconds of validity from its issue (a kubelet asks for 3600).
    #[serde(default = "an_hour")]
    pub lifetime_secs: i64,
    /// Seconds ago it was issued (an old file: age beyond lifetime makes it expired).
    #[serde(default)]
    pub age_secs: i64,
}

fn exchange_audience() -> String {
    crate::well_known::TOKEN_EXCHANGE_AUDIENCE.into()
}

fn an_hour() -> i64 {
    3600
}

/// A service-account token of `cluster`, signed with the emulator's current key, in the shape
/// Kubernetes projects them (`sub` = `system:serviceaccount:<namespace>:<name>`).
pub fn service_account_token(st: &Shared, cluster: &str, req: &ServiceAccountToken) -> String {
    let iat = now() - req.age_secs;
    let claims = json!({
        "iss": issuer(st, cluster),
        "sub": format!("system:serviceaccount:{}:{}", req.namespace, req.service_account),
        "aud": [req.audience],
        "iat": iat,
        "nbf": iat,
        "exp": iat + req.lifetime_secs,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": {
            "namespace": req.namespace,
            "serviceaccount": {"name": req.service_account, "uid": tokens::derived_guid(&format!("sa|{cluster}|{}|{}", req.namespace, req.service_account))},
        },
    });
    tokens::sign(
        st.keys.read().expect("keys lock").current(),
        &claims,
        tokens::Header::V2,
    )
}

async fn discovery(State(st): State<AppState>, Path(cluster): Path<String>) -> Response {
    let iss = issuer(&st, &cluster);
    Json(json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(st): State<AppState>, Path(cluster): Path<String>) -> Response {
    let doc = st
        .keys
        .read()
        .expect("keys lock")
        .jwks(&issuer(&st, &cluster));
    Json(doc).into_response()
}
