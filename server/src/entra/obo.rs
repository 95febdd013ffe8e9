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
    /// Exchanges `assertion` (the token of a user of tenant `tid` for this app's own API)
    /// for a token for the resource of `scopes`, at that tenant's token endpoint.
    pub async fn on_behalf_of(
        &self,
        assertion: &Secret,
        scopes: &ScopeSet,
        tid: &str,
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
        let endpoint = self.token_endpoint_for(tid);
        form.extend(self.client_assertion_params(&endpoint)?);

        let response = self
            .http()
            .post(endpoint)
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

/// A client assertion JWT (RFC 7523; Microsoft Learn, "Microsoft identity platform
/// application authentication certificate credentials"): `aud` = the token endpoint, `iss` =
/// `sub` = client id, a fresh `jti`, ten minutes of validity, signed PS256 with the header
/// `x5t#S256` = base64url(SHA-256(DER certificate)), the form Microsoft now recommends over
/// RS256 with a SHA-1 `x5t`.
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
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der))
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
        .map_err(|err| invalid(format!("the private key is not an RSA PEM key: {err}")))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(thumbprint);
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use rsa::pkcs8::EncodePrivateKey as _;

    use super::*;

    #[test]
    fn the_client_assertion_is_ps256_with_a_sha256_thumbprint() {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let key_pem = key.to_pkcs8_pem(Default::default()).unwrap().to_string();
        let key_pair =
            rcgen::KeyPair::from_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["t".to_owned()])
            .unwrap()
            .self_signed(&key_pair)
            .unwrap();
        let endpoint = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = client_assertion("client", endpoint, &cert.pem(), &Secret::new(key_pem)).unwrap();

        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert!(header.x5t.is_none(), "no SHA-1 thumbprint");
        let expected = {
            use sha2::Digest as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(cert.der()))
        };
        assert_eq!(header.x5t_s256.as_deref(), Some(expected.as_str()));
        let (_, claims) = crate::entra::decode_unverified(&jwt).unwrap();
        assert_eq!(claims["aud"], endpoint);
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
    }
}
