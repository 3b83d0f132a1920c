//! Scenario 3 (two tabs past expiry) and 5 (logout in one tab), and the DPoP key the tabs share.

use fantoccini::wd::WindowHandle;

use crate::harness::{DEMO_EMAIL, PAST_EXPIRY, Scenario};

/// Opens a second tab of the same browser profile on the dashboard; returns (first, second).
async fn second_tab(scenario: &Scenario) -> anyhow::Result<(WindowHandle, WindowHandle)> {
    let first = scenario.browser.window().await?;
    let second = scenario.browser.new_window(true).await?.handle;
    scenario.browser.switch_to_window(second.clone()).await?;
    scenario.goto("/").await?;
    scenario.wait_for_text("#profile .email", DEMO_EMAIL).await?;
    Ok((first, second))
}

#[tokio::test]
async fn two_tabs_past_expiry_both_succeed_on_one_chain_without_reuse_detection() {
    Scenario::run("two-tabs", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            scenario.reactive_only().await?;
            let (first, second) = second_tab(scenario).await?;
            let before = scenario.metrics().await?;
            // Waited out for real: each tab must find its own token expired, not be handed one.
            tokio::time::sleep(PAST_EXPIRY).await;

            // Fire in both, back to back, before either finishes.
            scenario.click("#fire").await?;
            scenario.browser.switch_to_window(first.clone()).await?;
            let succeeded = scenario.fire_burst().await?;
            anyhow::ensure!(succeeded == "20/20", "first tab failed");
            scenario.browser.switch_to_window(second).await?;
            scenario.wait_for_text("#burst-succeeded", "20/20").await?;

            let after = scenario.metrics().await?;
            let refreshes = after.refreshes - before.refreshes;
            anyhow::ensure!((1..=2).contains(&refreshes), "{refreshes} refreshes for two tabs");
            anyhow::ensure!(after.reuse_detected == before.reuse_detected, "reuse detection fired");
            // The second tab shows the token the rotation produced, without a reload.
            let token_here = scenario.text("#access-token").await?;
            scenario.browser.switch_to_window(first).await?;
            scenario.wait_for_text("#access-token", &token_here).await?;
            // And the session is still alive.
            let succeeded = scenario.fire_burst().await?;
            anyhow::ensure!(succeeded == "20/20", "session did not survive");
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn logging_out_in_one_tab_sends_the_other_to_login_by_itself() {
    Scenario::run("logout-tabs", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            let (first, second) = second_tab(scenario).await?;
            scenario.browser.switch_to_window(first).await?;
            scenario.click("#logout").await?;
            scenario.wait_for_location("/login").await?;
            scenario.browser.switch_to_window(second).await?;
            scenario.wait_for_location("/login").await?;
            anyhow::ensure!(scenario.refresh_cookie().await?.is_none(), "logout did not clear the cookie");
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn two_tabs_share_one_dpop_key_and_the_session_is_bound_to_it() {
    Scenario::run("dpop-tabs", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            let key = scenario.text("#dpop-key").await?;
            anyhow::ensure!(key.len() == 43, "the demo shows no key thumbprint: {key:?}");
            scenario.wait_for_text("#token-cnf", &key).await?;
            let (_, _second) = second_tab(scenario).await?;
            let key_here = scenario.text("#dpop-key").await?;
            anyhow::ensure!(key_here == key, "the second tab made its own key: {key_here} and {key}");
            scenario.wait_for_text("#token-cnf", &key).await?;
            Ok(())
        })
    })
    .await;
}
