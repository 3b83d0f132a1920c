//! [`FakeServer`]: the token rules of a real server, scriptable.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{FakeClock, paths, yield_now};
use crate::error::TransportError;
use crate::http::{Request, Response};
use crate::ports::{Clock, TokenStore, Transport};

/// How the fake server answers refresh calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshMode {
    /// By the token rules.
    Normal,
    /// Always this status and envelope error code.
    Status(u16, &'static str),
    /// No answer at all.
    NetworkDown,
    /// This status (429 or 503, say) with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
}

type Hook = Box<dyn FnOnce(&FakeServer)>;

/// How long the previous refresh token still answers with the same successor, as on the real server.
pub const GRACE_MS: i64 = 10_000;

/// (path, bearer, body) of one request.
pub type SeenRequest = (String, Option<String>, Option<String>);

#[derive(Default)]
struct ServerState {
    generation: u32,
    access: String,
    refresh: String,
    previous: Option<(String, i64)>,
    issued: Vec<String>,
    revoked: bool,
    refresh_calls: u32,
    requests: Vec<SeenRequest>,
    always_401: Vec<String>,
    refusal_status: Option<u16>,
    stalled: Vec<String>,
    before_answering: Option<(String, Hook)>,
    /// Paths that answer RFC 9470's challenge to any token but one from a re-authentication.
    step_up: Vec<String>,
    reauthenticated: Option<String>,
}

/// The server's token rules in miniature, speaking [`EnvelopeProtocol`](crate::EnvelopeProtocol):
/// one live access token and one live refresh token per session; rotation with a grace window
/// ([`GRACE_MS`]) that hands racing callers the same successor; any other use of a retired token
/// revokes the session (403 `refresh_token_reused`, after which nothing of it works); logout revokes
/// it too. Every other path answers `"pong"` to the live access token and 401 to anything else.
#[derive(Clone)]
pub struct FakeServer {
    state: Rc<RefCell<ServerState>>,
    mode: Rc<RefCell<RefreshMode>>,
    hold_refreshes: Rc<Cell<bool>>,
    clock: FakeClock,
    access_lifetime_s: Rc<Cell<u64>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer").field("refresh_calls", &self.refresh_calls()).finish_non_exhaustive()
    }
}

impl FakeServer {
    /// A server with 60 s access tokens, on `clock`.
    pub fn new(clock: &FakeClock) -> Self {
        Self {
            state: Rc::default(),
            mode: Rc::new(RefCell::new(RefreshMode::Normal)),
            hold_refreshes: Rc::default(),
            clock: clock.clone(),
            access_lifetime_s: Rc::new(Cell::new(60)),
        }
    }

    /// The request [`RefreshClient::login`](crate::RefreshClient::login) takes for this server.
    pub fn login_request() -> Request {
        Request::post(paths::LOGIN)
    }

    /// The lifetime of access tokens issued from now on.
    pub fn set_access_lifetime_s(&self, seconds: u64) {
        self.access_lifetime_s.set(seconds);
    }

    fn start_session(&self) -> (String, String) {
        let mut state = self.state.borrow_mut();
        state.revoked = false;
        state.previous = None;
        Self::next_pair(&mut state)
    }

    fn next_pair(state: &mut ServerState) -> (String, String) {
        state.generation += 1;
        state.access = format!("access-{}", state.generation);
        state.refresh = format!("refresh-{}", state.generation);
        state.issued.push(state.refresh.clone());
        (state.access.clone(), state.refresh.clone())
    }

    /// A successful rotation of `presented`, or the error code it is refused with.
    fn rotate(&self, presented: &str) -> Result<(String, String), &'static str> {
        let now = self.clock.now_ms();
        let mut state = self.state.borrow_mut();
        if state.revoked || !state.issued.iter().any(|t| t == presented) {
            return Err("refresh_token_invalid");
        }
        if presented == state.refresh {
            state.previous = Some((presented.to_owned(), now));
            return Ok(Self::next_pair(&mut state));
        }
        let in_grace = state.previous.as_ref().is_some_and(|(token, at)| token == presented && now - at <= GRACE_MS);
        if in_grace {
            return Ok((state.access.clone(), state.refresh.clone()));
        }
        state.revoked = true;
        Err("refresh_token_reused")
    }

    /// The server stops accepting the current access token, as when it expires.
    pub fn expire_access(&self) {
        self.state.borrow_mut().access = "nobody-holds-this".into();
    }

    /// While set, refresh answers wait: lets a test line up callers behind a refresh in flight.
    pub fn hold_refreshes(&self, hold: bool) {
        self.hold_refreshes.set(hold);
    }

    /// How refresh calls are answered from now on.
    pub fn set_mode(&self, mode: RefreshMode) {
        *self.mode.borrow_mut() = mode;
    }

    /// Refresh calls answered so far.
    pub fn refresh_calls(&self) -> u32 {
        self.state.borrow().refresh_calls
    }

    /// Whether the session has been revoked (by reuse or logout).
    pub fn revoked(&self) -> bool {
        self.state.borrow().revoked
    }

    /// Every request seen, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.borrow().requests.clone()
    }

    /// How many requests went to `path`.
    pub fn calls_to(&self, path: &str) -> usize {
        self.state.borrow().requests.iter().filter(|(p, ..)| p == path).count()
    }

    /// `path` answers 401 whatever the token.
    pub fn always_401(&self, path: &str) {
        self.state.borrow_mut().always_401.push(path.to_owned());
    }

    /// A refused access token is answered with `status` instead of 401 (an API that says 403).
    pub fn refuse_tokens_with(&self, status: u16) {
        self.state.borrow_mut().refusal_status = Some(status);
    }

    /// Requests to `path` never get an answer (a server that hangs).
    pub fn stall(&self, path: &str) {
        self.state.borrow_mut().stalled.push(path.to_owned());
    }

    /// Runs `hook` just before the next answer to `path` goes out (another tab acting meanwhile).
    pub fn before_answering(&self, path: &str, hook: impl FnOnce(&FakeServer) + 'static) {
        self.state.borrow_mut().before_answering = Some((path.to_owned(), Box::new(hook)));
    }

    /// `path` asks for recent authentication: it answers 401 with RFC 9470's challenge
    /// (`max_age=600`) unless the access token came from a re-authentication.
    pub fn require_recent_authentication(&self, path: &str) {
        self.state.borrow_mut().step_up.push(path.to_owned());
    }

    /// What another tab's successful refresh leaves in `store`.
    pub fn rotate_for_other_tab<U: Clone>(&self, store: &impl TokenStore<U>) {
        let mut session = store.load().expect("a session to rotate");
        let presented = session.refresh_token.clone().unwrap_or_default();
        let (access, refresh) = self.rotate(&presented).expect("the other tab's refresh succeeds");
        let now = self.clock.now_ms();
        session.access_token = access;
        session.refresh_token = Some(refresh);
        session.access_issued_at = now;
        session.access_expires_at = now + 60_000;
        store.save(&session).expect("the other tab saves");
    }

    fn token_body(&self, access: &str, refresh: &str) -> String {
        serde_json::json!({"code": 200, "message": "ok", "data": {
            "access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": self.access_lifetime_s.get(), "refresh_expires_in": 3600,
            "email": "ann@example.com"}})
        .to_string()
    }

    fn answer(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError> {
        let reply = |status: u16, error: &str| {
            let body = serde_json::json!({"code": status, "message": error, "data": null, "error": error});
            Response::new(status, body.to_string())
        };
        if request.path == paths::LOGIN {
            let (access, refresh) = self.start_session();
            return Ok(Response::new(200, self.token_body(&access, &refresh)));
        }
        if request.path == paths::REFRESH {
            self.state.borrow_mut().refresh_calls += 1;
            match self.mode.borrow().clone() {
                RefreshMode::Normal => {}
                RefreshMode::Status(status, code) => return Ok(reply(status, code)),
                RefreshMode::NetworkDown => return Err(TransportError::new("connection refused")),
                RefreshMode::RetryAfter(status, seconds) => {
                    let mut answer = reply(status, "try_later");
                    answer.headers.push(("retry-after".into(), seconds.to_string()));
                    return Ok(answer);
                }
            }
            let body: serde_json::Value =
                request.body.as_ref().and_then(|b| serde_json::from_slice(&b.to_bytes()).ok()).unwrap_or_default();
            return Ok(match self.rotate(body["refreshToken"].as_str().unwrap_or_default()) {
                Ok((access, refresh)) => Response::new(200, self.token_body(&access, &refresh)),
                Err(code) => reply(403, code),
            });
        }
        let mut state = self.state.borrow_mut();
        if state.revoked || state.always_401.contains(&request.path) || bearer != Some(state.access.as_str()) {
            return Ok(reply(state.refusal_status.unwrap_or(401), "invalid_token"));
        }
        if request.path == paths::LOGOUT {
            state.revoked = true;
        }
        if request.path == paths::REAUTHENTICATE {
            let body = request.body.as_ref().map(|b| b.to_bytes().into_owned()).unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if body["password"] != super::PASSWORD {
                return Ok(reply(401, "invalid_credentials"));
            }
            // The same session: a new access token, the refresh token unchanged.
            state.access = format!("{}-again", state.access);
            state.reauthenticated = Some(state.access.clone());
            let data = serde_json::json!({"access_token": state.access, "token_type": "Bearer",
                "expires_in": self.access_lifetime_s.get(), "auth_time": 0});
            return Ok(Response::new(200, serde_json::json!({"code": 200, "message": "ok", "data": data}).to_string()));
        }
        if state.step_up.contains(&request.path) && state.reauthenticated.as_deref() != bearer {
            let mut answer = reply(401, "reauthentication_required");
            let challenge =
                r#"Bearer error="insufficient_user_authentication", error_description="again", max_age=600"#;
            answer.headers.push(("www-authenticate".into(), challenge.into()));
            return Ok(answer);
        }
        if [paths::LOGOUT_OTHERS, paths::CHANGE_PASSWORD].contains(&request.path.as_str()) {
            return Ok(Response::new(200, r#"{"code":200,"message":"ok","data":{"revoked":1}}"#));
        }
        Ok(Response::new(200, r#"{"code":200,"message":"ok","data":"pong"}"#))
    }
}

impl Transport for FakeServer {
    async fn send(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError> {
        let body = request.body.as_ref().map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned());
        self.state.borrow_mut().requests.push((request.path.clone(), bearer.map(str::to_owned), body));
        yield_now().await;
        while request.path == paths::REFRESH && self.hold_refreshes.get() {
            yield_now().await;
        }
        if self.state.borrow().stalled.contains(&request.path) {
            futures::future::pending::<()>().await;
        }
        let hook = {
            let mut state = self.state.borrow_mut();
            let matches = state.before_answering.as_ref().is_some_and(|(path, _)| *path == request.path);
            if matches { state.before_answering.take() } else { None }
        };
        if let Some((_, hook)) = hook {
            hook(self);
        }
        self.answer(request, bearer)
    }
}
