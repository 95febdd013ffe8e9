//! Shared test helpers: start an emulator on a free loopback port, a client that keeps cookies
//! and doesn't follow redirects, token requests, and JWKS verification with jsonwebtoken.
#![allow(dead_code)]

use emulator::{Emulator, RunningEmulator, World, well_known as wk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde_json::Value;

pub async fn start() -> RunningEmulator {
    start_with(World::well_known()).await
}

pub async fn start_with(world: World) -> RunningEmulator {
    Emulator::builder()
        .world(world)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

pub fn token_url(emu: &RunningEmulator) -> String {
    format!("{}/oauth2/v2.0/token", emu.authority(wk::TENANT_ID))
}

/// POSTs a form to the token endpoint; returns (status, body).
pub async fn token(emu: &RunningEmulator, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .post(token_url(emu))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

pub async fn password(emu: &RunningEmulator, upn: &str, scope: &str) -> (u16, Value) {
    token(
        emu,
        &[
            ("grant_type", "password"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("username", upn),
            ("password", wk::USER_PASSWORD),
            ("scope", scope),
            ("client_info", "1"),
        ],
    )
    .await
}

/// A user token for the web app's own API (the right OBO assertion).
pub async fn user_token(emu: &RunningEmulator, upn: &str) -> String {
    let (s, b) = password(
        emu,
        upn,
        &format!("{} openid profile offline_access", wk::WEB_APP_SCOPE),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

pub async fn obo(emu: &RunningEmulator, assertion: &str, scope: &str) -> (u16, Value) {
    token(
        emu,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("assertion", assertion),
            ("requested_token_use", "on_behalf_of"),
            ("scope", scope),
            ("client_info", "1"),
        ],
    )
    .await
}

/// Asserts an Entra-shaped error with this code.
pub fn assert_aadsts(status: u16, body: &Value, http: u16, error: &str, code: u64) {
    assert_eq!(status, http, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0].as_u64(), Some(code), "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(
        d.contains("\r\nTrace ID: ")
            && d.contains("\r\nCorrelation ID: ")
            && d.contains("\r\nTimestamp: ")
    );
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[k].is_string(), "{k} missing in {body}");
    }
}

pub async fn jwks(emu: &RunningEmulator) -> JwkSet {
    let url = format!("{}/discovery/v2.0/keys", emu.authority(wk::TENANT_ID));
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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

/// Claims without verification.
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

pub fn header(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

pub fn v2_issuer(emu: &RunningEmulator) -> String {
    format!("{}/{}/v2.0", emu.base_url(), wk::TENANT_ID)
}

pub const V1_ISSUER: &str = "https://sts.windows.net/3dac8762-d1be-44f2-861a-a7e2aafdfc78/";
