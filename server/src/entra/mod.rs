//! The client side of Microsoft Entra ID: discovery, signing keys, the authorization code
//! flow, refresh and On-Behalf-Of, and the one error type all of them return.

pub mod client;
mod error;
mod id_token;
mod metadata;
mod obo;

pub use client::{AuthorizationStart, CodeRedemptionError, EntraClient, TokenGrant};
pub(crate) use error::retry_after;
pub use error::{EntraErrorBody, IdpError};
pub use id_token::{Expectations, IdTokenClaims, IdTokenError, VerifiedIdToken};
pub use jwks::{JwksCache, KeyError};
pub use metadata::ProviderMetadata;
pub use obo::OboToken;

/// Decodes a compact JWT's header and payload without checking anything, for display and
/// for reading the claims of tokens this app is not the audience of.
pub fn decode_unverified(raw: &str) -> Option<(serde_json::Value, serde_json::Value)> {
    use base64::Engine as _;
    let mut parts = raw.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    let decode = |part: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice::<serde_json::Value>(&bytes).ok()
    };
    Some((decode(header)?, decode(payload)?))
}
