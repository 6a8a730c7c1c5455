//! The home page: the member's teams and what they own (most recently changed first), their
//! unread notifications, a catalog search, and the portal's areas. Server-rendered, so all of
//! it works without JavaScript; with it, it follows catalog changes and new notifications.

use leptos::prelude::*;
use leptos_router::components::A;

use super::api::load_home;
use super::model::{HomeView, OwnedEntity};
use crate::catalog::refs::EntityRef;
use crate::escape::percent;
use crate::ui::form::PageProblem;
use crate::ui::layout::AREAS;
use crate::ui::live::{on_catalog_updated, on_live};

#[component]
pub fn HomePage() -> impl IntoView {
    let home = Resource::new(|| (), |_| load_home());
    on_live("notification", move |_| home.refetch());
    on_catalog_updated(move || home.refetch());
    on_live("deployment", move |_| home.refetch());
    view! {
        <section>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match home.await {
                        Ok(home) => view! { <Dashboard home/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
            <h2 class="mt-10 text-sm font-semibold uppercase tracking-wide text-slate-500">"Everything else"</h2>
            <div class="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
                {AREAS
                    .iter()
                    .map(|area| view! {
                        <A href=area.href attr:class="group rounded-xl border border-slate-200 bg-white p-4 transition hover:border-amber-400 hover:shadow-sm">
                            <p class="font-medium text-slate-900 group-hover:text-amber-700">{area.label}</p>
                            <p class="mt-1 text-sm text-slate-500">{area.purpose}</p>
                        </A>
                    })
                    .collect_view()}
            </div>
        </section>
    }
}

#[component]
fn Dashboard(home: HomeView) -> impl IntoView {
    let HomeView { display_name, catalog_user, teams, owned, owned_total, unread, notifications } = home;
    let first_name = display_name.split_whitespace().next().unwrap_or_default().to_owned();
    view! {
        <div class="flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{format!("Hello, {first_name}")}</h1>
                <p class="mt-1 text-sm text-slate-500" data-testid="home-teams">
                    {match teams.len() {
                        0 => "You are in no team the catalog knows of.".to_owned(),
                        _ => format!("Your teams: {}", teams.iter().map(|t| t.label()).collect::<Vec<_>>().join(", ")),
                    }}
                </p>
            </div>
            <form method="get" action="/catalog" role="search" class="flex gap-2">
                <label class="sr-only" for="home-search">"Search the catalog"</label>
                <input id="home-search" type="search" name="q" placeholder="Search the catalog"
                    class="w-64 rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30"/>
                <button type="submit" class="rounded-lg bg-slate-900 px-4 py-2 text-sm font-semibold text-white hover:bg-slate-700">"Search"</button>
            </form>
        </div>
        <div class="mt-6 grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2 rounded-xl border border-slate-200 bg-white" data-testid="home-owned">
                <div class="flex items-center justify-between border-b border-slate-100 px-4 py-3">
                    <h2 class="font-medium text-slate-900">"What your teams own"</h2>
                    <span class="text-xs text-slate-500">{format!("{owned_total} in all, most recently changed first")}</span>
                </div>
                {match (catalog_user, owned.is_empty()) {
                    (None, _) => view! {
                        <p class="px-4 py-6 text-sm text-slate-600" data-testid="home-not-in-catalog">
                            "No User in the catalog has your email as its "<code>"spec.profile.email"</code>
                            ", so the portal cannot tell your teams. Add it to your User entity, or "
                            <a class="text-amber-700" href="/catalog?kind=user">"find yourself in the catalog"</a>"."
                        </p>
                    }.into_any(),
                    (Some(_), true) => view! { <p class="px-4 py-6 text-sm text-slate-600">"Your teams own nothing in the catalog yet."</p> }.into_any(),
                    (Some(_), false) => view! {
                        <ul class="divide-y divide-slate-100">{owned.into_iter().map(|entity| view! { <OwnedRow entity/> }).collect_view()}</ul>
                        <div class="flex flex-wrap gap-3 border-t border-slate-100 px-4 py-3 text-sm">
                            {teams.into_iter().map(|team| view! {
                                <a class="text-amber-700 hover:text-amber-900" href=format!("/catalog?owner={}", percent(&team.entity_ref, b""))>
                                    {format!("All of {} in the catalog", team.label())}
                                </a>
                            }).collect_view()}
                        </div>
                    }.into_any(),
                }}
            </div>
            <div class="rounded-xl border border-slate-200 bg-white" data-testid="home-notifications">
                <div class="flex items-center justify-between border-b border-slate-100 px-4 py-3">
                    <h2 class="font-medium text-slate-900">"Notifications"</h2>
                    <span class="text-xs text-slate-500">{match unread { 0 => "nothing unread".to_owned(), n => format!("{n} unread") }}</span>
                </div>
                <ul class="divide-y divide-slate-100">
                    {notifications.into_iter().map(|n| view! {
                        <li class="px-4 py-3 text-sm">
                            <p class="font-medium text-slate-900">{n.title}</p>
                            <p class="mt-0.5 line-clamp-2 text-slate-600">{n.body}</p>
                        </li>
                    }).collect_view()}
                </ul>
                <p class="px-4 py-3 text-sm"><a class="text-amber-700 hover:text-amber-900" href="/notifications">"All notifications"</a></p>
            </div>
        </div>
    }
}

#[component]
fn OwnedRow(entity: OwnedEntity) -> impl IntoView {
    let path = EntityRef::new(&entity.kind, &entity.namespace, &entity.name).page_path();
    let path_for_deploys = path.clone();
    let detail =
        [entity.spec_type.clone(), entity.lifecycle.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
    let changed = entity.updated_at.format("%Y-%m-%d %H:%M UTC").to_string();
    view! {
        <li class="flex items-center justify-between gap-4 px-4 py-2.5 text-sm" data-testid="home-owned-entity">
            <div class="min-w-0">
                <span class="mr-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{entity.kind.clone()}</span>
                <a class="font-medium text-slate-900 hover:text-amber-700" href=path>{entity.title.clone().unwrap_or_else(|| entity.name.clone())}</a>
                <span class="ml-2 text-xs text-slate-500">{detail}</span>
                {entity.deploy_failed.then(|| view! {
                    <a href=format!("{path_for_deploys}#deployments") data-testid="home-deploy-failed"
                        class="ml-2 rounded bg-red-50 px-1.5 py-0.5 text-xs font-medium text-red-700">"deployment failed"</a>
                })}
            </div>
            <span class="shrink-0 text-xs text-slate-400" title="last changed">{changed}</span>
        </li>
    }
}
