//! The Weather API against tokens minted by the Entra emulator: the valid call, and each
//! rejection with its status and `WWW-Authenticate` challenge.

use std::{sync::Arc, time::Duration};

use emulator::{Emulator, RunningEmulator, World, well_known as wk};
use reqwest::StatusCode;
use weather_api::{BearerValidator, Forecast, ValidatorConfig};

struct Setup {
    emulator: RunningEmulator,
    api: String,
}

async fn setup(clock_skew: Duration) -> Setup {
    setup_with(clock_skew, false).await
}

async fn setup_with(clock_skew: Duration, require_mfa: bool) -> Setup {
    let emulator = Emulator::builder()
        .world(World::well_known())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = ValidatorConfig {
        authority_host: url::Url::parse(emulator.base_url()).unwrap(),
        tenant_id: wk::TENANT_ID.into(),
        audiences: vec![
            wk::WEATHER_API_CLIENT_ID.into(),
            wk::WEATHER_API_ID_URI.into(),
        ],
        required_scope: "Weather.Read".into(),
        clock_skew,
        require_mfa,
    };
    let validator = BearerValidator::discover(reqwest::Client::new(), config)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        async move { axum::serve(listener, weather_api::router(Arc::new(validator))).await },
    );
    Setup { emulator, api }
}

/// A token by the password grant (the emulator's test-only ROPC) for `scope`.
async fn token(emu: &RunningEmulator, user: &str, scope: &str) -> String {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/oauth2/v2.0/token",
            emu.authority(wk::TENANT_ID)
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("username", user),
            ("password", wk::USER_PASSWORD),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn call(api: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{api}/weatherforecast"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_weather_read_token_gets_five_days_of_forecast() {
    let s = setup(Duration::from_secs(300)).await;
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let response = call(&s.api, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let forecasts: Vec<Forecast> = response.json().await.unwrap();
    assert_eq!(forecasts.len(), 5);
}

#[tokio::test]
async fn each_bad_token_is_refused_with_an_rfc_6750_challenge() {
    let s = setup(Duration::from_secs(300)).await;

    let none = call(&s.api, None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&none), r#"Bearer realm="weather-api""#);

    let garbage = call(&s.api, Some("not-a-token")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&garbage).contains(r#"error="invalid_token""#));

    // A Microsoft Graph token: its header nonce makes the signature unverifiable.
    let graph = token(
        &s.emulator,
        wk::ADELE,
        "https://graph.microsoft.com/User.Read",
    )
    .await;
    let r = call(&s.api, Some(&graph)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&r).contains("invalid_token"), "{}", challenge(&r));

    // A valid token for another API (the web app's own): wrong audience.
    let other = token(
        &s.emulator,
        wk::ADELE,
        &format!("{}/access_as_user", wk::WEB_APP_CLIENT_ID),
    )
    .await;
    let r = call(&s.api, Some(&other)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&r).contains("InvalidAudience"),
        "{}",
        challenge(&r)
    );

    // Tampered claims, re-encoded properly: a well-formed token in every part, so only the
    // signature check can catch it.
    let good = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(call(&s.api, Some(&good)).await.status(), StatusCode::OK);
    for (case, tampered) in [
        (
            "another user's oid",
            tamper(&good, |c| {
                c["oid"] = "00000000-0000-0000-0000-00000000beef".into();
            }),
        ),
        (
            "a wider scp",
            tamper(&good, |c| c["scp"] = "Weather.Read Weather.Write".into()),
        ),
        (
            "the audience of this API on another API's token",
            tamper(&other, |c| c["aud"] = wk::WEATHER_API_CLIENT_ID.into()),
        ),
    ] {
        let claims = claims_of(&tampered);
        assert!(
            claims.is_object(),
            "{case}: the tampered token must stay well-formed"
        );
        let r = call(&s.api, Some(&tampered)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(
            challenge(&r).contains("InvalidSignature"),
            "{case}: {}",
            challenge(&r)
        );
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(part: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

/// A compact token's claims, unverified.
fn claims_of(token: &str) -> serde_json::Value {
    serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap()
}

/// `token` with `change` applied to its claims, properly re-encoded; header and signature
/// kept.
fn tamper(token: &str, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = claims_of(token);
    change(&mut claims);
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// A token with exactly this header and these claims, signed by `sign` (or unsigned).
fn forge(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    sign: Option<(&jsonwebtoken::EncodingKey, jsonwebtoken::Algorithm)>,
) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match sign {
        Some((key, alg)) => jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap(),
        None => String::new(),
    };
    format!("{message}.{signature}")
}

/// The emulator's published key `kid` as an SPKI PEM: what anyone can download.
async fn public_pem(emu: &RunningEmulator, kid: &str) -> String {
    use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
    let discovery: serde_json::Value = reqwest::get(format!(
        "{}/v2.0/.well-known/openid-configuration",
        emu.authority(wk::TENANT_ID)
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let jwks: serde_json::Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("{kid} not in {jwks}"));
    let number = |name: &str| rsa::BigUint::from_bytes_be(&unb64(jwk[name].as_str().unwrap()));
    rsa::RsaPublicKey::new(number("n"), number("e"))
        .unwrap()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

/// An attacker's own RSA key: its private half for signing, its public half as a JWK.
fn attacker_key() -> (jsonwebtoken::EncodingKey, serde_json::Value) {
    use rsa::{pkcs1::EncodeRsaPrivateKey as _, traits::PublicKeyParts as _};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let jwk = serde_json::json!({
        "kty": "RSA", "use": "sig", "kid": "attacker",
        "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
    });
    let pem = key.to_pkcs1_pem(Default::default()).unwrap();
    (
        jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        jwk,
    )
}

#[tokio::test]
async fn forged_tokens_are_refused_with_an_invalid_token_challenge() {
    use jsonwebtoken::{Algorithm, EncodingKey};
    let s = setup(Duration::from_secs(300)).await;
    let valid = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(call(&s.api, Some(&valid)).await.status(), StatusCode::OK);
    let kid = jsonwebtoken::decode_header(&valid).unwrap().kid.unwrap();
    let claims = claims_of(&valid);
    let signature = valid.rsplit('.').next().unwrap().to_owned();
    let pem = public_pem(&s.emulator, &kid).await;
    let hmac = EncodingKey::from_secret(pem.as_bytes()).unwrap();
    let (attacker, attacker_jwk) = attacker_key();
    let header = |alg: &str, kid: Option<&str>| {
        let mut h = serde_json::json!({ "alg": alg, "typ": "JWT" });
        if let Some(kid) = kid {
            h["kid"] = kid.into();
        }
        h
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut expired = claims.clone();
    expired["exp"] = (now - 3600).into();
    expired["nbf"] = (now - 7200).into();
    expired["iat"] = (now - 7200).into();
    let mut oversized = claims.clone();
    oversized["pad"] = "x".repeat(200 * 1024).into();
    let mut embedded = header("RS256", Some("attacker"));
    embedded["jwk"] = attacker_jwk;
    let mut jku = header("RS256", Some("attacker"));
    jku["jku"] = "http://127.0.0.1:9/keys".into();
    let mut nested = header("RS256", Some(&kid));
    nested["cty"] = "JWT".into();
    let nested_payload = format!(
        "{}.{}",
        b64(nested.to_string().as_bytes()),
        b64(valid.as_bytes())
    );

    // (case, token, what the challenge names)
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signed by another key under the real kid",
            forge(
                &header("RS256", Some(&kid)),
                &claims,
                Some((&attacker, Algorithm::RS256)),
            ),
            "InvalidSignature",
        ),
        (
            "expired and forged",
            forge(
                &header("RS256", Some(&kid)),
                &expired,
                Some((&attacker, Algorithm::RS256)),
            ),
            "invalid_token",
        ),
        (
            "alg none",
            forge(&header("none", Some(&kid)), &claims, None),
            "not a JWT",
        ),
        (
            "alg none with the real signature kept",
            format!(
                "{}{signature}",
                forge(&header("none", Some(&kid)), &claims, None)
            ),
            "not a JWT",
        ),
        (
            "alg None",
            forge(&header("None", Some(&kid)), &claims, None),
            "not a JWT",
        ),
        (
            "HS256 keyed with the API's RSA public key",
            forge(
                &header("HS256", Some(&kid)),
                &claims,
                Some((&hmac, Algorithm::HS256)),
            ),
            "unexpected algorithm",
        ),
        (
            "RS256 header over an HMAC with the public key",
            forge(
                &header("RS256", Some(&kid)),
                &claims,
                Some((&hmac, Algorithm::HS256)),
            ),
            "InvalidSignature",
        ),
        (
            "PS256 by another key under the real kid",
            forge(
                &header("PS256", Some(&kid)),
                &claims,
                Some((&attacker, Algorithm::PS256)),
            ),
            "unexpected algorithm",
        ),
        (
            "no kid",
            forge(
                &header("RS256", None),
                &claims,
                Some((&attacker, Algorithm::RS256)),
            ),
            "no `kid`",
        ),
        (
            "kid path injection",
            forge(
                &header("RS256", Some("../../x")),
                &claims,
                Some((&attacker, Algorithm::RS256)),
            ),
            "no signing key",
        ),
        (
            "kid with CR LF",
            forge(
                &header("RS256", Some("x\r\nSet-Cookie: a=b")),
                &claims,
                Some((&attacker, Algorithm::RS256)),
            ),
            "no signing key",
        ),
        (
            "an 8 KiB kid",
            forge(
                &header("RS256", Some(&"k".repeat(8 * 1024))),
                &claims,
                Some((&attacker, Algorithm::RS256)),
            ),
            "no signing key",
        ),
        (
            "the attacker's key embedded as jwk",
            forge(&embedded, &claims, Some((&attacker, Algorithm::RS256))),
            "no signing key",
        ),
        (
            "the attacker's key set named by jku",
            forge(&jku, &claims, Some((&attacker, Algorithm::RS256))),
            "no signing key",
        ),
        (
            "a valid token nested in a forged one",
            format!(
                "{nested_payload}.{}",
                jsonwebtoken::crypto::sign(nested_payload.as_bytes(), &attacker, Algorithm::RS256)
                    .unwrap()
            ),
            "invalid_token",
        ),
        (
            "a valid token nested, with its own signature",
            format!("{nested_payload}.{signature}"),
            "invalid_token",
        ),
        (
            "a 200 KiB forged token",
            forge(
                &header("RS256", Some(&kid)),
                &oversized,
                Some((&attacker, Algorithm::RS256)),
            ),
            "InvalidSignature",
        ),
        (
            "the valid token without its signature",
            valid[..valid.rfind('.').unwrap() + 1].to_owned(),
            "invalid_token",
        ),
        (
            "two parts",
            valid[..valid.rfind('.').unwrap()].to_owned(),
            "invalid_token",
        ),
        (
            "five parts (JWE-shaped)",
            format!("{valid}.{signature}.{signature}"),
            "invalid_token",
        ),
    ];
    for (case, token, named) in cases {
        let r = call(&s.api, Some(&token)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(r.headers().get("set-cookie").is_none(), "{case}");
        let header = challenge(&r);
        assert!(
            header.contains(r#"error="invalid_token""#),
            "{case}: {header}"
        );
        assert!(header.contains(named), "{case}: {header}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&token[..40.min(token.len())]),
            "{case}: echoed"
        );
    }

    // A token past the server's header limits: refused before validation.
    let huge = forge(
        &header("RS256", Some(&kid)),
        &serde_json::json!({ "pad": "x".repeat(1024 * 1024) }),
        Some((&attacker, Algorithm::RS256)),
    );
    match reqwest::Client::new()
        .get(format!("{}/weatherforecast", s.api))
        .bearer_auth(&huge)
        .send()
        .await
    {
        Ok(r) => assert!(
            matches!(r.status().as_u16(), 401 | 431),
            "a 1 MiB token: {}",
            r.status()
        ),
        // The server may close the connection while the head is still being sent.
        Err(err) => assert!(!err.is_timeout(), "{err}"),
    }
}

#[tokio::test]
async fn an_app_only_token_without_the_scope_is_forbidden() {
    let s = setup(Duration::from_secs(300)).await;
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/oauth2/v2.0/token",
            s.emulator.authority(wk::TENANT_ID)
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", &format!("{}/.default", wk::WEATHER_API_ID_URI)),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = call(&s.api, body["access_token"].as_str()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(challenge(&r).contains(r#"error="insufficient_scope", scope="Weather.Read""#));
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let s = setup(Duration::ZERO).await;
    s.emulator.set_lifetimes(emulator::LifetimesUpdate {
        access_token: Some(1),
        ..Default::default()
    });
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = call(&s.api, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&r).contains("ExpiredSignature"),
        "{}",
        challenge(&r)
    );
}

#[tokio::test]
async fn after_a_key_rollover_new_tokens_are_accepted_by_refetching_the_keys() {
    let s = setup(Duration::from_secs(300)).await;
    let before = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(call(&s.api, Some(&before)).await.status(), StatusCode::OK);
    s.emulator.roll_keys(Duration::from_secs(3600)).unwrap();
    // The validator's key set is older than its refetch interval by now.
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let after = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_ne!(
        jsonwebtoken::decode_header(&before).unwrap().kid,
        jsonwebtoken::decode_header(&after).unwrap().kid
    );
    assert_eq!(call(&s.api, Some(&after)).await.status(), StatusCode::OK);
    // The old key is kept for its grace period: earlier tokens still work.
    assert_eq!(call(&s.api, Some(&before)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_api_that_requires_mfa_answers_an_insufficient_claims_challenge() {
    use base64::Engine as _;
    let s = setup_with(Duration::from_secs(300), true).await;
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let r = call(&s.api, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(&r);
    assert!(
        header.contains(r#"error="insufficient_claims""#),
        "{header}"
    );
    let encoded = header
        .split("claims=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(
        decoded,
        weather_api::bearer::MFA_CLAIMS_CHALLENGE.as_bytes()
    );
}
