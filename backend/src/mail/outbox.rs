//! The outbox adapter: each message is an `.eml` file (RFC 5322, as an SMTP server would receive it) in
//! a folder only its owner may read, written whole under a temporary name and then renamed, so a
//! reader never sees half of one.

use std::path::PathBuf;

use lettre::message::Mailbox;

use super::{Mail, MailError, message};

#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    folder: PathBuf,
    from: Mailbox,
}

impl Outbox {
    pub(crate) fn new(folder: PathBuf, from: &str) -> Result<Self, (&'static str, String)> {
        let from = from.parse().map_err(|e| ("MAIL_FROM", format!("is not an address: {e}")))?;
        Ok(Self { folder, from })
    }

    pub(crate) fn folder(&self) -> &std::path::Path {
        &self.folder
    }

    pub(super) async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let formatted = message(&self.from, mail)?.formatted();
        let error = |source| MailError::Outbox { path: self.folder.clone(), source };
        // Only this user may read the folder and its files: each mail carries a working reset link.
        let mut folder = tokio::fs::DirBuilder::new();
        folder.recursive(true).mode(0o700);
        folder.create(&self.folder).await.map_err(error)?;
        let name = format!("{}-{}", sortable_timestamp(), uuid::Uuid::new_v4().simple());
        let partial = self.folder.join(format!(".{name}.partial"));
        let path = self.folder.join(format!("{name}.eml"));
        let mut file = tokio::fs::OpenOptions::new();
        file.write(true).create_new(true).mode(0o600);
        let mut file = file.open(&partial).await.map_err(error)?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &formatted).await.map_err(error)?;
        file.sync_all().await.map_err(error)?;
        drop(file);
        tokio::fs::rename(&partial, &path).await.map_err(error)?;
        tracing::info!(path = %path.display(), "mail written to the outbox");
        Ok(())
    }
}

/// Milliseconds since the epoch, zero-padded, so file names sort by time.
fn sortable_timestamp() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    format!("{ms:015}")
}
