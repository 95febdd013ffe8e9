//! A write-through cache in front of the SQLite store: a warm page view reads its session
//! from memory instead of the database. Only for stores that this process alone writes (the
//! SQLite file serves one instance); never in front of Redis, which other instances write.
//!
//! Every write goes to the database first, then to the cache; a read that misses fills the
//! cache only if no write got there first, and a deletion leaves a tombstone, so that a read
//! racing with a sign-out cannot bring the session back. Bounded in bytes; an entry past its
//! record's expiry reads as no session.

use std::time::Duration;

use moka::future::Cache;
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::Result,
};

/// The cache's bound: 64 MiB of sealed records (a signed-in record is about 3 KB).
const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// How long a tombstone keeps a deleted session from coming back.
const TOMBSTONE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Cached<S> {
    inner: S,
    /// `None`: deleted (a tombstone).
    records: Cache<Id, Option<Record>>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S> Cached<S> {
    pub fn new(inner: S) -> Self {
        let records = Cache::builder()
            .max_capacity(MAX_BYTES)
            .weigher(|_: &Id, record: &Option<Record>| {
                let data = record.as_ref().map_or(0, |r| {
                    r.data
                        .iter()
                        .map(|(k, v)| k.len() + v.to_string().len())
                        .sum()
                });
                u32::try_from(data + 64).unwrap_or(u32::MAX)
            })
            // Idle sessions leave memory; a tombstone outlives any read in flight.
            .time_to_idle(TOMBSTONE.max(Duration::from_secs(600)))
            .build();
        Self { inner, records }
    }

    /// The store behind the cache (for a health probe that must reach the database).
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

fn live(record: Record) -> Option<Record> {
    (record.expiry_date > OffsetDateTime::now_utc()).then_some(record)
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for Cached<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.inner.create(record).await?;
        self.records.insert(record.id, Some(record.clone())).await;
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.inner.save(record).await?;
        self.records.insert(record.id, Some(record.clone())).await;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        if let Some(cached) = self.records.get(id).await {
            return Ok(cached.and_then(live));
        }
        let loaded = self.inner.load(id).await?;
        // Only if no write (or deletion) got there while the database was read.
        let entry = self.records.entry(*id).or_insert(loaded.clone()).await;
        Ok(entry.into_value().and_then(live))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(id).await?;
        self.records.insert(*id, None).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tower_sessions::{MemoryStore, cookie::time::Duration as TimeDelta};

    use super::*;

    fn record(expires_in: TimeDelta, value: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("k".to_owned(), value.into())]),
            expiry_date: OffsetDateTime::now_utc() + expires_in,
        }
    }

    #[tokio::test]
    async fn reads_come_from_writes_and_a_deleted_or_expired_session_is_gone() {
        let store = Cached::new(MemoryStore::default());
        let mut a = record(TimeDelta::hours(1), "one");
        store.create(&mut a).await.unwrap();
        assert_eq!(store.load(&a.id).await.unwrap().unwrap().data["k"], "one");
        a.data.insert("k".into(), "two".into());
        store.save(&a).await.unwrap();
        assert_eq!(store.load(&a.id).await.unwrap().unwrap().data["k"], "two");

        store.delete(&a.id).await.unwrap();
        assert!(store.load(&a.id).await.unwrap().is_none());
        assert!(store.inner().load(&a.id).await.unwrap().is_none());

        let mut old = record(TimeDelta::seconds(-1), "stale");
        store.create(&mut old).await.unwrap();
        assert!(store.load(&old.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_read_that_misses_does_not_overwrite_a_newer_write() {
        let store = Cached::new(MemoryStore::default());
        let mut a = record(TimeDelta::hours(1), "old");
        store.inner().create(&mut a).await.unwrap();
        // Another request saved a newer record while this one read the database.
        let stale = store.inner().load(&a.id).await.unwrap();
        a.data.insert("k".into(), "new".into());
        store.save(&a).await.unwrap();
        let kept = store
            .records
            .entry(a.id)
            .or_insert(stale)
            .await
            .into_value();
        assert_eq!(kept.unwrap().data["k"], "new");
        assert_eq!(store.load(&a.id).await.unwrap().unwrap().data["k"], "new");
    }
}
