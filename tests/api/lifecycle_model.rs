//! The session lifecycle against a reference model: random sequences of logins (with and without a
//! device id), refreshes (current, just rotated within and past grace, long retired), requests,
//! introspection, session lists, the log-out variants, revocation, password changes, the cap, the idle
//! timeout, expiry, instance restarts and time moving on, on the real server with a manual clock. After
//! every step the server's answer (status and error code, introspection's `active`, the listed
//! sessions) must equal the model's. A failure shrinks to a short sequence and prints it with the seed;
//! `PROPTEST_CASES` sets the number of sequences, `MODEL_SEED` replays one.

use std::collections::BTreeSet;
use std::time::Duration;

use backend::clock::ManualClock;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::paths;

use crate::helpers::{TestApp, TestDatabase, spawn_app_on_manual_clock};
use crate::jose::claims;

mod reset;

const ACCESS_TTL_MS: i64 = 60_000;
const REFRESH_TTL_MS: i64 = 3_600_000;
const GRACE_MS: i64 = 10_000;
const IDLE_MS: i64 = 600_000;
const MAX_SESSIONS: usize = 3;
const TOUCH_EVERY_MS: i64 = 1_000;
/// `REAUTH_MAX_AGE`, in seconds as the server compares it.
const REAUTH_MAX_AGE_S: i64 = 120;
const FLAGS: &[&str] = &[
    "--access-token-ttl",
    "60s",
    "--refresh-token-ttl",
    "1h",
    "--refresh-reuse-grace",
    "10s",
    "--session-idle-timeout",
    "10m",
    "--max-sessions-per-user",
    "3",
    "--introspection-clients",
    "model:model-secret-0123456789",
    "--login-max-failures",
    "1000",
    "--reauth-max-age",
    "2m",
];
const EMAIL: &str = "model@example.com";
const PASSWORDS: [&str; 2] = ["first model password", "second model password"];

#[derive(Debug, Clone)]
enum Command {
    Login {
        device: Option<u8>,
    },
    Me {
        token: u8,
    },
    Refresh {
        token: u8,
    },
    IntrospectAccess {
        token: u8,
    },
    IntrospectRefresh {
        token: u8,
    },
    ListSessions {
        token: u8,
    },
    LogoutAll {
        token: u8,
    },
    LogoutOthers {
        token: u8,
    },
    RevokeSession {
        token: u8,
        target: u8,
    },
    Reauthenticate {
        token: u8,
    },
    /// Ask for a reset link and, when the model expects one to arrive, use it.
    ResetPassword,
    ChangePassword {
        token: u8,
    },
    Advance {
        ms: i64,
    },
    Restart,
}

fn command() -> impl Strategy<Value = Command> {
    let index = any::<u8>;
    prop_oneof![
        4 => proptest::option::of(0..3u8).prop_map(|device| Command::Login { device }),
        4 => index().prop_map(|token| Command::Me { token }),
        6 => index().prop_map(|token| Command::Refresh { token }),
        2 => index().prop_map(|token| Command::IntrospectAccess { token }),
        2 => index().prop_map(|token| Command::IntrospectRefresh { token }),
        2 => index().prop_map(|token| Command::ListSessions { token }),
        1 => index().prop_map(|token| Command::LogoutAll { token }),
        1 => index().prop_map(|token| Command::LogoutOthers { token }),
        1 => (index(), index()).prop_map(|(token, target)| Command::RevokeSession { token, target }),
        1 => index().prop_map(|token| Command::ChangePassword { token }),
        1 => index().prop_map(|token| Command::Reauthenticate { token }),
        1 => Just(Command::ResetPassword),
        5 => prop_oneof![Just(1_000i64), Just(5_000), Just(20_000), Just(61_000), Just(300_000), Just(610_000), Just(3_700_000)]
            .prop_map(|ms| Command::Advance { ms }),
        1 => Just(Command::Restart),
    ]
}

/// One session as the model sees it.
#[derive(Debug, Clone)]
struct Session {
    id: String,
    device: Option<u8>,
    created: i64,
    /// The later of the last written and the last recorded activity.
    last_used: i64,
    /// When this instance last recorded activity (at most once a second); forgotten by a restart.
    recorded: Option<i64>,
    expires_at: i64,
    revoked: bool,
    /// Generation of the current refresh token.
    generation: u32,
    rotated_at: Option<i64>,
    /// Deleted by the purge a server runs when it starts: its tokens are then unknown.
    purged: bool,
    /// When the password was last entered for it (login, re-authentication), in seconds.
    auth_time: i64,
}

#[derive(Debug, Default)]
struct Model {
    now: i64,
    password: usize,
    sessions: Vec<Session>,
    /// (token, session index, generation)
    refresh_tokens: Vec<(String, usize, u32)>,
    access_tokens: Vec<AccessToken>,
    /// The reset requests' share of this address, and the reset mails' share of the account.
    reset_requests: reset::Window,
    reset_mails: reset::Window,
    /// Reset mails the outbox should hold.
    mails: usize,
}

/// An access token the model holds, with what it must carry.
#[derive(Debug, Clone)]
struct AccessToken {
    raw: String,
    session: usize,
    /// Seconds.
    exp: i64,
    auth_time: i64,
}

impl Model {
    fn live(&self, s: &Session) -> bool {
        !s.revoked && s.expires_at > self.now && s.last_used > self.now - IDLE_MS
    }

    fn touch(&mut self, index: usize) {
        let now = self.now;
        let session = &mut self.sessions[index];
        if session.recorded.is_none_or(|at| now - at >= TOUCH_EVERY_MS) {
            session.recorded = Some(now);
            session.last_used = session.last_used.max(now);
        }
    }

    /// What the access check answers for an access token, touching its session when it passes.
    fn access(&mut self, token: usize) -> Result<usize, (StatusCode, &'static str)> {
        let AccessToken { session, exp, .. } = self.access_tokens[token];
        if exp < self.now / 1000 {
            return Err((StatusCode::UNAUTHORIZED, "token_expired"));
        }
        if !self.live(&self.sessions[session]) {
            return Err((StatusCode::UNAUTHORIZED, "invalid_token"));
        }
        self.touch(session);
        Ok(session)
    }

    /// Records a token the server issued now for `session`, or says how its `auth_time` is wrong.
    fn issued(&mut self, raw: &str, session: usize) -> Result<(), Outcome> {
        let auth_time = self.sessions[session].auth_time;
        let carried = claims(raw)["auth_time"].as_i64();
        if carried != Some(auth_time) {
            return Err(Outcome::Status(0, Some(format!("auth_time {carried:?} where the model has {auth_time}"))));
        }
        let exp = (self.now + ACCESS_TTL_MS) / 1000;
        self.access_tokens.push(AccessToken { raw: raw.to_owned(), session, exp, auth_time });
        Ok(())
    }

    fn live_ids(&self) -> BTreeSet<String> {
        self.sessions.iter().filter(|s| self.live(s)).map(|s| s.id.clone()).collect()
    }
}

/// The step's outcome, as the model predicts it and as the server answered.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Skipped,
    Status(u16, Option<String>),
    Active(bool),
    Sessions(BTreeSet<String>),
}

struct World {
    app: Option<TestApp>,
    clock: ManualClock,
    model: Model,
    /// Where the server writes its reset mail.
    outbox: tempfile::TempDir,
}

fn flags_with_outbox(outbox: &std::path::Path) -> Vec<&'static str> {
    let outbox: &'static str = Box::leak(outbox.display().to_string().into_boxed_str());
    [FLAGS, &["--mail-outbox", outbox]].concat()
}

fn pick(index: u8, len: usize) -> Option<usize> {
    (len > 0).then(|| usize::from(index) % len)
}

async fn status_of(response: reqwest::Response) -> (Outcome, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["error"].as_str().map(str::to_owned);
    (Outcome::Status(status, code), body)
}

fn expected((status, code): (StatusCode, &str)) -> Outcome {
    Outcome::Status(status.as_u16(), Some(code.to_owned()))
}

const OK: Outcome = Outcome::Status(200, None);

impl World {
    fn app(&self) -> &TestApp {
        self.app.as_ref().unwrap()
    }

    fn flags(&self) -> Vec<&str> {
        flags_with_outbox(self.outbox.path())
    }

    /// Runs one command on the server and on the model; returns (server, model).
    async fn step(&mut self, command: &Command) -> (Outcome, Outcome) {
        // Every step at its own instant, so no two sessions tie on their times.
        self.clock.advance(Duration::from_millis(1));
        self.model.now += 1;
        match *command {
            Command::Advance { ms } => {
                self.clock.advance(Duration::from_millis(u64::try_from(ms).unwrap()));
                self.model.now += ms;
                (Outcome::Skipped, Outcome::Skipped)
            }
            Command::Restart => {
                let db = self.app.take().unwrap().stop().await;
                self.app = Some(spawn_app_on_manual_clock(db, &self.flags(), self.clock.clone()).await);
                let now = self.model.now;
                for s in &mut self.model.sessions {
                    s.recorded = None;
                    s.purged |= s.revoked || s.expires_at <= now;
                }
                (Outcome::Skipped, Outcome::Skipped)
            }
            Command::Login { device } => self.login(device).await,
            Command::ResetPassword => self.reset_password().await,
            Command::Refresh { token } => self.refresh(token).await,
            Command::IntrospectRefresh { token } => {
                let Some(t) = pick(token, self.model.refresh_tokens.len()) else { return skipped() };
                let (raw, session, generation) = self.model.refresh_tokens[t].clone();
                let s = &self.model.sessions[session];
                let predicted = Outcome::Active(s.generation == generation && self.model.live(s));
                (self.introspect(&raw).await, predicted)
            }
            Command::IntrospectAccess { token } => {
                let Some(t) = pick(token, self.model.access_tokens.len()) else { return skipped() };
                let AccessToken { raw, exp, .. } = self.model.access_tokens[t].clone();
                let predicted = Outcome::Active(exp * 1000 > self.model.now && self.model.access(t).is_ok());
                (self.introspect(&raw).await, predicted)
            }
            _ => self.with_access(command).await,
        }
    }

    async fn login(&mut self, device: Option<u8>) -> (Outcome, Outcome) {
        let body = json!({
            "email": EMAIL,
            "password": PASSWORDS[self.model.password],
            "deviceId": device.map(|d| format!("device-{d}")),
        });
        let (outcome, answer) = status_of(self.app().post_json(paths::LOGIN, &body).await).await;
        if outcome != OK {
            return (outcome, OK);
        }
        let model = &mut self.model;
        let now = model.now;
        if let Some(device) = device {
            model.sessions.iter_mut().filter(|s| s.device == Some(device) && !s.revoked).for_each(|s| s.revoked = true);
        }
        let access = answer["data"]["access_token"].as_str().unwrap().to_owned();
        let refresh = answer["data"]["refresh_token"].as_str().unwrap().to_owned();
        let id = claims(&access)["sid"].as_str().unwrap().to_owned();
        model.sessions.push(Session {
            id,
            device,
            created: now,
            last_used: now,
            recorded: None,
            expires_at: now + REFRESH_TTL_MS,
            revoked: false,
            generation: 0,
            rotated_at: None,
            purged: false,
            auth_time: now / 1000,
        });
        let new = model.sessions.len() - 1;
        // The cap: the least recently used live sessions beyond it end.
        let mut others: Vec<usize> = (0..new).filter(|i| model.live(&model.sessions[*i])).collect();
        others.sort_by_key(|i| std::cmp::Reverse((model.sessions[*i].last_used, model.sessions[*i].created)));
        for i in others.into_iter().skip(MAX_SESSIONS - 1) {
            model.sessions[i].revoked = true;
        }
        model.refresh_tokens.push((refresh, new, 0));
        if let Err(wrong) = model.issued(&access, new) {
            return (wrong, OK);
        }
        (outcome, OK)
    }

    async fn refresh(&mut self, token: u8) -> (Outcome, Outcome) {
        let Some(t) = pick(token, self.model.refresh_tokens.len()) else { return skipped() };
        let (raw, index, presented) = self.model.refresh_tokens[t].clone();
        let (outcome, answer) = status_of(self.app().refresh(&raw).await).await;
        let model = &mut self.model;
        let now = model.now;
        let live = model.live(&model.sessions[index]);
        let s = &mut model.sessions[index];
        let predicted = if s.purged {
            expected((StatusCode::FORBIDDEN, "refresh_token_invalid"))
        } else if presented + 1 < s.generation {
            s.revoked = true;
            expected((StatusCode::FORBIDDEN, "refresh_token_reused"))
        } else if s.revoked || s.expires_at <= now {
            expected((StatusCode::FORBIDDEN, "refresh_token_invalid"))
        } else if !live {
            s.revoked = true;
            expected((StatusCode::FORBIDDEN, "session_idle"))
        } else if presented == s.generation {
            s.generation += 1;
            s.rotated_at = Some(now);
            s.expires_at = now + REFRESH_TTL_MS;
            OK
        } else if s.rotated_at.is_some_and(|at| now - at <= GRACE_MS) {
            OK
        } else {
            s.revoked = true;
            expected((StatusCode::FORBIDDEN, "refresh_token_reused"))
        };
        if predicted == OK && outcome == OK {
            let generation = model.sessions[index].generation;
            let access = answer["data"]["access_token"].as_str().unwrap().to_owned();
            let refresh = answer["data"]["refresh_token"].as_str().unwrap().to_owned();
            if !model.refresh_tokens.iter().any(|(r, _, _)| *r == refresh) {
                model.refresh_tokens.push((refresh, index, generation));
            }
            if let Err(wrong) = model.issued(&access, index) {
                return (wrong, OK);
            }
        }
        (outcome, predicted)
    }

    async fn introspect(&self, token: &str) -> Outcome {
        let app = self.app();
        let request = app.client.post(app.url(paths::INTROSPECT)).basic_auth("model", Some("model-secret-0123456789"));
        let answer: Value = request.form(&[("token", token)]).send().await.unwrap().json().await.unwrap();
        Outcome::Active(answer["active"].as_bool().unwrap_or(false))
    }

    /// The commands that act through an access token: the access check first, then the command.
    async fn with_access(&mut self, command: &Command) -> (Outcome, Outcome) {
        let (Command::Me { token }
        | Command::ListSessions { token }
        | Command::LogoutAll { token }
        | Command::LogoutOthers { token }
        | Command::RevokeSession { token, .. }
        | Command::ChangePassword { token }
        | Command::Reauthenticate { token }) = *command
        else {
            unreachable!("{command:?} needs no access token")
        };
        let Some(t) = pick(token, self.model.access_tokens.len()) else { return skipped() };
        let raw = self.model.access_tokens[t].raw.clone();
        let app = self.app();
        let request = match command {
            Command::Me { .. } => app.client.get(app.url(paths::ME)),
            Command::ListSessions { .. } => app.client.get(app.url(paths::SESSIONS)),
            Command::LogoutAll { .. } => app.client.post(app.url(paths::LOGOUT_ALL)),
            Command::LogoutOthers { .. } => app.client.post(app.url(paths::LOGOUT_OTHERS)),
            Command::RevokeSession { target, .. } => {
                let target = usize::from(*target) % self.model.sessions.len();
                app.client.delete(app.url(&paths::session(&self.model.sessions[target].id)))
            }
            Command::ChangePassword { .. } => app.client.post(app.url(paths::CHANGE_PASSWORD)).json(&json!({
                "currentPassword": PASSWORDS[self.model.password],
                "newPassword": PASSWORDS[1 - self.model.password],
            })),
            Command::Reauthenticate { .. } => app
                .client
                .post(app.url(paths::REAUTHENTICATE))
                .json(&json!({"password": PASSWORDS[self.model.password]})),
            _ => unreachable!(),
        };
        let (outcome, answer) = status_of(request.bearer_auth(&raw).send().await.unwrap()).await;
        let caller = match self.model.access(t) {
            Ok(caller) => caller,
            Err(refused) => return (outcome, expected(refused)),
        };
        let model = &mut self.model;
        // The sensitive ones need the password entered within REAUTH_MAX_AGE; a refresh never helps.
        let sensitive =
            !matches!(command, Command::Me { .. } | Command::ListSessions { .. } | Command::Reauthenticate { .. });
        if sensitive && model.now / 1000 - model.access_tokens[t].auth_time > REAUTH_MAX_AGE_S {
            return (outcome, expected((StatusCode::UNAUTHORIZED, "reauthentication_required")));
        }
        let others_of = |model: &Model, keep: usize| {
            let kept = model.sessions[keep].id.clone();
            model.sessions.iter().enumerate().filter(move |(_, s)| s.id != kept).map(|(i, _)| i).collect::<Vec<_>>()
        };
        match command {
            Command::ListSessions { .. } => {
                if outcome != OK {
                    return (outcome, OK);
                }
                let listed = answer["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned());
                return (Outcome::Sessions(listed.collect()), Outcome::Sessions(model.live_ids()));
            }
            Command::LogoutAll { .. } => model.sessions.iter_mut().for_each(|s| s.revoked = true),
            Command::LogoutOthers { .. } => {
                for i in others_of(model, caller) {
                    model.sessions[i].revoked = true;
                }
            }
            Command::RevokeSession { target, .. } => {
                let target = usize::from(*target) % model.sessions.len();
                if model.sessions[target].purged {
                    return (outcome, expected((StatusCode::NOT_FOUND, "not_found")));
                }
                model.sessions[target].revoked = true;
            }
            Command::ChangePassword { .. } => {
                for i in others_of(model, caller) {
                    model.sessions[i].revoked = true;
                }
                model.password = 1 - model.password;
            }
            Command::Reauthenticate { .. } => {
                if outcome != OK {
                    return (outcome, OK);
                }
                model.sessions[caller].auth_time = model.now / 1000;
                let access = answer["data"]["access_token"].as_str().unwrap().to_owned();
                if let Err(wrong) = model.issued(&access, caller) {
                    return (wrong, OK);
                }
            }
            _ => {}
        }
        (outcome, OK)
    }
}

fn skipped() -> (Outcome, Outcome) {
    (Outcome::Skipped, Outcome::Skipped)
}

/// Runs one sequence on a fresh server and database; the first step where server and model differ.
async fn run(commands: &[Command]) -> Result<usize, String> {
    // The model keeps the server's time, so it can predict the claims that carry it.
    let start = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis());
    let start = start.unwrap();
    let clock = ManualClock::starting_at(start);
    let outbox = tempfile::tempdir().unwrap();
    let flags = flags_with_outbox(outbox.path());
    let app = spawn_app_on_manual_clock(TestDatabase::new().await, &flags, clock.clone()).await;
    let body = json!({"username": "model", "email": EMAIL, "password": PASSWORDS[0]});
    assert_eq!(app.post_json(paths::REGISTER, &body).await.status(), StatusCode::CREATED);
    let mut world = World { app: Some(app), clock, model: Model { now: start, ..Model::default() }, outbox };
    let mut steps = 0;
    for (i, command) in commands.iter().enumerate() {
        let (server, model) = world.step(command).await;
        if server != model {
            return Err(format!("step {i} {command:?}: the server answered {server:?}, the model says {model:?}"));
        }
        if server != Outcome::Skipped {
            steps += 1;
        }
    }
    if let Some(app) = world.app.take() {
        app.stop().await;
    }
    Ok(steps)
}

#[test]
fn every_session_lifecycle_matches_the_model() {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(24);
    let seed: u64 = std::env::var("MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand_seed);
    println!("lifecycle model: seed {seed} (MODEL_SEED={seed} replays it), {cases} sequences");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let totals = std::sync::Mutex::new((0usize, 0usize, 0usize));
    let result = runner.run(&proptest::collection::vec(command(), 1..48), |commands| {
        let steps = runtime.block_on(run(&commands)).map_err(TestCaseError::fail)?;
        let mut totals = totals.lock().unwrap();
        *totals = (totals.0 + 1, totals.1 + steps, totals.2.max(commands.len()));
        Ok(())
    });
    let (sequences, steps, longest) = *totals.lock().unwrap();
    println!("lifecycle model: {sequences} sequences, {steps} steps answered, longest sequence {longest} commands");
    if let Err(failure) = result {
        panic!("seed {seed}: {failure}");
    }
}

fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(0)
}
