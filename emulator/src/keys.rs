//! Signing keys: RSA-2048 keys with self-signed certificates (Microsoft Learn: learn.microsoft.com/entra/identity-platform/signing-key-rollover), the JWKS, key
//! rollover with a grace period, and persistence in the data dir so tokens survive a restart.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha1::Digest;

const KEYS_FILE: &str = "signing-keys.json";

/// Key handling failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// RSA key generation or encoding failed.
    #[error("RSA key error: {0}")]
    Rsa(String),
    /// Certificate generation failed.
    #[error("certificate error: {0}")]
    Cert(#[from] rcgen::Error),
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file, as the data directory names it.
        path: PathBuf,
        /// Why the file could not be read or written.
        source: std::io::Error,
    },
    /// The key file is corrupt.
    #[error("key file {0}: invalid content")]
    Corrupt(PathBuf),
}

/// A key as stored on disk.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    private_pem: String,
    n: String,
    e: String,
    cert_der_b64: String,
    created: i64,
    retired_at: Option<i64>,
    drop_after: Option<i64>,
}

/// A usable signing key.
#[derive(Clone)]
pub struct SigningKey {
    stored: StoredKey,
    /// For signing.
    pub encoding: EncodingKey,
    /// For verifying.
    pub decoding: DecodingKey,
    /// ring's key pair: RS256 signing is several times faster than the pure-Rust path.
    pub ring: std::sync::Arc<ring::signature::RsaKeyPair>,
    /// The public key for ring's verifier.
    pub public: ring::signature::RsaPublicKeyComponents<Vec<u8>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.stored.kid)
            .field("private_pem", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    /// The key id (== `x5t`, base64url SHA-1 of the certificate).
    pub fn kid(&self) -> &str {
        &self.stored.kid
    }

    fn from_stored(stored: StoredKey) -> Result<Self, KeyError> {
        let encoding = EncodingKey::from_rsa_pem(stored.private_pem.as_bytes())
            .map_err(|e| KeyError::Rsa(e.to_string()))?;
        let decoding = DecodingKey::from_rsa_components(&stored.n, &stored.e)
            .map_err(|e| KeyError::Rsa(e.to_string()))?;
        let der = {
            use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
            rsa::PrivateKey::from_pkcs8_pem(&stored.private_pem)
                .and_then(|k| k.to_pkcs8_der())
                .map_err(|e| KeyError::Rsa(e.to_string()))?
        };
        let ring = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| KeyError::Rsa(e.to_string()))?;
        let b64 = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|e| KeyError::Rsa(e.to_string()))
        };
        let public = ring::signature::RsaPublicKeyComponents {
            n: b64(&stored.n)?,
            e: b64(&stored.e)?,
        };
        Ok(Self {
            stored,
            encoding,
            decoding,
            ring: std::sync::Arc::new(ring),
            public,
        })
    }

    fn generate() -> Result<Self, KeyError> {
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
            .map_err(|e| KeyError::Rsa(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| KeyError::Rsa(e.to_string()))?
            .to_string();
        let public = key.to_public_key();
        let kp = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "accounts.accesscontrol.windows.net",
        );
        let cert = params.self_signed(&kp)?;
        let der = cert.der().to_vec();
        let stored = StoredKey {
            kid: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)),
            private_pem: pem,
            n: URL_SAFE_NO_PAD.encode(public.n_bytes()),
            e: URL_SAFE_NO_PAD.encode(public.e_bytes()),
            cert_der_b64: STANDARD.encode(&der),
            created: now(),
            retired_at: None,
            drop_after: None,
        };
        Self::from_stored(stored)
    }

    fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.stored.kid,
            "x5t": self.stored.kid,
            "n": self.stored.n,
            "e": self.stored.e,
            "x5c": [self.stored.cert_der_b64],
            "issuer": issuer,
        })
    }
}

/// The tenant's signing keys: the first is current, others are retiring (still published
/// and accepted until their grace period ends).
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    path: Option<PathBuf>,
}

impl KeyRing {
    /// Loads the keys from `data_dir` or creates (and saves) a new one.
    ///
    /// # Errors
    /// [`KeyError`] when generation or file access fails.
    pub fn load_or_create(data_dir: Option<&Path>) -> Result<Self, KeyError> {
        let path = data_dir.map(|d| d.join(KEYS_FILE));
        if let Some(p) = &path
            && p.exists()
        {
            let text = std::fs::read_to_string(p).map_err(|source| KeyError::Io {
                path: p.clone(),
                source,
            })?;
            let stored: Vec<StoredKey> =
                serde_json::from_str(&text).map_err(|_| KeyError::Corrupt(p.clone()))?;
            let keys = stored
                .into_iter()
                .map(SigningKey::from_stored)
                .collect::<Result<Vec<_>, _>>()?;
            if !keys.is_empty() {
                let mut ring = Self { keys, path };
                ring.prune();
                return Ok(ring);
            }
        }
        let ring = Self {
            keys: vec![SigningKey::generate()?],
            path,
        };
        ring.save()?;
        Ok(ring)
    }

    fn save(&self) -> Result<(), KeyError> {
        let Some(p) = &self.path else { return Ok(()) };
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let stored: Vec<&StoredKey> = self.keys.iter().map(|k| &k.stored).collect();
        let text = serde_json::to_string_pretty(&stored).unwrap_or_default();
        std::fs::write(p, text).map_err(|source| KeyError::Io {
            path: p.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// A published key by `kid`.
    pub fn find(&mut self, kid: &str) -> Option<&SigningKey> {
        self.prune();
        self.keys.iter().find(|k| k.stored.kid == kid)
    }

    /// Same as [`KeyRing::find`] without pruning (read-only access).
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        let now = now();
        self.keys
            .iter()
            .filter(|k| k.stored.drop_after.is_none_or(|d| d > now))
            .find(|k| k.stored.kid == kid)
    }

    /// Rolls the keys: a new current key; the old ones stay published for `grace`.
    ///
    /// # Errors
    /// [`KeyError`] when generation or saving fails.
    pub fn roll(&mut self, grace: Duration) -> Result<String, KeyError> {
        let new = SigningKey::generate()?;
        let now = now();
        for k in &mut self.keys {
            if k.stored.retired_at.is_none() {
                k.stored.retired_at = Some(now);
                k.stored.drop_after = Some(now + grace.as_secs() as i64);
            }
        }
        let kid = new.kid().to_string();
        self.keys.insert(0, new);
        self.prune();
        self.save()?;
        Ok(kid)
    }

    fn prune(&mut self) {
        let now = now();
        let before = self.keys.len();
        let first = self.keys.remove(0);
        self.keys
            .retain(|k| k.stored.drop_after.is_none_or(|d| d > now));
        self.keys.insert(0, first);
        if self.keys.len() != before {
            let _ = self.save();
        }
    }

    /// The published kids, current first.
    pub fn kids(&self) -> Vec<String> {
        let now = now();
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, k)| *i == 0 || k.stored.drop_after.is_none_or(|d| d > now))
            .map(|(_, k)| k.stored.kid.clone())
            .collect()
    }

    /// The JWKS document.
    pub fn jwks(&self, issuer_template: &str) -> Value {
        let keys: Vec<Value> = self
            .kids()
            .iter()
            .filter_map(|kid| self.keys.iter().find(|k| &k.stored.kid == kid))
            .map(|k| k.jwk(issuer_template))
            .collect();
        json!({ "keys": keys })
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("OS random generator");
    b
}

/// Unix time in milliseconds: when a token was issued relative to a revocation in the same
/// second matters.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_and_roll() {
        let dir = std::env::temp_dir().join(format!("emu-keys-{}", uuid::Uuid::new_v4()));
        let kid = KeyRing::load_or_create(Some(&dir))
            .unwrap()
            .current()
            .kid()
            .to_string();
        assert_eq!(kid.len(), 27);
        let mut ring = KeyRing::load_or_create(Some(&dir)).unwrap();
        assert_eq!(ring.current().kid(), kid, "key survives a restart");
        let new = ring.roll(Duration::from_secs(60)).unwrap();
        assert_eq!(ring.kids(), vec![new.clone(), kid.clone()]);
        ring.roll(Duration::ZERO).unwrap();
        assert_eq!(
            ring.kids().len(),
            2,
            "zero grace drops the retired keys at once"
        );
        let jwks = ring.jwks("x");
        assert_eq!(jwks["keys"][0]["x5t"], jwks["keys"][0]["kid"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
