//! `/catalog/locations`: register a repository URL, refresh or unregister it, and (admins)
//! the hosts locations may be read from. Every control is an ActionForm.

use leptos::prelude::*;

use super::api::{list_locations, AllowHost, DeleteLocation, RefreshLocation, RegisterLocation, RemoveHost};
use super::model::LocationView;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_catalog_updated;

const INPUT: &str = "block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30";

#[component]
pub fn LocationsPage() -> impl IntoView {
    let register = ServerAction::<RegisterLocation>::new();
    let refresh = ServerAction::<RefreshLocation>::new();
    let delete = ServerAction::<DeleteLocation>::new();
    let allow = ServerAction::<AllowHost>::new();
    let remove = ServerAction::<RemoveHost>::new();
    let data = Resource::new(
        move || {
            (
                register.version().get(),
                refresh.version().get(),
                delete.version().get(),
                allow.version().get(),
                remove.version().get(),
            )
        },
        |_| list_locations(),
    );
    on_catalog_updated(move || data.refetch());
    // The outcome of whichever action ran last.
    let outcome = Signal::derive(move || {
        [register.value().get(), refresh.value().get(), delete.value().get(), allow.value().get(), remove.value().get()]
            .into_iter()
            .flatten()
            .last()
    });
    let message = Signal::derive(move || outcome.get().and_then(Result::ok));
    let error = Signal::derive(move || outcome.get().and_then(Result::err));
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Locations"</h1>
            <p class="mt-1 text-sm text-slate-500">"A location is the URL of a catalog-info.yaml. Its entities, and those its Location targets lead to, stay in sync when it is refreshed; entities it no longer lists are flagged as orphans."</p>
            <ActionForm action=register attr:class="mt-4 flex max-w-3xl gap-2">
                <input type="url" name="target" required placeholder="https://github.com/org/repo/blob/main/catalog-info.yaml" aria-label="Location URL" class=INPUT/>
                <SubmitButton label="Register" pending=register.pending()/>
            </ActionForm>
            <div class="mt-3 max-w-3xl space-y-2">
                {move || message.get().map(|m| view! { <p role="status" class="rounded-lg bg-emerald-50 px-3 py-2 text-sm text-emerald-800">{m}</p> })}
                <ErrorNotice error/>
            </div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok((locations, hosts)) => view! {
                            <LocationTable locations refresh delete/>
                            <AllowedHosts hosts allow remove/>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LocationTable(
    locations: Vec<LocationView>,
    refresh: ServerAction<RefreshLocation>,
    delete: ServerAction<DeleteLocation>,
) -> impl IntoView {
    if locations.is_empty() {
        return view! { <p class="mt-6 text-sm text-slate-500" data-testid="no-locations">"No locations registered yet."</p> }.into_any();
    }
    view! {
        <table class="mt-6 w-full overflow-hidden rounded-xl border border-slate-200 bg-white text-sm">
            <thead class="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
                <tr><th class="px-4 py-2">"Target"</th><th class="px-4 py-2">"Entities"</th><th class="px-4 py-2">"Last refresh"</th><th class="px-4 py-2"></th></tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {locations.into_iter().map(|l| {
                    let (refresh_id, delete_id) = (l.id.clone(), l.id.clone());
                    view! {
                    <tr data-testid="location-row">
                        <td class="px-4 py-2">
                            <span class="break-all text-slate-900">{l.target.clone()}</span>
                            {l.refresh_error.clone().map(|e| view! { <p class="mt-1 text-xs text-red-700">{e}</p> })}
                        </td>
                        <td class="px-4 py-2 text-slate-700" data-testid="location-entities">{l.entities}</td>
                        <td class="px-4 py-2 text-slate-500">{l.refreshed_at.clone().unwrap_or_else(|| "never".into())}</td>
                        <td class="px-4 py-2">
                            <div class="flex items-center justify-end gap-3">
                                <ActionForm action=refresh>
                                    <input type="hidden" name="id" value=refresh_id/>
                                    <button type="submit" class="text-sm font-medium text-slate-700 hover:text-slate-900">"Refresh"</button>
                                </ActionForm>
                                <ActionForm action=delete attr:class="flex items-center gap-2">
                                    <input type="hidden" name="id" value=delete_id/>
                                    <label class="flex items-center gap-1 text-xs text-slate-500">
                                        <input type="checkbox" name="confirm" value="yes"/>"and its entities"
                                    </label>
                                    <button type="submit" class="text-sm font-medium text-red-700 hover:text-red-900">"Unregister"</button>
                                </ActionForm>
                            </div>
                        </td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn AllowedHosts(hosts: Vec<String>, allow: ServerAction<AllowHost>, remove: ServerAction<RemoveHost>) -> impl IntoView {
    view! {
        <section class="mt-10 max-w-3xl">
            <h2 class="font-medium text-slate-900">"Allowed hosts"</h2>
            <p class="text-sm text-slate-500">"Locations are read only from these hosts (github.com, *.example.com, git.example.com:8443), over http(s), never from private addresses. Admins change this list."</p>
            <ul class="mt-3 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white text-sm" data-testid="allowed-hosts">
                {hosts.is_empty().then(|| view! { <li class="px-4 py-2 text-slate-500">"None yet: no location can be read."</li> })}
                {hosts.into_iter().map(|host| view! {
                    <li class="flex items-center justify-between px-4 py-2">
                        <span class="font-mono text-slate-900">{host.clone()}</span>
                        <ActionForm action=remove>
                            <input type="hidden" name="pattern" value=host/>
                            <button type="submit" class="text-sm text-red-700 hover:text-red-900">"Remove"</button>
                        </ActionForm>
                    </li>
                }).collect_view()}
            </ul>
            <ActionForm action=allow attr:class="mt-3 flex gap-2">
                <input type="text" name="pattern" required placeholder="github.com" aria-label="Host pattern" class=INPUT/>
                <SubmitButton label="Allow host" pending=allow.pending()/>
            </ActionForm>
        </section>
    }
}
