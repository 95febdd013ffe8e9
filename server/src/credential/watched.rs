//! Credential files that are re-read when they change: a Kubernetes secret or a Key Vault CSI
//! mount replaces the file in place (through a symbolic link swap), and the app must pick the
//! new value up without a restart and without dropping a request. Each use costs a `stat` of
//! each file; only a changed file is read and parsed again. A file that became unreadable or
//! unparsable keeps the last good value, with a warning, until it is mended.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::SystemTime,
};

/// What the files looked like when read: each one's modification time, length and inode (a
/// Kubernetes mount swaps a symbolic link to a new file: a new inode even where timestamps are
/// coarse).
type Stamp = Vec<(Option<SystemTime>, u64, u64)>;

type Parse<T> = Box<dyn Fn(&[String]) -> Result<T, String> + Send + Sync>;

/// One value read from one or more files (a certificate and its key), re-read on change.
pub struct WatchedFiles<T> {
    paths: Vec<PathBuf>,
    parse: Parse<T>,
    last: Mutex<Seen<T>>,
}

struct Seen<T> {
    /// The last good value and the stamp it was read at.
    good: Option<(Stamp, Arc<T>)>,
    /// The stamp of files found unusable (not read again until they change).
    broken: Option<Stamp>,
}

impl<T> WatchedFiles<T> {
    /// Reads `paths` once now (a bad file stops the start with the other configuration
    /// problems) and from then on whenever one of them changes.
    ///
    /// # Errors
    /// A file cannot be read, or `parse` refuses its contents.
    pub fn open(
        paths: Vec<PathBuf>,
        parse: impl Fn(&[String]) -> Result<T, String> + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let files = Self {
            paths,
            parse: Box::new(parse),
            last: Mutex::new(Seen {
                good: None,
                broken: None,
            }),
        };
        files.get()?;
        Ok(files)
    }

    /// The value as the files say now.
    ///
    /// # Errors
    /// The files cannot be read or parsed and no earlier value exists.
    pub fn get(&self) -> Result<Arc<T>, String> {
        let stamp = self.stamp();
        let mut seen = self.last.lock().expect("watched file lock");
        if let Some((at, value)) = &seen.good
            && (*at == stamp || seen.broken.as_ref() == Some(&stamp))
        {
            return Ok(value.clone());
        }
        match self.read() {
            Ok(value) => {
                let value = Arc::new(value);
                if seen.good.is_some() {
                    tracing::info!(files = %self.names(), "credential file changed: re-read");
                }
                seen.good = Some((stamp, value.clone()));
                seen.broken = None;
                Ok(value)
            }
            Err(problem) => match seen.good.as_ref() {
                Some((_, value)) => {
                    tracing::warn!(files = %self.names(), %problem, "credential file changed but cannot be used: keeping the previous value until it changes again");
                    let value = value.clone();
                    seen.broken = Some(stamp);
                    Ok(value)
                }
                None => Err(problem),
            },
        }
    }

    fn stamp(&self) -> Stamp {
        self.paths
            .iter()
            .map(|p| match std::fs::metadata(p) {
                Ok(m) => (m.modified().ok(), m.len(), inode(&m)),
                Err(_) => (None, u64::MAX, 0),
            })
            .collect()
    }

    fn read(&self) -> Result<T, String> {
        let mut contents = Vec::with_capacity(self.paths.len());
        for path in &self.paths {
            contents.push(
                std::fs::read_to_string(path)
                    .map_err(|err| format!("{}: cannot read the file ({err})", path.display()))?,
            );
        }
        (self.parse)(&contents)
    }

    fn names(&self) -> String {
        self.paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_value() {
        let dir = std::env::temp_dir().join(format!("watched-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, "one").unwrap();
        let files = WatchedFiles::open(vec![path.clone()], |c: &[String]| {
            let v = c[0].trim().to_owned();
            if v.is_empty() {
                Err("empty".to_owned())
            } else {
                Ok(v)
            }
        })
        .unwrap();
        assert_eq!(*files.get().unwrap(), "one");
        // Another length: a change even within the file system's timestamp resolution.
        std::fs::write(&path, "second").unwrap();
        assert_eq!(*files.get().unwrap(), "second");
        std::fs::write(&path, "").unwrap();
        assert_eq!(
            *files.get().unwrap(),
            "second",
            "a broken file keeps the last value"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
