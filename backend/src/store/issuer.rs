//! The recorded issuer (`iss`): written at the first start, changed only by an explicit JWT_ISSUER.

use crate::clock::Millis;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct IssuerRow {
    pub(crate) current: String,
    /// The issuer before the last change, and when the change happened.
    pub(crate) previous: Option<String>,
    pub(crate) changed_at: Option<Millis>,
}

impl Store {
    /// Reads the recorded issuer (migration 0009 records an earlier release's default), lets `decide`
    /// choose one from it, and records the choice.
    pub(crate) async fn settle_issuer<D>(&self, decide: D) -> Result<IssuerRow, StoreError>
    where
        D: FnOnce(Option<IssuerRow>) -> IssuerRow + Send + 'static,
    {
        self.write(move |conn| {
            Box::pin(async move {
                let recorded: Option<IssuerRow> =
                    sqlx::query_as("SELECT current, previous, changed_at FROM issuer WHERE id = 1")
                        .fetch_optional(&mut *conn)
                        .await?;
                let chosen = decide(recorded.clone());
                if recorded.as_ref() != Some(&chosen) {
                    sqlx::query(
                        "INSERT INTO issuer (id, current, previous, changed_at) VALUES (1, $1, $2, $3)
                         ON CONFLICT (id) DO UPDATE SET current = $1, previous = $2, changed_at = $3",
                    )
                    .bind(&chosen.current)
                    .bind(&chosen.previous)
                    .bind(chosen.changed_at)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(chosen)
            })
        })
        .await
    }
}
