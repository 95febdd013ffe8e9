//! Validates Entra ID access tokens for an API, as Microsoft.Identity.Web does for .NET:
//! signing keys from the authority's discovery document (cached, refetched when an unknown
//! `kid` appears), the tenant's issuer in its v1 and v2 forms, each read from the cloud's own
//! discovery documents (`https://sts.windows.net/{tid}/` in the global cloud, another host in
//! national clouds), an audience of this API (client id or App ID URI), the required delegated scope in
//! `scp`, and `exp`/`nbf` with a small clock skew.
//!
//! Failures follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer error="invalid_token"`
//! (or no error when no token was sent), 403 with `error="insufficient_scope"`.
//!
//! An operation may require a Conditional Access authentication context
//! ([`ValidatorConfig::required_auth_context`], e.g. `c1`: configuration, since the ids differ
//! per tenant). As Microsoft's developer guide does it, the token must list it in `acrs`;
//! without it, a client that declared it handles claims challenges (`cp1` in `xms_cc`) gets
//! a 401 `insufficient_claims` challenge asking for that context, and any other client a 403
//! that says why (a challenge it cannot handle would only loop).

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
    /// This API's client id (first: the `client_id` of its claims challenges) and App ID
    /// URIs (`api://...`).
    pub audiences: Vec<String>,
    /// The delegated scope every call needs, e.g. `Weather.Read`.
    pub required_scope: String,
    /// Tolerated clock difference (Microsoft.Identity.Web: 5 minutes).
    pub clock_skew: Duration,
    /// The authentication context (`c1` ... `c99`) every call needs in the token's `acrs`, or
    /// `None`. Read it from configuration: "Don't hard-code Auth Context values in your app"
    /// (Microsoft Learn, "Developer guide to Conditional Access authentication context").
    pub required_auth_context: Option<String>,
}

/// The claims request asking for authentication context `context`, as the API's challenge
/// carries it (base64 in `WWW-Authenticate`).
pub fn auth_context_claims(context: &str) -> String {
    serde_json::json!({"access_token": {"acrs": {"essential": true, "value": context}}}).to_string()
}

/// Whether the token lists authentication context `context` in `acrs` (ids compare without
/// case: `c1` and `C1` name the same context).
pub fn has_auth_context(claims: &serde_json::Value, context: &str) -> bool {
    lists(claims, "acrs", context)
}

/// Whether the client declared that it handles claims challenges: `cp1` in `xms_cc`, "the
/// authoritative way to identify a client application is capable of handling a claims
/// challenge" (Microsoft Learn, "Claims challenges, claims requests and client capabilities";
/// values are not case-sensitive).
pub fn handles_claims_challenges(claims: &serde_json::Value) -> bool {
    lists(claims, "xms_cc", "cp1")
}

/// Whether the array-of-strings claim `name` holds `value`, compared without case.
fn lists(claims: &serde_json::Value, name: &str, value: &str) -> bool {
    claims
        .get(name)
        .and_then(|a| a.as_array())
        .is_some_and(|a| {
            a.iter()
                .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(value)))
        })
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
    /// The token lacks the authentication context the API requires, and the client handles
    /// claims challenges: it is told which.
    #[error("the token does not carry the authentication context {context} (acrs)")]
    InsufficientClaims {
        /// The context required.
        context: String,
        /// This API's client id, for the challenge's `client_id`.
        client_id: String,
        /// Where the client signs in again (the challenge's `authorization_uri`).
        authorization_uri: String,
    },
    /// The token lacks the authentication context the API requires, and the client did not
    /// declare that it handles claims challenges: refused, with why.
    #[error(
        "this operation requires the authentication context {context}, which the token does not \
         carry (acrs), and the client did not declare that it can handle claims challenges (no \
         cp1 in xms_cc): sign in through a client that declares cp1, or ask for the context \
         when signing in"
    )]
    ClientNotCapable {
        /// The context required.
        context: String,
    },
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
            Self::InsufficientClaims {
                context,
                client_id,
                authorization_uri,
            } => {
                use base64::Engine as _;
                // The developer guide's shape (and its `cc_type`), 401 as the claims-challenge
                // page requires.
                (
                    StatusCode::UNAUTHORIZED,
                    format!(
                        r#"Bearer realm="", authorization_uri="{}", client_id="{}", error="insufficient_claims", claims="{}", cc_type="authcontext""#,
                        quote(authorization_uri),
                        quote(client_id),
                        base64::engine::general_purpose::STANDARD
                            .encode(auth_context_claims(context))
                    ),
                )
            }
            Self::ClientNotCapable { .. } => {
                let body = serde_json::json!({
                    "error": "client_not_capable",
                    "error_description": self.to_string(),
                });
                return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
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
        if let Some(context) = &self.config.required_auth_context
            && !has_auth_context(&claims, context)
        {
            return Err(if handles_claims_challenges(&claims) {
                BearerError::InsufficientClaims {
                    context: context.clone(),
                    client_id: self.config.audiences.first().cloned().unwrap_or_default(),
                    authorization_uri: format!(
                        "{}/common/oauth2/v2.0/authorize",
                        self.config.authority_host.as_str().trim_end_matches('/')
                    ),
                }
            } else {
                BearerError::ClientNotCapable {
                    context: context.clone(),
                }
            });
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
    fn an_authentication_context_is_read_from_acrs_without_case() {
        assert!(has_auth_context(&json!({"acrs": ["c1"]}), "c1"));
        assert!(has_auth_context(&json!({"acrs": ["C2", "c1"]}), "C1"));
        assert!(!has_auth_context(&json!({"acrs": ["c2"]}), "c1"));
        // `amr` says nothing about a context, in v1 or v2.
        assert!(!has_auth_context(
            &json!({"ver": "1.0", "amr": ["mfa"]}),
            "c1"
        ));
    }

    #[test]
    fn cp1_in_xms_cc_says_the_client_handles_claims_challenges() {
        assert!(handles_claims_challenges(&json!({"xms_cc": ["CP1"]})));
        assert!(!handles_claims_challenges(&json!({"xms_cc": ["cp2"]})));
        assert!(!handles_claims_challenges(&json!({})));
    }
}
