//! `GET /auth/frontchannel-logout?sid=…`: Entra's single sign-out. When the user signs out of
//! another app in the same browser session, the identity provider's sign-out page loads this
//! app's registered front-channel logout URL in a hidden iframe with the session's `sid`
//! (Microsoft identity platform, "Single sign-out" in *OpenID Connect on the Microsoft
//! identity platform*; OpenID Connect Front-Channel Logout 1.0 §2). Every session of this app
//! that sign-in session opened ends, with its cached tokens and profile.
//!
//! Entra sends `sid` alone; `iss`, which the OpenID specification adds, is checked when
//! present (an `iss` this app does not trust ends nothing). The answer may be framed by the
//! identity provider's origin only.

use axum::{
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;

use super::state::AuthState;
use crate::session::now;

/// Longer than any `sid` Entra issues (a GUID); anything longer is not one.
const MAX_SID_LEN: usize = 128;

#[derive(Deserialize)]
pub struct FrontChannelQuery {
    sid: Option<String>,
    iss: Option<String>,
}

pub async fn logout(
    State(state): State<AuthState>,
    Query(query): Query<FrontChannelQuery>,
) -> Response {
    let Some(sid) = query
        .sid
        .filter(|sid| !sid.is_empty() && sid.len() <= MAX_SID_LEN)
    else {
        return answer(
            &state,
            StatusCode::BAD_REQUEST,
            "No session named",
            "This address is called by the identity provider with the session id (sid) of the \
             sign-in that ended. Register it as the app's front-channel logout URL.",
        );
    };
    let entra = state.tokens.entra();
    let trusted = |tid: &str| {
        query
            .iss
            .as_deref()
            .is_none_or(|iss| entra.metadata().issuer_for(tid) == iss)
    };
    let opened = match state.stores.sid_index.sessions(&sid, now()).await {
        Ok(opened) => opened,
        Err(err) => {
            tracing::error!("front-channel sign-out: the session store failed: {err}");
            return answer(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The session store is unavailable",
                "The sessions of this sign-in could not be looked up.",
            );
        }
    };
    let (ending, foreign): (Vec<_>, Vec<_>) =
        opened.into_iter().partition(|o| trusted(&o.tenant_id));
    if !foreign.is_empty() {
        tracing::warn!(
            "front-channel sign-out ignored: iss is not the issuer of the sessions' tenant"
        );
    }
    for opened in &ending {
        if let Err(err) = state.stores.delete_session(&opened.session_id).await {
            tracing::error!("front-channel sign-out: a session could not be deleted: {err}");
            return answer(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The session store is unavailable",
                "The session could not be ended.",
            );
        }
        state
            .tokens
            .purge_user(&opened.tenant_id, &opened.object_id)
            .await;
        state.profiles.forget(&opened.session_id).await;
        state.metrics.front_channel_sign_outs.inc();
    }
    if !ending.is_empty() && foreign.is_empty() {
        if let Err(err) = state.stores.sid_index.forget(&sid).await {
            tracing::warn!("front-channel sign-out: the ended sign-in stays indexed: {err}");
        }
        tracing::info!(
            sessions = ending.len(),
            "signed out by the identity provider"
        );
    }
    answer(
        &state,
        StatusCode::OK,
        "Signed out",
        "Your session in this app has ended.",
    )
}

/// A small page (what the iframe shows, if anyone looks), framable by the identity provider's
/// sign-out page and nothing else.
fn answer(state: &AuthState, status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let origin = identity_provider_origin(state);
    if let Ok(policy) =
        HeaderValue::from_str(&format!("default-src 'none'; frame-ancestors {origin}"))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
        response
            .extensions_mut()
            .insert(crate::headers::FramableByIdentityProvider);
    }
    response
}

/// The origin of the identity provider's sign-out page (the end-session endpoint's, else the
/// authorization endpoint's).
fn identity_provider_origin(state: &AuthState) -> String {
    let metadata = state.tokens.entra().metadata();
    metadata
        .end_session_endpoint
        .as_ref()
        .unwrap_or(&metadata.authorization_endpoint)
        .origin()
        .ascii_serialization()
}
