//! Shared state of a running emulator: the world, keys, issued grants, sessions, statistics,
//! injected faults and lifetimes. The maps that requests from anyone can grow (pending
//! sign-ins, SSO sessions, client-assertion ids) are bounded and expire ([`StoreLimits`]),
//! pruned as entries are added rather than by a background task.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
};

use serde::{Deserialize, Serialize};

use crate::{keys::KeyRing, sign_in::AuthFacts, unconfirmed::Unconfirmed, world::World};

mod faults;
mod stats;
pub use faults::{Fault, FaultEndpoint, FaultKind};
pub use stats::{Counters, Stats};

/// Shared handle to the state.
pub type AppState = Arc<Shared>;

/// Everything the handlers share.
#[derive(Debug)]
pub struct Shared {
    /// `http(s)://host:port`, no trailing slash.
    pub base_url: String,
    /// Whether served over TLS (secure cookies).
    pub tls: bool,
    /// The world (consents change at run time).
    pub world: RwLock<World>,
    /// Signing keys.
    pub keys: RwLock<KeyRing>,
    /// Codes, refresh tokens, sessions, sign-in transactions.
    pub store: Mutex<Store>,
    /// Request counters.
    pub stats: Counters,
    /// Injected faults.
    pub faults: Mutex<Vec<Fault>>,
    /// Token lifetimes.
    pub lifetimes: RwLock<Lifetimes>,
    /// Which way the emulator goes where Entra's behaviour is not known.
    pub unconfirmed: RwLock<Unconfirmed>,
    /// Where keys persist.
    pub data_dir: Option<PathBuf>,
    /// Flips to true on shutdown (ends injected timeouts).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Refresh grants changed since the last save.
    pub grants_dirty: std::sync::atomic::AtomicBool,
    /// External issuers' keys (workload identity federation).
    pub federation_keys: crate::federation::IssuerKeyCache,
}

impl Shared {
    /// Notes that refresh grants changed (persisted by the background flush).
    pub fn grants_changed(&self) {
        self.grants_dirty
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// The v2 issuer of a tenant.
    pub fn issuer_v2(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.base_url)
    }

    /// The switches of the unconfirmed behaviours, as they are now.
    pub fn unconfirmed(&self) -> Unconfirmed {
        *self.unconfirmed.read().expect("unconfirmed lock")
    }
}

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetimes {
    /// Access tokens; `None` = Entra's default, random between 60 and 90 minutes (up to 28
    /// hours for a Continuous Access Evaluation token).
    pub access_token_secs: Option<u64>,
    /// Refresh tokens (Entra: 90 days, sliding).
    pub refresh_token_secs: u64,
    /// ID tokens (1 hour).
    pub id_token_secs: u64,
    /// Authorization codes (10 minutes).
    pub code_secs: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token_secs: None,
            refresh_token_secs: 90 * 24 * 3600,
            id_token_secs: 3600,
            code_secs: 600,
        }
    }
}

impl Lifetimes {
    /// A fresh access-token lifetime.
    pub fn access(&self) -> u64 {
        self.access_token_secs
            .unwrap_or_else(|| random_between(3600, 5400))
    }

    /// A fresh lifetime for a token a revocation can end early (Continuous Access
    /// Evaluation): "long-lived, up to 28 hours" (Microsoft Learn, "Continuous access
    /// evaluation"), between 20 and 28 hours here, unless set.
    pub fn access_cae(&self) -> u64 {
        self.access_token_secs
            .unwrap_or_else(|| random_between(20 * 3600, 28 * 3600))
    }
}

/// Seconds from `low` up to (not including) `high`, at random.
fn random_between(low: u64, high: u64) -> u64 {
    let r = u16::from_le_bytes(crate::keys::random_bytes::<2>());
    low + u64::from(r) % (high - low)
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The tenant the code was issued in; it is redeemed at that tenant only.
    pub tid: String,
    /// The client that asked; another client redeeming it is AADSTS70000.
    pub client_id: String,
    /// Redirect URI used at /authorize.
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The user's object id.
    pub oid: String,
    /// Nonce to echo.
    pub nonce: Option<String>,
    /// PKCE challenge and method.
    pub pkce: Option<(String, String)>,
    /// Expiry (unix).
    pub expires: i64,
    /// Redeemed already.
    pub redeemed: bool,
    /// Sign-in facts.
    pub auth: AuthFacts,
    /// The `/authorize` request's `claims`: they shape the access token the code redeems for.
    pub claims: Option<String>,
}

/// An issued refresh token's grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// Grant id (not the token).
    pub id: String,
    /// The tenant the grant was issued in.
    pub tid: String,
    /// The client it was issued to; another client redeeming it is AADSTS70000.
    pub client_id: String,
    /// The user it speaks for.
    pub oid: String,
    /// The user's sign-in name, for revocation by UPN (`/_emulator/users/{upn}/revoke`).
    pub upn: String,
    /// How it was obtained (grant type).
    pub obtained_by: String,
    /// Scopes at issue.
    pub scopes: Vec<String>,
    /// Issued at (unix).
    pub issued: i64,
    /// Expires (unix); sliding on use.
    pub expires: i64,
    /// Revoked by an admin.
    pub revoked: bool,
    /// Sign-in facts carried along.
    pub auth: AuthFacts,
}

/// A browser session at the emulator (SSO).
#[derive(Debug, Clone)]
pub struct Session {
    /// User object id.
    pub oid: String,
    /// Tenant id.
    pub tid: String,
    /// Sign-in facts.
    pub auth: AuthFacts,
    /// Unix time the session was last used (it expires after [`StoreLimits::session_idle_secs`]).
    pub last_used: i64,
    /// The apps (client ids) that received a code in this session, in order: the end-session
    /// endpoint calls their front-channel logout URLs.
    pub apps: Vec<String>,
}

/// A pending sign-in between the pages (the `_txn` form field): the `/authorize` request and
/// where the sign-in stands.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// Unix time the sign-in started (it expires after [`StoreLimits::txn_ttl_secs`]).
    pub created: i64,
    /// The authorize parameters, as sent (a `login_hint` claim value replaced by its UPN).
    pub params: Vec<(String, String)>,
    /// What the pages have established so far.
    pub progress: SignInProgress,
}

/// Where a pending sign-in stands: set by the emulator's pages only, never by the request.
#[derive(Debug, Clone, Default)]
pub struct SignInProgress {
    /// The tenant path segment the request came on (`common`, a domain or a GUID).
    pub seg: String,
    /// The signing-in user's tenant once known: on an alias, from the user name's domain or
    /// a `login_hint` claim value.
    pub tenant: Option<String>,
    /// The user proved who they are in this sign-in (password), or picked the session's
    /// account on the account picker: the session's user may answer `prompt=login`.
    pub identified_here: bool,
    /// The SSO session this sign-in created; it rides here too, for clients that drop
    /// cookies.
    pub sid: Option<String>,
    /// The user accepted the consent page (so `prompt=consent` is answered).
    pub consented: bool,
}

/// How much in-memory state the emulator keeps. Anyone who can reach `/authorize` can start
/// sign-ins and sessions, so these maps are bounded: past the bound the expired entries go
/// first, then the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Pending sign-ins kept at once.
    pub txns: usize,
    /// Seconds a pending sign-in lives (Entra's sign-in page also times out).
    pub txn_ttl_secs: i64,
    /// SSO sessions kept at once.
    pub sessions: usize,
    /// Seconds an unused SSO session lives.
    pub session_idle_secs: i64,
    /// Client-assertion `jti` values remembered at once (replay detection).
    pub jtis: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            txns: 10_000,
            txn_ttl_secs: 15 * 60,
            sessions: 10_000,
            session_idle_secs: 24 * 3600,
            jtis: 10_000,
        }
    }
}

/// A federated token accepted as a client assertion (no token value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenAssertion {
    /// The app it authenticated.
    pub client_id: String,
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `jti`, when it had one.
    pub jti: Option<String>,
    /// Requests that presented it.
    pub uses: u64,
}

impl Store {
    /// Notes a federated token accepted for `client_id`.
    pub fn saw_federated(&mut self, client_id: &str, claims: &serde_json::Value) {
        let s = |k: &str| claims[k].as_str().unwrap_or_default().to_owned();
        let jti = claims["jti"].as_str().map(str::to_owned);
        if let Some(seen) = self.federated_seen.iter_mut().find(|a| {
            a.client_id == client_id
                && a.issuer == s("iss")
                && a.subject == s("sub")
                && a.jti == jti
        }) {
            seen.uses += 1;
            return;
        }
        if self.federated_seen.len() >= 1_000 {
            self.federated_seen.remove(0);
        }
        self.federated_seen.push(SeenAssertion {
            client_id: client_id.to_owned(),
            issuer: s("iss"),
            subject: s("sub"),
            jti,
            uses: 1,
        });
    }
}

/// Mutable protocol state.
#[derive(Debug, Default)]
pub struct Store {
    /// Codes by value.
    pub codes: HashMap<String, CodeGrant>,
    /// Refresh grants by token value.
    pub refresh: HashMap<String, RefreshGrant>,
    /// Sessions by cookie value (use [`Store::insert_session`] and [`Store::session`]).
    pub sessions: HashMap<String, Session>,
    /// Pending sign-ins by id (use [`Store::insert_txn`] and [`Store::txn`]).
    pub txns: HashMap<String, PendingSignIn>,
    /// Client-assertion ids seen, by `client_id` + `jti`, with the time they may be forgotten.
    pub jtis: HashMap<String, i64>,
    /// The federated (external) tokens accepted as client assertions, oldest first (the
    /// last 1,000): tests read which one a request presented.
    pub federated_seen: Vec<SeenAssertion>,
    /// When each user's sign-in sessions were last revoked (Graph's
    /// `signInSessionsValidFromDateTime`), in Unix milliseconds, by [`user_key`]: tokens issued
    /// before it are refused by Continuous Access Evaluation. Grows with admin revocations
    /// only (one entry per user).
    pub sessions_valid_from: HashMap<String, i64>,
    /// Bounds of the maps above.
    pub limits: StoreLimits,
}

/// The key of a user record in per-user maps: tenant and object id.
pub fn user_key(tid: &str, oid: &str) -> String {
    format!("{}|{}", tid.to_ascii_lowercase(), oid.to_ascii_lowercase())
}

impl Store {
    /// When the sign-in sessions of user `oid` in `tid` were revoked (Unix seconds), if a token
    /// of theirs issued at `issued_ms` (Unix milliseconds) was issued before that.
    pub fn revoked_after(&self, tid: &str, oid: &str, issued_ms: i64) -> Option<i64> {
        self.sessions_valid_from
            .get(&user_key(tid, oid))
            .filter(|from| issued_ms < **from)
            .map(|ms| ms / 1000)
    }

    /// Drops expired codes (spent ones stay until then, to answer 54005), expired refresh
    /// grants, expired sign-in transactions, idle sessions and `jti`s past their assertion's
    /// lifetime. Cheap enough to call every few hundred inserts.
    pub fn housekeeping(&mut self, now: i64) {
        let l = self.limits;
        self.codes.retain(|_, c| c.expires > now);
        self.refresh.retain(|_, g| g.expires > now);
        self.txns.retain(|_, t| t.created + l.txn_ttl_secs > now);
        self.sessions
            .retain(|_, s| s.last_used + l.session_idle_secs > now);
        self.jtis.retain(|_, until| *until > now);
    }

    /// Runs [`Store::housekeeping`] every 512 inserts or so.
    pub fn maybe_housekeeping(&mut self, now: i64) {
        let n = self.codes.len() + self.refresh.len() + self.txns.len();
        if n > 0 && n.is_multiple_of(512) {
            self.housekeeping(now);
        }
    }

    /// Stores a new pending sign-in, making room first if the bound is reached.
    pub fn insert_txn(
        &mut self,
        id: String,
        params: Vec<(String, String)>,
        progress: SignInProgress,
        now: i64,
    ) {
        let ttl = self.limits.txn_ttl_secs;
        make_room(
            &mut self.txns,
            self.limits.txns,
            |t| t.created + ttl > now,
            |t| t.created,
        );
        self.txns.insert(
            id,
            PendingSignIn {
                created: now,
                params,
                progress,
            },
        );
    }

    /// A pending sign-in that has not expired.
    pub fn txn(&self, id: &str, now: i64) -> Option<&PendingSignIn> {
        self.txns
            .get(id)
            .filter(|t| t.created + self.limits.txn_ttl_secs > now)
    }

    /// Records how far a pending sign-in got (keeping its request and start time). One that
    /// expired or was dropped in the meantime stays gone.
    pub fn update_txn(&mut self, id: &str, progress: SignInProgress) {
        if let Some(t) = self.txns.get_mut(id) {
            t.progress = progress;
        }
    }

    /// Stores a new SSO session, making room first if the bound is reached.
    pub fn insert_session(&mut self, sid: String, mut session: Session, now: i64) {
        let idle = self.limits.session_idle_secs;
        make_room(
            &mut self.sessions,
            self.limits.sessions,
            |s| s.last_used + idle > now,
            |s| s.last_used,
        );
        session.last_used = now;
        self.sessions.insert(sid, session);
    }

    /// The SSO session `sid` if it has not been idle too long; using it keeps it alive.
    pub fn session(&mut self, sid: &str, now: i64) -> Option<&mut Session> {
        let idle = self.limits.session_idle_secs;
        if self
            .sessions
            .get(sid)
            .is_some_and(|s| s.last_used + idle <= now)
        {
            self.sessions.remove(sid);
            return None;
        }
        let s = self.sessions.get_mut(sid)?;
        s.last_used = now;
        Some(s)
    }

    /// Records a client assertion's `key` (client id and `jti`) until `forget_after`. False
    /// when it was already recorded and is still remembered: a replay.
    pub fn remember_jti(&mut self, key: String, forget_after: i64, now: i64) -> bool {
        if self.jtis.get(&key).is_some_and(|until| *until > now) {
            return false;
        }
        make_room(
            &mut self.jtis,
            self.limits.jtis,
            |until| *until > now,
            |until| *until,
        );
        self.jtis.insert(key, forget_after);
        true
    }
}

/// Keeps `map` below `limit` before an insert: when full, drops the dead entries and, if that
/// is not enough, the oldest tenth (by `age`), so that the sorting happens once every
/// `limit / 10` inserts rather than on each.
fn make_room<V>(
    map: &mut HashMap<String, V>,
    limit: usize,
    alive: impl Fn(&V) -> bool,
    age: impl Fn(&V) -> i64,
) {
    if map.len() < limit {
        return;
    }
    map.retain(|_, v| alive(v));
    let keep = limit.saturating_sub((limit / 10).max(1));
    if map.len() <= keep {
        return;
    }
    let mut by_age: Vec<(i64, String)> = map.iter().map(|(k, v)| (age(v), k.clone())).collect();
    by_age.sort_unstable();
    let excess = map.len() - keep;
    for (_, k) in by_age.into_iter().take(excess) {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Store {
        Store {
            limits: StoreLimits {
                txns: 50,
                sessions: 20,
                jtis: 30,
                ..StoreLimits::default()
            },
            ..Store::default()
        }
    }

    fn session(oid: &str) -> Session {
        Session {
            oid: oid.into(),
            tid: "t".into(),
            auth: AuthFacts::password_now(),
            last_used: 0,
            apps: vec![],
        }
    }

    #[test]
    fn pending_sign_ins_stay_within_their_bound_and_the_oldest_go_first() {
        let mut store = small();
        for i in 0..500 {
            store.insert_txn(format!("t{i}"), vec![], SignInProgress::default(), 1000 + i);
            assert!(store.txns.len() <= 50, "{} after {i}", store.txns.len());
        }
        assert!(store.txn("t499", 1500).is_some());
        assert!(store.txn("t0", 1500).is_none() && !store.txns.contains_key("t0"));
    }

    #[test]
    fn pending_sign_ins_expire_after_fifteen_minutes() {
        let mut store = Store::default();
        let progress = |consented| SignInProgress {
            consented,
            ..SignInProgress::default()
        };
        store.insert_txn("t".into(), vec![], progress(false), 1000);
        store.update_txn("t", progress(true));
        assert!(store.txn("t", 1000 + 899).unwrap().progress.consented);
        assert!(store.txn("t", 1000 + 900).is_none());
        store.housekeeping(1000 + 900);
        assert!(store.txns.is_empty());
        // An update after expiry does not bring it back.
        store.update_txn("t", progress(true));
        assert!(store.txns.is_empty());
    }

    #[test]
    fn sessions_stay_within_their_bound_and_expire_when_idle() {
        let mut store = small();
        for i in 0..300 {
            store.insert_session(format!("s{i}"), session("o"), 1000 + i);
            assert!(
                store.sessions.len() <= 20,
                "{} after {i}",
                store.sessions.len()
            );
        }
        assert!(store.session("s299", 1300).is_some());
        assert!(store.session("s0", 1300).is_none());
        // Use keeps a session alive; a day without use ends it.
        let day = 24 * 3600;
        assert!(store.session("s299", 1300 + day - 1).is_some());
        assert!(store.session("s299", 1300 + 2 * day - 2).is_some());
        assert!(store.session("s298", 1300 + day).is_none());
        assert!(!store.sessions.contains_key("s298"));
    }

    #[test]
    fn expired_entries_make_room_before_live_ones() {
        let mut store = small();
        for i in 0..19 {
            store.insert_session(format!("old{i}"), session("o"), 0);
        }
        store.insert_session("live".into(), session("o"), 24 * 3600 - 1);
        // Full: the idle ones go, the live one stays.
        store.insert_session("new".into(), session("o"), 24 * 3600 + 10);
        assert_eq!(store.sessions.len(), 2);
        assert!(store.sessions.contains_key("live"));
    }

    #[test]
    fn a_jti_is_refused_until_forgotten_and_the_cache_is_bounded() {
        let mut store = small();
        assert!(store.remember_jti("c\nj".into(), 2000, 1000));
        assert!(!store.remember_jti("c\nj".into(), 2000, 1999));
        assert!(store.remember_jti("c\nj".into(), 3000, 2000));
        for i in 0..200 {
            assert!(store.remember_jti(format!("c\n{i}"), 5000 + i, 1000));
            assert!(store.jtis.len() <= 30);
        }
    }
}
