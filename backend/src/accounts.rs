//! The flows behind sign-up and login, so their handlers read as parse, call, answer.

use std::net::IpAddr;

use shared::auth::DEFAULT_ROLE;

use crate::delivery::Issued;
use crate::domain::{Credentials, NewAccount};
use crate::error::ApiError;
use crate::routes::subject;
use crate::state::AppState;
use crate::store::{NewSession, NewUser, UserRecord};
use crate::tokens::seconds_until;

/// Throttles by address, hashes the password (on the sign-up pool), and creates the account.
pub(crate) async fn register(state: &AppState, account: NewAccount, ip: IpAddr) -> Result<UserRecord, ApiError> {
    let now = state.now();
    state.throttle.begin_registration(&state.store, ip, now).await?;
    let password_hash = state.passwords.hash(account.password.expose()).await?;
    let new = NewUser {
        username: &account.username,
        email: account.email.as_str(),
        password_hash: &password_hash,
        role: DEFAULT_ROLE,
        now,
    };
    let user = state.store.create_user(new).await?.ok_or(ApiError::EmailTaken)?;
    tracing::info!(user_id = %user.id, "account created");
    Ok(user)
}

/// Takes the throttle slots before the password is checked (so parallel guesses cannot outrun the
/// count), checks it, and starts a session.
pub(crate) async fn log_in(state: &AppState, credentials: Credentials, ip: IpAddr) -> Result<Issued, ApiError> {
    let Credentials { email, password, device } = credentials;
    let now = state.now();
    let slots = match state.throttle.begin_login(&state.store, email.as_str(), ip, now).await {
        Err(throttled @ ApiError::RateLimited { .. }) => {
            state.metrics.login("throttled");
            return Err(throttled);
        }
        slots => slots?,
    };
    let user = state.store.user_by_email(email.as_str()).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = state.passwords.verify(password.expose(), stored_hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        state.metrics.login("failed");
        return Err(ApiError::InvalidCredentials);
    };
    state.throttle.login_succeeded(&state.store, slots).await?;

    let refresh = state.refresh.generate()?;
    let (expires_at, max_expires_at) = state.sessions.initial_expiry(now);
    let session = state
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
    let (access_token, expires_in) = state.access.issue(subject(&user, &session.id), now)?;
    state.metrics.login("succeeded");
    tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
    let refresh_expires_in = seconds_until(session.expires_at, now);
    Ok(Issued { access_token, expires_in, refresh, refresh_expires_in, user })
}
