//! Scenario 1 (login) and 8 (deep link while logged out).

use crate::harness::{DEMO_EMAIL, DEMO_PASSWORD, Scenario};

#[tokio::test]
async fn logging_in_through_the_form_lands_on_the_dashboard_with_the_profile() {
    let Some(scenario) = Scenario::start("login").await else { return };
    let result = async {
        scenario.goto("/login").await?;
        scenario.wait_for("input[name=email]").await?;
        scenario.screenshot("login.png").await?;
        scenario.log_in(DEMO_EMAIL, DEMO_PASSWORD).await?;
        anyhow::ensure!(scenario.location().await? == "/", "not on the dashboard");
        anyhow::ensure!(scenario.text("#profile .username").await? == "demo");
        anyhow::ensure!(scenario.stored_session().await?.is_some(), "session not stored");
        Ok(())
    }
    .await;
    scenario.finish(result).await;
}

#[tokio::test]
async fn a_deep_link_while_logged_out_goes_to_login_and_back_after_it() {
    let Some(scenario) = Scenario::start("deep-link").await else { return };
    let result = async {
        scenario.goto("/").await?;
        scenario.wait_for_location("/login").await?;
        let location = scenario.location().await?;
        anyhow::ensure!(location == "/login?next=%2F", "unexpected redirect {location}");
        scenario.log_in(DEMO_EMAIL, DEMO_PASSWORD).await?;
        anyhow::ensure!(scenario.location().await? == "/", "not back on /");
        Ok(())
    }
    .await;
    scenario.finish(result).await;
}

#[tokio::test]
async fn a_wrong_password_is_shown_inline_and_an_unknown_page_says_not_found() {
    let Some(scenario) = Scenario::start("login-errors").await else { return };
    let result = async {
        scenario.goto("/login").await?;
        scenario.type_into("input[name=email]", DEMO_EMAIL).await?;
        scenario.type_into("input[name=password]", "not-the-password").await?;
        scenario.click("button[type=submit]").await?;
        scenario.wait_for_text(".error", "invalid email or password").await?;
        scenario.goto("/no/such/page").await?;
        scenario.wait_for_text("h1", "Page not found").await
    }
    .await;
    scenario.finish(result).await;
}
