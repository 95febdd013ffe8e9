//! A managed identity's token for `api://AzureADTokenExchange`, which this app presents as its
//! client assertion (Microsoft Learn: "Configure an application to trust a managed identity").
//! The token comes from the host: the instance metadata service (IMDS, on VMs, VM scale sets
//! and AKS nodes) or the App Service / Container Apps identity endpoint (`IDENTITY_ENDPOINT`
//! with `IDENTITY_HEADER`). One request per token lifetime: the token is kept until five
//! minutes before it expires, and concurrent requests wait for one fetch.

use serde::Deserialize;
use url::Url;

use crate::domain::Secret;

/// Fetch a new token this long before the cached one expires.
const RENEW_BEFORE_SECS: i64 = 300;

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
    cached: tokio::sync::Mutex<Option<(Secret, i64)>>,
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

fn number(value: Option<&serde_json::Value>) -> Option<i64> {
    match value? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl ManagedIdentity {
    pub fn new(endpoint: IdentityEndpoint, client_id: Option<String>, audience: String) -> Self {
        Self {
            endpoint,
            client_id,
            audience,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub fn endpoint(&self) -> &IdentityEndpoint {
        &self.endpoint
    }

    /// The token, from the cache or the endpoint.
    ///
    /// # Errors
    /// What the endpoint answered, and whether trying again may help.
    pub async fn token(&self, http: &reqwest::Client) -> Result<Secret, (String, bool)> {
        let mut cached = self.cached.lock().await;
        let now = jsonwebtoken::get_current_timestamp() as i64;
        if let Some((token, expires_on)) = cached.as_ref()
            && expires_on - now > RENEW_BEFORE_SECS
        {
            return Ok(token.clone());
        }
        let (token, expires_on) = self.fetch(http, now).await?;
        *cached = Some((token.clone(), expires_on));
        Ok(token)
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        now: i64,
    ) -> Result<(Secret, i64), (String, bool)> {
        let which = self.endpoint.describe();
        let request = match &self.endpoint {
            IdentityEndpoint::Imds(origin) => {
                let mut url = origin
                    .join("/metadata/identity/oauth2/token")
                    .map_err(|e| (e.to_string(), false))?;
                url.query_pairs_mut()
                    .append_pair("api-version", "2018-02-01")
                    .append_pair("resource", &self.audience);
                if let Some(id) = &self.client_id {
                    url.query_pairs_mut().append_pair("client_id", id);
                }
                http.get(url).header("Metadata", "true")
            }
            IdentityEndpoint::AppService { endpoint, header } => {
                let mut url = endpoint.clone();
                url.query_pairs_mut()
                    .append_pair("api-version", "2019-08-01")
                    .append_pair("resource", &self.audience);
                if let Some(id) = &self.client_id {
                    url.query_pairs_mut().append_pair("client_id", id);
                }
                http.get(url).header("X-IDENTITY-HEADER", header.expose())
            }
        };
        let response = request.send().await.map_err(|err| {
            let why = if err.is_timeout() { "timed out".to_owned() } else { err.without_url().to_string() };
            (format!("{which} could not be reached ({why}); is a managed identity assigned to this host?"), true)
        })?;
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
            return Err((
                format!(
                    "{which} answered {status} for {identity} and resource {}: {said}",
                    self.audience
                ),
                status.is_server_error() || status.as_u16() == 429,
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| (format!("{which} answered something unreadable: {e}"), false))?;
        let expires_on = number(answer.expires_on.as_ref())
            .or_else(|| number(answer.expires_in.as_ref()).map(|s| now + s))
            .unwrap_or(now + 3600);
        Ok((Secret::new(answer.access_token), expires_on))
    }
}
