//! Session records sealed at rest: whatever a session holds (refresh token, sign-in token,
//! pending PKCE verifiers) reaches the store only as AES-256-GCM ciphertext, under a key ring
//! that rotates without signing anyone out.
//!
//! The session id is the cookie's value, so it must not be readable from the store: a record
//! is stored under a one-way hash of the id and this app's namespace ([`stored_id`]), and
//! sealed with a key derived from the ring's key **and the id**, so that a dump of the store
//! (a Redis `SCAN`, a replica, a SQLite backup) yields neither a cookie nor, even with the key
//! ring, a readable record. Two apps sharing a store and a ring (different namespaces) neither
//! find nor open each other's records.
//!
//! The first key of the ring seals; every key opens, found by the key id written beside the
//! ciphertext. A record that no key opens (its key was dropped from the ring, or the record
//! was altered) reads as no session: the user is signed out, with a log line, never a 500.
//! Records of the previous format (stored under the id itself) are moved to the new one when
//! their session is next read.

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
/// Sealed with a ring key (cached tokens; session records before v2).
const FORMAT: &str = "v1";
/// Sealed with a key derived from a ring key and a secret of the record's owner (the id).
const BOUND_FORMAT: &str = "v2";

/// The keys that seal and open session records (and cached tokens in Redis).
pub struct KeyRing {
    /// `(key id, key, key for deriving bound keys)`, the sealing key first.
    keys: Vec<(String, LessSafeKey, ring::hmac::Key)>,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _, _)| id.as_str()).collect();
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
                let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes);
                (id, LessSafeKey::new(key), derive)
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
        let (id, key, _) = &self.keys[0];
        self.seal_with(FORMAT, id, key, plaintext, context)
    }

    /// The plaintext, if a key of the ring sealed it with this `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let (id, body) = split(sealed, FORMAT)?;
        let (_, key, _) = self.keys.iter().find(|(kid, _, _)| kid == id)?;
        open_with(key, body, context)
    }

    /// `v2.<key id>.<...>`: sealed with a key derived from the ring's first key and `bound`,
    /// a secret the store does not hold; only `bound` (with a ring key) opens it.
    pub fn seal_bound(&self, plaintext: &[u8], bound: &[u8], context: &[u8]) -> String {
        let (id, _, derive) = &self.keys[0];
        self.seal_with(
            BOUND_FORMAT,
            id,
            &bound_key(derive, bound),
            plaintext,
            context,
        )
    }

    /// The plaintext of [`Self::seal_bound`]'s output, with the same `bound` and `context`.
    pub fn open_bound(&self, sealed: &str, bound: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (id, body) = split(sealed, BOUND_FORMAT)?;
        let (_, _, derive) = self.keys.iter().find(|(kid, _, _)| kid == id)?;
        open_with(&bound_key(derive, bound), body, context)
    }

    fn seal_with(
        &self,
        format: &str,
        id: &str,
        key: &LessSafeKey,
        plaintext: &[u8],
        context: &[u8],
    ) -> String {
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
        format!("{format}.{id}.{}", B64.encode(out))
    }
}

/// `(key id, body)` of a sealed value in `format`.
fn split<'a>(sealed: &'a str, format: &str) -> Option<(&'a str, &'a str)> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(f), Some(id), Some(body)) if f == format => Some((id, body)),
        _ => None,
    }
}

fn open_with(key: &LessSafeKey, body: &str, context: &[u8]) -> Option<Vec<u8>> {
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

/// HMAC-SHA256(ring key, "bff-bound-key" ‖ bound) as an AES-256-GCM key.
fn bound_key(derive: &ring::hmac::Key, bound: &[u8]) -> LessSafeKey {
    let mut input = b"bff-bound-key\n".to_vec();
    input.extend_from_slice(bound);
    let tag = ring::hmac::sign(derive, &input);
    let key = UnboundKey::new(&AES_256_GCM, tag.as_ref()).expect("32 bytes is an AES-256 key");
    LessSafeKey::new(key)
}

/// Where session `id` is stored for the app `namespace`: a one-way hash of both, so that
/// the store's keys (and the sign-in index's entries, and lease names) are not cookies. A
/// hash, not an HMAC under the ring: ids carry 128 random bits, so nothing is gained from a
/// key, and one tied to the ring would move every record at each rotation.
pub fn stored_id(namespace: &str, id: &Id) -> Id {
    let digest = sha2::Sha256::digest(format!("bff-session-id\n{namespace}\n{id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
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

/// A session store that seals each record's data, and hides its id, before `inner` sees it.
#[derive(Clone)]
pub struct Sealed<S> {
    inner: S,
    ring: std::sync::Arc<KeyRing>,
    /// This app's namespace (its client id): part of every stored id and seal.
    namespace: String,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Sealed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("inner", &self.inner)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl<S> Sealed<S> {
    pub fn new(inner: S, ring: std::sync::Arc<KeyRing>, namespace: &str) -> Self {
        Self {
            inner,
            ring,
            namespace: namespace.to_owned(),
        }
    }

    /// The record as stored: under [`stored_id`], one field sealed with a key bound to the
    /// session id (which only the cookie holds) and to this app's namespace.
    fn seal(&self, record: &Record) -> Result<Record> {
        let plain = serde_json::to_vec(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let bound = record.id.to_string();
        let sealed = self
            .ring
            .seal_bound(&plain, bound.as_bytes(), self.context().as_bytes());
        Ok(Record {
            id: stored_id(&self.namespace, &record.id),
            data: HashMap::from([(SEALED_FIELD.to_owned(), sealed.into())]),
            expiry_date: record.expiry_date,
        })
    }

    /// Session `id`'s record from what the store holds under its stored id.
    fn open(&self, id: &Id, stored: Record) -> Option<Record> {
        let sealed = stored.data.get(SEALED_FIELD)?.as_str()?;
        let bound = id.to_string();
        let plain = self
            .ring
            .open_bound(sealed, bound.as_bytes(), self.context().as_bytes())?;
        let data = serde_json::from_slice(&plain).ok()?;
        Some(Record {
            id: *id,
            data,
            expiry_date: stored.expiry_date,
        })
    }

    /// A record of the previous format: stored under the session id itself, sealed v1.
    fn open_legacy(&self, stored: &Record) -> Option<Record> {
        let sealed = stored.data.get(SEALED_FIELD)?.as_str()?;
        let plain = self
            .ring
            .open(sealed, legacy_context(&stored.id).as_bytes())?;
        let data = serde_json::from_slice(&plain).ok()?;
        Some(Record {
            data,
            ..stored.clone()
        })
    }

    fn context(&self) -> String {
        format!("bff-session:{}", self.namespace)
    }
}

fn legacy_context(id: &Id) -> String {
    format!("bff-session:{id}")
}

/// What the inner store answered for a load: a record, nothing, or bytes it could not
/// decode (not written by it: as unreadable as a record no key opens).
async fn load_readable<S: SessionStore>(inner: &S, id: &Id) -> Result<Option<Record>> {
    match inner.load(id).await {
        Ok(found) => Ok(found),
        Err(Error::Decode(detail)) => {
            tracing::warn!(
                "a session record could not be decoded ({detail}): treated as signed out"
            );
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for Sealed<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        loop {
            let mut stored = self.seal(record)?;
            let wanted = stored.id;
            self.inner.create(&mut stored).await?;
            if stored.id == wanted {
                return Ok(());
            }
            // The stored id was taken (a hash collision, or a session id already in use):
            // the store chose another, which names no session. Undo it; take a new id.
            self.inner.delete(&stored.id).await?;
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.inner.save(&self.seal(record)?).await
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        if let Some(stored) = load_readable(&self.inner, &stored_id(&self.namespace, id)).await? {
            return match self.open(id, stored) {
                Some(record) => Ok(Some(record)),
                None => {
                    tracing::warn!(
                        "a session record opens with no key of SESSION_ENCRYPTION_KEYS (its key \
                         was removed from the ring, or the record was altered): treated as \
                         signed out"
                    );
                    Ok(None)
                }
            };
        }
        // A session of the previous format, under its id: moved to the new one, once.
        let Some(legacy) = load_readable(&self.inner, id).await? else {
            // Another request of this session may have just moved it.
            return self.moved_meanwhile(id).await;
        };
        let Some(record) = self.open_legacy(&legacy) else {
            tracing::warn!(
                "a session record of the previous format opens with no key of \
                 SESSION_ENCRYPTION_KEYS: treated as signed out"
            );
            return Ok(None);
        };
        let mut moved = self.seal(&record)?;
        let wanted = moved.id;
        self.inner.create(&mut moved).await?;
        if moved.id != wanted {
            // Another request of this session moved it first: the store put this copy
            // elsewhere; the session is the one already moved.
            self.inner.delete(&moved.id).await?;
            return Ok(self.moved_meanwhile(id).await?.or(Some(record)));
        }
        self.inner.delete(id).await?;
        tracing::info!(
            "a session stored in the previous format (under its cookie) was moved to a hashed key"
        );
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(&stored_id(&self.namespace, id)).await?;
        // A record of the previous format, not read since the upgrade.
        self.inner.delete(id).await
    }
}

impl<S: SessionStore> Sealed<S> {
    /// Session `id` as another request just moved it to the new format, if it did.
    async fn moved_meanwhile(&self, id: &Id) -> Result<Option<Record>> {
        Ok(load_readable(&self.inner, &stored_id(&self.namespace, id))
            .await?
            .and_then(|stored| self.open(id, stored)))
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

    #[test]
    fn a_bound_seal_opens_only_with_its_owners_secret() {
        let ring = KeyRing::new(&[[3; 32]]);
        let sealed = ring.seal_bound(b"refresh token", b"cookie-a", b"ns");
        assert_eq!(
            ring.open_bound(&sealed, b"cookie-a", b"ns").as_deref(),
            Some(&b"refresh token"[..])
        );
        assert_eq!(
            ring.open_bound(&sealed, b"cookie-b", b"ns"),
            None,
            "another id"
        );
        assert_eq!(
            ring.open_bound(&sealed, b"cookie-a", b"other"),
            None,
            "another app"
        );
        assert_eq!(
            ring.open(&sealed, b"ns"),
            None,
            "the ring alone does not open it"
        );
    }

    #[tokio::test]
    async fn the_store_holds_no_session_id_and_legacy_records_move_once() {
        use tower_sessions::cookie::time::{Duration, OffsetDateTime};

        use crate::store::conditional::MemoryStore;
        let ring = std::sync::Arc::new(KeyRing::new(&[[5; 32]]));
        let backend = MemoryStore::default();
        let store = Sealed::new(backend.clone(), ring.clone(), "app-a");
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([("user".to_owned(), "adele".into())]),
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        };
        store.create(&mut record).await.unwrap();
        assert!(
            backend.load(&record.id).await.unwrap().is_none(),
            "not under the cookie"
        );
        let stored = backend
            .load(&stored_id("app-a", &record.id))
            .await
            .unwrap()
            .unwrap();
        assert!(
            !stored.data[SEALED_FIELD]
                .to_string()
                .contains(&record.id.to_string())
        );
        assert_eq!(
            store.load(&record.id).await.unwrap().unwrap().data["user"],
            "adele"
        );
        // Another app on the same store and ring finds nothing.
        let other = Sealed::new(backend.clone(), ring.clone(), "app-b");
        assert!(other.load(&record.id).await.unwrap().is_none());

        // A record of the previous format, under its id, sealed v1.
        let mut legacy = Record {
            id: Id::default(),
            data: HashMap::from([(
                SEALED_FIELD.to_owned(),
                ring.seal(
                    &serde_json::to_vec(&HashMap::from([("user", "megan")])).unwrap(),
                    legacy_context(&Id::default()).as_bytes(),
                )
                .into(),
            )]),
            expiry_date: record.expiry_date,
        };
        let id = legacy.id;
        legacy.data.insert(
            SEALED_FIELD.to_owned(),
            ring.seal(
                &serde_json::to_vec(&HashMap::from([("user", "megan")])).unwrap(),
                legacy_context(&id).as_bytes(),
            )
            .into(),
        );
        backend.create(&mut legacy).await.unwrap();
        assert_eq!(
            store.load(&id).await.unwrap().unwrap().data["user"],
            "megan"
        );
        assert!(
            backend.load(&id).await.unwrap().is_none(),
            "moved off the cookie's key"
        );
        assert_eq!(
            store.load(&id).await.unwrap().unwrap().data["user"],
            "megan"
        );
    }
}
