//! The server side of the app's port: what server functions call. Reads the session,
//! obtains tokens, calls Graph, and turns every failure into a `Problem` the page explains.

use std::sync::Arc;

use app::{
    api::port::Bff,
    error::AppError,
    model::{
        ApiCall, Diagnostics, DownstreamApiInfo, ForecastRow, NamedApiCall, Problem, ProblemAction,
        Profile, SessionInfo, TokenKind, TokenReport, UserSummary,
    },
};
use http::request::Parts;
use url::Url;

use crate::{
    aadsts::{self, Operation},
    config::{Config, WEATHER},
    domain::{ReturnTo, ScopeSet, Secret},
    downstream::DownstreamApis,
    entra::decode_unverified,
    graph::{self, GraphCallError, Throttle},
    inspect,
    profiles::{Cached, Profiles},
    session::{SignedInUser, UserSession, now},
    tokens::{TokenError, TokenService},
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
    /// The diagnostics page's checks against the identity provider, refreshed at most every
    /// few seconds.
    pub diagnostics: crate::diagnostics::CachedChecks,
}

/// One day of the Weather API's answer (the .NET template's `WeatherForecast`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Forecast {
    date: String,
    temperature_c: i32,
    #[serde(default)]
    summary: Option<String>,
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

    /// The signed-in user, or `NotSignedIn`.
    async fn user(&self, session: &UserSession) -> Result<SignedInUser, AppError> {
        let stored = session.user().await.map_err(internal)?;
        self.admit(session, stored).await
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

    async fn obo_problem(
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
            TokenError::OnBehalfOf(e) => {
                if let Some(claims) = e.entra_body().and_then(|b| b.claims.as_deref())
                    && let Err(err) = session.set_claims_challenge(claims).await
                {
                    return internal(err);
                }
                if e.entra_body().and_then(|b| b.code()) == Some(65001)
                    && let Err(err) = session.set_consent_scopes(scopes).await
                {
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

    /// Reads `/me` from Graph now (a cached Graph token that Graph refuses is replaced
    /// once).
    async fn read_profile(
        &self,
        request: &Parts,
        session: &UserSession,
        user: &SignedInUser,
    ) -> Result<Profile, AppError> {
        if let Some(wait) = self.graph_throttle.remaining(&user.tenant_id) {
            return Err(graph_throttled(wait));
        }
        let http = self.tokens.entra().http();
        let (token, mut cached, _) = self.graph_token(request).await?;
        let mut result = graph::me(http, &self.graph_base_url, &token).await;
        if let Err(err) = &result
            && err.is_token_refused()
            && cached
        {
            // A cached token Graph no longer takes would fail every page until it expires:
            // forget it and exchange anew, once.
            tracing::info!("Graph refused a cached token; exchanging a new one: {err}");
            self.tokens
                .forget(session, &self.config.graph_scope)
                .await
                .map_err(internal)?;
            let (token, again_cached, _) = self.graph_token(request).await?;
            cached = again_cached;
            result = graph::me(http, &self.graph_base_url, &token).await;
        }
        let me = result.map_err(|err| {
            if let Some(wait) = err.throttled_for() {
                self.graph_throttle.hold(&user.tenant_id, wait);
                return graph_throttled(wait);
            }
            graph_problem(err)
        })?;
        Ok(profile_of(me, cached))
    }

    /// Reads the profile again after the response, keeping the stale one if that fails (a
    /// throttled tenant is not asked at all).
    fn refresh_profile(&self, session: UserSession, key: String, tenant: String) {
        let tokens = self.tokens.clone();
        let profiles = self.profiles.clone();
        let throttle = self.graph_throttle.clone();
        let graph = self.graph_base_url.clone();
        let scope = self.config.graph_scope.clone();
        tokio::spawn(async move {
            let read = async {
                if throttle.remaining(&tenant).is_some() {
                    return Err("Graph asked to wait".to_owned());
                }
                let (token, cached) = tokens
                    .on_behalf_of(&session, &scope)
                    .await
                    .map_err(|e| e.to_string())?;
                match graph::me(tokens.entra().http(), &graph, &token).await {
                    Ok(me) => Ok(profile_of(me, cached)),
                    Err(err) => {
                        if let Some(wait) = err.throttled_for() {
                            throttle.hold(&tenant, wait);
                        }
                        // As in the foreground: a cached token Graph refuses is dropped, so
                        // that the next attempt exchanges anew instead of failing until it
                        // expires.
                        if err.is_token_refused() && cached {
                            let _ = tokens.forget(&session, &scope).await;
                        }
                        Err(err.to_string())
                    }
                }
            };
            match read.await {
                Ok(profile) => profiles.put(&key, profile).await,
                Err(err) => {
                    tracing::warn!("the profile was not refreshed (the cached one stays): {err}");
                    profiles.refresh_failed(&key);
                }
            }
        });
    }

    async fn graph_token(&self, request: &Parts) -> Result<(Secret, bool, SignedInUser), AppError> {
        self.obo_token(request, &self.config.graph_scope).await
    }

    /// A token for `scopes` obtained On-Behalf-Of the signed-in user (from a cache when it
    /// can), whether it came from the cache, and the user; On-Behalf-Of's failures as the
    /// problems the pages explain.
    pub(crate) async fn obo_token(
        &self,
        request: &Parts,
        scopes: &ScopeSet,
    ) -> Result<(Secret, bool, SignedInUser), AppError> {
        let (session, user) = self.signed_in(request).await?;
        match self.tokens.on_behalf_of(&session, scopes).await {
            Ok((token, cached)) => Ok((token, cached, user)),
            Err(err) => Err(self
                .obo_problem(err, request, &session, scopes, &user)
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
        Ok(SessionInfo {
            user,
            warnings: self.config.warnings.clone(),
            ended,
        })
    }

    async fn profile(&self, request: &Parts) -> Result<Profile, AppError> {
        let (session, user) = self.signed_in(request).await?;
        let key = session.id().unwrap_or_default();
        match self.profiles.get(&key).await {
            Cached::Fresh(profile) => return Ok(profile),
            Cached::Stale { profile, refresh } => {
                if refresh {
                    self.refresh_profile(session, key, user.tenant_id);
                }
                return Ok(profile);
            }
            Cached::Missing => {}
        }
        let profile = self.read_profile(request, &session, &user).await?;
        self.profiles.put(&key, profile.clone()).await;
        Ok(profile)
    }

    async fn call_api(&self, request: &Parts) -> Result<ApiCall, AppError> {
        let Some(weather) = self.apis.get(WEATHER) else {
            return Err(api_problem(
                "No downstream API is configured",
                None,
                "This app has no downstream API to call.".into(),
                "Set DOWNSTREAM_API__WEATHER__BASE_URL and DOWNSTREAM_API__WEATHER__SCOPES (see \
                 README.md)."
                    .into(),
                Transient::No,
            ));
        };
        let path = "/weatherforecast";
        let url = format!("{}{path}", weather.base_url.as_str().trim_end_matches('/'));
        let (response, token, cached) = self
            .call(
                request,
                weather,
                http::Method::GET,
                path,
                None,
                http::HeaderMap::new(),
                None,
            )
            .await?;
        let status = response.status().as_u16();
        if status != 200 {
            // The API's RFC 6750 challenge says why it refused the token.
            let challenge = response
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no WWW-Authenticate header")
                .to_owned();
            return Err(api_problem(
                "The downstream API refused the call",
                Some(status),
                challenge,
                "Check that DOWNSTREAM_API_SCOPE is the API's exposed scope and that the API \
                 accepts this tenant's tokens."
                    .into(),
                Transient::when(status >= 500 || status == 429),
            ));
        }
        let forecasts: Vec<Forecast> = response.json().await.map_err(|err| {
            api_problem(
                "The downstream API's answer could not be read",
                Some(status),
                err.without_url().to_string(),
                "Check that DOWNSTREAM_API_URL points at the Weather API.".into(),
                Transient::No,
            )
        })?;
        let (header, claims) = decode_unverified(token.expose())
            .ok_or_else(|| incident("the OBO token is not a JWT"))?;
        Ok(ApiCall {
            url,
            forecasts: forecasts
                .into_iter()
                .map(|f| ForecastRow {
                    date: f.date,
                    temperature_c: f.temperature_c,
                    summary: f.summary.unwrap_or_default(),
                })
                .collect(),
            token: inspect::decoded(TokenKind::Downstream, &header, &claims),
            token_from_cache: cached,
        })
    }

    async fn downstream_apis(&self, request: &Parts) -> Result<Vec<DownstreamApiInfo>, AppError> {
        self.user(&Self::session(request)?).await?;
        Ok(self.apis.info())
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
            Ok((token, _, _)) => {
                if let Some((header, claims)) = decode_unverified(token.expose()) {
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

/// The session store (or Redis) failed: a 503 that says so and offers a retry; the user
/// stays signed in.
/// A failure the browser can do nothing about: the detail is logged here with an incident
/// id, and the id is all the browser gets (to quote when reporting it).
pub(crate) fn incident(detail: impl std::fmt::Display) -> AppError {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let id = &id[..12];
    tracing::error!(incident = id, "{detail}");
    AppError::Internal(format!("incident {id}"))
}

pub(crate) fn internal(err: impl std::fmt::Display) -> AppError {
    tracing::error!("{err}");
    AppError::Problem(Box::new(crate::store::health::problem()))
}

fn profile_of(me: graph::Me, token_from_cache: bool) -> Profile {
    Profile {
        display_name: me.display_name,
        mail: me.mail,
        user_principal_name: me.user_principal_name,
        job_title: me.job_title,
        office_location: me.office_location,
        token_from_cache,
        read_secs_ago: 0,
    }
}

/// Graph asked to wait: say for how long, and make no call before then.
fn graph_throttled(wait: std::time::Duration) -> AppError {
    let secs = wait.as_secs().max(1);
    AppError::Problem(Box::new(Problem {
        title: "Microsoft Graph is throttling this app".into(),
        code: None,
        error: None,
        message: Some(format!(
            "Microsoft Graph asked to wait {secs} s (Retry-After)."
        )),
        meaning: "Graph limits how often an app may call it; it answered that this app must \
                  wait before calling again."
            .into(),
        cause: "Too many calls to Microsoft Graph for this tenant in a short time, or a Graph \
                outage."
            .into(),
        fix: format!(
            "Try again in {secs} s. Until then this app makes no call to Graph for your \
             tenant; you are still signed in."
        ),
        trace_id: None,
        correlation_id: None,
        timestamp: None,
        lookup_url: None,
        action: ProblemAction::Retry,
    }))
}

fn graph_problem(err: GraphCallError) -> AppError {
    let retry = match &err {
        GraphCallError::Api { status, .. } => *status >= 500 || *status == 429,
        GraphCallError::Unreachable(_) => true,
    };
    api_problem(
        "Microsoft Graph refused the request",
        None,
        err.to_string(),
        "Check that GRAPH_SCOPE includes User.Read and that it is consented.".into(),
        Transient::when(retry),
    )
}

/// Whether a failure may pass by itself (try again later) or needs a configuration change.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    Yes,
    No,
}

impl Transient {
    pub(crate) fn when(passing: bool) -> Self {
        if passing { Self::Yes } else { Self::No }
    }
}

/// A failed call to an API (Graph or the downstream API) as a problem for the page.
pub(crate) fn api_problem(
    title: &str,
    status: Option<u16>,
    message: String,
    config_fix: String,
    transient: Transient,
) -> AppError {
    let transient = transient == Transient::Yes;
    AppError::Problem(Box::new(Problem {
        title: title.into(),
        code: None,
        error: status.map(|s| format!("HTTP {s}")),
        message: Some(message),
        meaning: "The API call did not succeed; the details below say what it answered.".into(),
        cause: if transient {
            "The API is unavailable or throttling.".into()
        } else {
            "The API rejected the request: usually a configuration mismatch.".into()
        },
        fix: if transient {
            "Try again in a moment.".into()
        } else {
            config_fix
        },
        trace_id: None,
        correlation_id: None,
        timestamp: None,
        lookup_url: None,
        action: if transient {
            ProblemAction::Retry
        } else {
            ProblemAction::None
        },
    }))
}
