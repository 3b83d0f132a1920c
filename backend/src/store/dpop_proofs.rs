//! DPoP state shared by every instance: the proofs spent at login and refresh, and the key of the
//! stateless nonces.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::AnyConnection;

use super::{Store, StoreError};
use crate::clock::Millis;

impl Store {
    /// Records a proof (`key`: the hash of its key's thumbprint and `jti`) until `forget_at`. True
    /// when this call recorded it: of two instances given one proof, exactly one gets true. A proof
    /// remembered past `forget_at` makes room for its key again.
    pub(crate) async fn spend_dpop_proof(
        &self,
        key: &[u8; 32],
        forget_at: Millis,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let key = *key;
        self.write(move |conn| Box::pin(async move { spend_in(conn, &key, forget_at, now).await })).await
    }

    /// The key of the DPoP nonces: made by the first instance to ask, read by every other.
    pub(crate) async fn dpop_nonce_secret(&self) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::getrandom(&mut fresh).map_err(StoreError::Random)?;
        let fresh = URL_SAFE_NO_PAD.encode(fresh);
        let stored = self
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO dpop_nonce_key (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
                        .bind(fresh)
                        .execute(&mut *conn)
                        .await?;
                    let (secret,): (String,) =
                        sqlx::query_as("SELECT secret FROM dpop_nonce_key WHERE id = 1").fetch_one(&mut *conn).await?;
                    Ok(secret)
                })
            })
            .await?;
        URL_SAFE_NO_PAD.decode(stored).map_err(|_| StoreError::Corrupt("dpop_nonce_key.secret is not base64url"))
    }
}

/// [`Store::spend_dpop_proof`] inside the caller's transaction (a refresh spends its proof in the
/// rotation's).
pub(super) async fn spend_in(
    conn: &mut AnyConnection,
    key: &[u8; 32],
    forget_at: Millis,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let recorded = sqlx::query(
        "INSERT INTO dpop_proofs (proof_key, forget_at) VALUES ($1, $2)
         ON CONFLICT (proof_key) DO UPDATE SET forget_at = excluded.forget_at
         WHERE dpop_proofs.forget_at <= $3",
    )
    .bind(URL_SAFE_NO_PAD.encode(key))
    .bind(forget_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(recorded.rows_affected() == 1)
}
