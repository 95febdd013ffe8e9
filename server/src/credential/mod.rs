//! The app's client credential: how it proves itself at the token endpoint, on every grant
//! (code redemption, refresh, On-Behalf-Of, app-only calls). Four kinds, one type:
//!
//! - `secret`: `client_secret`, from `AZURE_AD_CLIENT_SECRET` or files;
//! - `certificate`: a `private_key_jwt` client assertion signed with a certificate's key;
//! - `federated-token-file`: the token a platform writes to `AZURE_FEDERATED_TOKEN_FILE`
//!   (Kubernetes workload identity), read at each use since the kubelet replaces it hourly;
//! - `managed-identity`: a managed identity's token for `api://AzureADTokenExchange`, from the
//!   host's identity endpoint, cached until shortly before it expires.
//!
//! The last two send an external token as the client assertion (workload identity
//! federation): the app holds no secret at all. Secrets and certificates may be several, in
//! order: when Entra refuses the one in use as expired or invalid, the next is tried
//! ([`ClientCredential::rotates_on`]), so a credential rotated in the app registration before
//! the deployment caught up costs no outage. Files are re-read when they change (a Kubernetes
//! secret or Key Vault CSI mount is updated in place), without a restart.

mod certificate;
mod managed_identity;
mod watched;

use std::{
    fmt,
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant},
};

pub use certificate::CertificateCredential;
pub use managed_identity::{IdentityEndpoint, ManagedIdentity};
use prometheus_client::metrics::counter::Counter;
use url::Url;
pub use watched::WatchedFiles;

use crate::domain::Secret;

/// The client assertion type of a signed JWT (RFC 7523), certificate or federated.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Entra's answers that the credential presented is expired, revoked or not registered
/// (AADSTS7000222 expired secret, 7000215 invalid secret, 700027 assertion signature or key
/// not found, 7000214 certificate revoked, 1000502 certificate outside its validity): the
/// next configured credential may work.
pub const ROTATION_CODES: [u32; 5] = [7000222, 7000215, 700027, 7000214, 1000502];

/// How long the credential that served after a refusal stays first in line.
const PREFER_FALLBACK_FOR: Duration = Duration::from_secs(600);

/// Which kind of credential (`AZURE_AD_CLIENT_CREDENTIAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Secret,
    Certificate,
    FederatedTokenFile,
    ManagedIdentity,
}

impl CredentialKind {
    /// Its setting value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Certificate => "certificate",
            Self::FederatedTokenFile => "federated-token-file",
            Self::ManagedIdentity => "managed-identity",
        }
    }

    /// From its setting value.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Secret,
            Self::Certificate,
            Self::FederatedTokenFile,
            Self::ManagedIdentity,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(value.trim()))
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The credential could not be produced (a file unreadable, the identity endpoint down).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the app's client credential ({kind}) could not be used: {detail}")]
pub struct CredentialError {
    pub kind: CredentialKind,
    pub detail: String,
    /// Whether trying again later may work (the identity endpoint is unavailable).
    pub transient: bool,
}

/// One configured credential.
pub enum Source {
    /// A secret given in the environment.
    Secret(Secret),
    /// A secret in a file (the whole file, trimmed), re-read when it changes.
    SecretFile(WatchedFiles<Secret>),
    /// A certificate and its key, re-read when either file changes.
    Certificate(WatchedFiles<CertificateCredential>),
    /// The external token in this file, read at each use.
    FederatedTokenFile(PathBuf),
    /// A managed identity's token exchange token.
    ManagedIdentity(ManagedIdentity),
}

/// The app's credential: its kind and the configured sources, in order of preference.
pub struct ClientCredential {
    kind: CredentialKind,
    sources: Vec<Source>,
    /// The source that worked after the preferred one was refused, and since when: later
    /// requests start there for [`PREFER_FALLBACK_FOR`], then try the preferred one again
    /// (its file may have been mended).
    active: Mutex<Option<(usize, Instant)>>,
    /// Times a refused credential was followed by the next one (`/metrics`).
    pub fallbacks: Counter,
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientCredential({}, {} source(s))",
            self.kind,
            self.sources.len()
        )
    }
}

impl ClientCredential {
    /// A credential of `kind` from `sources`, all of that kind; `None` without any.
    pub fn new(kind: CredentialKind, sources: Vec<Source>) -> Option<Self> {
        (!sources.is_empty()).then(|| Self {
            kind,
            sources,
            active: Mutex::new(None),
            fallbacks: Counter::default(),
        })
    }

    /// A single secret (the embedded emulator's, tests').
    pub fn secret(secret: Secret) -> Self {
        Self {
            kind: CredentialKind::Secret,
            sources: vec![Source::Secret(secret)],
            active: Mutex::new(None),
            fallbacks: Counter::default(),
        }
    }

    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// How many sources are configured (several secrets or certificates rotate).
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// The order to try the sources in this request: the preferred first, or the one that
    /// served after it was refused, for a while.
    pub fn attempt_order(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.sources.len();
        let start = match *self.active.lock().expect("credential lock") {
            Some((index, since)) if since.elapsed() < PREFER_FALLBACK_FOR => index % n,
            _ => 0,
        };
        (0..n).map(move |i| (start + i) % n)
    }

    /// Notes that source `index` worked, after `previous` was refused.
    pub fn fell_back(&self, previous: usize, index: usize) {
        self.fallbacks.inc();
        *self.active.lock().expect("credential lock") = Some((index, Instant::now()));
        tracing::warn!(
            kind = %self.kind,
            refused = previous + 1,
            now_using = index + 1,
            "the identity provider refused the client credential in use as expired or invalid; \
             the next configured one works and is used from now on: remove the refused one"
        );
    }

    /// Whether an answer from Entra means source `index` is refused and another may work.
    pub fn rotates_on(&self, code: Option<u32>) -> bool {
        self.sources.len() > 1 && code.is_some_and(|c| ROTATION_CODES.contains(&c))
    }

    /// The form fields that authenticate this app with source `index` at `token_endpoint`
    /// (the audience of a certificate's assertion).
    ///
    /// # Errors
    /// The source could not be read or obtained.
    pub async fn form_fields(
        &self,
        index: usize,
        client_id: &str,
        token_endpoint: &Url,
    ) -> Result<Vec<(&'static str, String)>, CredentialError> {
        let fail = |detail: String, transient: bool| CredentialError {
            kind: self.kind,
            detail,
            transient,
        };
        let assertion = |value: String| {
            vec![
                ("client_assertion_type", JWT_BEARER.to_owned()),
                ("client_assertion", value),
            ]
        };
        match &self.sources[index] {
            Source::Secret(secret) => Ok(vec![("client_secret", secret.expose().to_owned())]),
            Source::SecretFile(file) => {
                let secret = file.get().map_err(|e| fail(e, false))?;
                Ok(vec![("client_secret", secret.expose().to_owned())])
            }
            Source::Certificate(file) => {
                let certificate = file.get().map_err(|e| fail(e, false))?;
                let signed = certificate
                    .assertion(client_id, token_endpoint.as_str())
                    .map_err(|e| fail(e, false))?;
                Ok(assertion(signed))
            }
            Source::FederatedTokenFile(path) => {
                let token = tokio::fs::read_to_string(path).await.map_err(|err| {
                    fail(
                        format!(
                            "AZURE_FEDERATED_TOKEN_FILE={} cannot be read ({err}); the platform \
                             (e.g. AKS workload identity's webhook) writes it into the pod",
                            path.display()
                        ),
                        false,
                    )
                })?;
                let token = token.trim();
                if token.is_empty() {
                    return Err(fail(
                        format!("AZURE_FEDERATED_TOKEN_FILE={} is empty", path.display()),
                        false,
                    ));
                }
                Ok(assertion(token.to_owned()))
            }
            Source::ManagedIdentity(identity) => {
                Ok(assertion(identity.token().await?.expose().to_owned()))
            }
        }
    }
}
