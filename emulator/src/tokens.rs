//! Token minting and verification (Microsoft Learn: learn.microsoft.com/entra/identity-platform/access-tokens, id-tokens): RS256 JWTs in v1 or v2 access-token format,
//! v2 ID tokens, and Microsoft Graph tokens carrying a header `nonce`.
//!
//! A Graph token is signed over a header whose `nonce` was replaced by base64url(SHA-256(nonce));
//! the published header holds the plain nonce, so a standard JWT library can't verify it (as with
//! the real ones). Only [`verify`] with `graph = true` (the emulator's Graph slice) undoes that.
//!
//! User access tokens carry the sign-in facts (methods, time) and the instant they were issued
//! in their opaque `aio` claim ([`aio`], [`read_aio`]): v2 access tokens have no `amr` (it is a
//! v1 claim), yet On-Behalf-Of must still know whether the user did MFA, and a revocation must
//! tell tokens issued a moment before it from those issued a moment after, in the same second
//! of `iat`. Only the emulator reads it back, from a verified token; clients must treat it as
//! opaque, as they must Entra's.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::{
    keys::{KeyRing, SigningKey, random_bytes},
    sign_in::AuthFacts,
};

/// What a token's header carries besides `typ`, `alg` and `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Nothing more: v2 access tokens and ID tokens.
    V2,
    /// `x5t` too, as v1 access tokens have it.
    V1,
    /// A v1 header with Graph's `nonce`: the signature covers the nonce's hash, so nobody but
    /// Graph can verify the token.
    Graph,
}

impl Header {
    /// The header of an access token of this version, for Graph or another resource.
    pub fn access(v2: bool, graph: bool) -> Self {
        match (graph, v2) {
            (true, _) => Self::Graph,
            (false, true) => Self::V2,
            (false, false) => Self::V1,
        }
    }
}

/// Signs `claims` with `key`, with the `header` of its kind of token.
pub fn sign(key: &SigningKey, claims: &Value, header_kind: Header) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    header.insert("alg".into(), json!("RS256"));
    header.insert("kid".into(), json!(key.kid()));
    if header_kind != Header::V2 {
        header.insert("x5t".into(), json!(key.kid()));
    }
    let payload = b64_json(claims);
    if header_kind == Header::Graph {
        let nonce = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let mut signing = header.clone();
        signing.insert("nonce".into(), json!(hash_nonce(&nonce)));
        header.insert("nonce".into(), json!(nonce));
        let msg = format!("{}.{payload}", b64_json(&Value::Object(signing)));
        let sig = rs256(key, msg.as_bytes());
        format!("{}.{payload}.{sig}", b64_json(&Value::Object(header)))
    } else {
        let msg = format!("{}.{payload}", b64_json(&Value::Object(header)));
        let sig = rs256(key, msg.as_bytes());
        format!("{msg}.{sig}")
    }
}

fn rs256(key: &SigningKey, msg: &[u8]) -> String {
    let mut sig = vec![0u8; key.ring.public().modulus_len()];
    match key.ring.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        msg,
        &mut sig,
    ) {
        Ok(()) => URL_SAFE_NO_PAD.encode(sig),
        Err(_) => jsonwebtoken::crypto::sign(msg, &key.encoding, Algorithm::RS256)
            .expect("RS256 signing with a valid RSA key cannot fail"),
    }
}

fn hash_nonce(nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(nonce.as_bytes()))
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap_or_default())
}

/// An opaque random string (base64url of `n` bytes).
pub fn opaque(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("OS random generator");
    URL_SAFE_NO_PAD.encode(b)
}

/// The version tag of the emulator's `aio` values.
const AIO_VERSION: &str = "E1";

/// The sign-in facts an `aio` value carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AioFacts {
    /// Unix time of sign-in.
    #[serde(rename = "t")]
    pub auth_time: i64,
    /// Authentication methods (`pwd`, `mfa`).
    #[serde(rename = "m", default)]
    pub amr: Vec<String>,
    /// When the token was issued, in Unix milliseconds.
    #[serde(rename = "i", default)]
    pub issued_ms: i64,
}

/// An opaque `aio` value carrying `facts` and the issue instant: `E1.<random>.<base64url
/// facts>`. Tokens are signed, so the facts can't be forged; the random part keeps values
/// unique, like Entra's.
pub fn aio(facts: &AuthFacts, issued_ms: i64) -> String {
    let f = AioFacts {
        auth_time: facts.auth_time,
        amr: facts.amr.clone(),
        issued_ms,
    };
    format!(
        "{AIO_VERSION}.{}.{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<12>()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&f).unwrap_or_default())
    )
}

/// The facts of an `aio` value made by [`aio`]; `None` for anything else (e.g. the random
/// `aio` of app-only tokens).
pub fn read_aio(aio: &str) -> Option<AioFacts> {
    let mut parts = aio.split('.');
    if parts.next() != Some(AIO_VERSION) {
        return None;
    }
    let facts = parts.nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(facts).ok()?).ok()
}

/// When a verified token was issued, in Unix milliseconds: the instant in its `aio` when the
/// emulator made it, else the start of its `iat` second.
pub fn issued_ms(claims: &Value) -> i64 {
    claims["aio"]
        .as_str()
        .and_then(read_aio)
        .map(|f| f.issued_ms)
        .filter(|ms| *ms > 0)
        .unwrap_or_else(|| claims["iat"].as_i64().unwrap_or(0) * 1000)
}

/// The `login_hint` optional claim: opaque to clients, stable per user record (object id and
/// tenant), and understood by `/authorize` (`login_hint`) and the logout endpoint
/// (`logout_hint`).
pub fn login_hint(oid: &str, tid: &str) -> String {
    format!("O.{}", URL_SAFE_NO_PAD.encode(format!("{oid}@{tid}")))
}

/// The object id and tenant id a [`login_hint`] value names.
pub fn parse_login_hint(hint: &str) -> Option<(String, String)> {
    let b = URL_SAFE_NO_PAD.decode(hint.strip_prefix("O.")?).ok()?;
    let (oid, tid) = std::str::from_utf8(&b).ok()?.split_once('@')?;
    Some((oid.to_string(), tid.to_string()))
}

/// Why a token didn't verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWT.
    #[error("malformed token")]
    Malformed,
    /// No published key has this `kid`.
    #[error("key not found: {0}")]
    KeyNotFound(String),
    /// The signature doesn't match.
    #[error("signature mismatch")]
    BadSignature,
}

/// A decoded (not yet verified) token.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The JOSE header (`alg`, `kid`, and Graph's `nonce`).
    pub header: Value,
    /// The payload, unverified until the caller checks the signature.
    pub claims: Value,
    parts: [String; 3],
}

/// Splits and decodes a compact JWT without checking anything.
///
/// # Errors
/// [`VerifyError::Malformed`].
pub fn decode(token: &str) -> Result<Decoded, VerifyError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(VerifyError::Malformed);
    }
    let json = |s: &str| -> Result<Value, VerifyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| VerifyError::Malformed)?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)?;
        v.is_object().then_some(v).ok_or(VerifyError::Malformed)
    };
    Ok(Decoded {
        header: json(parts[0])?,
        claims: json(parts[1])?,
        parts: [parts[0].into(), parts[1].into(), parts[2].into()],
    })
}

/// Verifies a token's RS256 signature against the published keys. With `graph`, a header
/// `nonce` is hashed first (only Microsoft Graph does that).
///
/// # Errors
/// [`VerifyError`] says why.
pub fn verify(token: &str, keys: &KeyRing, graph: bool) -> Result<Decoded, VerifyError> {
    let d = decode(token)?;
    let kid = d.header["kid"].as_str().unwrap_or_default().to_string();
    if d.header["alg"] != "RS256" {
        return Err(VerifyError::BadSignature);
    }
    let key = keys.get(&kid).ok_or(VerifyError::KeyNotFound(kid))?;
    let header_part = match (graph, d.header["nonce"].as_str()) {
        (true, Some(nonce)) => {
            let mut h = d.header.clone();
            h["nonce"] = json!(hash_nonce(nonce));
            b64_json(&h)
        }
        _ => d.parts[0].clone(),
    };
    let msg = format!("{header_part}.{}", d.parts[1]);
    let sig = URL_SAFE_NO_PAD
        .decode(d.parts[2].trim_end_matches('='))
        .map_err(|_| VerifyError::BadSignature)?;
    key.public
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            msg.as_bytes(),
            &sig,
        )
        .map(|()| d)
        .map_err(|_| VerifyError::BadSignature)
}

/// `client_info`: base64url of `{"uid": oid, "utid": tid}`.
pub fn client_info(oid: &str, tid: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "uid": oid, "utid": tid }).to_string())
}

/// A pairwise `sub`: stable per (user, application), 43 characters.
pub fn pairwise_sub(oid: &str, app_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(format!("{oid}|{app_id}").as_bytes()))
}

/// A deterministic GUID derived from text (service principal ids and the like).
pub fn derived_guid(text: &str) -> String {
    let h = sha2::Sha256::digest(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_tokens_verify_only_in_graph_mode() {
        let ring = KeyRing::load_or_create(None).unwrap();
        let claims = json!({"aud": "https://graph.microsoft.com", "exp": 1});
        let t = sign(ring.current(), &claims, Header::Graph);
        let d = decode(&t).unwrap();
        assert!(d.header["nonce"].is_string());
        assert_eq!(d.header["x5t"], d.header["kid"]);
        assert_eq!(
            verify(&t, &ring, false).unwrap_err(),
            VerifyError::BadSignature
        );
        assert!(verify(&t, &ring, true).is_ok());
        let plain = sign(ring.current(), &claims, Header::V2);
        assert!(verify(&plain, &ring, false).is_ok());
        let mut tampered = plain.clone();
        tampered.push('A');
        assert!(verify(&tampered, &ring, false).is_err());
        assert_eq!(pairwise_sub("a", "b").len(), 43);
    }

    #[test]
    fn aio_and_login_hint_round_trip() {
        let facts = AuthFacts {
            auth_time: 42,
            amr: vec!["pwd".into(), "mfa".into()],
            sid: "s".into(),
        };
        let a = aio(&facts, 42_123);
        assert_ne!(a, aio(&facts, 42_123), "unique per token");
        let back = read_aio(&a).unwrap();
        assert_eq!(
            (back.auth_time, back.amr, back.issued_ms),
            (42, facts.amr, 42_123)
        );
        assert_eq!(read_aio(&opaque(24)), None);
        let h = login_hint("oid-1", "tid-2");
        assert_eq!(parse_login_hint(&h), Some(("oid-1".into(), "tid-2".into())));
        assert_eq!(parse_login_hint("AdeleV@contoso.onmicrosoft.com"), None);
    }
}
