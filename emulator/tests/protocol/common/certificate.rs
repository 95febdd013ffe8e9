//! Certificate credentials: a certificate registered on the web app, and client assertions
//! (private_key_jwt) signed with its key.

use emulator::{World, test_support::forge, well_known as wk};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::world_with_app;

/// A certificate credential registered on the web app: the world that has it, and the
/// certificate with its key.
pub struct Certificate {
    pub world: World,
    pub credential: forge::Certificate,
}

/// The built-in world with a fresh certificate credential on the web app.
pub fn world_with_web_app_certificate() -> Certificate {
    let cert = forge::Certificate::self_signed("cert-client");
    let world = world_with_app(wk::WEB_APP_CLIENT_ID, |app| {
        app.key_credentials.push(emulator::world::KeyCredential {
            key_id: "k1".into(),
            key: cert.key_credential(),
        });
    });
    Certificate {
        world,
        credential: cert,
    }
}

/// The claims of the web app's client assertion for `aud` with `jti`, valid for ten minutes.
pub fn assertion_claims(aud: &str, jti: &str) -> Value {
    let now = emulator::keys::now();
    json!({"aud": aud, "iss": wk::WEB_APP_CLIENT_ID, "sub": wk::WEB_APP_CLIENT_ID,
        "jti": jti, "nbf": now, "exp": now + 600})
}

impl Certificate {
    /// `claims` signed by the certificate's key with `header`.
    pub fn sign(&self, header: &jsonwebtoken::Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.credential.key.signing).unwrap()
    }

    /// A client assertion with `claims`, signed RS256 and naming the certificate by `x5t`.
    pub fn assertion_with(&self, claims: &Value) -> String {
        let mut h = jsonwebtoken::Header::new(Algorithm::RS256);
        h.x5t = Some(self.credential.x5t());
        self.sign(&h, claims)
    }

    /// A valid client assertion for `aud` with `jti` (see [`assertion_claims`]).
    pub fn assertion(&self, aud: &str, jti: &str) -> String {
        self.assertion_with(&assertion_claims(aud, jti))
    }
}
