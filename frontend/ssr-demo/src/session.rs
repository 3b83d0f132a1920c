//! The session as this page knows it: the snapshot the server rendered with, the same in the browser's
//! first render (read back from the page), and the browser's calls to the layer's routes.

use leptos::prelude::*;
use silent_refresh::{Presence, SessionSnapshot};

/// The id of the `<script type="application/json">` that carries the snapshot into the page.
pub const SNAPSHOT_ELEMENT: &str = "session-snapshot";

/// The page's session, in context.
#[derive(Debug, Clone, Copy)]
pub struct SessionState(pub RwSignal<SessionSnapshot>);

impl SessionState {
    pub fn presence(&self) -> Presence {
        self.0.with(|snapshot| snapshot.presence)
    }
}

/// What the page was rendered with: on the server, the request's `ServerSession`; in the browser, the
/// snapshot the server wrote into the page, so the first client render is exactly the server's.
pub fn initial_snapshot() -> SessionSnapshot {
    #[cfg(feature = "ssr")]
    {
        use silent_refresh::ssr::ServerSession;
        let parts = use_context::<axum::http::request::Parts>();
        parts
            .as_ref()
            .and_then(ServerSession::from_parts)
            .map_or_else(SessionSnapshot::unknown, |s| s.snapshot().clone())
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        silent_refresh::hydrate::snapshot_in_page(SNAPSHOT_ELEMENT).unwrap_or_else(SessionSnapshot::unknown)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        SessionSnapshot::unknown()
    }
}

/// The snapshot as JSON that is safe inside a `<script>` element (no `<`, so no `</script>`).
pub fn snapshot_json(snapshot: &SessionSnapshot) -> String {
    serde_json::to_string(snapshot).unwrap_or_default().replace('<', "\\u003c")
}

#[cfg(feature = "hydrate")]
pub mod browser {
    //! The browser's calls to the layer's login and logout routes.

    use gloo_net::http::Request;
    use silent_refresh::SessionSnapshot;
    use silent_refresh::hydrate::CSRF_HEADER;

    #[derive(serde::Deserialize)]
    struct Answer {
        data: Option<SessionSnapshot>,
        message: String,
    }

    async fn snapshot_of(request: Request) -> Result<SessionSnapshot, String> {
        let response = request.send().await.map_err(|e| e.to_string())?;
        let answer: Answer = response.json().await.map_err(|e| e.to_string())?;
        answer.data.ok_or(answer.message)
    }

    pub async fn login(email: &str, password: &str) -> Result<SessionSnapshot, String> {
        let body = serde_json::json!({"email": email, "password": password});
        let request = Request::post("/session/login").header(CSRF_HEADER, "ssr-demo").json(&body);
        snapshot_of(request.map_err(|e| e.to_string())?).await
    }

    pub async fn logout() -> Result<SessionSnapshot, String> {
        snapshot_of(
            Request::post("/session/logout").header(CSRF_HEADER, "ssr-demo").build().map_err(|e| e.to_string())?,
        )
        .await
    }

    /// A full navigation, so the next page is rendered by the server with the new cookie.
    pub fn go(path: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(path);
        }
    }
}
