//! An identity provider's signing keys (JWKS), as Microsoft's libraries keep them: fetched on
//! first use; refreshed when a day old (keys the provider withdrew stop being trusted); fetched
//! again when a token names an unknown `kid` (key rollover), one fetch at a time and not more
//! often than every few seconds (a token with an unknown `kid` right after a fetch is forged or
//! from another issuer); each fetch retried through transient failures; and, while the
//! provider is down, the day-old set kept rather than none.
//!
//! The BFF verifies ID tokens with it, the Weather API access tokens: one implementation, so
//! the two cannot drift.

#![warn(missing_docs)]

use std::time::{Duration, Instant};
use tracing::Instrument as _;

use jsonwebtoken::{DecodingKey, jwk::JwkSet};
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// Refetching more often than this cannot help.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Key sets are refreshed daily, as Microsoft's libraries do.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Attempts per fetch (the first and two retries).
const ATTEMPTS: u32 = 3;

/// The signing keys of one key set URL.
pub struct JwksCache {
    http: reqwest::Client,
    uri: Url,
    keys: RwLock<Option<(JwkSet, Instant)>>,
    /// When a fetch was last tried, successful or not: during an outage the next attempt
    /// waits [`MIN_REFETCH_INTERVAL`] instead of every request trying (and waiting) again.
    refetch: Mutex<Option<Instant>>,
}

/// Why no key could be had for a token.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The token's header has no `kid`.
    #[error("the token names no signing key (no `kid` in its header)")]
    NoKid,
    /// No published key has this id, even after a fresh fetch.
    #[error("no signing key with id {0:?} is published by the identity provider")]
    Unknown(String),
    /// The published key cannot be used (e.g. an unsupported key type).
    #[error("the published key {0:?} is not usable: {1}")]
    Unusable(String, String),
    /// The key set could not be fetched.
    #[error("the identity provider's signing keys could not be fetched: {0}")]
    Fetch(String),
}

impl JwksCache {
    /// A cache of the key set at `uri`, fetched with `http` (which should have timeouts and
    /// no redirects).
    pub fn new(http: reqwest::Client, uri: Url) -> Self {
        Self {
            http,
            uri,
            keys: RwLock::new(None),
            refetch: Mutex::new(None),
        }
    }

    /// The key set URL.
    pub fn uri(&self) -> &Url {
        &self.uri
    }

    /// The decoding key for `kid`, fetching the key set when it is not known yet, older than
    /// [`MAX_AGE`], or lacks `kid`.
    ///
    /// # Errors
    /// [`KeyError`]: no `kid`, an unknown or unusable key, or a failed fetch.
    pub async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, KeyError> {
        let kid = kid.ok_or(KeyError::NoKid)?;
        if !self.is_stale().await
            && let Some(key) = self.cached(kid).await?
        {
            return Ok(key);
        }
        // One fetch at a time; whoever waited re-checks what the first one fetched.
        let mut last_attempt = self.refetch.lock().await;
        let stale = self.is_stale().await;
        if !stale && let Some(key) = self.cached(kid).await? {
            return Ok(key);
        }
        if last_attempt.is_some_and(|at| at.elapsed() < MIN_REFETCH_INTERVAL) {
            // Tried moments ago: a day-old key still serves; otherwise say why, without
            // asking the provider again.
            return match (self.cached(kid).await?, self.keys.read().await.is_some()) {
                (Some(key), _) => Ok(key),
                (None, true) => Err(KeyError::Unknown(kid.to_owned())),
                (None, false) => Err(KeyError::Fetch(
                    "the last attempt failed moments ago; retrying shortly".into(),
                )),
            };
        }
        *last_attempt = Some(Instant::now());
        match fetch(&self.http, &self.uri).await {
            Ok(set) => {
                tracing::info!(keys = set.keys.len(), uri = %self.uri, "fetched signing keys");
                *self.keys.write().await = Some((set, Instant::now()));
            }
            // A day-old key set still beats none while the provider is unreachable.
            Err(err) if stale && self.keys.read().await.is_some() => {
                tracing::warn!("keeping the previous signing keys: {err}");
            }
            Err(err) => return Err(KeyError::Fetch(err)),
        }
        self.cached(kid)
            .await?
            .ok_or_else(|| KeyError::Unknown(kid.to_owned()))
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

    async fn is_stale(&self) -> bool {
        self.keys
            .read()
            .await
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() > MAX_AGE)
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

/// GET the key set, retrying timeouts, 5xx and 429 twice with backoff (honouring
/// `Retry-After` up to 5 s): the key set is idempotent to fetch.
async fn fetch(http: &reqwest::Client, uri: &Url) -> Result<JwkSet, String> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A client span when an OpenTelemetry layer is installed (the BFF's traces): the
        // attribute names are the semantic conventions'.
        let span = tracing::info_span!(
            "call",
            otel.name = %format_args!("GET {}", uri.path()),
            otel.kind = "client",
            http.request.method = "GET",
            server.address = uri.host_str().unwrap_or_default(),
            entra.operation = "keys",
            http.response.status_code = tracing::field::Empty,
        );
        // Entra's support looks a call up by the id its client sent.
        let sent = http
            .get(uri.clone())
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .send()
            .instrument(span.clone())
            .await;
        if let Ok(response) = &sent {
            span.record("http.response.status_code", response.status().as_u16());
        }
        let (result, transient, wait) = match sent {
            Err(err) => (Err(err.without_url().to_string()), true, None),
            Ok(response) if response.status().is_success() => (
                response
                    .json::<JwkSet>()
                    .await
                    .map_err(|err| format!("unreadable key set: {}", err.without_url())),
                false,
                None,
            ),
            Ok(response) => {
                let status = response.status();
                let wait = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                (
                    Err(format!("HTTP {status}")),
                    status.is_server_error() || status.as_u16() == 429,
                    wait,
                )
            }
        };
        match result {
            Err(err) if transient && attempt < ATTEMPTS => {
                let wait = wait.unwrap_or(delay).min(Duration::from_secs(5));
                tracing::warn!(attempt, "retrying the signing keys after {wait:?}: {err}");
                tokio::time::sleep(wait).await;
                delay *= 3;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key set URL where nothing listens: every fetch fails at once.
    fn unreachable() -> JwksCache {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        JwksCache::new(
            reqwest::Client::new(),
            Url::parse(&format!("http://127.0.0.1:{port}/keys")).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_token_without_kid_is_refused_without_a_fetch() {
        let cache = unreachable();
        assert!(matches!(cache.key(None).await, Err(KeyError::NoKid)));
        assert!(cache.refetch.lock().await.is_none(), "nothing was fetched");
    }

    #[tokio::test]
    async fn during_an_outage_requests_do_not_each_try_the_provider_again() {
        let cache = unreachable();
        let first = std::time::Instant::now();
        assert!(matches!(
            cache.key(Some("k")).await,
            Err(KeyError::Fetch(_))
        ));
        let tried = first.elapsed();
        // The next ones answer at once from the recorded failure.
        let again = std::time::Instant::now();
        for _ in 0..10 {
            assert!(matches!(
                cache.key(Some("k")).await,
                Err(KeyError::Fetch(_))
            ));
        }
        assert!(
            again.elapsed() < tried.max(Duration::from_millis(50)),
            "{:?}",
            again.elapsed()
        );
    }
}
