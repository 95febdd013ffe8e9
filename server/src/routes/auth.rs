//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`: the authorization code
//! flow with PKCE, and sign-out at the identity provider. `GET /auth/frontchannel-logout` is
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

mod get {
    use axum::{
        extract::{Query, State},
        http::StatusCode,
        response::{IntoResponse, Redirect, Response},
    };
    use serde::Deserialize;

    use super::{super::page::error_page, AuthState};
    use crate::{
        aadsts::{self, Operation},
        domain::{ReturnTo, Secret},
        entra::decode_unverified,
        session::{AuthTransaction, SignedInUser, UserSession, now},
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
            nonce: Secret::new(start.nonce),
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
        code: Option<String>,
        state: Option<String>,
        error: Option<String>,
        error_description: Option<String>,
        /// Entra's sign-in session id (the ID token's `sid`), for ID tokens without `sid`.
        session_state: Option<String>,
    }

    pub async fn callback(
        State(state): State<AuthState>,
        session: UserSession,
        Query(query): Query<CallbackQuery>,
    ) -> Response {
        let transaction = match query.state.as_deref() {
            Some(s) => match session.take_transaction(s).await {
                Ok(t) => t,
                Err(err) => return store_failed(err),
            },
            None => None,
        };
        let retry = |return_to: &ReturnTo| app::api::sign_in_url(return_to.as_str());

        // Without a pending sign-in of this browser, nothing in the query is trusted or
        // shown: not even an error text (it could be written by anyone).
        let Some(transaction) = transaction else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is no longer valid",
                &[
                    "It was already used, it is older than 15 minutes, or it was started in \
                   another browser. Nothing was lost: sign in again."
                        .to_owned(),
                ],
                (&retry(&ReturnTo::default()), "Sign in again"),
            );
        };

        if let Some(error) = query.error {
            let body = crate::entra::EntraErrorBody {
                error,
                error_description: query.error_description,
                ..Default::default()
            };
            let problem = aadsts::explain(
                &crate::entra::IdpError::Rejected {
                    endpoint: "authorize",
                    status: 400,
                    body: Box::new(body),
                },
                &Operation::SignIn,
                &state.config,
                &retry(&transaction.return_to),
            );
            failed(&state, &problem);
            let title = match problem.code {
                Some(code) => format!("Sign-in failed: AADSTS{code}: {}", problem.title),
                None => format!("Sign-in failed: {}", problem.title),
            };
            return error_page(
                StatusCode::BAD_REQUEST,
                &title,
                &[problem.meaning, problem.cause, problem.fix],
                (&retry(&transaction.return_to), "Sign in again"),
            );
        }

        let Some(code) = query.code else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The identity provider sent no authorization code",
                &["The sign-in response was incomplete. Sign in again.".to_owned()],
                (&retry(&transaction.return_to), "Sign in again"),
            );
        };

        let entra = state.tokens.entra();
        let (id_token, grant) = match entra
            .redeem_code(code, transaction.pkce_verifier, transaction.nonce.expose())
            .await
        {
            Ok(ok) => ok,
            Err(crate::entra::CodeRedemptionError::Idp(err)) => {
                let problem = aadsts::explain(
                    &err,
                    &Operation::SignIn,
                    &state.config,
                    &retry(&transaction.return_to),
                );
                tracing::warn!("code redemption failed: {err}");
                failed(&state, &problem);
                // A code the provider refuses came from the browser: a 4xx with the reason.
                // An unreachable or failing provider is the gateway's problem.
                let status = match &err {
                    crate::entra::IdpError::Rejected { body, .. }
                        if matches!(body.error.as_str(), "invalid_grant" | "invalid_request") =>
                    {
                        StatusCode::BAD_REQUEST
                    }
                    crate::entra::IdpError::Throttled { .. }
                    | crate::entra::IdpError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::BAD_GATEWAY,
                };
                return error_page(
                    status,
                    &format!("Sign-in failed: {}", problem.title),
                    &[problem.meaning, problem.cause, problem.fix],
                    (&retry(&transaction.return_to), "Sign in again"),
                );
            }
            Err(crate::entra::CodeRedemptionError::TenantNotAllowed { tid }) => {
                tracing::warn!(%tid, "sign-in refused: tenant not in AZURE_AD_ALLOWED_TENANTS");
                count_failure(&state, "tenant_not_allowed");
                return error_page(
                    StatusCode::FORBIDDEN,
                    "Your organization cannot sign in to this app",
                    &[
                        format!(
                            "You signed in with an account of the directory (tenant) {tid}, \
                             which this app does not serve. Nothing was stored."
                        ),
                        "Sign in with an account of an organization this app serves, or ask \
                         its operator to add your tenant id to AZURE_AD_ALLOWED_TENANTS."
                            .to_owned(),
                    ],
                    ("/", "Back to the home page"),
                );
            }
            Err(err) => {
                tracing::warn!("sign-in rejected: {err}");
                count_failure(&state, "id_token_rejected");
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Sign-in rejected: the ID token did not pass validation",
                    &[
                        err.to_string(),
                        "The server refused this sign-in to protect your account. Sign in \
                         again; if this repeats, the identity provider configuration \
                         (AZURE_AD_TENANT_ID, AZURE_AD_AUTHORITY_HOST) may be wrong."
                            .to_owned(),
                    ],
                    (&retry(&transaction.return_to), "Sign in again"),
                );
            }
        };

        let claims = id_token.claims();
        let lifetime = grant.expires_at - now();
        let user = SignedInUser {
            tenant_id: claims.tid.clone(),
            object_id: claims.oid.clone(),
            name: claims.name.clone().unwrap_or_else(|| claims.oid.clone()),
            username: claims.preferred_username.clone().unwrap_or_default(),
            login_hint: claims.login_hint.clone(),
            id_token_header: id_token.header_json().clone(),
            id_token_claims: id_token.claims_json().clone(),
            refresh_token: grant.refresh_token,
            api_token: grant.access_token,
            api_token_expires_at: grant.expires_at,
            api_token_lifetime: lifetime,
            signed_in_at: now(),
        };
        if decode_unverified(user.api_token.expose()).is_none() {
            tracing::warn!("the sign-in access token is not a JWT; the token view will omit it");
        }
        // Tokens minted with an old claims challenge are replaced: drop cached OBO tokens.
        state
            .tokens
            .purge_user(&user.tenant_id, &user.object_id)
            .await;
        let session_id = match session.sign_in(&user).await {
            Ok(id) => id,
            Err(err) => return store_failed(err),
        };
        // Remembered for the identity provider's front-channel sign-out. Without it the
        // session still works; only single sign-out misses it, so the sign-in goes on.
        if let Some(sid) = claims.sid.as_deref().or(query.session_state.as_deref()) {
            let opened = crate::store::sid_index::Opened {
                session_id,
                tenant_id: user.tenant_id.clone(),
                object_id: user.object_id.clone(),
                expires_at: now() + state.config.session.absolute_timeout.as_secs() as i64,
            };
            if let Err(err) = state.stores.sid_index.record(sid, opened, now()).await {
                tracing::warn!("the sign-in is not indexed for front-channel sign-out: {err}");
            }
        }
        tracing::info!(oid = %user.object_id, tid = %user.tenant_id, "signed in");
        state.metrics.sign_ins.inc();
        Redirect::to(transaction.return_to.as_str()).into_response()
    }

    pub(super) fn store_failed(err: impl std::fmt::Display) -> Response {
        tracing::error!("session store: {err}");
        crate::store::health::unavailable("/auth/")
    }

    /// Counts a failed sign-in by its AADSTS code: only codes the catalogue knows, so that
    /// a crafted error text cannot grow the metrics without bound.
    fn failed(state: &AuthState, problem: &app::model::Problem) {
        match problem.code {
            Some(code) if problem.lookup_url.is_none() => {
                count_failure(state, &format!("AADSTS{code}"))
            }
            _ => count_failure(state, "other"),
        }
    }

    fn count_failure(state: &AuthState, code: &str) {
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
