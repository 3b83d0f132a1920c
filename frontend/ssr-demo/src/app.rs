//! The app: the session in context, the routes, and the page shell (server only).

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::pages::{Home, Login};
use crate::session::{SessionState, initial_snapshot};

#[component]
pub fn App() -> impl IntoView {
    provide_context(SessionState(RwSignal::new(initial_snapshot())));
    view! {
        <Router>
            <header><h1>"Silent refresh, rendered on the server"</h1></header>
            <main>
                <Routes fallback=|| view! { <p>"Not found."</p> }>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/login") view=Login />
                </Routes>
            </main>
        </Router>
    }
}

/// The document around the app. The snapshot goes in the head as data (a JSON script is never run,
/// and never hydrated), and the hydration scripts carry the layer's CSP nonce.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let snapshot = crate::session::snapshot_json(&initial_snapshot());
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <title>"silent-refresh: server-rendered demo"</title>
                <link rel="stylesheet" href="/style.css" />
                <script type="application/json" id=crate::session::SNAPSHOT_ELEMENT inner_html=snapshot></script>
                <HydrationScripts options />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}
