//! Where sessions live: SQLite (embedded default), Redis (several instances) or memory
//! (tests). Whatever the store, each record is sealed ([`sealed`]), ends when idle
//! ([`idle`]), and its calls are timed and turned into a clear 503 when they fail
//! ([`health`]). SQLite, written by this process alone, is read through a write-through
//! cache ([`cached`]). With Redis, the deployment also shares leases and the OBO cache
//! ([`redis`]).

pub mod cached;
pub mod conditional;
pub mod health;
pub mod idle;
pub mod redis;
pub mod sealed;
pub mod sid_index;

use std::sync::Arc;

use axum::{Router, middleware};
use tower_sessions::{
    Expiry, SessionManagerLayer, SessionStore, cookie::SameSite, session_store::ExpiredDeletion,
};
use tower_sessions_sqlx_store::{
    SqliteStore,
    sqlx::{SqlitePool, sqlite::SqliteConnectOptions},
};

use crate::{
    config::{Config, SessionStoreKind, redacted_url},
    metrics::Metrics,
};
use health::{StoreHealth, Watched};
use idle::IdleExpiry;
use sealed::{KeyRing, Sealed, StoredIds};

/// The opened store, ready to be layered onto the router.
pub struct Stores {
    backend: Backend,
    pub health: Arc<StoreHealth>,
    /// Redis's shared leases and token cache, when sessions live in Redis.
    pub shared: Option<Arc<redis::Shared>>,
    /// The sessions each identity-provider sign-in session opened (front-channel sign-out).
    pub sid_index: sid_index::SidIndex,
    /// Where each session is stored, in this app's namespace (its client id).
    pub ids: StoredIds,
    metrics: Arc<Metrics>,
}

/// Each saves an existing session only while it exists ([`conditional`]).
enum Backend {
    Memory(conditional::MemoryStore),
    Sqlite(cached::Cached<conditional::ConditionalSqlite>),
    Redis(conditional::ConditionalRedis),
}

impl Stores {
    /// Opens the configured store; an unreachable Redis or an unwritable file stops start
    /// with the fix.
    pub async fn open(config: &Config, metrics: Arc<Metrics>) -> Result<Self, String> {
        let ring = Arc::new(KeyRing::load(&config.session.keys)?);
        let (backend, shared, sid_index) = match &config.session.store {
            SessionStoreKind::Memory => (
                Backend::Memory(conditional::MemoryStore::default()),
                None,
                sid_index::SidIndex::memory(),
            ),
            SessionStoreKind::Sqlite(path) => {
                let (store, index) = open_sqlite(path)
                    .await
                    .map_err(|e| format!("{}: {e}. Check DATA_DIR.", path.display()))?;
                (Backend::Sqlite(cached::Cached::new(store)), None, index)
            }
            SessionStoreKind::Redis(settings) => {
                let pool = redis::connect(settings).await.map_err(|e| {
                    format!(
                        "Redis at {} did not answer: {e}. Is it running, and do REDIS_URL's \
                         host, port, user and password match it (rediss:// for TLS)?",
                        redacted_url(&settings.url)
                    )
                })?;
                let shared = redis::Shared::new(pool.clone(), ring.clone(), metrics.clone());
                let index = sid_index::SidIndex::redis(pool.clone(), &config.client_id);
                (
                    Backend::Redis(conditional::ConditionalRedis::new(pool)),
                    Some(Arc::new(shared)),
                    index,
                )
            }
        };
        Ok(Self {
            backend,
            ids: StoredIds::new(ring, &config.client_id),
            health: Arc::default(),
            shared,
            sid_index,
            metrics,
        })
    }

    /// Adds the session layer with this store, sealed and watched, and the store-failure
    /// answers around it.
    pub fn layer(&self, router: Router, config: &Config) -> Router {
        let router = router.layer(middleware::from_fn(health::read_session_first));
        let router = match &self.backend {
            Backend::Memory(store) => {
                router.layer(self.session_layer(store.clone(), "memory", config))
            }
            Backend::Sqlite(store) => {
                router.layer(self.session_layer(store.clone(), "sqlite", config))
            }
            Backend::Redis(store) => {
                router.layer(self.session_layer(store.clone(), "redis", config))
            }
        };
        router.layer(middleware::from_fn_with_state(
            self.health.clone(),
            health::explain_store_failures,
        ))
    }

    fn session_layer<S: SessionStore + conditional::UpdateExisting + Clone>(
        &self,
        store: S,
        system: &'static str,
        config: &Config,
    ) -> SessionManagerLayer<IdleExpiry<Sealed<Watched<S>>>> {
        let watched = Watched::new(store, system, self.health.clone(), self.metrics.clone());
        let store = IdleExpiry::new(
            Sealed::new(watched, self.ids.clone()),
            config.session.idle_timeout,
        );
        SessionManagerLayer::new(store)
            .with_name(cookie_name(config.is_https()))
            .with_http_only(true)
            .with_secure(config.is_https())
            .with_path("/")
            // Lax, not Strict: the identity provider's redirect back to /auth/callback is a
            // cross-site navigation, and a Strict cookie would not be sent with it, so the
            // callback would find no sign-in transaction. Lax still withholds the cookie from
            // cross-site POSTs, and state-changing requests are CSRF-checked on top.
            .with_same_site(SameSite::Lax)
            // A browser-session cookie; the idle timeout is the store's (see `idle`).
            .with_expiry(Expiry::OnSessionEnd)
    }

    /// Deletes a session outside any request (a front-channel sign-out), by its stored id as
    /// the sign-in index keeps it; an entry written by an earlier version (a hash of the id,
    /// or the id itself) finds the session where it moved since
    /// ([`StoredIds::for_index_entry`]). A value that is not an id, or names no session, is
    /// nothing to delete.
    pub async fn delete_session(&self, id: &str) -> Result<(), String> {
        let Ok(id) = id.parse::<tower_sessions::session::Id>() else {
            return Ok(());
        };
        for id in self.ids.for_index_entry(&id) {
            let result = match &self.backend {
                Backend::Memory(store) => store.delete(&id).await,
                Backend::Sqlite(store) => store.delete(&id).await,
                Backend::Redis(store) => store.delete(&id).await,
            };
            result.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Whether the store answers now (`/readyz`).
    pub async fn ping(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Sqlite(store) => {
                // The pool is private to the store; a load of an unknown id is one query.
                store
                    .inner()
                    .load(&tower_sessions::session::Id::default())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Backend::Redis(_) => match &self.shared {
                Some(shared) => shared.ping().await.map_err(|e| e.to_string()),
                None => Ok(()),
            },
        }
    }
}

/// The session cookie's name: with the `__Host-` prefix over HTTPS.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-bff-session"
    } else {
        "bff-session"
    }
}

async fn open_sqlite(
    path: &std::path::Path,
) -> Result<(conditional::ConditionalSqlite, sid_index::SidIndex), String> {
    private_file(path).map_err(|e| e.to_string())?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options)
        .await
        .map_err(|e| e.to_string())?;
    let index = sid_index::SidIndex::sqlite(pool.clone()).await?;
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.map_err(|e| e.to_string())?;
    tokio::spawn(
        store
            .clone()
            .continuously_delete_expired(tokio::time::Duration::from_secs(300)),
    );
    Ok((conditional::ConditionalSqlite::new(store, pool), index))
}

/// Creates the session database readable by this user only: it holds refresh tokens
/// (sealed, but a file of sessions is nobody else's business). SQLite's journal files take
/// the same mode from it.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    drop(file);
    Ok(())
}
