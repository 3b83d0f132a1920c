//! Tuning, with documented defaults (the browser's own settings are `browser::BrowserConfig`). Nothing a user might want to change is a private constant.

use std::time::Duration;

/// How long before expiry a token is refreshed: `fraction` of its lifetime, at least `min`, but never
/// more than half the lifetime (so a very short token is refreshed halfway, not in a loop), and then
/// earlier still by an amount drawn per token, so that clients which got their tokens together do not
/// refresh together forever:
/// - a token that starts a new schedule (from a login, a resume, or a refresh after the previous token
///   expired or was refused: a mass login at 9:00, ten thousand laptops waking up, a key revocation) is
///   refreshed anywhere in the `spread` of its lifetime that ends at the margin, never in its first
///   tenth. One lifetime later such a herd is spread evenly, instead of refreshing in one burst.
/// - a token from a refresh made on schedule keeps its chain's place, moved up to `jitter` of the
///   lifetime earlier so that chains keep drifting, never into the first half of the lifetime.
///
/// Neither ever moves the refresh past the margin.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RefreshMargin {
    /// Share of the lifetime. Default 0.1.
    pub fraction: f64,
    /// Lower bound. Default 5 s.
    pub min: Duration,
    /// Up to this share of the lifetime earlier, for a token on schedule. Default 0.1; 0 turns it off.
    pub jitter: f64,
    /// The share of the lifetime, ending at the margin, over which the first refresh of a new schedule
    /// is drawn. Default 0.6; 0 turns it off (at most 0.9).
    pub spread: f64,
    /// Mixed into each token's draw; tests fix it to get the same spread every run. Default 0.
    pub jitter_seed: u64,
}

impl Default for RefreshMargin {
    fn default() -> Self {
        Self { fraction: 0.1, min: Duration::from_secs(5), jitter: 0.1, spread: 0.6, jitter_seed: 0 }
    }
}

impl RefreshMargin {
    /// The margin in milliseconds for a token living `lifetime_ms`, before jitter.
    pub fn before_expiry_ms(&self, lifetime_ms: i64) -> i64 {
        let share = (lifetime_ms as f64 * self.fraction.clamp(0.0, 1.0)) as i64;
        share.max(millis(self.min)).min(lifetime_ms / 2)
    }

    /// The default margin with another share of the lifetime and lower bound.
    pub fn new(fraction: f64, min: Duration) -> Self {
        Self { fraction, min, ..Self::default() }
    }

    /// With another jitter share (0 turns it off).
    pub fn with_jitter(self, jitter: f64) -> Self {
        Self { jitter, ..self }
    }

    /// With another spread share (0 turns it off).
    pub fn with_spread(self, spread: f64) -> Self {
        Self { spread, ..self }
    }

    /// With a fixed seed for the draws, so tests see the same spread every run.
    pub fn with_jitter_seed(self, jitter_seed: u64) -> Self {
        Self { jitter_seed, ..self }
    }

    /// No jitter and no spread: every token is refreshed exactly at the margin (for tests and for
    /// measuring what the spreading buys).
    pub fn without_spreading(self) -> Self {
        Self { jitter: 0.0, spread: 0.0, ..self }
    }

    /// How much earlier than the margin `token` (living `lifetime_ms`) is refreshed when it is on
    /// schedule: a draw in `[0, jitter × lifetime)`.
    pub fn jitter_ms(&self, token: &str, lifetime_ms: i64) -> i64 {
        self.draw_ms(token, lifetime_ms as f64 * self.jitter.clamp(0.0, 0.5))
    }

    /// How much earlier than the margin `token` (living `lifetime_ms`) is refreshed when it starts a
    /// new schedule: a draw in `[0, spread × lifetime)`.
    pub fn spread_ms(&self, token: &str, lifetime_ms: i64) -> i64 {
        self.draw_ms(token, lifetime_ms as f64 * self.spread.clamp(0.0, 0.9))
    }

    /// A draw in `[0, span)` that depends only on the seed and the token, so every check of one token
    /// (in every tab) agrees, and tokens issued together land apart.
    fn draw_ms(&self, token: &str, span: f64) -> i64 {
        let span = span as i64;
        if span <= 0 {
            return 0;
        }
        // FNV-1a: stable across platforms and versions, and enough to spread tokens.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ self.jitter_seed;
        for byte in token.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        i64::try_from(hash % u64::try_from(span).unwrap_or(1)).unwrap_or(0)
    }
}

/// The client's settings. Build with [`Config::builder`]; [`Config::default`] has every default.
///
/// ```
/// use std::time::Duration;
/// use silent_refresh::Config;
///
/// let config = Config::builder()
///     .backoff(Duration::from_millis(500), Duration::from_secs(60))
///     .build();
/// assert_eq!(config.backoff_cap, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// When to refresh ahead of expiry. Default: [`RefreshMargin::default`].
    pub refresh_margin: RefreshMargin,
    /// The pause after the first transient refresh failure; it doubles after each one. Default 200 ms.
    pub backoff_start: Duration,
    /// The longest pause. Default 30 s.
    pub backoff_cap: Duration,
    /// How long a request may take before it fails with `Network` (and, in the browser, its fetch is
    /// aborted); a request's own [`Request::timeout`](crate::Request::timeout) wins. `None`: no limit.
    /// Default 30 s. Needs a [`Clock`](crate::Clock) that can sleep.
    pub request_timeout: Option<Duration>,
    /// How long a refresh call may take before it counts as a transient failure (backoff, never a
    /// logout). Default 10 s.
    pub refresh_timeout: Duration,
    /// Which answers mean "the access token was refused, refresh and replay". Default: status 401.
    pub refresh_trigger: RefreshTrigger,
}

/// Decides from an answer whether its access token was refused, so the client refreshes and replays.
///
/// The default is status 401. An API that answers 403, or a GraphQL server that reports an
/// authentication error inside a 200, says so with a predicate:
///
/// ```
/// use silent_refresh::{Config, RefreshTrigger, Response};
///
/// // GraphQL: `{"errors": [{"extensions": {"code": "UNAUTHENTICATED"}}]}` in a 200.
/// let trigger = RefreshTrigger::new(|response: &Response| {
///     response.status == 401
///         || response.json::<serde_json::Value>().is_ok_and(|body| {
///             body["errors"].as_array().is_some_and(|errors| {
///                 errors.iter().any(|e| e["extensions"]["code"] == "UNAUTHENTICATED")
///             })
///         })
/// });
/// let config = Config::builder().refresh_trigger(trigger).build();
/// let unauthenticated = Response::new(200, r#"{"errors":[{"extensions":{"code":"UNAUTHENTICATED"}}]}"#);
/// assert!((config.refresh_trigger)(&unauthenticated));
/// assert!(!(config.refresh_trigger)(&Response::new(200, r#"{"data":{}}"#)));
/// ```
#[derive(Clone)]
pub struct RefreshTrigger(std::rc::Rc<dyn Fn(&crate::Response) -> bool>);

impl RefreshTrigger {
    /// A trigger from a predicate on the answer.
    pub fn new(predicate: impl Fn(&crate::Response) -> bool + 'static) -> Self {
        Self(std::rc::Rc::new(predicate))
    }

    /// Status 401 (the default).
    pub fn unauthorized() -> Self {
        Self::new(|response| response.status == 401)
    }

    /// Any of `statuses` (such as 401 and 403).
    pub fn statuses(statuses: &[u16]) -> Self {
        let statuses = statuses.to_vec();
        Self::new(move |response| statuses.contains(&response.status))
    }
}

impl std::ops::Deref for RefreshTrigger {
    type Target = dyn Fn(&crate::Response) -> bool;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl std::fmt::Debug for RefreshTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshTrigger(..)")
    }
}

impl PartialEq for RefreshTrigger {
    /// The same predicate (not merely an equal one).
    fn eq(&self, other: &Self) -> bool {
        std::rc::Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            refresh_margin: RefreshMargin::default(),
            backoff_start: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(30),
            request_timeout: Some(Duration::from_secs(30)),
            refresh_timeout: Duration::from_secs(10),
            refresh_trigger: RefreshTrigger::unauthorized(),
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder(Self::default())
    }

    /// The pause after `failures` transient failures in a row.
    pub(crate) fn backoff_ms(&self, failures: u32) -> u64 {
        let start = u64::try_from(self.backoff_start.as_millis()).unwrap_or(u64::MAX);
        let cap = u64::try_from(self.backoff_cap.as_millis()).unwrap_or(u64::MAX);
        start.saturating_mul(1 << failures.saturating_sub(1).min(40)).min(cap)
    }
}

/// Builds a [`Config`].
#[derive(Debug, Clone)]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// See [`Config::refresh_margin`].
    #[must_use]
    pub fn refresh_margin(mut self, margin: RefreshMargin) -> Self {
        self.0.refresh_margin = margin;
        self
    }

    /// See [`Config::backoff_start`] and [`Config::backoff_cap`].
    #[must_use]
    pub fn backoff(mut self, start: Duration, cap: Duration) -> Self {
        self.0.backoff_start = start;
        self.0.backoff_cap = cap.max(start);
        self
    }

    /// See [`Config::request_timeout`] and [`Config::refresh_timeout`].
    #[must_use]
    pub fn timeouts(mut self, request: Option<Duration>, refresh: Duration) -> Self {
        self.0.request_timeout = request;
        self.0.refresh_timeout = refresh;
        self
    }

    /// See [`Config::refresh_trigger`].
    #[must_use]
    pub fn refresh_trigger(mut self, trigger: RefreshTrigger) -> Self {
        self.0.refresh_trigger = trigger;
        self
    }

    /// The settings.
    pub fn build(self) -> Config {
        self.0
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_tokens_over_its_share_of_the_lifetime_the_same_way_every_run() {
        let margin = RefreshMargin { jitter_seed: 42, ..RefreshMargin::default() };
        let lifetime = 900_000;
        let draws: Vec<i64> = (0..1_000).map(|i| margin.jitter_ms(&format!("token-{i}"), lifetime)).collect();
        let span = 90_000;
        assert!(draws.iter().all(|d| (0..span).contains(d)), "outside [0, 10% of the lifetime)");
        // Spread over the whole span: every tenth of it gets some tokens.
        for tenth in 0..10 {
            let count = draws.iter().filter(|d| **d / (span / 10) == tenth).count();
            assert!((50..=150).contains(&count), "tenth {tenth} got {count} of 1000");
        }
        let again: Vec<i64> = (0..1_000).map(|i| margin.jitter_ms(&format!("token-{i}"), lifetime)).collect();
        assert_eq!(draws, again, "a fixed seed draws the same");
        let other = RefreshMargin { jitter_seed: 7, ..margin };
        assert_ne!(draws[..10], (0..10).map(|i| other.jitter_ms(&format!("token-{i}"), lifetime)).collect::<Vec<_>>());
        assert_eq!(RefreshMargin { jitter: 0.0, ..margin }.jitter_ms("token-1", lifetime), 0);
    }

    #[test]
    fn the_spread_of_a_new_schedule_covers_its_share_of_the_lifetime_evenly() {
        let margin = RefreshMargin { jitter_seed: 42, ..RefreshMargin::default() };
        let lifetime = 20_000;
        let span = 12_000;
        let draws: Vec<i64> = (0..2_000).map(|i| margin.spread_ms(&format!("token-{i}"), lifetime)).collect();
        assert!(draws.iter().all(|d| (0..span).contains(d)), "outside [0, 60% of the lifetime)");
        // Each twelfth (one second of a 20 s token) gets close to a twelfth of the tokens: no burst.
        for twelfth in 0..12 {
            let count = draws.iter().filter(|d| **d / (span / 12) == twelfth).count();
            assert!((120..=215).contains(&count), "second {twelfth} got {count} of 2000");
        }
        assert_eq!(margin.without_spreading().spread_ms("token-1", lifetime), 0);
        let capped = RefreshMargin { spread: 5.0, ..margin };
        let widest = (0..200).map(|i| capped.spread_ms(&format!("token-{i}"), 1_000)).max();
        assert!(widest.is_some_and(|d| (800..900).contains(&d)), "capped at 90% of the lifetime: {widest:?}");
    }
}
