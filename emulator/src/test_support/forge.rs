//! A forger's kit for the tests of token validators (the server's ID-token check, the Weather
//! API's bearer check, the emulator's own assertion checks): key pairs and certificates made on
//! the spot, and tokens built part by part, so a test can hand a validator exactly the
//! malformed, tampered or foreign-signed token an attacker would. One RSA implementation for
//! all of them: the one jsonwebtoken uses.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use sha2::Digest as _;

/// Base64url without padding, as every JWT part is encoded.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
///
/// # Panics
/// On input that is not base64url.
pub fn unb64url(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).expect("base64url")
}

/// A compact token's header, unverified.
///
/// # Panics
/// When the token has no decodable JSON header.
pub fn header_of(token: &str) -> Value {
    part(token, 0)
}

/// A compact token's claims, unverified.
///
/// # Panics
/// When the token has no decodable JSON payload.
pub fn claims_of(token: &str) -> Value {
    part(token, 1)
}

fn part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a compact JWT");
    serde_json::from_slice(&unb64url(part)).expect("a JSON part")
}

/// A token with exactly this header and these claims, signed by `sign` over the usual
/// `header.payload`, or with an empty signature when `sign` is `None`. Nothing is checked
/// or added: that is the point.
pub fn forge(header: &Value, claims: &Value, sign: Option<(&EncodingKey, Algorithm)>) -> String {
    forge_raw(header, claims.to_string().as_bytes(), sign)
}

/// A token whose payload is another compact token (`inner`) instead of claims: the nested
/// JWT (`cty: JWT`) a validator must not unwrap.
pub fn nested(header: &Value, inner: &str, sign: Option<(&EncodingKey, Algorithm)>) -> String {
    forge_raw(header, inner.as_bytes(), sign)
}

fn forge_raw(header: &Value, payload: &[u8], sign: Option<(&EncodingKey, Algorithm)>) -> String {
    let message = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload)
    );
    let signature = match sign {
        Some((key, alg)) => jsonwebtoken::crypto::sign(message.as_bytes(), key, alg)
            .expect("the key signs with this algorithm"),
        None => String::new(),
    };
    format!("{message}.{signature}")
}

/// `token` with `change` applied to its claims, properly re-encoded; its header and signature
/// kept, so only a signature check can catch it.
pub fn tamper(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = claims_of(token);
    change(&mut claims);
    format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// A fresh 2048-bit RSA key pair: its private half to sign with, its public half as a JWK
/// (under `kid`) and as an SPKI PEM (what anyone can download, and what an HS256 confusion
/// attack keys its HMAC with).
pub struct KeyPair {
    /// The private half, for jsonwebtoken.
    pub signing: EncodingKey,
    /// The private half as PKCS#8 PEM, for what reads files (rcgen, the server's settings).
    pub private_pem: String,
    /// The public half as a JWKS lists it.
    pub jwk: Value,
    /// The public half as SPKI PEM.
    pub public_pem: String,
}

impl KeyPair {
    /// # Panics
    /// When the system's random source fails.
    pub fn generate(kid: &str) -> Self {
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("an RSA key");
        let private_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8")
            .to_string();
        let public = key.to_public_key();
        Self {
            signing: EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("a PEM key"),
            private_pem,
            jwk: json!({
                "kty": "RSA", "use": "sig", "kid": kid,
                "n": b64url(&public.n_bytes()), "e": b64url(&public.e_bytes()),
            }),
            public_pem: public.to_public_key_pem(LineEnding::LF).expect("SPKI"),
        }
    }

    /// A token signed RS256 by this key, with `kid` in its header.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.signing).expect("RS256")
    }
}

/// The SPKI PEM of a published RSA JWK (its `n` and `e`).
///
/// # Panics
/// When the JWK has no RSA `n` and `e`.
pub fn public_pem_of(jwk: &Value) -> String {
    let number = |name: &str| {
        rsa::BoxedUint::from_be_slice_vartime(&unb64url(jwk[name].as_str().expect("n and e")))
    };
    rsa::PublicKey::new(number("n"), number("e"))
        .expect("an RSA public key")
        .to_public_key_pem(LineEnding::LF)
        .expect("SPKI")
}

/// A self-signed certificate and its private key: an app's certificate credential
/// (`private_key_jwt`), as registered in `keyCredentials`.
pub struct Certificate {
    /// The certificate's key pair; its private half signs the client assertions.
    pub key: KeyPair,
    /// The certificate as PEM, as an app's settings name it.
    pub pem: String,
    /// The certificate as DER, what the thumbprints hash.
    pub der: Vec<u8>,
}

impl Certificate {
    /// # Panics
    /// When the key or the certificate cannot be made.
    pub fn self_signed(common_name: &str) -> Self {
        let key = KeyPair::generate("certificate");
        let key_pair =
            rcgen::KeyPair::from_pem_and_sign_algo(&key.private_pem, &rcgen::PKCS_RSA_SHA256)
                .expect("rcgen reads the key");
        let cert = rcgen::CertificateParams::new(vec![common_name.to_owned()])
            .expect("a certificate")
            .self_signed(&key_pair)
            .expect("self-signed");
        Self {
            key,
            pem: cert.pem(),
            der: cert.der().to_vec(),
        }
    }

    /// The SHA-1 thumbprint, base64url: the `x5t` header of a client assertion.
    pub fn x5t(&self) -> String {
        b64url(&sha1::Sha1::digest(&self.der))
    }

    /// The SHA-256 thumbprint, base64url: the `x5t#S256` header Microsoft now recommends.
    pub fn x5t_s256(&self) -> String {
        b64url(&sha2::Sha256::digest(&self.der))
    }

    /// The certificate as `keyCredentials[].key` holds it: standard base64 of the DER.
    pub fn key_credential(&self) -> String {
        STANDARD.encode(&self.der)
    }
}
