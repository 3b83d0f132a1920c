//! The contract of this project's server: JSON envelopes `{code, message, data, error?}`, a refresh
//! endpoint taking `{"refreshToken": …}` and answering with a rotated pair, and
//! `refresh_token_reused` when a retired token comes back (the server then revokes the session).
//!
//! With [`EnvelopeProtocol::cookie_delivery`] every login, refresh and logout says
//! `X-Token-Delivery: cookie`: the server keeps the refresh token in an `HttpOnly` cookie, the page
//! holds only the access token, and a reloaded page restores its session with one refresh call.

use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Protocol, RefreshOutcome, TokenFields, TokenGrant};
use crate::account::AccountProtocol;
use crate::error::{ApiErrorBody, ClientError, DecodeError};
use crate::http::{Request, Response};

/// This server's "sign out other devices".
const LOGOUT_OTHERS_PATH: &str = "/api/auth/logout-others";
/// This server's password change.
const CHANGE_PASSWORD_PATH: &str = "/api/account/password";
const REAUTHENTICATE_PATH: &str = "/api/auth/reauthenticate";

/// This project's server contract, with `U` read from the login answer's `data` (the fields beside
/// the tokens).
#[derive(Debug)]
pub struct EnvelopeProtocol<U> {
    refresh_path: String,
    logout_path: String,
    cookie: bool,
    user: PhantomData<fn() -> U>,
}

impl<U> Clone for EnvelopeProtocol<U> {
    fn clone(&self) -> Self {
        Self {
            refresh_path: self.refresh_path.clone(),
            logout_path: self.logout_path.clone(),
            cookie: self.cookie,
            user: PhantomData,
        }
    }
}

/// The header that asks this server for cookie delivery, and its value.
const DELIVERY_HEADER: (&str, &str) = ("X-Token-Delivery", "cookie");

impl<U> Default for EnvelopeProtocol<U> {
    /// `/api/auth/refresh-token` and `/api/auth/logout`.
    fn default() -> Self {
        Self::new("/api/auth/refresh-token", "/api/auth/logout")
    }
}

impl<U> EnvelopeProtocol<U> {
    /// The contract at other paths.
    pub fn new(refresh_path: impl Into<String>, logout_path: impl Into<String>) -> Self {
        Self { refresh_path: refresh_path.into(), logout_path: logout_path.into(), cookie: false, user: PhantomData }
    }

    /// The refresh token travels in an `HttpOnly` cookie instead of the body (the safer mode for an app
    /// on the API's own site): no script can read it, and the page keeps only the access token.
    #[must_use]
    pub fn cookie_delivery(mut self) -> Self {
        self.cookie = true;
        self
    }

    fn deliver(&self, request: Request) -> Request {
        if self.cookie { request.header(DELIVERY_HEADER.0, DELIVERY_HEADER.1) } else { request }
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    message: String,
    data: Option<T>,
    #[serde(default)]
    error: Option<String>,
}

/// The envelope's `data`.
fn data<T: DeserializeOwned>(response: &Response) -> Result<T, DecodeError> {
    let envelope: Envelope<T> = response.json()?;
    envelope.data.ok_or_else(|| DecodeError::new("the envelope has no data"))
}

impl<U: Clone + serde::Serialize + DeserializeOwned + 'static> Protocol for EnvelopeProtocol<U> {
    type User = U;

    fn login_request(&self, request: Request) -> Request {
        self.deliver(request)
    }

    fn resumable(&self) -> bool {
        self.cookie
    }

    fn refresh_request(&self, refresh_token: Option<&str>) -> Request {
        let body = match refresh_token.filter(|_| !self.cookie) {
            Some(token) => serde_json::json!({ "refreshToken": token }),
            None => serde_json::json!({}),
        };
        let request =
            Request::post(&self.refresh_path).json(&body).unwrap_or_else(|_| Request::post(&self.refresh_path));
        self.deliver(request)
    }

    fn classify_refresh(&self, response: &Response) -> RefreshOutcome {
        match response.status {
            200..=299 => match data::<TokenFields>(response) {
                Ok(tokens) => RefreshOutcome::Rotated((&tokens).into()),
                Err(error) => RefreshOutcome::Transient(format!("unreadable refresh answer: {error}")),
            },
            // Missing, invalid, expired, revoked or reused (the server has revoked the session then).
            400 | 401 | 403 => RefreshOutcome::Final(self.read_error(response)),
            status => RefreshOutcome::Transient(format!("refresh answered {status}")),
        }
    }

    fn read_login(&self, response: &Response) -> Result<(TokenGrant, U), ClientError> {
        let tokens: TokenFields = data(response)?;
        let user: U = data(response)?;
        Ok(((&tokens).into(), user))
    }

    fn logout_request(&self, _refresh_token: Option<&str>) -> Option<Request> {
        Some(self.deliver(Request::post(&self.logout_path)))
    }

    fn read_body<D: DeserializeOwned>(&self, response: &Response) -> Result<D, DecodeError> {
        data(response)
    }

    fn read_error(&self, response: &Response) -> ApiErrorBody {
        match response.json::<Envelope<serde_json::Value>>() {
            Ok(envelope) if !envelope.message.trim().is_empty() => ApiErrorBody::new(envelope.error, envelope.message),
            Ok(envelope) => ApiErrorBody::new(envelope.error, format!("HTTP {}", response.status)),
            Err(_) => ApiErrorBody::new(None, format!("HTTP {}", response.status)),
        }
    }
}

/// A re-authentication's answer: a new access token for the same session.
#[derive(Deserialize)]
struct Reauthenticated {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: Option<String>,
}

/// The answer to "sign out other devices" and to a password change: how many other sessions ended.
#[derive(Deserialize)]
struct SessionsEnded {
    revoked: u64,
}

impl<U: Clone + serde::Serialize + DeserializeOwned + 'static> AccountProtocol for EnvelopeProtocol<U> {
    fn logout_others_request(&self) -> Request {
        Request::post(LOGOUT_OTHERS_PATH)
    }

    fn change_password_request(&self, current: &str, new: &str) -> Result<Request, ClientError> {
        let body = serde_json::json!({"currentPassword": current, "newPassword": new});
        Request::post(CHANGE_PASSWORD_PATH).json(&body).map_err(|e| ClientError::InvalidRequest(e.to_string()))
    }

    fn read_sessions_ended(&self, response: &Response) -> Result<u64, DecodeError> {
        Ok(data::<SessionsEnded>(response)?.revoked)
    }

    fn reauthenticate_request(&self, password: &str) -> Result<Request, ClientError> {
        let body = serde_json::json!({"password": password});
        Request::post(REAUTHENTICATE_PATH).json(&body).map_err(|e| ClientError::InvalidRequest(e.to_string()))
    }

    fn read_reauthenticated(&self, response: &Response) -> Result<TokenGrant, DecodeError> {
        let fresh = data::<Reauthenticated>(response)?;
        Ok(TokenGrant::new(fresh.access_token, None, Some(fresh.expires_in), None).with_token_type(fresh.token_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
    struct User {
        username: String,
    }

    fn protocol() -> EnvelopeProtocol<User> {
        EnvelopeProtocol::default()
    }

    #[test]
    fn a_login_answer_gives_the_grant_and_the_user_beside_it() {
        let body = r#"{"code":200,"message":"ok","data":{"access_token":"a","refresh_token":"r","token_type":"Bearer",
            "expires_in":900,"refresh_expires_in":604800,"username":"ann","email":"e","role":"user"}}"#;
        let (grant, user) = protocol().read_login(&Response::new(200, body)).unwrap();
        let expected = TokenGrant::new("a", Some("r".into()), Some(900), Some(604_800));
        assert_eq!(grant, expected.with_token_type(Some("Bearer".into())));
        assert!(!grant.is_dpop());
        assert_eq!(user.username, "ann");
    }

    #[test]
    fn refusals_are_final_and_the_rest_transient() {
        let reused = r#"{"code":403,"message":"m","data":null,"error":"refresh_token_reused"}"#;
        match protocol().classify_refresh(&Response::new(403, reused)) {
            RefreshOutcome::Final(body) => assert_eq!(body.code.as_deref(), Some("refresh_token_reused")),
            other => panic!("{other:?}"),
        }
        for status in [500, 502, 503, 504, 429] {
            assert!(matches!(protocol().classify_refresh(&Response::new(status, "")), RefreshOutcome::Transient(_)));
        }
        assert!(matches!(protocol().classify_refresh(&Response::new(200, "<html>")), RefreshOutcome::Transient(_)));
    }

    #[test]
    fn cookie_delivery_says_so_on_every_call_and_never_sends_a_token_in_the_body() {
        let cookie = protocol().cookie_delivery();
        let refresh = cookie.refresh_request(Some("tok"));
        assert_eq!(refresh.body, Some(crate::http::Body::Json("{}".into())));
        let login = cookie.login_request(Request::post("/api/auth/login"));
        for request in [refresh, login, cookie.logout_request(None).unwrap()] {
            assert_eq!(request.header_value("x-token-delivery"), Some("cookie"));
        }
        assert!(cookie.resumable() && !protocol().resumable());
        assert_eq!(protocol().login_request(Request::post("/x")).headers, vec![]);
    }

    #[test]
    fn the_refresh_body_is_the_tutorials() {
        let request = protocol().refresh_request(Some("tok"));
        assert_eq!(request.path, "/api/auth/refresh-token");
        assert_eq!(request.body, Some(crate::http::Body::Json(r#"{"refreshToken":"tok"}"#.into())));
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Whatever a server (or a proxy in front of it) answers, reading it never panics: a refresh
        /// answer is classified, a body is data or a `DecodeError`, a failure has a message.
        #[test]
        fn any_answer_is_read_without_panicking(
            body in "\\PC{0,200}|\\{\"code\":[0-9]{1,3},\"message\":\"[a-z ]{0,9}\",\"data\":(null|\"x\"|[0-9]{1,5}|\\{\"access_token\":\"a\"\\})(,\"error\":\"[a-z_]{0,25}\")?\\}",
            status in 100u16..600,
        ) {
            let response = Response::new(status, body);
            let _ = protocol().classify_refresh(&response);
            let _ = protocol().read_login(&response);
            let _ = protocol().read_body::<String>(&response);
            proptest::prop_assert!(!protocol().read_error(&response).message.is_empty());
        }

        /// A well-formed envelope always yields its data.
        #[test]
        fn a_success_envelope_yields_its_data(data in "\\PC{0,50}") {
            let body = serde_json::json!({"code": 200, "message": "ok", "data": data}).to_string();
            proptest::prop_assert_eq!(protocol().read_body::<String>(&Response::new(200, body)).unwrap(), data);
        }
    }
}
