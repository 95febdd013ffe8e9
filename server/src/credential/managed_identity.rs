//! A managed identity's token for `api://AzureADTokenExchange`, which this app presents as its
//! client assertion (Microsoft Learn: "Configure an application to trust a managed identity").
//! The token comes from the host: the instance metadata service (IMDS, on VMs, VM scale sets
//! and AKS nodes) or the App Service / Container Apps identity endpoint (`IDENTITY_ENDPOINT`
//! with `IDENTITY_HEADER`). One request per token lifetime: the token is kept until five
//! minutes before it expires, and concurrent requests wait for one fetch. A failed renewal
//! keeps serving the cached token while it is valid, and a failure is remembered for a few
//! seconds, so that an endpoint outage does not queue every request behind its own timeout.
//! The endpoint is on the host: its requests never go through a proxy.

use std::time::{Duration, Instant};
use tracing::Instrument as _;

use serde::Deserialize;
use url::Url;

use super::{CredentialError, CredentialKind};
use crate::domain::Secret;

/// Fetch a new token this long before the cached one expires.
const RENEW_BEFORE_SECS: i64 = 300;
/// A failed fetch is the answer for this long, before the endpoint is asked again.
const FAILURE_KEPT: Duration = Duration::from_secs(5);

/// Where the host serves its identities' tokens.
#[derive(Debug, Clone)]
pub enum IdentityEndpoint {
    /// IMDS (`api-version=2018-02-01`, header `Metadata: true`) at this origin:
    /// `http://169.254.169.254`, or `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
    Imds(Url),
    /// App Service / Container Apps (`api-version=2019-08-01`, header `X-IDENTITY-HEADER`).
    AppService { endpoint: Url, header: Secret },
}

impl IdentityEndpoint {
    /// Its name in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Imds(_) => "the instance metadata service (IMDS)",
            Self::AppService { .. } => "IDENTITY_ENDPOINT (App Service / Container Apps)",
        }
    }
}

/// A managed identity of the host, for token exchange.
pub struct ManagedIdentity {
    endpoint: IdentityEndpoint,
    /// A user-assigned identity's client id; `None` for the system-assigned one.
    client_id: Option<String>,
    /// `api://AzureADTokenExchange`, or a national cloud's.
    audience: String,
    http: reqwest::Client,
    state: tokio::sync::Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    /// The token and its expiry (Unix seconds).
    token: Option<(Secret, i64)>,
    /// The last failure, and when.
    failure: Option<(Instant, CredentialError)>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Unix seconds, a string (both endpoints) or a number.
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl ManagedIdentity {
    pub fn new(endpoint: IdentityEndpoint, client_id: Option<String>, audience: String) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a TLS backend is compiled in");
        Self {
            endpoint,
            client_id,
            audience,
            http,
            state: tokio::sync::Mutex::new(Cached::default()),
        }
    }

    pub fn endpoint(&self) -> &IdentityEndpoint {
        &self.endpoint
    }

    /// The token, from the cache or the endpoint.
    ///
    /// # Errors
    /// What the endpoint answered, and whether trying again may help.
    pub async fn token(&self) -> Result<Secret, CredentialError> {
        let mut state = self.state.lock().await;
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let valid = state
            .token
            .as_ref()
            .filter(|(_, expires_on)| *expires_on > now)
            .map(|(token, expires_on)| (token.clone(), *expires_on));
        if let Some((token, expires_on)) = &valid
            && expires_on - now > RENEW_BEFORE_SECS
        {
            return Ok(token.clone());
        }
        if let Some((at, err)) = &state.failure
            && at.elapsed() < FAILURE_KEPT
        {
            return valid.map(|(token, _)| token).ok_or_else(|| err.clone());
        }
        match self.fetch(now).await {
            Ok((token, expires_on)) => {
                state.token = Some((token.clone(), expires_on));
                state.failure = None;
                Ok(token)
            }
            Err(err) => {
                state.failure = Some((Instant::now(), err.clone()));
                match valid {
                    // Renewal failed early: the token still works for a few minutes.
                    Some((token, _)) => {
                        tracing::warn!(error = %err, "managed identity token renewal failed; the cached token is used until it expires");
                        Ok(token)
                    }
                    None => Err(err),
                }
            }
        }
    }

    async fn fetch(&self, now: i64) -> Result<(Secret, i64), CredentialError> {
        let fail = |detail: String, transient: bool| CredentialError {
            kind: CredentialKind::ManagedIdentity,
            detail,
            transient,
        };
        let http = &self.http;
        let which = self.endpoint.describe();
        let (url, request) = match &self.endpoint {
            IdentityEndpoint::Imds(origin) => {
                let mut url = origin
                    .join("/metadata/identity/oauth2/token")
                    .map_err(|e| fail(e.to_string(), false))?;
                url.query_pairs_mut()
                    .append_pair("api-version", "2018-02-01")
                    .append_pair("resource", &self.audience);
                if let Some(id) = &self.client_id {
                    url.query_pairs_mut().append_pair("client_id", id);
                }
                (url.clone(), http.get(url).header("Metadata", "true"))
            }
            IdentityEndpoint::AppService { endpoint, header } => {
                let mut url = endpoint.clone();
                url.query_pairs_mut()
                    .append_pair("api-version", "2019-08-01")
                    .append_pair("resource", &self.audience);
                if let Some(id) = &self.client_id {
                    url.query_pairs_mut().append_pair("client_id", id);
                }
                (
                    url.clone(),
                    http.get(url).header("X-IDENTITY-HEADER", header.expose()),
                )
            }
        };
        // A client span (no query, no header values on it), with a request id as for Entra.
        let call = crate::entra::traced::EntraCall::start("managed_identity", "GET", &url, None);
        let response = request
            .headers(call.headers())
            .send()
            .instrument(call.span().clone())
            .await
            .map_err(|err| {
                let why = if err.is_timeout() { "timed out".to_owned() } else { err.without_url().to_string() };
                call.failed(&why);
                fail(format!("{which} could not be reached ({why}); is a managed identity assigned to this host?"), true)
            })?;
        call.answered(response.status().as_u16(), response.headers());
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            // Error bodies name the problem (`error_description` or `message`), never a token.
            let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let said = [
                "error_description",
                "message",
                "Message",
                "exceptionMessage",
            ]
            .iter()
            .find_map(|k| parsed[k].as_str())
            .map(|s| s.lines().next().unwrap_or(s).to_owned())
            .unwrap_or_else(|| "no explanation".to_owned());
            let identity = self
                .client_id
                .as_deref()
                .map_or("the system-assigned identity".to_owned(), |id| {
                    format!("the user-assigned identity {id}")
                });
            return Err(fail(
                format!(
                    "{which} answered {status} for {identity} and resource {}: {said}",
                    self.audience
                ),
                status.is_server_error() || status.as_u16() == 429,
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("{which} answered something unreadable: {e}"), false))?;
        let expires_on = answer
            .expires_on
            .as_ref()
            .and_then(crate::domain::seconds)
            .or_else(|| {
                answer
                    .expires_in
                    .as_ref()
                    .and_then(crate::domain::seconds)
                    .map(|s| now + s)
            })
            .unwrap_or(now + 3600);
        Ok((Secret::new(answer.access_token), expires_on))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{Json, Router, http::StatusCode, routing::get};

    use super::*;

    /// An IMDS that answers a token valid for 200 s (inside the renewal window) once, then
    /// fails; the number of requests it saw.
    async fn flaky_imds() -> (Url, Arc<AtomicUsize>) {
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        let app = Router::new().route(
            "/metadata/identity/oauth2/token",
            get(move || {
                let n = count.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        let expires_on = jsonwebtoken::get_current_timestamp() + 200;
                        Ok(Json(serde_json::json!({
                            "access_token": "exchange-token",
                            "expires_on": expires_on.to_string(),
                        })))
                    } else {
                        Err(StatusCode::SERVICE_UNAVAILABLE)
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (origin, seen)
    }

    #[tokio::test]
    async fn a_failed_renewal_serves_the_valid_token_and_an_outage_is_not_asked_again_at_once() {
        let (origin, seen) = flaky_imds().await;
        let identity = ManagedIdentity::new(
            IdentityEndpoint::Imds(origin),
            None,
            "api://AzureADTokenExchange".into(),
        );
        assert_eq!(identity.token().await.unwrap().expose(), "exchange-token");
        // Inside the renewal window: a renewal is tried, fails, and the token still serves.
        assert_eq!(identity.token().await.unwrap().expose(), "exchange-token");
        assert_eq!(identity.token().await.unwrap().expose(), "exchange-token");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "the failure is kept for a few seconds"
        );
    }
}
