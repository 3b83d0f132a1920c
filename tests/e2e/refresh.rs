//! Scenario 2 (burst after expiry) and 7 (reload mid-session).

use crate::harness::{DEMO_EMAIL, Scenario};

/// Minute-long tokens: the scenarios expire the page's token themselves, and with 3 s ones a refresh
/// ahead of expiry (drawn from 0.3 s after login on) could still be on the wire when the count starts.
const ACCESS_TTL: &str = "60s";

#[tokio::test]
async fn twenty_concurrent_requests_after_expiry_take_exactly_one_refresh() {
    Scenario::run_with_access_ttl("burst", ACCESS_TTL, |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            scenario.reactive_only().await?;
            let before = scenario.metrics().await?.refreshes;
            scenario.expire_access_token().await?;

            let succeeded = scenario.fire_burst().await?;
            anyhow::ensure!(succeeded == "20/20", "not every request succeeded");
            anyhow::ensure!(
                scenario.text("#burst-refreshes").await? == "1 refresh",
                "the page counted other than 1 refresh"
            );
            let counted = scenario.metrics().await?.refreshes - before;
            anyhow::ensure!(counted == 1, "the backend counted {counted} refreshes");
            scenario.wait_for_text("#events", "Refresh succeeded").await?;
            scenario.screenshot("dashboard.png").await?;
            std::fs::write(
                crate::harness::artifacts().join("sessions.png"),
                scenario.wait_for("#sessions").await?.screenshot().await?,
            )?;
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn a_reload_after_expiry_continues_the_session_silently() {
    Scenario::run_with_access_ttl("reload", ACCESS_TTL, |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            scenario.reactive_only().await?;
            let before = scenario.metrics().await?.refreshes;
            scenario.expire_access_token().await?;

            scenario.browser.refresh().await?;
            scenario.wait_for_text("#profile .email", DEMO_EMAIL).await?;
            anyhow::ensure!(scenario.location().await? == "/", "left the dashboard");
            let counted = scenario.metrics().await?.refreshes - before;
            anyhow::ensure!(counted == 1, "the backend counted {counted} refreshes");
            Ok(())
        })
    })
    .await;
}
