//! Reading a claims challenge: an API's (or Microsoft Graph's) 401 with
//! `WWW-Authenticate: Bearer error="insufficient_claims", claims="<base64 JSON>"` (Microsoft
//! Learn, "Claims challenges, claims requests and client capabilities"; RFC 6750 §3).
//!
//! Real answers are looser than the grammar: Graph sends `authorization_uri` unquoted
//! (microsoftgraph/msgraph-sdk-dotnet#1416), a header may hold several challenges (`PoP ...,
//! Bearer ...`), and `claims` comes base64 with or without padding, or base64url. All of these
//! are read.

use base64::{
    alphabet,
    engine::{
        DecodePaddingMode,
        general_purpose::{GeneralPurpose, GeneralPurposeConfig},
    },
};
use http::HeaderMap;

use crate::domain::ClaimsRequest;

/// The claims a 401's `WWW-Authenticate` asks for, when it is a claims challenge
/// (`error="insufficient_claims"` with `claims`).
pub fn from_headers(headers: &HeaderMap) -> Option<ClaimsRequest> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(from_header)
}

/// [`from_headers`] of one header value.
pub fn from_header(header: &str) -> Option<ClaimsRequest> {
    challenges(header).into_iter().find_map(|params| {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if get("error") != Some("insufficient_claims") {
            return None;
        }
        decode(get("claims")?)
    })
}

/// Base64 with or without padding: APIs send both.
const INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);

/// The longest `claims` value read (base64): a challenge is a few hundred bytes; a larger one
/// would ride on every exchange and sign-in of the session.
const MAX_CLAIMS_LEN: usize = 4096;

/// The claims request a challenge carries, reduced to what it asks of the access token.
fn decode(encoded: &str) -> Option<ClaimsRequest> {
    if encoded.len() > MAX_CLAIMS_LEN {
        return None;
    }
    use base64::Engine as _;
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE.decode(encoded))
        .ok()?;
    ClaimsRequest::parse(std::str::from_utf8(&bytes).ok()?)
        .ok()?
        .access_token_part()
}

/// The auth-params of each challenge of a `WWW-Authenticate` value, in order.
fn challenges(header: &str) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    let bytes = header.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b',' | b' ' | b'\t') {
            i += 1;
        }
        let name = &header[start..i];
        if name.is_empty() {
            i += 1;
            continue;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            // A scheme (`Bearer`): a new challenge begins.
            out.push(Vec::new());
            continue;
        }
        i += 1; // '='
        let value = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut v = String::new();
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let ch = header[i..].chars().next().unwrap_or('\u{fffd}');
                v.push(ch);
                i += ch.len_utf8();
            }
            i += 1; // closing quote
            v
        } else {
            let v_start = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            header[v_start..i].trim().to_owned()
        };
        if out.is_empty() {
            out.push(Vec::new());
        }
        if let Some(current) = out.last_mut() {
            current.push((name.to_owned(), value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACRS: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

    fn b64(text: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn the_developer_guides_challenge_is_read() {
        let header = format!(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="8e18057c", error="insufficient_claims", claims="{}", cc_type="authcontext""#,
            b64(ACRS)
        );
        let claims = from_header(&header).unwrap();
        assert_eq!(claims.auth_contexts(), ["c1"]);
    }

    /// Graph's Continuous Access Evaluation challenge, as msgraph-sdk-dotnet#1416 quotes it.
    #[test]
    fn graphs_cae_challenge_with_an_unquoted_uri_is_read() {
        let header = r#"Bearer realm="", authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTY1NzgzNDQxNyJ9fX0=", errorDescription="Continuous access evaluation resulted in claims challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp""#;
        let claims = from_header(header).unwrap();
        assert!(claims.as_str().contains("1657834417"), "{claims}");
    }

    #[test]
    fn the_bearer_challenge_is_found_among_several_and_unpadded_claims_read() {
        let unpadded = b64(ACRS).trim_end_matches('=').to_owned();
        let header = format!(
            r#"PoP realm="", nonce="ey==", Bearer realm="", error="insufficient_claims", claims={unpadded}"#
        );
        assert!(from_header(&header).is_some());
    }

    #[test]
    fn only_what_it_asks_of_the_access_token_is_kept_and_a_huge_one_is_refused() {
        let both = b64(
            r#"{"id_token":{"auth_time":{"essential":true}},"access_token":{"acrs":{"value":"c1"}}}"#,
        );
        let kept = from_header(&format!(
            r#"Bearer error="insufficient_claims", claims="{both}""#
        ))
        .unwrap();
        assert_eq!(kept.as_str(), r#"{"access_token":{"acrs":{"value":"c1"}}}"#);
        let id_only = b64(r#"{"id_token":{"auth_time":{"essential":true}}}"#);
        let header = format!(r#"Bearer error="insufficient_claims", claims="{id_only}""#);
        assert_eq!(from_header(&header), None);
        let huge = b64(&format!(
            r#"{{"access_token":{{"x":"{}"}}}}"#,
            "a".repeat(5000)
        ));
        let header = format!(r#"Bearer error="insufficient_claims", claims="{huge}""#);
        assert_eq!(from_header(&header), None);
    }

    #[test]
    fn other_401s_are_no_claims_challenge() {
        for header in [
            r#"Bearer realm="api", error="invalid_token", error_description="expired""#,
            r#"Basic realm="x""#,
            r#"Bearer error="insufficient_claims""#,
            r#"Bearer error="insufficient_claims", claims="not base64!""#,
            "",
            "Bearer ,,, =",
        ] {
            assert_eq!(from_header(header), None, "{header}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_header_is_read_or_refused_without_a_panic(raw in any::<String>()) {
            let _ = super::from_header(&raw);
        }
    }
}
