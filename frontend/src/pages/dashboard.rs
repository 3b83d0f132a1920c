//! `/`: the protected dashboard.

use leptos::prelude::*;
use silent_refresh::leptos::RequireSession;

use crate::components::{
    AccountControls, Burst, EventLog, Live, Profile, Reauth, ReauthDialog, SessionList, TokenTimers,
};

#[component]
pub(crate) fn Dashboard() -> impl IntoView {
    Reauth::provide();
    view! {
        <RequireSession login_path="/login">
            <div class="grid">
                <Profile />
                <TokenTimers />
                <Burst />
                <Live />
                <AccountControls />
                <SessionList />
                <EventLog />
            </div>
            <ReauthDialog />
        </RequireSession>
    }
}
