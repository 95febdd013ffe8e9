//! Shared state of a running emulator: the world, keys, issued grants, sessions, statistics,
//! injected faults and lifetimes.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use serde::{Deserialize, Serialize};

use crate::{keys::KeyRing, world::World};

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
    /// Where keys persist.
    pub data_dir: Option<PathBuf>,
    /// Flips to true on shutdown (ends injected timeouts).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Refresh grants changed since the last save.
    pub grants_dirty: std::sync::atomic::AtomicBool,
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
}

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetimes {
    /// Access tokens; `None` = Entra's default, random between 60 and 90 minutes.
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
        self.access_token_secs.unwrap_or_else(|| {
            let r = u16::from_le_bytes(crate::tokens::random_bytes::<2>());
            3600 + u64::from(r) % 1800
        })
    }
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// Tenant id.
    pub tid: String,
    /// Client id.
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
}

/// Facts about how the user signed in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthFacts {
    /// Unix time of sign-in.
    pub auth_time: i64,
    /// Authentication methods (`pwd`, `mfa`).
    pub amr: Vec<String>,
    /// Authentication-context ids (`acrs`) the sign-in satisfied, e.g. `c1`.
    #[serde(default)]
    pub acrs: Vec<String>,
    /// Session id.
    pub sid: String,
}

impl AuthFacts {
    /// A password sign-in happening now.
    pub fn password_now() -> Self {
        Self {
            auth_time: crate::keys::now(),
            amr: vec!["pwd".into()],
            acrs: vec![],
            sid: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Whether the user did multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|a| a == "mfa")
    }
}

/// An issued refresh token's grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// Grant id (not the token).
    pub id: String,
    /// Tenant id.
    pub tid: String,
    /// Client id.
    pub client_id: String,
    /// User object id.
    pub oid: String,
    /// UPN.
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
}

/// Mutable protocol state.
#[derive(Debug, Default)]
pub struct Store {
    /// Codes by value.
    pub codes: HashMap<String, CodeGrant>,
    /// Refresh grants by token value.
    pub refresh: HashMap<String, RefreshGrant>,
    /// Sessions by cookie value.
    pub sessions: HashMap<String, Session>,
    /// Sign-in transactions by id (authorize parameters).
    pub txns: HashMap<String, Vec<(String, String)>>,
}

impl Store {
    /// Drops expired codes (spent ones stay until then, to answer 54005), expired refresh grants, and sign-in transactions older
    /// than an hour. Cheap enough to call every few hundred inserts.
    pub fn housekeeping(&mut self, now: i64) {
        self.codes.retain(|_, c| c.expires > now);
        self.refresh.retain(|_, g| g.expires > now);
        self.txns.retain(|_, t| {
            t.iter()
                .find(|(k, _)| k == "_created")
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .is_some_and(|c| c + 3600 > now)
        });
    }

    /// Runs [`Store::housekeeping`] every 512 inserts or so.
    pub fn maybe_housekeeping(&mut self, now: i64) {
        let n = self.codes.len() + self.refresh.len() + self.txns.len();
        if n > 0 && n.is_multiple_of(512) {
            self.housekeeping(now);
        }
    }
}

/// Request counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// authorization_code grants.
    pub authorization_code: AtomicU64,
    /// refresh_token grants.
    pub refresh_token: AtomicU64,
    /// On-Behalf-Of grants.
    pub obo: AtomicU64,
    /// client_credentials grants.
    pub client_credentials: AtomicU64,
    /// password grants.
    pub password: AtomicU64,
    /// other/unknown grant types.
    pub other_grant: AtomicU64,
    /// /authorize requests.
    pub authorize: AtomicU64,
    /// discovery documents.
    pub discovery: AtomicU64,
    /// JWKS requests.
    pub jwks: AtomicU64,
    /// instance discovery.
    pub instance_discovery: AtomicU64,
    /// Graph requests.
    pub graph: AtomicU64,
    /// logout requests.
    pub logout: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// `/token` calls with `grant_type=authorization_code`.
    pub authorization_code: u64,
    /// `/token` calls with `grant_type=refresh_token`.
    pub refresh_token: u64,
    /// `/token` calls with the OBO jwt-bearer grant.
    pub obo: u64,
    /// `/token` calls with `grant_type=client_credentials`.
    pub client_credentials: u64,
    /// `/token` calls with `grant_type=password`.
    pub password: u64,
    /// `/token` calls with any other grant type.
    pub other_grant: u64,
    /// All `/token` calls.
    pub token_total: u64,
    /// `/authorize` requests (GET and POST steps).
    pub authorize: u64,
    /// Discovery-document requests.
    pub discovery: u64,
    /// JWKS requests.
    pub jwks: u64,
    /// Instance-discovery requests.
    pub instance_discovery: u64,
    /// Graph slice requests.
    pub graph: u64,
    /// End-session requests.
    pub logout: u64,
}

impl Counters {
    /// Counts one.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot.
    pub fn snapshot(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = Stats {
            authorization_code: g(&self.authorization_code),
            refresh_token: g(&self.refresh_token),
            obo: g(&self.obo),
            client_credentials: g(&self.client_credentials),
            password: g(&self.password),
            other_grant: g(&self.other_grant),
            token_total: 0,
            authorize: g(&self.authorize),
            discovery: g(&self.discovery),
            jwks: g(&self.jwks),
            instance_discovery: g(&self.instance_discovery),
            graph: g(&self.graph),
            logout: g(&self.logout),
        };
        s.token_total = s.authorization_code
            + s.refresh_token
            + s.obo
            + s.client_credentials
            + s.password
            + s.other_grant;
        s
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        for c in [
            &self.authorization_code,
            &self.refresh_token,
            &self.obo,
            &self.client_credentials,
            &self.password,
            &self.other_grant,
            &self.authorize,
            &self.discovery,
            &self.jwks,
            &self.instance_discovery,
            &self.graph,
            &self.logout,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Which endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// `/oauth2/v2.0/token`.
    Token,
    /// `/oauth2/v2.0/authorize`.
    Authorize,
    /// Discovery documents and instance discovery.
    Discovery,
    /// JWKS.
    Jwks,
    /// The Graph slice.
    Graph,
    /// All of the above.
    All,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FaultKind {
    /// Delay the response.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// Answer with this status (e.g. 503, 429, or 401 on `graph`) and an optional
    /// `Retry-After`, in the shape of the endpoint hit: Entra's AADSTS body, or on the Graph
    /// slice Graph's error body (401 `InvalidAuthenticationToken` with `WWW-Authenticate`,
    /// 429 `TooManyRequests`, 503 `ServiceUnavailable`, …).
    Status {
        /// HTTP status code.
        code: u16,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Never answer (until the emulator shuts down).
    Timeout,
}

/// An injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Where.
    pub endpoint: FaultEndpoint,
    /// What.
    pub kind: FaultKind,
    /// How many requests it affects; `None` = until cleared.
    #[serde(default)]
    pub count: Option<u32>,
}
