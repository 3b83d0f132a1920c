//! The demo account, created on start in demo mode (its password is in the README).

use crate::app::StartError;
use crate::auth::service::Auth;
use crate::store::NewUser;

const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "demo-password";

pub(super) async fn seed(auth: &Auth) -> Result<(), StartError> {
    if auth.store.user_by_email(DEMO_EMAIL).await?.is_some() {
        return Ok(());
    }
    let password_hash = auth.passwords.hash(DEMO_PASSWORD.to_owned()).await?;
    let new = NewUser {
        username: "demo",
        email: DEMO_EMAIL,
        password_hash: &password_hash,
        role: shared::auth::DEFAULT_ROLE,
        now: auth.now(),
    };
    // Another instance may have seeded it a moment ago; that is fine.
    if auth.store.create_user(new).await?.is_some() {
        tracing::info!(email = DEMO_EMAIL, "created the demo user (password in the README)");
    }
    Ok(())
}
