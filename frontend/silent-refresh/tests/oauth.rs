//! The OAuth 2.0 protocol (RFC 6749 §5, §6; RFC 7009) through the whole client, against a scripted
//! token endpoint.

use std::cell::RefCell;
use std::rc::Rc;

use futures::executor::block_on;
use futures::future::join_all;
use silent_refresh::{
    Body, ClientError, Clock, Config, MemoryStore, NoLock, OAuthGrant, OAuthProtocol, RefreshClient, Request, Response,
    TokenStore, Transport, TransportError,
};

const TOKEN_ENDPOINT: &str = "https://auth.example.com/oauth/token";
const REVOKE_ENDPOINT: &str = "https://auth.example.com/oauth/revoke";
const API: &str = "https://api.example.com/me";

/// A token endpoint and a resource server in one, following the RFC's rules.
#[derive(Clone, Default)]
struct AuthServer(Rc<RefCell<AuthState>>);

#[derive(Default)]
struct AuthState {
    generation: u32,
    live_access: String,
    live_refresh: String,
    /// Whether refreshes rotate the refresh token (many servers do not).
    rotate: bool,
    /// Answer the next refresh with this status and §5.2 error.
    fail_next: Option<(u16, &'static str)>,
    token_requests: Vec<Vec<(String, String)>>,
    revoked: Vec<String>,
}

fn form(body: Option<&Body>) -> Vec<(String, String)> {
    let Some(Body::Form(fields)) = body else { panic!("the token endpoint takes a form body: {body:?}") };
    fields.clone()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl AuthServer {
    fn issue(&self) -> String {
        let mut state = self.0.borrow_mut();
        state.generation += 1;
        state.live_access = format!("at-{}", state.generation);
        let rotate = state.rotate || state.live_refresh.is_empty();
        if rotate {
            state.live_refresh = format!("rt-{}", state.generation);
        }
        let mut body = serde_json::json!({"access_token": state.live_access, "token_type": "Bearer", "expires_in": 3600, "scope": "read"});
        if rotate {
            body["refresh_token"] = state.live_refresh.clone().into();
        }
        body.to_string()
    }
}

impl Transport for AuthServer {
    async fn send(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError> {
        silent_refresh::testing::yield_now().await;
        match request.path.as_str() {
            TOKEN_ENDPOINT => {
                let fields = form(request.body.as_ref());
                self.0.borrow_mut().token_requests.push(fields.clone());
                if let Some((status, error)) = self.0.borrow_mut().fail_next.take() {
                    return Ok(Response::new(status, format!(r#"{{"error":"{error}","error_description":"no"}}"#)));
                }
                let grant_ok = match field(&fields, "grant_type") {
                    Some("password") => true,
                    Some("refresh_token") => field(&fields, "refresh_token") == Some(&self.0.borrow().live_refresh),
                    _ => false,
                };
                if !grant_ok {
                    return Ok(Response::new(400, r#"{"error":"invalid_grant"}"#));
                }
                Ok(Response::new(200, self.issue()))
            }
            REVOKE_ENDPOINT => {
                let token = field(&form(request.body.as_ref()), "token").unwrap_or_default().to_owned();
                self.0.borrow_mut().revoked.push(token);
                Ok(Response::new(200, ""))
            }
            _ if bearer == Some(self.0.borrow().live_access.as_str()) => Ok(Response::new(200, r#"{"name":"ann"}"#)),
            _ => Ok(Response::new(401, r#"{"error":"invalid_token"}"#)),
        }
    }
}

#[derive(Clone, Copy)]
struct Frozen(i64);

impl Clock for Frozen {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

type Client = RefreshClient<OAuthProtocol>;

fn client(server: &AuthServer) -> (Client, MemoryStore<OAuthGrant>) {
    let protocol = OAuthProtocol::new(TOKEN_ENDPOINT).client_id("spa").revocation_endpoint(REVOKE_ENDPOINT);
    let store = MemoryStore::new();
    let client = RefreshClient::new(protocol, server.clone(), store.clone(), Frozen(1_000), NoLock, Config::default());
    let login =
        Request::post(TOKEN_ENDPOINT).form(&[("grant_type", "password"), ("username", "ann"), ("password", "pw")]);
    let session = block_on(client.login(&login)).expect("password grant");
    assert_eq!(session.user, OAuthGrant { scope: Some("read".into()) });
    (client, store)
}

/// The server stops taking the current access token, as when it expires.
fn expire(server: &AuthServer) {
    server.0.borrow_mut().live_access = "expired".into();
}

#[test]
fn concurrent_401s_make_one_refresh_grant_with_the_client_id_and_all_succeed() {
    let server = AuthServer::default();
    server.0.borrow_mut().rotate = true;
    let (client, store) = client(&server);
    expire(&server);

    let request = Request::get(API);
    let answers = block_on(join_all((0..10).map(|_| client.fetch::<serde_json::Value>(&request))));

    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let requests = server.0.borrow().token_requests.clone();
    assert_eq!(requests.len(), 2, "the password grant, then one refresh");
    let refresh = &requests[1];
    assert_eq!(field(refresh, "grant_type"), Some("refresh_token"));
    assert_eq!(field(refresh, "refresh_token"), Some("rt-1"));
    assert_eq!(field(refresh, "client_id"), Some("spa"));
    assert_eq!(store.load().unwrap().refresh_token.as_deref(), Some("rt-2"), "the rotated token is kept");
}

#[test]
fn a_server_that_does_not_rotate_keeps_the_refresh_token_working() {
    let server = AuthServer::default();
    let (client, store) = client(&server);
    for _ in 0..3 {
        expire(&server);
        block_on(client.fetch::<serde_json::Value>(&Request::get(API))).expect("refreshed with the same token");
    }
    assert_eq!(store.load().unwrap().refresh_token.as_deref(), Some("rt-1"));
}

#[test]
fn invalid_grant_ends_the_session() {
    let server = AuthServer::default();
    let (client, store) = client(&server);
    expire(&server);
    server.0.borrow_mut().fail_next = Some((400, "invalid_grant"));
    let result = block_on(client.fetch::<serde_json::Value>(&Request::get(API)));
    assert!(matches!(result, Err(ClientError::SessionExpired)), "{result:?}");
    assert!(store.load().is_none());
}

#[test]
fn temporarily_unavailable_keeps_the_session() {
    let server = AuthServer::default();
    let (client, store) = client(&server);
    expire(&server);
    server.0.borrow_mut().fail_next = Some((503, "temporarily_unavailable"));
    let result = block_on(client.fetch::<serde_json::Value>(&Request::get(API)));
    assert!(matches!(result, Err(ClientError::Network(_))), "{result:?}");
    assert!(store.load().is_some());
}

#[test]
fn logout_revokes_the_refresh_token() {
    let server = AuthServer::default();
    let (client, store) = client(&server);
    block_on(client.logout());
    assert_eq!(server.0.borrow().revoked, ["rt-1"]);
    assert!(store.load().is_none());
}
