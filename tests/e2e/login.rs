//! Scenario 1 (login) and 8 (deep link while logged out).

use std::time::Duration;

use anyhow::Context as _;

use crate::harness::{DEMO_EMAIL, DEMO_PASSWORD, Scenario};

#[tokio::test]
async fn logging_in_through_the_form_lands_on_the_dashboard_with_the_profile() {
    Scenario::run("login", |scenario| {
        Box::pin(async move {
            scenario.goto("/login").await?;
            scenario.wait_for("input[name=email]").await?;
            scenario.screenshot("login.png").await?;
            scenario.log_in(DEMO_EMAIL, DEMO_PASSWORD).await?;
            anyhow::ensure!(scenario.location().await? == "/", "not on the dashboard");
            anyhow::ensure!(scenario.text("#profile .username").await? == "demo");
            scenario.no_token_readable_by_scripts().await?;
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn a_deep_link_while_logged_out_goes_to_login_and_back_after_it() {
    Scenario::run("deep-link", |scenario| {
        Box::pin(async move {
            scenario.goto("/").await?;
            scenario.wait_for_location("/login").await?;
            let location = scenario.location().await?;
            anyhow::ensure!(location == "/login?next=%2F", "unexpected redirect {location}");
            scenario.log_in(DEMO_EMAIL, DEMO_PASSWORD).await?;
            anyhow::ensure!(scenario.location().await? == "/", "not back on /");
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_is_shown_inline_and_an_unknown_page_says_not_found() {
    Scenario::run("login-errors", |scenario| {
        Box::pin(async move {
            scenario.goto("/login").await?;
            scenario.type_into("input[name=email]", DEMO_EMAIL).await?;
            scenario.type_into("input[name=password]", "not-the-password").await?;
            scenario.click("button[type=submit]").await?;
            scenario.wait_for_text(".error", "invalid email or password").await?;
            scenario.goto("/no/such/page").await?;
            scenario.wait_for_text("h1", "Page not found").await
        })
    })
    .await;
}

/// `next` is followed only when Chromium's own URL parser resolves it to this origin. Each hostile
/// value is tried twice: by a logged-in user opening the login page (an immediate redirect), and as the
/// target after submitting the form.
#[tokio::test]
async fn hostile_next_values_never_leave_the_site() {
    Scenario::run("open-redirect", |scenario| {
        Box::pin(async move {
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
        })
    })
    .await;
}

/// Cookie mode as the browser sees it: the refresh token only in an `HttpOnly; Secure; SameSite=Strict`
/// cookie (accepted from http://127.0.0.1 because loopback counts as secure), and no token anywhere a
/// script could read, after login, after a refresh and after a reload.
#[tokio::test]
async fn no_script_can_read_a_token_after_login_refresh_or_reload() {
    Scenario::run("cookie-mode", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            let cookie = scenario.refresh_cookie().await?.context("the browser kept no refresh cookie")?;
            anyhow::ensure!(cookie.http_only() == Some(true), "not HttpOnly: {cookie:?}");
            anyhow::ensure!(cookie.secure() == Some(true), "not Secure: {cookie:?}");
            // fantoccini does not re-export the cookie crate's `SameSite`; its Debug form is enough.
            let same_site = format!("{:?}", cookie.same_site());
            anyhow::ensure!(same_site == "Some(Strict)", "not SameSite=Strict: {cookie:?}");
            anyhow::ensure!(cookie.path() == Some("/"), "path {:?}", cookie.path());
            anyhow::ensure!(cookie.domain().is_none_or(|d| d == "127.0.0.1"), "a domain cookie: {cookie:?}");
            let expires_at = cookie.expires_datetime().context("a session cookie, not a persistent one")?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let days = (expires_at.unix_timestamp() - i64::try_from(now)?) / 86_400;
            anyhow::ensure!((6..=7).contains(&days), "expires in {days} days");
            scenario.no_token_readable_by_scripts().await?;

            let first = cookie.value().to_owned();
            scenario.reactive_only().await?;
            scenario.expire_access_token().await?;
            anyhow::ensure!(scenario.fire_burst().await? == "20/20");
            let rotated = scenario.refresh_cookie().await?.context("cookie gone after refresh")?;
            anyhow::ensure!(rotated.value() != first, "the refresh did not rotate the cookie");
            scenario.no_token_readable_by_scripts().await?;

            scenario.browser.refresh().await?;
            scenario.wait_for_text("#profile .email", DEMO_EMAIL).await?;
            // The restored page writes whatever it keeps within its first tick; look after that.
            tokio::time::sleep(Duration::from_millis(200)).await;
            scenario.no_token_readable_by_scripts().await
        })
    })
    .await;
}
