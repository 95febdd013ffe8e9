//! The token lifecycle: the sign-in token refreshed before it expires (once per session
//! even under concurrent requests), and On-Behalf-Of tokens cached per user and scopes.
//!
//! The OBO cache key holds tenant, user object id, client id and the sorted scopes (never
//! less: a shorter key hands one user's token to another, CVE-2024-51987), the claims the
//! exchange asked for, and a hash of the assertion, as MSAL does: a token obtained with an
//! MFA-satisfying sign-in must not serve another session of the same user that has not done
//! MFA (a Conditional Access bypass), nor a token without an authentication context a call
//! that needs one. Each entry lives until `expires_in` minus a margin; the cache is bounded
//! in bytes.
//!
//! Every exchange for an API carries what that API asked of its tokens in this session (its
//! claims challenges, [`UserSession::api_claims`]), with the client capabilities: MSAL passes
//! the challenge on the On-Behalf-Of request, and the token then answers it.
//!
//! With Redis ([`crate::store::redis`]) both hold across instances: a lease makes one
//! request in the whole deployment refresh a session (the others wait and read the session
//! it saved), and a second, shared tier of the OBO cache (sealed, expiring with the token)
//! makes one exchange per key for every instance, not one per instance.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tracing::Instrument as _;

use moka::future::Cache;
use tokio::sync::Mutex;

mod obo_cache;

use obo_cache::{CachedToken, OboKey, assertion_hash, obo_cache, redis_user_index};

use crate::{
    domain::{AccessToken, ClaimsRequest, ScopeSet},
    entra::{EntraClient, IdpError},
    metrics::{LockLabels, Metrics, TierLabels},
    session::{SignedInUser, UserSession, now},
    store::{
        redis::{Lease, RedisError, Shared},
        sealed::StoredIds,
    },
};

/// How long a refresh or exchange may hold its deployment-wide lease: longer than the
/// identity provider's slowest answer (the HTTP client gives up first), short enough that
/// an instance that died holding it delays the others only this long.
const LEASE: Duration = Duration::from_secs(30);
/// How often a waiter looks whether the lease holder has finished.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// A token is renewed when less than this share of its lifetime (at most 5 minutes) is
/// left, so that it never expires in flight.
fn renewal_margin(lifetime: i64) -> i64 {
    (lifetime / 10).clamp(5, 300)
}

/// A token for a downstream API, and where it came from.
pub struct Obtained {
    pub token: AccessToken,
    pub source: TokenSource,
}

/// Where an On-Behalf-Of token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A cache (this process's, or the deployment's in Redis): no call to the identity
    /// provider.
    Cache,
    /// An exchange at the identity provider, for this request.
    IdentityProvider,
}

impl TokenSource {
    pub fn is_cache(self) -> bool {
        self == Self::Cache
    }
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("nobody is signed in")]
    NotSignedIn,
    #[error("refreshing the sign-in token failed: {0}")]
    Refresh(IdpError),
    #[error("the On-Behalf-Of exchange failed: {0}")]
    OnBehalfOf(IdpError),
    #[error("the app-only token request failed: {0}")]
    AppOnly(IdpError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// Redis (leases, the shared token cache) failed or timed out.
    #[error("the shared store failed: {0}")]
    Store(String),
}

impl TokenError {
    /// The identity provider's error body, when it refused the refresh or the exchange.
    pub fn entra_body(&self) -> Option<&crate::entra::EntraErrorBody> {
        match self {
            Self::Refresh(e) | Self::OnBehalfOf(e) | Self::AppOnly(e) => e.entra_body(),
            _ => None,
        }
    }
}

impl From<RedisError> for TokenError {
    fn from(err: RedisError) -> Self {
        Self::Store(err.to_string())
    }
}

/// One On-Behalf-Of exchange: whose assertion, for which scopes, asking for which claims.
struct Exchange<'a> {
    user: &'a SignedInUser,
    scopes: &'a ScopeSet,
    claims: Option<&'a ClaimsRequest>,
}

/// What waiting for a deployment-wide lease ended with.
enum Waited<T> {
    /// This request holds the lease: it does the work.
    Leased(Lease),
    /// Another instance did the work meanwhile; here is its result.
    Done(T),
}

pub struct TokenService {
    entra: Arc<EntraClient>,
    obo_cache: Cache<OboKey, CachedToken>,
    refresh_locks: moka::sync::Cache<String, Arc<Mutex<()>>>,
    max_bytes: u64,
    /// Redis, when several instances share the deployment's state.
    shared: Option<Arc<Shared>>,
    /// Names a session's refresh lease without its cookie.
    session_ids: StoredIds,
    metrics: Arc<Metrics>,
}

impl TokenService {
    /// `max_bytes` bounds the OBO cache by the size of its keys and tokens.
    pub fn new(
        entra: Arc<EntraClient>,
        max_bytes: u64,
        shared: Option<Arc<Shared>>,
        session_ids: StoredIds,
        metrics: Arc<Metrics>,
    ) -> Self {
        let obo_cache = obo_cache(max_bytes);
        Self {
            entra,
            obo_cache,
            refresh_locks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            max_bytes,
            shared,
            session_ids,
            metrics,
        }
    }

    pub fn entra(&self) -> &Arc<EntraClient> {
        &self.entra
    }

    /// The signed-in user with a sign-in token that is valid for a while yet, refreshing it
    /// first if needed.
    pub async fn fresh_user(&self, session: &UserSession) -> Result<SignedInUser, TokenError> {
        let user = session.user().await?.ok_or(TokenError::NotSignedIn)?;
        if !needs_renewal(&user) {
            return Ok(user);
        }
        // One refresh per session: the others wait, then read what the first one stored
        // (first in this process, then, with Redis, in the whole deployment).
        // The stored id: a lease name in Redis must not be a cookie.
        let key = session
            .stored_id(&self.session_ids)
            .await
            .unwrap_or_default();
        let lock = self
            .refresh_locks
            .get_with(key.clone(), || Arc::new(Mutex::new(())));
        let _guard = lock.lock().await;
        let lease = match &self.shared {
            None => None,
            Some(shared) => {
                let reread = || async {
                    session.reload().await?;
                    let user = session.user().await?.ok_or(TokenError::NotSignedIn)?;
                    Ok((!needs_renewal(&user)).then_some(user))
                };
                match self
                    .lease_or_done(shared, &format!("refresh:{key}"), "refresh", reread)
                    .await?
                {
                    Waited::Done(user) => return Ok(user),
                    Waited::Leased(lease) => Some(lease),
                }
            }
        };
        let result = self.refresh(session).await;
        if let (Some(shared), Some(lease)) = (&self.shared, lease) {
            shared.release(lease).await;
        }
        result
    }

    /// Refreshes the session's sign-in token unless another request just did, and saves it
    /// at once so that concurrent requests read it without waiting for this response.
    async fn refresh(&self, session: &UserSession) -> Result<SignedInUser, TokenError> {
        session.reload().await?;
        let mut user = session.user().await?.ok_or(TokenError::NotSignedIn)?;
        if !needs_renewal(&user) {
            return Ok(user);
        }
        let refresh_token = user.refresh_token.clone().ok_or_else(|| {
            TokenError::Refresh(IdpError::InvalidResponse {
                endpoint: "token (refresh_token)",
                detail: "no refresh token was issued at sign-in (offline_access missing)".into(),
            })
        })?;
        self.metrics.refreshes.inc();
        let grant = self
            .entra
            .refresh(&refresh_token, &user.tenant_id)
            .await
            .map_err(TokenError::Refresh)?;
        user.api_token = grant.access_token;
        user.api_token_lifetime = grant.expires_at - now();
        user.api_token_expires_at = grant.expires_at;
        if let Some(rotated) = grant.refresh_token {
            user.refresh_token = Some(rotated);
        }
        session.update_user(&user).await?;
        tracing::info!(oid = %user.object_id, "refreshed the sign-in token");
        Ok(user)
    }

    /// Takes the deployment-wide lease `name`; while another instance holds it, waits,
    /// asking `done` whether that instance's work made this one's unnecessary.
    async fn lease_or_done<T, F, Fut>(
        &self,
        shared: &Shared,
        name: &str,
        kind: &'static str,
        mut done: F,
    ) -> Result<Waited<T>, TokenError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, TokenError>>,
    {
        // A holder that died frees the lease when it expires: wait that long, and a little.
        let deadline = Instant::now() + LEASE + Duration::from_secs(5);
        let mut counted = false;
        loop {
            if let Some(lease) = shared.try_lock(name, LEASE).await? {
                return Ok(Waited::Leased(lease));
            }
            if !counted {
                self.metrics
                    .lock_waits
                    .get_or_create(&LockLabels { lock: kind })
                    .inc();
                counted = true;
            }
            tokio::time::sleep(LEASE_POLL).await;
            if let Some(result) = done().await? {
                return Ok(Waited::Done(result));
            }
            if Instant::now() > deadline {
                return Err(TokenError::Store(format!(
                    "waited {LEASE:?} for another instance's {kind}"
                )));
            }
        }
    }

    /// A token for `scopes` On-Behalf-Of the signed-in user, and where it came from.
    /// Concurrent requests for the same key share one exchange.
    pub async fn on_behalf_of(
        &self,
        session: &UserSession,
        scopes: &ScopeSet,
    ) -> Result<Obtained, TokenError> {
        traced(
            "on_behalf_of",
            scopes,
            self.obtain_on_behalf_of(session, scopes),
        )
        .await
    }

    async fn obtain_on_behalf_of(
        &self,
        session: &UserSession,
        scopes: &ScopeSet,
    ) -> Result<Obtained, TokenError> {
        // The assertion must be valid for the exchange, and it is part of the key.
        let user = self.fresh_user(session).await?;
        let claims = session.api_claims(scopes).await?;
        let key = self.obo_key(&user, scopes, claims.as_ref());
        let request = Exchange {
            user: &user,
            scopes,
            claims: claims.as_ref(),
        };
        self.cached_or_fetched(key, || self.exchange(&request))
            .await
    }

    /// An app-only token (client credentials) for `scopes` (a `.default` scope) in tenant
    /// `tid`: cached per tenant and resource until shortly before it expires, one request at a
    /// time in this process and, with Redis, in the deployment (as On-Behalf-Of tokens).
    pub async fn app_only(&self, tid: &str, scopes: &ScopeSet) -> Result<Obtained, TokenError> {
        traced(
            "client_credentials",
            scopes,
            self.obtain_app_only(tid, scopes),
        )
        .await
    }

    async fn obtain_app_only(&self, tid: &str, scopes: &ScopeSet) -> Result<Obtained, TokenError> {
        // The app's own identity: no user, no assertion.
        let key = OboKey {
            tenant_id: tid.to_owned(),
            object_id: "app".to_owned(),
            client_id: self.entra.config().client_id.clone(),
            scopes: scopes.to_wire(),
            claims: String::new(),
            assertion_hash: "client_credentials".to_owned(),
        };
        let request = || async {
            self.metrics.obo_exchanges.inc();
            let (token, expires_at) = self
                .entra
                .app_token(Some(tid), &scopes.to_wire())
                .await
                .map_err(TokenError::AppOnly)?;
            Ok(CachedToken {
                token,
                evict_at: evict_at(expires_at),
            })
        };
        self.cached_or_fetched(key, request).await
    }

    /// The token cached under `key` (this process's tier, then Redis's), else `fetch`'s: once
    /// at a time for `key` in this process, and with Redis in the deployment.
    async fn cached_or_fetched<F, Fut>(&self, key: OboKey, fetch: F) -> Result<Obtained, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<CachedToken, TokenError>>,
    {
        if let Some(hit) = self.obo_cache.get(&key).await {
            self.hit("process");
            return Ok(Obtained {
                token: hit.token,
                source: TokenSource::Cache,
            });
        }
        let fetched = AtomicBool::new(false);
        let fetch = || {
            fetched.store(true, Ordering::Relaxed);
            fetch()
        };
        let result = self
            .obo_cache
            .try_get_with(key.clone(), async {
                match &self.shared {
                    None => fetch().await,
                    Some(shared) => self.shared_exchange(shared, &key, fetch).await,
                }
            })
            .await;
        match result {
            Ok(cached) => Ok(Obtained {
                token: cached.token,
                source: if fetched.load(Ordering::Relaxed) {
                    TokenSource::IdentityProvider
                } else {
                    TokenSource::Cache
                },
            }),
            Err(shared) => Err(match Arc::try_unwrap(shared) {
                Ok(err) => err,
                Err(shared) => clone_error(&shared),
            }),
        }
    }

    fn hit(&self, tier: &'static str) {
        tracing::Span::current().record("bff.cache.tier", tier);
        self.metrics
            .obo_cache_hits
            .get_or_create(&TierLabels { tier })
            .inc();
    }

    /// The On-Behalf-Of exchange at the identity provider.
    async fn exchange(&self, request: &Exchange<'_>) -> Result<CachedToken, TokenError> {
        self.metrics.obo_exchanges.inc();
        let user = request.user;
        let token = self
            .entra
            .on_behalf_of(
                &user.api_token,
                request.scopes,
                &user.tenant_id,
                request.claims,
            )
            .await
            .map_err(TokenError::OnBehalfOf)?;
        Ok(CachedToken {
            token: token.access_token,
            evict_at: evict_at(token.expires_at),
        })
    }

    /// The shared tier: another instance's token if it has one, else one exchange for the
    /// whole deployment (under a lease), stored for every instance.
    async fn shared_exchange<F, Fut>(
        &self,
        shared: &Shared,
        key: &OboKey,
        exchange: F,
    ) -> Result<CachedToken, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<CachedToken, TokenError>>,
    {
        let redis_key = key.redis_key();
        let stored = || async {
            Ok(shared
                .obo_get(&redis_key)
                .await?
                .map(|(token, ttl)| CachedToken {
                    token: AccessToken::new(token),
                    evict_at: Instant::now() + ttl,
                }))
        };
        if let Some(found) = stored().await? {
            self.hit("redis");
            return Ok(found);
        }
        let lease = match self
            .lease_or_done(shared, &format!("obo:{redis_key}"), "obo", stored)
            .await?
        {
            Waited::Done(found) => {
                self.hit("redis");
                return Ok(found);
            }
            Waited::Leased(lease) => lease,
        };
        let result = match stored().await {
            Ok(Some(found)) => {
                self.hit("redis");
                Ok(found)
            }
            Ok(None) => match exchange().await {
                Ok(fresh) => {
                    let ttl = fresh.evict_at.saturating_duration_since(Instant::now());
                    shared
                        .obo_put(
                            &key.redis_user_index(),
                            &redis_key,
                            fresh.token.expose(),
                            ttl,
                        )
                        .await
                        .map(|()| fresh)
                        .map_err(TokenError::from)
                }
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        shared.release(lease).await;
        result
    }

    /// Forgets the cached token for `scopes` of the session's user, after the API refused
    /// it (e.g. Graph's 401 `InvalidAuthenticationToken` for a token revoked early): the
    /// next call exchanges anew instead of repeating the failure until the entry expires.
    pub async fn forget(&self, session: &UserSession, scopes: &ScopeSet) -> Result<(), TokenError> {
        if let Some(user) = session.user().await? {
            let claims = session.api_claims(scopes).await?;
            let key = self.obo_key(&user, scopes, claims.as_ref());
            self.obo_cache.invalidate(&key).await;
            if let Some(shared) = &self.shared {
                shared.obo_forget(&key.redis_key()).await?;
            }
        }
        Ok(())
    }

    fn obo_key(
        &self,
        user: &SignedInUser,
        scopes: &ScopeSet,
        claims: Option<&ClaimsRequest>,
    ) -> OboKey {
        OboKey {
            tenant_id: user.tenant_id.clone(),
            object_id: user.object_id.clone(),
            client_id: self.entra.config().client_id.clone(),
            scopes: scopes.to_wire(),
            claims: claims.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            assertion_hash: assertion_hash(&user.api_token),
        }
    }

    /// Forgets every cached token of a user (at sign-out), in Redis too. A Redis failure
    /// is logged: those entries then leave when their token expires.
    pub async fn purge_user(&self, tenant_id: &str, object_id: &str) {
        if let Some(shared) = &self.shared {
            let index = redis_user_index(&self.entra.config().client_id, tenant_id, object_id);
            if let Err(err) = shared.purge_user(&index).await {
                tracing::error!("the user's tokens in Redis could not be purged: {err}");
            }
        }
        let (tid, oid) = (tenant_id.to_owned(), object_id.to_owned());
        if let Err(err) = self
            .obo_cache
            .invalidate_entries_if(move |key, _| key.tenant_id == tid && key.object_id == oid)
        {
            tracing::error!("the user's cached tokens could not be purged: {err}");
        }
        self.obo_cache.run_pending_tasks().await;
    }

    /// The OBO cache's bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Entries and weighted bytes in the OBO cache.
    pub async fn cache_size(&self) -> (u64, u64) {
        self.obo_cache.run_pending_tasks().await;
        (self.obo_cache.entry_count(), self.obo_cache.weighted_size())
    }
}

/// When a token expiring at `expires_at` (Unix seconds) leaves the cache: a tenth of its life
/// (at most 5 minutes) before.
fn evict_at(expires_at: i64) -> Instant {
    let lifetime = expires_at - now();
    let keep = (lifetime - renewal_margin(lifetime)).max(0) as u64;
    Instant::now() + Duration::from_secs(keep)
}

/// `obtain` in a span that says whether the token came from a cache.
async fn traced(
    kind: &'static str,
    scopes: &ScopeSet,
    obtain: impl std::future::Future<Output = Result<Obtained, TokenError>>,
) -> Result<Obtained, TokenError> {
    let span = crate::telemetry::token_span(kind, || scopes.to_wire());
    // Boxed: the refresh, lease and exchange beneath make a large future, and a page nests
    // several of them.
    let result = Box::pin(obtain.instrument(span.clone())).await;
    if let Ok(obtained) = &result {
        span.record("cache.hit", obtained.source == TokenSource::Cache);
    }
    result
}

fn needs_renewal(user: &SignedInUser) -> bool {
    user.api_token_expires_at - now() <= renewal_margin(user.api_token_lifetime)
}

/// Waiters of a shared exchange each get the error; `IdpError` is `Clone`, a session
/// store error is reported as the store's trouble.
fn clone_error(err: &TokenError) -> TokenError {
    match err {
        TokenError::NotSignedIn => TokenError::NotSignedIn,
        TokenError::Refresh(e) => TokenError::Refresh(e.clone()),
        TokenError::OnBehalfOf(e) => TokenError::OnBehalfOf(e.clone()),
        TokenError::AppOnly(e) => TokenError::AppOnly(e.clone()),
        TokenError::Session(e) => TokenError::Store(e.to_string()),
        TokenError::Store(e) => TokenError::Store(e.clone()),
    }
}
