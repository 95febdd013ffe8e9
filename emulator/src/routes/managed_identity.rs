//! The managed identity endpoints of the host the emulator plays (Microsoft Learn:
//! learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token,
//! and App Service's "managed identity" page): the VM's instance metadata service
//! (`GET /metadata/identity/oauth2/token`, header `Metadata: true`, every field of the answer a
//! string) and the App Service / Container Apps endpoint (`IDENTITY_ENDPOINT`, here
//! `GET /msi/token`, header `X-IDENTITY-HEADER`, api-version 2019-08-01). Both issue app-only
//! tokens for the tenant's managed identities, for `api://AzureADTokenExchange` (the token an
//! app presents as its federated client assertion) or any resource of the tenant.
//! Error bodies are those public threads quote; each shape is listed in emulator/README.md.

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    grants::client_credentials::{AppPrincipal, app_token},
    keys::now,
    state::{AppState, Counters, Shared},
    well_known::IDENTITY_HEADER,
    world::{ManagedIdentity, Tenant, World},
};

/// The two endpoints, for loopback peers only (as the admin surface): like the host's real
/// ones, they answer the machine itself, not the network, even when the emulator listens
/// beyond loopback.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metadata/identity/oauth2/token", get(imds))
        // MSAL asks with a trailing slash, which the real service answers.
        .route("/metadata/identity/oauth2/token/", get(imds))
        .route("/msi/token", get(app_service))
        .layer(axum::middleware::from_fn(super::admin::loopback_only))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    resource: Option<String>,
    client_id: Option<String>,
    object_id: Option<String>,
    principal_id: Option<String>,
}

impl TokenQuery {
    /// The identity asked for: by client id or object id; without either the host's
    /// system-assigned identity, or its only identity when it has one alone (*unconfirmed*).
    fn identity<'w>(&self, world: &'w World) -> Option<(&'w Tenant, &'w ManagedIdentity)> {
        let all = || {
            world
                .tenants
                .iter()
                .flat_map(|t| t.managed_identities.iter().map(move |m| (t, m)))
        };
        let by = |want: &str, get: fn(&ManagedIdentity) -> &str| {
            all().find(|(_, m)| get(m).eq_ignore_ascii_case(want))
        };
        if let Some(id) = &self.client_id {
            return by(id, |m| &m.client_id);
        }
        if let Some(id) = self.object_id.as_ref().or(self.principal_id.as_ref()) {
            return by(id, |m| &m.principal_id);
        }
        all().find(|(_, m)| m.system_assigned).or_else(|| {
            let mut it = all();
            let only = it.next()?;
            it.next().is_none().then_some(only)
        })
    }
}

/// The token of an identity for `resource`, or AADSTS500011's text when the tenant has no such
/// resource.
fn issue(
    st: &Shared,
    tenant: &Tenant,
    identity: &ManagedIdentity,
    resource: &str,
) -> Result<(String, u64), String> {
    Counters::bump(&st.stats.managed_identity);
    let aud_form = resource.trim_end_matches('/');
    let app = tenant.resource(aud_form).ok_or_else(|| {
        format!(
            "AADSTS500011: The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            tenant.domain()
        )
    })?;
    let principal = AppPrincipal {
        app_id: &identity.client_id,
        object_id: &identity.principal_id,
        acr: "2",
    };
    Ok(app_token(st, tenant, &principal, app, aud_form, vec![]))
}

async fn imds(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let bad = |error: &str, description: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return bad(
            "invalid_request",
            "Required metadata header not specified".into(),
        );
    }
    let Some(resource) = q.resource.clone() else {
        return bad(
            "invalid_request",
            "Required query variable 'resource' is missing".into(),
        );
    };
    let world = st.world.read().expect("world lock");
    let Some((tenant, identity)) = q.identity(&world) else {
        return bad("invalid_request", "Identity not found".into());
    };
    match issue(&st, tenant, identity, &resource) {
        Ok((token, exp_in)) => {
            let now = now();
            Json(json!({
                "access_token": token,
                "refresh_token": "",
                "expires_in": exp_in.to_string(),
                "expires_on": (now + exp_in as i64).to_string(),
                "ext_expires_in": exp_in.to_string(),
                "not_before": now.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }))
            .into_response()
        }
        Err(description) => bad("invalid_resource", description),
    }
}

async fn app_service(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    // Container Apps answers a missing or wrong header with an empty 403.
    let header = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if header.is_none_or(|h| !crate::client_auth::secret_matches(h, IDENTITY_HEADER)) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let correlation = uuid::Uuid::new_v4().to_string();
    let bad = |body: Value| (StatusCode::BAD_REQUEST, Json(body)).into_response();
    let Some(resource) = q.resource.clone() else {
        return bad(json!({
            "statusCode": 400,
            "message": "Required query variable 'resource' is missing.",
            "correlationId": correlation,
        }));
    };
    let world = st.world.read().expect("world lock");
    let Some((tenant, identity)) = q.identity(&world) else {
        return bad(json!({
            "statusCode": 400,
            "message": "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
            "correlationId": correlation,
        }));
    };
    match issue(&st, tenant, identity, &resource) {
        Ok((token, exp_in)) => Json(json!({
            "access_token": token,
            "expires_on": (now() + exp_in as i64).to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }))
        .into_response(),
        Err(message) => bad(json!({
            "exceptionMessage": message,
            "errorCode": "invalid_resource",
            "serviceErrorCodes": ["500011"],
            "statusCode": 400,
            "message": null,
            "correlationId": correlation,
        })),
    }
}
