//! ID-token validation against a JWKS served on loopback: every rejection the callback
//! relies on (bad signature, wrong audience, nonce, issuer, tenant, expiry, unknown key), and
//! forged tokens (alg `none`, HS256 keyed with the RSA public key, no or injected `kid`,
//! nested, oversized, no `exp`, an audience array).

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::{RsaPrivateKey, pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts};
use server::entra::{Expectations, IdTokenError, JwksCache, KeyError, VerifiedIdToken};

const TENANT: &str = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
const CLIENT: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Keys {
    signing: EncodingKey,
    other: EncodingKey,
    /// The signing key's public half (SPKI PEM), as an attacker would find it.
    public_pem: String,
    jwks: JwksCache,
}

fn keypair() -> (EncodingKey, serde_json::Value) {
    let (_, signing, jwk) = rsa_keypair();
    (signing, jwk)
}

fn rsa_keypair() -> (RsaPrivateKey, EncodingKey, serde_json::Value) {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = serde_json::json!({
        "kty": "RSA", "use": "sig", "kid": "test-kid",
        "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be()),
    });
    let pem = key.to_pkcs1_pem(Default::default()).unwrap();
    let signing = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    (key, signing, jwk)
}

async fn keys() -> Keys {
    let (key, signing, jwk) = rsa_keypair();
    let (other, _) = keypair();
    let public_pem = {
        use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
        rsa::RsaPublicKey::from(&key)
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    let body = serde_json::json!({ "keys": [jwk] }).to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let uri = url::Url::parse(&format!("http://{addr}/keys")).unwrap();
    Keys {
        signing,
        other,
        public_pem,
        jwks: JwksCache::new(reqwest::Client::new(), uri),
    }
}

fn issuer() -> String {
    format!("https://login.microsoftonline.com/{TENANT}/v2.0")
}

fn claims() -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    serde_json::json!({
        "iss": issuer(), "aud": CLIENT, "tid": TENANT, "oid": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "iat": now, "nbf": now, "exp": now + 3600, "nonce": NONCE, "name": "Adele Vance",
        "preferred_username": crate::common::ADELE, "ver": "2.0",
    })
}

fn sign(key: &EncodingKey, claims: &serde_json::Value, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and these claims, signed by `sign` over the usual
/// `header.payload` (or unsigned when `sign` is `None`).
fn forge(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    sign: Option<(&EncodingKey, Algorithm)>,
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

fn expectations() -> Expectations<'static> {
    Expectations {
        issuer: Box::leak(issuer().into_boxed_str()),
        client_id: CLIENT,
        nonce: NONCE,
        tenant_id: Some(TENANT),
    }
}

async fn verify(keys: &Keys, token: &str) -> Result<VerifiedIdToken, IdTokenError> {
    VerifiedIdToken::verify(token, &expectations(), &keys.jwks).await
}

fn with(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut c = claims();
    change(&mut c);
    c
}

#[tokio::test]
async fn a_valid_id_token_is_verified() {
    let keys = keys().await;
    let token = verify(&keys, &sign(&keys.signing, &claims(), "test-kid"))
        .await
        .unwrap();
    assert_eq!(token.claims().name.as_deref(), Some("Adele Vance"));
    assert_eq!(token.claims_json()["tid"], TENANT);
}

/// Whether a rejection is the one a case expects.
type IsExpected = fn(&IdTokenError) -> bool;

#[tokio::test]
async fn each_invalid_id_token_is_rejected_for_its_reason() {
    let keys = keys().await;
    let now = jsonwebtoken::get_current_timestamp();
    let cases: Vec<(&str, String, IsExpected)> = vec![
        (
            "bad signature",
            sign(&keys.other, &claims(), "test-kid"),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidSignature")),
        ),
        (
            "wrong audience",
            sign(
                &keys.signing,
                &with(|c| c["aud"] = "another-app".into()),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidAudience")),
        ),
        (
            "wrong nonce",
            sign(
                &keys.signing,
                &with(|c| c["nonce"] = "replayed".into()),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::NonceMismatch),
        ),
        (
            "no nonce",
            sign(
                &keys.signing,
                &with(|c| {
                    c.as_object_mut().unwrap().remove("nonce");
                }),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::NonceMismatch),
        ),
        (
            "expired",
            sign(
                &keys.signing,
                &with(|c| {
                    c["exp"] = (now - 600).into();
                    c["iat"] = (now - 4000).into();
                    c["nbf"] = (now - 4000).into();
                }),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("ExpiredSignature")),
        ),
        (
            "issued in the future",
            sign(
                &keys.signing,
                &with(|c| {
                    c["iat"] = (now + 3000).into();
                }),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("future")),
        ),
        (
            "wrong issuer",
            sign(
                &keys.signing,
                &with(|c| c["iss"] = "https://evil.example/v2.0".into()),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("issuer")),
        ),
        (
            "wrong tenant",
            sign(
                &keys.signing,
                &with(|c| c["tid"] = "00000000-0000-0000-0000-000000000001".into()),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::WrongTenant { .. }),
        ),
        (
            "unknown key",
            sign(&keys.signing, &claims(), "unknown-kid"),
            |e| matches!(e, IdTokenError::Key(_)),
        ),
        ("not a JWT", "not.a.jwt".to_owned(), |e| {
            matches!(e, IdTokenError::Malformed)
        }),
        (
            "no exp",
            sign(
                &keys.signing,
                &with(|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("exp")),
        ),
        (
            "an audience array with another app",
            sign(
                &keys.signing,
                &with(|c| c["aud"] = serde_json::json!([CLIENT, "another-app"])),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(_)),
        ),
        (
            "an audience array of another app",
            sign(
                &keys.signing,
                &with(|c| c["aud"] = serde_json::json!(["another-app"])),
                "test-kid",
            ),
            // Refused by the claims' type (`aud` is one string, as Entra issues it).
            |e| matches!(e, IdTokenError::Invalid(_)),
        ),
    ];
    for (name, token, expected) in cases {
        match verify(&keys, &token).await {
            Ok(_) => panic!("{name}: accepted"),
            Err(err) => assert!(
                expected(&err),
                "{name}: rejected for the wrong reason: {err}"
            ),
        }
    }
}

#[tokio::test]
async fn forged_id_tokens_are_rejected() {
    let keys = keys().await;
    let header = |alg: &str, kid: Option<&str>| {
        let mut h = serde_json::json!({ "alg": alg, "typ": "JWT" });
        if let Some(kid) = kid {
            h["kid"] = kid.into();
        }
        h
    };
    let hmac = EncodingKey::from_secret(keys.public_pem.as_bytes()).unwrap();
    let valid = sign(&keys.signing, &claims(), "test-kid");
    let valid_signature = valid.rsplit('.').next().unwrap().to_owned();
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    let mut nested = Header::new(Algorithm::RS256);
    nested.kid = Some("test-kid".into());
    nested.cty = Some("JWT".into());
    let nested_message = format!(
        "{}.{}",
        b64(serde_json::to_string(&nested).unwrap().as_bytes()),
        b64(valid.as_bytes())
    );
    let nested_signature =
        jsonwebtoken::crypto::sign(nested_message.as_bytes(), &keys.signing, Algorithm::RS256)
            .unwrap();
    let cases: Vec<(&str, String, IsExpected)> = vec![
        (
            "alg none, no signature",
            forge(&header("none", Some("test-kid")), &claims(), None),
            |e| matches!(e, IdTokenError::Malformed | IdTokenError::Invalid(_)),
        ),
        (
            "alg none, a valid token's signature kept",
            format!(
                "{}.{valid_signature}",
                forge(&header("none", Some("test-kid")), &claims(), None).trim_end_matches('.')
            ),
            |e| matches!(e, IdTokenError::Malformed | IdTokenError::Invalid(_)),
        ),
        (
            "alg None",
            forge(&header("None", Some("test-kid")), &claims(), None),
            |e| matches!(e, IdTokenError::Malformed | IdTokenError::Invalid(_)),
        ),
        (
            "HS256 keyed with the RSA public key",
            forge(
                &header("HS256", Some("test-kid")),
                &claims(),
                Some((&hmac, Algorithm::HS256)),
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("unexpected algorithm")),
        ),
        (
            "RS256 header, HMAC signature with the RSA public key",
            forge(
                &header("RS256", Some("test-kid")),
                &claims(),
                Some((&hmac, Algorithm::HS256)),
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidSignature")),
        ),
        (
            "no kid",
            jsonwebtoken::encode(&no_kid, &claims(), &keys.signing).unwrap(),
            |e| matches!(e, IdTokenError::Key(KeyError::NoKid)),
        ),
        (
            "kid path injection",
            sign(&keys.signing, &claims(), "../../x"),
            |e| matches!(e, IdTokenError::Key(KeyError::Unknown(_))),
        ),
        (
            "a 64 KiB kid",
            sign(&keys.signing, &claims(), &"k".repeat(64 * 1024)),
            |e| matches!(e, IdTokenError::Key(KeyError::Unknown(_))),
        ),
        (
            "a signed token nested in a signed token",
            format!("{nested_message}.{nested_signature}"),
            |e| matches!(e, IdTokenError::Invalid(_) | IdTokenError::Malformed),
        ),
        (
            "a 1 MiB forged token",
            sign(
                &keys.other,
                &with(|c| c["pad"] = "x".repeat(1024 * 1024).into()),
                "test-kid",
            ),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidSignature")),
        ),
    ];
    for (name, token, expected) in cases {
        match verify(&keys, &token).await {
            Ok(_) => panic!("{name}: accepted"),
            Err(err) => assert!(
                expected(&err),
                "{name}: rejected for the wrong reason: {err}"
            ),
        }
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_once_and_not_again_right_away() {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    };
    let (old_key, old_jwk) = keypair();
    let (new_key, mut new_jwk) = keypair();
    new_jwk["kid"] = "rolled-kid".into();
    let published = Arc::new(Mutex::new(serde_json::json!({ "keys": [old_jwk.clone()] })));
    let fetches = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/keys",
        axum::routing::get({
            let (published, fetches) = (published.clone(), fetches.clone());
            move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let body = published.lock().unwrap().to_string();
                async move { ([("content-type", "application/json")], body) }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let jwks = JwksCache::new(
        reqwest::Client::new(),
        url::Url::parse(&format!("http://{addr}/keys")).unwrap(),
    );
    let check = |token: String| {
        let jwks = &jwks;
        async move { VerifiedIdToken::verify(&token, &expectations(), jwks).await }
    };

    check(sign(&old_key, &claims(), "test-kid")).await.unwrap();
    check(sign(&old_key, &claims(), "test-kid")).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "known keys are cached");

    // The provider rolls its keys: a token with the new kid triggers one refetch.
    *published.lock().unwrap() = serde_json::json!({ "keys": [old_jwk, new_jwk] });
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    check(sign(&new_key, &claims(), "rolled-kid"))
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // Right after a refetch, another unknown kid is refused without hammering the provider.
    let forged = check(sign(&new_key, &claims(), "forged-kid")).await;
    assert!(matches!(forged, Err(IdTokenError::Key(_))));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
