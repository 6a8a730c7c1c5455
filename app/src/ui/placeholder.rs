use leptos::prelude::*;

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
