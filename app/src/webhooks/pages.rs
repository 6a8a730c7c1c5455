//! Settings → Webhooks (`/settings/webhooks`): which URLs receive which events, each
//! webhook's recent deliveries with what was sent and answered, and buttons to send a test
//! event, send a delivery again, turn a webhook off or on, or remove it. Plain forms: works
//! without JS.

use leptos::prelude::*;

use super::api::{load_webhooks, AddWebhook, EnableWebhook, PingWebhook, RedeliverWebhook, RemoveWebhook};
use super::model::{AttemptView, DeliveryView, NewSecret, WebhookView, KINDS};
use crate::error::AppError;
use crate::settings::pages::SettingsTabs;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton, TextField};

/// The page's actions, handed to every webhook's card.
#[derive(Clone, Copy)]
struct Actions {
    remove: ServerAction<RemoveWebhook>,
    enable: ServerAction<EnableWebhook>,
    ping: ServerAction<PingWebhook>,
    redeliver: ServerAction<RedeliverWebhook>,
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let add = ServerAction::<AddWebhook>::new();
    let actions = Actions {
        remove: ServerAction::new(),
        enable: ServerAction::new(),
        ping: ServerAction::new(),
        redeliver: ServerAction::new(),
    };
    let overview = Resource::new(
        move || {
            (
                add.version().get(),
                actions.remove.version().get(),
                actions.enable.version().get(),
                actions.ping.version().get(),
                actions.redeliver.version().get(),
            )
        },
        |_| load_webhooks(),
    );
    let error: Signal<Option<AppError>> = Signal::derive(move || {
        [
            add.value().get(),
            actions.remove.value().get(),
            actions.enable.value().get(),
            actions.ping.value().get(),
            actions.redeliver.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
    });
    view! {
        <section class="max-w-4xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Webhooks"</h1>
            <SettingsTabs current="/settings/webhooks"/>
            <p class="mt-4 text-sm text-slate-500">
                "Send this organisation's events to other systems as they happen. Each event is posted as JSON, signed the "
                <a href="https://www.standardwebhooks.com" class="font-medium text-amber-700 hover:text-amber-900">"Standard Webhooks"</a>
                " way, and retried for a day until the receiver answers 2xx (at least once: de-duplicate by "
                <code>"webhook-id"</code> "). A webhook that fails for a day is turned off and admins are told."
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading webhooks…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! {
                            {overview.revealed.map(|secret| view! { <SecretNotice secret/> })}
                            <div class="mt-6 space-y-4" data-testid="webhooks">
                                {overview.webhooks.is_empty().then(|| view! {
                                    <p class="text-sm text-slate-500">"No webhooks yet."</p>
                                })}
                                {overview.webhooks.into_iter().map(|webhook| view! { <Webhook webhook actions/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error allowed="Admins only"/> }.into_any(),
                    }
                })}
            </Transition>
            <div class="mt-8 rounded-xl border border-slate-200 bg-white p-6">
                <h2 class="font-medium text-slate-900">"Add a webhook"</h2>
                <ActionForm action=add>
                    <div class="mt-4 grid gap-4 sm:grid-cols-2">
                        <TextField label="Name" name="name" placeholder="Chat ops"/>
                        <TextField label="URL" name="url" kind="url" placeholder="https://hooks.example.com/beacon"/>
                    </div>
                    <fieldset class="mt-4">
                        <legend class="text-sm font-medium text-slate-700">"Events to send"</legend>
                        {KINDS
                            .into_iter()
                            .enumerate()
                            .map(|(i, (kind, meaning))| view! {
                                <label class="mt-2 flex items-start gap-2 text-sm text-slate-700">
                                    <input type="checkbox" name=format!("kinds[{i}]") value=kind checked=true class="mt-0.5"/>
                                    <span><code>{kind}</code> " — " {meaning}</span>
                                </label>
                            })
                            .collect_view()}
                    </fieldset>
                    <div class="mt-4"><SubmitButton label="Add webhook" pending=add.pending()/></div>
                </ActionForm>
            </div>
        </section>
    }
}

#[component]
fn SecretNotice(secret: NewSecret) -> impl IntoView {
    view! {
        <div data-testid="webhook-secret" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">{format!("{} was added. Its signing secret (shown only now):", secret.name)}</p>
            <code data-testid="webhook-secret-value" class="mt-1 block break-all rounded bg-white px-1.5 py-0.5 font-mono">{secret.secret}</code>
            <p class="mt-2">
                "Verify each request with a Standard Webhooks library and this secret: "
                <code>"webhook-signature"</code> " is " <code>"v1,"</code> " and the base64 HMAC-SHA256 of "
                <code>"<webhook-id>.<webhook-timestamp>.<body>"</code> "."
            </p>
        </div>
    }
}

#[component]
fn Webhook(webhook: WebhookView, actions: Actions) -> impl IntoView {
    let WebhookView { id, name, url, kinds, enabled, disabled_reason, failing_since, pending, deliveries, .. } =
        webhook;
    let state = match (enabled, &disabled_reason) {
        (true, _) => match failing_since {
            Some(since) => format!("On, failing since {}. {pending} waiting.", since.format("%Y-%m-%d %H:%M UTC")),
            None => format!("On. {pending} waiting."),
        },
        (false, Some(reason)) => format!("Turned off by the portal: {reason}"),
        (false, None) => format!("Turned off by an admin. {pending} waiting."),
    };
    let (ping_id, toggle_id, remove_id) = (id.to_string(), id.to_string(), id.to_string());
    let (attribute, remove_label) = (name.clone(), format!("Remove {name}"));
    let toggle = if enabled { "Turn off" } else { "Turn on" };
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="webhook" data-name=attribute data-enabled=enabled.to_string()>
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div>
                    <p class="font-medium text-slate-900">{name}</p>
                    <p class="break-all text-sm text-slate-500">{url}</p>
                    <p class="mt-1 text-xs text-slate-500">{kinds.join(", ")}</p>
                    <p class=if enabled { "mt-1 text-sm text-slate-700" } else { "mt-1 text-sm text-red-700" } data-testid="webhook-state">{state}</p>
                </div>
                <div class="flex items-center gap-3">
                    <ActionForm action=actions.ping>
                        <input type="hidden" name="id" value=ping_id/>
                        <button type="submit" class="text-xs font-medium text-amber-700 hover:text-amber-900">"Send a test event"</button>
                    </ActionForm>
                    <ActionForm action=actions.enable>
                        <input type="hidden" name="id" value=toggle_id/>
                        <input type="hidden" name="enabled" value=(!enabled).to_string()/>
                        <button type="submit" class="text-xs font-medium text-slate-600 hover:text-slate-900">{toggle}</button>
                    </ActionForm>
                    <ActionForm action=actions.remove>
                        <input type="hidden" name="id" value=remove_id/>
                        <button type="submit" aria-label=remove_label class="text-xs font-medium text-red-600 hover:text-red-800">"Remove"</button>
                    </ActionForm>
                </div>
            </div>
            {(!deliveries.is_empty()).then(|| view! {
                <ul class="mt-4 divide-y divide-slate-100 text-sm" data-testid="deliveries">
                    {deliveries.into_iter().map(|delivery| view! { <Delivery delivery redeliver=actions.redeliver/> }).collect_view()}
                </ul>
            })}
        </div>
    }
}

#[component]
fn Delivery(delivery: DeliveryView, redeliver: ServerAction<RedeliverWebhook>) -> impl IntoView {
    let state = delivery.state();
    let colour = match state {
        "delivered" => "text-emerald-700",
        "gave up" => "text-red-700",
        _ => "text-amber-700",
    };
    let DeliveryView { id, kind, occurred_at, body, attempts, next_attempt_at, log, .. } = delivery;
    let next = (matches!(state, "retrying")).then(|| format!(", next at {}", next_attempt_at.format("%H:%M:%S UTC")));
    view! {
        <li class="py-2" data-testid="delivery" data-state=state data-attempts=attempts.to_string()>
            <details>
                <summary class="flex cursor-pointer flex-wrap items-center gap-3">
                    <span class="text-xs text-slate-500">{occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</span>
                    <code class="text-xs">{kind}</code>
                    <span class=format!("text-xs font-medium {colour}")>
                        {format!("{state} ({attempts} attempt{}{})", if attempts == 1 { "" } else { "s" }, next.unwrap_or_default())}
                    </span>
                </summary>
                <div class="mt-2 space-y-2 pl-4">
                    <p class="text-xs text-slate-500">{format!("webhook-id: msg_{}", id.simple())}</p>
                    <pre class="overflow-x-auto rounded bg-slate-50 p-2 text-xs" data-testid="delivery-body">{body}</pre>
                    {log.into_iter().map(|attempt| view! { <Attempt attempt/> }).collect_view()}
                    <ActionForm action=redeliver>
                        <input type="hidden" name="delivery" value=id.to_string()/>
                        <button type="submit" class="text-xs font-medium text-amber-700 hover:text-amber-900">"Redeliver"</button>
                    </ActionForm>
                </div>
            </details>
        </li>
    }
}

#[component]
fn Attempt(attempt: AttemptView) -> impl IntoView {
    let ok = attempt.succeeded();
    let answer = match (attempt.status, &attempt.error) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "—".into(),
    };
    let headers =
        attempt.request_headers.iter().map(|(name, value)| format!("{name}: {value}")).collect::<Vec<_>>().join("\n");
    view! {
        <div class="rounded border border-slate-100 p-2 text-xs" data-testid="attempt" data-ok=ok.to_string()>
            <p>
                <span class="text-slate-500">{attempt.attempted_at.format("%H:%M:%S UTC").to_string()}</span>
                " · "
                <span class=if ok { "text-emerald-700" } else { "text-red-700" }>{answer}</span>
                {format!(" · {} ms", attempt.duration_ms)}
            </p>
            <pre class="mt-1 overflow-x-auto text-slate-600">{headers}</pre>
            {attempt.response_body.filter(|b| !b.is_empty()).map(|b| view! {
                <pre class="mt-1 overflow-x-auto text-slate-600">{b}</pre>
            })}
        </div>
    }
}
