//! Sign-up, login, re-authentication and password change: the flows behind their handlers, which only
//! parse and answer.

use std::net::IpAddr;

use shared::auth::DEFAULT_ROLE;

use crate::auth::error::AuthError;
use crate::auth::identity::{self, Lookup};
use crate::auth::input::{Credentials, Device, NewAccount, Origin, Password, PasswordChange};
use crate::auth::service::{Auth, Issued, subject};
use crate::auth::throttle::PasswordCheck;
use crate::auth::tokens::seconds_until;
use crate::metrics::LoginOutcome;
use crate::store::{NewSession, NewUser, SignUp, UserRecord};

/// Throttles by address, hashes the password (on the sign-up pool), and creates the account.
pub(crate) async fn register(auth: &Auth, account: NewAccount, ip: IpAddr) -> Result<UserRecord, AuthError> {
    let now = auth.now();
    auth.throttle.begin_registration(&auth.store, ip, now).await?;
    let password_hash = auth.passwords.hash(account.password.for_hashing()).await?;
    let email = account.email.identity();
    let new = NewUser {
        username: &account.username,
        email: &email.stored,
        email_key: &email.key,
        email_skeleton: &email.skeleton,
        identity_rule: identity::RULE_VERSION,
        password_hash: &password_hash,
        role: DEFAULT_ROLE,
        now,
    };
    match auth.store.create_user(new).await? {
        SignUp::Created(user) => {
            tracing::info!(user_id = %user.id, "account created");
            Ok(user)
        }
        SignUp::Taken => Err(AuthError::EmailTaken),
        SignUp::LooksLike => Err(AuthError::Invalid(
            "email looks like the address of an existing account (a character from another script in place of \
             a Latin one?); use another address"
                .into(),
        )),
    }
}

/// The account a login's address names: the only one with its key, or, where accounts from before the
/// identity rule share one, the one stored with exactly this spelling, else the one that holds the key.
pub(crate) async fn find_account(auth: &Auth, lookup: &Lookup) -> Result<Option<UserRecord>, AuthError> {
    let mut candidates = auth.store.users_by_email_key(&lookup.key).await?;
    if candidates.len() > 1 {
        let exact = candidates.iter().position(|(user, _)| lookup.spellings.contains(&user.email));
        let holder = candidates.iter().position(|(_, holds)| *holds);
        return Ok(exact.or(holder).map(|at| candidates.swap_remove(at).0));
    }
    Ok(candidates.pop().map(|(user, _)| user))
}

/// The account, if `password` is its password. An address with no account costs the same hash as one
/// with an account.
/// The normalised form is compared first; a hash written before passwords were normalised may hold the
/// form as typed, which is tried next and, when it matches, replaced by a hash of the normalised form.
async fn check_password(
    auth: &Auth,
    user: Option<UserRecord>,
    password: Password,
) -> Result<Option<UserRecord>, AuthError> {
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let normalized = password.normalized();
    let raw = password.expose();
    let first = normalized.clone().unwrap_or_else(|| raw.clone());
    if auth.passwords.verify(first, stored_hash.clone()).await? {
        return Ok(user);
    }
    let Some(normalized) = normalized.filter(|n| *n != raw) else { return Ok(None) };
    // Asked whether or not the account exists, so the second hash tells nobody that it does.
    let matches_as_typed = auth.passwords.verify(raw, stored_hash).await?;
    let Some(user) = user.filter(|_| matches_as_typed) else { return Ok(None) };
    let rehashed = auth.passwords.hash(normalized).await?;
    if auth.store.replace_password_hash(&user.id, &user.password_hash, &rehashed).await? {
        tracing::info!(user_id = %user.id, "password hash rewritten in its normalised form");
    }
    Ok(Some(user))
}

/// Reserves the throttle places before the password is checked (so parallel guesses cannot outrun the
/// count), checks it, and settles the places: the account if the password is right, else
/// `InvalidCredentials` (or 429 once failures fill the limit). Runs as a task of its own, so a client
/// that hangs up mid-check cannot leave its reservation unsettled (which would hold the account's
/// places until the lease lapses).
async fn throttled_password_check(
    auth: &Auth,
    account: Account,
    password: Password,
    ip: IpAddr,
) -> Result<UserRecord, AuthError> {
    let auth = auth.clone();
    let checking = tokio::spawn(async move { check_and_settle(&auth, account, password, ip).await });
    checking.await.map_err(|_| AuthError::Interrupted)?
}

/// Whose password is checked: an address to look up, or an account already known.
enum Account {
    Named(Lookup),
    Known(UserRecord),
}

async fn check_and_settle(
    auth: &Auth,
    account: Account,
    password: Password,
    ip: IpAddr,
) -> Result<UserRecord, AuthError> {
    // Failures count against the identity key, so every spelling of one address shares one limit.
    let throttle_key = match &account {
        Account::Named(lookup) => lookup.key.clone(),
        Account::Known(user) => identity::of_stored(&user.email).0,
    };
    let slots = match auth.throttle.begin_login(&auth.store, auth.clock.as_ref(), &throttle_key, ip).await {
        Err(throttled @ AuthError::RateLimited { .. }) => {
            auth.metrics.login(LoginOutcome::Throttled);
            return Err(throttled);
        }
        slots => slots?,
    };
    let checked = match account {
        Account::Named(lookup) => match find_account(auth, &lookup).await {
            Ok(user) => check_password(auth, user, password).await,
            Err(error) => Err(error),
        },
        // Read again: the password may have changed since this request's account was read.
        Account::Known(user) => match auth.store.user_by_id(&user.id).await {
            Ok(fresh) => check_password(auth, fresh, password).await,
            Err(error) => Err(error.into()),
        },
    };
    let outcome = match &checked {
        Ok(Some(_)) => PasswordCheck::Succeeded,
        Ok(None) => PasswordCheck::Failed,
        Err(_) => PasswordCheck::Abandoned,
    };
    auth.throttle.end_login(&auth.store, slots, outcome).await?;
    checked?.ok_or_else(|| {
        auth.metrics.login(LoginOutcome::Failed);
        AuthError::InvalidCredentials
    })
}

/// Checks the password (throttled) and starts a session, remembered or not, recording where it came
/// from; past the per-user cap, the least recently used session ends.
/// `dpop_jkt` binds the session to the DPoP key the request proved.
pub(crate) async fn log_in(
    auth: &Auth,
    credentials: Credentials,
    origin: Origin,
    dpop_jkt: Option<&str>,
) -> Result<Issued, AuthError> {
    let Credentials { email, password, device, remember } = credentials;
    let user = throttled_password_check(auth, Account::Named(email), password, origin.ip).await?;
    let start = SessionStart { device: &device, remember, origin: Some(&origin), dpop_jkt };
    let issued = start_session(auth, user, start, auth.sessions.max_sessions).await?;
    auth.metrics.login(LoginOutcome::Succeeded);
    Ok(issued)
}

/// Opens a session for `user`, whose identity is already proved, and issues its first tokens. Past
/// `max_sessions` live sessions (0: no cap) the least recently used ends.
pub(crate) async fn start_session(
    auth: &Auth,
    user: UserRecord,
    start: SessionStart<'_>,
    max_sessions: u32,
) -> Result<Issued, AuthError> {
    let SessionStart { device, remember, origin, dpop_jkt } = start;
    let now = auth.now();
    // Before the session is written, so a login that cannot sign leaves nothing behind.
    let key = auth.access.signing_key(now).await?;
    let refresh = auth.refresh.generate()?;
    let (expires_at, max_expires_at) = auth.sessions.initial_expiry(now, remember);
    let ip = origin.map(|origin| origin.ip.to_string());
    let session = auth
        .store
        .create_session(NewSession {
            user_id: &user.id,
            device_id: device.id.as_deref(),
            device_name: device.name.as_deref(),
            app_id: device.app.as_deref(),
            refresh_hash: &refresh.hash(),
            live: auth.sessions.liveness(now),
            expires_at,
            max_expires_at,
            remembered: remember,
            ip: ip.as_deref(),
            user_agent: origin.and_then(|origin| origin.user_agent.as_deref()),
            max_sessions,
            dpop_jkt,
        })
        .await?;
    let (access_token, expires_in) = auth.access.issue(&key, subject(&user, &session), now)?;
    tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
    let refresh_expires_in = seconds_until(session.expires_at, now);
    let dpop_bound = session.dpop_jkt.is_some();
    Ok(Issued { access_token, expires_in, refresh, refresh_expires_in, user, remembered: remember, dpop_bound })
}

/// How a session starts: from which device, remembered or not, from where, bound to which DPoP key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionStart<'a> {
    pub(crate) device: &'a Device,
    pub(crate) remember: bool,
    pub(crate) origin: Option<&'a Origin>,
    pub(crate) dpop_jkt: Option<&'a str>,
}

/// Changes the caller's password: the current one is checked like a login (same throttle, so this is
/// no guessing oracle), the new one follows the sign-up rules, and every *other* session of the user
/// ends in the same transaction as the change. The caller's session goes on. Returns how many ended.
pub(crate) async fn change_password(
    auth: &Auth,
    user: &UserRecord,
    session_id: &str,
    change: PasswordChange,
    ip: IpAddr,
) -> Result<u64, AuthError> {
    let PasswordChange { current, new } = change;
    // Compared only once the current password is proved, so the answer tells a guesser nothing.
    let unchanged = current.same_as(&new);
    throttled_password_check(auth, Account::Known(user.clone()), current, ip).await?;
    if unchanged {
        return Err(AuthError::PasswordUnchanged);
    }
    let password_hash = auth.passwords.hash(new.for_hashing()).await?;
    let revoked = auth.store.change_password(&user.id, &password_hash, session_id, auth.liveness()).await?;
    let revoked = revoked.ok_or(AuthError::SessionEnded)?;
    tracing::info!(user_id = %user.id, revoked, "password changed; the other sessions ended");
    Ok(revoked)
}

/// A new access token for the caller's session `session_id`, after the password was checked like a
/// login (same throttle): it carries `auth_time` = now, and so does every later refresh of the session.
/// The session, its refresh chain and its refresh token stay as they are.
pub(crate) async fn reauthenticate(
    auth: &Auth,
    user: &UserRecord,
    session_id: &str,
    password: Password,
    ip: IpAddr,
) -> Result<Reauthenticated, AuthError> {
    let user = throttled_password_check(auth, Account::Known(user.clone()), password, ip).await?;
    let now = auth.now();
    // Before the write, like a login: a re-authentication that cannot sign changes nothing.
    let key = auth.access.signing_key(now).await?;
    let session = auth.store.reauthenticate(session_id, &user.id, auth.sessions.liveness(now)).await?;
    let session = session.ok_or(AuthError::SessionEnded)?;
    let (access_token, expires_in) = auth.access.issue(&key, subject(&user, &session), now)?;
    tracing::info!(user_id = %user.id, session_id, "re-authenticated");
    let dpop_bound = session.dpop_jkt.is_some();
    Ok(Reauthenticated { access_token, expires_in, auth_time: session.auth_time / 1000, dpop_bound })
}

/// What a re-authentication hands back.
#[derive(Debug)]
pub(crate) struct Reauthenticated {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    /// Seconds since the epoch, as the token's claim.
    pub(crate) auth_time: i64,
    /// Whether the token is bound to the session's DPoP key.
    pub(crate) dpop_bound: bool,
}
