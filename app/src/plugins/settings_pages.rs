//! Settings → Plugins (`/settings/plugins`): the runtime and Backstage release the tenant runs,
//! the installed set (update, enable or disable, uninstall), the history of revisions with a
//! rollback per revision, the difference between any two (`?from=&to=`), and what the tenant's
//! runtimes report they run (live on the `plugin` topic). ActionForms and a GET form: all work
//! without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::api::{
    compare_revisions, load_tenant_plugins, AddPrivatePlugin, ApprovePluginRequest, ConfigurePlugin,
    RejectPluginRequest, RemovePrivatePlugin, RollbackPlugins, SetPluginPlatform, SetPluginPolicy, TogglePlugin,
    UninstallPlugin, UpdatePlugins,
};
use super::model::{
    ChangeRequest, Health, InstalledRow, PackageChange, Policy, PrivatePlugin, RuntimeSummary, TenantPlugins,
};
use super::pages::compat_badge;
use crate::settings::pages::SettingsTabs;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_live;

const SELECT: &str = "mt-1 block rounded-lg border border-slate-300 px-3 py-2 text-sm";

#[derive(Clone, Copy)]
struct Actions {
    platform: ServerAction<SetPluginPlatform>,
    update: ServerAction<UpdatePlugins>,
    toggle: ServerAction<TogglePlugin>,
    uninstall: ServerAction<UninstallPlugin>,
    rollback: ServerAction<RollbackPlugins>,
    configure: ServerAction<ConfigurePlugin>,
    policy: ServerAction<SetPluginPolicy>,
    approve: ServerAction<ApprovePluginRequest>,
    reject: ServerAction<RejectPluginRequest>,
    add_private: ServerAction<AddPrivatePlugin>,
    remove_private: ServerAction<RemovePrivatePlugin>,
}

#[component]
pub fn PluginSettingsPage() -> impl IntoView {
    let actions = Actions {
        platform: ServerAction::new(),
        update: ServerAction::new(),
        toggle: ServerAction::new(),
        uninstall: ServerAction::new(),
        rollback: ServerAction::new(),
        configure: ServerAction::new(),
        policy: ServerAction::new(),
        approve: ServerAction::new(),
        reject: ServerAction::new(),
        add_private: ServerAction::new(),
        remove_private: ServerAction::new(),
    };
    let version = move || {
        actions.platform.version().get()
            + actions.update.version().get()
            + actions.toggle.version().get()
            + actions.uninstall.version().get()
            + actions.rollback.version().get()
            + actions.configure.version().get()
            + actions.policy.version().get()
            + actions.approve.version().get()
            + actions.reject.version().get()
            + actions.add_private.version().get()
            + actions.remove_private.version().get()
    };
    // Another admin's change or a runtime's report reloads the overview.
    let heard = RwSignal::new(0u32);
    on_live("plugin", move |_| heard.update(|n| *n += 1));
    let overview = Resource::new(move || (version(), heard.get()), |_| load_tenant_plugins());
    let query = use_query_map();
    let pair = move || {
        query.with(|q| {
            let n = |k: &str| q.get(k).and_then(|v| v.parse::<i32>().ok());
            n("from").zip(n("to"))
        })
    };
    let comparison = Resource::new(pair, |pair| async move {
        match pair {
            Some((from, to)) => compare_revisions(from, to).await.map(|c| Some((from, to, c))),
            None => Ok(None),
        }
    });
    let error = Signal::derive(move || {
        [
            actions.platform.value().get().and_then(Result::err),
            actions.update.value().get().and_then(Result::err),
            actions.toggle.value().get().and_then(Result::err),
            actions.uninstall.value().get().and_then(Result::err),
            actions.rollback.value().get().and_then(Result::err),
            actions.configure.value().get().and_then(Result::err),
            actions.policy.value().get().and_then(Result::err),
            actions.approve.value().get().and_then(Result::err),
            actions.reject.value().get().and_then(Result::err),
            actions.add_private.value().get().and_then(Result::err),
            actions.remove_private.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    });
    view! {
        <section class="max-w-5xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Plugins"</h1>
            <SettingsTabs current="/settings/plugins"/>
            <p class="mt-4 text-sm text-slate-500">
                "Every change to your plugin set is a revision: solved against your Backstage release first, made all at once, and restorable in one click. Your runtime reads the current revision from "
                <a href="/api/plugins/dynamic-plugins.yaml" class="font-mono text-amber-700">"/api/plugins/dynamic-plugins.yaml"</a>
                " with an API key that has the " <code>"plugins:read"</code> " scope."
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading plugins…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview actions/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match comparison.await {
                        Ok(Some((from, to, changes))) => view! { <Comparison from to changes/> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(overview: TenantPlugins, actions: Actions) -> impl IntoView {
    let TenantPlugins {
        platform,
        releases,
        installed,
        history,
        warnings,
        runtimes,
        unexpected,
        requests,
        private,
        may_manage,
    } = overview;
    let updates = installed.iter().filter(|r| r.update.is_some() && r.package.plugin.is_some()).count();
    let current = platform.current_revision;
    // The empty set before revision 1 can be restored too, once the list reaches back to it.
    let history_complete = history.last().is_some_and(|r| r.number == 1);
    // A plugin's controls (enable, disable, uninstall) are on its first package's row.
    let mut seen = std::collections::HashSet::new();
    let installed: Vec<(InstalledRow, bool)> = installed
        .into_iter()
        .map(|row| {
            let first = row.package.plugin.clone().is_some_and(|p| seen.insert(p));
            (row, first)
        })
        .collect();
    let platform_form = may_manage.then(|| {
        let (runtime, release) = (platform.runtime.clone(), platform.release.clone());
        view! {
            <ActionForm action=actions.platform attr:class="mt-3 flex flex-wrap items-end gap-3" attr:data-testid="platform-form">
                <label class="block text-sm">
                    <span class="text-xs text-slate-600">"Runtime"</span>
                    <select name="runtime" class=SELECT aria-label="Runtime">
                        <option value="backstage" selected={runtime == "backstage"}>"Backstage"</option>
                        <option value="rhdh" selected={runtime == "rhdh"}>"Red Hat Developer Hub"</option>
                    </select>
                </label>
                <label class="block text-sm">
                    <span class="text-xs text-slate-600">"Backstage release"</span>
                    <select name="release" class=SELECT aria-label="Backstage release">
                        {releases.into_iter().map(|r| {
                            let selected = r == release;
                            view! { <option value=r.clone() selected=selected>{r.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <SubmitButton label="Save platform" pending=actions.platform.pending()/>
            </ActionForm>
        }
    });
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-5">
            <p class="text-sm text-slate-700" data-testid="platform">
                {format!("Runtime: {} · Backstage {} · revision {current}", if platform.runtime == "rhdh" { "Red Hat Developer Hub" } else { "Backstage" }, platform.release)}
            </p>
            {platform_form}
        </div>
        {(!warnings.is_empty()).then(|| view! {
            <ul class="mt-4 space-y-1 rounded-lg bg-amber-50 px-3 py-2 text-xs text-amber-900" data-testid="plugin-warnings">
                {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
            </ul>
        })}
        <Runtimes runtimes unexpected/>
        <Requests requests may_manage actions/>
        <PolicyView policy=platform.policy.clone() may_manage actions/>
        <PrivatePlugins private may_manage actions/>
        <div class="mt-8 flex items-end justify-between gap-4">
            <h2 class="text-lg font-semibold text-slate-900">"Installed"</h2>
            {(may_manage && updates > 0).then(|| view! {
                <ActionForm action=actions.update>
                    <input type="hidden" name="package" value=""/>
                    <SubmitButton label="Update all compatible" pending=actions.update.pending()/>
                </ActionForm>
            })}
        </div>
        {if installed.is_empty() {
            view! { <p class="mt-2 text-sm text-slate-500" data-testid="no-plugins">"No plugins yet. " <A href="/plugins" attr:class="text-amber-700">"Browse the directory"</A></p> }.into_any()
        } else {
            view! {
                <table class="mt-3 w-full text-left text-sm" data-testid="installed">
                    <thead class="text-xs uppercase text-slate-500">
                        <tr><th class="py-2">"Package"</th><th>"Version"</th><th>"Fit"</th><th>"State"</th><th>"Runtime"</th><th></th></tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {installed.into_iter().map(|(row, first)| view! { <InstalledRowView row may_manage=may_manage first actions/> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <h2 class="mt-8 text-lg font-semibold text-slate-900">"History"</h2>
        <form method="get" action="/settings/plugins" class="mt-2 flex items-end gap-2 text-sm">
            <label>"Compare revision " <input name="from" type="number" min="0" required class="w-20 rounded border border-slate-300 px-2 py-1" aria-label="From revision"/></label>
            <label>" with " <input name="to" type="number" min="0" required value=current.to_string() class="w-20 rounded border border-slate-300 px-2 py-1" aria-label="To revision"/></label>
            <button type="submit" class="rounded-lg border border-slate-300 px-3 py-1">"Compare"</button>
        </form>
        <ol class="mt-3 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="history">
            {history.into_iter().map(|r| {
                let rollback = (may_manage && r.number != current).then(|| view! {
                    <ActionForm action=actions.rollback>
                        <input type="hidden" name="revision" value=r.number.to_string()/>
                        <button type="submit" class="text-sm text-amber-700 hover:text-amber-900" aria-label=format!("Roll back to revision {}", r.number)>"Roll back to this"</button>
                    </ActionForm>
                });
                let compare = format!("/settings/plugins?from={}&to={}", r.number.saturating_sub(1), r.number);
                view! {
                    <li class="flex items-center justify-between gap-4 px-4 py-2 text-sm" data-testid="revision" data-revision=r.number.to_string()>
                        <div>
                            <p class="font-medium text-slate-900">
                                {format!("#{} {}", r.number, r.reason)}
                                {(r.number == current).then(|| view! { <span class="ml-2 rounded-full bg-emerald-50 px-2 py-0.5 text-xs text-emerald-700">"current"</span> })}
                            </p>
                            <p class="text-xs text-slate-500">{format!("{} · {} · {} packages · Backstage {}", r.created_at.format("%Y-%m-%d %H:%M UTC"), r.author, r.packages, r.release)}</p>
                        </div>
                        <div class="flex items-center gap-3">
                            <a href=compare class="text-sm text-slate-600 hover:text-slate-900">"Changes"</a>
                            {rollback}
                        </div>
                    </li>
                }
            }).collect_view()}
            {(history_complete && current != 0).then(|| view! {
                <li class="flex items-center justify-between gap-4 px-4 py-2 text-sm" data-testid="revision" data-revision="0">
                    <p class="text-slate-600">"#0 Before any plugin was installed"</p>
                    {may_manage.then(|| view! {
                        <ActionForm action=actions.rollback>
                            <input type="hidden" name="revision" value="0"/>
                            <button type="submit" class="text-sm text-amber-700 hover:text-amber-900" aria-label="Roll back to revision 0">"Roll back to this"</button>
                        </ActionForm>
                    })}
                </li>
            })}
        </ol>
    }
}

#[component]
fn InstalledRowView(
    row: InstalledRow,
    may_manage: bool,
    /// The first row of its plugin: it carries the plugin's controls.
    first: bool,
    actions: Actions,
) -> impl IntoView {
    let InstalledRow { package, compat, update, config_yaml, verified, health, reports: _ } = row;
    let configure = (may_manage && health != Health::Library).then(|| {
        let name = package.package.clone();
        let label = format!("Configuration of {name}");
        view! {
            <details class="mt-1" data-testid="configure">
                <summary class="cursor-pointer text-xs text-amber-700">"Configure"</summary>
                <ActionForm action=actions.configure attr:class="mt-2 space-y-2">
                    <input type="hidden" name="package" value=name/>
                    <textarea name="config" rows="6" aria-label=label
                        class="block w-full rounded-lg border border-slate-300 px-2 py-1 font-mono text-xs"
                        placeholder="techRadar:
        url: https://example.com/radar.json">{config_yaml}</textarea>
                    <input name="reason" aria-label="Reason for the configuration" placeholder="Reason (optional)"
                        class="block w-full rounded-lg border border-slate-300 px-2 py-1 text-xs"/>
                    <SubmitButton label="Save configuration" pending=actions.configure.pending()/>
                </ActionForm>
            </details>
        }
    });
    let plugin = package.plugin.clone();
    let manage = may_manage.then(|| {
        let update = update.clone().filter(|_| plugin.is_some()).map(|version| {
            let name = package.package.clone();
            view! {
                <ActionForm action=actions.update>
                    <input type="hidden" name="package" value=name/>
                    <button type="submit" class="text-amber-700 hover:text-amber-900">{format!("Update to {version}")}</button>
                </ActionForm>
            }
        });
        let plugin_controls = plugin.clone().filter(|_| first).map(|id| {
            let uninstall_label = format!("Uninstall {id}");
            let toggle_id = id.clone();
            let disable = (!package.disabled).to_string();
            let label = if package.disabled { "Enable" } else { "Disable" };
            view! {
                <ActionForm action=actions.toggle>
                    <input type="hidden" name="plugin" value=toggle_id/>
                    <input type="hidden" name="disabled" value=disable/>
                    <button type="submit" class="text-slate-700 hover:text-slate-900">{label}</button>
                </ActionForm>
                <ActionForm action=actions.uninstall>
                    <input type="hidden" name="plugin" value=id/>
                    <button type="submit" class="text-red-700 hover:text-red-900" aria-label=uninstall_label>"Uninstall"</button>
                </ActionForm>
            }
        });
        view! { <div class="flex justify-end gap-3 text-xs">{update}{plugin_controls}</div> }
    });
    let origin = match plugin {
        Some(id) => {
            view! { <A href=format!("/plugins/{id}") attr:class="text-xs text-slate-500 hover:underline">{id}</A> }
                .into_any()
        }
        None => view! { <span class="text-xs text-slate-500">"dependency"</span> }.into_any(),
    };
    view! {
        <tr data-testid="installed-row" data-package=package.package.clone()>
            <td class="py-2"><p class="font-mono text-xs text-slate-900">{package.package.clone()}</p>{origin}{configure}</td>
            <td class="font-mono text-xs">
                <span data-testid="installed-version">{package.version.clone()}</span>
                {verified.then(|| view! { <span class="ml-1 font-sans text-emerald-700" data-testid="verified" title="Tarball verified against its published integrity">"verified"</span> })}
            </td>
            <td>{compat_badge(compat)}</td>
            <td class="text-xs" data-testid="installed-state">{if package.disabled { "disabled" } else { "enabled" }}</td>
            <td><HealthBadge health/></td>
            <td>{manage}</td>
        </tr>
    }
}

/// The runtimes that reported in the last day, and what they run that the revision lacks.
#[component]
fn Runtimes(runtimes: Vec<RuntimeSummary>, unexpected: Vec<String>) -> impl IntoView {
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-5" data-testid="runtimes">
            <h2 class="text-sm font-medium text-slate-900">"Runtimes"</h2>
            {if runtimes.is_empty() {
                view! {
                    <p class="mt-1 text-sm text-slate-500">
                        "No runtime has reported in the last day. A runtime reports what it loaded with "
                        <code>"POST /api/plugins/health"</code> " and a key with the " <code>"plugins:report"</code> " scope."
                    </p>
                }.into_any()
            } else {
                view! {
                    <ul class="mt-1 space-y-1 text-sm text-slate-700">
                        {runtimes.into_iter().map(|r| view! {
                            <li data-testid="runtime">
                                <span class="font-mono">{r.instance}</span>
                                {format!(" · {} loaded, {} failed · reported {}", r.loaded, r.failed, r.reported_at.format("%Y-%m-%d %H:%M UTC"))}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {(!unexpected.is_empty()).then(|| view! {
                <ul class="mt-2 space-y-1 text-xs text-amber-900" data-testid="unexpected">
                    {unexpected.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
}

/// A package's health as a badge, with what went wrong as its text.
#[component]
fn HealthBadge(health: Health) -> impl IntoView {
    let tone = match &health {
        Health::Running => "bg-emerald-50 text-emerald-700",
        Health::Failed { .. } => "bg-red-50 text-red-700",
        Health::Drift { .. } => "bg-amber-50 text-amber-800",
        Health::Unreported | Health::Library | Health::Off => "bg-slate-100 text-slate-600",
    };
    let detail = match &health {
        Health::Failed { instance, error } => Some(format!("{instance}: {error}")),
        Health::Drift { instance, detail } => Some(format!("{instance} {detail}")),
        _ => None,
    };
    view! {
        <span class=format!("rounded-full px-2 py-0.5 text-xs {tone}") data-testid="health" data-health=health.label()>{health.label()}</span>
        {detail.map(|d| view! { <p class="mt-1 max-w-xs break-words text-xs text-slate-600" data-testid="health-detail">{d}</p> })}
    }
}

#[component]
fn Comparison(from: i32, to: i32, changes: Vec<PackageChange>) -> impl IntoView {
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-5" data-testid="comparison">
            <p class="font-medium text-slate-900">{format!("Revision {from} → revision {to}")}</p>
            {if changes.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-500">"The same plugin set."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-2 space-y-1 font-mono text-xs">
                        {changes.into_iter().map(|c| {
                            let line = match (&c.before, &c.after) {
                                (None, Some(a)) => format!("+ {} {a}", c.package),
                                (Some(b), None) => format!("− {} {b}", c.package),
                                (Some(b), Some(a)) if a != b => format!("~ {} {b} → {a}", c.package),
                                _ => format!("~ {}", c.package),
                            };
                            let notes = (!c.notes.is_empty()).then(|| format!(" ({})", c.notes.join(", ")));
                            view! { <li data-testid="change">{line}{notes}</li> }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
}

/// Changes maintainers asked for: pending ones first, with Approve and Reject for admins.
#[component]
fn Requests(requests: Vec<ChangeRequest>, may_manage: bool, actions: Actions) -> impl IntoView {
    (!requests.is_empty()).then(|| view! {
        <h2 class="mt-8 text-lg font-semibold text-slate-900" id="requests">"Requests"</h2>
        <ul class="mt-3 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="requests">
            {requests.into_iter().map(|r| {
                let pending = r.state == "pending";
                let decided = match (&r.decider, r.decided_at) {
                    (Some(by), Some(at)) => format!("{} by {by}, {}", r.state, at.format("%Y-%m-%d %H:%M UTC")),
                    _ => r.state.clone(),
                };
                let id = r.id.to_string();
                let (approve, why, reject) =
                    (format!("Approve: {}", r.summary), format!("Why not: {}", r.summary), format!("Reject: {}", r.summary));
                let decide = (may_manage && pending).then(|| {
                    let approve_id = id.clone();
                    view! {
                        <div class="flex flex-wrap items-end gap-3">
                            <ActionForm action=actions.approve>
                                <input type="hidden" name="id" value=approve_id.clone()/>
                                <button type="submit" class="rounded-lg bg-slate-900 px-3 py-1 text-sm text-white" aria-label=approve.clone()>"Approve"</button>
                            </ActionForm>
                            <ActionForm action=actions.reject attr:class="flex items-end gap-2">
                                <input type="hidden" name="id" value=id.clone()/>
                                <input name="note" placeholder="Why not (told to them)" aria-label=why.clone() class="w-56 rounded-lg border border-slate-300 px-2 py-1 text-sm"/>
                                <button type="submit" class="text-sm text-rose-700 hover:text-rose-900" aria-label=reject.clone()>"Reject"</button>
                            </ActionForm>
                        </div>
                    }
                });
                view! {
                    <li class="flex flex-wrap items-center justify-between gap-3 px-4 py-3 text-sm" data-testid="request" data-state=r.state.clone()>
                        <div>
                            <p class="font-medium text-slate-900">{r.summary.clone()}</p>
                            <p class="text-xs text-slate-500">{format!("asked by {} · {} · “{}”", r.requester, r.created_at.format("%Y-%m-%d %H:%M UTC"), r.reason)}</p>
                            <p class="text-xs text-slate-600" data-testid="request-state">
                                {decided}
                                {r.revision.map(|n| format!(" · revision {n}"))}
                                {r.note.clone().map(|n| format!(" · “{n}”"))}
                            </p>
                        </div>
                        {decide}
                    </li>
                }
            }).collect_view()}
        </ul>
    })
}

/// What the directory allows this tenant to install; admins change it.
#[component]
fn PolicyView(policy: Policy, may_manage: bool, actions: Actions) -> impl IntoView {
    const LEVELS: [(&str, &str); 5] = [
        ("supported", "Supported"),
        ("tech-preview", "Tech preview"),
        ("dev-preview", "Developer preview"),
        ("community", "Community"),
        ("private", "Private (your own)"),
    ];
    let described = policy.describe();
    let form = may_manage.then(|| view! {
        <ActionForm action=actions.policy attr:class="mt-3 space-y-3" attr:data-testid="policy-form">
            <fieldset class="flex flex-wrap gap-4 text-sm">
                <legend class="text-xs text-slate-600">"Support levels that may be installed (none ticked: all)"</legend>
                {LEVELS.iter().enumerate().map(|(i, (value, label))| view! {
                    <label class="flex items-center gap-1.5">
                        <input type="checkbox" name=format!("support[{i}]") value=*value checked=policy.support.iter().any(|s| s == value)/>
                        {*label}
                    </label>
                }).collect_view()}
            </fieldset>
            <label class="block text-sm">
                <span class="text-xs text-slate-600">"Blocked plugins (ids, separated by commas)"</span>
                <input name="blocked" value=policy.blocked.join(", ") class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm" aria-label="Blocked plugins"/>
            </label>
            <label class="flex items-center gap-1.5 text-sm">
                <input type="checkbox" name="active_only" checked=policy.active_only/>
                "Only plugins published in the last year"
            </label>
            <SubmitButton label="Save policy" pending=actions.policy.pending()/>
        </ActionForm>
    });
    view! {
        <div class="mt-8 rounded-xl border border-slate-200 bg-white p-5">
            <h2 class="text-lg font-semibold text-slate-900">"Directory policy"</h2>
            <p class="mt-1 text-sm text-slate-600" data-testid="policy">{format!("Members may install {described}. Installed plugins outside it stay until removed.")}</p>
            {form}
        </div>
    }
}

/// The tenant's own plugins: packages its teams publish to the registry Beacon reads.
#[component]
fn PrivatePlugins(private: Vec<PrivatePlugin>, may_manage: bool, actions: Actions) -> impl IntoView {
    let form = may_manage.then(|| view! {
        <ActionForm action=actions.add_private attr:class="mt-3 grid gap-3 sm:grid-cols-2" attr:data-testid="private-form">
            <label class="block text-sm">
                <span class="text-xs text-slate-600">"Name (letters, digits, dashes)"</span>
                <input name="name" required class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm" aria-label="Private plugin name"/>
            </label>
            <label class="block text-sm">
                <span class="text-xs text-slate-600">"Title"</span>
                <input name="title" required class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm" aria-label="Private plugin title"/>
            </label>
            <label class="block text-sm sm:col-span-2">
                <span class="text-xs text-slate-600">"npm packages, the main one first (on your registry)"</span>
                <input name="packages" required placeholder="@acme/backstage-plugin-costs, @acme/backstage-plugin-costs-backend" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 font-mono text-sm" aria-label="Private plugin packages"/>
            </label>
            <label class="block text-sm">
                <span class="text-xs text-slate-600">"Summary"</span>
                <input name="summary" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm" aria-label="Private plugin summary"/>
            </label>
            <label class="block text-sm">
                <span class="text-xs text-slate-600">"Category"</span>
                <input name="category" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm" aria-label="Private plugin category"/>
            </label>
            <div><SubmitButton label="Add private plugin" pending=actions.add_private.pending()/></div>
        </ActionForm>
    });
    (may_manage || !private.is_empty()).then(|| view! {
        <div class="mt-8 rounded-xl border border-slate-200 bg-white p-5" id="private">
            <h2 class="text-lg font-semibold text-slate-900">"Private plugins"</h2>
            <p class="mt-1 text-sm text-slate-600">"Your own plugins, read from your registry like any other and seen only in your organisation."</p>
            <ul class="mt-3 divide-y divide-slate-100" data-testid="private-plugins">
                {private.into_iter().map(|p| {
                    let label = format!("Remove {}", p.title);
                    let remove = may_manage.then(|| {
                        let id = p.id.clone();
                        view! {
                            <ActionForm action=actions.remove_private>
                                <input type="hidden" name="id" value=id/>
                                <button type="submit" class="text-sm text-rose-700 hover:text-rose-900" aria-label=label.clone()>"Remove"</button>
                            </ActionForm>
                        }
                    });
                    let versions = match p.versions {
                        0 => "no versions read from the registry yet".to_owned(),
                        1 => "1 version".to_owned(),
                        n => format!("{n} versions"),
                    };
                    view! {
                        <li class="flex items-center justify-between gap-3 py-2 text-sm" data-testid="private-plugin" data-plugin=p.id.clone()>
                            <div>
                                <A href=format!("/plugins/{}", p.id) attr:class="font-medium text-slate-900 hover:underline">{p.title.clone()}</A>
                                <p class="font-mono text-xs text-slate-500">{format!("{} · {versions}", p.packages.join(", "))}</p>
                            </div>
                            {remove}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {form}
        </div>
    })
}
