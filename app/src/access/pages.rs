//! Settings → API access: personal API keys for everyone, OAuth clients for admins.

use leptos::prelude::*;

use super::api::{load_access, CreateApiKey, CreateOauthClient, RevokeApiKey, RevokeOauthClient};
use super::model::{AccessOverview, ApiKeyView, ClientView, Revealed, Usage, USAGE_DAYS};
use crate::auth::permission::Scope;
use crate::error::AppError;
use crate::settings::pages::{NonAdminRoleSelect, SettingsTabs};
use crate::ui::chart::{Bar, BarChart};
use crate::ui::form::{ErrorNotice, SubmitButton, TextField};

#[component]
pub fn ApiAccessPage() -> impl IntoView {
    let create_key = ServerAction::<CreateApiKey>::new();
    let revoke_key = ServerAction::<RevokeApiKey>::new();
    let create_client = ServerAction::<CreateOauthClient>::new();
    let revoke_client = ServerAction::<RevokeOauthClient>::new();
    let overview = Resource::new(
        move || {
            (
                create_key.version().get(),
                revoke_key.version().get(),
                create_client.version().get(),
                revoke_client.version().get(),
            )
        },
        |_| load_access(),
    );
    let key_error = Signal::derive(move || {
        create_key.value().get().and_then(Result::err).or_else(|| revoke_key.value().get().and_then(Result::err))
    });
    let client_error = Signal::derive(move || {
        create_client.value().get().and_then(Result::err).or_else(|| revoke_client.value().get().and_then(Result::err))
    });

    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"API access"</h1>
            <SettingsTabs current="/settings/api-access"/>
            <p class="mt-1 text-sm text-slate-500">
                "Keys and clients for scripts and pipelines. Send a key as "
                <code class="font-mono">"Authorization: Bearer bcn_…"</code>" or "<code class="font-mono">"X-API-Key"</code>"."
            </p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview create_key revoke_key create_client revoke_client key_error client_error/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(
    overview: AccessOverview,
    create_key: ServerAction<CreateApiKey>,
    revoke_key: ServerAction<RevokeApiKey>,
    create_client: ServerAction<CreateOauthClient>,
    revoke_client: ServerAction<RevokeOauthClient>,
    key_error: Signal<Option<AppError>>,
    client_error: Signal<Option<AppError>>,
) -> impl IntoView {
    let now = overview.now;
    view! {
        {overview.revealed.map(|revealed| view! { <RevealedSecret revealed/> })}
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6">
            <h2 class="font-medium text-slate-900">"Create an API key"</h2>
            <ActionForm action=create_key>
                <div class="mt-4 grid gap-4 sm:grid-cols-3">
                    <TextField label="Key name" name="name"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Expires"</span>
                        <select name="expires_in_days" aria-label="Expires" class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm">
                            <option value="30">"in 30 days"</option>
                            <option value="90" selected>"in 90 days"</option>
                            <option value="366">"in a year"</option>
                            <option value="never">"never"</option>
                        </select>
                    </label>
                </div>
                <ScopeChoices/>
                <div class="mt-4 flex items-center gap-3">
                    <SubmitButton label="Create key" pending=create_key.pending()/>
                    <ErrorNotice error=key_error/>
                </div>
            </ActionForm>
        </div>
        <div class="mt-6 overflow-hidden rounded-xl border border-slate-200 bg-white">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="api-keys">
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-3">"Key"</th>
                        <th class="px-4 py-3">"Scopes"</th>
                        <th class="px-4 py-3">"Expires"</th>
                        <th class="px-4 py-3">"Last used"</th>
                        <th class="px-4 py-3">{format!("Requests, {USAGE_DAYS} days")}</th>
                        <th class="px-4 py-3">"Status"</th>
                        <th class="px-4 py-3"></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {overview.keys.into_iter().map(|key| view! { <KeyRow key now revoke_key/> }).collect_view()}
                </tbody>
            </table>
        </div>
        {overview.clients.map(|clients| view! { <Clients clients create_client revoke_client client_error/> })}
    }
}

#[component]
fn ScopeChoices() -> impl IntoView {
    view! {
        <fieldset class="mt-4">
            <legend class="text-sm font-medium text-slate-700">"Scopes"</legend>
            <div class="mt-2 grid gap-2 sm:grid-cols-2">
                {Scope::ALL
                    .into_iter()
                    .enumerate()
                    .map(|(i, scope)| {
                        view! {
                            <label class="flex items-start gap-2 text-sm">
                                <input type="checkbox" name=format!("scopes[{i}]") value=scope.as_str() class="mt-0.5"/>
                                <span>
                                    <code class="font-mono text-slate-900">{scope.as_str()}</code>
                                    <span class="block text-xs text-slate-500">{scope.describe()}</span>
                                </span>
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
        </fieldset>
    }
}

#[component]
fn RevealedSecret(revealed: Revealed) -> impl IntoView {
    view! {
        <div data-testid="revealed-secret" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">{format!("Created {}. Copy the secret now: it is shown only once.", revealed.label)}</p>
            <code data-testid="secret" class="mt-2 block break-all rounded bg-white px-2 py-1 font-mono">{revealed.secret}</code>
        </div>
    }
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>, none: &'static str) -> String {
    at.map_or_else(|| none.to_owned(), |at| at.format("%Y-%m-%d %H:%M").to_string())
}

#[component]
fn KeyRow(
    key: ApiKeyView,
    now: chrono::DateTime<chrono::Utc>,
    revoke_key: ServerAction<RevokeApiKey>,
) -> impl IntoView {
    let status = key.status(now);
    let id = key.id.to_string();
    let revoke_label = format!("Revoke {}", key.name);
    let used = match (key.last_used_at, key.last_used_ip.clone()) {
        (Some(at), Some(ip)) => format!("{} from {ip}", at.format("%Y-%m-%d %H:%M")),
        (at, _) => when(at, "never"),
    };
    view! {
        <tr data-testid="api-key-row" data-name=key.name.clone()>
            <td class="px-4 py-3">
                <p class="font-medium text-slate-900">{key.name.clone()}</p>
                <p class="font-mono text-xs text-slate-500">{format!("{}_…", key.prefix)}" · "{key.owner_email.clone()}</p>
            </td>
            <td class="px-4 py-3 font-mono text-xs">{key.scopes.join(" ")}</td>
            <td class="px-4 py-3 text-slate-500">{when(key.expires_at, "never")}</td>
            <td class="px-4 py-3 text-slate-500">{used}</td>
            <td class="px-4 py-3"><UsageChart of=key.name.clone() usage=key.usage.clone()/></td>
            <td class="px-4 py-3" data-testid="api-key-status">{status}</td>
            <td class="px-4 py-3 text-right">
                {(status == "active").then(move || view! {
                    <ActionForm action=revoke_key>
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" aria-label=revoke_label class="text-xs font-medium text-red-600 hover:text-red-800">"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

/// A key's or a client's daily requests as bars (days with failures in amber), with the totals.
#[component]
fn UsageChart(of: String, usage: Usage) -> impl IntoView {
    let (total, failed) = (usage.total(), usage.failed());
    let bars: Vec<Bar> = usage
        .days
        .iter()
        .map(|d| Bar {
            title: format!("{}: {} requests, {} failed", d.day.format("%b %-d"), d.requests, d.failed),
            value: d.requests,
            marked: d.failed > 0,
        })
        .collect();
    view! {
        <div data-testid="usage" class="flex items-center gap-3">
            <BarChart name=format!("Requests by {of}, last {USAGE_DAYS} days") bars/>
            <span data-testid="usage-total" class="whitespace-nowrap text-xs text-slate-500">
                {format!("{total} ({failed} failed)")}
            </span>
        </div>
    }
}

#[component]
fn Clients(
    clients: Vec<ClientView>,
    create_client: ServerAction<CreateOauthClient>,
    revoke_client: ServerAction<RevokeOauthClient>,
    client_error: Signal<Option<AppError>>,
) -> impl IntoView {
    view! {
        <div class="mt-10 rounded-xl border border-slate-200 bg-white p-6">
            <h2 class="font-medium text-slate-900">"OAuth clients"</h2>
            <p class="mt-1 text-sm text-slate-500">
                "Services exchange a client id and secret at "<code class="font-mono">"POST /oauth/token"</code>
                " (client credentials) for a 15-minute access token."
            </p>
            <ActionForm action=create_client>
                <div class="mt-4 grid gap-4 sm:grid-cols-3">
                    <TextField label="Client name" name="name"/>
                    <NonAdminRoleSelect name="role" label="Acts as"/>
                </div>
                <ScopeChoices/>
                <div class="mt-4 flex items-center gap-3">
                    <SubmitButton label="Register client" pending=create_client.pending()/>
                    <ErrorNotice error=client_error/>
                </div>
            </ActionForm>
            <table class="mt-6 min-w-full divide-y divide-slate-200 text-sm" data-testid="oauth-clients">
                <thead class="text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="py-2">"Client"</th>
                        <th class="py-2">"Role"</th>
                        <th class="py-2">"Scopes"</th>
                        <th class="py-2">"Last token"</th>
                        <th class="py-2">{format!("Requests, {USAGE_DAYS} days")}</th>
                        <th class="py-2"></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {clients
                        .into_iter()
                        .map(|client| {
                            let id = client.id.to_string();
                            let revoked = client.revoked_at.is_some();
                            let label = format!("Revoke {}", client.name);
                            view! {
                                <tr data-testid="oauth-client-row" data-name=client.name.clone()>
                                    <td class="py-2">
                                        <p class="font-medium text-slate-900">{client.name.clone()}</p>
                                        <p class="font-mono text-xs text-slate-500">{client.client_id.clone()}</p>
                                    </td>
                                    <td class="py-2">{client.role.clone()}</td>
                                    <td class="py-2 font-mono text-xs">{client.scopes.join(" ")}</td>
                                    <td class="py-2 text-slate-500">{when(client.last_token_at, "never")}</td>
                                    <td class="py-2"><UsageChart of=client.name.clone() usage=client.usage.clone()/></td>
                                    <td class="py-2 text-right">
                                        {if revoked {
                                            view! { <span class="text-xs text-slate-500">"revoked"</span> }.into_any()
                                        } else {
                                            view! {
                                                <ActionForm action=revoke_client>
                                                    <input type="hidden" name="id" value=id/>
                                                    <button type="submit" aria-label=label class="text-xs font-medium text-red-600 hover:text-red-800">"Revoke"</button>
                                                </ActionForm>
                                            }
                                                .into_any()
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
