//! The demo account, created on start in demo mode (its password is in the README).

use crate::app::StartError;
use crate::auth::identity;
use crate::auth::service::Auth;
use crate::store::{NewUser, SignUp};

const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "demo-password";

pub(super) async fn seed(auth: &Auth) -> Result<(), StartError> {
    let email = identity::for_sign_up(DEMO_EMAIL).expect("the demo address follows the identity rule");
    if !auth.store.users_by_email_key(&email.key).await?.is_empty() {
        return Ok(());
    }
    let password_hash = auth.passwords.hash(DEMO_PASSWORD.to_owned()).await?;
    let new = NewUser {
        username: "demo",
        email: &email.stored,
        email_key: &email.key,
        email_skeleton: &email.skeleton,
        identity_rule: identity::RULE_VERSION,
        password_hash: &password_hash,
        role: shared::auth::DEFAULT_ROLE,
        now: auth.now(),
    };
    // Another instance may have seeded it a moment ago; that is fine.
    if let SignUp::Created(_) = auth.store.create_user(new).await? {
        tracing::info!(email = DEMO_EMAIL, "created the demo user (password in the README)");
    }
    Ok(())
}
