//! Sign out other devices: another browser's session ends, this one goes on.

use crate::harness::{DEMO_EMAIL, Scenario};

#[tokio::test]
async fn signing_out_other_devices_sends_the_other_browser_to_login_and_keeps_this_one() {
    Scenario::run("other-devices", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            scenario.open_second_browser().await?;
            scenario.log_in_as_demo().await?;
            scenario.wait_for_text("#profile .email", DEMO_EMAIL).await?;

            scenario.switch_browsers();
            scenario.click("#logout-others").await?;
            scenario.wait_for_text("#account .account-result", "1 other session(s) signed out").await?;

            // The other device finds its session over at its next step, here a reload.
            scenario.switch_browsers();
            scenario.browser.refresh().await?;
            scenario.wait_for_location("/login").await?;

            scenario.switch_browsers();
            anyhow::ensure!(scenario.location().await? == "/", "this device was sent away");
            anyhow::ensure!(scenario.fire_burst().await? == "20/20", "this device's session broke");
            Ok(())
        })
    })
    .await;
}
