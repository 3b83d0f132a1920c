//! Scenario 1 (login) and 8 (deep link while logged out).

use crate::harness::{DEMO_EMAIL, DEMO_PASSWORD, Scenario};

#[tokio::test]
async fn logging_in_through_the_form_lands_on_the_dashboard_with_the_profile() {
    let scenario = Scenario::start("login").await;
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
    let scenario = Scenario::start("deep-link").await;
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
    let scenario = Scenario::start("login-errors").await;
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

/// `next` is followed only when Chromium's own URL parser resolves it to this origin. Each hostile
/// value is tried twice: by a logged-in user opening the login page (an immediate redirect), and as the
/// target after submitting the form.
#[tokio::test]
async fn hostile_next_values_never_leave_the_site() {
    let scenario = Scenario::start("open-redirect").await;
    let result = async {
        let hostile = [
            "/%09/evil.example",
            "/%0A/evil.example",
            "//evil.example",
            "/%5Cevil.example",
            "%5C%5Cevil.example",
            "/%5C/evil.example",
            "https://evil.example/",
            "javascript:alert(document.domain)",
            "%2F%2Fevil.example",
            "/%252F%252Fevil.example",
        ];
        let expected_origin = scenario.url("");
        scenario.goto(&format!("/login?next={}", hostile[0])).await?;
        scenario.log_in(DEMO_EMAIL, DEMO_PASSWORD).await?;
        for next in hostile {
            scenario.goto(&format!("/login?next={next}")).await?;
            scenario.wait_for("#profile .email").await?;
            let url = scenario.browser.current_url().await?;
            let origin = url.origin().ascii_serialization();
            anyhow::ensure!(origin == expected_origin, "next={next} sent the user to {url}");
            anyhow::ensure!(url.path() == "/", "next={next} landed on {url}");
        }
        Ok(())
    }
    .await;
    scenario.finish(result).await;
}
