//! Request counters, as the admin surface reports them (`/_emulator/stats`): tests count
//! exchanges and refreshes at the identity provider with them.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

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
    /// Token requests with a grant type the emulator does not know.
    pub other_grant: AtomicU64,
    /// `/authorize` requests, pages' answers included.
    pub authorize: AtomicU64,
    /// OpenID discovery documents served.
    pub discovery: AtomicU64,
    /// Key sets served (a client that refetches too often shows here).
    pub jwks: AtomicU64,
    /// MSAL's `/common/discovery/instance` requests.
    pub instance_discovery: AtomicU64,
    /// Graph requests.
    pub graph: AtomicU64,
    /// logout requests.
    pub logout: AtomicU64,
    /// Token requests at the managed identity endpoints.
    pub managed_identity: AtomicU64,
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
    /// Token requests at the managed identity endpoints (IMDS and App Service shapes).
    pub managed_identity: u64,
}

impl Counters {
    /// Counts one.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as they are now, as `/_emulator/stats` answers them.
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
            managed_identity: g(&self.managed_identity),
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
            &self.managed_identity,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}
