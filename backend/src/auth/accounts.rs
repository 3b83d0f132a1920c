//! Sign-up and login: the flows behind their handlers, which only parse and answer.

use std::net::IpAddr;

use shared::auth::DEFAULT_ROLE;

use crate::auth::error::AuthError;
use crate::auth::input::{Credentials, NewAccount, Password};
use crate::auth::service::{Auth, Issued, subject};
use crate::auth::throttle::PasswordCheck;
use crate::auth::tokens::seconds_until;
use crate::metrics::LoginOutcome;
use crate::store::{NewSession, NewUser, UserRecord};

/// Throttles by address, hashes the password (on the sign-up pool), and creates the account.
pub(crate) async fn register(auth: &Auth, account: NewAccount, ip: IpAddr) -> Result<UserRecord, AuthError> {
    let now = auth.now();
    auth.throttle.begin_registration(&auth.store, ip, now).await?;
    let password_hash = auth.passwords.hash(account.password.expose()).await?;
    let new = NewUser {
        username: &account.username,
        email: account.email.as_str(),
        password_hash: &password_hash,
        role: DEFAULT_ROLE,
        now,
    };
    let user = auth.store.create_user(new).await?.ok_or(AuthError::EmailTaken)?;
    tracing::info!(user_id = %user.id, "account created");
    Ok(user)
}

/// The account, if `password` is its password. An unknown e-mail costs the same hash as a known one.
async fn check_password(auth: &Auth, email: &str, password: Password) -> Result<Option<UserRecord>, AuthError> {
    let user = auth.store.user_by_email(email).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = auth.passwords.verify(password.expose(), stored_hash).await?;
    Ok(user.filter(|_| matches))
}

/// Reserves the throttle places before the password is checked (so parallel guesses cannot outrun the
/// count), checks it, and starts a session.
pub(crate) async fn log_in(auth: &Auth, credentials: Credentials, ip: IpAddr) -> Result<Issued, AuthError> {
    let Credentials { email, password, device } = credentials;
    let now = auth.now();
    let slots = match auth.throttle.begin_login(&auth.store, auth.clock.as_ref(), email.as_str(), ip).await {
        Err(throttled @ AuthError::RateLimited { .. }) => {
            auth.metrics.login(LoginOutcome::Throttled);
            return Err(throttled);
        }
        slots => slots?,
    };
    let checked = check_password(auth, email.as_str(), password).await;
    let outcome = match &checked {
        Ok(Some(_)) => PasswordCheck::Succeeded,
        Ok(None) => PasswordCheck::Failed,
        Err(_) => PasswordCheck::Abandoned,
    };
    auth.throttle.end_login(&auth.store, slots, outcome).await?;
    let Some(user) = checked? else {
        auth.metrics.login(LoginOutcome::Failed);
        return Err(AuthError::InvalidCredentials);
    };

    let refresh = auth.refresh.generate()?;
    let (expires_at, max_expires_at) = auth.sessions.initial_expiry(now);
    let session = auth
        .store
        .create_session(NewSession {
            user_id: &user.id,
            device_id: device.id.as_deref(),
            device_name: device.name.as_deref(),
            app_id: device.app.as_deref(),
            refresh_hash: &refresh.hash(),
            now,
            expires_at,
            max_expires_at,
        })
        .await?;
    let (access_token, expires_in) = auth.access.issue(subject(&user, &session.id, session.app_id.as_deref()), now)?;
    auth.metrics.login(LoginOutcome::Succeeded);
    tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
    let refresh_expires_in = seconds_until(session.expires_at, now);
    Ok(Issued { access_token, expires_in, refresh, refresh_expires_in, user })
}
