//! The password reset in the model: the address's and the account's shares (fixed one-hour windows, as
//! the server counts them), the mail, and a confirmation that ends every session and swaps the password.

use reqwest::StatusCode;
use serde_json::json;
use shared::paths;

use super::{OK, Outcome, PASSWORDS, World, expected, status_of};
use crate::password_reset::{mails, nth_mail, token_in};

const WINDOW_MS: i64 = 3_600_000;
const REQUESTS_PER_ADDRESS: u32 = 10;
const MAILS_PER_ACCOUNT: u32 = 3;
const ACCEPTED: Outcome = Outcome::Status(202, None);

/// A fixed window: (start, count), as `throttle_attempts` keeps it.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Window {
    started_at: i64,
    count: u32,
}

impl Window {
    /// Counts one at `now`; true while the window holds at most `max`.
    fn take(&mut self, now: i64, max: u32) -> bool {
        if self.count == 0 || self.started_at <= now - WINDOW_MS {
            *self = Self { started_at: now, count: 1 };
        } else {
            self.count += 1;
        }
        self.count <= max
    }
}

impl World {
    pub(super) async fn reset_password(&mut self) -> (Outcome, Outcome) {
        let body = json!({"email": super::EMAIL});
        let (outcome, _) = status_of(self.app().post_json(paths::PASSWORD_RESET_REQUEST, &body).await).await;
        let now = self.model.now;
        if !self.model.reset_requests.take(now, REQUESTS_PER_ADDRESS) {
            return (outcome, expected((StatusCode::TOO_MANY_REQUESTS, "rate_limited")));
        }
        if outcome != ACCEPTED {
            return (outcome, ACCEPTED);
        }
        if !self.model.reset_mails.take(now, MAILS_PER_ACCOUNT) {
            // The account had its share: nothing arrives (the server decides after its answer).
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let arrived = mails(self.outbox.path()).len();
            let expected_mails = Outcome::Status(0, Some(format!("{} mails", self.model.mails)));
            return (Outcome::Status(0, Some(format!("{arrived} mails"))), expected_mails);
        }
        self.model.mails += 1;
        let token = token_in(&nth_mail(self.outbox.path(), self.model.mails).await);
        let new_password = PASSWORDS[1 - self.model.password];
        let body = json!({"token": token, "newPassword": new_password});
        let (outcome, answer) = status_of(self.app().post_json(paths::PASSWORD_RESET_CONFIRM, &body).await).await;
        if outcome != OK {
            return (outcome, OK);
        }
        // Every session neither revoked nor expired ends (an idle one too: it is not revoked yet).
        let model = &mut self.model;
        let now = model.now;
        let ending: Vec<usize> = (0..model.sessions.len())
            .filter(|i| !model.sessions[*i].revoked && model.sessions[*i].expires_at > now)
            .collect();
        let still_stored = ending.len();
        for i in ending {
            model.sessions[i].revoked = true;
        }
        model.password = 1 - model.password;
        let revoked = answer["data"]["revoked"].as_u64().unwrap_or(u64::MAX);
        let counted = |n: u64| Outcome::Status(200, Some(format!("{n} sessions ended")));
        (counted(revoked), counted(u64::try_from(still_stored).unwrap()))
    }
}
