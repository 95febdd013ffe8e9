//! Saves that never bring back a deleted session. A request that loaded its session before a
//! sign-out (here, on another instance, or the identity provider's front-channel sign-out)
//! saves it afterwards; an upsert would then revive the session and leave it out of the sign-in
//! index. So saving an existing session updates it only if it is still there, in the store
//! itself, atomically: SQLite's `UPDATE ... WHERE id = ?` (here, in front of tower-sessions'
//! upserting store), Redis's `SET ... XX` (tower-sessions' Redis store sends it too, but fails
//! on Redis's nil answer when the key is gone: here that answer means "ended", not an outage),
//! and the memory store's check under its own lock (here).

use std::{collections::HashMap, sync::Arc};

use fred::{
    interfaces::KeysInterface as _,
    prelude::Pool,
    types::{Expiration, SetOptions, Value},
};
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{Error, Result},
};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::{SqliteStore, sqlx::SqlitePool};

/// A store whose save can say whether the session still existed (and so was saved).
#[async_trait::async_trait]
pub trait UpdateExisting {
    /// Saves `record` if its session exists; whether it did.
    async fn update_existing(&self, record: &Record) -> Result<bool>;
}

/// tower-sessions' store `S` for creating, loading and deleting records, with saves through
/// `U`, which updates only a record that still exists.
#[derive(Debug, Clone)]
pub struct Conditional<S, U> {
    inner: S,
    update: U,
}

/// tower-sessions' SQLite store with `UPDATE ... WHERE id = ?` saves.
pub type ConditionalSqlite = Conditional<SqliteStore, SqliteUpdate>;
/// tower-sessions' Redis store with `SET ... XX` saves, a gone key meaning "ended".
pub type ConditionalRedis = Conditional<RedisStore<Pool>, RedisUpdate>;

impl ConditionalSqlite {
    /// `inner` must use its default table (`tower_sessions`) on `pool`.
    pub fn new(inner: SqliteStore, pool: SqlitePool) -> Self {
        Self {
            inner,
            update: SqliteUpdate(pool),
        }
    }
}

impl ConditionalRedis {
    pub fn new(pool: Pool) -> Self {
        Self {
            inner: RedisStore::new(pool.clone()),
            update: RedisUpdate(pool),
        }
    }
}

#[async_trait::async_trait]
impl<S: SessionStore, U: UpdateExisting + std::fmt::Debug + Clone + Send + Sync + 'static>
    SessionStore for Conditional<S, U>
{
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.update.update_existing(record).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(id).await
    }
}

#[async_trait::async_trait]
impl<S: Send + Sync, U: UpdateExisting + Send + Sync> UpdateExisting for Conditional<S, U> {
    async fn update_existing(&self, record: &Record) -> Result<bool> {
        self.update.update_existing(record).await
    }
}

/// The SQLite store's conditional save.
#[derive(Debug, Clone)]
pub struct SqliteUpdate(SqlitePool);

#[async_trait::async_trait]
impl UpdateExisting for SqliteUpdate {
    async fn update_existing(&self, record: &Record) -> Result<bool> {
        // The same encoding as the store's own writes (MessagePack of the whole record).
        let data = rmp_serde::to_vec(record).map_err(|e| Error::Encode(e.to_string()))?;
        let done = tower_sessions_sqlx_store::sqlx::query(
            "update tower_sessions set data = ?, expiry_date = ? where id = ?",
        )
        .bind(data)
        .bind(record.expiry_date)
        .bind(record.id.to_string())
        .execute(&self.0)
        .await
        .map_err(|e| Error::Backend(e.to_string()))?;
        Ok(done.rows_affected() == 1)
    }
}

/// The Redis store's conditional save.
#[derive(Debug, Clone)]
pub struct RedisUpdate(Pool);

#[async_trait::async_trait]
impl UpdateExisting for RedisUpdate {
    async fn update_existing(&self, record: &Record) -> Result<bool> {
        // The same key and encoding as the store's own writes.
        let data = rmp_serde::to_vec(record).map_err(|e| Error::Encode(e.to_string()))?;
        let expiry = Expiration::EXAT(record.expiry_date.unix_timestamp());
        // `OK`, or nil when the key is gone (`XX`).
        let answer: Value = self
            .0
            .set(
                record.id.to_string(),
                data.as_slice(),
                Some(expiry),
                Some(SetOptions::XX),
                false,
            )
            .await
            .map_err(|e| Error::Backend(e.to_string()))?;
        Ok(!answer.is_null())
    }
}

/// Sessions in this process's memory (tests, a single instance that may sign everyone out
/// at restart), saved only while they exist.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Arc<tokio::sync::Mutex<HashMap<Id, Record>>>);

impl MemoryStore {
    /// The ids it holds (tests of what a store's keys give away).
    #[cfg(test)]
    pub async fn ids(&self) -> Vec<Id> {
        self.0.lock().await.keys().copied().collect()
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let mut records = self.0.lock().await;
        while records.contains_key(&record.id) {
            record.id = Id::default();
        }
        records.insert(record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.update_existing(record).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let mut records = self.0.lock().await;
        match records.get(id) {
            Some(record) if record.expiry_date > OffsetDateTime::now_utc() => {
                Ok(Some(record.clone()))
            }
            Some(_) => {
                records.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.0.lock().await.remove(id);
        Ok(())
    }
}

#[async_trait::async_trait]
impl UpdateExisting for MemoryStore {
    async fn update_existing(&self, record: &Record) -> Result<bool> {
        match self.0.lock().await.get_mut(&record.id) {
            Some(stored) => {
                *stored = record.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tower_sessions::cookie::time::Duration as TimeDelta;
    use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;

    use super::*;
    use crate::store::idle::IdleExpiry;

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("user".to_owned(), "adele".into())]),
            expiry_date: OffsetDateTime::now_utc() + TimeDelta::hours(1),
        }
    }

    /// A store whose saves take a while: a sign-out lands in the middle of one.
    #[derive(Debug, Clone)]
    struct SlowSaves<S>(S);

    #[async_trait::async_trait]
    impl<S: SessionStore> SessionStore for SlowSaves<S> {
        async fn create(&self, record: &mut Record) -> Result<()> {
            self.0.create(record).await
        }
        async fn save(&self, record: &Record) -> Result<()> {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.0.save(record).await
        }
        async fn load(&self, id: &Id) -> Result<Option<Record>> {
            self.0.load(id).await
        }
        async fn delete(&self, id: &Id) -> Result<()> {
            self.0.delete(id).await
        }
    }

    /// Sign-out during a slow save, through the session layer's own store stack.
    async fn signed_out_during_a_slow_save<S: SessionStore + Clone>(store: S) -> bool {
        let store = IdleExpiry::new(SlowSaves(store), Duration::from_secs(3600));
        let mut session = record();
        store.create(&mut session).await.unwrap();
        let saving = {
            let (store, session) = (store.clone(), session.clone());
            tokio::spawn(async move { store.save(&session).await.unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        store.delete(&session.id).await.unwrap();
        saving.await.unwrap();
        store.load(&session.id).await.unwrap().is_none()
    }

    #[tokio::test]
    async fn sign_out_during_a_slow_save_stays_signed_out_in_memory() {
        assert!(signed_out_during_a_slow_save(MemoryStore::default()).await);
    }

    #[tokio::test]
    async fn sign_out_during_a_slow_save_stays_signed_out_in_sqlite() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let inner = SqliteStore::new(pool.clone());
        inner.migrate().await.unwrap();
        assert!(signed_out_during_a_slow_save(ConditionalSqlite::new(inner, pool)).await);
    }

    #[tokio::test]
    async fn the_upserting_stores_would_revive_it() {
        // What the conditional saves replace: both bring the session back.
        assert!(!signed_out_during_a_slow_save(tower_sessions::MemoryStore::default()).await);
    }

    #[tokio::test]
    async fn a_save_updates_what_exists() {
        let store = MemoryStore::default();
        let mut session = record();
        store.create(&mut session).await.unwrap();
        session.data.insert("user".into(), "megan".into());
        store.save(&session).await.unwrap();
        assert_eq!(
            store.load(&session.id).await.unwrap().unwrap().data["user"],
            "megan"
        );
    }
}
