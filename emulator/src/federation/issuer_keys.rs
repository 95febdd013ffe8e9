//! The signing keys of external issuers (a Kubernetes cluster's service-account issuer, a
//! GitHub Actions issuer, a tenant's own issuer for managed identities), fetched the way Entra
//! does for workload identity federation: `{issuer}/.well-known/openid-configuration`, then its
//! `jwks_uri`. Only issuers named by a registered federated credential are ever fetched, so a
//! request cannot make the emulator call an address of its choosing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::JwkSet;

/// How long fetched keys are used before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(600);
/// A token whose `kid` is not in the cached set refetches, at most this often per issuer.
const REFETCH_AFTER: Duration = Duration::from_secs(5);
/// The largest discovery document or key set read.
const MAX_BODY: usize = 1 << 20;

/// Fetched key sets by issuer.
#[derive(Debug, Default)]
pub struct IssuerKeyCache {
    sets: Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>,
}

impl IssuerKeyCache {
    /// The keys of `issuer` that may hold `kid`: cached, or fetched when absent, stale, or
    /// (at most every 5 s) when the cached set lacks `kid` (the issuer rolled its keys).
    ///
    /// # Errors
    /// Why the issuer's discovery document or keys could not be read.
    pub async fn get(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<JwkSet>, String> {
        let cached = self
            .sets
            .lock()
            .expect("issuer keys lock")
            .get(issuer)
            .cloned();
        if let Some((at, set)) = &cached {
            let has_kid = kid.is_none_or(|k| set.find(k).is_some());
            if at.elapsed() < KEYS_TTL && (has_kid || at.elapsed() < REFETCH_AFTER) {
                return Ok(set.clone());
            }
        }
        let set = Arc::new(fetch(issuer).await?);
        let mut sets = self.sets.lock().expect("issuer keys lock");
        // Bounded by the registered issuers; a world edited at run time may add some.
        if sets.len() > 1_000 {
            sets.clear();
        }
        sets.insert(issuer.to_owned(), (Instant::now(), set.clone()));
        Ok(set)
    }
}

async fn fetch(issuer: &str) -> Result<JwkSet, String> {
    let base = issuer.trim_end_matches('/');
    let issuer_url = url::Url::parse(base).map_err(|e| format!("{issuer} is not a URL: {e}"))?;
    // Loopback (`http://`, the emulator's own TLS certificate) only for a loopback issuer, so
    // that a registered https issuer cannot point its `jwks_uri` at this host's services.
    let loopback = is_loopback(&issuer_url);
    let discovery_url = format!("{base}/.well-known/openid-configuration");
    let discovery: serde_json::Value = get_json(&discovery_url, loopback).await?;
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or_else(|| format!("{discovery_url} names no jwks_uri"))?;
    get_json(jwks_uri, loopback).await
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str, loopback: bool) -> Result<T, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url} is not a URL: {e}"))?;
    // Entra fetches issuers over HTTPS only; a loopback `http://` issuer is allowed because
    // nothing else can serve one on a machine without a network (the tests' issuers).
    let allowed = if loopback {
        is_loopback(&parsed)
    } else {
        parsed.scheme() == "https"
    };
    if !allowed {
        return Err(format!(
            "{url} is neither https:// nor on the issuer's loopback host"
        ));
    }
    let mut response = client(loopback)
        .get(parsed)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(format!("{url} answered more than {MAX_BODY} bytes"));
        }
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} did not answer JSON: {e}"))
}

/// Without redirects, with a deadline. On loopback the emulator's own self-signed TLS
/// certificate is accepted (no network lies between the two ends).
fn client(loopback: bool) -> &'static reqwest::Client {
    static STRICT: OnceLock<reqwest::Client> = OnceLock::new();
    static LOOPBACK: OnceLock<reqwest::Client> = OnceLock::new();
    let build = |lenient: bool| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(lenient)
            .build()
            .expect("a TLS backend is compiled in")
    };
    if loopback {
        LOOPBACK.get_or_init(|| build(true))
    } else {
        STRICT.get_or_init(|| build(false))
    }
}
