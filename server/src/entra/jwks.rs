//! The identity provider's signing keys, cached and refetched when an unknown key id shows
//! up (key rollover), at most once at a time and not more often than every few seconds.

use std::time::{Duration, Instant};

use jsonwebtoken::{DecodingKey, jwk::JwkSet};
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::{IdpError, metadata::get_json};

/// Refetching more often than this cannot help: a token with an unknown `kid` right after
/// a refetch is forged or from another issuer.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Key sets are refreshed daily, as Microsoft's libraries do.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

pub struct JwksCache {
    http: reqwest::Client,
    uri: Url,
    keys: RwLock<Option<(JwkSet, Instant)>>,
    refetch: Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the token names no signing key (no `kid` in its header)")]
    NoKid,
    #[error("no signing key with id {0:?} is published by the identity provider")]
    Unknown(String),
    #[error("the published key {0:?} is not usable: {1}")]
    Unusable(String, String),
    #[error(transparent)]
    Fetch(#[from] IdpError),
}

impl JwksCache {
    pub fn new(http: reqwest::Client, uri: Url) -> Self {
        Self {
            http,
            uri,
            keys: RwLock::new(None),
            refetch: Mutex::new(()),
        }
    }

    /// The decoding key for `kid`, fetching the key set when it is not known yet or older
    /// than a day (keys the provider withdrew stop being trusted then).
    pub async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, KeyError> {
        let kid = kid.ok_or(KeyError::NoKid)?;
        if !self.is_stale().await
            && let Some(key) = self.cached(kid).await?
        {
            return Ok(key);
        }
        // One refetch at a time; whoever waited re-checks what the first one fetched.
        let _guard = self.refetch.lock().await;
        let stale = self.is_stale().await;
        if !stale && let Some(key) = self.cached(kid).await? {
            return Ok(key);
        }
        let recently = self
            .keys
            .read()
            .await
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() < MIN_REFETCH_INTERVAL);
        if recently {
            return Err(KeyError::Unknown(kid.to_owned()));
        }
        match get_json::<JwkSet>(&self.http, self.uri.as_str(), "jwks").await {
            Ok(set) => {
                tracing::info!(
                    keys = set.keys.len(),
                    "fetched the identity provider's signing keys"
                );
                *self.keys.write().await = Some((set, Instant::now()));
            }
            // A day-old key set still beats none while the provider is unreachable.
            Err(err) if stale && self.keys.read().await.is_some() => {
                tracing::warn!("keeping the previous signing keys: {err}");
            }
            Err(err) => return Err(err.into()),
        }
        self.cached(kid)
            .await?
            .ok_or_else(|| KeyError::Unknown(kid.to_owned()))
    }

    async fn is_stale(&self) -> bool {
        self.keys
            .read()
            .await
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() > MAX_AGE)
    }

    /// Key ids currently known, for diagnostics.
    pub async fn known_kids(&self) -> Vec<String> {
        self.keys
            .read()
            .await
            .as_ref()
            .map(|(set, _)| {
                set.keys
                    .iter()
                    .filter_map(|k| k.common.key_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn cached(&self, kid: &str) -> Result<Option<DecodingKey>, KeyError> {
        let keys = self.keys.read().await;
        let Some(jwk) = keys.as_ref().and_then(|(set, _)| set.find(kid)) else {
            return Ok(None);
        };
        DecodingKey::from_jwk(jwk)
            .map(Some)
            .map_err(|err| KeyError::Unusable(kid.to_owned(), err.to_string()))
    }
}
