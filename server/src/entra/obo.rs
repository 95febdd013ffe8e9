//! The On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`), built by hand: it is not in the `oauth2` crate.
//! Also the client assertion for certificate credentials (`private_key_jwt`).

use base64::Engine as _;
use serde::Deserialize;

use super::{EntraClient, IdpError, error::retry_after};
use crate::domain::{ScopeSet, Secret};

/// A token for a downstream API, obtained On-Behalf-Of the signed-in user.
#[derive(Debug, Clone)]
pub struct OboToken {
    pub access_token: Secret,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Deserialize)]
struct OboResponse {
    access_token: String,
    expires_in: serde_json::Value,
}

impl EntraClient {
    /// Exchanges `assertion` (the user's token for this app's own API) for a token for the
    /// resource of `scopes`.
    pub async fn on_behalf_of(
        &self,
        assertion: &Secret,
        scopes: &ScopeSet,
    ) -> Result<OboToken, IdpError> {
        const ENDPOINT: &str = "token (on_behalf_of)";
        let scope = scopes.to_wire();
        let mut form: Vec<(&str, String)> = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
            ),
            ("client_id", self.config().client_id.clone()),
            ("assertion", assertion.expose().to_owned()),
            ("requested_token_use", "on_behalf_of".to_owned()),
            ("scope", scope),
        ];
        if let Some(secret) = self.client_secret() {
            form.push(("client_secret", secret.expose().to_owned()));
        }
        form.extend(self.client_assertion_params()?);

        let response = self
            .http()
            .post(self.metadata().token_endpoint.clone())
            .form(&form)
            .send()
            .await
            .map_err(|err| IdpError::transport(ENDPOINT, err))?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|err| IdpError::transport(ENDPOINT, err))?;
        if status != 200 {
            return Err(IdpError::from_status(ENDPOINT, status, wait, &body));
        }
        let parsed: OboResponse =
            serde_json::from_slice(&body).map_err(|err| IdpError::InvalidResponse {
                endpoint: ENDPOINT,
                detail: err.to_string(),
            })?;
        // MSAL accepts `expires_in` as a number or a numeric string; so do we.
        let lifetime = match &parsed.expires_in {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600);
        Ok(OboToken {
            access_token: Secret::new(parsed.access_token),
            expires_at: jsonwebtoken::get_current_timestamp() as i64 + lifetime,
        })
    }
}

/// A client assertion JWT (RFC 7523, Entra's `certificate-credentials`): `aud` = the token
/// endpoint, `iss` = `sub` = client id, a fresh `jti`, ten minutes of validity, signed RS256
/// with the header `x5t` = base64url(SHA-1(DER certificate)).
pub(crate) fn client_assertion(
    client_id: &str,
    token_endpoint: &str,
    certificate_pem: &str,
    private_key_pem: &Secret,
) -> Result<String, IdpError> {
    let invalid = |detail: String| IdpError::InvalidResponse {
        endpoint: "client certificate",
        detail,
    };
    let der = pem_body(certificate_pem, "CERTIFICATE").ok_or_else(|| {
        invalid("AZURE_AD_CLIENT_CERTIFICATE_PATH holds no PEM certificate".into())
    })?;
    let thumbprint = {
        use sha1::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der))
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
        .map_err(|err| invalid(format!("the private key is not an RSA PEM key: {err}")))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some(thumbprint);
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "aud": token_endpoint,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(|err| invalid(err.to_string()))
}

fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}
