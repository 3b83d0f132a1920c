//! Accounts.

use crate::clock::Millis;

use super::{Store, StoreError, is_unique_violation};

#[derive(Clone, sqlx::FromRow)]
pub(crate) struct UserRecord {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
    pub(crate) role: String,
    pub(crate) created_at: Millis,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord").field("id", &self.id).field("email", &self.email).finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct KeyedUser {
    #[sqlx(flatten)]
    user: UserRecord,
    email_claim: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NewUser<'a> {
    pub(crate) username: &'a str,
    /// As typed, trimmed and lower-cased by the caller.
    pub(crate) email: &'a str,
    /// The identity key and skeleton, and the rule that made them (`auth/identity.rs`).
    pub(crate) email_key: &'a str,
    pub(crate) email_skeleton: &'a str,
    pub(crate) identity_rule: i64,
    pub(crate) password_hash: &'a str,
    pub(crate) role: &'a str,
    pub(crate) now: Millis,
}

/// What a sign-up came to.
#[derive(Debug)]
pub(crate) enum SignUp {
    Created(UserRecord),
    /// An account holds this address or its key.
    Taken,
    /// An account holds this address's look-alike skeleton.
    LooksLike,
}

impl Store {
    /// Inserts the account holding its key and skeleton. The unique indexes decide, so two racing
    /// sign-ups cannot both win.
    pub(crate) async fn create_user(&self, new: NewUser<'_>) -> Result<SignUp, StoreError> {
        let user = UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            username: new.username.to_owned(),
            email: new.email.to_owned(),
            password_hash: new.password_hash.to_owned(),
            role: new.role.to_owned(),
            created_at: new.now,
        };
        let (key, skeleton, rule) = (new.email_key.to_owned(), new.email_skeleton.to_owned(), new.identity_rule);
        let inserted = self
            .write(move |conn| {
                Box::pin(async move {
                    let inserted = sqlx::query(
                        "INSERT INTO users (id, username, email, password_hash, role, created_at,
                                            email_key, email_skeleton, email_claim, skeleton_claim, identity_rule)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8, $9)",
                    )
                    .bind(&user.id)
                    .bind(&user.username)
                    .bind(&user.email)
                    .bind(&user.password_hash)
                    .bind(&user.role)
                    .bind(user.created_at)
                    .bind(key)
                    .bind(skeleton)
                    .bind(rule)
                    .execute(&mut *conn)
                    .await;
                    // A taken email is an answer, not a failure: the unique index decides, so two racing
                    // registrations cannot both win.
                    match inserted {
                        Ok(_) => Ok(Some(user)),
                        Err(error) if is_unique_violation(&error) => Ok(None),
                        Err(error) => Err(error),
                    }
                })
            })
            .await?;
        if let Some(user) = inserted {
            return Ok(SignUp::Created(user));
        }
        // Which index refused it only chooses the message, so a read after the write is enough.
        let (taken,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1 OR email_claim = $2")
            .bind(new.email)
            .bind(new.email_key)
            .fetch_one(&self.pool)
            .await?;
        Ok(if taken > 0 { SignUp::Taken } else { SignUp::LooksLike })
    }

    /// Every account whose identity key is `key`, oldest first, each with whether it holds the key (only
    /// accounts from before the rule can share one).
    pub(crate) async fn users_by_email_key(&self, key: &str) -> Result<Vec<(UserRecord, bool)>, StoreError> {
        let sql = "SELECT id, username, email, password_hash, role, created_at, email_claim FROM users
                   WHERE email_key = $1 ORDER BY created_at, id";
        let rows: Vec<KeyedUser> = sqlx::query_as(sql).bind(key).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|row| (row.user, row.email_claim.is_some())).collect())
    }

    /// Replaces the user's password hash if it is still `old` (a password change meanwhile wins). True
    /// when it was replaced.
    pub(crate) async fn replace_password_hash(&self, user_id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        let (user, old, new) = (user_id.to_owned(), old.to_owned(), new.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                let replaced = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                    .bind(new)
                    .bind(user)
                    .bind(old)
                    .execute(&mut *conn)
                    .await?;
                Ok(replaced.rows_affected() == 1)
            })
        })
        .await
    }

    pub(crate) async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = "SELECT id, username, email, password_hash, role, created_at FROM users WHERE id = $1";
        Ok(sqlx::query_as(sql).bind(id).fetch_optional(&self.pool).await?)
    }
}
