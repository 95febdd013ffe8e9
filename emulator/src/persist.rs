//! Refresh-token grants persist in the data dir (next to the signing keys), so a restart of the
//! emulator, or of an app that embeds it, doesn't sign everyone out. Writes are batched: a
//! background task flushes at most once a second, and once more at shutdown.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::Duration,
};

use crate::{
    keys::now,
    state::{RefreshGrant, Shared},
};

const GRANTS_FILE: &str = "refresh-grants.json";

fn path(dir: &Path) -> PathBuf {
    dir.join(GRANTS_FILE)
}

/// Loads persisted grants (unreadable or missing files give none).
pub fn load(dir: Option<&Path>) -> HashMap<String, RefreshGrant> {
    dir.and_then(|d| std::fs::read_to_string(path(d)).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes the grants if they changed (expired ones are dropped).
pub fn flush(st: &Shared) {
    let Some(dir) = &st.data_dir else { return };
    if !st.grants_dirty.swap(false, Ordering::AcqRel) {
        return;
    }
    let text = {
        let mut store = st.store.lock().expect("store lock");
        let now = now();
        store.refresh.retain(|_, g| g.expires > now);
        serde_json::to_string(&store.refresh).unwrap_or_default()
    };
    let p = path(dir);
    let tmp = p.with_extension("json.tmp");
    if std::fs::create_dir_all(dir).is_ok() && std::fs::write(&tmp, text).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
        }
        if let Err(e) = std::fs::rename(&tmp, &p) {
            tracing::warn!(error = %e, "cannot save refresh grants");
        }
    }
}

/// Flushes every second until shutdown, then once more.
pub async fn run(st: crate::state::AppState) {
    if st.data_dir.is_none() {
        return;
    }
    let mut shutdown = st.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => flush(&st),
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    flush(&st);
}
