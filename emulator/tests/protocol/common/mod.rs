//! Shared test helpers: start an emulator on a free loopback port, a client that keeps cookies
//! and doesn't follow redirects, token requests, the sign-in pages (authorization code with
//! PKCE), and JWKS verification with jsonwebtoken.
#![allow(dead_code)]

use base64::Engine;
use emulator::{Emulator, RunningEmulator, World, well_known as wk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::{Client, Response};
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
    token_at(emu, wk::TENANT_ID, form).await
}

/// POSTs a form to the token endpoint of tenant segment `seg` (GUID, domain or alias).
pub async fn token_at(emu: &RunningEmulator, seg: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .post(format!("{}/oauth2/v2.0/token", emu.authority(seg)))
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
    obo_at(emu, wk::TENANT_ID, assertion, scope).await
}

/// OBO on the token endpoint of tenant segment `seg`.
pub async fn obo_at(
    emu: &RunningEmulator,
    seg: &str,
    assertion: &str,
    scope: &str,
) -> (u16, Value) {
    token_at(
        emu,
        seg,
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

/// A refresh-token redemption by the web app; `scope` `None` leaves the parameter out.
pub async fn refresh(emu: &RunningEmulator, rt: &str, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", wk::WEB_APP_CLIENT_ID),
        ("client_secret", wk::WEB_APP_SECRET),
        ("refresh_token", rt),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    token(emu, &form).await
}

pub const REDIRECT: &str = "http://localhost:3000/auth/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(v: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(v.as_bytes()))
}

/// The web app's `/authorize` URL on the built-in tenant; `extra` overrides or adds parameters.
pub fn authorize_url(emu: &RunningEmulator, extra: &[(&str, &str)]) -> String {
    authorize_url_at(emu, wk::TENANT_ID, extra)
}

/// [`authorize_url`] on tenant segment `seg`.
pub fn authorize_url_at(emu: &RunningEmulator, seg: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    let defaults = [
        ("client_id", wk::WEB_APP_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge_method", "S256"),
        ("client_info", "1"),
    ];
    for (k, v) in defaults {
        if !extra.iter().any(|(ek, _)| *ek == k) {
            q.append_pair(k, v);
        }
    }
    if !extra.iter().any(|(k, _)| *k == "scope") {
        q.append_pair(
            "scope",
            &format!("{} openid profile offline_access", wk::WEB_APP_SCOPE),
        );
    }
    if !extra.iter().any(|(k, _)| *k == "code_challenge") {
        q.append_pair("code_challenge", &challenge(VERIFIER));
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!(
        "{}/oauth2/v2.0/authorize?{}",
        emu.authority(seg),
        q.finish()
    )
}

pub use emulator::test_support::hidden;

/// Submits one sign-in page.
pub async fn step(
    c: &Client,
    emu: &RunningEmulator,
    txn: &str,
    step: &str,
    fields: &[(&str, &str)],
) -> Response {
    let mut form = vec![("_txn", txn), ("_step", step)];
    form.extend_from_slice(fields);
    c.post(format!(
        "{}/oauth2/v2.0/authorize",
        emu.authority(wk::TENANT_ID)
    ))
    .form(&form)
    .send()
    .await
    .unwrap()
}

/// Username then password; returns the final response (redirect, MFA or consent page).
pub async fn sign_in(
    c: &Client,
    emu: &RunningEmulator,
    upn: &str,
    extra: &[(&str, &str)],
) -> Response {
    sign_in_at(c, emu, wk::TENANT_ID, upn, extra).await
}

/// [`sign_in`] on tenant segment `seg` (e.g. `common`).
pub async fn sign_in_at(
    c: &Client,
    emu: &RunningEmulator,
    seg: &str,
    upn: &str,
    extra: &[(&str, &str)],
) -> Response {
    let page = c
        .get(authorize_url_at(emu, seg, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<label for=\"username\">"), "{html}");
    let txn = hidden(&html, "_txn");
    let html = step(c, emu, &txn, "username", &[("username", upn)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<label for=\"password\">Password</label>"),
        "{html}"
    );
    step(
        c,
        emu,
        &txn,
        "password",
        &[("username", upn), ("password", wk::USER_PASSWORD)],
    )
    .await
}

/// The query of a redirect to the app.
pub fn location_params(r: &Response) -> std::collections::HashMap<String, String> {
    assert_eq!(r.status(), 302, "expected a redirect");
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with("http://localhost:"), "{loc}");
    let u = url::Url::parse(loc).unwrap();
    u.query_pairs().into_owned().collect()
}

/// Redeems a code for the web app's own scope (the GUID form) plus OIDC scopes.
pub async fn redeem(
    emu: &RunningEmulator,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> (u16, Value) {
    token(
        emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            (
                "scope",
                &format!("{} openid profile offline_access", wk::WEB_APP_SCOPE),
            ),
            ("client_info", "1"),
        ],
    )
    .await
}

/// Redeems a code (from [`REDIRECT`] with [`VERIFIER`]) on tenant segment `seg`, asking for
/// `scope`.
pub async fn redeem_at(emu: &RunningEmulator, seg: &str, code: &str, scope: &str) -> (u16, Value) {
    token_at(
        emu,
        seg,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("scope", scope),
            ("client_info", "1"),
        ],
    )
    .await
}

/// Signs `upn` in through the pages on `seg` asking for `scope` and redeems the code there.
pub async fn sign_in_and_redeem(
    emu: &RunningEmulator,
    seg: &str,
    upn: &str,
    scope: &str,
) -> (u16, Value) {
    let c = client();
    let q = location_params(&sign_in_at(&c, emu, seg, upn, &[("scope", scope)]).await);
    redeem_at(emu, seg, &q["code"], scope).await
}

pub fn v2_issuer(emu: &RunningEmulator) -> String {
    format!("{}/{}/v2.0", emu.base_url(), wk::TENANT_ID)
}

pub const V1_ISSUER: &str = "https://sts.windows.net/3dac8762-d1be-44f2-861a-a7e2aafdfc78/";

/// The built-in world with a certificate credential on the web app (in Contoso); returns the
/// world, the certificate's private key (PKCS#8 PEM) and its `x5t`.
pub fn world_with_web_app_certificate() -> (World, String, String) {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let kp = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cert-client".to_string()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let der = cert.der().to_vec();
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha1::Sha1 as sha1::Digest>::digest(&der));
    let mut world = World::well_known();
    world.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEB_APP_CLIENT_ID)
        .unwrap()
        .key_credentials
        .push(emulator::world::KeyCredential {
            key_id: "k1".into(),
            key: base64::engine::general_purpose::STANDARD.encode(&der),
        });
    (world, pem, x5t)
}

/// A client assertion with these claims, signed RS256 by `pem` with header `x5t`.
pub fn client_assertion(pem: &str, x5t: &str, claims: &Value) -> String {
    let mut h = jsonwebtoken::Header::new(Algorithm::RS256);
    h.x5t = Some(x5t.to_string());
    jsonwebtoken::encode(
        &h,
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}
