//! Scenario 6: the backend goes away during a refresh and comes back.

use crate::harness::Scenario;

#[tokio::test]
async fn an_outage_during_refresh_keeps_the_user_logged_in_and_recovers_after_restart() {
    Scenario::run("outage", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            scenario.reactive_only().await?;
            scenario.expire_access_token().await?;
            scenario.stop_backend();

            let succeeded = scenario.fire_burst().await?;
            anyhow::ensure!(succeeded == "0/20");
            let error = scenario.text("#burst-error").await?;
            anyhow::ensure!(error.contains("network error"), "expected a network error, saw {error:?}");
            anyhow::ensure!(scenario.location().await? == "/", "the user was sent away");
            anyhow::ensure!(!scenario.text("#access-token").await?.is_empty(), "the session was dropped");

            scenario.restart_backend();
            // A click inside the backoff after the failed refresh fails at once (nobody sleeps through
            // it); one after it refreshes and recovers.
            let mut succeeded = scenario.fire_burst().await?;
            for _ in 0..3 {
                if succeeded == "20/20" {
                    break;
                }
                anyhow::ensure!(scenario.text("#burst-error").await?.contains("next attempt in"), "not the backoff");
                // The client's first backoff is 200 ms: try again once it has passed.
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                succeeded = scenario.fire_burst().await?;
            }
            anyhow::ensure!(succeeded == "20/20", "no recovery after restart");
            anyhow::ensure!(scenario.location().await? == "/");
            Ok(())
        })
    })
    .await;
}
