//! The client side of Microsoft Entra ID: discovery, signing keys, the authorization code
//! flow, refresh and On-Behalf-Of, and the one error type all of them return.

mod app_only;
pub mod client;
mod error;
mod id_token;
mod metadata;
mod obo;
pub(crate) mod traced;

pub use client::{AuthorizationStart, CodeRedemptionError, EntraClient, SignInRequest, TokenGrant};
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

#[cfg(test)]
mod properties {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::decode_unverified;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn decoding_never_panics(
            raw in prop_oneof![
                any::<String>(),
                "(eyJ)?[A-Za-z0-9_=+/-]{0,40}(\\.[A-Za-z0-9_=+/-]{0,40}){0,4}",
            ]
        ) {
            let _ = decode_unverified(&raw);
        }

        #[test]
        fn any_json_header_and_payload_decode_back(
            header in prop::collection::btree_map("[a-z]{1,5}", any::<String>(), 0..4),
            claims in prop::collection::btree_map("[a-z]{1,5}", any::<i64>(), 0..4),
            signature in "[A-Za-z0-9_-]{0,20}",
        ) {
            let (h, c) = (serde_json::json!(header), serde_json::json!(claims));
            let raw = format!("{}.{}.{signature}", b64(&h.to_string()), b64(&c.to_string()));
            prop_assert_eq!(decode_unverified(&raw), Some((h, c)));
        }
    }
}
