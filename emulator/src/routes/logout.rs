//! The end-session endpoint (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-protocols-oidc, "Send a sign-out request"): clears the emulator's session and redirects to a
//! `post_logout_redirect_uri` only if it is registered for the app. `logout_hint` (the
//! `login_hint` claim's value) names the account to sign out, so Entra shows no account
//! picker; the emulator has no picker, and a session holds one account, so it signs out the
//! browser's session and, when the hint names another account's sessions and the browser sent
//! none, those.
//!
//! Single sign-out: the apps that got a code in the ended session and registered a
//! front-channel logout URL (`web.logoutUrl`) are loaded in hidden iframes with `?sid=` only,
//! as Entra does (no `iss`, unlike OpenID Connect Front-Channel Logout 1.0 §2; reported in
//! nginxinc/nginx-openid-connect#117 and MicrosoftDocs/entra-docs#333), before the browser
//! goes on to the `post_logout_redirect_uri`.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

use super::{authorize::SESSION_COOKIE, esc};
use crate::{
    params::Params,
    state::{AppState, Counters, Session},
    tokens,
    world::World,
};

/// Logout routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/oauth2/v2.0/logout", get(logout).post(logout))
}

/// Ends the browser's sessions (and the hinted user's), then front-channel sign-out and the
/// way back to the app.
async fn logout(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    p: Params,
) -> Response {
    let seg = seg.as_str();
    Counters::bump(&st.stats.logout);
    let cookie = super::authorize::session_id(&headers);
    let hinted = p.get("logout_hint").and_then(tokens::parse_login_hint);
    let ended = end_sessions(&st, cookie.as_deref(), hinted.as_ref());
    let world = st.world.read().expect("world lock");
    let client_id = p.get("client_id").map(str::to_string).or_else(|| {
        p.get("id_token_hint")
            .and_then(|t| tokens::decode(t).ok())
            .and_then(|d| d.claims["aud"].as_str().map(str::to_string))
    });
    let next = match p.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let tenant = super::tenant_seg(&world, seg).ok().and_then(|t| match t {
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
            if !allowed {
                return with_cleared_cookie(
                    (
                        StatusCode::BAD_REQUEST,
                        Html(format!(
                            "<!doctype html><html lang=\"en\"><head><link rel=\"icon\" href=\"data:,\"><title>Sign out error</title></head><body><main><h1>Sign out</h1><p role=\"alert\" id=\"error\">AADSTS50011: The post_logout_redirect_uri '{}' is not registered for the application.</p></main></body></html>",
                            esc(uri)
                        )),
                    )
                        .into_response(),
                );
            }
            Some(match p.get("state") {
                Some(s) => {
                    let sep = if uri.contains('?') { '&' } else { '?' };
                    let q = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", s)
                        .finish();
                    format!("{uri}{sep}{q}")
                }
                None => uri.to_string(),
            })
        }
    };
    let calls = front_channel_calls(&world, &ended);
    let response = match (next, calls.is_empty()) {
        (Some(location), true) => {
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        (next, _) => Html(signed_out_page(&calls, next.as_deref())).into_response(),
    };
    with_cleared_cookie(response)
}

/// Removes the browser's session (by its cookie) or, without one, the hinted account's
/// sessions; returns them.
fn end_sessions(
    st: &crate::state::Shared,
    cookie: Option<&str>,
    hinted: Option<&(String, String)>,
) -> Vec<Session> {
    let mut store = st.store.lock().expect("store lock");
    match (cookie, hinted) {
        (Some(sid), _) => store.sessions.remove(sid).into_iter().collect(),
        (None, Some((oid, tid))) => {
            let ids: Vec<String> = store
                .sessions
                .iter()
                .filter(|(_, s)| s.oid.eq_ignore_ascii_case(oid) && s.tid == *tid)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter()
                .filter_map(|id| store.sessions.remove(id))
                .collect()
        }
        (None, None) => vec![],
    }
}

/// One front-channel logout call: an app's registered URL with the session's `sid`.
struct FrontChannelCall {
    app_name: String,
    url: String,
}

/// The front-channel logout URLs of the apps signed in to in `ended`, the app that asked to
/// sign out included (as Entra does: an app whose front-channel URL starts a sign-out again
/// loops).
fn front_channel_calls(world: &World, ended: &[Session]) -> Vec<FrontChannelCall> {
    let mut calls = vec![];
    for session in ended {
        for client_id in &session.apps {
            let app = world
                .tenant(&session.tid)
                .and_then(|t| t.app(client_id))
                .or_else(|| world.tenants.iter().find_map(|t| t.app(client_id)));
            let Some((app, logout_url)) =
                app.and_then(|a| a.web.logout_url.as_deref().map(|u| (a, u)))
            else {
                continue;
            };
            let sep = if logout_url.contains('?') { '&' } else { '?' };
            let sid = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("sid", &session.auth.sid)
                .finish();
            calls.push(FrontChannelCall {
                app_name: app.display_name.clone(),
                url: format!("{logout_url}{sep}{sid}"),
            });
        }
    }
    calls
}

/// The "signed out" page: hidden iframes to the other apps' front-channel logout URLs, then
/// on to `next` once they have loaded (or after 5 s), with a link for browsers without
/// scripts.
fn signed_out_page(calls: &[FrontChannelCall], next: Option<&str>) -> String {
    let frames: String = calls
        .iter()
        .map(|c| {
            format!(
                "<iframe hidden title=\"Signing out of {}\" src=\"{}\"></iframe>",
                esc(&c.app_name),
                esc(&c.url)
            )
        })
        .collect();
    let onward = match next {
        Some(next) => {
            // JSON is a JavaScript literal; `<` escaped so that the text cannot end the script.
            let target = serde_json::to_string(next)
                .unwrap_or_default()
                .replace('<', "\\u003c");
            format!(
                "<p><a id=\"continue\" href=\"{}\">Continue</a></p><script>(function(){{var go=function(){{location.replace({target})}};window.addEventListener('load',go);setTimeout(go,5000)}})()</script>",
                esc(next)
            )
        }
        None => "<p>It's a good idea to close all browser windows.</p>".to_owned(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><link rel=\"icon\" href=\"data:,\"><title>Signed out</title></head><body><main><h1>You signed out of your account</h1>{frames}{onward}</main></body></html>"
    )
}

fn with_cleared_cookie(mut response: Response) -> Response {
    let clear = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
