//! `GET /auth/callback`: the end of the authorization code flow. The flow is
//! [`complete`]: the pending sign-in this browser started, the identity provider's answer,
//! the code redeemed (PKCE, nonce, ID token checked), the session stored under a new id and
//! indexed for front-channel sign-out. Every way it can fail is a [`CallbackError`], mapped
//! once to the page the user sees.
//!
//! A sign-in that named downstream scopes for consent only, and that Entra refused because of
//! them (an API without a service principal in the user's tenant, AADSTS650052; a tenant
//! where users may not consent, AADSTS90094), starts again at once without them: one
//! unavailable API must not keep a whole tenant out of the app. The refusal is remembered, so
//! that API's first call explains that an administrator must consent instead of asking the
//! user again. A bare `access_denied` with `error_subcode=cancel` (no code) may be Entra's
//! *Need admin approval* page or the user's own cancel: the page offers the sign-in without
//! those scopes, and leaves the choice to the user.

use app::model::Problem;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    login::{ConsentAtSignIn, SignInPlan, begin},
    state::{AuthState, count_failure, failed, store_failed},
};
use crate::{
    aadsts::{self, Operation},
    domain::ReturnTo,
    entra::{CodeRedemptionError, EntraErrorBody, IdpError, decode_unverified},
    routes::page::error_page,
    session::{AuthTransaction, SessionError, SignedInUser, UserSession, now},
    store::sid_index::Opened,
};

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// `cancel` when the user came back from Entra's "Need admin approval" page.
    error_subcode: Option<String>,
    /// Entra's sign-in session id (the ID token's `sid`), for ID tokens without `sid`. That it
    /// equals `sid` is unconfirmed (emulator/README.md, ledger L6): the ID token's `sid` is read
    /// first.
    session_state: Option<String>,
}

pub async fn callback(
    State(state): State<AuthState>,
    session: UserSession,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match complete(&state, &session, query).await {
        Ok(Completed::SignedIn(return_to)) => Redirect::to(return_to.as_str()).into_response(),
        Ok(Completed::Retry(plan)) => begin(&state, &session, plan).await,
        Err(err) => err.into_response(),
    }
}

/// How a callback ended well.
pub(super) enum Completed {
    /// Signed in: back to the page the sign-in started from.
    SignedIn(ReturnTo),
    /// Refused for scopes named for consent only: the sign-in starts again without them.
    Retry(SignInPlan),
}

/// The AADSTS code of a sign-in the identity provider refused for a consent it asked for
/// ([`aadsts::refuses_consent`]).
fn consent_refusal(body: &EntraErrorBody) -> Option<u32> {
    body.code().filter(|c| aadsts::refuses_consent(*c))
}

/// Whether the answer is the bare `access_denied` + `error_subcode=cancel`, without a code:
/// what Entra's "Need admin approval" page answers with (unconfirmed; emulator/README.md,
/// ledger K4), and also what a user's Cancel on the sign-in page gives.
fn cancelled(body: &EntraErrorBody, subcode: Option<&str>) -> bool {
    body.error == "access_denied" && subcode == Some("cancel") && body.code().is_none()
}

/// Why a callback did not sign anyone in.
pub enum CallbackError {
    /// No pending sign-in of this browser matches: nothing in the query is trusted or shown.
    NoPendingSignIn,
    /// The identity provider refused the sign-in or the code, explained.
    Refused {
        problem: Box<Problem>,
        status: StatusCode,
        retry: String,
    },
    /// The answer had neither a code nor an error.
    NoCode { retry: String },
    /// The user's organization is not one this app serves.
    TenantNotAllowed { tid: String },
    /// The sign-in named one tenant and came back from another.
    TenantMismatch { retry: String },
    /// The user came back without signing in (cancelled, or Entra's "Need admin approval"):
    /// the sign-in without the scopes named for consent is offered.
    Cancelled { without_consent: String },
    /// The ID token failed validation.
    IdTokenRejected { detail: String, retry: String },
    /// The session store failed.
    Store(SessionError),
}

impl IntoResponse for CallbackError {
    fn into_response(self) -> Response {
        match self {
            Self::NoPendingSignIn => error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is no longer valid",
                &[
                    "It was already used, it is older than 15 minutes, or it was started in \
                   another browser. Nothing was lost: sign in again."
                        .to_owned(),
                ],
                (&retry(&ReturnTo::default()), "Sign in again"),
            ),
            Self::Refused {
                problem,
                status,
                retry,
            } => {
                let title = match problem.code {
                    Some(code) => format!("Sign-in failed: AADSTS{code}: {}", problem.title),
                    None => format!("Sign-in failed: {}", problem.title),
                };
                error_page(
                    status,
                    &title,
                    &[problem.meaning, problem.cause, problem.fix],
                    (&retry, "Sign in again"),
                )
            }
            Self::NoCode { retry } => error_page(
                StatusCode::BAD_REQUEST,
                "The identity provider sent no authorization code",
                &["The sign-in response was incomplete. Sign in again.".to_owned()],
                (&retry, "Sign in again"),
            ),
            Self::TenantNotAllowed { tid } => error_page(
                StatusCode::FORBIDDEN,
                "Your organization cannot sign in to this app",
                &[
                    format!(
                        "You signed in with an account of the directory (tenant) {tid}, which \
                         this app does not serve. Nothing was stored."
                    ),
                    "Sign in with an account of an organization this app serves, or ask its \
                     operator to add your tenant id to AZURE_AD_ALLOWED_TENANTS."
                        .to_owned(),
                ],
                ("/", "Back to the home page"),
            ),
            Self::Cancelled { without_consent } => error_page(
                StatusCode::BAD_REQUEST,
                "You came back without signing in",
                &[
                    "The sign-in was cancelled. If Microsoft showed \"Need admin approval\", \
                   your organization must approve some of the permissions this app asks for; \
                   you can still sign in without them (the parts of the app that need them \
                   will say so)."
                        .to_owned(),
                ],
                (&without_consent, "Sign in without those permissions"),
            ),
            Self::TenantMismatch { retry } => error_page(
                StatusCode::BAD_REQUEST,
                "You signed in to another organization than the one you chose",
                &[
                    "The account you used belongs to another directory. Sign in again with \
                   your account of the organization you chose, or without choosing one."
                        .to_owned(),
                ],
                (&retry, "Sign in again"),
            ),
            Self::IdTokenRejected { detail, retry } => error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in rejected: the ID token did not pass validation",
                &[
                    detail,
                    "The server refused this sign-in to protect your account. Sign in again; \
                     if this repeats, the identity provider configuration \
                     (AZURE_AD_TENANT_ID, AZURE_AD_AUTHORITY_HOST) may be wrong."
                        .to_owned(),
                ],
                (&retry, "Sign in again"),
            ),
            Self::Store(err) => store_failed(err),
        }
    }
}

impl From<SessionError> for CallbackError {
    fn from(err: SessionError) -> Self {
        Self::Store(err)
    }
}

fn retry(return_to: &ReturnTo) -> String {
    app::api::sign_in_url(return_to.as_str())
}

/// Finishes a sign-in: where to send the browser, or the sign-in to start again.
pub(super) async fn complete(
    state: &AuthState,
    session: &UserSession,
    query: CallbackQuery,
) -> Result<Completed, CallbackError> {
    let transaction = match query.state.as_deref() {
        Some(s) => session.take_transaction(s).await?,
        None => None,
    };
    // Without a pending sign-in of this browser, nothing in the query is trusted or shown:
    // not even an error text (it could be written by anyone).
    let transaction = transaction.ok_or(CallbackError::NoPendingSignIn)?;
    let retry = retry(&transaction.return_to);

    if let Some(error) = query.error {
        let body = EntraErrorBody {
            error,
            error_description: query.error_description,
            ..Default::default()
        };
        if transaction.named_consent_scopes
            && let Some(code) = consent_refusal(&body)
        {
            tracing::info!(
                code,
                "the sign-in was refused for scopes named for consent; starting again without \
                 them: {}",
                body.message()
            );
            count_failure(state, "consent_scopes_refused");
            session.set_consent_refused(code).await?;
            return Ok(Completed::Retry(retry_plan(transaction)));
        }
        if transaction.named_consent_scopes && cancelled(&body, query.error_subcode.as_deref()) {
            count_failure(state, "cancelled");
            let without_consent = format!(
                "{}&consent=skip{}",
                retry,
                transaction
                    .tenant
                    .as_deref()
                    .map(|t| format!("&tenant={t}"))
                    .unwrap_or_default()
            );
            return Err(CallbackError::Cancelled { without_consent });
        }
        let problem = aadsts::explain(
            &IdpError::Rejected {
                endpoint: "authorize",
                status: 400,
                body: Box::new(body),
            },
            &Operation::SignIn,
            &state.config,
            &retry,
        );
        failed(state, &problem);
        return Err(CallbackError::Refused {
            problem: Box::new(problem),
            status: StatusCode::BAD_REQUEST,
            retry,
        });
    }
    let code = query.code.ok_or_else(|| CallbackError::NoCode {
        retry: retry.clone(),
    })?;

    let entra = state.tokens.entra();
    let (id_token, grant) = match entra
        .redeem_code(
            code,
            transaction.pkce_verifier,
            transaction.nonce.expose(),
            transaction.tenant.as_deref(),
            transaction.claims.as_ref(),
        )
        .await
    {
        Ok(ok) => ok,
        Err(CodeRedemptionError::Idp(err)) => {
            let problem = aadsts::explain(&err, &Operation::SignIn, &state.config, &retry);
            tracing::warn!("code redemption failed: {err}");
            failed(state, &problem);
            // A code the provider refuses came from the browser: a 4xx with the reason. An
            // unreachable or failing provider is the gateway's problem.
            let status = match &err {
                IdpError::Rejected { body, .. }
                    if matches!(body.error.as_str(), "invalid_grant" | "invalid_request") =>
                {
                    StatusCode::BAD_REQUEST
                }
                IdpError::Throttled { .. } | IdpError::Unavailable { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_GATEWAY,
            };
            return Err(CallbackError::Refused {
                problem: Box::new(problem),
                status,
                retry,
            });
        }
        Err(CodeRedemptionError::TenantNotAllowed { tid }) => {
            tracing::warn!(%tid, "sign-in refused: tenant not in AZURE_AD_ALLOWED_TENANTS");
            count_failure(state, "tenant_not_allowed");
            return Err(CallbackError::TenantNotAllowed { tid });
        }
        Err(err @ CodeRedemptionError::TenantMismatch { .. }) => {
            tracing::warn!("sign-in refused: {err}");
            count_failure(state, "tenant_mismatch");
            return Err(CallbackError::TenantMismatch { retry });
        }
        Err(err) => {
            tracing::warn!("sign-in rejected: {err}");
            count_failure(state, "id_token_rejected");
            return Err(CallbackError::IdTokenRejected {
                detail: err.to_string(),
                retry,
            });
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
        sign_in_claims: transaction.claims,
    };
    if decode_unverified(user.api_token.expose()).is_none() {
        tracing::warn!("the sign-in access token is not a JWT; the token view will omit it");
    }
    // Tokens minted with an old claims challenge are replaced: drop cached OBO tokens.
    state
        .tokens
        .purge_user(&user.tenant_id, &user.object_id)
        .await;
    session.sign_in(&user).await?;
    let session_id = session
        .stored_id(&state.stores.ids)
        .await
        .unwrap_or_default();
    // Remembered for the identity provider's front-channel sign-out. Without it the session
    // still works; only single sign-out misses it, so the sign-in goes on.
    let session_state = query
        .session_state
        .as_deref()
        .filter(|s| is_session_state(s));
    if let Some(sid) = claims.sid.as_deref().or(session_state) {
        // The stored id, not the cookie's: the index must not hold cookies either.
        let opened = Opened {
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
    Ok(Completed::SignedIn(transaction.return_to))
}

/// The same sign-in again, without the scopes it named for consent only.
fn retry_plan(transaction: AuthTransaction) -> SignInPlan {
    SignInPlan {
        return_to: transaction.return_to,
        tenant: transaction.tenant,
        consent: ConsentAtSignIn::Skip,
    }
}

#[cfg(test)]
mod properties {
    use axum::{extract::Query, http::Uri};
    use proptest::prelude::*;

    use super::CallbackQuery;

    const KNOWN: [&str; 6] = [
        "code",
        "state",
        "error",
        "error_description",
        "error_subcode",
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

/// Whether a callback's `session_state` has Entra's shape (a GUID; at most 64 letters, digits
/// and dashes here). It comes with the query, so anything else would put an attacker's string
/// of any length into the sign-in index.
fn is_session_state(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod session_state_tests {
    use super::is_session_state;

    #[test]
    fn only_entras_shape_of_session_state_is_indexed() {
        assert!(is_session_state("5f0d7c8e-1a2b-4c3d-9e8f-0123456789ab"));
        for hostile in ["", &"a".repeat(65), "a b", "x;y", "<script>", "sid\nother"] {
            assert!(!is_session_state(hostile), "{hostile:?}");
        }
    }
}
