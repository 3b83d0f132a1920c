//! Register, login, refresh and logout.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use shared::auth::{DEFAULT_ROLE, LoginRequest, LoginResponse, RefreshRequest, RegisterRequest, TOKEN_TYPE, TokenPair};
use shared::paths;

use super::{public_user, reply, subject};
use crate::error::ApiError;
use crate::extract::{Caller, Claims, ClientIp, Json};
use crate::passwords::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::state::AppState;
use crate::store::{NewSession, NewUser, Rejection, Rotation, RotationRequest};
use crate::tokens::{RefreshToken, now_millis, seconds_until};

const MAX_USERNAME_CHARS: usize = 64;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_DEVICE_FIELD_CHARS: usize = 128;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTER, post(register))
        .route(paths::LOGIN, post(login))
        .route(paths::REFRESH, post(refresh_token))
        .route(paths::LOGOUT, post(logout))
        .route(paths::LOGOUT_ALL, post(logout_all))
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterRequest>,
) -> Result<Response, ApiError> {
    let username = body.username.trim();
    if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
        return Err(ApiError::Validation(format!("username must be 1 to {MAX_USERNAME_CHARS} characters")));
    }
    let email = normalize_email(&body.email)?;
    let length = body.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        return Err(ApiError::Validation(format!(
            "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let now = now_millis();
    state.throttle.begin_registration(&state.store, ip, now).await?;
    let password_hash = state.passwords.hash(body.password).await?;
    let new = NewUser { username, email: &email, password_hash: &password_hash, role: DEFAULT_ROLE, now };
    let user = state.store.create_user(new).await?.ok_or(ApiError::EmailTaken)?;
    tracing::info!(user_id = %user.id, "account created");
    Ok(reply(StatusCode::CREATED, "account created", public_user(&user)))
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || body.password.is_empty() {
        return Err(ApiError::Validation("email and password are required".into()));
    }
    if body.password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(ApiError::Validation(format!("password must be at most {MAX_PASSWORD_CHARS} characters")));
    }
    let device_id = optional_field("deviceId", body.device_id.as_deref())?;
    let device_name = optional_field("deviceName", body.device_name.as_deref())?;
    let app_id = optional_field("appId", body.app_id.as_deref())?;

    let now = now_millis();
    // The slot is taken before the password is checked, so parallel guesses cannot outrun the count.
    let slots = state.throttle.begin_login(&state.store, &email, ip, now).await?;
    let user = state.store.user_by_email(&email).await?;
    let matches = state.passwords.verify(body.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(ApiError::InvalidCredentials);
    };
    state.throttle.login_succeeded(&state.store, slots).await?;

    let refresh = state.refresh.generate()?;
    let (expires_at, max_expires_at) = state.sessions.initial_expiry(now);
    let session = state
        .store
        .create_session(NewSession {
            user_id: &user.id,
            device_id,
            device_name,
            app_id,
            refresh_hash: &refresh.hash(),
            now,
            expires_at,
            max_expires_at,
        })
        .await?;
    let (access_token, expires_in) = state.access.issue(subject(&user, &session.id), now)?;
    state.metrics.login();
    tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
    let tokens = TokenPair {
        access_token,
        refresh_token: refresh.into_string(),
        token_type: TOKEN_TYPE.into(),
        expires_in,
        refresh_expires_in: seconds_until(session.expires_at, now),
    };
    let data = LoginResponse { tokens, username: user.username, email: user.email, role: user.role };
    Ok(reply(StatusCode::OK, "login successful", data))
}

async fn refresh_token(State(state): State<AppState>, Json(body): Json<RefreshRequest>) -> Result<Response, ApiError> {
    let raw = body.refresh_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let raw = raw.ok_or(ApiError::RefreshTokenMissing)?;
    let presented = RefreshToken::parse(raw).ok_or(ApiError::RefreshTokenInvalid("refresh token is invalid"))?;
    let successor = state.refresh.successor(&presented);
    let now = now_millis();
    let policy = state.sessions;
    let outcome = state
        .store
        .rotate(RotationRequest {
            presented: &presented.hash(),
            successor: &successor.hash(),
            now,
            sliding_ttl_ms: policy.sliding.then_some(policy.refresh_ttl_ms),
            grace_ms: policy.grace_ms,
        })
        .await?;
    let (session, from_grace) = match outcome {
        Rotation::Rotated(session) => (session, false),
        Rotation::Grace(session) => (session, true),
        Rotation::Reused { session_id } => {
            state.metrics.reuse();
            tracing::warn!(%session_id, "refresh token reuse detected; session revoked");
            return Err(ApiError::RefreshTokenReused);
        }
        Rotation::Rejected(Rejection::Unknown) => {
            return Err(ApiError::RefreshTokenInvalid("refresh token is invalid"));
        }
        Rotation::Rejected(Rejection::Expired) => {
            return Err(ApiError::RefreshTokenInvalid("refresh token has expired"));
        }
        Rotation::Rejected(Rejection::Revoked) => {
            return Err(ApiError::RefreshTokenInvalid("session has been revoked"));
        }
    };
    // The new access token carries the user's current name and role, read fresh from the account.
    let user = state.store.user_by_id(&session.user_id).await?;
    let user = user.ok_or(ApiError::RefreshTokenInvalid("account no longer exists"))?;
    let (access_token, expires_in) = state.access.issue(subject(&user, &session.id), now)?;
    state.metrics.refresh(from_grace);
    tracing::info!(session_id = %session.id, grace = from_grace, "refreshed");
    let data = TokenPair {
        access_token,
        refresh_token: successor.into_string(),
        token_type: TOKEN_TYPE.into(),
        expires_in,
        refresh_expires_in: seconds_until(session.expires_at, now),
    };
    Ok(reply(StatusCode::OK, "token refreshed", data))
}

/// Idempotent: a valid access token of an already ended session still gets 200.
async fn logout(State(state): State<AppState>, Claims(claims): Claims) -> Result<Response, ApiError> {
    state.store.revoke_session(&claims.sid, &claims.sub, now_millis(), "logout").await?;
    tracing::info!(session_id = %claims.sid, "logged out");
    Ok(reply(StatusCode::OK, "logged out", ()))
}

async fn logout_all(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let revoked = state.store.revoke_all_sessions(&caller.user.id, now_millis(), "logout_all").await?;
    tracing::info!(user_id = %caller.user.id, revoked, "logged out everywhere");
    Ok(reply(StatusCode::OK, "logged out on every device", ()))
}

/// Trimmed and lower-cased, so `Ann@Example.com` and `ann@example.com` are one account.
fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let invalid = || ApiError::Validation("email address is invalid".into());
    if email.chars().count() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

fn optional_field<'a>(name: &str, value: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) if value.chars().count() > MAX_DEVICE_FIELD_CHARS => {
            Err(ApiError::Validation(format!("{name} must be at most {MAX_DEVICE_FIELD_CHARS} characters")))
        }
        Some(value) => Ok(Some(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@example.com", "ann@.com"]
        {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
