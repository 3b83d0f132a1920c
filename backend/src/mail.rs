//! Outgoing mail through one port, [`Mailer`], with two adapters: SMTP (`SMTP_URL`, for production)
//! and an outbox folder of `.eml` files (the embedded default, or `MAIL_OUTBOX`), which nothing serves
//! over HTTP. Only the password reset sends mail.

mod outbox;
mod smtp;

use std::path::PathBuf;
use std::sync::Arc;

pub(crate) use outbox::Outbox;
pub(crate) use smtp::Smtp;

/// One message: plain text to one address.
#[derive(Clone)]
pub(crate) struct Mail {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) body: String,
}

impl std::fmt::Debug for Mail {
    /// Never the body: it carries a single-use token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MailError {
    #[error("the message cannot be built: {0}")]
    Message(String),
    #[error("the SMTP server refused or could not be reached")]
    Smtp(#[source] lettre::transport::smtp::Error),
    #[error("cannot write to the outbox {path}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub(crate) enum Mailer {
    Smtp(Arc<Smtp>),
    Outbox(Outbox),
}

impl Mailer {
    pub(crate) async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match self {
            Self::Smtp(smtp) => smtp.send(mail).await,
            Self::Outbox(outbox) => outbox.send(mail).await,
        }
    }
}

/// The message as lettre builds it, from `from`.
fn message(from: &lettre::message::Mailbox, mail: &Mail) -> Result<lettre::Message, MailError> {
    let to = mail.to.parse().map_err(|e: lettre::address::AddressError| MailError::Message(e.to_string()))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&mail.subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| MailError::Message(e.to_string()))
}
