//! `POST /{tenant}/oauth2/v2.0/token`: parses the form, authenticates the client and hands the
//! request to its grant (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow and the pages of each grant). Errors leave in Entra's shape (see [`crate::errors`]).

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::Value;

use super::{TenantSeg, pick_tenant, tenant_seg, unknown_tenant};
use crate::{
    client_auth,
    errors::AadError,
    grants::{self, GrantType, TokenRequest},
    params::Params,
    state::AppState,
    state::{Counters, Shared},
};

/// Token route.
pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

async fn token(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| params.get("client-request-id").map(str::to_string));
    // An external issuer's keys are fetched before any lock is taken.
    let federated = crate::federation::prefetch(&st.world, &st.federation_keys, &params).await;
    match handle(&st, &seg, &headers, &params, federated.as_ref()) {
        Ok(v) => crate::errors::token_json(StatusCode::OK, v),
        Err(mut e) => {
            tracing::debug!(code = e.code, error = e.error, "token request failed");
            e.correlation_id = correlation;
            e.into_response()
        }
    }
}

/// The token endpoint without HTTP: parse, count, authenticate, dispatch.
///
/// # Errors
/// The [`AadError`] Entra would give.
pub fn handle(
    st: &Shared,
    seg: &str,
    headers: &HeaderMap,
    p: &Params,
    federated: Option<&crate::federation::FetchedKeys>,
) -> Result<Value, AadError> {
    let grant_type = p.get("grant_type");
    let grant = grant_type.and_then(GrantType::from_wire);
    Counters::bump(match grant {
        Some(GrantType::AuthorizationCode) => &st.stats.authorization_code,
        Some(GrantType::RefreshToken) => &st.stats.refresh_token,
        Some(GrantType::OnBehalfOf) => &st.stats.obo,
        Some(GrantType::ClientCredentials) => &st.stats.client_credentials,
        Some(GrantType::Password) => &st.stats.password,
        None => &st.stats.other_grant,
    });
    let grant_type = grant_type.ok_or_else(|| AadError::missing("grant_type"))?;
    let world = st.world.read().expect("world lock");
    let resolved = tenant_seg(&world, seg)?;
    let alias = matches!(resolved, TenantSeg::Alias(_));
    let tenant = match &resolved {
        TenantSeg::Tenant(id) => world.tenant(id),
        TenantSeg::Alias(_) => {
            let grant_tid = grant.and_then(|g| alias_grant_tenant(st, &world, g, p));
            pick_tenant(
                &world,
                &[grant_tid.as_deref(), p.get("username"), p.get("client_id")],
            )
        }
    }
    .ok_or_else(|| unknown_tenant(seg))?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let token_endpoint = client_auth::TokenEndpoint::new(&st.base_url, host, seg, tenant);
    let (client, acr) =
        client_auth::authenticate(tenant, p, headers, &token_endpoint, &st.store, federated)?;
    super::check_multi_tenant(&resolved, client)?;
    let req = TokenRequest {
        state: st,
        tenant,
        client,
        acr,
        params: p,
    };
    match grant {
        Some(GrantType::AuthorizationCode) => grants::code::grant(&req),
        Some(GrantType::RefreshToken) => grants::refresh::grant(&req),
        Some(GrantType::OnBehalfOf) => grants::obo::grant(&req, &world, alias),
        Some(GrantType::ClientCredentials) => grants::client_credentials::grant(&req, alias),
        Some(GrantType::Password) => grants::password::grant(&req, alias),
        None => Err(AadError::new(
            70003,
            "unsupported_grant_type",
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )),
    }
}

/// On `/common` and `/organizations`, the tenant the grant belongs to: a code's or refresh
/// token's tenant, or for OBO the assertion's tenant, except that a guest's assertion goes to
/// the guest's **home** tenant, as Entra resolves it.
fn alias_grant_tenant(
    st: &Shared,
    world: &crate::world::World,
    grant: GrantType,
    p: &Params,
) -> Option<String> {
    match grant {
        GrantType::AuthorizationCode => {
            let store = st.store.lock().expect("store lock");
            p.get("code")
                .and_then(|c| store.codes.get(c))
                .map(|g| g.tid.clone())
        }
        GrantType::RefreshToken => {
            let store = st.store.lock().expect("store lock");
            p.get("refresh_token")
                .and_then(|r| store.refresh.get(r))
                .map(|g| g.tid.clone())
        }
        GrantType::OnBehalfOf => {
            let d = p
                .get("assertion")
                .and_then(|a| crate::tokens::decode(a).ok())?;
            let tid = d.claims["tid"].as_str()?;
            let oid = d.claims["oid"].as_str().unwrap_or_default();
            let home = world
                .user(tid, oid)
                .and_then(|u| u.home_tenant_id.as_deref())
                .filter(|h| world.tenant(h).is_some());
            Some(home.unwrap_or(tid).to_string())
        }
        _ => None,
    }
}
