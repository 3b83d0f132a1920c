//! Password reset. The request answers the same, in the same time, whether or not the account exists:
//! everything that depends on the account (the lookup, its share of mails, the token, the mail) runs
//! after the answer. The link carries a single-use token, stored only as a hash; its confirmation sets
//! the password and ends every session of the account in one transaction.

use std::net::IpAddr;

use crate::auth::accounts::find_account;
use crate::auth::error::AuthError;
use crate::auth::identity::Lookup;
use crate::auth::input::ResetConfirmation;
use crate::auth::service::Auth;
use crate::clock::millis;
use crate::mail::Mail;

/// Counts the request against the address (429 past its share, which says nothing about any account),
/// then hands the rest to a task of its own and returns.
pub(crate) async fn request(auth: &Auth, lookup: Lookup, ip: IpAddr) -> Result<(), AuthError> {
    auth.throttle.begin_reset_request(&auth.store, ip, auth.now()).await?;
    let auth = auth.clone();
    tokio::spawn(async move {
        if let Err(error) = send_link(&auth, &lookup).await {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), "password-reset mail not sent");
        }
    });
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

/// The account's link, by mail, unless there is no such account or it had its share of mails.
async fn send_link(auth: &Auth, lookup: &Lookup) -> Result<(), LinkError> {
    let now = auth.now();
    let Some(user) = find_account(auth, lookup).await? else {
        // The same write an account's request makes, so the work after the answer (which the next
        // request from anyone shares the machine with) does not tell the two apart either.
        let _ = auth.throttle.begin_reset_mail(&auth.store, &format!("unknown:{}", lookup.key), now).await;
        return Ok(());
    };
    if auth.throttle.begin_reset_mail(&auth.store, &user.id, now).await.is_err() {
        tracing::info!(user_id = %user.id, "password-reset mail not sent: the account had its share this hour");
        return Ok(());
    }
    let policy = &auth.password_reset;
    let token = auth.refresh.generate()?;
    auth.store.issue_password_reset(&user.id, &token.hash(), now, now + millis(policy.ttl)).await?;
    let minutes = policy.ttl.as_secs().div_ceil(60);
    let body = format!(
        "Someone asked to reset the password of your account. If it was you, open this link within \
         {minutes} minutes to choose a new password:\n\n{}#token={}\n\nEvery device signed in to the \
         account will be signed out. If it was not you, ignore this mail: your password stays as it is.\n",
        policy.page,
        token.as_str()
    );
    let mail = Mail { to: user.email.clone(), subject: "Reset your password".into(), body };
    policy.mailer.send(&mail).await?;
    tracing::info!(user_id = %user.id, "password-reset mail sent");
    Ok(())
}

/// Sets the new password if the token is unused, current and not expired, and ends every session of
/// the account in the same transaction. Returns how many sessions ended.
pub(crate) async fn confirm(auth: &Auth, confirmation: ResetConfirmation) -> Result<u64, AuthError> {
    let ResetConfirmation { token, new } = confirmation;
    // A dead token costs a read, not a password hash: 256 random bits leave nothing to learn from the
    // difference, and guessing cannot make the server hash on demand. The write below checks again.
    if !auth.store.password_reset_is_live(&token.hash(), auth.now()).await? {
        return Err(AuthError::ResetTokenInvalid);
    }
    let password_hash = auth.passwords.hash(new.for_hashing()).await?;
    let reset = auth.store.reset_password(&token.hash(), &password_hash, auth.now()).await?;
    let (user_id, ended) = reset.ok_or(AuthError::ResetTokenInvalid)?;
    tracing::info!(%user_id, ended, "password reset; every session ended");
    Ok(ended)
}
