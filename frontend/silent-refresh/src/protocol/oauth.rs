//! A standard OAuth 2.0 token endpoint: refresh with `grant_type=refresh_token` (RFC 6749 §6), token
//! answers as in §5.1, errors as in §5.2, and logout by token revocation (RFC 7009) when configured.

use serde::Deserialize;

use super::{Protocol, RefreshOutcome, TokenFields, TokenGrant};
use crate::error::{ApiErrorBody, ClientError};
use crate::http::{Request, Response};

/// An OAuth 2.0 authorization server's token endpoint.
///
/// ```
/// use silent_refresh::{OAuthProtocol, Protocol};
///
/// let oauth = OAuthProtocol::new("https://auth.example.com/oauth/token").client_id("spa");
/// let request = oauth.refresh_request(Some("r1"));
/// assert_eq!(request.path, "https://auth.example.com/oauth/token");
/// ```
#[derive(Debug, Clone)]
pub struct OAuthProtocol {
    token_endpoint: String,
    client_id: Option<String>,
    scope: Option<String>,
    revocation_endpoint: Option<String>,
}

impl OAuthProtocol {
    /// The token endpoint's URL.
    pub fn new(token_endpoint: impl Into<String>) -> Self {
        Self { token_endpoint: token_endpoint.into(), client_id: None, scope: None, revocation_endpoint: None }
    }

    /// A public client's `client_id`, sent with every refresh (§3.2.1).
    #[must_use]
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// A narrower `scope` to ask for on refresh (§6).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Where logout revokes the access token (RFC 7009). Without it logout is local only.
    #[must_use]
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.revocation_endpoint = Some(url.into());
        self
    }
}

/// §5.2.
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// What an OAuth login (a token response) says about the grant besides the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
pub struct OAuthGrant {
    /// The granted scope, when the server said (§5.1).
    pub scope: Option<String>,
}

impl Protocol for OAuthProtocol {
    type User = OAuthGrant;

    fn refresh_request(&self, refresh_token: Option<&str>) -> Request {
        let mut fields = vec![("grant_type", "refresh_token")];
        if let Some(token) = refresh_token {
            fields.push(("refresh_token", token));
        }
        if let Some(client_id) = &self.client_id {
            fields.push(("client_id", client_id));
        }
        if let Some(scope) = &self.scope {
            fields.push(("scope", scope));
        }
        Request::post(&self.token_endpoint).header("Accept", "application/json").form(&fields)
    }

    fn classify_refresh(&self, response: &Response) -> RefreshOutcome {
        if response.is_success() {
            return match response.json::<TokenFields>() {
                Ok(token) => RefreshOutcome::Rotated((&token).into()),
                Err(error) => RefreshOutcome::Transient(format!("unreadable token response: {error}")),
            };
        }
        let body = self.read_error(response);
        match (response.status, body.code.as_deref()) {
            // The two errors a server may use for a passing condition (RFC 6749 §4.1.2.1 names them).
            (_, Some("temporarily_unavailable" | "server_error")) => RefreshOutcome::Transient(body.message),
            // invalid_grant (expired, revoked, reused), invalid_client, unauthorized_client, …
            (400 | 401 | 403, _) => RefreshOutcome::Final(body),
            (status, _) => RefreshOutcome::Transient(format!("token endpoint answered {status}")),
        }
    }

    fn read_login(&self, response: &Response) -> Result<(TokenGrant, OAuthGrant), ClientError> {
        let token: TokenFields = response.json()?;
        Ok(((&token).into(), OAuthGrant { scope: token.scope }))
    }

    /// Revokes the refresh token, which ends the whole grant (RFC 7009 §2.1).
    fn logout_request(&self, refresh_token: Option<&str>) -> Option<Request> {
        let (url, token) = (self.revocation_endpoint.as_ref()?, refresh_token?);
        let mut fields = vec![("token", token), ("token_type_hint", "refresh_token")];
        if let Some(client_id) = &self.client_id {
            fields.push(("client_id", client_id));
        }
        Some(Request::post(url).form(&fields))
    }

    fn read_error(&self, response: &Response) -> ApiErrorBody {
        match response.json::<ErrorResponse>() {
            Ok(error) => {
                let message = error.error_description.unwrap_or_else(|| error.error.clone());
                ApiErrorBody::new(Some(error.error), message)
            }
            Err(_) => ApiErrorBody::new(None, format!("HTTP {}", response.status)),
        }
    }
}
