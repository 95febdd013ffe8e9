//! `GET /auth/login?return_to=/x[&tenant=<id or domain>]`: starts the authorization code flow
//! with PKCE. The pending sign-in (state, verifier, nonce, where to return, what was asked)
//! waits in the session until the callback; the browser goes to `/authorize`.
//!
//! `tenant` signs a multi-tenant app's user in to a tenant that invited them: "For guest
//! scenarios where you sign a user from one tenant into another tenant, you must provide the
//! tenant identifier" (the authorization code flow page). At `organizations` a guest lands in
//! their home tenant instead. The tenant must be one of `AZURE_AD_ALLOWED_TENANTS`, named by
//! its id or a verified domain.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::state::{AuthState, store_failed};
use crate::{
    domain::{Nonce, ReturnTo},
    entra::{IdpError, SignInRequest},
    routes::page::error_page,
    session::{AuthTransaction, UserSession, now},
};

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    tenant: Option<String>,
    /// `skip`: name no scope for consent only (the way on after a cancelled sign-in).
    consent: Option<String>,
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
    let tenant = match sign_in_tenant(&state, query.tenant.as_deref()).await {
        Ok(tenant) => tenant,
        Err(refused) => return refused.into_response(),
    };
    begin(
        &state,
        &session,
        SignInPlan {
            return_to,
            tenant,
            consent: if query.consent.as_deref() == Some("skip") {
                ConsentAtSignIn::Skip
            } else {
                ConsentAtSignIn::Ask
            },
        },
    )
    .await
}

/// Whether a sign-in names scopes for consent only.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ConsentAtSignIn {
    /// The downstream APIs' scopes (`ASK_CONSENT_AT_SIGN_IN`) and any that lacked consent.
    Ask,
    /// None: the retry of a sign-in Entra refused for them, or the user's choice after a
    /// cancelled one.
    Skip,
}

/// A sign-in about to start.
pub(super) struct SignInPlan {
    pub(super) return_to: ReturnTo,
    /// The tenant to sign in to, when the user named one.
    pub(super) tenant: Option<String>,
    pub(super) consent: ConsentAtSignIn,
}

/// Starts a sign-in: the pending Conditional Access challenge or missing consent shape it;
/// the pending sign-in is remembered; the browser goes to `/authorize`.
pub(super) async fn begin(state: &AuthState, session: &UserSession, plan: SignInPlan) -> Response {
    let (claims, consent) =
        match tokio::try_join!(session.claims_challenge(), session.consent_scopes()) {
            Ok(pending) => pending,
            Err(err) => return store_failed(err),
        };
    let ask = plan.consent == ConsentAtSignIn::Ask;
    let start = state.tokens.entra().start_authorization(&SignInRequest {
        claims: claims.as_ref(),
        consent_scopes: consent.as_ref().filter(|_| ask),
        downstream_consent: ask,
        tenant: plan.tenant.as_deref(),
    });
    let transaction = AuthTransaction {
        state: start.state.secret().clone(),
        pkce_verifier: start.pkce_verifier,
        nonce: Nonce::new(start.nonce),
        return_to: plan.return_to,
        started_at: now(),
        claims: start.claims,
        tenant: plan.tenant,
        named_consent_scopes: start.named_consent_scopes,
    };
    if let Err(err) = session.push_transaction(transaction).await {
        return store_failed(err);
    }
    Redirect::to(start.url.as_str()).into_response()
}

/// Why a sign-in may not go to the tenant it named.
enum TenantRefused {
    /// A single-tenant app, and another tenant named.
    OneTenantOnly { serves: String, named: String },
    /// The identity provider could not be asked which tenant a domain is.
    Unavailable,
    /// No tenant has that domain.
    Unknown(String),
    /// Neither a tenant id nor a domain.
    NotATenant(String),
    /// A tenant outside `AZURE_AD_ALLOWED_TENANTS`.
    NotServed { named: String, tid: String },
}

impl IntoResponse for TenantRefused {
    fn into_response(self) -> Response {
        let (status, title, paragraphs) = match self {
            Self::OneTenantOnly { serves, named } => (
                StatusCode::BAD_REQUEST,
                "This app signs in one organization only",
                vec![format!(
                    "It serves the directory {serves} (AZURE_AD_TENANT_ID), not {named}. Sign in \
                     without naming an organization."
                )],
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The identity provider is unavailable",
                vec!["The organization could not be looked up. Try again in a moment.".to_owned()],
            ),
            Self::Unknown(named) => (
                StatusCode::BAD_REQUEST,
                "No such organization",
                vec![format!(
                    "The identity provider knows no organization by {named:?}. Check the domain \
                     (e.g. fabrikam.onmicrosoft.com) or give its tenant id."
                )],
            ),
            Self::NotATenant(named) => (
                StatusCode::BAD_REQUEST,
                "Not an organization",
                vec![format!(
                    "{named:?} is neither a tenant id (a GUID) nor a domain such as \
                     fabrikam.onmicrosoft.com."
                )],
            ),
            Self::NotServed { named, tid } => (
                StatusCode::FORBIDDEN,
                "This app does not serve that organization",
                vec![
                    format!(
                        "{named} is the directory (tenant) {tid}, which this app does not serve."
                    ),
                    "Ask this app's operator to add that tenant id to AZURE_AD_ALLOWED_TENANTS."
                        .to_owned(),
                ],
            ),
        };
        error_page(status, title, &paragraphs, ("/", "Back to the home page"))
    }
}

/// The tenant id `raw` names (an id or a verified domain), if the sign-in may go there.
async fn sign_in_tenant(
    state: &AuthState,
    raw: Option<&str>,
) -> Result<Option<String>, TenantRefused> {
    let Some(raw) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let config = &state.config;
    if !config.is_multi_tenant() {
        if raw.eq_ignore_ascii_case(&config.tenant) {
            return Ok(None);
        }
        return Err(TenantRefused::OneTenantOnly {
            serves: config.tenant.clone(),
            named: raw.to_owned(),
        });
    }
    let tid = if let Ok(id) = uuid::Uuid::parse_str(raw) {
        id.hyphenated().to_string()
    } else if is_domain(raw) {
        match state.tokens.entra().tenant_id_of(raw).await {
            Ok(tid) => tid,
            Err(err @ (IdpError::Unavailable { .. } | IdpError::Throttled { .. })) => {
                tracing::warn!("the tenant of {raw} could not be looked up: {err}");
                return Err(TenantRefused::Unavailable);
            }
            Err(_) => return Err(TenantRefused::Unknown(raw.to_owned())),
        }
    } else {
        return Err(TenantRefused::NotATenant(raw.to_owned()));
    };
    if !config.allows_tenant(&tid) {
        return Err(TenantRefused::NotServed {
            named: raw.to_owned(),
            tid,
        });
    }
    Ok(Some(tid))
}

/// A DNS name such as `fabrikam.onmicrosoft.com`: what Entra accepts in place of a tenant id
/// (and nothing that could change the discovery URL's path).
fn is_domain(raw: &str) -> bool {
    raw.len() <= 253
        && raw.contains('.')
        && raw.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::is_domain;

    #[test]
    fn only_dns_names_pass_as_domains() {
        for ok in ["fabrikam.onmicrosoft.com", "contoso.com", "a-b.c1.d"] {
            assert!(is_domain(ok), "{ok}");
        }
        for bad in [
            "fabrikam",
            "../common",
            "a/b.com",
            "a..b",
            "-a.com",
            "a.com?x",
            "a.com#",
            "ü.com",
            "",
            ".com",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }
}
