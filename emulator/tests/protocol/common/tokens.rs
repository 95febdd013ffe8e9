//! Reading token responses and tokens: members, error descriptions, claims and headers without
//! verification, and verification against the published JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use emulator::{RunningEmulator, well_known as wk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde_json::Value;

use super::get_json;

/// The string member `key` of a JSON body; panics with the body when it is not there.
#[track_caller]
pub fn text_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// The access token of a token response.
#[track_caller]
pub fn access_token(body: &Value) -> &str {
    text_of(body, "access_token")
}

/// The ID token of a token response.
#[track_caller]
pub fn id_token(body: &Value) -> &str {
    text_of(body, "id_token")
}

/// The refresh token of a token response.
#[track_caller]
pub fn refresh_token(body: &Value) -> &str {
    text_of(body, "refresh_token")
}

/// The `error_description` of an error response.
#[track_caller]
pub fn description(body: &Value) -> &str {
    text_of(body, "error_description")
}

/// Asserts the error description begins with `prefix`.
#[track_caller]
pub fn assert_description_starts_with(body: &Value, prefix: &str) {
    let d = description(body);
    assert!(d.starts_with(prefix), "expected {prefix:?} first in {d:?}");
}

/// Asserts the error description says `part` somewhere.
#[track_caller]
pub fn assert_description_contains(body: &Value, part: &str) {
    let d = description(body);
    assert!(d.contains(part), "expected {part:?} in {d:?}");
}

/// One base64url JSON part of a JWT (0 the header, 1 the claims), without verification.
fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A token's claims, without verification.
pub fn claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// A token's header.
pub fn header(token: &str) -> Value {
    jwt_part(token, 0)
}

/// The decoded `client_info` of a token response (MSAL's home account: `uid`, `utid`).
pub fn client_info(body: &Value) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(text_of(body, "client_info"))
            .unwrap(),
    )
    .unwrap()
}

/// Asserts that each member of `expected` has the same value in `claims`.
#[track_caller]
pub fn assert_claims(claims: &Value, expected: Value) {
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&claims[k], v, "claim {k} in {claims}");
    }
}

/// Asserts a token's header names its key by `x5t` as by `kid`, as Entra's v1 headers do.
#[track_caller]
pub fn assert_x5t_is_kid(token: &str) {
    let h = header(token);
    assert!(h["x5t"].is_string(), "{h}");
    assert_eq!(h["x5t"], h["kid"], "{h}");
}

/// The issuer of the built-in tenant's v2 tokens.
pub fn v2_issuer(emu: &RunningEmulator) -> String {
    format!("{}/{}/v2.0", emu.base_url(), wk::TENANT_ID)
}

/// The issuer of the built-in tenant's v1 tokens.
pub const V1_ISSUER: &str = "https://sts.windows.net/3dac8762-d1be-44f2-861a-a7e2aafdfc78/";

/// The issuer of v1 tokens of `tenant`.
pub fn v1_issuer_of(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// The built-in tenant's JWKS URL.
pub fn jwks_url(emu: &RunningEmulator) -> String {
    format!("{}/discovery/v2.0/keys", emu.authority(wk::TENANT_ID))
}

/// The published signing keys.
pub async fn jwks(emu: &RunningEmulator) -> JwkSet {
    serde_json::from_value(get_json(jwks_url(emu)).await).unwrap()
}

/// Verifies a token with jsonwebtoken against the published JWKS.
pub async fn verify(
    emu: &RunningEmulator,
    token: &str,
    aud: &str,
    iss: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let set = jwks(emu).await;
    let header = jsonwebtoken::decode_header(token)?;
    let jwk = set
        .find(header.kid.as_deref().unwrap_or_default())
        .expect("kid published");
    let key = DecodingKey::from_jwk(jwk)?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[aud]);
    v.set_issuer(&[iss]);
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims)
}

/// The claims of a v2 token for `aud` from the built-in tenant, verified.
pub async fn verified_v2(emu: &RunningEmulator, token: &str, aud: &str) -> Value {
    verify(emu, token, aud, &v2_issuer(emu)).await.unwrap()
}

/// The claims of a v1 token for `aud` from the built-in tenant, verified.
pub async fn verified_v1(emu: &RunningEmulator, token: &str, aud: &str) -> Value {
    verify(emu, token, aud, V1_ISSUER).await.unwrap()
}
