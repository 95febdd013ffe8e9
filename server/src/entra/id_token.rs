//! ID token validation (OpenID Connect Core §3.1.3.7): signature from the provider's keys,
//! `iss` of the tenant, `aud` = this app, `nonce` of this sign-in, `exp`/`iat` with a small
//! skew, and `tid`. Only [`VerifiedIdToken::verify`] can build a [`VerifiedIdToken`].

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use super::{JwksCache, KeyError};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 120;

/// The claims of an ID token this app has checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub tid: String,
    pub oid: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub login_hint: Option<String>,
    /// The identity provider's sign-in session, named again by its front-channel sign-out.
    #[serde(default)]
    pub sid: Option<String>,
}

/// An ID token whose signature and claims have been checked. Not `Deserialize`: the only
/// way to get one is to verify a raw token.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    claims: IdTokenClaims,
    /// The decoded header and payload, for the token view.
    header_json: serde_json::Value,
    claims_json: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token is not a well-formed JWT")]
    Malformed,
    #[error("the ID token's signature could not be checked: {0}")]
    Key(#[from] KeyError),
    #[error("the ID token was rejected: {0}")]
    Invalid(String),
    #[error("the ID token's nonce does not match this sign-in (a replayed or injected token)")]
    NonceMismatch,
    #[error("the ID token is for tenant {found}, not {expected}")]
    WrongTenant { expected: String, found: String },
}

/// What a valid ID token must say.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// `None` for multi-tenant apps (`common` / `organizations`).
    pub tenant_id: Option<&'a str>,
}

impl VerifiedIdToken {
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }

    /// The decoded header, for the token view.
    pub fn header_json(&self) -> &serde_json::Value {
        &self.header_json
    }

    /// The decoded payload, for the token view.
    pub fn claims_json(&self) -> &serde_json::Value {
        &self.claims_json
    }

    pub async fn verify(
        raw: &str,
        expected: &Expectations<'_>,
        keys: &JwksCache,
    ) -> Result<Self, IdTokenError> {
        let header = decode_header(raw).map_err(|_| IdTokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(IdTokenError::Invalid(format!(
                "unexpected algorithm {:?}",
                header.alg
            )));
        }
        let key = keys.key(header.kid.as_deref()).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[expected.client_id]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        validation.validate_nbf = true;
        // The issuer depends on the token's own `tid` for multi-tenant authorities, so it
        // is checked below rather than here.
        let data = decode::<IdTokenClaims>(raw, &key, &validation)
            .map_err(|err| IdTokenError::Invalid(err.to_string()))?;
        let claims = data.claims;

        let now = jsonwebtoken::get_current_timestamp() as i64;
        if claims.iat > now + LEEWAY_SECS as i64 {
            return Err(IdTokenError::Invalid("issued in the future (iat)".into()));
        }
        if let Some(tenant) = expected.tenant_id
            && !claims.tid.eq_ignore_ascii_case(tenant)
        {
            return Err(IdTokenError::WrongTenant {
                expected: tenant.to_owned(),
                found: claims.tid.clone(),
            });
        }
        let issuer = expected.issuer.replace("{tenantid}", &claims.tid);
        if claims.iss != issuer {
            return Err(IdTokenError::Invalid(format!(
                "issuer {:?} is not the expected {issuer:?}",
                claims.iss
            )));
        }
        // Constant-time: the nonce is a secret of this sign-in.
        let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
            use subtle::ConstantTimeEq as _;
            bool::from(n.as_bytes().ct_eq(expected.nonce.as_bytes()))
        });
        if !nonce_ok {
            return Err(IdTokenError::NonceMismatch);
        }

        let (header_json, claims_json) =
            super::decode_unverified(raw).ok_or(IdTokenError::Malformed)?;
        Ok(Self {
            claims,
            header_json,
            claims_json,
        })
    }
}
