//! `POST /auth/logout`: destroys the session and its cached tokens, then signs out at the
//! identity provider (its end-session endpoint, with `logout_hint` when the ID token carried
//! the `login_hint` optional claim).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use super::state::{AuthState, store_failed};
use crate::{csrf::check_same_origin, routes::page::error_page, session::UserSession};

pub async fn logout(
    State(state): State<AuthState>,
    headers: HeaderMap,
    session: UserSession,
) -> Response {
    if let Err(reason) = check_same_origin(&headers, &state.config.public_url) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Sign-out refused",
            &[format!("{reason}. Use the Sign out button of this app.")],
            ("/", "Back to the home page"),
        );
    }
    let user = match session.user().await {
        Ok(user) => user,
        Err(err) => return store_failed(err),
    };
    if let Some(user) = &user {
        state
            .tokens
            .purge_user(&user.tenant_id, &user.object_id)
            .await;
    }
    if let Some(id) = session.stored_id(&state.stores.ids).await {
        state.profiles.forget(&id).await;
    }
    if let Err(err) = session.destroy().await {
        return store_failed(err);
    }
    let hint = user.as_ref().and_then(|u| u.login_hint.as_deref());
    match state.tokens.entra().logout_url(hint) {
        Some(url) => Redirect::to(url.as_str()).into_response(),
        None => Redirect::to("/").into_response(),
    }
}
