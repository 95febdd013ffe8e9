//! The OpenID Connect discovery document (`{authority}/v2.0/.well-known/openid-configuration`).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::error::{IdpError, retry_after};

/// The endpoints this app uses, from the discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    /// The Microsoft Graph host of this cloud (`graph.microsoft.com`,
    /// `graph.microsoft.us`, `microsoftgraph.chinacloudapi.cn`, ...).
    #[serde(default)]
    pub msgraph_host: Option<String>,
}

impl ProviderMetadata {
    /// Fetches the discovery document of `{authority_host}/{tenant}`.
    pub async fn discover(
        http: &reqwest::Client,
        authority_host: &Url,
        tenant: &str,
    ) -> Result<Self, IdpError> {
        let url = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            authority_host.as_str().trim_end_matches('/')
        );
        get_json(http, &url, "discovery").await
    }

    /// The issuer for tokens of tenant `tid`: multi-tenant documents (`common`,
    /// `organizations`) publish the template `.../{tenantid}/v2.0`.
    pub fn issuer_for(&self, tid: &str) -> String {
        self.issuer.replace("{tenantid}", tid)
    }
}

/// GET with retries: discovery and keys are idempotent, so a transient failure (timeout,
/// 5xx, 429) is retried twice with backoff, honouring `Retry-After` up to 5 s.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    endpoint: &'static str,
) -> Result<T, IdpError> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request = http
            .get(url)
            .build()
            .map_err(|err| IdpError::transport(endpoint, err))?;
        let result = match super::traced::send(http, request, endpoint, endpoint).await {
            Err(err) => Err(err),
            Ok(answer) if (200..300).contains(&answer.status) => {
                serde_json::from_slice::<T>(&answer.body).map_err(|err| IdpError::InvalidResponse {
                    endpoint,
                    detail: err.to_string(),
                })
            }
            Ok(answer) => {
                let wait = retry_after(&answer.headers);
                Err(IdpError::from_status(
                    endpoint,
                    answer.status,
                    wait,
                    &answer.body,
                ))
            }
        };
        match result {
            Err(err) if err.is_transient() && attempt < 3 => {
                let wait = match &err {
                    IdpError::Throttled { retry_after, .. }
                    | IdpError::Unavailable { retry_after, .. } => {
                        retry_after.unwrap_or(delay).min(Duration::from_secs(5))
                    }
                    _ => delay,
                };
                tracing::warn!(endpoint, attempt, "retrying after {wait:?}: {err}");
                tokio::time::sleep(wait).await;
                delay *= 3;
            }
            other => return other,
        }
    }
}
