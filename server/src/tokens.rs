//! The token lifecycle: the sign-in token refreshed before it expires (once per session
//! even under concurrent requests), and On-Behalf-Of tokens cached per user and scopes.
//!
//! The OBO cache key holds tenant, user object id, client id and the sorted scopes (never
//! less: a shorter key hands one user's token to another, CVE-2024-51987), and a hash of the
//! assertion, as MSAL does: a token obtained with an MFA-satisfying sign-in must not serve
//! another session of the same user that has not done MFA (a Conditional Access bypass).
//! Each entry lives until `expires_in` minus a margin; the cache is bounded in bytes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache};
use tokio::sync::Mutex;

use crate::{
    domain::{ScopeSet, Secret},
    entra::{EntraClient, IdpError},
    session::{SignedInUser, UserSession, now},
};

/// A token is renewed when less than this share of its lifetime (at most 5 minutes) is
/// left, so that it never expires in flight.
fn renewal_margin(lifetime: i64) -> i64 {
    (lifetime / 10).clamp(5, 300)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OboKey {
    pub tenant_id: String,
    pub object_id: String,
    pub client_id: String,
    pub scopes: String,
    /// base64url(SHA-256(assertion)): never the token itself.
    pub assertion_hash: String,
}

#[derive(Clone)]
struct CachedToken {
    token: Secret,
    /// When the entry must leave the cache (expiry minus the renewal margin).
    evict_at: Instant,
}

struct EvictAtExpiry;

impl Expiry<OboKey, CachedToken> for EvictAtExpiry {
    fn expire_after_create(
        &self,
        _key: &OboKey,
        value: &CachedToken,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.evict_at.saturating_duration_since(created_at))
    }
}

/// Counts for the metrics endpoint and the tests.
#[derive(Debug, Default)]
pub struct TokenMetrics {
    pub obo_cache_hits: AtomicU64,
    pub obo_exchanges: AtomicU64,
    pub refreshes: AtomicU64,
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
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
}

pub struct TokenService {
    entra: Arc<EntraClient>,
    obo_cache: Cache<OboKey, CachedToken>,
    refresh_locks: moka::sync::Cache<String, Arc<Mutex<()>>>,
    max_bytes: u64,
    pub metrics: TokenMetrics,
}

impl TokenService {
    /// `max_bytes` bounds the OBO cache by the size of its keys and tokens.
    pub fn new(entra: Arc<EntraClient>, max_bytes: u64) -> Self {
        let obo_cache = obo_cache(max_bytes);
        Self {
            entra,
            obo_cache,
            refresh_locks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            max_bytes,
            metrics: TokenMetrics::default(),
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
        // One refresh per session: the others wait, then read what the first one stored.
        let key = session.id().unwrap_or_default();
        let lock = self
            .refresh_locks
            .get_with(key, || Arc::new(Mutex::new(())));
        let _guard = lock.lock().await;
        session
            .0
            .load()
            .await
            .map_err(crate::session::SessionError::from)?;
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
        self.metrics.refreshes.fetch_add(1, Ordering::Relaxed);
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

    /// A token for `scopes` On-Behalf-Of the signed-in user, and whether it came from the
    /// cache. Concurrent requests for the same key share one exchange.
    pub async fn on_behalf_of(
        &self,
        session: &UserSession,
        scopes: &ScopeSet,
    ) -> Result<(Secret, bool), TokenError> {
        // The assertion must be valid for the exchange, and it is part of the key.
        let user = self.fresh_user(session).await?;
        let key = self.obo_key(&user, scopes);
        if let Some(hit) = self.obo_cache.get(&key).await {
            self.metrics.obo_cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((hit.token, true));
        }
        let exchanged = AtomicBool::new(false);
        let result = self
            .obo_cache
            .try_get_with(key, async {
                exchanged.store(true, Ordering::Relaxed);
                self.metrics.obo_exchanges.fetch_add(1, Ordering::Relaxed);
                let token = self
                    .entra
                    .on_behalf_of(&user.api_token, scopes, &user.tenant_id)
                    .await
                    .map_err(TokenError::OnBehalfOf)?;
                let lifetime = token.expires_at - now();
                let keep = (lifetime - renewal_margin(lifetime)).max(0) as u64;
                Ok::<_, TokenError>(CachedToken {
                    token: token.access_token,
                    evict_at: Instant::now() + Duration::from_secs(keep),
                })
            })
            .await;
        match result {
            Ok(cached) => Ok((cached.token, !exchanged.load(Ordering::Relaxed))),
            Err(shared) => Err(match Arc::try_unwrap(shared) {
                Ok(err) => err,
                Err(shared) => clone_error(&shared),
            }),
        }
    }

    /// Forgets the cached token for `scopes` of the session's user, after the API refused
    /// it (e.g. Graph's 401 `InvalidAuthenticationToken` for a token revoked early): the
    /// next call exchanges anew instead of repeating the failure until the entry expires.
    pub async fn forget(&self, session: &UserSession, scopes: &ScopeSet) -> Result<(), TokenError> {
        if let Some(user) = session.user().await? {
            self.obo_cache
                .invalidate(&self.obo_key(&user, scopes))
                .await;
        }
        Ok(())
    }

    fn obo_key(&self, user: &SignedInUser, scopes: &ScopeSet) -> OboKey {
        OboKey {
            tenant_id: user.tenant_id.clone(),
            object_id: user.object_id.clone(),
            client_id: self.entra.config().client_id.clone(),
            scopes: scopes.to_wire(),
            assertion_hash: assertion_hash(&user.api_token),
        }
    }

    /// Forgets every cached token of a user (at sign-out).
    pub async fn purge_user(&self, tenant_id: &str, object_id: &str) {
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

/// The OBO cache: bounded by the bytes of its keys and tokens, each entry evicted when its
/// token nears expiry.
fn obo_cache(max_bytes: u64) -> Cache<OboKey, CachedToken> {
    Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|key: &OboKey, value: &CachedToken| {
            let bytes = key.tenant_id.len()
                + key.object_id.len()
                + key.client_id.len()
                + key.scopes.len()
                + key.assertion_hash.len()
                + value.token.expose().len()
                + 64;
            u32::try_from(bytes).unwrap_or(u32::MAX)
        })
        .expire_after(EvictAtExpiry)
        // Needed by `purge_user` (sign-out); without it invalidation is refused.
        .support_invalidation_closures()
        .build()
}

fn assertion_hash(assertion: &Secret) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(assertion.expose().as_bytes()))
}

fn needs_renewal(user: &SignedInUser) -> bool {
    user.api_token_expires_at - now() <= renewal_margin(user.api_token_lifetime)
}

/// Waiters of a shared exchange each get the error; `IdpError` is `Clone`, the session
/// error is reported as unavailable storage.
fn clone_error(err: &TokenError) -> TokenError {
    match err {
        TokenError::NotSignedIn => TokenError::NotSignedIn,
        TokenError::Refresh(e) => TokenError::Refresh(e.clone()),
        TokenError::OnBehalfOf(e) => TokenError::OnBehalfOf(e.clone()),
        TokenError::Session(e) => TokenError::OnBehalfOf(IdpError::Unavailable {
            endpoint: "session store",
            detail: e.to_string(),
            retry_after: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_obo_cache_stays_within_its_byte_bound() {
        let cache = obo_cache(64 * 1024);
        for user in 0..1_000 {
            let key = OboKey {
                tenant_id: "t".into(),
                object_id: format!("user-{user}"),
                client_id: "c".into(),
                scopes: "https://graph.microsoft.com/User.Read".into(),
                assertion_hash: "h".repeat(43),
            };
            let token = CachedToken {
                token: Secret::new("x".repeat(2_000)),
                evict_at: Instant::now() + Duration::from_secs(3600),
            };
            cache.insert(key, token).await;
        }
        cache.run_pending_tasks().await;
        assert!(
            cache.weighted_size() <= 64 * 1024,
            "{} bytes",
            cache.weighted_size()
        );
        assert!(cache.entry_count() <= 32, "{} entries", cache.entry_count());
        assert!(cache.entry_count() > 0);
    }

    #[tokio::test]
    async fn entries_leave_when_their_token_nears_expiry() {
        let cache = obo_cache(1024 * 1024);
        let key = OboKey {
            tenant_id: "t".into(),
            object_id: "o".into(),
            client_id: "c".into(),
            scopes: "s".into(),
            assertion_hash: "h".into(),
        };
        let token = CachedToken {
            token: Secret::new("x"),
            evict_at: Instant::now() + Duration::from_millis(50),
        };
        cache.insert(key.clone(), token).await;
        assert!(cache.get(&key).await.is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(cache.get(&key).await.is_none());
    }
}
