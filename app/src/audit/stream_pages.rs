//! `/audit/streams`: where the audit log is streamed (a SIEM's webhook), how far each
//! destination has got, and its recent deliveries. Plain forms: works without JS.

use leptos::prelude::*;

use super::stream_api::{load_streams, AddStream, RemoveStream};
use super::stream_model::{DeliveryView, DestinationView, NewSecret};
use crate::error::AppError;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton, TextField};

#[component]
pub fn AuditStreamsPage() -> impl IntoView {
    let add = ServerAction::<AddStream>::new();
    let remove = ServerAction::<RemoveStream>::new();
    let overview = Resource::new(move || (add.version().get(), remove.version().get()), |_| load_streams());
    let error: Signal<Option<AppError>> = Signal::derive(move || {
        add.value().get().and_then(Result::err).or_else(|| remove.value().get().and_then(Result::err))
    });
    view! {
        <section class="max-w-4xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Audit streaming"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "Every audit event, sent to your SIEM as it happens: signed JSON batches in commit order, retried until the receiver "
                "confirms them (at least once: de-duplicate by event id). "
                <a href="/audit" class="font-medium text-amber-700 hover:text-amber-900">"Audit log"</a>
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading destinations…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! {
                            {overview.revealed.map(|secret| view! { <SecretNotice secret/> })}
                            <div class="mt-6 space-y-4" data-testid="destinations">
                                {overview.destinations.is_empty().then(|| view! {
                                    <p class="text-sm text-slate-500">"Nothing is streamed yet."</p>
                                })}
                                {overview.destinations.into_iter().map(|d| view! { <Destination destination=d remove/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error allowed="Admins only"/> }.into_any(),
                    }
                })}
            </Transition>
            <div class="mt-8 rounded-xl border border-slate-200 bg-white p-6">
                <h2 class="font-medium text-slate-900">"Add a destination"</h2>
                <ActionForm action=add>
                    <div class="mt-4 grid gap-4 sm:grid-cols-2">
                        <TextField label="Name" name="name" placeholder="Splunk HEC"/>
                        <TextField label="Webhook URL" name="url" kind="url" placeholder="https://siem.example.com/hooks/beacon"/>
                    </div>
                    <label class="mt-3 flex items-center gap-2 text-sm text-slate-700">
                        <input type="checkbox" name="from_start" value="true"/>
                        "Send the whole existing log first (otherwise: events from now on)"
                    </label>
                    <div class="mt-4"><SubmitButton label="Add destination" pending=add.pending()/></div>
                </ActionForm>
            </div>
        </section>
    }
}

#[component]
fn SecretNotice(secret: NewSecret) -> impl IntoView {
    view! {
        <div data-testid="stream-secret" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">{format!("{} was added. Its signing secret (shown only now):", secret.name)}</p>
            <code data-testid="stream-secret-value" class="mt-1 block break-all rounded bg-white px-1.5 py-0.5 font-mono">{secret.secret}</code>
            <p class="mt-2">
                "Each request carries " <code>"Beacon-Signature: t=<unix seconds>,v1=<hex>"</code>
                ": the HMAC-SHA256 of " <code>"<t>.<body>"</code> " under this secret."
            </p>
        </div>
    }
}

#[component]
fn Destination(destination: DestinationView, remove: ServerAction<RemoveStream>) -> impl IntoView {
    let DestinationView {
        id,
        name,
        url,
        delivered_seq,
        backlog,
        failures,
        next_attempt_at,
        last_success_at,
        last_error,
        deliveries,
        ..
    } = destination;
    let state = match (failures, backlog) {
        (0, 0) => "Up to date".to_owned(),
        (0, n) => format!("{n} events waiting"),
        (f, n) => {
            format!("{n} events waiting; {f} failed attempts, next at {}", next_attempt_at.format("%H:%M:%S UTC"))
        }
    };
    let (label, attribute) = (format!("Remove {name}"), name.clone());
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="destination" data-name=attribute>
            <div class="flex items-start justify-between gap-4">
                <div>
                    <p class="font-medium text-slate-900">{name}</p>
                    <p class="break-all text-sm text-slate-500">{url}</p>
                    <p class="mt-1 text-sm" data-testid="destination-state">
                        {format!("Delivered through position {delivered_seq}. {state}.")}
                        {last_success_at.map(|at| format!(" Last confirmed {}.", at.format("%Y-%m-%d %H:%M:%S UTC")))}
                    </p>
                    {last_error.map(|e| view! { <p class="mt-1 text-sm text-red-700">{e}</p> })}
                </div>
                <ActionForm action=remove>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <button type="submit" aria-label=label class="text-xs font-medium text-red-600 hover:text-red-800">"Remove"</button>
                </ActionForm>
            </div>
            {(!deliveries.is_empty()).then(|| view! {
                <table class="mt-4 w-full text-xs" data-testid="deliveries">
                    <thead class="text-left text-slate-500">
                        <tr><th class="py-1">"When (UTC)"</th><th>"Positions"</th><th>"Events"</th><th>"Answer"</th><th>"Time"</th></tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {deliveries.into_iter().map(|d| view! { <DeliveryRow delivery=d/> }).collect_view()}
                    </tbody>
                </table>
            })}
        </div>
    }
}

#[component]
fn DeliveryRow(delivery: DeliveryView) -> impl IntoView {
    let ok = delivery.succeeded();
    let answer = match (delivery.status, &delivery.error) {
        (Some(status), _) => status.to_string(),
        (None, Some(error)) => error.clone(),
        (None, None) => "—".into(),
    };
    view! {
        <tr data-testid="delivery" data-ok=ok.to_string()>
            <td class="py-1">{delivery.attempted_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td>{format!("{}–{}", delivery.first_seq, delivery.last_seq)}</td>
            <td>{delivery.events}</td>
            <td class=if ok { "text-emerald-700" } else { "text-red-700" }>{answer}</td>
            <td>{format!("{} ms", delivery.duration_ms)}</td>
        </tr>
    }
}
