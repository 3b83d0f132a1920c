//! A DPoP key for native clients (features `native` and `dpop`): an ES256 key pair from ring, its
//! PKCS#8 kept in a file only the user can read (0600), so a restarted process proves the same key
//! its session is bound to.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::dpop::{DpopError, DpopSigner, PublicJwk};

/// An ES256 key kept in a file.
pub struct FileDpopKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    path: PathBuf,
}

impl std::fmt::Debug for FileDpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDpopKey").field("path", &self.path).finish_non_exhaustive()
    }
}

impl FileDpopKey {
    /// The key in `path`, made and written there (mode 0600, never over an existing file) when there is
    /// none. A file that holds no key is an error, not a reason to make another: a new key would
    /// orphan the session bound to the old one.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self, DpopError> {
        let path = path.as_ref().to_owned();
        let rng = SystemRandom::new();
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let fresh = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| DpopError("cannot generate a key".into()))?;
                match write_private(&path, fresh.as_ref()) {
                    Ok(()) => fresh.as_ref().to_vec(),
                    // Another process made it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path).map_err(|e| DpopError(format!("{}: {e}", path.display())))?
                    }
                    Err(error) => return Err(DpopError(format!("{}: {error}", path.display()))),
                }
            }
            Err(error) => return Err(DpopError(format!("{}: {error}", path.display()))),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| DpopError(format!("{} holds no P-256 key", path.display())))?;
        Ok(Self { pair, rng, path })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl DpopSigner for FileDpopKey {
    fn public_jwk(&self) -> PublicJwk {
        // The uncompressed point: 0x04, x, y.
        let point = self.pair.public_key().as_ref();
        PublicJwk { x: URL_SAFE_NO_PAD.encode(&point[1..33]), y: URL_SAFE_NO_PAD.encode(&point[33..65]) }
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, DpopError> {
        let signature = self.pair.sign(&self.rng, input).map_err(|_| DpopError("signing failed".into()))?;
        Ok(signature.as_ref().to_vec())
    }

    fn unique_id(&self) -> String {
        let mut bytes = [0u8; 16];
        // The system's generator does not fail on any platform ring supports; a zero id would only be
        // refused as a replay.
        let _ = self.rng.fill(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_loaded_again() {
        let dir = std::env::temp_dir().join(format!("dpop-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.p8");
        let _ = std::fs::remove_file(&path);
        let first = FileDpopKey::load_or_create(&path).unwrap();
        let again = FileDpopKey::load_or_create(&path).unwrap();
        assert_eq!(first.public_jwk(), again.public_jwk(), "a restart proves the same key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_ne!(first.unique_id(), first.unique_id());
        std::fs::write(&path, b"not a key").unwrap();
        assert!(FileDpopKey::load_or_create(&path).is_err(), "a damaged file is an error, never a new key");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
