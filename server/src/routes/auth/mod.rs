//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`: the authorization code
//! flow with PKCE (the callback's flow is [`super::callback`]), and sign-out at the identity
//! provider. `GET /auth/frontchannel-logout` is
//! the identity provider's sign-out of this app ([`super::front_channel`]).

use std::sync::Arc;

use axum::{Router, routing::get, routing::post};

use crate::{
    config::Config, metrics::Metrics, profiles::Profiles, store::Stores, tokens::TokenService,
};

#[derive(Clone)]
pub struct AuthState {
    pub config: Arc<Config>,
    pub tokens: Arc<TokenService>,
    pub metrics: Arc<Metrics>,
    pub profiles: Profiles,
    pub stores: Arc<Stores>,
}

pub fn router(state: AuthState) -> Router {
    let limit = state.config.auth_rate_limit;
    let routes = Router::new()
        .route("/auth/login", get(get::login))
        .route("/auth/callback", get(get::callback))
        .route("/auth/logout", post(post::logout))
        .route(
            "/auth/frontchannel-logout",
            get(super::front_channel::logout),
        )
        .with_state(state);
    crate::rate_limit::limit(routes, &limit)
}

pub(super) mod get {
    use axum::{
        extract::{Query, State},
        response::{IntoResponse, Redirect, Response},
    };
    use serde::Deserialize;

    use super::AuthState;
    use crate::{
        domain::{Nonce, ReturnTo},
        session::{AuthTransaction, UserSession, now},
    };

    #[derive(Deserialize)]
    pub struct LoginQuery {
        return_to: Option<String>,
    }

    pub async fn login(
        State(state): State<AuthState>,
        session: UserSession,
        Query(query): Query<LoginQuery>,
    ) -> Response {
        let return_to = query
            .return_to
            .as_deref()
            .and_then(ReturnTo::parse)
            .unwrap_or_default();
        // A pending Conditional Access challenge or missing consent shapes this sign-in.
        let (claims, consent) =
            match tokio::try_join!(session.claims_challenge(), session.consent_scopes()) {
                Ok(pending) => pending,
                Err(err) => return store_failed(err),
            };
        let start = state
            .tokens
            .entra()
            .start_authorization(claims.as_deref(), consent.as_ref());
        let transaction = AuthTransaction {
            state: start.state.secret().clone(),
            pkce_verifier: start.pkce_verifier,
            nonce: Nonce::new(start.nonce),
            return_to,
            started_at: now(),
        };
        if let Err(err) = session.push_transaction(transaction).await {
            return store_failed(err);
        }
        Redirect::to(start.url.as_str()).into_response()
    }

    #[derive(Deserialize)]
    pub struct CallbackQuery {
        pub(in crate::routes) code: Option<String>,
        pub(in crate::routes) state: Option<String>,
        pub(in crate::routes) error: Option<String>,
        pub(in crate::routes) error_description: Option<String>,
        /// Entra's sign-in session id (the ID token's `sid`), for ID tokens without `sid`.
        pub(in crate::routes) session_state: Option<String>,
    }

    pub async fn callback(
        State(state): State<AuthState>,
        session: UserSession,
        Query(query): Query<CallbackQuery>,
    ) -> Response {
        match super::super::callback::complete(&state, &session, query).await {
            Ok(return_to) => Redirect::to(return_to.as_str()).into_response(),
            Err(err) => err.into_response(),
        }
    }

    pub(in crate::routes) fn store_failed(err: impl std::fmt::Display) -> Response {
        tracing::error!("session store: {err}");
        crate::store::health::unavailable("/auth/")
    }

    /// Counts a failed sign-in by its AADSTS code: only codes the catalogue knows, so that
    /// a crafted error text cannot grow the metrics without bound.
    pub(in crate::routes) fn failed(state: &AuthState, problem: &app::model::Problem) {
        match problem.code {
            Some(code) if problem.lookup_url.is_none() => {
                count_failure(state, &format!("AADSTS{code}"))
            }
            _ => count_failure(state, "other"),
        }
    }

    pub(in crate::routes) fn count_failure(state: &AuthState, code: &str) {
        state
            .metrics
            .sign_in_failures
            .get_or_create(&crate::metrics::CodeLabels { code: code.into() })
            .inc();
    }
}

mod post {
    use axum::{
        extract::State,
        http::{HeaderMap, StatusCode},
        response::{IntoResponse, Redirect, Response},
    };

    use super::{super::page::error_page, AuthState, get::store_failed};
    use crate::{csrf::check_same_origin, session::UserSession};

    /// Destroys the session and its cached tokens, then signs out at the identity provider.
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
        if let Some(id) = session.id() {
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
}

#[cfg(test)]
mod properties {
    use axum::{extract::Query, http::Uri};
    use proptest::prelude::*;

    use super::get::CallbackQuery;

    const KNOWN: [&str; 5] = [
        "code",
        "state",
        "error",
        "error_description",
        "session_state",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any query parses or is refused, without a panic; one of each known parameter
        /// (and anything else) parses; a known parameter twice is refused.
        #[test]
        fn the_callback_query_is_read_or_refused(
            pairs in prop::collection::vec(
                (prop_oneof![Just("code".to_owned()), Just("state".to_owned()),
                    Just("error".to_owned()), Just("error_description".to_owned()),
                    "[a-z_]{0,6}"], any::<String>()),
                0..6,
            ),
            raw in "[ -~]{0,40}",
        ) {
            if let Ok(uri) = format!("/auth/callback?{raw}").parse::<Uri>() {
                let _ = Query::<CallbackQuery>::try_from_uri(&uri);
            }
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            let uri: Uri = format!("/auth/callback?{query}").parse().unwrap();
            let parsed = Query::<CallbackQuery>::try_from_uri(&uri);
            let twice = KNOWN
                .iter()
                .any(|name| pairs.iter().filter(|(k, _)| k == name).count() > 1);
            prop_assert_eq!(parsed.is_ok(), !twice, "{}", query);
        }
    }
}
