//! Idle sessions end on the server while the cookie stays a browser-session cookie.
//!
//! tower-sessions derives both the cookie's `Max-Age` and the stored record's expiry from
//! one `Expiry`: a persistent cookie was the price of an idle timeout. Here the session's
//! expiry is `OnSessionEnd` (no `Max-Age`: the cookie goes when the browser closes), and this
//! store wrapper caps each record's expiry at its last save plus the idle timeout. A session
//! is saved when it is used, at most once a minute ([`UserSession::touch`]), so idle time
//! counts from the last use without a store write per request.
//!
//! A save never brings back a record deleted meanwhile (by sign-out elsewhere or the identity
//! provider's front-channel sign-out while this request ran): tower-sessions saves only
//! sessions it loaded, and the stores update only a record that still exists, atomically
//! ([`super::conditional`]).
//!
//! [`UserSession::touch`]: crate::session::UserSession::touch

use tower_sessions::{
    SessionStore,
    cookie::time::{Duration, OffsetDateTime},
    session::{Id, Record},
    session_store::Result,
};

#[derive(Debug, Clone)]
pub struct IdleExpiry<S> {
    inner: S,
    idle: Duration,
}

impl<S> IdleExpiry<S> {
    pub fn new(inner: S, idle: std::time::Duration) -> Self {
        Self {
            inner,
            idle: Duration::seconds(idle.as_secs() as i64),
        }
    }

    /// The record as stored: it expires after the idle timeout at the latest (a pending
    /// sign-in's shorter life stays).
    fn capped(&self, record: &Record) -> Record {
        let mut record = record.clone();
        record.expiry_date = record
            .expiry_date
            .min(OffsetDateTime::now_utc() + self.idle);
        record
    }
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for IdleExpiry<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        *record = self.capped(record);
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.inner.save(&self.capped(record)).await
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(id).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tower_sessions::{SessionStore, session::Record};

    use crate::store::conditional::MemoryStore;

    use super::*;

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: HashMap::new(),
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn a_save_does_not_bring_back_a_session_deleted_meanwhile() {
        let store = IdleExpiry::new(MemoryStore::default(), std::time::Duration::from_secs(60));
        let mut session = record();
        store.create(&mut session).await.unwrap();
        store.save(&session).await.unwrap();
        assert!(store.load(&session.id).await.unwrap().is_some());

        // Ended elsewhere (front-channel sign-out) while a request of it was running.
        store.delete(&session.id).await.unwrap();
        store.save(&session).await.unwrap();
        assert!(store.load(&session.id).await.unwrap().is_none());
    }
}
