//! The Deployments panel of entity pages (live through `deployment:status`) and Settings →
//! CI/CD (`/settings/cicd`): each provider's endpoint and secret, what was received and
//! refused, and the events no entity matched with the annotation that would match them.

use leptos::prelude::*;

use super::api::{load_cicd, load_entity_deployments, SetCicdSecret};
use super::model::{
    DeploymentView, Dora, EntityDeployments, IntegrationView, NewCicdSecret, Provider, Status, UnmatchedView,
};
use crate::settings::pages::SettingsTabs;
use crate::ui::chart::{Bar, BarChart};
use crate::ui::form::{ErrorNotice, PageProblem};
use crate::ui::live::on_live;

/// The Deployments section of an entity page.
#[component]
pub fn EntityDeploymentsPanel(namespace: String, kind: String, name: String) -> impl IntoView {
    let panel = Resource::new(
        move || (namespace.clone(), kind.clone(), name.clone()),
        |(namespace, kind, name)| load_entity_deployments(namespace, kind, name),
    );
    on_live("deployment", move |_| panel.refetch());
    view! {
        <section class="mt-8" id="deployments" aria-labelledby="deployments-heading" data-testid="deployments">
            <h2 id="deployments-heading" class="font-medium text-slate-900">"Deployments"</h2>
            <Transition fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading deployments…"</p> }>
                {move || Suspend::new(async move {
                    match panel.await {
                        Ok(panel) => view! { <Deployments panel/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Deployments(panel: EntityDeployments) -> impl IntoView {
    let EntityDeployments { scope, recent, dora, annotations } = panel;
    if recent.is_empty() {
        let list = annotations.join(", ");
        return view! {
            <p class="mt-2 text-sm text-slate-500" data-testid="no-deployments">
                {format!("No builds or deployments of {scope} yet. Beacon matches GitHub, Jenkins and Argo CD events by the annotations {list} (Settings → CI/CD).")}
            </p>
        }
        .into_any();
    }
    view! {
        <p class="mt-1 text-xs text-slate-500">{format!("DORA metrics of {scope}, production deployments of the last {} days.", dora.window_days)}</p>
        <DoraFigures dora/>
        <table class="mt-4 w-full text-sm" data-testid="deployment-list">
            <thead class="text-left text-xs text-slate-500">
                <tr><th class="py-1">"Status"</th><th>"What"</th><th>"Environment"</th><th>"Version"</th><th>"Finished (UTC)"</th><th>"From"</th></tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {recent.into_iter().map(|d| view! { <DeploymentRow deployment=d/> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn figure(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) if unit == "%" => format!("{:.0} %", v * 100.0),
        Some(v) if v < 48.0 => format!("{v:.1} h"),
        Some(v) => format!("{:.1} days", v / 24.0),
        None => "—".into(),
    }
}

#[component]
fn DoraFigures(dora: Dora) -> impl IntoView {
    let cards = [
        (
            "Deployment frequency",
            format!("{:.1} / week", dora.per_week),
            format!("{} successful production deployments in {} days.", dora.deployments, dora.window_days),
        ),
        (
            "Lead time for changes",
            figure(dora.lead_time_hours, "h"),
            "Median time from a commit to its successful production deployment.".to_owned(),
        ),
        (
            "Change failure rate",
            figure(dora.change_failure_rate, "%"),
            "Failed production deployments over all finished ones.".to_owned(),
        ),
        (
            "Time to restore",
            figure(dora.time_to_restore_hours, "h"),
            "Median time from a failed production deployment to the next successful one.".to_owned(),
        ),
    ];
    let bars: Vec<Bar> = dora
        .weekly
        .iter()
        .map(|(week, ok, failed)| Bar {
            title: format!("Week of {week}: {ok} succeeded, {failed} failed"),
            value: (*ok + *failed) as u64,
            marked: *failed > 0,
        })
        .collect();
    view! {
        <div class="mt-2 grid gap-4 rounded-xl border border-slate-200 bg-white p-5 sm:grid-cols-5" data-testid="dora">
            {cards.into_iter().map(|(label, value, definition)| view! {
                <div data-testid="dora-figure" data-label=label>
                    <p class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</p>
                    <p class="mt-1 text-xl font-semibold tabular-nums text-slate-900" data-testid="dora-value">{value}</p>
                    <p class="mt-1 text-xs text-slate-500">{definition}</p>
                </div>
            }).collect_view()}
            <div>
                <p class="text-xs font-medium uppercase tracking-wide text-slate-500">"Per week"</p>
                <BarChart name="Production deployments per week (amber: with failures)".into() bars width=160.0 height=48.0/>
            </div>
        </div>
    }
}

#[component]
fn DeploymentRow(deployment: DeploymentView) -> impl IntoView {
    let colour = match deployment.status {
        Status::Success => "text-emerald-700",
        Status::Failure => "text-red-700",
        _ => "text-amber-700",
    };
    let what = match &deployment.name {
        Some(name) => format!("{name} ({})", deployment.kind),
        None => deployment.kind.clone(),
    };
    let finished = deployment.finished_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "—".into());
    let from = deployment.provider.label();
    view! {
        <tr data-testid="deployment" data-status=deployment.status.as_str()>
            <td class=format!("py-1 font-medium {colour}")>{deployment.status.label()}</td>
            <td>{what}</td>
            <td>{deployment.environment.unwrap_or_else(|| "—".into())}</td>
            <td class="font-mono text-xs">{deployment.version.unwrap_or_else(|| "—".into())}</td>
            <td>{finished}</td>
            <td>
                {match deployment.url {
                    Some(url) if url.starts_with("https://") || url.starts_with("http://") => view! {
                        <a href=url rel="noopener noreferrer" class="text-amber-700 hover:text-amber-900">{from}</a>
                    }.into_any(),
                    _ => view! { <span>{from}</span> }.into_any(),
                }}
            </td>
        </tr>
    }
}

#[component]
pub fn CicdSettingsPage() -> impl IntoView {
    let set_secret = ServerAction::<SetCicdSecret>::new();
    let overview = Resource::new(move || set_secret.version().get(), |_| load_cicd());
    let error = Signal::derive(move || set_secret.value().get().and_then(Result::err));
    view! {
        <section class="max-w-4xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"CI/CD"</h1>
            <SettingsTabs current="/settings/cicd"/>
            <p class="mt-4 text-sm text-slate-500">
                "Builds and deployments from GitHub, Jenkins and Argo CD, shown on the catalog entities whose annotations name them, "
                "with DORA metrics. Each provider posts to its own endpoint with its own secret; requests without it are refused and counted."
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! {
                            {overview.revealed.map(|secret| view! { <CicdSecretNotice secret/> })}
                            <div class="mt-6 space-y-4">
                                {overview.integrations.into_iter().map(|integration| view! { <Integration integration set_secret/> }).collect_view()}
                            </div>
                            <Unmatched unmatched=overview.unmatched/>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error allowed="Admins only"/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CicdSecretNotice(secret: NewCicdSecret) -> impl IntoView {
    view! {
        <div data-testid="cicd-secret" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">{format!("The {} secret (shown only now):", secret.provider.label())}</p>
            <code data-testid="cicd-secret-value" class="mt-1 block break-all rounded bg-white px-1.5 py-0.5 font-mono">{secret.secret}</code>
        </div>
    }
}

fn setup(provider: Provider, endpoint: &str) -> String {
    match provider {
        Provider::GitHub => format!(
            "Repository or organisation → Settings → Webhooks: payload URL {endpoint}, content type application/json, this secret; events: Workflow runs, Deployments, Deployment statuses."
        ),
        Provider::Jenkins => format!(
            "Notification plugin: URL {endpoint}?token=<secret> (or the header X-Beacon-Token), format JSON, protocol HTTP. A build with an ENVIRONMENT (ENV, DEPLOY_ENV) parameter is a deployment."
        ),
        Provider::ArgoCd => format!(
            "argocd-notifications-cm: a webhook service to {endpoint} with the header X-Beacon-Token: <secret>, and the template in the README on sync triggers."
        ),
    }
}

#[component]
fn Integration(integration: IntegrationView, set_secret: ServerAction<SetCicdSecret>) -> impl IntoView {
    let provider = integration.provider;
    let state = match integration.configured {
        true => format!(
            "{} received, {} refused{}.",
            integration.received,
            integration.refused,
            integration
                .last_received_at
                .map(|t| format!("; last {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        ),
        false => "Not set up.".to_owned(),
    };
    let button = if integration.configured { "Replace secret" } else { "Create secret" };
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="integration" data-provider=provider.as_str()>
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div>
                    <p class="font-medium text-slate-900">{provider.label()}</p>
                    <p class="break-all font-mono text-xs text-slate-500">{integration.endpoint.clone()}</p>
                    <p class="mt-1 text-sm text-slate-700" data-testid="integration-state">{state}</p>
                    <p class="mt-1 text-xs text-slate-500">{setup(provider, &integration.endpoint)}</p>
                    <p class="mt-1 text-xs text-slate-500">{format!("Matched by the annotation {}.", provider.annotation())}</p>
                </div>
                <ActionForm action=set_secret>
                    <input type="hidden" name="provider" value=provider.as_str()/>
                    <button type="submit" aria-label=format!("{button} for {}", provider.label())
                        class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50">{button}</button>
                </ActionForm>
            </div>
        </div>
    }
}

#[component]
fn Unmatched(unmatched: Vec<UnmatchedView>) -> impl IntoView {
    view! {
        <div class="mt-8">
            <h2 class="font-medium text-slate-900">"Events that matched no entity"</h2>
            {if unmatched.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-500">"None: every event named an annotated entity."</p> }.into_any()
            } else {
                view! {
                    <table class="mt-2 w-full text-sm" data-testid="unmatched">
                        <thead class="text-left text-xs text-slate-500">
                            <tr><th class="py-1">"From"</th><th>"Names"</th><th>"Events"</th><th>"To match it, annotate an entity with"</th></tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {unmatched.into_iter().map(|u| view! {
                                <tr data-testid="unmatched-project">
                                    <td class="py-1">{u.provider.label()}</td>
                                    <td class="font-mono text-xs">{u.project.clone()}</td>
                                    <td>{u.events}</td>
                                    <td class="font-mono text-xs">{format!("{}: {}", u.annotation, u.project)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </div>
    }
}
