//! Idle sessions end on the server while the cookie stays a browser-session cookie.
//!
//! tower-sessions derives both the cookie's `Max-Age` and the stored record's expiry from
//! one `Expiry`: a persistent cookie was the price of an idle timeout. Here the session's
//! expiry is `OnSessionEnd` (no `Max-Age`: the cookie goes when the browser closes), and this
//! store wrapper caps each record's expiry at its last save plus the idle timeout. A session
//! is saved when it is used, at most once a minute ([`UserSession::touch`]), so idle time
//! counts from the last use without a store write per request.
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
