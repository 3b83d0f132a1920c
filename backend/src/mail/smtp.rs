//! The SMTP adapter: `smtp://host[:port]` upgrades with STARTTLS when the server offers it,
//! `smtps://host[:port]` speaks TLS from the start; `user:password@` in the URL logs in.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Mail, MailError, message};

pub(crate) struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Smtp {
    /// Never the URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Smtp {
    /// From `SMTP_URL` and `MAIL_FROM`; the error names the setting and what is wrong with it, never
    /// the password.
    pub(crate) fn new(url: &str, from: &str) -> Result<Self, (&'static str, String)> {
        let from: Mailbox = from.parse().map_err(|e| ("MAIL_FROM", format!("is not an address: {e}")))?;
        let invalid = |why: String| ("SMTP_URL", why);
        let url = url::Url::parse(url.trim()).map_err(|e| invalid(format!("is not a URL: {e}")))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("names no host".into()))?;
        let host = host.to_owned();
        let tls = |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| invalid(e.to_string()));
        let (builder, default_port) = match url.scheme() {
            "smtp" => (
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).tls(Tls::Opportunistic(tls(&host)?)),
                25,
            ),
            "smtps" => {
                (AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).tls(Tls::Wrapper(tls(&host)?)), 465)
            }
            other => return Err(invalid(format!("must start with smtp:// or smtps://, not {other}://"))),
        };
        let mut builder = builder.port(url.port().unwrap_or(default_port));
        if !url.username().is_empty() {
            let decode = |part: &str| percent_decode(part);
            let password = decode(url.password().unwrap_or_default());
            builder = builder.credentials(Credentials::new(decode(url.username()), password));
        }
        Ok(Self { transport: builder.build(), from })
    }

    pub(super) async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = message(&self.from, mail)?;
        self.transport.send(message).await.map(drop).map_err(MailError::Smtp)
    }
}

/// `%xx` escapes of a URL's user or password, decoded.
fn percent_decode(part: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).unwrap_or_default();
    pairs.into_iter().next().map(|(_, value)| value).unwrap_or_default()
}
