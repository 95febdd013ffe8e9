//! The On-Behalf-Of token cache in this process: its key (tenant, user, client, scopes, the
//! claims the exchange asked for and a hash of the assertion, see the parent module), bounded
//! in bytes, each entry leaving when its token nears expiry; and the key's form in the shared
//! (Redis) tier.

use std::time::{Duration, Instant};

use moka::{Expiry, future::Cache};

use crate::domain::AccessToken;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OboKey {
    pub tenant_id: String,
    pub object_id: String,
    pub client_id: String,
    pub scopes: String,
    /// The claims the exchange asked for (an API's challenge, the client capabilities): a
    /// token obtained without an authentication context must not serve a call that needs it.
    pub claims: String,
    /// base64url(SHA-256(assertion)): never the token itself.
    pub assertion_hash: String,
}

impl OboKey {
    /// The shared tier's key: the user in clear (for the per-user index), the rest hashed.
    pub(super) fn redis_key(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(
            format!(
                "{}\n{}\n{}\n{}",
                self.client_id, self.scopes, self.claims, self.assertion_hash
            )
            .as_bytes(),
        );
        format!(
            "bff:obo:{}:{}:{}",
            self.tenant_id,
            self.object_id,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        )
    }

    pub(super) fn redis_user_index(&self) -> String {
        redis_user_index(&self.client_id, &self.tenant_id, &self.object_id)
    }
}

/// The set of one user's keys in the shared tier, for sign-out.
pub(super) fn redis_user_index(client_id: &str, tenant_id: &str, object_id: &str) -> String {
    format!("bff:obo-user:{client_id}:{tenant_id}:{object_id}")
}

#[derive(Clone)]
pub(super) struct CachedToken {
    pub(super) token: AccessToken,
    /// When the entry must leave the cache (expiry minus the renewal margin).
    pub(super) evict_at: Instant,
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

/// The OBO cache: bounded by the bytes of its keys and tokens, each entry evicted when its
/// token nears expiry.
pub(super) fn obo_cache(max_bytes: u64) -> Cache<OboKey, CachedToken> {
    Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|key: &OboKey, value: &CachedToken| {
            let bytes = key.tenant_id.len()
                + key.object_id.len()
                + key.client_id.len()
                + key.scopes.len()
                + key.claims.len()
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

pub(super) fn assertion_hash(assertion: &AccessToken) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(assertion.expose().as_bytes()))
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
                claims: String::new(),
                assertion_hash: "h".repeat(43),
            };
            let token = CachedToken {
                token: AccessToken::new("x".repeat(2_000)),
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
            claims: String::new(),
            assertion_hash: "h".into(),
        };
        let token = CachedToken {
            token: AccessToken::new("x"),
            evict_at: Instant::now() + Duration::from_millis(50),
        };
        cache.insert(key.clone(), token).await;
        assert!(cache.get(&key).await.is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(cache.get(&key).await.is_none());
    }
}
