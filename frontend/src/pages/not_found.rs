use leptos::prelude::*;

#[component]
pub(crate) fn NotFound() -> impl IntoView {
    view! {
        <section class="card narrow center">
            <h1>"Page not found"</h1>
            <p class="muted">"There is nothing at this address."</p>
            <a class="button" href="/">"Back to the dashboard"</a>
        </section>
    }
}
