//! The profile page's data: the user's Graph `/me`, read with a token obtained On-Behalf-Of
//! the user, served from the per-session cache (fresh, or stale while one background read
//! refreshes it), and Graph's throttling and refusals as problems.

use app::{
    error::AppError,
    model::{Problem, ProblemAction, Profile},
};
use http::request::Parts;

use super::{
    BffService, Transient, api_problem, internal,
    step_up::{Answer, Callee},
};
use crate::{
    authorization::GroupsSource,
    domain::ClaimsRequest,
    graph::{self, GraphCallError},
    profiles::Cached,
    session::{SignedInUser, UserSession},
    tokens::{Obtained, TokenSource},
};

/// Graph's claims challenge (Continuous Access Evaluation) takes the step-up path like an
/// API's.
impl Answer for Result<graph::Me, GraphCallError> {
    fn claims_challenge(&self) -> Option<ClaimsRequest> {
        self.as_ref().err()?.claims_challenge().cloned()
    }
}

impl BffService {
    /// The signed-in user's profile (from the cache when it can), with their roles and how
    /// many groups they are in (from the token, or Graph past its 200).
    pub(super) async fn profile_view(&self, request: &Parts) -> Result<Profile, AppError> {
        let (session, user) = self.signed_in(request).await?;
        let mut profile = self.cached_profile(request, &session, &user).await?;
        let who = self.membership(&session, &user).await?;
        profile.groups = match who.groups_from {
            GroupsSource::NotInToken => None,
            GroupsSource::Token => Some((who.groups.len(), "the token".to_owned())),
            GroupsSource::Graph => Some((who.groups.len(), "Microsoft Graph".to_owned())),
        };
        profile.roles = who.roles;
        Ok(profile)
    }

    async fn cached_profile(
        &self,
        request: &Parts,
        session: &UserSession,
        user: &SignedInUser,
    ) -> Result<Profile, AppError> {
        let key = session
            .stored_id(&self.session_ids)
            .await
            .unwrap_or_default();
        let cached = self.profiles.get(&key).await;
        crate::telemetry::cache_lookup("profile", !matches!(cached, Cached::Missing));
        match cached {
            Cached::Fresh(profile) => return Ok(profile),
            Cached::Stale { profile, refresh } => {
                if refresh {
                    self.refresh_profile(session.clone(), key, user.tenant_id.clone());
                }
                return Ok(profile);
            }
            Cached::Missing => {}
        }
        let profile = self.read_profile(request, session, user).await?;
        self.profiles.put(&key, profile.clone()).await;
        Ok(profile)
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
        let read = |token: crate::domain::AccessToken| async move {
            Ok(graph::me(http, &self.graph_base_url, &token).await)
        };
        let graph = Callee {
            name: "Microsoft Graph",
            scopes: &self.config.graph_scope,
        };
        let signed_in = (session.clone(), user.clone());
        let (mut result, obtained) = self.with_step_up(request, &signed_in, graph, read).await?;
        let mut source = obtained.source;
        if let Err(err) = &result
            && err.is_token_refused()
            && err.claims_challenge().is_none()
            && source.is_cache()
        {
            // A cached token Graph no longer takes would fail every page until it expires:
            // forget it and exchange anew, once.
            tracing::info!("Graph refused a cached token; exchanging a new one: {err}");
            self.tokens
                .forget(session, &self.config.graph_scope)
                .await
                .map_err(internal)?;
            let (again, _) = self.graph_token(request).await?;
            source = again.source;
            result = graph::me(http, &self.graph_base_url, &again.token).await;
        }
        let me = result.map_err(|err| {
            if let Some(wait) = err.throttled_for() {
                self.graph_throttle.hold(&user.tenant_id, wait);
                return graph_throttled(wait);
            }
            graph_problem(err)
        })?;
        Ok(profile_of(me, source))
    }

    /// Reads the profile again after the response, keeping the stale one if that fails (a
    /// throttled tenant is not asked at all).
    fn refresh_profile(&self, session: UserSession, key: String, tenant: String) {
        let tokens = self.tokens.clone();
        let profiles = self.profiles.clone();
        let throttle = self.graph_throttle.clone();
        let graph = self.graph_base_url.clone();
        let scope = self.config.graph_scope.clone();
        // Its own trace: the page's answer has gone (its OBO, Graph and store spans hang here).
        let span = if crate::telemetry::exporting() {
            let span = tracing::info_span!(parent: None, "profile refresh");
            span.follows_from(tracing::Span::current());
            span
        } else {
            tracing::Span::none()
        };
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let read = async {
                    if throttle.remaining(&tenant).is_some() {
                        return Err("Graph asked to wait".to_owned());
                    }
                    let obtained = tokens
                        .on_behalf_of(&session, &scope)
                        .await
                        .map_err(|e| e.to_string())?;
                    match graph::me(tokens.entra().http(), &graph, &obtained.token).await {
                        Ok(me) => Ok(profile_of(me, obtained.source)),
                        Err(err) => {
                            if let Some(wait) = err.throttled_for() {
                                throttle.hold(&tenant, wait);
                            }
                            // As in the foreground: a cached token Graph refuses is dropped, so
                            // that the next attempt exchanges anew instead of failing until it
                            // expires.
                            if err.is_token_refused() && obtained.source.is_cache() {
                                let _ = tokens.forget(&session, &scope).await;
                            }
                            // A claims challenge needs the user (a step-up, a sign-in): the next
                            // page view reads the profile in the foreground, where it is answered.
                            if err.claims_challenge().is_some() {
                                profiles.forget(&key).await;
                            }
                            Err(err.to_string())
                        }
                    }
                };
                match read.await {
                    Ok(profile) => profiles.put(&key, profile).await,
                    Err(err) => {
                        tracing::warn!(
                            "the profile was not refreshed (the cached one stays): {err}"
                        );
                        profiles.refresh_failed(&key);
                    }
                }
            },
            span,
        ));
    }

    pub(super) async fn graph_token(
        &self,
        request: &Parts,
    ) -> Result<(Obtained, SignedInUser), AppError> {
        self.obo_token(request, &self.config.graph_scope).await
    }
}

fn profile_of(me: graph::Me, source: TokenSource) -> Profile {
    Profile {
        display_name: me.display_name,
        mail: me.mail,
        user_principal_name: me.user_principal_name,
        job_title: me.job_title,
        office_location: me.office_location,
        token_from_cache: source.is_cache(),
        read_secs_ago: 0,
        roles: Vec::new(),
        groups: None,
    }
}

/// Graph asked to wait: say for how long, and make no call before then.
fn graph_throttled(wait: std::time::Duration) -> AppError {
    let secs = wait.as_secs().max(1);
    AppError::Problem(Box::new(Problem {
        title: "Microsoft Graph is throttling this app".into(),
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
        action: ProblemAction::Retry,
        ..Problem::default()
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
