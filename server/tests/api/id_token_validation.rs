//! ID-token validation against a JWKS served on loopback: every rejection the callback
//! relies on (bad signature, wrong audience, nonce, issuer, tenant, expiry, unknown key), and
//! forged tokens (alg `none`, HS256 keyed with the RSA public key, no or injected `kid`,
//! nested, oversized, no `exp`, an audience array).

use emulator::test_support::forge::{self, KeyPair};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;
use server::entra::{Expectations, IdTokenError, JwksCache, KeyError, VerifiedIdToken};

const TENANT: &str = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
const CLIENT: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
const NONCE: &str = "n-0S6_WzA2Mj";
const KID: &str = "test-kid";

/// The identity provider's key (published), another key (not), and the cache that reads the
/// published set.
struct Keys {
    signing: KeyPair,
    other: KeyPair,
    jwks: JwksCache,
}

async fn keys() -> Keys {
    let signing = KeyPair::generate(KID);
    let body = serde_json::json!({ "keys": [signing.jwk] }).to_string();
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
        other: KeyPair::generate(KID),
        jwks: JwksCache::new(reqwest::Client::new(), uri),
    }
}

fn issuer() -> String {
    format!("https://login.microsoftonline.com/{TENANT}/v2.0")
}

fn claims() -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    serde_json::json!({
        "iss": issuer(), "aud": CLIENT, "tid": TENANT, "oid": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "iat": now, "nbf": now, "exp": now + 3600, "nonce": NONCE, "name": "Adele Vance",
        "preferred_username": crate::common::ADELE, "ver": "2.0",
    })
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

/// A valid ID token but for `change`, signed by the published key.
fn valid_but(keys: &Keys, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    change(c.as_object_mut().unwrap());
    keys.signing.sign(KID, &c)
}

#[tokio::test]
async fn a_valid_id_token_is_verified() {
    let keys = keys().await;
    let token = verify(&keys, &keys.signing.sign(KID, &claims()))
        .await
        .unwrap();
    assert_eq!(token.claims().name.as_deref(), Some("Adele Vance"));
    assert_eq!(token.claims_json()["tid"], TENANT);
}

/// Asserts each token is rejected, for the reason its case expects.
async fn assert_each_rejected(keys: &Keys, cases: Vec<(&str, String, IsExpected)>) {
    for (name, token, expected) in cases {
        match verify(keys, &token).await {
            Ok(_) => panic!("{name}: accepted"),
            Err(err) => assert!(
                expected(&err),
                "{name}: rejected for the wrong reason: {err}"
            ),
        }
    }
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
            keys.other.sign(KID, &claims()),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidSignature")),
        ),
        (
            "wrong audience",
            valid_but(&keys, |c| _ = c.insert("aud".into(), "another-app".into())),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidAudience")),
        ),
        (
            "wrong nonce",
            valid_but(&keys, |c| _ = c.insert("nonce".into(), "replayed".into())),
            |e| matches!(e, IdTokenError::NonceMismatch),
        ),
        (
            "no nonce",
            valid_but(&keys, |c| _ = c.remove("nonce")),
            |e| matches!(e, IdTokenError::NonceMismatch),
        ),
        (
            "expired",
            valid_but(&keys, |c| {
                c.insert("exp".into(), (now - 600).into());
                c.insert("iat".into(), (now - 4000).into());
                c.insert("nbf".into(), (now - 4000).into());
            }),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("ExpiredSignature")),
        ),
        (
            "issued in the future",
            valid_but(&keys, |c| _ = c.insert("iat".into(), (now + 3000).into())),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("future")),
        ),
        (
            "wrong issuer",
            valid_but(&keys, |c| {
                _ = c.insert("iss".into(), "https://evil.example/v2.0".into())
            }),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("issuer")),
        ),
        (
            "wrong tenant",
            valid_but(&keys, |c| {
                _ = c.insert("tid".into(), "00000000-0000-0000-0000-000000000001".into())
            }),
            |e| matches!(e, IdTokenError::WrongTenant { .. }),
        ),
        (
            "unknown key",
            keys.signing.sign("unknown-kid", &claims()),
            |e| matches!(e, IdTokenError::Key(_)),
        ),
        ("not a JWT", "not.a.jwt".to_owned(), |e| {
            matches!(e, IdTokenError::Malformed)
        }),
        (
            "no exp",
            valid_but(&keys, |c| _ = c.remove("exp")),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("exp")),
        ),
        (
            "an audience array with another app",
            valid_but(&keys, |c| {
                _ = c.insert("aud".into(), serde_json::json!([CLIENT, "another-app"]))
            }),
            |e| matches!(e, IdTokenError::Invalid(_)),
        ),
        (
            "an audience array of another app",
            valid_but(&keys, |c| {
                _ = c.insert("aud".into(), serde_json::json!(["another-app"]))
            }),
            // Refused by the claims' type (`aud` is one string, as Entra issues it).
            |e| matches!(e, IdTokenError::Invalid(_)),
        ),
    ];
    assert_each_rejected(&keys, cases).await;
}

#[tokio::test]
async fn forged_id_tokens_are_rejected() {
    let keys = keys().await;
    let header = |alg: &str| serde_json::json!({ "alg": alg, "typ": "JWT", "kid": KID });
    let hmac = EncodingKey::from_secret(keys.signing.public_pem.as_bytes()).unwrap();
    let hmac_keyed =
        |alg: &str| forge::forge(&header(alg), &claims(), Some((&hmac, Algorithm::HS256)));
    let unsigned = |alg: &str| forge::forge(&header(alg), &claims(), None);
    let valid = keys.signing.sign(KID, &claims());
    let valid_signature = valid.rsplit('.').next().unwrap().to_owned();
    let mut no_kid = header("RS256");
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut nested = header("RS256");
    nested["cty"] = "JWT".into();
    let nested = forge::nested(
        &nested,
        &valid,
        Some((&keys.signing.signing, Algorithm::RS256)),
    );
    let mut padded = claims();
    padded["pad"] = "x".repeat(1024 * 1024).into();
    let unsupported: IsExpected =
        |e| matches!(e, IdTokenError::Malformed | IdTokenError::Invalid(_));
    let cases: Vec<(&str, String, IsExpected)> = vec![
        ("alg none, no signature", unsigned("none"), unsupported),
        (
            "alg none, a valid token's signature kept",
            format!("{}{valid_signature}", unsigned("none")),
            unsupported,
        ),
        ("alg None", unsigned("None"), unsupported),
        (
            "HS256 keyed with the RSA public key",
            hmac_keyed("HS256"),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("unexpected algorithm")),
        ),
        (
            "RS256 header, HMAC signature with the RSA public key",
            hmac_keyed("RS256"),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidSignature")),
        ),
        (
            "no kid",
            forge::forge(
                &no_kid,
                &claims(),
                Some((&keys.signing.signing, Algorithm::RS256)),
            ),
            |e| matches!(e, IdTokenError::Key(KeyError::NoKid)),
        ),
        (
            "kid path injection",
            keys.signing.sign("../../x", &claims()),
            |e| matches!(e, IdTokenError::Key(KeyError::Unknown(_))),
        ),
        (
            "a 64 KiB kid",
            keys.signing.sign(&"k".repeat(64 * 1024), &claims()),
            |e| matches!(e, IdTokenError::Key(KeyError::Unknown(_))),
        ),
        (
            "a signed token nested in a signed token",
            nested,
            unsupported,
        ),
        (
            "a 1 MiB forged token",
            keys.other.sign(KID, &padded),
            |e| matches!(e, IdTokenError::Invalid(m) if m.contains("InvalidSignature")),
        ),
    ];
    assert_each_rejected(&keys, cases).await;
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_once_and_not_again_right_away() {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    };
    let (old_key, new_key) = (KeyPair::generate(KID), KeyPair::generate("rolled-kid"));
    let (old_jwk, new_jwk) = (old_key.jwk.clone(), new_key.jwk.clone());
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

    check(old_key.sign(KID, &claims())).await.unwrap();
    check(old_key.sign(KID, &claims())).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "known keys are cached");

    // The provider rolls its keys: a token with the new kid triggers one refetch.
    *published.lock().unwrap() = serde_json::json!({ "keys": [old_jwk, new_jwk] });
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    check(new_key.sign("rolled-kid", &claims())).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // Right after a refetch, another unknown kid is refused without hammering the provider.
    let forged = check(new_key.sign("forged-kid", &claims())).await;
    assert!(matches!(forged, Err(IdTokenError::Key(_))));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
