//! The password reset's mail, from the settings: SMTP, or an outbox folder, and the page its links
//! open. A server on a database of its own with neither refuses to start (`Config::mail_target`).

use std::sync::Arc;

use crate::auth::service::ResetPolicy;
use crate::config::{Config, ConfigError, MailTarget};
use crate::mail::{Mailer, Outbox, Smtp};

pub(super) fn reset_policy(config: &Config, issuer: &str) -> Result<ResetPolicy, ConfigError> {
    let invalid = |(setting, why): (&'static str, String)| ConfigError::Invalid(setting, why);
    let mailer = match config.mail_target()? {
        MailTarget::Smtp { url } => Mailer::Smtp(Arc::new(Smtp::new(&url, &config.mail_from).map_err(invalid)?)),
        MailTarget::Outbox { folder } => {
            let outbox = Outbox::new(folder, &config.mail_from).map_err(invalid)?;
            tracing::info!(folder = %outbox.folder().display(), "password-reset mail is written to this folder, not sent");
            Mailer::Outbox(outbox)
        }
    };
    let page = match &config.password_reset_url {
        Some(page) => page.trim().to_owned(),
        None if issuer.starts_with("https://") || issuer.starts_with("http://") => {
            format!("{}/reset-password", issuer.trim_end_matches('/'))
        }
        None => {
            tracing::warn!(%issuer, "the issuer is no URL: password-reset links point at BIND; set PASSWORD_RESET_URL");
            format!("http://{}/reset-password", config.bind)
        }
    };
    Ok(ResetPolicy { mailer, ttl: config.password_reset_ttl, page })
}
