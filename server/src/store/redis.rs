//! Redis, shared by every instance: the connection (with a timeout on every command and
//! reconnection by itself), leases that make one request in the whole deployment do a
//! refresh or an exchange, and the shared tier of the On-Behalf-Of token cache.
//!
//! Keys: `bff:lock:<name>` for leases, `bff:obo:<tid>:<oid>:<hash>` for cached tokens (sealed
//! with the session key ring), `bff:obo-user:<tid>:<oid>` for the set of a user's cached
//! tokens, purged at sign-out. Session records are the session store's (keyed by session id).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use fred::{
    interfaces::{ClientLike, KeysInterface, LuaInterface, SetsInterface},
    prelude::{Builder, Config, Pool, ReconnectPolicy},
    types::{Expiration, SetOptions},
};

use tracing::Instrument as _;

use crate::{config::RedisSettings, metrics::Metrics, store::sealed::KeyRing};

/// Connections kept open to Redis by each instance.
const POOL_SIZE: usize = 4;

/// Deletes a lease only if it is still ours (it may have expired and been taken since).
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Sets a key's time to live to ARGV[1] seconds unless it already lives longer, atomically
/// (two writers reading the TTL then setting it could shorten it).
const EXTEND_TTL: &str = "if redis.call('ttl', KEYS[1]) < tonumber(ARGV[1]) then return redis.call('expire', KEYS[1], ARGV[1]) else return 0 end";

/// Makes `key` live at least `secs` more seconds (see [`EXTEND_TTL`]).
pub async fn extend_ttl(pool: &Pool, key: &str, secs: i64) -> Result<(), fred::error::Error> {
    let _: i64 = pool
        .eval(
            EXTEND_TTL,
            vec![key.to_owned()],
            vec![secs.max(1).to_string()],
        )
        .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("Redis: {0}")]
pub struct RedisError(String);

impl From<fred::error::Error> for RedisError {
    fn from(err: fred::error::Error) -> Self {
        Self(err.to_string())
    }
}

/// Connects, or says why not (start fails with it: a misconfigured Redis must not surface
/// as signed-out users later).
pub async fn connect(settings: &RedisSettings) -> Result<Pool, String> {
    let config = Config::from_url(&settings.url).map_err(|e| e.to_string())?;
    let pool = Builder::from_config(config)
        .with_performance_config(|perf| perf.default_command_timeout = settings.timeout)
        .with_connection_config(|conn| {
            conn.connection_timeout = settings.timeout;
            conn.internal_command_timeout = settings.timeout;
        })
        // Forever, backing off to 2 s: Redis coming back is noticed without a restart.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build_pool(POOL_SIZE)
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(settings.timeout * 2, pool.init()).await {
        Ok(Ok(_task)) => {}
        Ok(Err(err)) => return Err(err.to_string()),
        Err(_) => return Err(format!("no answer within {:?}", settings.timeout * 2)),
    }
    pool.ping::<String>(None).await.map_err(|e| e.to_string())?;
    Ok(pool)
}

/// A lease on a lock, held until released or until it expires.
pub struct Lease {
    key: String,
    token: String,
}

/// The shared state of a deployment in Redis.
pub struct Shared {
    pool: Pool,
    ring: Arc<KeyRing>,
    metrics: Arc<Metrics>,
}

impl Shared {
    pub fn new(pool: Pool, ring: Arc<KeyRing>, metrics: Arc<Metrics>) -> Self {
        Self {
            pool,
            ring,
            metrics,
        }
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = Result<T, fred::error::Error>>,
    ) -> Result<T, RedisError> {
        let span = crate::telemetry::store_span("redis", op);
        let started = Instant::now();
        let result = call.instrument(span.clone()).await;
        self.metrics
            .store_call(op, started.elapsed(), result.is_err());
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        result.map_err(|err| {
            tracing::error!(op, "Redis: {err}");
            err.into()
        })
    }

    /// Takes the lease `name` for `ttl`, if nobody holds it.
    pub async fn try_lock(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, RedisError> {
        let key = format!("bff:lock:{name}");
        let token = uuid::Uuid::new_v4().to_string();
        // `OK` when set, nil when someone holds it.
        let taken: Option<String> = self
            .timed(
                "lock",
                self.pool.set(
                    key.as_str(),
                    token.as_str(),
                    Some(Expiration::PX(ttl.as_millis() as i64)),
                    Some(SetOptions::NX),
                    false,
                ),
            )
            .await?;
        Ok(taken.map(|_| Lease { key, token }))
    }

    /// Gives the lease back (a failure only delays the next holder until it expires).
    pub async fn release(&self, lease: Lease) {
        let _ = self
            .timed(
                "unlock",
                self.pool
                    .eval::<i64, _, _, _>(RELEASE, vec![lease.key], vec![lease.token]),
            )
            .await;
    }

    /// Whether anyone holds the lease `name`.
    pub async fn is_locked(&self, name: &str) -> Result<bool, RedisError> {
        let n: i64 = self
            .timed("lock", self.pool.exists(format!("bff:lock:{name}")))
            .await?;
        Ok(n > 0)
    }

    /// A cached token and its remaining life, if another instance (or this one) stored it.
    pub async fn obo_get(&self, key: &str) -> Result<Option<(String, Duration)>, RedisError> {
        let sealed: Option<String> = self.timed("obo_get", self.pool.get(key)).await?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let ttl_ms: i64 = self.timed("obo_get", self.pool.pttl(key)).await?;
        match self.ring.open(&sealed, key.as_bytes()) {
            Some(token) if ttl_ms > 0 => Ok(String::from_utf8(token)
                .ok()
                .map(|t| (t, Duration::from_millis(ttl_ms as u64)))),
            _ => Ok(None),
        }
    }

    /// Stores a token for `ttl` (its life minus the renewal margin), indexed under its user
    /// for [`Self::purge_user`].
    pub async fn obo_put(
        &self,
        user_index: &str,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        let sealed = self.ring.seal(token.as_bytes(), key.as_bytes());
        let ms = ttl.as_millis().max(1) as i64;
        let _: () = self
            .timed(
                "obo_put",
                self.pool
                    .set(key, sealed, Some(Expiration::PX(ms)), None, false),
            )
            .await?;
        let _: i64 = self
            .timed("obo_put", self.pool.sadd(user_index, key))
            .await?;
        // The index outlives its longest-lived entry by an hour (a stale member costs one
        // no-op DEL): a token that expires sooner never shortens it, or sign-out would miss
        // the older ones.
        self.timed(
            "obo_put",
            extend_ttl(&self.pool, user_index, ttl.as_secs() as i64 + 3_600),
        )
        .await?;
        Ok(())
    }

    /// Deletes one cached token (the API refused it).
    pub async fn obo_forget(&self, key: &str) -> Result<(), RedisError> {
        let _: i64 = self.timed("obo_forget", self.pool.del(key)).await?;
        Ok(())
    }

    /// Deletes every cached token of a user (sign-out).
    pub async fn purge_user(&self, user_index: &str) -> Result<(), RedisError> {
        let keys: Vec<String> = self
            .timed("obo_purge", self.pool.smembers(user_index))
            .await?;
        let mut all = keys;
        all.push(user_index.to_owned());
        let _: i64 = self.timed("obo_purge", self.pool.del(all)).await?;
        Ok(())
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let _: String = self.timed("ping", self.pool.ping(None)).await?;
        Ok(())
    }
}
