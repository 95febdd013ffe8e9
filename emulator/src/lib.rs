//! An offline Microsoft Entra ID (identity platform v2.0) emulator with real On-Behalf-Of
//! checks, for running and testing apps with no tenant and no network.
//!
//! ```no_run
//! # async fn run() -> Result<(), emulator::Error> {
//! use emulator::{Emulator, World, well_known};
//! let emu = Emulator::builder()
//!     .world(World::well_known())
//!     .start("127.0.0.1:0".parse().unwrap())
//!     .await?;
//! let authority = emu.authority(well_known::TENANT_ID); // http://127.0.0.1:PORT/3dac…
//! # let _ = authority; emu.shutdown().await; Ok(()) }
//! ```
//!
//! Modules: [`world`] (config model), [`keys`] (signing keys, JWKS, rollover), [`tokens`]
//! (minting, Graph nonce tokens), [`claims`] (the `claims` request parameter), [`errors`]
//! (AADSTS bodies), [`client_auth`], [`grants`] (one module per grant), [`routes`] (HTTP
//! surface incl. Graph slice and admin), [`unconfirmed`] (switches for what Entra's
//! behaviour leaves open), [`tls`].
#![warn(missing_docs)]

pub mod claims;
pub mod client_auth;
pub mod errors;
pub mod federation;
pub mod grants;
pub mod keys;
pub mod params;
pub mod persist;
pub mod routes;
pub mod sign_in;
pub mod state;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod tls;
pub mod tokens;
pub mod unconfirmed;
pub mod well_known;
pub mod world;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

pub use routes::{admin::LifetimesUpdate, router};
pub use state::{Fault, FaultEndpoint, FaultKind, Lifetimes, RefreshGrant, Stats};
pub use tls::TlsConfig;
pub use unconfirmed::Unconfirmed;
pub use world::World;

use crate::state::{AppState, Counters, Shared, Store};

/// Starting the emulator failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding or serving failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Keys could not be loaded or generated.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// TLS setup failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The address is not a loopback address and non-loopback binding wasn't allowed.
    #[error("refusing to bind non-loopback address {0} (allow it explicitly)")]
    NotLoopback(SocketAddr),
}

/// Builds an emulator.
#[derive(Debug, Default)]
pub struct EmulatorBuilder {
    world: Option<World>,
    data_dir: Option<PathBuf>,
    lifetimes: Lifetimes,
    tls: Option<TlsConfig>,
    allow_non_loopback: bool,
    unconfirmed: Unconfirmed,
}

/// Entry point: `Emulator::builder()`.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the well-known world, no data dir, Entra's lifetimes and plain HTTP.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// The world to serve (default: [`World::well_known`]).
    pub fn world(mut self, world: World) -> Self {
        self.world = Some(world);
        self
    }

    /// Where signing keys persist (`None`: fresh keys each start).
    pub fn data_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.data_dir = dir;
        self
    }

    /// Token lifetimes.
    pub fn lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// Serve HTTPS with this material (see [`TlsConfig::generate`]).
    pub fn tls(mut self, tls: Option<TlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// Allow binding a non-loopback address.
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// Which way to go where Entra's behaviour is not known (default: the emulator's best
    /// reading; see [`unconfirmed`]).
    pub fn unconfirmed(mut self, unconfirmed: Unconfirmed) -> Self {
        self.unconfirmed = unconfirmed;
        self
    }

    /// Builds the shared state for a given base URL (for embedding [`router`] yourself).
    ///
    /// # Errors
    /// Key loading or generation failure.
    pub fn build_state(
        self,
        base_url: String,
    ) -> Result<(AppState, tokio::sync::watch::Sender<bool>), Error> {
        let keys = keys::KeyRing::load_or_create(self.data_dir.as_deref())?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let shared = Shared {
            base_url,
            tls: self.tls.is_some(),
            world: RwLock::new(self.world.unwrap_or_else(World::well_known)),
            keys: RwLock::new(keys),
            store: Mutex::new(Store {
                refresh: persist::load(self.data_dir.as_deref()),
                ..Store::default()
            }),
            stats: Counters::default(),
            faults: Mutex::new(vec![]),
            lifetimes: RwLock::new(self.lifetimes),
            unconfirmed: RwLock::new(self.unconfirmed),
            data_dir: self.data_dir,
            shutdown: rx,
            grants_dirty: Default::default(),
            federation_keys: Default::default(),
        };
        Ok((Arc::new(shared), tx))
    }

    /// Binds `addr` (port 0 picks a free port) and serves in the background.
    ///
    /// # Errors
    /// [`Error`] when the address is refused, can't be bound, or keys/TLS fail.
    pub async fn start(self, addr: SocketAddr) -> Result<RunningEmulator, Error> {
        if !addr.ip().is_loopback() && !self.allow_non_loopback {
            return Err(Error::NotLoopback(addr));
        }
        let tcp = tokio::net::TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        let host = match local.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{host}:{}", local.port());
        let tls = self.tls.clone();
        let (state, tx) = self.build_state(base_url.clone())?;
        // Served with the same limits as the BFF (header-read deadline, connection bound,
        // bounded bodies): when embedded it runs in the BFF's own process.
        let limits = listener::Limits::default();
        let app = router(state.clone())
            .layer(listener::body_limit())
            .layer(listener::request_timeout(&limits));
        let mut rx = tx.subscribe();
        let signal = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let task = match &tls {
            Some(t) => {
                let l = tls::TlsListener::new(tcp, t).map_err(|e| Error::Tls(e.to_string()))?;
                tokio::spawn(async move {
                    let _ = listener::serve(l, app, limits, signal).await;
                })
            }
            None => tokio::spawn(async move {
                let _ = listener::serve(tls::PlainListener(tcp), app, limits, signal).await;
            }),
        };
        let flusher = tokio::spawn(persist::run(state.clone()));
        tracing::info!(%base_url, "Entra ID emulator listening");
        Ok(RunningEmulator {
            base_url,
            local_addr: local,
            state,
            shutdown: tx,
            task: Some(task),
            flusher: Some(flusher),
            tls,
        })
    }
}

/// A running emulator. Stops on [`RunningEmulator::shutdown`] or when dropped.
#[derive(Debug)]
pub struct RunningEmulator {
    base_url: String,
    local_addr: SocketAddr,
    state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    flusher: Option<tokio::task::JoinHandle<()>>,
    tls: Option<TlsConfig>,
}

impl RunningEmulator {
    /// `http(s)://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `{base}/{tenant}`: what MSAL calls the authority.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base_url)
    }

    /// `{base}/graph`: use it as the Graph base URL (`{graph}/v1.0/me`).
    pub fn graph_base_url(&self) -> String {
        format!("{}/graph", self.base_url)
    }

    /// The PEM clients must trust, when serving HTTPS.
    pub fn tls_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.cert_pem.as_str())
    }

    /// The shared state (for in-process inspection).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Request counters.
    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Rolls the signing keys; old ones stay published for `grace`. Returns the new `kid`.
    ///
    /// # Errors
    /// Key generation or persistence failure.
    pub fn roll_keys(&self, grace: Duration) -> Result<String, keys::KeyError> {
        routes::admin::ops::roll_keys(&self.state, grace)
    }

    /// The published key ids, current first.
    pub fn kids(&self) -> Vec<String> {
        self.state.keys.read().expect("keys lock").kids()
    }

    /// Revokes a user's sign-in sessions, as Graph's `revokeSignInSessions` does: their
    /// refresh tokens (then AADSTS50173), their sessions at the sign-in page, and, through
    /// Continuous Access Evaluation, the access tokens of clients that declared `cp1`.
    /// Returns how many refresh tokens.
    pub fn revoke_refresh_tokens(&self, upn: &str) -> usize {
        routes::admin::ops::revoke(&self.state, upn)
    }

    /// Changes the switches of the unconfirmed behaviours.
    pub fn set_unconfirmed(&self, unconfirmed: Unconfirmed) {
        *self.state.unconfirmed.write().expect("unconfirmed lock") = unconfirmed;
    }

    /// Injects a fault.
    pub fn set_fault(&self, fault: Fault) {
        routes::admin::ops::set_fault(&self.state, fault);
    }

    /// Clears all faults.
    pub fn clear_faults(&self) {
        routes::admin::ops::clear_faults(&self.state);
    }

    /// Changes lifetimes (absent fields unchanged).
    pub fn set_lifetimes(&self, update: LifetimesUpdate) -> Lifetimes {
        routes::admin::ops::set_lifetimes(&self.state, update)
    }

    /// Issued refresh-token grants (without token values).
    pub fn grants(&self) -> Vec<RefreshGrant> {
        routes::admin::ops::grants(&self.state)
    }

    /// Adds (or replaces, by name) a federated identity credential on app registration
    /// `app_id`, as Graph's `POST /applications/{id}/federatedIdentityCredentials` does.
    /// `false`: no such app.
    pub fn add_federated_credential(
        &self,
        app_id: &str,
        credential: world::FederatedIdentityCredential,
    ) -> bool {
        routes::admin::ops::edit_app(&self.state, app_id, |app| {
            app.federated_identity_credentials
                .retain(|f| f.name != credential.name);
            app.federated_identity_credentials.push(credential.clone());
        })
    }

    /// The federated tokens accepted as client assertions so far, oldest first.
    pub fn federated_seen(&self) -> Vec<state::SeenAssertion> {
        self.state
            .store
            .lock()
            .expect("store lock")
            .federated_seen
            .clone()
    }

    /// The issuer URL of this emulator's workload-identity issuer for `cluster`.
    pub fn workload_issuer(&self, cluster: &str) -> String {
        routes::workload::issuer(&self.state, cluster)
    }

    /// A service-account token of `cluster`'s issuer, as a kubelet writes to
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub fn service_account_token(
        &self,
        cluster: &str,
        request: &routes::workload::ServiceAccountToken,
    ) -> String {
        routes::workload::service_account_token(&self.state, cluster, request)
    }

    /// Stops serving and waits (briefly) for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(f) = self.flusher.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), f).await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        // A last save without waiting for the background task.
        persist::flush(&self.state);
    }
}
