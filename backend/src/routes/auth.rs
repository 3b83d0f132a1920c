//! Register, login, refresh and logout.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use shared::auth::{DEFAULT_ROLE, LoginRequest, RegisterRequest};
use shared::paths;

use super::{public_user, reply, subject};
use crate::delivery::{Delivery, Issued, clear_refresh_cookie, refresh_cookie};
use crate::error::ApiError;
use crate::extract::{Caller, Claims, ClientIp, Json};
use crate::passwords::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::state::AppState;
use crate::store::{NewSession, NewUser};
use crate::tokens::{RefreshToken, now_millis, seconds_until};

const MAX_USERNAME_CHARS: usize = 64;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_DEVICE_FIELD_CHARS: usize = 128;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTER, post(register))
        .route(paths::LOGIN, post(login))
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
    delivery: Delivery,
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
    let refresh_expires_in = seconds_until(session.expires_at, now);
    let issued = Issued { access_token, expires_in, refresh, refresh_expires_in, user };
    Ok(delivery.answer("login successful", issued, true))
}

/// Idempotent: a valid access token of an already ended session still gets 200. In cookie mode the
/// session is the one the Bearer token or the cookie names, the cookie is cleared, and an answer with
/// neither is still 200: there is nothing left to end.
async fn logout(
    State(state): State<AppState>,
    delivery: Delivery,
    claims: Result<Claims, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = now_millis();
    let mut ended = Vec::new();
    match (delivery, claims) {
        (Delivery::Body, claims) => ended.push(claims?.0.session()),
        (Delivery::Cookie, claims) => {
            ended.extend(claims.ok().map(|Claims(c)| c.session()));
            let cookie = refresh_cookie(&headers).and_then(RefreshToken::parse);
            if let Some(token) = cookie {
                ended.extend(state.store.session_for_refresh_hash(&token.hash()).await?);
            }
        }
    }
    for (session_id, user_id) in &ended {
        state.store.revoke_session(session_id, user_id, now, "logout").await?;
        tracing::info!(%session_id, "logged out");
    }
    let mut response = reply(StatusCode::OK, "logged out", ());
    if delivery == Delivery::Cookie {
        clear_refresh_cookie(&mut response);
    }
    Ok(response)
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
