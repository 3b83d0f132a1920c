//! Scenario 4: the session is revoked from another device.

use serde_json::{Value, json};
use shared::paths;

use crate::harness::{DEMO_EMAIL, DEMO_PASSWORD, Scenario};

#[tokio::test]
async fn revoking_the_browsers_session_elsewhere_sends_it_to_login_with_storage_cleared() {
    // Minute-long tokens: with 3 s ones the page's own refresh ahead of expiry (drawn as early as 0.3 s
    // after login) can find the revocation before the click, and nothing would test the burst that
    // meets the refused refresh.
    Scenario::run_with_access_ttl("revocation", "60s", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            // Another device logs in and revokes the browser's session.
            let login =
                json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "deviceId": "phone", "deviceName": "Phone"});
            let other: Value = scenario.http.post(scenario.url(paths::LOGIN)).json(&login).send().await?.json().await?;
            let token = other["data"]["access_token"].as_str().unwrap_or_default().to_owned();
            let sessions: Value =
                scenario.http.get(scenario.url(paths::SESSIONS)).bearer_auth(&token).send().await?.json().await?;
            let browser_session = sessions["data"]
                .as_array()
                .and_then(|list| list.iter().find(|s| s["current"] == false))
                .and_then(|s| s["id"].as_str())
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("the browser's session is not listed: {sessions}"))?;
            let revoked = scenario
                .http
                .delete(scenario.url(&paths::session(&browser_session)))
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(revoked.status() == 200, "revocation answered {}", revoked.status());

            // The next action in the browser ends on the login page, with nothing left in storage.
            scenario.click("#fire").await?;
            scenario.wait_for_location("/login").await?;
            let location = scenario.location().await?;
            anyhow::ensure!(location == "/login?next=%2F", "unexpected location {location}");
            anyhow::ensure!(scenario.refresh_cookie().await?.is_none(), "the refused cookie was not cleared");
            // Every one of the 20 requests settled: none is left waiting on the failed refresh.
            let settled = || async { Ok(scenario.text("#in-flight").await?.starts_with("0 in flight")) };
            scenario.wait_until("no request is in flight", settled).await?;
            // Nothing is stuck: logging in again works at once.
            scenario.log_in(DEMO_EMAIL, DEMO_PASSWORD).await?;
            let succeeded = scenario.fire_burst().await?;
            anyhow::ensure!(succeeded == "20/20");
            Ok(())
        })
    })
    .await;
}
