//! `/plugins` (browse the directory with facets and search, each plugin's fit on the tenant's
//! Backstage release) and `/plugins/:id` (documentation, packages, every version's fit on the
//! tenant's release and on recent releases, dependencies, configuration example, install).
//! Facets are links and search a GET form; installing is an ActionForm: all work without
//! JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{load_plugin, load_plugin_recommendations, load_plugins, InstallPlugin, RequestPluginInstall};
use super::model::{
    Browse, BrowseQuery, Compat, FacetValue, PackageDetail, PluginCard, PluginDetail, Recommendation,
    SchemaAvailability, Staleness,
};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};

pub fn compat_badge(compat: Compat) -> impl IntoView {
    let class = match compat {
        Compat::Compatible => "bg-emerald-50 text-emerald-700 ring-emerald-200",
        Compat::Declared => "bg-sky-50 text-sky-700 ring-sky-200",
        Compat::Incompatible => "bg-red-50 text-red-700 ring-red-200",
        Compat::Unknown => "bg-slate-50 text-slate-600 ring-slate-200",
    };
    view! { <span class=format!("rounded-full px-2 py-0.5 text-xs ring-1 {class}") data-compat=compat.label()>{compat.label()}</span> }
}

fn support_label(support: &str) -> &'static str {
    match support {
        "supported" => "Supported",
        "tech-preview" => "Tech preview",
        "dev-preview" => "Dev preview",
        "private" => "Private",
        _ => "Community",
    }
}

const FACETS: [(&str, &str); 6] = [
    ("category", "Category"),
    ("role", "Role"),
    ("support", "Support"),
    ("compat", "Your platform"),
    ("state", "Installed"),
    ("collection", "Collection"),
];

/// The value a facet is set to ("" when it is not).
fn chosen<'q>(query: &'q BrowseQuery, facet: &str) -> &'q str {
    query.pairs().into_iter().find(|(key, _)| *key == facet).map_or("", |(_, value)| value)
}

/// The browse URL with one facet set (or cleared when it is already the chosen value).
fn facet_href(query: &BrowseQuery, facet: &str, value: &str) -> String {
    let query: Vec<String> = query
        .pairs()
        .into_iter()
        .map(|(k, v)| match k == facet {
            true if v == value => (k, ""),
            true => (k, value),
            false => (k, v),
        })
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", crate::escape::percent(v, b"")))
        .collect();
    if query.is_empty() {
        "/plugins".to_owned()
    } else {
        format!("/plugins?{}", query.join("&"))
    }
}

#[component]
pub fn PluginsPage() -> impl IntoView {
    let query = use_query_map();
    let params = move || query.with(|q| BrowseQuery::from_params(|k| q.get(k).unwrap_or_default()));
    let browse = Resource::new(params, load_plugins);
    let recommendations = Resource::new(|| (), |_| load_plugin_recommendations());
    // Asked for on the unfiltered directory only: a search is already a choice.
    let unfiltered = move || params().pairs().iter().all(|(_, value)| value.is_empty());
    view! {
        <section class="max-w-6xl">
            <div class="flex items-end justify-between gap-4">
                <div>
                    <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Plugins"</h1>
                    <p class="mt-1 text-sm text-slate-500">
                        "Backstage plugins checked against the release your runtime runs. Installing one makes a new revision of your plugin set; your runtime reads it from Beacon."
                    </p>
                </div>
                <A href="/settings/plugins" attr:class="text-sm font-medium text-amber-700 hover:text-amber-900">"Your plugins and history →"</A>
            </div>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match recommendations.await {
                        Ok(list) if unfiltered() && !list.is_empty() => view! { <Recommended list/> }.into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading plugins…"</p> }>
                {move || Suspend::new(async move {
                    match browse.await {
                        Ok(browse) => view! { <BrowseView browse query=params()/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Plugins the tenant's catalog asks for, each with why.
#[component]
fn Recommended(list: Vec<Recommendation>) -> impl IntoView {
    view! {
        <div class="mt-4 rounded-xl border border-amber-200 bg-amber-50/60 p-4" data-testid="recommendations">
            <h2 class="text-sm font-semibold text-slate-900">"Recommended for you"</h2>
            <ul class="mt-2 space-y-2">
                {list.into_iter().map(|r| view! {
                    <li class="flex flex-wrap items-center gap-2 text-sm" data-testid="recommendation" data-plugin=r.plugin.id.clone()>
                        <A href=format!("/plugins/{}", r.plugin.id) attr:class="font-medium text-slate-900 hover:underline">{r.plugin.title.clone()}</A>
                        {compat_badge(r.plugin.compat)}
                        <span class="text-slate-600">{r.reason}</span>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn BrowseView(browse: Browse, query: BrowseQuery) -> impl IntoView {
    let Browse { items, total, hidden, facets, platform } = browse;
    let groups: Vec<(&str, &str, Vec<FacetValue>)> = FACETS
        .iter()
        .zip([facets.category, facets.role, facets.support, facets.compat, facets.state, facets.collection])
        .map(|((key, label), values)| (*key, *label, values))
        .collect();
    let shown = items.len();
    view! {
        <p class="mt-4 text-sm text-slate-600" data-testid="platform">
            {format!("Your platform: {} {}", if platform.runtime == "rhdh" { "Red Hat Developer Hub on Backstage" } else { "Backstage" }, platform.release)}
            " · " <A href="/settings/plugins" attr:class="text-amber-700">"change"</A>
        </p>
        <div class="mt-4 grid gap-6 md:grid-cols-[14rem_1fr]">
            <aside class="space-y-5 text-sm" data-testid="facets">
                {groups.into_iter().filter(|(_, _, values)| !values.is_empty()).map(|(key, label, values)| {
                    let current = chosen(&query, key).to_owned();
                    let query = query.clone();
                    view! {
                        <div data-facet=key>
                            <p class="text-xs font-semibold uppercase tracking-wide text-slate-500">{label}</p>
                            <ul class="mt-1 space-y-0.5">
                                {values.into_iter().take(14).map(|v| {
                                    let active = v.value == current;
                                    let class = if active { "font-semibold text-amber-800" } else { "text-slate-700 hover:text-slate-900" };
                                    let text = if key == "support" { support_label(&v.value).to_owned() } else { v.value.clone() };
                                    view! {
                                        <li><a href=facet_href(&query, key, &v.value) class=class aria-current=active.then_some("true")>
                                            {text}<span class="ml-1 text-xs text-slate-400">{v.count}</span>
                                        </a></li>
                                    }
                                }).collect_view()}
                            </ul>
                        </div>
                    }
                }).collect_view()}
            </aside>
            <div>
                <form method="get" action="/plugins" class="flex gap-2">
                    <input type="search" name="q" value=query.search.clone() placeholder="Search plugins, packages, authors" aria-label="Search plugins" class="w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                    <button type="submit" class="rounded-lg border border-slate-300 px-3 py-1.5 text-sm">"Search"</button>
                </form>
                <p class="mt-3 text-sm text-slate-500" data-testid="plugin-count">
                    {format!("{shown} of {total} plugins")}
                    {(hidden > 0).then(|| format!(" · {hidden} hidden by your organisation's policy ({})", platform.policy.describe()))}
                </p>
                <ul class="mt-3 grid gap-3 lg:grid-cols-2" data-testid="plugins">
                    {items.into_iter().map(|card| view! { <PluginCardView card/> }).collect_view()}
                </ul>
            </div>
        </div>
    }
}

#[component]
fn PluginCardView(card: PluginCard) -> impl IntoView {
    let href = format!("/plugins/{}", card.id);
    let stale = (card.staleness == Staleness::Inactive).then(|| view! { <span class="rounded-full bg-amber-50 px-2 py-0.5 text-xs text-amber-800 ring-1 ring-amber-200">"inactive"</span> });
    let installed = card.installed.clone().map(|v| view! { <span class="rounded-full bg-slate-900 px-2 py-0.5 text-xs text-white">{format!("installed {v}")}</span> });
    let update = card.update_available.then(|| view! { <span class="rounded-full bg-amber-100 px-2 py-0.5 text-xs text-amber-900">"update available"</span> });
    view! {
        <li class="rounded-xl border border-slate-200 bg-white p-4" data-testid="plugin-card" data-plugin=card.id.clone() data-support=card.support.clone()>
            <div class="flex items-start justify-between gap-2">
                <A href=href attr:class="font-medium text-slate-900 hover:underline">{card.title.clone()}</A>
                <span class="text-xs text-slate-500">{support_label(&card.support)}</span>
            </div>
            <p class="mt-1 line-clamp-2 text-sm text-slate-600">{card.summary.clone()}</p>
            <div class="mt-2 flex flex-wrap items-center gap-1.5 text-xs text-slate-500">
                {compat_badge(card.compat)}
                {installed}
                {update}
                {stale}
                {card.latest.clone().map(|v| view! { <span>{format!("latest {v}")}</span> })}
                {card.author.clone().map(|a| view! { <span>{format!("by {a}")}</span> })}
            </div>
        </li>
    }
}

#[component]
pub fn PluginPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let plugin = Resource::new(id, load_plugin);
    view! {
        <section class="max-w-6xl">
            <p class="text-sm text-slate-500"><A href="/plugins" attr:class="hover:text-slate-900">"Plugins"</A></p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match plugin.await {
                        Ok(detail) => view! { <PluginView detail/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PluginView(detail: PluginDetail) -> impl IntoView {
    let PluginDetail {
        card,
        docs_html,
        highlights,
        tags,
        links,
        packages,
        releases,
        platform,
        may_manage,
        may_request,
        outside_policy,
    } = detail;
    let install = ServerAction::<InstallPlugin>::new();
    let request = ServerAction::<RequestPluginInstall>::new();
    let error = Signal::derive(move || {
        install.value().get().and_then(Result::err).or_else(|| request.value().get().and_then(Result::err))
    });
    let installed = packages.iter().any(|p| p.installed.is_some());
    let allowed = outside_policy.is_none();
    // Outside the policy nobody installs it, one version or all.
    let may_manage = may_manage && allowed;
    let id = card.id.clone();
    let request_form = (may_request && allowed && !installed).then(|| {
        let id = id.clone();
        view! {
            <ActionForm action=request attr:class="mt-4 flex items-end gap-3" attr:data-testid="request-form">
                <input type="hidden" name="plugin" value=id/>
                <label class="block text-sm">
                    <span class="text-xs text-slate-600">"Why your team needs it (an admin decides)"</span>
                    <input name="reason" required placeholder="What it is for" class="mt-1 block w-80 rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                </label>
                <SubmitButton label="Ask an admin to install" pending=request.pending()/>
            </ActionForm>
        }
    });
    let install_form = (may_manage && !installed).then(|| {
        let id = id.clone();
        view! {
            <ActionForm action=install attr:class="mt-4 flex items-end gap-3" attr:data-testid="install-form">
                <input type="hidden" name="plugin" value=id/>
                <label class="block text-sm">
                    <span class="text-xs text-slate-600">"Reason (optional)"</span>
                    <input name="reason" placeholder="Why this plugin" class="mt-1 block w-72 rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                </label>
                <SubmitButton label="Install" pending=install.pending()/>
            </ActionForm>
        }
    });
    view! {
        <div class="mt-1 flex items-start justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900" data-testid="plugin-title">{card.title.clone()}</h1>
                <p class="mt-1 text-sm text-slate-600">{card.summary.clone()}</p>
                <div class="mt-2 flex flex-wrap items-center gap-2 text-xs text-slate-500">
                    <span data-testid="plugin-compat">{compat_badge(card.compat)}</span>
                    <span>{support_label(&card.support)}</span>
                    {card.author.clone().map(|a| view! { <span>{format!("by {a}")}</span> })}
                    {card.installed.clone().map(|v| view! { <span class="rounded-full bg-slate-900 px-2 py-0.5 text-white" data-testid="installed-version">{format!("installed {v}")}</span> })}
                    {(card.staleness == Staleness::Inactive).then(|| view! { <span class="text-amber-800">"inactive: nothing published for a year"</span> })}
                </div>
            </div>
            <p class="text-right text-xs text-slate-500">{format!("Checked against {} {}", platform.runtime, platform.release)}</p>
        </div>
        {outside_policy.map(|why| view! { <p class="mt-4 rounded-lg bg-slate-100 px-3 py-2 text-sm text-slate-700" data-testid="outside-policy">{why}</p> })}
        {install_form}
        {request_form}
        <div class="mt-3"><ErrorNotice error/></div>
        {(!highlights.is_empty()).then(|| view! {
            <ul class="mt-4 flex flex-wrap gap-2 text-xs">
                {highlights.into_iter().map(|h| view! { <li class="rounded-full bg-amber-50 px-2 py-0.5 text-amber-900">{h}</li> }).collect_view()}
            </ul>
        })}
        <div class="mt-6 grid gap-6 lg:grid-cols-[1fr_16rem]">
            <article class="prose prose-sm max-w-none rounded-xl border border-slate-200 bg-white p-5 text-sm [&_h1]:text-lg [&_h1]:font-semibold [&_h2]:mt-4 [&_h2]:font-semibold [&_a]:text-amber-700 [&_ul]:list-disc [&_ul]:pl-5 [&_code]:rounded [&_code]:bg-slate-100 [&_code]:px-1 [&_p]:mt-2" data-testid="plugin-docs" inner_html=docs_html></article>
            <aside class="space-y-3 text-sm">
                {(!tags.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{tags.join(" · ")}</p> })}
                <ul class="space-y-1">
                    {links.into_iter().map(|l| view! { <li><a href=l.url rel="noopener noreferrer" class="text-amber-700 hover:text-amber-900">{l.title}</a></li> }).collect_view()}
                </ul>
            </aside>
        </div>
        <h2 class="mt-8 text-lg font-semibold text-slate-900">"Packages"</h2>
        {packages.into_iter().map(|package| view! { <PackageView package releases=releases.clone() plugin=id.clone() may_manage install/> }).collect_view()}
    }
}

#[component]
fn PackageView(
    package: PackageDetail,
    releases: Vec<String>,
    plugin: String,
    may_manage: bool,
    install: ServerAction<InstallPlugin>,
) -> impl IntoView {
    let PackageDetail { name, role, latest, versions, config_example, installed } = package;
    let installed_version = installed.as_ref().map(|i| i.version.clone());
    let shown = versions.len().min(20);
    let newest_row = versions.first().cloned();
    view! {
        <section class="mt-4 rounded-xl border border-slate-200 bg-white p-5" data-testid="package" data-package=name.clone()>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <p class="font-mono text-sm font-medium text-slate-900">{name.clone()}</p>
                <p class="text-xs text-slate-500">
                    {role.unwrap_or_else(|| "role unknown".to_owned())}
                    {latest.map(|l| format!(" · latest {l}"))}
                    {installed_version.clone().map(|v| format!(" · installed {v}"))}
                </p>
            </div>
            {newest_row.map(|row| {
                let schema = match row.schema {
                    SchemaAvailability::Available => "JSON schema: configuration is validated (a schema file, once its tarball is verified)",
                    SchemaAvailability::Unavailable => "schema unavailable (config.d.ts only): configuration is checked as YAML",
                    SchemaAvailability::None => "no configuration schema declared",
                };
                view! {
                    <p class="mt-1 text-xs text-slate-500">{schema}</p>
                    {(!row.dependencies.is_empty()).then(|| view! {
                        <details class="mt-2 text-xs">
                            <summary class="cursor-pointer text-slate-600">{format!("Dependencies of {} ({})", row.version, row.dependencies.len())}</summary>
                            <ul class="mt-1 grid gap-x-4 font-mono sm:grid-cols-2" data-testid="dependencies">
                                {row.dependencies.into_iter().map(|(d, r)| view! { <li>{format!("{d} {r}")}</li> }).collect_view()}
                            </ul>
                        </details>
                    })}
                }
            })}
            <div class="mt-3 overflow-x-auto">
                <table class="w-full text-left text-xs" data-testid="versions">
                    <thead class="text-slate-500">
                        <tr>
                            <th class="py-1 pr-3">"Version"</th>
                            <th class="pr-3">"Published"</th>
                            <th class="pr-3">"Your platform"</th>
                            {releases.iter().map(|r| view! { <th class="pr-2 font-normal">{r.clone()}</th> }).collect_view()}
                            <th></th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {versions.into_iter().take(shown).map(|row| {
                            let is_installed = installed_version.as_deref() == Some(row.version.as_str());
                            let action = (may_manage && !is_installed).then(|| {
                                let (plugin, name, version) = (plugin.clone(), name.clone(), row.version.clone());
                                view! {
                                    <ActionForm action=install>
                                        <input type="hidden" name="plugin" value=plugin/>
                                        <input type="hidden" name="package" value=name/>
                                        <input type="hidden" name="version" value=version.clone()/>
                                        <button type="submit" class="text-amber-700 hover:text-amber-900" aria-label=format!("Install {version}")>"Install"</button>
                                    </ActionForm>
                                }
                            });
                            view! {
                                <tr data-testid="version-row" data-version=row.version.clone()>
                                    <td class="py-1 pr-3 font-mono">{row.version.clone()}{row.deprecated.then_some(" (deprecated)")}</td>
                                    <td class="pr-3 text-slate-500">{row.published.map(|p| p.format("%Y-%m-%d").to_string()).unwrap_or_default()}</td>
                                    <td class="pr-3" title=row.problems.join("; ")>{compat_badge(row.compat)}</td>
                                    {row.across.into_iter().map(|c| view! { <td class="pr-2">{compat_mark(c)}</td> }).collect_view()}
                                    <td>{if is_installed { view! { <span class="text-slate-500">"installed"</span> }.into_any() } else { action.into_any() }}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {config_example.map(|yaml| view! {
                <details class="mt-3 text-xs">
                    <summary class="cursor-pointer text-slate-600">"Configuration example"</summary>
                    <pre class="mt-1 overflow-x-auto rounded-lg bg-slate-900 p-3 text-slate-100" data-testid="config-example">{yaml}</pre>
                </details>
            })}
        </section>
    }
}

fn compat_mark(compat: Compat) -> impl IntoView {
    let (mark, class, label) = match compat {
        Compat::Compatible => ("✓", "text-emerald-700", "compatible"),
        Compat::Declared => ("✓", "text-sky-700", "built for this release"),
        Compat::Incompatible => ("✗", "text-red-700", "incompatible"),
        Compat::Unknown => ("·", "text-slate-400", "unknown"),
    };
    view! { <span class=class title=label aria-label=label>{mark}</span> }
}
