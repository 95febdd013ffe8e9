//! Session records sealed at rest: whatever a session holds (refresh token, sign-in token,
//! pending PKCE verifiers) reaches the store only as AES-256-GCM ciphertext, under a key ring
//! that rotates without signing anyone out.
//!
//! The session id is the cookie's value, so it must not be readable from the store, nor
//! computable from anything the store holds: a record is stored under an HMAC of the id and
//! this app's namespace, keyed with a key of the ring ([`StoredIds`]), and sealed with a key
//! derived from the ring's key **and the id**. A dump of the store (a Redis `SCAN`, a replica,
//! a SQLite backup) thus yields neither a cookie nor, even with the key ring, a readable
//! record. Two apps sharing a store and a ring (different namespaces) neither find nor open
//! each other's records.
//!
//! The first key of the ring seals; every key opens, found by the key id written beside the
//! ciphertext. A session stays where it was created (under the then first key) for its whole
//! life, so that no rotation moves records; its key may leave the ring once the absolute
//! session lifetime has passed. A record that no key opens (its key was dropped from the
//! ring, or the record was altered) reads as no session: the user is signed out, with a log
//! line, never a 500. Records of the previous formats (under the id itself, then under an
//! unkeyed hash of it) are moved to the current one when their session is next read.

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

use super::conditional::UpdateExisting;
use crate::config::{KEY_LEN, KeySource};

/// The one field of a sealed record's data.
const SEALED_FIELD: &str = "sealed";
/// The field of an opened record that says where it is stored (never stored itself): the
/// session's name for leases and caches, whatever the order of the ring on this instance
/// ([`crate::session::UserSession::stored_id`]).
pub const STORED_ID_FIELD: &str = "bff.stored_id";
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

/// Where each session is stored: computed from its id, which only the cookie holds, with the
/// key ring, so that the store's keys (and the sign-in index's entries, and lease names)
/// neither are cookies nor lead to them.
#[derive(Clone, Debug)]
pub struct StoredIds {
    ring: std::sync::Arc<KeyRing>,
    /// This app's namespace (its client id): part of every stored id and seal.
    namespace: String,
}

impl StoredIds {
    pub fn new(ring: std::sync::Arc<KeyRing>, namespace: &str) -> Self {
        Self {
            ring,
            namespace: namespace.to_owned(),
        }
    }

    /// Where a new session goes, keyed with the sealing key; also the session's name for
    /// caches, leases and the sign-in index until it is read back from where it is.
    pub fn current(&self, id: &Id) -> Id {
        keyed_with(&self.ring.keys[0].2, &self.hashed(id))
    }

    /// Where the session may be stored, one place per key of the ring, the current first.
    fn keyed<'a>(&'a self, id: &'a Id) -> impl Iterator<Item = Id> + 'a {
        let hashed = self.hashed(id);
        self.ring
            .keys
            .iter()
            .map(move |(_, _, derive)| keyed_with(derive, &hashed))
    }

    /// The id hashed with this app's namespace: where the previous version stored the
    /// session, and what the keyed id is the HMAC of (so that a sign-in index entry of that
    /// version still finds the session once it has moved).
    fn hashed(&self, id: &Id) -> Id {
        id_of(&sha2::Sha256::digest(
            format!("bff-session-id\n{}\n{id}", self.namespace).as_bytes(),
        ))
    }

    /// Where earlier versions stored it: an unkeyed hash of the id, before that the id itself.
    fn previous(&self, id: &Id) -> [Id; 2] {
        [self.hashed(id), *id]
    }

    /// Every place the session may be: what a sign-out deletes.
    pub fn all(&self, id: &Id) -> Vec<Id> {
        self.keyed(id).chain(self.previous(id)).collect()
    }

    /// Every place a sign-in index entry may name: a stored id of this version (itself), a
    /// hash of an earlier one (and where that session moved), or a session id of the first
    /// (and every place of it).
    pub fn for_index_entry(&self, entry: &Id) -> Vec<Id> {
        let moved = self
            .ring
            .keys
            .iter()
            .map(|(_, _, derive)| keyed_with(derive, entry));
        std::iter::once(*entry)
            .chain(moved)
            .chain(self.all(entry))
            .collect()
    }
}

/// HMAC-SHA256(ring key, "bff-stored-id" ‖ the namespaced hash of the id), as an id.
fn keyed_with(derive: &ring::hmac::Key, hashed: &Id) -> Id {
    let input = format!("bff-stored-id\n{hashed}");
    id_of(ring::hmac::sign(derive, input.as_bytes()).as_ref())
}

/// A session id made of the first 128 bits of a digest.
fn id_of(digest: &[u8]) -> Id {
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
    ids: StoredIds,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Sealed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("inner", &self.inner)
            .field("namespace", &self.ids.namespace)
            .finish()
    }
}

impl<S> Sealed<S> {
    pub fn new(inner: S, ids: StoredIds) -> Self {
        Self { inner, ids }
    }

    /// The record as stored: under its current stored id, one field sealed with a key bound
    /// to the session id (which only the cookie holds) and to this app's namespace.
    fn seal(&self, record: &Record) -> Result<Record> {
        let mut data = record.data.clone();
        data.remove(STORED_ID_FIELD);
        let plain = serde_json::to_vec(&data).map_err(|e| Error::Encode(e.to_string()))?;
        let bound = record.id.to_string();
        let sealed = self
            .ids
            .ring
            .seal_bound(&plain, bound.as_bytes(), self.context().as_bytes());
        Ok(Record {
            id: self.ids.current(&record.id),
            data: HashMap::from([(SEALED_FIELD.to_owned(), sealed.into())]),
            expiry_date: record.expiry_date,
        })
    }

    /// Session `id`'s record from what the store holds under one of its stored ids.
    fn open(&self, id: &Id, stored: Record) -> Option<Record> {
        let sealed = stored.data.get(SEALED_FIELD)?.as_str()?;
        let bound = id.to_string();
        let plain =
            self.ids
                .ring
                .open_bound(sealed, bound.as_bytes(), self.context().as_bytes())?;
        let data = serde_json::from_slice(&plain).ok()?;
        Some(Record {
            id: *id,
            data,
            expiry_date: stored.expiry_date,
        })
    }

    /// A record of the first format: stored under the session id itself, sealed v1.
    fn open_legacy(&self, stored: &Record) -> Option<Record> {
        let sealed = stored.data.get(SEALED_FIELD)?.as_str()?;
        let plain = self
            .ids
            .ring
            .open(sealed, legacy_context(&stored.id).as_bytes())?;
        let data = serde_json::from_slice(&plain).ok()?;
        Some(Record {
            data,
            ..stored.clone()
        })
    }

    fn context(&self) -> String {
        format!("bff-session:{}", self.ids.namespace)
    }
}

/// `record` with where it is stored in [`STORED_ID_FIELD`].
fn with_stored_id(mut record: Record, place: Id) -> Record {
    record
        .data
        .insert(STORED_ID_FIELD.to_owned(), place.to_string().into());
    record
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
impl<S: SessionStore + UpdateExisting> SessionStore for Sealed<S> {
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
        // Where the session was created: under the current key, or an older one of the ring.
        // None of them: it ended meanwhile, and stays ended.
        let mut stored = self.seal(record)?;
        for place in self.ids.keyed(&record.id) {
            stored.id = place;
            if self.inner.update_existing(&stored).await? {
                break;
            }
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        for place in self.ids.keyed(id) {
            if let Some(stored) = load_readable(&self.inner, &place).await? {
                return Ok(self.open(id, stored).map(|r| with_stored_id(r, place)).or_else(|| {
                    tracing::warn!(
                        "a session record opens with no key of SESSION_ENCRYPTION_KEYS (its key \
                         was removed from the ring, or the record was altered): treated as \
                         signed out"
                    );
                    None
                }));
            }
        }
        self.load_previous(id).await
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        for place in self.ids.all(id) {
            self.inner.delete(&place).await?;
        }
        Ok(())
    }
}

impl<S: SessionStore> Sealed<S> {
    /// A session stored by an earlier version, moved to its current stored id, once.
    async fn load_previous(&self, id: &Id) -> Result<Option<Record>> {
        let [hashed, raw] = self.ids.previous(id);
        let (place, record) = if let Some(stored) = load_readable(&self.inner, &hashed).await? {
            (hashed, self.open(id, stored))
        } else if let Some(stored) = load_readable(&self.inner, &raw).await? {
            (raw, self.open_legacy(&stored))
        } else {
            // Another request of this session may have just moved it.
            return self.moved_meanwhile(id).await;
        };
        let Some(record) = record else {
            tracing::warn!(
                "a session record of a previous format opens with no key of \
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
        // A sign-out between the read and the move deleted the old record: the copy must not
        // bring the session back.
        let signed_out_meanwhile = load_readable(&self.inner, &place).await?.is_none();
        self.inner.delete(&place).await?;
        if signed_out_meanwhile {
            self.inner.delete(&wanted).await?;
            return Ok(None);
        }
        tracing::info!("a session stored in a previous format was moved to its keyed stored id");
        Ok(Some(with_stored_id(record, wanted)))
    }

    /// Session `id` as another request just moved it to the current format, if it did.
    async fn moved_meanwhile(&self, id: &Id) -> Result<Option<Record>> {
        Ok(load_readable(&self.inner, &self.ids.current(id))
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

    use std::sync::Arc;

    use tower_sessions::cookie::time::{Duration, OffsetDateTime};

    use crate::store::conditional::MemoryStore;

    fn record(user: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("user".to_owned(), user.into())]),
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        }
    }

    fn sealed(backend: &MemoryStore, keys: &[[u8; 32]], namespace: &str) -> Sealed<MemoryStore> {
        let ids = StoredIds::new(Arc::new(KeyRing::new(keys)), namespace);
        Sealed::new(backend.clone(), ids)
    }

    async fn user(store: &Sealed<MemoryStore>, id: &Id) -> Option<String> {
        let record = store.load(id).await.unwrap()?;
        Some(record.data["user"].as_str()?.to_owned())
    }

    #[tokio::test]
    async fn the_store_holds_neither_the_id_nor_anything_computed_from_it_without_the_key() {
        let backend = MemoryStore::default();
        let store = sealed(&backend, &[[5; 32]], "app-a");
        let mut session = record("adele");
        store.create(&mut session).await.unwrap();
        let keys: Vec<Id> = backend.ids().await;
        assert_eq!(keys.len(), 1);
        let unkeyed = StoredIds::new(Arc::new(KeyRing::new(&[[6; 32]])), "app-a");
        assert!(
            !keys.contains(&session.id)
                && !keys.contains(&unkeyed.current(&session.id))
                && !unkeyed
                    .previous(&session.id)
                    .iter()
                    .any(|p| keys.contains(p)),
            "the stored id is neither the cookie nor computable without the ring's key"
        );
        let stored = backend.load(&keys[0]).await.unwrap().unwrap();
        assert!(
            !stored.data[SEALED_FIELD]
                .to_string()
                .contains(&session.id.to_string())
        );
        assert_eq!(user(&store, &session.id).await.as_deref(), Some("adele"));
        // Another app on the same store and ring finds nothing; neither does another ring.
        assert_eq!(
            user(&sealed(&backend, &[[5; 32]], "app-b"), &session.id).await,
            None
        );
        assert_eq!(
            user(&sealed(&backend, &[[6; 32]], "app-a"), &session.id).await,
            None
        );
    }

    #[tokio::test]
    async fn a_session_stays_where_it_was_created_through_a_rotation() {
        let backend = MemoryStore::default();
        let before = sealed(&backend, &[[1; 32]], "app");
        let mut session = record("adele");
        before.create(&mut session).await.unwrap();
        let created_at = before.ids.current(&session.id);

        // A new key first: the session is found and saved where it is, resealed.
        let rotated = sealed(&backend, &[[2; 32], [1; 32]], "app");
        session.data.insert("user".into(), "adele, again".into());
        rotated.save(&session).await.unwrap();
        let keys: Vec<Id> = backend.ids().await;
        assert_eq!(keys, vec![created_at], "not moved, not copied");
        assert_eq!(
            user(&rotated, &session.id).await.as_deref(),
            Some("adele, again")
        );
        // Read back, it names where it is (the lease and cache name on every instance),
        // and that name is not stored with it.
        let loaded = rotated.load(&session.id).await.unwrap().unwrap();
        assert_eq!(loaded.data[STORED_ID_FIELD], created_at.to_string());
        rotated.save(&loaded).await.unwrap();
        let stored = backend.load(&created_at).await.unwrap().unwrap();
        let opened = rotated.open(&session.id, stored).unwrap();
        assert!(!opened.data.contains_key(STORED_ID_FIELD));
        // New sessions go under the new key; an instance not yet rotated finds them too
        // when it holds the new key second.
        let mut new = record("megan");
        rotated.create(&mut new).await.unwrap();
        let rolling = sealed(&backend, &[[1; 32], [2; 32]], "app");
        assert_eq!(user(&rolling, &new.id).await.as_deref(), Some("megan"));
        // Dropping the old key ends the sessions created under it, and only those.
        let dropped = sealed(&backend, &[[2; 32]], "app");
        assert_eq!(user(&dropped, &session.id).await, None);
        assert_eq!(user(&dropped, &new.id).await.as_deref(), Some("megan"));
        // A save of a session gone meanwhile brings nothing back.
        rotated.delete(&new.id).await.unwrap();
        rotated.save(&new).await.unwrap();
        assert_eq!(user(&rotated, &new.id).await, None);
    }

    #[tokio::test]
    async fn records_of_previous_formats_move_once() {
        let backend = MemoryStore::default();
        let store = sealed(&backend, &[[5; 32]], "app-a");
        let ring = &store.ids.ring;

        // The first format: under the id itself, sealed v1.
        let mut first = record("megan");
        let data = serde_json::to_vec(&HashMap::from([("user", "megan")])).unwrap();
        first.data = HashMap::from([(
            SEALED_FIELD.to_owned(),
            ring.seal(&data, legacy_context(&first.id).as_bytes())
                .into(),
        )]);
        backend.create(&mut first).await.unwrap();
        // The second: under an unkeyed hash of the id, sealed bound to it.
        let second = record("alex");
        let mut hashed = Record {
            id: store.ids.previous(&second.id)[0],
            ..store.seal(&second).unwrap()
        };
        backend.create(&mut hashed).await.unwrap();

        for (id, name) in [(first.id, "megan"), (second.id, "alex")] {
            assert_eq!(user(&store, &id).await.as_deref(), Some(name));
            let keys: Vec<Id> = backend.ids().await;
            assert!(keys.contains(&store.ids.current(&id)), "moved");
            assert!(
                store.ids.previous(&id).iter().all(|p| !keys.contains(p)),
                "nothing left behind"
            );
            assert_eq!(user(&store, &id).await.as_deref(), Some(name));
        }
    }

    #[tokio::test]
    async fn an_index_entry_of_the_previous_version_finds_the_session_where_it_moved() {
        let backend = MemoryStore::default();
        let store = sealed(&backend, &[[5; 32]], "app-a");
        let mut session = record("adele");
        store.create(&mut session).await.unwrap();
        // The sign-in index of the previous version held the unkeyed hash.
        let [hashed, _] = store.ids.previous(&session.id);
        assert!(
            store
                .ids
                .for_index_entry(&hashed)
                .contains(&store.ids.current(&session.id))
        );
        // And one of the version before it, the session id itself.
        assert!(
            store
                .ids
                .for_index_entry(&session.id)
                .contains(&store.ids.current(&session.id))
        );
    }

    /// A store on which a sign-out lands while a session of a previous format is being moved:
    /// its `create` first deletes `victim` (the old record), as a concurrent sign-out would.
    #[derive(Debug, Clone)]
    struct SignOutDuringMove {
        inner: MemoryStore,
        victim: Id,
    }

    #[async_trait::async_trait]
    impl SessionStore for SignOutDuringMove {
        async fn create(&self, record: &mut Record) -> Result<()> {
            self.inner.delete(&self.victim).await?;
            self.inner.create(record).await
        }
        async fn save(&self, record: &Record) -> Result<()> {
            self.inner.save(record).await
        }
        async fn load(&self, id: &Id) -> Result<Option<Record>> {
            self.inner.load(id).await
        }
        async fn delete(&self, id: &Id) -> Result<()> {
            self.inner.delete(id).await
        }
    }

    #[async_trait::async_trait]
    impl UpdateExisting for SignOutDuringMove {
        async fn update_existing(&self, record: &Record) -> Result<bool> {
            self.inner.update_existing(record).await
        }
    }

    #[tokio::test]
    async fn a_sign_out_during_the_move_of_an_old_record_is_not_undone() {
        let backend = MemoryStore::default();
        let ids = StoredIds::new(Arc::new(KeyRing::new(&[[5; 32]])), "app-a");
        let session = record("alex");
        let [hashed, _] = ids.previous(&session.id);
        let plain = Sealed::new(backend.clone(), ids.clone());
        let mut old = Record {
            id: hashed,
            ..plain.seal(&session).unwrap()
        };
        backend.create(&mut old).await.unwrap();
        let store = Sealed::new(
            SignOutDuringMove {
                inner: backend.clone(),
                victim: hashed,
            },
            ids,
        );
        assert!(store.load(&session.id).await.unwrap().is_none());
        assert!(backend.ids().await.is_empty(), "{:?}", backend.ids().await);
    }
}
