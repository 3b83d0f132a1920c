//! Account operations beside the token contract: ending the user's other sessions, changing the
//! password, and proving who the user is again when a request asks for it (RFC 9470). A server that
//! offers them implements [`AccountProtocol`], and the client has [`RefreshClient::logout_others`],
//! [`RefreshClient::change_password`] and [`RefreshClient::reauthenticate`] only for such a protocol:
//! a protocol for another server is never asked for them, and calling them is a compile error rather
//! than a failure at run time.

use crate::client::RefreshClient;
use crate::error::{ClientError, DecodeError};
use crate::http::{Request, Response};
use crate::protocol::{Protocol, TokenGrant};

/// The account requests a server offers, and how it says what they did.
pub trait AccountProtocol: Protocol {
    /// The request that ends every *other* session of the user (sent with the access token).
    fn logout_others_request(&self) -> Request;

    /// The request that changes the user's password (sent with the access token); an error when the
    /// body cannot be built.
    fn change_password_request(&self, current: &str, new: &str) -> Result<Request, ClientError>;

    /// How many other sessions an answer to either request says were ended.
    fn read_sessions_ended(&self, response: &Response) -> Result<u64, DecodeError>;

    /// The request that proves who the user is again with their password (sent with the access token);
    /// an error when the body cannot be built.
    fn reauthenticate_request(&self, password: &str) -> Result<Request, ClientError>;

    /// The new access token a re-authentication answered with (no refresh token: the session's goes on).
    fn read_reauthenticated(&self, response: &Response) -> Result<TokenGrant, DecodeError>;
}

impl<P: AccountProtocol + 'static> RefreshClient<P> {
    /// Ends every *other* session of the user; this one goes on, without a refresh. Returns how many
    /// ended.
    pub async fn logout_others(&self) -> Result<u64, ClientError> {
        let protocol = self.protocol();
        let response = self.send(&protocol.logout_others_request()).await?;
        Ok(protocol.read_sessions_ended(&response)?)
    }

    /// Changes the user's password; the server ends the other sessions, and this one goes on, without
    /// a refresh. Returns how many ended. A wrong `current` is `Api { status: 401, .. }`, which is no
    /// reason to refresh: the session is fine, so it is not replayed.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<u64, ClientError> {
        let protocol = self.protocol();
        let request = protocol.change_password_request(current, new)?;
        let response = self.send_once(&request).await?;
        Ok(protocol.read_sessions_ended(&response)?)
    }

    /// Proves who the user is again, after a request failed with
    /// [`ClientError::ReauthRequired`]: the server checks `password` and answers with a new access
    /// token for the same session, which replaces the current one (the refresh token stays). Send the
    /// request again afterwards. A wrong password is `Api { status: 401, .. }` (or 429 once throttled),
    /// never a refresh and never a logout.
    pub async fn reauthenticate(&self, password: &str) -> Result<(), ClientError> {
        let protocol = self.protocol();
        let request = protocol.reauthenticate_request(password)?;
        let session = self.usable_session().await?;
        let response = self.success(self.transmit(&request, Some(crate::client::Credential::of(&session))).await?)?;
        let grant = protocol.read_reauthenticated(&response)?;
        self.replace_access_token(&grant).await
    }
}
