//! Which of this app's sessions each sign-in session of the identity provider opened (the
//! ID token's `sid`), so that a front-channel sign-out (`GET /auth/frontchannel-logout?sid=`)
//! finds and ends them. That request comes from the identity provider's page in a third-party
//! iframe, where the browser sends no `SameSite=Lax` cookie: the `sid` is all there is.
//!
//! Kept beside the sessions, in the same store: a table of the SQLite file, a set per `sid`
//! in Redis (`bff:sid:<client-id>:<sid>`, so that apps sharing one Redis end only their own
//! sessions), a map in memory. Entries expire with the session's absolute lifetime.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use fred::{
    interfaces::{KeysInterface, SetsInterface},
    prelude::Pool,
};
use serde::{Deserialize, Serialize};
use tower_sessions_sqlx_store::sqlx::{self, SqlitePool};

/// One session a sign-in opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    pub session_id: String,
    pub tenant_id: String,
    pub object_id: String,
    /// Unix time after which the session cannot be alive any more.
    pub expires_at: i64,
}

pub enum SidIndex {
    Memory {
        map: Mutex<HashMap<String, Vec<Opened>>>,
        pruned_at: AtomicI64,
    },
    Sqlite {
        pool: SqlitePool,
        /// When expired entries were last deleted: at most once a minute, not per sign-in.
        pruned_at: AtomicI64,
    },
    Redis {
        pool: Pool,
        prefix: String,
    },
}

/// How often expired entries are deleted (memory and SQLite; Redis expires them itself).
const PRUNE_EVERY_SECS: i64 = 60;

impl SidIndex {
    pub fn memory() -> Self {
        Self::Memory {
            map: Mutex::default(),
            pruned_at: AtomicI64::new(0),
        }
    }

    /// The index in the session database (its table created if missing).
    pub async fn sqlite(pool: SqlitePool) -> Result<Self, String> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bff_sid_sessions (
                sid TEXT NOT NULL,
                session_id TEXT NOT NULL,
                tenant_id TEXT NOT NULL,
                object_id TEXT NOT NULL,
                expires_at INTEGER NOT NULL
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
        for index in [
            "CREATE INDEX IF NOT EXISTS bff_sid_sessions_sid ON bff_sid_sessions (sid)",
            "CREATE INDEX IF NOT EXISTS bff_sid_sessions_expiry ON bff_sid_sessions (expires_at)",
        ] {
            sqlx::query(index)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Self::Sqlite {
            pool,
            pruned_at: AtomicI64::new(0),
        })
    }

    pub fn redis(pool: Pool, client_id: &str) -> Self {
        Self::Redis {
            pool,
            prefix: format!("bff:sid:{client_id}:"),
        }
    }

    /// Notes that sign-in session `sid` opened `opened`.
    pub async fn record(&self, sid: &str, opened: Opened, now: i64) -> Result<(), String> {
        match self {
            Self::Memory { map, pruned_at } => {
                let mut map = map.lock().map_err(|e| e.to_string())?;
                if due(pruned_at, now) {
                    map.retain(|_, list| {
                        list.retain(|o| o.expires_at > now);
                        !list.is_empty()
                    });
                }
                map.entry(sid.to_owned()).or_default().push(opened);
                Ok(())
            }
            Self::Sqlite { pool, pruned_at } => {
                if due(pruned_at, now) {
                    sqlx::query("DELETE FROM bff_sid_sessions WHERE expires_at <= ?")
                        .bind(now)
                        .execute(pool)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                sqlx::query(
                    "INSERT INTO bff_sid_sessions
                        (sid, session_id, tenant_id, object_id, expires_at)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(sid)
                .bind(&opened.session_id)
                .bind(&opened.tenant_id)
                .bind(&opened.object_id)
                .bind(opened.expires_at)
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?;
                Ok(())
            }
            Self::Redis { pool, prefix } => {
                let key = format!("{prefix}{sid}");
                let value = serde_json::to_string(&opened).map_err(|e| e.to_string())?;
                let _: i64 = pool.sadd(&key, value).await.map_err(|e| e.to_string())?;
                // Members do not expire by themselves: the ended ones go at each sign-in.
                let members: Vec<String> = pool.smembers(&key).await.map_err(|e| e.to_string())?;
                let ended: Vec<String> = members
                    .into_iter()
                    .filter(|m| {
                        serde_json::from_str::<Opened>(m).map_or(true, |o| o.expires_at <= now)
                    })
                    .collect();
                if !ended.is_empty() {
                    let _: i64 = pool.srem(&key, ended).await.map_err(|e| e.to_string())?;
                }
                // The set lives as long as its longest-lived session.
                crate::store::redis::extend_ttl(pool, &key, opened.expires_at - now)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }

    /// The live sessions sign-in session `sid` opened.
    pub async fn sessions(&self, sid: &str, now: i64) -> Result<Vec<Opened>, String> {
        let all = match self {
            Self::Memory { map, .. } => map
                .lock()
                .map_err(|e| e.to_string())?
                .get(sid)
                .cloned()
                .unwrap_or_default(),
            Self::Sqlite { pool, .. } => {
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT session_id, tenant_id, object_id, expires_at
                     FROM bff_sid_sessions WHERE sid = ?",
                )
                .bind(sid)
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?;
                rows.into_iter()
                    .map(|(session_id, tenant_id, object_id, expires_at)| Opened {
                        session_id,
                        tenant_id,
                        object_id,
                        expires_at,
                    })
                    .collect()
            }
            Self::Redis { pool, prefix } => {
                let values: Vec<String> = pool
                    .smembers(format!("{prefix}{sid}"))
                    .await
                    .map_err(|e| e.to_string())?;
                values
                    .iter()
                    .filter_map(|v| serde_json::from_str(v).ok())
                    .collect()
            }
        };
        Ok(all.into_iter().filter(|o| o.expires_at > now).collect())
    }

    /// Forgets sign-in session `sid` (its sessions have ended).
    pub async fn forget(&self, sid: &str) -> Result<(), String> {
        match self {
            Self::Memory { map, .. } => {
                map.lock().map_err(|e| e.to_string())?.remove(sid);
            }
            Self::Sqlite { pool, .. } => {
                sqlx::query("DELETE FROM bff_sid_sessions WHERE sid = ?")
                    .bind(sid)
                    .execute(pool)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Self::Redis { pool, prefix } => {
                let _: i64 = pool
                    .del(format!("{prefix}{sid}"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Whether expired entries are due for deletion (and, if so, claims the turn).
fn due(pruned_at: &AtomicI64, now: i64) -> bool {
    let last = pruned_at.load(Ordering::Relaxed);
    now - last >= PRUNE_EVERY_SECS
        && pruned_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}
