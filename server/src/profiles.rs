//! The Graph profile, cached per session so that a warm page view makes no call to Graph:
//! fresh for `PROFILE_TTL_SECS`, then served stale while one background read refreshes it
//! (a failed refresh keeps the cached profile, which the page shows with its age).
//!
//! Per session, not per user: a profile read with one session's token (say, after MFA) must
//! not serve another session of the same user that could not read it itself. Bounded in
//! bytes like the OBO cache; dropped at sign-out and sign-in.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::model::Profile;
use moka::future::Cache;

/// The cache's bound: 16 MiB of profiles (a profile weighs well under 1 KB).
const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// How long an unused profile is kept at all, fresh or not.
const KEEP_IDLE: Duration = Duration::from_secs(3600);

#[derive(Clone)]
struct Entry {
    profile: Profile,
    read: Instant,
}

/// What the cache holds for a session.
pub enum Cached {
    /// Read less than the freshness ago: serve it as is.
    Fresh(Profile),
    /// Older: serve it, and refresh it in the background (unless a refresh is under way).
    Stale {
        profile: Profile,
        refresh: bool,
    },
    Missing,
}

pub struct ProfileCache {
    entries: Cache<String, Entry>,
    /// Sessions whose profile is being read in the background.
    refreshing: moka::sync::Cache<String, ()>,
    fresh_for: Duration,
}

impl ProfileCache {
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|key: &String, entry: &Entry| {
                    let p = &entry.profile;
                    let text = [
                        &p.display_name,
                        &p.mail,
                        &p.user_principal_name,
                        &p.job_title,
                        &p.office_location,
                    ];
                    let bytes = key.len()
                        + text
                            .iter()
                            .map(|t| t.as_deref().map_or(0, str::len))
                            .sum::<usize>()
                        + 128;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_idle(KEEP_IDLE)
                .build(),
            refreshing: moka::sync::Cache::builder()
                .max_capacity(100_000)
                // A background read that hangs must not block the next one forever.
                .time_to_live(Duration::from_secs(60))
                .build(),
            fresh_for,
        }
    }

    /// The session's profile, with `read_secs_ago` set to its age.
    pub async fn get(&self, session: &str) -> Cached {
        // `PROFILE_TTL_SECS=0`: no cache, Graph is read on every view.
        if self.fresh_for.is_zero() {
            return Cached::Missing;
        }
        let Some(entry) = self.entries.get(session).await else {
            return Cached::Missing;
        };
        let age = entry.read.elapsed();
        let mut profile = entry.profile;
        profile.read_secs_ago = age.as_secs();
        if age < self.fresh_for {
            return Cached::Fresh(profile);
        }
        let refresh = !self.refreshing.contains_key(session);
        if refresh {
            self.refreshing.insert(session.to_owned(), ());
        }
        Cached::Stale { profile, refresh }
    }

    pub async fn put(&self, session: &str, profile: Profile) {
        self.refreshing.invalidate(session);
        if self.fresh_for.is_zero() {
            return;
        }
        self.entries
            .insert(
                session.to_owned(),
                Entry {
                    profile,
                    read: Instant::now(),
                },
            )
            .await;
    }

    /// A background refresh failed: the stale profile stays, and the next view tries again.
    pub fn refresh_failed(&self, session: &str) {
        self.refreshing.invalidate(session);
    }

    /// Entries and weighted bytes, for the metrics.
    pub async fn size(&self) -> (u64, u64) {
        self.entries.run_pending_tasks().await;
        (self.entries.entry_count(), self.entries.weighted_size())
    }

    /// Forgets the session's profile (sign-out).
    pub async fn forget(&self, session: &str) {
        self.entries.invalidate(session).await;
        self.refreshing.invalidate(session);
    }
}

/// Shared by the BFF service and the sign-out route.
pub type Profiles = Arc<ProfileCache>;

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        Profile {
            display_name: Some(name.into()),
            mail: None,
            user_principal_name: Some(format!("{name}@contoso.onmicrosoft.com")),
            job_title: None,
            office_location: None,
            token_from_cache: false,
            read_secs_ago: 0,
            roles: vec![],
            groups: None,
        }
    }

    #[tokio::test]
    async fn profiles_are_counted_and_forgotten() {
        let cache = ProfileCache::new(Duration::from_secs(300));
        cache.put("session-a", profile("Adele")).await;
        cache.put("session-b", profile("Megan")).await;
        let (entries, bytes) = cache.size().await;
        assert_eq!(entries, 2);
        assert!(bytes > 2 * 128, "{bytes}");
        assert!(matches!(cache.get("session-a").await, Cached::Fresh(_)));
        cache.forget("session-a").await;
        assert!(matches!(cache.get("session-a").await, Cached::Missing));
        assert_eq!(cache.size().await.0, 1);
    }
}
