//! Keys the app generates on first run and keeps in the data directory (mode 0600): the cookie
//! signing key and the key that seals PSA secrets. Neither is ever stored in the database.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::RngCore;
use secrecy::SecretSlice;

/// Both keys, loaded or created.
pub struct Keys {
    /// 64 bytes for actix's cookie key.
    pub cookie: SecretSlice<u8>,
    /// 32 bytes for XChaCha20-Poly1305 sealing of PSA secrets.
    pub sealing: SecretSlice<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("SYNC365_DATA_DIR: {path} could not be used: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "SYNC365_DATA_DIR: {path} holds a key of the wrong length ({found} bytes, expected {expected}); restore it from backup"
    )]
    Length {
        path: String,
        found: usize,
        expected: usize,
    },
}

impl Keys {
    /// Loads `cookie.key` and `sealing.key` from the data directory, creating missing ones.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
        Ok(Self {
            cookie: load_or_create(&dir.join("cookie.key"), 64)?.into(),
            sealing: load_or_create(&dir.join("sealing.key"), 32)?.into(),
        })
    }
}

fn io(path: &Path, source: std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn load_or_create(path: &Path, len: usize) -> Result<Vec<u8>, KeyError> {
    match fs::read(path) {
        Ok(bytes) if bytes.len() == len => Ok(bytes),
        Ok(bytes) => Err(KeyError::Length {
            path: path.display().to_string(),
            found: bytes.len(),
            expected: len,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path, len),
        Err(e) => Err(io(path, e)),
    }
}

/// Writes a new random key to a private temporary file, then links it into place. The link
/// fails if the name exists, so of two instances starting at once the loser reads the winner's
/// complete key, and a crash never leaves a half-written key under the real name.
fn create(path: &Path, len: usize) -> Result<Vec<u8>, KeyError> {
    let mut key = vec![0u8; len];
    rand::rng().fill_bytes(&mut key);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    write_private(&tmp, &key)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path, len),
        Err(e) => Err(io(path, e)),
    }
}

fn write_private(path: &Path, key: &[u8]) -> Result<(), KeyError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(key)
        .and_then(|_| f.sync_all())
        .map_err(|e| io(path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| io(path, e))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn keys_are_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keys::load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join("sealing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Keys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.sealing.expose_secret(), again.sealing.expose_secret());
        assert_eq!(again.cookie.expose_secret().len(), 64);
    }

    #[test]
    fn a_truncated_key_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cookie.key"), b"short").unwrap();
        assert!(matches!(
            Keys::load_or_create(dir.path()),
            Err(KeyError::Length { .. })
        ));
    }
}
