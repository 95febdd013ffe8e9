//! The end-session endpoint (reference §8): clears the emulator's session and redirects to a
//! `post_logout_redirect_uri` only if it is registered for the app. `logout_hint` (the
//! `login_hint` claim's value) names the account to sign out, so Entra shows no account
//! picker; the emulator has no picker, and a session holds one account, so it signs out the
//! browser's session and, when the hint names another account's sessions and the browser sent
//! none, those.

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

use super::{authorize::SESSION_COOKIE, esc};
use crate::{
    params::Params,
    state::{AppState, Counters},
    tokens,
};

/// Logout routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/{tenant}/oauth2/v2.0/logout",
        get(logout_get).post(logout_post),
    )
}

async fn logout_get(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    logout(
        &st,
        &seg,
        &headers,
        Params::parse(q.unwrap_or_default().as_bytes()),
    )
}

async fn logout_post(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    logout(&st, &seg, &headers, Params::parse(&body))
}

fn logout(st: &crate::state::Shared, seg: &str, headers: &HeaderMap, p: Params) -> Response {
    Counters::bump(&st.stats.logout);
    // Drop the session.
    let sid = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string());
    let hinted = p.get("logout_hint").and_then(tokens::parse_login_hint);
    {
        let mut store = st.store.lock().expect("store lock");
        match (&sid, &hinted) {
            (Some(sid), _) => {
                store.sessions.remove(sid);
            }
            (None, Some((oid, tid))) => store
                .sessions
                .retain(|_, s| !(s.oid.eq_ignore_ascii_case(oid) && s.tid == *tid)),
            (None, None) => {}
        }
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    let mut resp = match p.get("post_logout_redirect_uri") {
        None => Html(
            "<!doctype html><html lang=\"en\"><head><link rel=\"icon\" href=\"data:,\"><title>Signed out</title></head><body><main><h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p></main></body></html>".to_string(),
        )
        .into_response(),
        Some(uri) => {
            let world = st.world.read().expect("world lock");
            let client_id = p.get("client_id").map(str::to_string).or_else(|| {
                p.get("id_token_hint")
                    .and_then(|t| tokens::decode(t).ok())
                    .and_then(|d| d.claims["aud"].as_str().map(str::to_string))
            });
            let tenant = super::tenant_seg(&world, seg)
                .ok()
                .and_then(|t| match t {
                    super::TenantSeg::Tenant(id) => world.tenant(&id),
                    super::TenantSeg::Alias(_) => super::pick_tenant(
                        &world,
                        &[
                            hinted.as_ref().map(|(_, tid)| tid.as_str()),
                            client_id.as_deref(),
                        ],
                    ),
                });
            let allowed = tenant.is_some_and(|t| match &client_id {
                Some(c) => t.app(c).is_some_and(|a| a.redirect_uri_allowed(uri)),
                None => t.applications.iter().any(|a| a.redirect_uri_allowed(uri)),
            });
            if allowed {
                let location = match p.get("state") {
                    Some(s) => {
                        let sep = if uri.contains('?') { '&' } else { '?' };
                        let q = url::form_urlencoded::Serializer::new(String::new())
                            .append_pair("state", s)
                            .finish();
                        format!("{uri}{sep}{q}")
                    }
                    None => uri.to_string(),
                };
                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    Html(format!(
                        "<!doctype html><html lang=\"en\"><head><link rel=\"icon\" href=\"data:,\"><title>Sign out error</title></head><body><main><h1>Sign out</h1><p role=\"alert\" id=\"error\">AADSTS50011: The post_logout_redirect_uri '{}' is not registered for the application.</p></main></body></html>",
                        esc(uri)
                    )),
                )
                    .into_response()
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&clear) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
