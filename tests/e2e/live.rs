//! The demo's live stream, read with `fetch` and the access token in its `Authorization` header: it
//! delivers ticks, and reconnects with each new token as the short-lived tokens rotate.

use crate::harness::Scenario;

#[tokio::test]
async fn the_live_stream_opens_with_the_header_and_follows_each_new_token() {
    Scenario::run("live", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            let number = |text: String| text.trim().parse::<u32>().unwrap_or(0);
            scenario
                .wait_until("the stream delivers ticks", || async {
                    Ok(number(scenario.text("#live-sequence").await?) >= 2)
                })
                .await?;
            // Tokens live 3 s here: the client refreshes, and the stream reopens with the new token.
            scenario
                .wait_until("the stream reopens with a new token", || async {
                    Ok(number(scenario.text("#live-connections").await?) >= 2)
                })
                .await?;
            scenario
                .wait_until("the new stream delivers ticks", || async {
                    Ok(number(scenario.text("#live-sequence").await?) >= 1)
                })
                .await?;
            Ok(())
        })
    })
    .await;
}
