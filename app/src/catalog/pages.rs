//! Catalog pages: the list (kind tabs, search, facets, sorting, pages), the entity page and
//! the entity editor. Every control is a link or a GET/POST form, so all of it works without JS.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{list_catalog, load_entity, DeleteEntity, SaveEntity};
use super::model::{EntityDetail, EntitySummary};
use super::refs::EntityRef;
use super::view::{CatalogPage, CatalogView, PAGE_SIZE};
use crate::error::AppError;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_catalog_updated;
use crate::ui::markdown::inline_html;

#[component]
pub fn CatalogListPage() -> impl IntoView {
    let query = use_query_map();
    let view = Memo::new(move |_| query.with(|q| CatalogView::from_query(|k| q.get(k))));
    let page = Resource::new(move || view.get(), list_catalog);
    on_catalog_updated(move || page.refetch());
    view! {
        <section>
            <div class="flex items-center justify-between">
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Catalog"</h1>
                <div class="flex gap-2">
                    <A href="/catalog/new" attr:class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50">
                        "New entity"
                    </A>
                    <A href="/catalog/locations" attr:class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50">
                        "Locations"
                    </A>
                    <A href="/catalog/import" attr:class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50">
                        "Import"
                    </A>
                </div>
            </div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading the catalog…"</p> }>
                {move || Suspend::new(async move {
                    let current = view.get_untracked();
                    match page.await {
                        Ok(page) => view! { <CatalogResults view=current page/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CatalogResults(view: CatalogView, page: CatalogPage) -> impl IntoView {
    let all_count: i64 = page.kinds.iter().map(|k| k.count).sum();
    let pages = ((page.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // A capped count ("1000+") has pages past its last counted one while this one is full.
    let more = if page.total_capped { "+" } else { "" };
    let has_next = view.page < pages || (page.total_capped && page.items.len() as i64 == PAGE_SIZE);
    let tab = |label: String, href: String, active: bool, count: i64| {
        view! {
            <a href=href data-testid="kind-tab" aria-current=active.then_some("page")
                class="whitespace-nowrap border-b-2 border-transparent px-1 pb-3 text-sm font-medium text-slate-500 hover:text-slate-900 aria-[current=page]:border-amber-500 aria-[current=page]:text-slate-900">
                {label} <span class="ml-1 rounded-full bg-slate-100 px-1.5 text-xs text-slate-600">{count}</span>
            </a>
        }
    };
    view! {
        <nav aria-label="Kinds" class="mt-6 flex gap-6 overflow-x-auto border-b border-slate-200">
            {tab("All".into(), view.with_kind(None).href(), view.kind.is_none(), all_count)}
            {page
                .kinds
                .iter()
                .map(|k| {
                    let active = view.kind.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(&k.value));
                    tab(k.value.clone(), view.with_kind(Some(&k.value.to_lowercase())).href(), active, k.count)
                })
                .collect_view()}
        </nav>
        <div class="mt-6 flex gap-8">
            <aside class="w-52 shrink-0 space-y-6" aria-label="Filters">
                <div data-testid="facet-deploys">
                    <h3 class="text-xs font-semibold uppercase tracking-wide text-slate-500">"Deployments"</h3>
                    <a href=view.toggled_failed_deploys().href() aria-current=view.failed_deploys.then_some("true")
                        class="mt-2 block rounded px-2 py-1 text-sm text-slate-700 hover:bg-white aria-[current=true]:bg-amber-50 aria-[current=true]:font-medium aria-[current=true]:text-amber-900">
                        "Failed in the last 24 h"
                    </a>
                </div>
                {page
                    .facets
                    .into_iter()
                    .filter(|(_, _, counts)| !counts.is_empty())
                    .map(|(param, label, counts)| {
                        let selected = view.facet(&param).cloned();
                        let entries: Vec<(String, String, i64, bool)> = counts
                            .into_iter()
                            .take(12)
                            .map(|c| {
                                let on = selected.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&c.value));
                                let shown = if param == "owner" { short_ref(&c.value) } else { c.value.clone() };
                                (view.toggled(&param, &c.value).href(), shown, c.count, on)
                            })
                            .collect();
                        view! {
                            <div data-testid=format!("facet-{param}")>
                                <h3 class="text-xs font-semibold uppercase tracking-wide text-slate-500">{label}</h3>
                                <ul class="mt-2 space-y-1">
                                    {entries
                                        .into_iter()
                                        .map(|(href, value, count, on)| {
                                            view! {
                                                <li>
                                                    <a href=href aria-current=on.then_some("true")
                                                        class="flex justify-between rounded px-2 py-1 text-sm text-slate-700 hover:bg-white aria-[current=true]:bg-amber-50 aria-[current=true]:font-medium aria-[current=true]:text-amber-900">
                                                        <span class="truncate">{value}</span>
                                                        <span class="text-slate-400">{count}</span>
                                                    </a>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            </div>
                        }
                    })
                    .collect_view()}
            </aside>
            <div class="min-w-0 flex-1">
                <SearchBox view=view.clone()/>
                <p class="mt-3 text-sm text-slate-500" data-testid="result-count">
                    {format!("{}{more} {}", page.total, if page.total == 1 && more.is_empty() { "entity" } else { "entities" })}
                </p>
                <EntityTable view=view.clone() items=page.items/>
                <nav aria-label="Pages" class="mt-4 flex items-center justify-between text-sm">
                    <span class="text-slate-500">{format!("Page {} of {pages}{more}", if page.total_capped { view.page } else { view.page.min(pages) })}</span>
                    <div class="flex gap-2">
                        {(view.page > 1).then(|| view! { <a href=view.at_page(view.page - 1).href() class="rounded-lg border border-slate-300 bg-white px-3 py-1">"Previous"</a> })}
                        {has_next.then(|| view! { <a href=view.at_page(view.page + 1).href() class="rounded-lg border border-slate-300 bg-white px-3 py-1">"Next"</a> })}
                    </div>
                </nav>
            </div>
        </div>
    }
}

/// A GET form: the search term lands in the URL with the rest of the view.
#[component]
fn SearchBox(view: CatalogView) -> impl IntoView {
    let hidden = [
        ("kind", view.kind.clone()),
        ("owner", view.owner.clone()),
        ("type", view.spec_type.clone()),
        ("lifecycle", view.lifecycle.clone()),
        ("tag", view.tag.clone()),
        ("namespace", view.namespace.clone()),
    ];
    view! {
        <form method="get" action="/catalog" role="search" class="flex gap-2">
            {hidden
                .into_iter()
                .filter_map(|(name, value)| value.map(|value| view! { <input type="hidden" name=name value=value/> }))
                .collect_view()}
            <input type="search" name="q" value=view.q.clone().unwrap_or_default() placeholder="Search names, titles, descriptions, tags, owners"
                aria-label="Search the catalog"
                class="block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30"/>
            <button type="submit" class="rounded-lg bg-slate-900 px-4 py-2 text-sm font-semibold text-white hover:bg-slate-700">"Search"</button>
        </form>
    }
}

#[component]
fn EntityTable(view: CatalogView, items: Vec<EntitySummary>) -> impl IntoView {
    if items.is_empty() {
        return view! {
            <div class="mt-4 rounded-xl border border-dashed border-slate-300 bg-white p-10 text-center text-sm text-slate-500">
                "No entities match. Import some, or clear the filters."
            </div>
        }
        .into_any();
    }
    let header = |label: &'static str, column: &'static str| {
        let arrow = match (view.sort.as_deref() == Some(column), view.desc) {
            (true, false) => " ↑",
            (true, true) => " ↓",
            _ => "",
        };
        view! {
            <th class="truncate px-4 py-3">
                <a href=view.sorted_by(column).href() class="hover:text-slate-900">{format!("{label}{arrow}")}</a>
            </th>
        }
    };
    view! {
        // Fixed layout: the columns share the width they have and long values are cut with an
        // ellipsis, instead of the name column pushing the last ones out of view.
        <div class="mt-3 overflow-x-auto rounded-xl border border-slate-200 bg-white">
            <table class="w-full table-fixed divide-y divide-slate-200 text-sm" data-testid="entity-table">
                <colgroup>
                    <col class="w-[40%]"/>
                    <col class="w-[13%]"/>
                    <col class="w-[13%]"/>
                    <col class="w-[19%]"/>
                    <col class="w-[15%]"/>
                </colgroup>
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        {header("Name", "name")}
                        {header("Kind", "kind")}
                        {header("Type", "type")}
                        {header("Owner", "owner")}
                        {header("Lifecycle", "lifecycle")}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {items
                        .into_iter()
                        .map(|e| {
                            let href = EntityRef::new(&e.kind, &e.namespace, &e.name).page_path();
                            view! {
                                <tr data-testid="entity-row">
                                    <td class="truncate px-4 py-3">
                                        <A href=href attr:class="font-medium text-slate-900 hover:text-amber-700">{e.title.clone().unwrap_or_else(|| e.name.clone())}</A>
                                        {match e.snippet.clone() {
                                            // Escaped on the server; only <mark> is markup.
                                            Some(html) => view! { <p class="truncate text-slate-500 [&_mark]:rounded [&_mark]:bg-amber-100 [&_mark]:px-0.5" data-testid="snippet" inner_html=html></p> }.into_any(),
                                            // Descriptions are Markdown; the list shows their inline part, escaped.
                                            None => view! { <p class="truncate text-slate-500" data-testid="description" inner_html=inline_html(e.description.as_deref().unwrap_or_default())></p> }.into_any(),
                                        }}
                                    </td>
                                    <td class="truncate px-4 py-3 text-slate-600">{e.kind.clone()}</td>
                                    <td class="truncate px-4 py-3 text-slate-600">{e.spec_type.clone().unwrap_or_default()}</td>
                                    <td class="truncate px-4 py-3 text-slate-600">{e.owner.as_deref().map(short_ref).unwrap_or_default()}</td>
                                    <td class="truncate px-4 py-3 text-slate-600">{e.lifecycle.clone().unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// `group:default/team-a` → `team-a`, `user:default/guest` → `user:guest`: what a person would write.
fn short_ref(full: &str) -> String {
    let (kind, rest) = full.split_once(':').unwrap_or(("", full));
    let rest = rest.strip_prefix("default/").unwrap_or(rest);
    if kind == "group" || kind.is_empty() {
        rest.to_owned()
    } else {
        format!("{kind}:{rest}")
    }
}

/// The entity named by the route (`/catalog/:namespace/:kind/:name[/edit]`).
fn routed_entity() -> Resource<Result<EntityDetail, AppError>> {
    let params = use_params_map();
    let key = move || {
        params.with(|p| {
            (
                p.get("namespace").unwrap_or_default(),
                p.get("kind").unwrap_or_default(),
                p.get("name").unwrap_or_default(),
            )
        })
    };
    Resource::new(key, |(namespace, kind, name)| load_entity(namespace, kind, name))
}

#[component]
pub fn EntityPage() -> impl IntoView {
    let detail = routed_entity();
    on_catalog_updated(move || detail.refetch());
    view! {
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <EntityOverview detail/> }.into_any(),
                    Err(error) => view! { <PageProblem error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EntityOverview(detail: EntityDetail) -> impl IntoView {
    let delete = ServerAction::<DeleteEntity>::new();
    let delete_error = Signal::derive(move || delete.value().get().and_then(Result::err));
    let s = detail.summary.clone();
    let facts = [
        ("Kind", Some(s.kind.clone())),
        ("Type", s.spec_type.clone()),
        ("Owner", s.owner.clone()),
        ("Lifecycle", s.lifecycle.clone()),
        ("Namespace", Some(s.namespace.clone())),
    ];
    view! {
        <article>
            <p class="text-sm text-slate-500"><A href="/catalog" attr:class="hover:text-slate-900">"Catalog"</A>" / "{detail.entity_ref.clone()}</p>
            <div class="mt-1 flex items-center justify-between">
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{s.title.clone().unwrap_or_else(|| s.name.clone())}</h1>
                <A href=format!("{}/edit", EntityRef::new(&s.kind, &s.namespace, &s.name).page_path())
                    attr:class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50">"Edit"</A>
            </div>
            <p class="mt-1 text-sm text-slate-600">{s.description.clone().unwrap_or_default()}</p>
            <dl class="mt-6 grid grid-cols-2 gap-4 rounded-xl border border-slate-200 bg-white p-5 sm:grid-cols-5">
                {facts
                    .into_iter()
                    .map(|(label, value)| view! {
                        <div>
                            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
                            <dd class="mt-1 text-sm text-slate-900">{value.unwrap_or_else(|| "—".into())}</dd>
                        </div>
                    })
                    .collect_view()}
            </dl>
            {(!s.tags.is_empty()).then(|| view! {
                <div class="mt-4 flex flex-wrap gap-2">
                    {s.tags.iter().map(|t| view! { <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-700">{t.clone()}</span> }).collect_view()}
                </div>
            })}
            <crate::finops::pages::EntityCostPanel namespace=s.namespace.clone() kind=s.kind.clone() name=s.name.clone()/>
            <crate::deployments::pages::EntityDeploymentsPanel namespace=s.namespace.clone() kind=s.kind.clone() name=s.name.clone()/>
            <section class="mt-8" aria-labelledby="relations-heading">
                <h2 id="relations-heading" class="font-medium text-slate-900">"Relations"</h2>
                {if detail.relations.is_empty() {
                    view! { <p class="mt-2 text-sm text-slate-500">"This entity has no relations."</p> }.into_any()
                } else {
                    let graph = super::graph::relations_svg(&detail.entity_ref, &detail.relations);
                    view! {
                        <div class="mt-2 rounded-xl border border-slate-200 bg-white p-2" data-testid="relations-graph" inner_html=graph></div>
                        <ul class="mt-2 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="relations">
                            {detail.relations.clone().into_iter().map(|r| view! {
                                <li class="flex items-center justify-between px-4 py-2 text-sm">
                                    <span class="text-slate-500">{r.relation}</span>
                                    {match r.target_path {
                                        Some(path) => view! { <A href=path attr:class="font-medium text-slate-900 hover:text-amber-700">{r.target_ref}</A> }.into_any(),
                                        None => view! { <span class="text-slate-400" title="Not in the catalog">{format!("{} (missing)", r.target_ref)}</span> }.into_any(),
                                    }}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <KeyValues title="Links" rows=detail.links.clone() links=true/>
            <KeyValues title="Labels" rows=detail.labels.clone() links=false/>
            <KeyValues title="Annotations" rows=detail.annotations.clone() links=false/>
            <section class="mt-8" aria-labelledby="history-heading">
                <h2 id="history-heading" class="font-medium text-slate-900">"History"</h2>
                <ul class="mt-2 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white text-sm" data-testid="entity-history">
                    {detail.history.clone().into_iter().map(|event| view! {
                        <li class="flex gap-4 px-4 py-2">
                            <span class="w-40 shrink-0 text-slate-500">{event.occurred_at.format("%Y-%m-%d %H:%M UTC").to_string()}</span>
                            <span class="font-medium text-slate-900">{event.action}</span>
                            <span class="text-slate-600">{format!("by {}", event.actor)}</span>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="mt-8">
                <h2 class="font-medium text-slate-900">"YAML"</h2>
                <p class="mt-1 text-xs text-slate-500">"metadata.uid: "<span class="font-mono" data-testid="entity-uid">{s.uid.clone()}</span></p>
                <pre data-testid="entity-yaml" class="mt-2 max-h-96 overflow-auto rounded-xl bg-slate-950 p-4 text-xs text-slate-100">{detail.yaml.clone()}</pre>
            </section>
            <section class="mt-8 rounded-xl border border-red-200 bg-white p-5">
                <h2 class="font-medium text-red-800">"Delete this entity"</h2>
                <ActionForm action=delete>
                    <input type="hidden" name="uid" value=s.uid.clone()/>
                    <label class="mt-3 flex items-center gap-2 text-sm text-slate-700">
                        <input type="checkbox" name="confirm" value="yes"/>
                        {format!("Yes, delete {}", detail.entity_ref)}
                    </label>
                    <div class="mt-3 flex items-center gap-3">
                        <button type="submit" class="rounded-lg bg-red-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-700">"Delete"</button>
                        <ErrorNotice error=delete_error/>
                    </div>
                </ActionForm>
            </section>
        </article>
    }
}

#[component]
fn KeyValues(title: &'static str, rows: Vec<(String, String)>, links: bool) -> impl IntoView {
    (!rows.is_empty()).then(|| view! {
        <section class="mt-8">
            <h2 class="font-medium text-slate-900">{title}</h2>
            <dl class="mt-2 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white text-sm">
                {rows.into_iter().map(|(k, v)| view! {
                    <div class="flex gap-4 px-4 py-2">
                        <dt class="w-72 shrink-0 truncate text-slate-500">{k}</dt>
                        <dd class="min-w-0 break-all text-slate-900">
                            {if links { let href = v.clone(); view! { <a href=href rel="noopener noreferrer" class="hover:text-amber-700">{v}</a> }.into_any() } else { v.into_any() }}
                        </dd>
                    </div>
                }).collect_view()}
            </dl>
        </section>
    })
}

const NEW_ENTITY: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: my-service
  description: What it does
  tags: []
spec:
  type: service
  lifecycle: experimental
  owner: my-team
";

/// Create an entity: a YAML editor seeded with a template.
#[component]
pub fn NewEntityPage() -> impl IntoView {
    view! { <EntityEditor title="New entity".into() original=None yaml=NEW_ENTITY.into()/> }
}

/// Edit an entity: the editor seeded with its current YAML.
#[component]
pub fn EditEntityPage() -> impl IntoView {
    let detail = routed_entity();
    view! {
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => {
                        view! { <EntityEditor title=format!("Edit {}", detail.entity_ref) original=Some(detail.entity_ref.clone()) yaml=detail.yaml/> }.into_any()
                    }
                    Err(error) => view! { <PageProblem error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EntityEditor(title: String, original: Option<String>, yaml: String) -> impl IntoView {
    let save = ServerAction::<SaveEntity>::new();
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
            <p class="mt-1 text-sm text-slate-500">"One entity in Backstage's catalog-info.yaml format. It is validated exactly like the API validates it."</p>
            <ActionForm action=save>
                <input type="hidden" name="original" value=original.unwrap_or_default()/>
                <textarea name="yaml" rows="18" required aria-label="Entity YAML" spellcheck="false"
                    class="mt-4 block w-full rounded-xl border border-slate-300 p-3 font-mono text-xs shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30">{yaml}</textarea>
                <div class="mt-3 flex items-center gap-3">
                    <SubmitButton label="Save" pending=save.pending()/>
                    <A href="/catalog" attr:class="text-sm text-slate-600 hover:text-slate-900">"Cancel"</A>
                </div>
            </ActionForm>
            <div class="mt-4 whitespace-pre-line"><ErrorNotice error/></div>
        </section>
    }
}
