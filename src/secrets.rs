//! Random tokens and ids, and the files that hold secrets. At the bottom of the layers
//! (beside `config` and `telemetry`): login, OAuth, sessions, SAML and start-up all need
//! unguessable values and owner-only files, and each must get them the same way.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::Config;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A secret file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The secret file holds too little to be a secret: it was not written by us.
    #[error(
        "{path}: {len} bytes, a secret needs at least {MIN_SECRET_BYTES}; delete the file to generate a new one, or set `secret`"
    )]
    TooShort {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
}

/// Shortest gateway secret accepted (256 bits, as [`random_token`] gives).
pub const MIN_SECRET_BYTES: usize = 32;

/// `N` bytes from the thread's CSPRNG (ChaCha, reseeded from the OS).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    rand::random()
}

/// A fresh random token: 256 bits, base64url. Session ids, CSRF and binding cookies,
/// OAuth codes and tokens, RelayState.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Creates `path` holding `bytes`, readable by its owner only, unless the file exists, and
/// returns what the file holds then: ours, or what another process wrote first. Never
/// overwrites: two instances starting together on one `data_dir` must end up with the same
/// key, not each with its own (the loser's signatures or tokens would fail on the winner).
///
/// The bytes go to a temporary file first and are hard-linked into place, which fails when
/// the name exists: `path` is never seen half written, even by a process reading it back
/// at the same moment.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", hex(&random_bytes::<8>())));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(bytes.to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written
}

/// The gateway secret (CSRF, DNS proof tokens): from config, else generated once into
/// `data_dir/secret` (see [`create_private`]).
pub fn gateway_secret(config: &Config) -> Result<Vec<u8>, SecretsError> {
    if let Some(s) = &config.secret {
        return Ok(s.as_bytes().to_vec());
    }
    let path = config.data_dir.join("secret");
    let io = |source| SecretsError::Io {
        path: path.display().to_string(),
        source,
    };
    let secret = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&config.data_dir).map_err(io)?;
            create_private(&path, random_token().as_bytes()).map_err(io)?
        }
        Err(e) => return Err(io(e)),
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(SecretsError::TooShort {
            path: path.display().to_string(),
            len: secret.len(),
        });
    }
    Ok(secret)
}

/// Lower-case hex: how ids, proof tokens and digests are spelled in text.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of an OAuth client secret: what `client_secret_hash` holds, written by
/// `realmgate client secret` and the management API, compared by the token endpoint. A
/// fast hash suffices because the secret is 256 random bits, never a person's password; it
/// keeps the token endpoint as fast for confidential clients as for public ones.
pub fn secret_hash(secret: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn create_private_keeps_the_first_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        assert_eq!(create_private(&path, b"first").unwrap(), b"first");
        assert_eq!(create_private(&path, b"second").unwrap(), b"first");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn racing_writers_all_read_the_winner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let results: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let path = &path;
                    s.spawn(move || create_private(path, &[i; 64]).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = std::fs::read(&path).unwrap();
        assert!(results.iter().all(|r| *r == on_disk));
    }

    #[test]
    fn a_short_secret_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        std::fs::write(dir.path().join("secret"), b"short").unwrap();
        assert!(matches!(
            gateway_secret(&config),
            Err(SecretsError::TooShort { len: 5, .. })
        ));
        assert_eq!(std::fs::read(dir.path().join("secret")).unwrap(), b"short");
    }

    #[test]
    fn the_generated_secret_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let a = gateway_secret(&config).unwrap();
        assert!(a.len() >= MIN_SECRET_BYTES);
        assert_eq!(gateway_secret(&config).unwrap(), a);
    }
}
