use leptos::prelude::*;

/// The honest state of a portal area that has not shipped yet: no fake data.
#[component]
pub fn NotYetAvailable(area: &'static str, purpose: &'static str) -> impl IntoView {
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{area}</h1>
            <div class="mt-6 rounded-xl border border-dashed border-slate-300 bg-white p-10 text-center">
                <p class="text-sm font-medium text-slate-900">"Not yet available"</p>
                <p class="mt-1 text-sm text-slate-500">{purpose}</p>
            </div>
        </section>
    }
}

/// The in-app 404 for paths no route matches.
#[component]
pub fn PageNotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="min-h-screen flex items-center justify-center bg-slate-50">
            <div class="text-center">
                <p class="text-sm font-semibold text-amber-600">"404"</p>
                <h1 class="mt-2 text-2xl font-semibold text-slate-900">"Page not found"</h1>
                <a href="/" class="mt-4 inline-block text-sm text-slate-600 underline">"Back to the portal"</a>
            </div>
        </main>
    }
}
