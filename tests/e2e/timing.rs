//! Not a test but a measurement, run by `cargo xtask bench` (ignored otherwise): the demo's burst of 20
//! concurrent client calls against 20 plain `fetch`es of distinct URLs from the same page, the
//! browser's own floor (six connections per host). Prints `burst_client_ms=` and `burst_plain_ms=`.

use crate::harness::Scenario;

/// Logs in with a plain fetch and times 20 concurrent plain fetches of distinct URLs (150 ms each).
const PLAIN_BURST: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const login = await fetch('/api/auth/login', {method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({email: 'demo@example.com', password: 'demo-password', deviceId: 'timing'})});
  const token = (await login.json()).data.access_token;
  const started = performance.now();
  await Promise.all([...Array(20).keys()].map(i =>
    fetch(`/api/demo/echo?delay_ms=150&n=${i}`, {headers: {authorization: `Bearer ${token}`}})));
  done(performance.now() - started);
})();
"#;

#[tokio::test]
#[ignore = "a measurement for `cargo xtask bench`, not a test"]
async fn burst_timing() {
    Scenario::run("burst-timing", |scenario| {
        Box::pin(async move {
            scenario.log_in_as_demo().await?;
            scenario.fire_burst().await?; // warm: connections open, code paths loaded
            anyhow::ensure!(scenario.fire_burst().await? == "20/20", "the burst failed");
            let client_ms: f64 = scenario.text("#burst-ms").await?.trim().parse()?;
            let plain_ms = scenario.browser.execute_async(PLAIN_BURST, vec![]).await?;
            let plain_ms = plain_ms.as_f64().unwrap_or(f64::NAN);
            println!("burst_client_ms={client_ms:.0}");
            println!("burst_plain_ms={plain_ms:.0}");
            Ok(())
        })
    })
    .await;
}
