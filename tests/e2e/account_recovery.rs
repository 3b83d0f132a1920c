//! Recent authentication and password reset, as a user meets them: the password dialog before a
//! sensitive action, and "Forgot password?" through a real SMTP server to a new password, after which
//! the other browser lands on the login page.

use std::path::Path;
use std::time::Duration;

use crate::harness::{DEMO_EMAIL, DEMO_PASSWORD, Scenario};
use crate::mail::SmtpServer;

#[tokio::test]
async fn a_sensitive_action_asks_for_the_password_again_and_then_goes_through() {
    Scenario::run_with_access_ttl("reauthentication", "1m", |scenario| {
        Box::pin(async move {
            scenario.restart_backend_with(&["--reauth-max-age", "2s"]);
            scenario.log_in_as_demo().await?;
            tokio::time::sleep(Duration::from_millis(3_200)).await;
            scenario.click("#logout-others").await?;
            scenario.wait_for("#reauth-dialog").await?;
            scenario.type_into("#reauth-password", "not the password").await?;
            scenario.click("#reauth-confirm").await?;
            scenario.wait_for("#reauth-error").await?;
            scenario.type_into("#reauth-password", DEMO_PASSWORD).await?;
            scenario.click("#reauth-confirm").await?;
            scenario.wait_for_text("#account .account-result", "0 other session(s) signed out").await?;
            anyhow::ensure!(scenario.location().await? == "/", "the user was sent away");
            let refreshes = scenario.metrics().await?.refreshes;
            anyhow::ensure!(refreshes == 0, "the challenge was answered with {refreshes} refresh(es)");
            Ok(())
        })
    })
    .await;
}

/// The link in the first mail `smtp` receives.
async fn first_link(smtp: &SmtpServer) -> anyhow::Result<String> {
    let new = smtp.inbox();
    for _ in 0..200 {
        if let Some(mail) = first_file(&new) {
            let start = mail.find("http").ok_or_else(|| anyhow::anyhow!("no link in:\n{mail}"))?;
            return Ok(mail[start..].split_whitespace().next().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("no mail arrived")
}

fn first_file(folder: &Path) -> Option<String> {
    let entry = std::fs::read_dir(folder).ok()?.filter_map(Result::ok).next()?;
    std::fs::read_to_string(entry.path()).ok().map(|mail| crate::mail::decode_quoted_printable(&mail))
}

#[tokio::test]
async fn forgot_password_mails_a_link_that_sets_a_new_one_and_signs_every_device_out() {
    let Some(mail) = SmtpServer::start().expect("aiosmtpd") else { return };
    Scenario::run("password-reset", |scenario| {
        Box::pin(async move {
            let smtp = format!("smtp://127.0.0.1:{}", mail.port);
            let page = scenario.url("/reset-password");
            scenario.restart_backend_with(&["--smtp-url", &smtp, "--password-reset-url", &page]);
            // Another device is logged in.
            scenario.open_second_browser().await?;
            scenario.log_in_as_demo().await?;
            scenario.switch_browsers();

            scenario.goto("/login").await?;
            scenario.click("#forgot-password").await?;
            scenario.type_into("input[name=email]", DEMO_EMAIL).await?;
            scenario.click("#send-reset").await?;
            scenario.wait_for("#reset-sent").await?;
            let link = first_link(&mail).await?;
            anyhow::ensure!(link.starts_with(&page) && link.contains("#token="), "the link: {link}");
            scenario.browser.goto(&link).await?;
            scenario.type_into("#reset-new-password", "a brand new password").await?;
            scenario.click("#reset-confirm").await?;
            scenario.wait_for("#reset-done").await?;
            let address = scenario.browser.current_url().await?;
            anyhow::ensure!(address.fragment().is_none(), "the token stayed in the address bar: {address}");

            // The other device finds its session over at its next step.
            scenario.switch_browsers();
            scenario.browser.refresh().await?;
            scenario.wait_for_location("/login").await?;
            scenario.switch_browsers();
            scenario.goto("/login").await?;
            scenario.log_in(DEMO_EMAIL, "a brand new password").await
        })
    })
    .await;
}
