//! The HS256 and refresh-successor key: given as `JWT_SECRET`, or generated once for the embedded
//! default set-up and kept in DATA_DIR with mode 0600.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::ConfigError;

/// Minimum length of `JWT_SECRET`: HS256 keys shorter than the hash output weaken it.
pub(super) const MIN_SECRET_BYTES: usize = 32;
/// File in the data dir holding the generated key of the embedded default set-up.
pub(super) const GENERATED_SECRET_FILE: &str = "jwt-secret";

/// Key material whose `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl FromStr for Secret {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.len() < MIN_SECRET_BYTES {
            return Err(format!("must be at least {MIN_SECRET_BYTES} bytes"));
        }
        Ok(Self(value.as_bytes().to_vec()))
    }
}

pub(super) fn load_or_create(data_dir: &Path) -> Result<Secret, ConfigError> {
    let path = data_dir.join(GENERATED_SECRET_FILE);
    let wrap = |source| ConfigError::SecretFile { path: path.clone(), source };
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_BYTES => return Ok(Secret(bytes)),
        Ok(_) => {
            return Err(ConfigError::Invalid(
                "JWT_SECRET",
                format!("file {} is shorter than {MIN_SECRET_BYTES} bytes", path.display()),
            ));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(wrap(error)),
    }
    std::fs::create_dir_all(data_dir).map_err(wrap)?;
    let mut raw = [0u8; 48];
    getrandom::getrandom(&mut raw).map_err(|e| wrap(e.into()))?;
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
    write_private(&path, encoded.as_bytes()).map_err(wrap)?;
    tracing::info!(path = %path.display(), "generated a signing key for the embedded default set-up");
    Ok(Secret(encoded.into_bytes()))
}

/// Creates the file readable by its owner only; `create_new` so two starting processes cannot clobber it.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
