//! The session settings: which store (SQLite, Redis, memory), its timeouts, and the key ring
//! that seals every session record at rest.

use std::{path::Path, path::PathBuf, time::Duration};

use base64::Engine as _;

use super::read_positive;

/// The length of one session encryption key: AES-256.
pub const KEY_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStoreKind {
    /// A SQLite file in the data directory: a restart signs no one out.
    Sqlite(PathBuf),
    /// A Redis server shared by every instance (`REDIS_URL`).
    Redis(RedisSettings),
    /// In memory: lost at restart. For tests and throw-away runs.
    Memory,
}

#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://` or `rediss://`, possibly with a user and password: never logged whole.
    pub url: String,
    /// The longest any one Redis command may take before the request answers 503.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redacted_url(&self.url))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Where the keys that seal session records come from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SESSION_ENCRYPTION_KEYS`: the first seals, every one opens.
    Configured(Vec<[u8; KEY_LEN]>),
    /// A key generated once into the data directory (development only).
    Generated(PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Configured(keys) => write!(f, "Configured({} keys, redacted)", keys.len()),
            Self::Generated(path) => write!(f, "Generated({})", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub store: SessionStoreKind,
    pub keys: KeySource,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

/// What the session settings depend on elsewhere in the configuration.
pub(super) struct Context<'a> {
    pub data_dir: &'a Path,
    /// The embedded emulator: nothing real to protect, a generated key is fine.
    pub embedded: bool,
    pub https: bool,
}

pub(super) fn read_session(
    get: &impl Fn(&str) -> Option<String>,
    cx: Context<'_>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> SessionConfig {
    let store = match get("SESSION_STORE").as_deref().unwrap_or("sqlite") {
        "sqlite" => SessionStoreKind::Sqlite(cx.data_dir.join("sessions.sqlite3")),
        "memory" => SessionStoreKind::Memory,
        "redis" => match read_redis(get, problems) {
            Some(settings) => SessionStoreKind::Redis(settings),
            None => SessionStoreKind::Memory,
        },
        other => {
            problems.push(format!(
                "SESSION_STORE={other:?} is not known: use sqlite (the default), redis (with \
                 REDIS_URL, for several instances) or memory."
            ));
            SessionStoreKind::Memory
        }
    };
    let keys = match get("SESSION_ENCRYPTION_KEYS") {
        Some(raw) => KeySource::Configured(parse_keys(&raw).unwrap_or_else(|problem| {
            problems.push(problem);
            Vec::new()
        })),
        None if !cx.embedded && cx.https => {
            problems.push(format!(
                "SESSION_ENCRYPTION_KEYS is not set: sessions hold refresh tokens, sealed at \
                 rest with these keys. Set it to one or more base64 keys of {KEY_LEN} random \
                 bytes, comma-separated, the newest first (e.g. `openssl rand -base64 {KEY_LEN}`); \
                 every instance needs the same list."
            ));
            KeySource::Configured(Vec::new())
        }
        None => {
            let path = cx.data_dir.join("session-key");
            if matches!(store, SessionStoreKind::Redis(_)) {
                warnings.push(format!(
                    "SESSION_ENCRYPTION_KEYS is not set: this instance seals sessions with a key \
                     generated into {}. Other instances sharing this Redis cannot open them \
                     (their users read as signed out) unless they share that file; set \
                     SESSION_ENCRYPTION_KEYS on every instance.",
                    path.display()
                ));
            }
            KeySource::Generated(path)
        }
    };
    let mut seconds =
        |name: &str, default: u64| Duration::from_secs(read_positive(get, name, default, problems));
    SessionConfig {
        store,
        keys,
        idle_timeout: seconds("SESSION_IDLE_TIMEOUT_SECS", 8 * 3600),
        absolute_timeout: seconds("SESSION_ABSOLUTE_TIMEOUT_SECS", 7 * 24 * 3600),
    }
}

fn read_redis(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<RedisSettings> {
    let timeout = Duration::from_millis(read_positive(get, "REDIS_TIMEOUT_MS", 2_000, problems));
    let Some(url) = get("REDIS_URL") else {
        problems.push(
            "SESSION_STORE=redis needs REDIS_URL, e.g. redis://127.0.0.1:6379 or \
             rediss://user:password@cache.example.com:6380."
                .to_owned(),
        );
        return None;
    };
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "redis" | "rediss") && parsed.has_host() => {
            Some(RedisSettings { url, timeout })
        }
        _ => {
            problems.push(format!(
                "REDIS_URL={:?} is not a Redis URL: use redis://host:port (or rediss:// for TLS), \
                 with user:password@ before the host if the server asks for them.",
                redacted_url(&url)
            ));
            None
        }
    }
}

/// The key ring: comma-separated base64 (standard or URL-safe) keys of [`KEY_LEN`] bytes.
fn parse_keys(raw: &str) -> Result<Vec<[u8; KEY_LEN]>, String> {
    let mut keys = Vec::new();
    for (i, part) in raw.split(',').map(str::trim).enumerate() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(part)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(part))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part));
        match decoded.ok().and_then(|k| <[u8; KEY_LEN]>::try_from(k).ok()) {
            Some(key) => keys.push(key),
            None => {
                return Err(format!(
                    "SESSION_ENCRYPTION_KEYS: key {} is not {KEY_LEN} bytes in base64. Make one \
                     with `openssl rand -base64 {KEY_LEN}`; list several comma-separated, the \
                     newest first.",
                    i + 1
                ));
            }
        }
    }
    Ok(keys)
}

/// The URL without its password, for messages and logs.
pub fn redacted_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)], embedded: bool, https: bool) -> (SessionConfig, Vec<String>) {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let cx = Context {
            data_dir: Path::new("data"),
            embedded,
            https,
        };
        let config = read_session(&get, cx, &mut problems, &mut warnings);
        problems.extend(warnings);
        (config, problems)
    }

    #[test]
    fn a_real_tenant_over_https_must_name_its_keys() {
        let (_, problems) = read(&[], false, true);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("SESSION_ENCRYPTION_KEYS is not set"));
        assert!(problems[0].contains("openssl rand -base64 32"));
        // Development (the emulator, or plain HTTP on a laptop): a generated key.
        let (config, problems) = read(&[], true, true);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.keys, KeySource::Generated("data/session-key".into()));
    }

    #[test]
    fn redis_needs_a_redis_url_and_says_which_form() {
        let (_, problems) = read(&[("SESSION_STORE", "redis")], true, false);
        assert!(problems[0].contains("needs REDIS_URL"), "{problems:?}");
        let (_, problems) = read(
            &[
                ("SESSION_STORE", "redis"),
                ("REDIS_URL", "http://u:pw@cache:6379"),
            ],
            true,
            false,
        );
        assert!(problems[0].contains("is not a Redis URL"), "{problems:?}");
        assert!(!problems[0].contains(":pw@"), "{problems:?}");
        let (config, problems) = read(
            &[
                ("SESSION_STORE", "redis"),
                ("REDIS_URL", "rediss://u:pw@cache:6380"),
                (
                    "SESSION_ENCRYPTION_KEYS",
                    &base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
                ),
            ],
            false,
            true,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(matches!(config.store, SessionStoreKind::Redis(_)));
        // Without shared keys, each instance would seal with its own: a warning.
        let (_, warnings) = read(
            &[("SESSION_STORE", "redis"), ("REDIS_URL", "redis://cache")],
            true,
            false,
        );
        assert!(warnings[0].contains("Other instances"), "{warnings:?}");
    }

    #[test]
    fn the_key_ring_takes_base64_keys_of_32_bytes_newest_first() {
        let a = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([2u8; 32]);
        let keys = parse_keys(&format!("{a}, {b}")).unwrap();
        assert_eq!(keys, vec![[1u8; 32], [2u8; 32]]);
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        let err = parse_keys(&format!("{a},{short}")).unwrap_err();
        assert!(err.contains("key 2 is not 32 bytes"), "{err}");
    }

    #[test]
    fn a_redis_password_never_reaches_a_message() {
        let shown = redacted_url("rediss://app:s3cret@cache.example.com:6380");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("app:redacted@cache.example.com"), "{shown}");
    }
}
