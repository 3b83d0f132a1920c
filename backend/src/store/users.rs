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

#[derive(Debug, Clone, Copy)]
pub(crate) struct NewUser<'a> {
    pub(crate) username: &'a str,
    /// Already normalised (trimmed, lower-cased) by the caller.
    pub(crate) email: &'a str,
    pub(crate) password_hash: &'a str,
    pub(crate) role: &'a str,
    pub(crate) now: Millis,
}

impl Store {
    /// Inserts the account; `None` when the email is already taken (decided by the unique index, so two
    /// racing registrations cannot both win).
    pub(crate) async fn create_user(&self, new: NewUser<'_>) -> Result<Option<UserRecord>, StoreError> {
        let user = UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            username: new.username.to_owned(),
            email: new.email.to_owned(),
            password_hash: new.password_hash.to_owned(),
            role: new.role.to_owned(),
            created_at: new.now,
        };
        let inserted = self
            .write(move |conn| {
                Box::pin(async move {
                    let inserted = sqlx::query(
                        "INSERT INTO users (id, username, email, password_hash, role, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&user.id)
                    .bind(&user.username)
                    .bind(&user.email)
                    .bind(&user.password_hash)
                    .bind(&user.role)
                    .bind(user.created_at)
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
        Ok(inserted)
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = "SELECT id, username, email, password_hash, role, created_at FROM users WHERE email = $1";
        Ok(sqlx::query_as(sql).bind(email).fetch_optional(&self.pool).await?)
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
