//! Session records sealed at rest: whatever a session holds (refresh token, sign-in token,
//! pending PKCE verifiers) reaches the store only as AES-256-GCM ciphertext, bound to the
//! session id, under a key ring that rotates without signing anyone out.
//!
//! The first key of the ring seals; every key opens, found by the key id written beside the
//! ciphertext. A record that no key opens (its key was dropped from the ring, or the record
//! was altered) reads as no session: the user is signed out, with a log line, never a 500.

use std::{collections::HashMap, io::Write as _, path::Path};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use sha2::Digest as _;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store::{Error, Result},
};

use crate::config::{KEY_LEN, KeySource};

/// The one field of a sealed record's data.
const SEALED_FIELD: &str = "sealed";
const FORMAT: &str = "v1";

/// The keys that seal and open session records (and cached tokens in Redis).
pub struct KeyRing {
    /// `(key id, key)`, the sealing key first.
    keys: Vec<(String, LessSafeKey)>,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    pub fn new(keys: &[[u8; KEY_LEN]]) -> Self {
        assert!(!keys.is_empty(), "a key ring needs a key");
        let keys = keys
            .iter()
            .map(|bytes| {
                let id = hex8(&sha2::Sha256::digest(bytes));
                let key = UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key");
                (id, LessSafeKey::new(key))
            })
            .collect();
        Self {
            keys,
            rng: SystemRandom::new(),
        }
    }

    /// The ring from the configuration: the configured keys, or the development key in the
    /// data directory (generated on first use, readable by this user only).
    pub fn load(source: &KeySource) -> std::result::Result<Self, String> {
        match source {
            KeySource::Configured(keys) if keys.is_empty() => {
                Err("SESSION_ENCRYPTION_KEYS holds no key".into())
            }
            KeySource::Configured(keys) => Ok(Self::new(keys)),
            KeySource::Generated(path) => Ok(Self::new(&[generated_key(path)
                .map_err(|e| format!("the session key {}: {e}", path.display()))?])),
        }
    }

    /// `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, authenticated with `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut sealed,
        )
        .expect("AES-GCM seals any length the store holds");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{FORMAT}.{id}.{}", B64.encode(out))
    }

    /// The plaintext, if a key of the ring sealed it with this `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let (_, key) = self.keys.iter().find(|(kid, _)| kid == id)?;
        let mut bytes = B64.decode(body).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = key
            .open_in_place(nonce, Aad::from(context), &mut ciphertext)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn hex8(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the development key, or creates it (mode 0600) on first start.
fn generated_key(path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return B64
            .decode(text.trim())
            .ok()
            .and_then(|k| <[u8; KEY_LEN]>::try_from(k).ok())
            .ok_or_else(|| {
                std::io::Error::other("not a base64 key of 32 bytes: delete it to make a new one")
            });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut key = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| std::io::Error::other("no system random source"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(B64.encode(key).as_bytes())?;
    Ok(key)
}

/// A session store that seals each record's data before `inner` sees it.
#[derive(Clone)]
pub struct Sealed<S> {
    inner: S,
    ring: std::sync::Arc<KeyRing>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Sealed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S> Sealed<S> {
    pub fn new(inner: S, ring: std::sync::Arc<KeyRing>) -> Self {
        Self { inner, ring }
    }

    /// The record as stored: one sealed field, bound to the session id so that a sealed
    /// record copied under another id does not open.
    fn seal(&self, record: &Record) -> Result<Record> {
        let plain = serde_json::to_vec(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let sealed = self.ring.seal(&plain, context(&record.id).as_bytes());
        Ok(Record {
            id: record.id,
            data: HashMap::from([(SEALED_FIELD.to_owned(), sealed.into())]),
            expiry_date: record.expiry_date,
        })
    }

    fn open(&self, stored: Record) -> Option<Record> {
        let sealed = stored.data.get(SEALED_FIELD)?.as_str()?;
        let plain = self.ring.open(sealed, context(&stored.id).as_bytes())?;
        let data = serde_json::from_slice(&plain).ok()?;
        Some(Record { data, ..stored })
    }
}

fn context(id: &Id) -> String {
    format!("bff-session:{id}")
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for Sealed<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let mut stored = self.seal(record)?;
        self.inner.create(&mut stored).await?;
        if stored.id != record.id {
            // The store chose another id (a collision): the seal must name that one.
            record.id = stored.id;
            self.inner.save(&self.seal(record)?).await?;
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.inner.save(&self.seal(record)?).await
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let stored = match self.inner.load(id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return Ok(None),
            // Bytes the store cannot even decode were not written by it: as unreadable as a
            // record no key opens.
            Err(Error::Decode(detail)) => {
                tracing::warn!(
                    "a session record could not be decoded ({detail}): treated as signed out"
                );
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        match self.open(stored) {
            Some(record) => Ok(Some(record)),
            None => {
                tracing::warn!(
                    "a session record opens with no key of SESSION_ENCRYPTION_KEYS (its key was \
                     removed from the ring, or the record was altered): treated as signed out"
                );
                Ok(None)
            }
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_any_key_of_the_ring_and_only_in_its_context() {
        let old = KeyRing::new(&[[1; 32]]);
        let rotated = KeyRing::new(&[[2; 32], [1; 32]]);
        let dropped = KeyRing::new(&[[2; 32]]);
        let sealed = old.seal(b"refresh token", b"session:a");
        assert!(!sealed.contains("refresh"));
        assert_eq!(
            rotated.open(&sealed, b"session:a").as_deref(),
            Some(&b"refresh token"[..])
        );
        assert_eq!(rotated.open(&sealed, b"session:b"), None);
        assert_eq!(dropped.open(&sealed, b"session:a"), None);
        // The newest key seals.
        let resealed = rotated.seal(b"x", b"c");
        assert_eq!(dropped.open(&resealed, b"c").as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn an_altered_byte_opens_nothing() {
        let ring = KeyRing::new(&[[7; 32]]);
        let sealed = ring.seal(b"secret", b"ctx");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(ring.open(&String::from_utf8(bytes).unwrap(), b"ctx"), None);
        assert_eq!(ring.open("v1.nonsense", b"ctx"), None);
        assert_eq!(ring.open("", b"ctx"), None);
    }
}
