//! One request on the wire: its timeout, its events, and what its answer means (a success, a step-up
//! challenge, or a failure the protocol reads).

use super::RefreshClient;
use crate::error::{ClientError, TransportError};
use crate::events::ClientEvent;
use crate::http::{Request, Response};
use crate::protocol::Protocol;

impl<P: Protocol + 'static> RefreshClient<P> {
    /// Sends `request` with `bearer`, within the request's timeout or the configured one.
    pub(crate) async fn transmit(&self, request: &Request, bearer: Option<&str>) -> Result<Response, ClientError> {
        let timeout = request.timeout.or(self.inner.config.request_timeout);
        Ok(self.with_timeout(self.inner.transport.send_dyn(request, bearer), timeout).await?)
    }

    /// [`transmit`](Self::transmit) with the request's events around it.
    pub(super) async fn transmit_tracked(
        &self,
        id: u64,
        replay: bool,
        request: &Request,
        token: &str,
    ) -> Result<Response, ClientError> {
        self.emit(ClientEvent::RequestSent { id, replay });
        let answer = self.transmit(request, Some(token)).await;
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
        self.success(self.transmit(request, Some(&session.access_token)).await?)
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
