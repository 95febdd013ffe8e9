//! Validates Entra ID access tokens for an API, as Microsoft.Identity.Web does for .NET:
//! signing keys from the authority's discovery document (cached, refetched when an unknown
//! `kid` appears), the tenant's issuer in its v1 and v2 forms, each read from the cloud's own
//! discovery documents (`https://sts.windows.net/{tid}/` in the global cloud, another host in
//! national clouds), an audience of this API (client id or App ID URI), the required delegated scope in
//! `scp`, and `exp`/`nbf` with a small clock skew.
//!
//! Failures follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer error="invalid_token"`
//! (or no error when no token was sent), 403 with `error="insufficient_scope"`.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use url::Url;

/// What this API accepts.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// e.g. `https://login.microsoftonline.com`.
    pub authority_host: Url,
    /// The tenant GUID whose tokens are accepted.
    pub tenant_id: String,
    /// This API's client id and App ID URIs (`api://...`).
    pub audiences: Vec<String>,
    /// The delegated scope every call needs, e.g. `Weather.Read`.
    pub required_scope: String,
    /// Tolerated clock difference (Microsoft.Identity.Web: 5 minutes).
    pub clock_skew: Duration,
    /// Require multi-factor authentication; a token without it is answered with an
    /// `insufficient_claims` challenge the client can take back to sign-in. A v2 token shows
    /// it by the authentication context [`MFA_AUTH_CONTEXT`] in `acrs`, a v1 token by `mfa`
    /// in `amr` (Microsoft Learn, "Access token claims reference": `amr` is a v1 claim).
    pub require_mfa: bool,
}

/// The Conditional Access authentication context that stands for MFA in this API's
/// challenge (`c1`, as in Microsoft's auth-context samples).
pub const MFA_AUTH_CONTEXT: &str = "c1";

/// The claims challenge for MFA: an authentication context the sign-in must satisfy
/// (Microsoft Learn, "Claims challenges, claims requests and client capabilities"; sent
/// base64-encoded in `WWW-Authenticate`).
pub const MFA_CLAIMS_CHALLENGE: &str =
    r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

/// Whether the token's claims show multi-factor authentication: `acrs` holding
/// [`MFA_AUTH_CONTEXT`] in a v2 token, `mfa` in `amr` in a v1 token.
pub fn shows_mfa(claims: &serde_json::Value) -> bool {
    let holds = |name: &str, wanted: &str| {
        claims
            .get(name)
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|v| v == wanted))
    };
    match claims.get("ver").and_then(|v| v.as_str()) {
        Some("1.0") => holds("amr", "mfa"),
        _ => holds("acrs", MFA_AUTH_CONTEXT),
    }
}

/// The caller, after its token passed every check.
#[derive(Debug, Clone)]
pub struct ValidatedToken {
    /// The user's object id (`oid`).
    pub object_id: String,
    /// The tenant (`tid`).
    pub tenant_id: String,
    /// The client app that obtained the token (`azp` in v2, `appid` in v1).
    pub client_id: String,
    /// The delegated scopes (`scp`).
    pub scopes: Vec<String>,
    /// All claims, for handlers that need more.
    pub claims: serde_json::Value,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token was sent")]
    Missing,
    /// The token is not a usable JWT or fails a check.
    #[error("{0}")]
    Invalid(String),
    /// The token is valid but lacks the required scope.
    #[error("the token lacks the scope {required} (it has: {granted})")]
    InsufficientScope {
        /// The scope the API requires.
        required: String,
        /// The scopes the token carries.
        granted: String,
    },
    /// The token is valid but lacks claims the API requires (MFA).
    #[error("the token does not show multi-factor authentication")]
    InsufficientClaims,
    /// The signing keys could not be fetched.
    #[error("the identity provider's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let quote = |s: &str| s.replace(['"', '\\'], "'");
        let (status, challenge) = match &self {
            Self::Missing => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer realm="weather-api""#.to_owned(),
            ),
            Self::Invalid(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer realm="weather-api", error="invalid_token", error_description="{}""#,
                    quote(why)
                ),
            ),
            Self::InsufficientScope { required, .. } => (
                StatusCode::FORBIDDEN,
                format!(
                    r#"Bearer realm="weather-api", error="insufficient_scope", scope="{}""#,
                    quote(required)
                ),
            ),
            Self::InsufficientClaims => {
                use base64::Engine as _;
                (
                    StatusCode::UNAUTHORIZED,
                    format!(
                        r#"Bearer realm="weather-api", error="insufficient_claims", claims="{}""#,
                        base64::engine::general_purpose::STANDARD.encode(MFA_CLAIMS_CHALLENGE)
                    ),
                )
            }
            Self::KeysUnavailable(_) => {
                return (StatusCode::SERVICE_UNAVAILABLE, self.to_string()).into_response();
            }
        };
        let mut response = (status, self.to_string()).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: Url,
}

/// The validator: configuration, the tenant's issuers, and the key cache (the same one the
/// BFF uses for ID tokens: a day's maximum age, refetch on an unknown `kid`, retries).
pub struct BearerValidator {
    config: ValidatorConfig,
    issuers: [String; 2],
    keys: jwks::JwksCache,
}

impl BearerValidator {
    /// Reads the tenant's discovery document for its issuer and keys.
    ///
    /// # Errors
    /// When the discovery document cannot be fetched or read.
    pub async fn discover(
        http: reqwest::Client,
        config: ValidatorConfig,
    ) -> Result<Self, BearerError> {
        let tenant = format!(
            "{}/{}",
            config.authority_host.as_str().trim_end_matches('/'),
            config.tenant_id
        );
        let fetch = |url: String| {
            let http = http.clone();
            async move {
                http.get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json::<Discovery>()
                    .await
            }
        };
        // The v2 document names the v2 issuer and the keys; the v1 document the v1 issuer,
        // which is not on the login host (and differs per cloud).
        let (v2, v1) = tokio::try_join!(
            fetch(format!("{tenant}/v2.0/.well-known/openid-configuration")),
            fetch(format!("{tenant}/.well-known/openid-configuration")),
        )
        .map_err(|e: reqwest::Error| BearerError::KeysUnavailable(e.without_url().to_string()))?;
        let issuers = [
            v2.issuer.replace("{tenantid}", &config.tenant_id),
            v1.issuer.replace("{tenantid}", &config.tenant_id),
        ];
        Ok(Self {
            config,
            issuers,
            keys: jwks::JwksCache::new(http, v2.jwks_uri),
        })
    }

    /// Checks a compact token.
    ///
    /// # Errors
    /// [`BearerError`] saying which check failed.
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, BearerError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| BearerError::Invalid("the token is not a JWT".into()))?;
        if header.alg != Algorithm::RS256 {
            return Err(BearerError::Invalid(format!(
                "unexpected algorithm {:?}",
                header.alg
            )));
        }
        let key = self
            .keys
            .key(header.kid.as_deref())
            .await
            .map_err(|err| match err {
                jwks::KeyError::Fetch(why) => BearerError::KeysUnavailable(why),
                other => BearerError::Invalid(other.to_string()),
            })?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.config.clock_skew.as_secs();
        validation.validate_nbf = true;
        validation.set_audience(&self.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|e| BearerError::Invalid(format!("the token was rejected: {e}")))?
            .claims;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        if !self.issuers.contains(&text("iss")) {
            return Err(BearerError::Invalid(format!(
                "the issuer {} is not this tenant's",
                text("iss")
            )));
        }
        if !text("tid").eq_ignore_ascii_case(&self.config.tenant_id) {
            return Err(BearerError::Invalid(format!(
                "the token is for tenant {}",
                text("tid")
            )));
        }
        let scopes: Vec<String> = text("scp").split_whitespace().map(str::to_owned).collect();
        if !scopes.contains(&self.config.required_scope) {
            return Err(BearerError::InsufficientScope {
                required: self.config.required_scope.clone(),
                granted: if scopes.is_empty() {
                    "none".into()
                } else {
                    scopes.join(" ")
                },
            });
        }
        if self.config.require_mfa && !shows_mfa(&claims) {
            return Err(BearerError::InsufficientClaims);
        }
        let client_id = match text("azp") {
            azp if !azp.is_empty() => azp,
            _ => text("appid"),
        };
        Ok(ValidatedToken {
            object_id: text("oid"),
            tenant_id: text("tid"),
            client_id,
            scopes,
            claims,
        })
    }
}

impl<S> FromRequestParts<S> for ValidatedToken
where
    Arc<BearerValidator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(BearerError::Missing)?;
        let validator = Arc::<BearerValidator>::from_ref(state);
        let result = validator.validate(token.trim()).await;
        if let Err(err) = &result {
            tracing::info!("refused a call: {err}");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_v2_token_shows_mfa_by_its_authentication_context() {
        assert!(shows_mfa(&json!({"ver": "2.0", "acrs": ["c1"]})));
        assert!(!shows_mfa(&json!({"ver": "2.0", "acrs": ["c2"]})));
        // v2 access tokens carry no `amr`; one that does is not trusted for MFA.
        assert!(!shows_mfa(&json!({"ver": "2.0", "amr": ["pwd", "mfa"]})));
    }

    #[test]
    fn a_v1_token_shows_mfa_in_amr() {
        assert!(shows_mfa(&json!({"ver": "1.0", "amr": ["pwd", "mfa"]})));
        assert!(!shows_mfa(&json!({"ver": "1.0", "amr": ["pwd"]})));
        assert!(!shows_mfa(&json!({"ver": "1.0", "acrs": ["c1"]})));
    }
}
