//! The HTTP surface: one module per endpoint family, assembled by [`router`], with the fault
//! injection layer (admin-controlled latency, error statuses and timeouts) in front. A status
//! fault answers in the shape of the endpoint it hits: Entra's AADSTS body for the identity
//! endpoints, Graph's error body for the Graph slice.

pub mod admin;
pub mod authorize;
pub mod discovery;
pub mod graph;
pub mod logout;
pub mod managed_identity;
pub mod token;
pub mod workload;

use std::time::Duration;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};

use crate::{
    errors::AadError,
    state::{AppState, FaultEndpoint, FaultKind, Shared},
    world::{Tenant, World},
};

/// The emulator's whole router. The admin surface needs the peer's address: serve it with the
/// `listener` crate (as [`crate::EmulatorBuilder::start`] does) or with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(discovery::router())
        .merge(authorize::router())
        .merge(token::router())
        .merge(logout::router())
        .nest("/graph", graph::router())
        .merge(workload::router())
        .merge(managed_identity::router())
        .layer(middleware::from_fn_with_state(state.clone(), faults))
        .layer(middleware::from_fn(request_id))
        .nest("/_emulator", admin::router())
        .with_state(state)
}

fn classify(path: &str) -> Option<FaultEndpoint> {
    if path.starts_with("/graph/") {
        Some(FaultEndpoint::Graph)
    } else if path.ends_with("/oauth2/v2.0/token") {
        Some(FaultEndpoint::Token)
    } else if path.contains("/oauth2/v2.0/authorize") {
        Some(FaultEndpoint::Authorize)
    } else if path.contains("/.well-known/") || path.ends_with("/discovery/instance") {
        Some(FaultEndpoint::Discovery)
    } else if path.contains("/discovery/") && path.ends_with("/keys") {
        Some(FaultEndpoint::Jwks)
    } else {
        None
    }
}

/// Entra's id of each answer of its own endpoints (token, authorize, discovery, keys), in
/// `x-ms-request-id`: what its support looks a request up by (ledger I1). An error's is the
/// `trace_id` of its body, set where the body is made.
async fn request_id(req: Request, next: Next) -> Response {
    let entra = !matches!(
        classify(req.uri().path()),
        None | Some(FaultEndpoint::Graph)
    );
    let mut resp = next.run(req).await;
    if entra && !resp.headers().contains_key("x-ms-request-id") {
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(id) = axum::http::HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-ms-request-id", id);
        }
    }
    resp
}

async fn faults(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(endpoint) = classify(req.uri().path()) else {
        return next.run(req).await;
    };
    let fault = {
        let mut faults = st.faults.lock().expect("faults lock");
        let hit = faults
            .iter_mut()
            .position(|f| f.endpoint == endpoint || f.endpoint == FaultEndpoint::All);
        hit.map(|i| {
            let f = faults[i];
            if let Some(n) = &mut faults[i].count {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    faults.remove(i);
                }
            }
            f
        })
    };
    match fault.map(|f| f.kind) {
        None => next.run(req).await,
        Some(FaultKind::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(FaultKind::Status { code, retry_after }) if endpoint == FaultEndpoint::Graph => {
            // A refused call still reached Graph: count it, so that tests can tell a client
            // that retries or hammers from one that holds off.
            crate::state::Counters::bump(&st.stats.graph);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            graph::fault_response(status, retry_after)
        }
        Some(FaultKind::Status { code, retry_after }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (error, aadsts) = if code == 429 {
                ("temporarily_unavailable", 50196)
            } else {
                ("temporarily_unavailable", 50000)
            };
            let err = AadError::new(
                aadsts,
                error,
                "The service is temporarily unavailable (fault injected by the emulator).",
            );
            let mut resp = (status, axum::Json(err.body())).into_response();
            if let Some(s) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            resp
        }
        Some(FaultKind::Timeout) => {
            let mut rx = st.shutdown.clone();
            let _ = tokio::time::timeout(Duration::from_secs(3600), rx.wait_for(|s| *s)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// How a tenant path segment resolved.
#[derive(Debug, Clone)]
pub enum TenantSeg {
    /// A concrete tenant (by GUID or domain): its GUID.
    Tenant(String),
    /// `common`, `organizations` or `consumers`.
    Alias(String),
}

/// Resolves a path segment.
///
/// # Errors
/// AADSTS90002 for an unknown tenant.
pub fn tenant_seg(world: &World, seg: &str) -> Result<TenantSeg, AadError> {
    let lower = seg.to_ascii_lowercase();
    if matches!(lower.as_str(), "common" | "organizations" | "consumers") {
        return Ok(TenantSeg::Alias(lower));
    }
    world
        .tenant(seg)
        .map(|t| TenantSeg::Tenant(t.id.clone()))
        .ok_or_else(|| unknown_tenant(seg))
}

/// AADSTS90002.
pub fn unknown_tenant(seg: &str) -> AadError {
    AadError::new(
        90002,
        "invalid_tenant",
        format!(
            "Tenant '{seg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

/// AADSTS50194 when `app` is single-tenant and the request came on `common` or
/// `organizations`: Entra does not guess the tenant of such an app (applications created after
/// October 2018).
///
/// # Errors
/// AADSTS50194 (`invalid_request`).
pub fn check_multi_tenant(
    seg: &TenantSeg,
    app: &crate::world::Application,
) -> Result<(), AadError> {
    match seg {
        TenantSeg::Alias(a) if app.is_single_tenant() && a != "consumers" => {
            Err(AadError::request(
                50194,
                format!(
                    "Application '{}'({}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
                    app.app_id, app.display_name
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The tenant for a request on an alias: the one owning `hint` (a client id, UPN or tid), else
/// the first tenant.
pub fn pick_tenant<'w>(world: &'w World, hints: &[Option<&str>]) -> Option<&'w Tenant> {
    for h in hints.iter().flatten() {
        if let Some(t) = world.tenant(h) {
            return Some(t);
        }
        if let Some((_, domain)) = h.split_once('@')
            && let Some(t) = world.tenant(domain)
        {
            return Some(t);
        }
        if let Some(t) = world.tenants.iter().find(|t| t.app(h).is_some()) {
            return Some(t);
        }
    }
    world.tenants.first()
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The base URL as seen by this emulator.
pub fn base(st: &Shared) -> &str {
    &st.base_url
}
