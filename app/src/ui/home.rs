use leptos::prelude::*;
use leptos_router::components::A;

use super::layout::AREAS;

/// The portal's front page: where each area lives.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Your developer portal"</h1>
            <p class="mt-1 text-sm text-slate-500">"Everything your organisation builds and runs, in one place."</p>
            <div class="mt-8 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                {AREAS
                    .iter()
                    .map(|area| {
                        view! {
                            <A href=area.href attr:class="group rounded-xl border border-slate-200 bg-white p-5 transition hover:border-amber-400 hover:shadow-sm">
                                <p class="font-medium text-slate-900 group-hover:text-amber-700">{area.label}</p>
                                <p class="mt-1 text-sm text-slate-500">{area.purpose}</p>
                            </A>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}
