//! One request on the wire: its timeout, its events, and what its answer means (a success, a step-up
//! challenge, or a failure the protocol reads).

use futures::future::LocalBoxFuture;

use super::RefreshClient;
use crate::error::{ClientError, TransportError};
use crate::events::ClientEvent;
use crate::http::{Request, Response};
use crate::protocol::Protocol;
use crate::session::Session;

/// What authenticates a request: the access token, and whether it is DPoP-bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Credential<'a> {
    pub(crate) token: &'a str,
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub(crate) dpop: bool,
}

impl<'a> Credential<'a> {
    pub(crate) fn of<U>(session: &'a Session<U>) -> Self {
        Self { token: &session.access_token, dpop: session.dpop }
    }
}

impl<P: Protocol + 'static> RefreshClient<P> {
    /// Sends `request` with `credential`, within the request's timeout or the configured one.
    pub(crate) async fn transmit(
        &self,
        request: &Request,
        credential: Option<Credential<'_>>,
    ) -> Result<Response, ClientError> {
        let timeout = request.timeout.or(self.inner.config.request_timeout);
        Ok(self.with_timeout(self.on_wire(request, credential), timeout).await?)
    }

    /// Every request the client makes goes through here. With DPoP, each attempt carries a fresh proof
    /// (bound to the token it sends) and a bound token goes with the `DPoP` scheme; a nonce challenge
    /// that brings a new nonce is answered with one retry.
    pub(crate) fn on_wire<'a>(
        &'a self,
        request: &'a Request,
        credential: Option<Credential<'a>>,
    ) -> LocalBoxFuture<'a, Result<Response, TransportError>> {
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &self.inner.dpop {
            return Box::pin(async move {
                let mut retried = false;
                loop {
                    let mut signed = request.clone();
                    for (name, value) in self.dpop_headers(dpop, request, credential).await? {
                        signed = signed.header(name, value);
                    }
                    let response = self.inner.transport.send_dyn(&signed, None).await?;
                    if dpop.observe(&response, self.inner.clock.now_ms()) && !retried {
                        retried = true;
                        continue;
                    }
                    return Ok(response);
                }
            });
        }
        self.inner.transport.send_dyn(request, credential.map(|c| c.token))
    }

    /// The headers that authenticate `request` when something other than [`send`](Self::send) makes
    /// it (a streamed `fetch`, a WebSocket handshake, another SDK): `Authorization` with a token valid
    /// for at least `min_validity` (see [`access_token`](Self::access_token)), and, when the client
    /// sends DPoP proofs, the `DPoP` scheme for a bound token and a fresh proof made for this request.
    pub async fn authorization_headers(
        &self,
        request: &Request,
        min_validity: std::time::Duration,
    ) -> Result<Vec<(String, String)>, ClientError> {
        let token = self.access_token(min_validity).await?;
        let dpop = self.session().is_some_and(|s| s.dpop && s.access_token == token);
        #[cfg(feature = "dpop")]
        if let Some(signer) = &self.inner.dpop {
            return Ok(self.dpop_headers(signer, request, Some(Credential { token: &token, dpop })).await?);
        }
        let _ = (request, dpop);
        Ok(vec![("Authorization".into(), format!("Bearer {token}"))])
    }

    /// A fresh proof for `request` and, with a credential, the `Authorization` header in the scheme
    /// its binding asks for.
    #[cfg(feature = "dpop")]
    async fn dpop_headers(
        &self,
        dpop: &crate::dpop::Dpop,
        request: &Request,
        credential: Option<Credential<'_>>,
    ) -> Result<Vec<(String, String)>, TransportError> {
        let now = self.inner.clock.now_ms();
        let proof = dpop
            .proof(request, credential.map(|c| c.token), now)
            .await
            .map_err(|e| TransportError::new(e.to_string()))?;
        let mut headers = vec![("DPoP".to_owned(), proof)];
        if let Some(Credential { token, dpop }) = credential {
            let scheme = if dpop { "DPoP" } else { "Bearer" };
            headers.push(("Authorization".to_owned(), format!("{scheme} {token}")));
        }
        Ok(headers)
    }

    /// [`transmit`](Self::transmit) with the request's events around it.
    pub(super) async fn transmit_tracked(
        &self,
        id: u64,
        replay: bool,
        request: &Request,
        credential: Credential<'_>,
    ) -> Result<Response, ClientError> {
        self.emit(ClientEvent::RequestSent { id, replay });
        let answer = self.transmit(request, Some(credential)).await;
        self.emit(ClientEvent::RequestAnswered { id, status: answer.as_ref().ok().map(|r| r.status) });
        answer
    }

    /// `sending`, unless `timeout` passes first (by the clock); dropping the loser abandons it.
    pub(super) async fn with_timeout(
        &self,
        sending: futures::future::LocalBoxFuture<'_, Result<Response, TransportError>>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Response, TransportError> {
        let Some(timeout) = timeout else { return sending.await };
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        match futures::future::select(sending, self.inner.clock.sleep(ms)).await {
            futures::future::Either::Left((answer, _)) => answer,
            futures::future::Either::Right(((), _)) => Err(TransportError::new(format!("no answer within {ms} ms"))),
        }
    }

    /// Sends an authenticated request once, never replayed: for an answer that is final whatever its
    /// status (a wrong current password is a 401 that no refresh would change).
    pub(crate) async fn send_once(&self, request: &Request) -> Result<Response, ClientError> {
        let session = self.usable_session().await?;
        self.success(self.transmit(request, Some(Credential::of(&session))).await?)
    }

    /// The answer when it is a success, else the error it means (a step-up challenge told to the
    /// listeners first).
    pub(crate) fn success(&self, response: Response) -> Result<Response, ClientError> {
        if response.is_success() {
            return Ok(response);
        }
        if let Some(max_age) = response.step_up_challenge() {
            self.emit(ClientEvent::ReauthRequired { max_age });
            return Err(ClientError::ReauthRequired { max_age });
        }
        Err(ClientError::Api { status: response.status, body: self.inner.protocol.read_error(&response) })
    }
}
