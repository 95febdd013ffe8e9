//! The server side of the app's port: what server functions call. Reads the session,
//! obtains tokens, calls Graph and the named downstream APIs (`named_apis.rs`, `api_call.rs`),
//! answers their claims challenges (`step_up.rs`), and turns every failure into a `Problem`
//! the page explains.

mod access;
pub(crate) mod api_call;
pub mod named_apis;
mod problems;
mod profile;
mod step_up;
mod weather;

use std::sync::Arc;

use app::{
    api::port::Bff,
    error::AppError,
    model::{
        ApiCall, Diagnostics, DownstreamApiInfo, NamedApiCall, Profile, SessionInfo, TokenKind,
        TokenReport, UserSummary,
    },
};
use http::request::Parts;
use named_apis::DownstreamApis;
use url::Url;

pub(crate) use problems::{Transient, api_problem, incident, internal};

use crate::{
    aadsts::{self, Operation},
    authorization::Scope,
    config::Config,
    domain::{ClaimsRequest, ReturnTo, ScopeSet},
    entra::decode_unverified,
    graph::Throttle,
    inspect,
    profiles::Profiles,
    session::{SignedInUser, UserSession, now},
    tokens::{Obtained, TokenError, TokenService},
};

pub struct BffService {
    pub config: Arc<Config>,
    pub tokens: Arc<TokenService>,
    pub graph_base_url: Url,
    /// The downstream APIs, by name (the Weather API showcase is `weather`).
    pub apis: Arc<DownstreamApis>,
    /// Graph's `Retry-After`, honoured per tenant.
    pub graph_throttle: Arc<Throttle>,
    /// The Graph profile per session: a warm page view makes no call to Graph.
    pub profiles: Profiles,
    /// Names the session in the profile cache without its cookie.
    pub session_ids: crate::store::sealed::StoredIds,
    /// The diagnostics page's checks against the identity provider, refreshed at most every
    /// few seconds.
    pub diagnostics: crate::diagnostics::CachedChecks,
}

impl BffService {
    pub(crate) fn session(request: &Parts) -> Result<UserSession, AppError> {
        UserSession::of(request).ok_or_else(|| incident("no session layer on this route"))
    }

    /// The request's session and its signed-in user, or `NotSignedIn`.
    pub(crate) async fn signed_in(
        &self,
        request: &Parts,
    ) -> Result<(UserSession, SignedInUser), AppError> {
        let session = Self::session(request)?;
        let user = self.user(&session).await?;
        Ok((session, user))
    }

    /// The signed-in user, or `NotSignedIn`; `NotAllowed` when the app requires a role or
    /// group they do not hold (`REQUIRED_ROLES`, `ALLOWED_GROUPS`).
    async fn user(&self, session: &UserSession) -> Result<SignedInUser, AppError> {
        let stored = session.user().await.map_err(internal)?;
        let user = self.admit(session, stored).await?;
        self.require(&self.config.access, Scope::App, session, &user)
            .await?;
        Ok(user)
    }

    /// The stored user, if still within the session's limits (marking the use); a session
    /// past its absolute lifetime ends here.
    async fn admit(
        &self,
        session: &UserSession,
        stored: Option<SignedInUser>,
    ) -> Result<SignedInUser, AppError> {
        let user = stored.ok_or(AppError::NotSignedIn)?;
        if self.past_absolute_limit(&user) {
            session.destroy().await.map_err(internal)?;
            return Err(AppError::NotSignedIn);
        }
        session
            .touch(self.config.session.idle_timeout)
            .await
            .map_err(internal)?;
        Ok(user)
    }

    fn past_absolute_limit(&self, user: &SignedInUser) -> bool {
        now() - user.signed_in_at > self.config.session.absolute_timeout.as_secs() as i64
    }

    /// Sign-in URL that returns to the page the user is on.
    pub(crate) fn sign_in_url(request: &Parts) -> String {
        let page = if request.uri.path().starts_with(app::api::API_PREFIX) {
            request
                .headers
                .get(http::header::REFERER)
                .and_then(|r| r.to_str().ok())
                .and_then(|r| Url::parse(r).ok())
                .map(|u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                })
        } else {
            Some(request.uri.to_string())
        };
        let return_to = page.and_then(|p| ReturnTo::parse(&p)).unwrap_or_default();
        app::api::sign_in_url(return_to.as_str())
    }

    /// What the user sees when a token for `scopes` could not be obtained (On-Behalf-Of,
    /// app-only, or the refresh before either).
    async fn token_problem(
        &self,
        err: TokenError,
        request: &Parts,
        session: &UserSession,
        scopes: &ScopeSet,
        user: &SignedInUser,
    ) -> AppError {
        let sign_in = Self::sign_in_url(request);
        match err {
            TokenError::NotSignedIn => AppError::NotSignedIn,
            TokenError::Session(e) => internal(e),
            TokenError::Store(e) => internal(e),
            TokenError::Refresh(e) => AppError::Problem(Box::new(aadsts::explain(
                &e,
                &Operation::Refresh,
                &self.config,
                &sign_in,
            ))),
            TokenError::AppOnly(e) => AppError::Problem(Box::new(aadsts::explain(
                &e,
                &Operation::AppOnly,
                &self.config,
                &sign_in,
            ))),
            TokenError::OnBehalfOf(e) => {
                let code = e.entra_body().and_then(|b| b.code());
                if code == Some(65001) {
                    match session.consent_refused().await {
                        // The sign-in already could not ask for it: an administrator must.
                        Ok(Some(refusal)) => {
                            return AppError::Problem(Box::new(problems::admin_consent_needed(
                                &scopes.to_wire(),
                                refusal,
                            )));
                        }
                        Ok(None) => {}
                        Err(err) => return internal(err),
                    }
                    if let Err(err) = session.set_consent_scopes(scopes).await {
                        return internal(err);
                    }
                } else if let Err(err) = self.carry_to_sign_in(&e, session, scopes).await {
                    return internal(err);
                }
                let audience =
                    decode_unverified(user.api_token.expose()).and_then(|(_, claims)| {
                        claims
                            .get("aud")
                            .and_then(|a| a.as_str())
                            .map(str::to_owned)
                    });
                let scopes = scopes.to_wire();
                let op = Operation::OnBehalfOf {
                    scopes: &scopes,
                    assertion_audience: audience.as_deref(),
                };
                tracing::warn!(code = ?e.entra_body().and_then(|b| b.code()), "On-Behalf-Of failed: {e}");
                AppError::Problem(Box::new(aadsts::explain(&e, &op, &self.config, &sign_in)))
            }
        }
    }

    /// On-Behalf-Of refused the exchange for `scopes`: the next sign-in carries what that
    /// API asked of its tokens (its stored claims challenge) with what the refusal asked for.
    /// Whether Entra's refusal hands claims back, and which, is unconfirmed (emulator/README.md,
    /// ledger X4–X5): the API's own challenge reaches the sign-in either way, so the MFA it
    /// needs is asked for there.
    async fn carry_to_sign_in(
        &self,
        err: &crate::entra::IdpError,
        session: &UserSession,
        scopes: &ScopeSet,
    ) -> Result<(), crate::session::SessionError> {
        let Some(body) = err.entra_body() else {
            return Ok(());
        };
        let asked_back = body
            .claims
            .as_deref()
            .and_then(|c| ClaimsRequest::parse(c).ok());
        let api_claims = session.api_claims(scopes).await?;
        match ClaimsRequest::merge_all(api_claims.iter().chain(asked_back.iter())) {
            Some(claims) => session.add_claims_challenge(&claims).await,
            None => Ok(()),
        }
    }

    /// A token for `scopes` obtained On-Behalf-Of the signed-in user (from a cache when it
    /// can), whether it came from the cache, and the user; On-Behalf-Of's failures as the
    /// problems the pages explain.
    pub(crate) async fn obo_token(
        &self,
        request: &Parts,
        scopes: &ScopeSet,
    ) -> Result<(Obtained, SignedInUser), AppError> {
        let (session, user) = self.signed_in(request).await?;
        let obtained = self.obo_for(request, &session, &user, scopes).await?;
        Ok((obtained, user))
    }

    /// [`Self::obo_token`] for a request whose user is already known.
    pub(crate) async fn obo_for(
        &self,
        request: &Parts,
        session: &UserSession,
        user: &SignedInUser,
        scopes: &ScopeSet,
    ) -> Result<Obtained, AppError> {
        match self.tokens.on_behalf_of(session, scopes).await {
            Ok(obtained) => Ok(obtained),
            Err(err) => Err(self
                .token_problem(err, request, session, scopes, user)
                .await),
        }
    }
}

#[async_trait::async_trait]
impl Bff for BffService {
    async fn session_info(&self, request: &Parts) -> Result<SessionInfo, AppError> {
        let session = Self::session(request)?;
        let limits = &self.config.session;
        // Why a session this browser still names has ended: said once, on this page (the
        // layer removes the stale cookie with this response).
        let stored = session.user().await.map_err(internal)?;
        let ended = match &stored {
            Some(user) if self.past_absolute_limit(user) => Some(format!(
                "Your session reached its limit of {} since sign-in. Sign in again to continue.",
                human(limits.absolute_timeout)
            )),
            None if carries_session_cookie(request, self.config.is_https())
                && session.id().is_none() =>
            {
                Some(format!(
                    "Your session has ended: it was unused for more than {}, or you signed \
                     out in another tab or of another app of your organization. Sign in again \
                     to continue.",
                    human(limits.idle_timeout)
                ))
            }
            _ => None,
        };
        let user = match self.admit(&session, stored).await {
            Ok(user) => Some(UserSummary {
                name: user.name,
                username: user.username,
                tenant_id: user.tenant_id,
            }),
            Err(AppError::NotSignedIn) => None,
            Err(other) => return Err(other),
        };
        // The configuration's warnings ("METRICS_ADDR answers anyone") tell a stranger where
        // to look: signed-in users only, except on the embedded emulator, where they are the
        // developer's first hint and there is nothing to protect.
        let embedded = matches!(
            self.config.idp,
            crate::config::IdentityProvider::Embedded { .. }
        );
        let warnings = if user.is_some() || embedded {
            self.config.warnings.clone()
        } else {
            Vec::new()
        };
        Ok(SessionInfo {
            user,
            warnings,
            ended,
            partner_sign_in: self.config.allowed_tenants.len() > 1,
        })
    }

    async fn profile(&self, request: &Parts) -> Result<Profile, AppError> {
        self.profile_view(request).await
    }

    async fn call_api(&self, request: &Parts) -> Result<ApiCall, AppError> {
        self.weather_forecast(request).await
    }

    async fn downstream_apis(&self, request: &Parts) -> Result<Vec<DownstreamApiInfo>, AppError> {
        let (session, user) = self.signed_in(request).await?;
        let who = match self.apis.has_rules() {
            true => Some(self.membership(&session, &user).await?),
            false => None,
        };
        Ok(self.apis.info(who.as_ref()))
    }

    async fn call_named_api(&self, request: &Parts, name: &str) -> Result<NamedApiCall, AppError> {
        self.call_named(request, name).await
    }

    async fn diagnostics(&self, request: &Parts) -> Result<Diagnostics, AppError> {
        let signed_in = match self.user(&Self::session(request)?).await {
            Ok(_) => true,
            Err(AppError::NotSignedIn) => false,
            Err(other) => return Err(other),
        };
        Ok(self
            .diagnostics
            .report(self.tokens.entra(), &self.config, request, signed_in)
            .await)
    }

    async fn tokens(&self, request: &Parts) -> Result<TokenReport, AppError> {
        let (_, user) = self.signed_in(request).await?;
        let mut report = TokenReport {
            tokens: Vec::new(),
            problems: Vec::new(),
        };
        report.tokens.push(inspect::decoded(
            TokenKind::IdToken,
            &user.id_token_header,
            &user.id_token_claims,
        ));
        if let Some((header, claims)) = decode_unverified(user.api_token.expose()) {
            report
                .tokens
                .push(inspect::decoded(TokenKind::SignIn, &header, &claims));
        }
        match self.graph_token(request).await {
            Ok((obtained, _)) => {
                if let Some((header, claims)) = decode_unverified(obtained.token.expose()) {
                    report
                        .tokens
                        .push(inspect::decoded(TokenKind::Graph, &header, &claims));
                }
            }
            Err(AppError::Problem(problem)) => report.problems.push(*problem),
            Err(other) => return Err(other),
        }
        Ok(report)
    }
}

/// Whether the request named a session (whether or not the store still has it).
fn carries_session_cookie(request: &Parts, https: bool) -> bool {
    let name = crate::store::cookie_name(https);
    request
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim().split('=').next() == Some(name))
}

/// "8 h", "7 days", "90 s": a limit as people say it.
fn human(limit: std::time::Duration) -> String {
    match limit.as_secs() {
        s if s % 86_400 == 0 => format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" }),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
