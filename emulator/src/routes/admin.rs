//! The loopback-only admin surface under `/_emulator/` for tests: statistics, key rollover,
//! faults, lifetimes, the revocation of a user's sign-in sessions, the switches of the
//! unconfirmed behaviours and the list of issued grants. Peers that are
//! not loopback addresses get 403, and so do requests a browser sends on a web page's behalf
//! (`Sec-Fetch-Site` other than `none`, or an `Origin`): a page the developer visits must not
//! roll keys or revoke sessions of the emulator on 127.0.0.1 (cross-site request forgery).
//! The `Host` must name the loopback interface too (`localhost`, `127.0.0.1` or `[::1]`, any
//! port): after DNS rebinding, a page's own host name resolves to 127.0.0.1, so its requests
//! come from a loopback peer and count as same-origin, but they still carry that name.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::{ConnectInfo, Path, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::state::{AppState, Fault, Lifetimes, Shared};

/// Admin routes (nested under `/_emulator`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stats", get(stats))
        .route("/stats/reset", post(stats_reset))
        .route("/keys/roll", post(roll))
        .route("/users/{upn}/revoke", post(revoke))
        .route(
            "/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/lifetimes", post(lifetimes).get(get_lifetimes))
        .route("/unconfirmed", post(unconfirmed).get(get_unconfirmed))
        .route("/grants", get(grants))
        .route("/applications/{app_id}/addPassword", post(add_password))
        .route(
            "/applications/{app_id}/removePassword",
            post(remove_password),
        )
        .route(
            "/applications/{app_id}/federatedIdentityCredentials",
            post(add_federated).get(list_federated),
        )
        .route("/federated", get(federated_seen))
        .route("/workload/{cluster}/token", post(workload_token))
        .layer(middleware::from_fn(loopback_only))
}

/// Refuses peers, hosts and web pages that are not the developer's own machine (see the
/// module's doc).
pub(crate) async fn loopback_only(req: Request, next: Next) -> Response {
    let forbidden = |why: &str| {
        (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "forbidden", "error_description": why})),
        )
            .into_response()
    };
    let from_a_page = req.headers().contains_key("origin")
        || req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() != b"none");
    // HTTP/1.1 names the host in `Host`, HTTP/2 in the `:authority` (the URI); both count.
    let hosts: Vec<&str> = req
        .headers()
        .get_all(header::HOST)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .chain(req.uri().authority().map(|a| a.as_str()))
        .collect();
    let loopback_host = !hosts.is_empty() && hosts.iter().all(|h| is_loopback_host(h));
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(a)| *a);
    match peer {
        Some(a) if !a.ip().is_loopback() => {
            forbidden("The emulator's admin surface only answers loopback peers.")
        }
        None => forbidden("The emulator's admin surface only answers loopback peers."),
        Some(_) if from_a_page => {
            forbidden("The emulator's admin surface does not answer requests made by web pages.")
        }
        Some(_) if !loopback_host => forbidden(
            "The emulator's admin surface only answers requests whose Host is localhost, 127.0.0.1 or [::1].",
        ),
        Some(_) => next.run(req).await,
    }
}

/// Whether a `Host` value (or URI authority) is `localhost`, `127.0.0.1` or `[::1]`, with or
/// without a port. Anything else, including names that merely start with those, is refused.
pub(crate) fn is_loopback_host(value: &str) -> bool {
    let (host, port) = if value.starts_with('[') {
        match value.find(']') {
            Some(i) => (&value[..=i], &value[i + 1..]),
            None => return false,
        }
    } else {
        match value.rfind(':') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && (host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]")
}

/// Partial lifetime update (seconds); absent fields keep their value.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct LifetimesUpdate {
    /// Access tokens (0 = back to Entra's random 60–90 minutes).
    pub access_token: Option<u64>,
    /// Refresh tokens.
    pub refresh_token: Option<u64>,
    /// ID tokens.
    pub id_token: Option<u64>,
    /// Authorization codes.
    pub code: Option<u64>,
}

/// A refresh-token grant as listed by the admin surface (no token values).
pub type GrantInfo = crate::state::RefreshGrant;

/// Admin operations, callable in-process.
pub mod ops {
    use super::*;

    /// Rolls the signing keys; the old ones stay published for `grace`. Returns the new kid.
    ///
    /// # Errors
    /// Key generation or persistence failure.
    pub fn roll_keys(st: &Shared, grace: Duration) -> Result<String, crate::keys::KeyError> {
        st.keys.write().expect("keys lock").roll(grace)
    }

    /// Revokes the sign-in sessions of `upn` (Graph's `revokeSignInSessions`): every refresh
    /// token, the sessions of the sign-in page, and from now on (Continuous Access
    /// Evaluation) every access token issued before, for clients that declared `cp1`.
    /// Returns how many refresh tokens were revoked.
    pub fn revoke(st: &Shared, upn: &str) -> usize {
        let users: Vec<(String, String)> = {
            let world = st.world.read().expect("world lock");
            world
                .tenants
                .iter()
                .filter_map(|t| t.user_by_upn(upn).map(|u| (t.id.clone(), u.id.clone())))
                .collect()
        };
        let mut store = st.store.lock().expect("store lock");
        let mut n = 0;
        for g in store.refresh.values_mut() {
            if g.upn.eq_ignore_ascii_case(upn) && !g.revoked {
                g.revoked = true;
                n += 1;
            }
        }
        let at = crate::keys::now_ms();
        for (tid, oid) in &users {
            store
                .sessions_valid_from
                .insert(crate::state::user_key(tid, oid), at);
            store.sessions.retain(|_, s| {
                !(s.tid.eq_ignore_ascii_case(tid) && s.oid.eq_ignore_ascii_case(oid))
            });
        }
        drop(store);
        st.grants_changed();
        n
    }

    /// Adds a fault.
    pub fn set_fault(st: &Shared, f: Fault) {
        st.faults.lock().expect("faults lock").push(f);
    }

    /// Clears all faults.
    pub fn clear_faults(st: &Shared) {
        st.faults.lock().expect("faults lock").clear();
    }

    /// Applies a lifetime update; returns the new lifetimes.
    pub fn set_lifetimes(st: &Shared, u: LifetimesUpdate) -> Lifetimes {
        let mut lt = st.lifetimes.write().expect("lifetimes lock");
        if let Some(a) = u.access_token {
            lt.access_token_secs = (a > 0).then_some(a);
        }
        if let Some(r) = u.refresh_token {
            lt.refresh_token_secs = r;
        }
        if let Some(i) = u.id_token {
            lt.id_token_secs = i;
        }
        if let Some(c) = u.code {
            lt.code_secs = c;
        }
        *lt
    }

    /// Applies `change` to app registration `app_id` wherever it is registered (credentials
    /// belong to the registration, which each tenant's copy stands for). `false`: no such app.
    pub fn edit_app(
        st: &Shared,
        app_id: &str,
        mut change: impl FnMut(&mut crate::world::Application),
    ) -> bool {
        let mut world = st.world.write().expect("world lock");
        let mut found = false;
        for app in world
            .tenants
            .iter_mut()
            .flat_map(|t| t.applications.iter_mut())
            .filter(|a| a.app_id.eq_ignore_ascii_case(app_id))
        {
            change(app);
            found = true;
        }
        found
    }

    /// The issued refresh-token grants, oldest first.
    pub fn grants(st: &Shared) -> Vec<GrantInfo> {
        let store = st.store.lock().expect("store lock");
        let mut v: Vec<GrantInfo> = store.refresh.values().cloned().collect();
        v.sort_by_key(|g| g.issued);
        v
    }
}

async fn stats(State(st): State<AppState>) -> Response {
    Json(st.stats.snapshot()).into_response()
}

async fn stats_reset(State(st): State<AppState>) -> Response {
    st.stats.reset();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize, Default)]
struct RollBody {
    grace_secs: Option<u64>,
}

async fn roll(State(st): State<AppState>, body: Option<Json<RollBody>>) -> Response {
    let grace = body.and_then(|b| b.0.grace_secs).unwrap_or(3600);
    match ops::roll_keys(&st, Duration::from_secs(grace)) {
        Ok(kid) => {
            let kids = st.keys.read().expect("keys lock").kids();
            Json(json!({"kid": kid, "published": kids})).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn revoke(State(st): State<AppState>, Path(upn): Path<String>) -> Response {
    Json(json!({"revoked": ops::revoke(&st, &upn)})).into_response()
}

async fn add_fault(State(st): State<AppState>, Json(f): Json<Fault>) -> Response {
    ops::set_fault(&st, f);
    (StatusCode::CREATED, Json(f)).into_response()
}

async fn list_faults(State(st): State<AppState>) -> Response {
    Json(st.faults.lock().expect("faults lock").clone()).into_response()
}

async fn clear_faults(State(st): State<AppState>) -> Response {
    ops::clear_faults(&st);
    StatusCode::NO_CONTENT.into_response()
}

async fn lifetimes(State(st): State<AppState>, Json(u): Json<LifetimesUpdate>) -> Response {
    Json(ops::set_lifetimes(&st, u)).into_response()
}

async fn get_lifetimes(State(st): State<AppState>) -> Response {
    Json(*st.lifetimes.read().expect("lifetimes lock")).into_response()
}

async fn unconfirmed(
    State(st): State<AppState>,
    Json(update): Json<serde_json::Value>,
) -> Response {
    let current = st.unconfirmed();
    match current.updated(update) {
        Ok(next) => {
            *st.unconfirmed.write().expect("unconfirmed lock") = next;
            Json(next).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": e.to_string()})),
        )
            .into_response(),
    }
}

async fn get_unconfirmed(State(st): State<AppState>) -> Response {
    Json(st.unconfirmed()).into_response()
}

async fn grants(State(st): State<AppState>) -> Response {
    Json(ops::grants(&st)).into_response()
}

fn no_app(app_id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "Request_ResourceNotFound", "message": format!("Resource '{app_id}' does not exist or one of its queried reference-property objects are not present.")}})),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AddPasswordBody {
    #[serde(default)]
    password_credential: NewPassword,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NewPassword {
    display_name: Option<String>,
    /// ISO 8601, as Graph takes it.
    end_date_time: Option<String>,
}

/// Graph's `application: addPassword`: a new secret whose text is returned once.
async fn add_password(
    State(st): State<AppState>,
    Path(app_id): Path<String>,
    body: Option<Json<AddPasswordBody>>,
) -> Response {
    let new = body.map(|b| b.0.password_credential).unwrap_or_default();
    let end = match new
        .end_date_time
        .as_deref()
        .map(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339))
    {
        Some(Ok(t)) => Some(t.unix_timestamp()),
        Some(Err(e)) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"code": "Request_BadRequest", "message": format!("endDateTime: {e}")}})),
            )
                .into_response();
        }
        None => None,
    };
    let credential = crate::world::PasswordCredential {
        key_id: uuid::Uuid::new_v4().to_string(),
        secret_text: crate::tokens::opaque(30),
        end_date_time: end,
    };
    if !ops::edit_app(&st, &app_id, |app| {
        app.password_credentials.push(credential.clone());
    }) {
        return no_app(&app_id);
    }
    Json(json!({
        "keyId": credential.key_id,
        "secretText": credential.secret_text,
        "displayName": new.display_name,
        "endDateTime": new.end_date_time,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemovePasswordBody {
    key_id: String,
}

/// Graph's `application: removePassword`.
async fn remove_password(
    State(st): State<AppState>,
    Path(app_id): Path<String>,
    Json(body): Json<RemovePasswordBody>,
) -> Response {
    if !ops::edit_app(&st, &app_id, |app| {
        app.password_credentials
            .retain(|c| !c.key_id.eq_ignore_ascii_case(&body.key_id));
    }) {
        return no_app(&app_id);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Graph's `POST /applications/{id}/federatedIdentityCredentials`.
async fn add_federated(
    State(st): State<AppState>,
    Path(app_id): Path<String>,
    Json(credential): Json<crate::world::FederatedIdentityCredential>,
) -> Response {
    if !ops::edit_app(&st, &app_id, |app| {
        app.federated_identity_credentials
            .retain(|f| f.name != credential.name);
        app.federated_identity_credentials.push(credential.clone());
    }) {
        return no_app(&app_id);
    }
    (StatusCode::CREATED, Json(credential)).into_response()
}

async fn list_federated(State(st): State<AppState>, Path(app_id): Path<String>) -> Response {
    let world = st.world.read().expect("world lock");
    match world.tenants.iter().find_map(|t| t.app(&app_id)) {
        Some(app) => Json(json!({"value": app.federated_identity_credentials})).into_response(),
        None => no_app(&app_id),
    }
}

async fn federated_seen(State(st): State<AppState>) -> Response {
    Json(st.store.lock().expect("store lock").federated_seen.clone()).into_response()
}

async fn workload_token(
    State(st): State<AppState>,
    Path(cluster): Path<String>,
    Json(req): Json<crate::routes::workload::ServiceAccountToken>,
) -> Response {
    let token = crate::routes::workload::service_account_token(&st, &cluster, &req);
    Json(json!({
        "token": token,
        "issuer": crate::routes::workload::issuer(&st, &cluster),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_pass_as_host() {
        for ok in [
            "localhost",
            "LOCALHOST:3100",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:3100",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:3100",
            "localhost.evil.example",
            "127.0.0.1.nip.io:80",
            "127.0.0.2",
            "[::1",
            "[::1]x",
            "[::1]:",
            "localhost:31a",
            "::1",
            "user@localhost",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
