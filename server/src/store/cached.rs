//! A write-through cache in front of the SQLite store: a warm page view reads its session
//! from memory instead of the database. Only for stores that this process alone writes (the
//! SQLite file serves one instance); never in front of Redis, which other instances write.
//!
//! Every write goes to the database first, then to the cache; a read that misses fills the
//! cache only if no write got there first, and a deletion leaves a tombstone, so that neither
//! a read nor a save racing with a sign-out can bring the session back. Tombstones live in a cache of their
//! own, so that no amount of other entries can evict one; an id the database does not know
//! (a made-up cookie) is not cached at all, so made-up cookies cost memory nothing. Bounded
//! in bytes, weighed as they cost; an entry past its record's expiry reads as no session.

use std::time::Duration;

use moka::future::Cache;

use super::conditional::UpdateExisting;
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
/// Tombstones kept at once: sign-outs of a minute (each needs a signed-in session).
const MAX_TOMBSTONES: u64 = 100_000;
/// What an entry costs beyond its data: the id, the record's fields, the map and the
/// cache's own bookkeeping (measured at about 250 B).
const ENTRY_OVERHEAD: usize = 256;

#[derive(Clone)]
pub struct Cached<S> {
    inner: S,
    records: Cache<Id, Record>,
    /// Sessions deleted in the last [`TOMBSTONE`].
    tombstones: Cache<Id, ()>,
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
            .weigher(|_: &Id, record: &Record| {
                let data: usize = record
                    .data
                    .iter()
                    .map(|(k, v)| k.len() + v.to_string().len())
                    .sum();
                u32::try_from(data + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            // Idle sessions leave memory.
            .time_to_idle(Duration::from_secs(600))
            .build();
        let tombstones = Cache::builder()
            .max_capacity(MAX_TOMBSTONES)
            // Outlives any read in flight.
            .time_to_live(TOMBSTONE)
            .build();
        Self {
            inner,
            records,
            tombstones,
        }
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
impl<S: SessionStore + UpdateExisting> SessionStore for Cached<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.inner.create(record).await?;
        self.records.insert(record.id, record.clone()).await;
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.update_existing(record).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        if self.tombstones.contains_key(id) {
            return Ok(None);
        }
        if let Some(cached) = self.records.get(id).await {
            return Ok(live(cached));
        }
        let Some(loaded) = self.inner.load(id).await? else {
            return Ok(None);
        };
        // Only if no write got there while the database was read, and no deletion.
        if self.tombstones.contains_key(id) {
            return Ok(None);
        }
        let entry = self.records.entry(*id).or_insert(loaded).await;
        // A deletion between the check above and the insert: the delete's own invalidation
        // may have run before the insert, so look again.
        if self.tombstones.contains_key(id) {
            self.records.invalidate(id).await;
            return Ok(None);
        }
        Ok(live(entry.into_value()))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.tombstones.insert(*id, ()).await;
        self.records.invalidate(id).await;
        self.inner.delete(id).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<S: SessionStore + UpdateExisting> UpdateExisting for Cached<S> {
    async fn update_existing(&self, record: &Record) -> Result<bool> {
        // Cached only if the database saved it (the session still exists there: not deleted
        // meanwhile, here or by its expiry sweep) and no sign-out left a tombstone.
        let saved = self.inner.update_existing(record).await?;
        if saved && !self.tombstones.contains_key(&record.id) {
            self.records.insert(record.id, record.clone()).await;
        } else {
            self.records.invalidate(&record.id).await;
        }
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tower_sessions::cookie::time::Duration as TimeDelta;

    use crate::store::conditional::MemoryStore;

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
            .or_insert(stale.unwrap())
            .await
            .into_value();
        assert_eq!(kept.data["k"], "new");
        assert_eq!(store.load(&a.id).await.unwrap().unwrap().data["k"], "new");
    }

    #[tokio::test]
    async fn made_up_ids_cost_no_memory_and_no_flood_evicts_a_tombstone() {
        let store = Cached::new(MemoryStore::default());
        let mut a = record(TimeDelta::hours(1), "signed in");
        store.create(&mut a).await.unwrap();
        store.delete(&a.id).await.unwrap();
        for _ in 0..20_000 {
            assert!(store.load(&Id::default()).await.unwrap().is_none());
        }
        store.records.run_pending_tasks().await;
        assert_eq!(store.records.entry_count(), 0, "misses are not cached");
        // A write that reached the database after the sign-out (a slow save) is not served.
        store.inner().save(&a).await.unwrap();
        assert!(store.load(&a.id).await.unwrap().is_none());
        store.save(&a).await.unwrap();
        assert!(
            store.load(&a.id).await.unwrap().is_none(),
            "the tombstone holds"
        );
    }

    #[tokio::test]
    async fn a_save_of_a_session_the_database_no_longer_has_is_not_cached() {
        let store = Cached::new(MemoryStore::default());
        let mut a = record(TimeDelta::hours(1), "signed in");
        store.create(&mut a).await.unwrap();
        // Gone from the database without passing the cache (its expiry sweep).
        store.inner().delete(&a.id).await.unwrap();
        store.save(&a).await.unwrap();
        assert!(store.load(&a.id).await.unwrap().is_none());
    }
}
