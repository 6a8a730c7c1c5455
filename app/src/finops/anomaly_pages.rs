//! `/finops/anomalies`: days whose cost of a service was far from the same weekday of the
//! weeks before, each with what was expected, the range, the actual, the z-score and the
//! resources behind it; acknowledge one; the tenant's floors. Plain forms: works without JS.

use leptos::prelude::*;
use leptos_router::components::A;

use super::api::{load_anomalies, AcknowledgeAnomaly, SetAnomalyFloors};
use super::model::AnomalyView;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_live;

#[component]
pub fn AnomaliesPage() -> impl IntoView {
    let acknowledge = ServerAction::<AcknowledgeAnomaly>::new();
    let floors = ServerAction::<SetAnomalyFloors>::new();
    let view_data = Resource::new(move || (acknowledge.version().get(), floors.version().get()), |_| load_anomalies());
    on_live("finops", move |_| view_data.refetch());
    let error = Signal::derive(move || {
        acknowledge.value().get().and_then(Result::err).or_else(|| floors.value().get().and_then(Result::err))
    });
    view! {
        <section class="max-w-5xl">
            <p class="text-sm text-slate-500"><A href="/finops" attr:class="hover:text-slate-900">"Cloud cost"</A>" / anomalies"</p>
            <h1 class="mt-1 text-2xl font-semibold tracking-tight text-slate-900">"Anomalies"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "A day's amortized cost of a service, per allocation target, compared with the same weekday of the 8 weeks before: "
                "expected = their median; robust z = 0.6745 × (actual − median) / MAD. An anomaly has |z| > 3.5 and an impact above both floors."
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading anomalies…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(data) => view! {
                            <ActionForm action=floors attr:class="mt-6 flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-4">
                                <label class="text-sm">
                                    <span class="block font-medium text-slate-700">"Amount floor"</span>
                                    <input name="absolute_floor" value=data.absolute_floor.clone() required
                                        class="mt-1 w-28 rounded-lg border border-slate-300 px-2 py-1.5 text-sm"/>
                                </label>
                                <label class="text-sm">
                                    <span class="block font-medium text-slate-700">"Percent floor"</span>
                                    <input name="percent_floor" value=data.percent_floor.to_string() required
                                        class="mt-1 w-28 rounded-lg border border-slate-300 px-2 py-1.5 text-sm"/>
                                </label>
                                <SubmitButton label="Save floors" pending=floors.pending()/>
                            </ActionForm>
                            <div class="mt-6 space-y-3" data-testid="anomalies">
                                {data.anomalies.is_empty().then(|| view! {
                                    <p class="text-sm text-slate-500">"No anomalies in the imported cost."</p>
                                })}
                                {data.anomalies.into_iter().map(|anomaly| view! { <Anomaly anomaly acknowledge/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn Anomaly(anomaly: AnomalyView, acknowledge: ServerAction<AcknowledgeAnomaly>) -> impl IntoView {
    let AnomalyView { target, service, currency, day, actual, expected, low, high, z, top_resources, acknowledged_by } =
        anomaly;
    let shown = if target.is_empty() { "Unallocated".to_owned() } else { target.clone() };
    let state = acknowledged_by.clone().map(|by| format!("Acknowledged by {by}"));
    let figures = format!("{actual} {currency} against {expected} expected (range {low} to {high}); z = {z:.1}");
    let title = format!("{service} · {shown}");
    let attribute = target.clone();
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-4 text-sm" data-testid="anomaly" data-target=attribute>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <p class="font-medium text-slate-900">{title}</p>
                    <p class="text-xs text-slate-500">{day.to_string()}</p>
                </div>
                {match state {
                    Some(state) => view! { <span class="text-xs text-slate-500">{state}</span> }.into_any(),
                    None => view! {
                        <ActionForm action=acknowledge>
                            <input type="hidden" name="target" value=target/>
                            <input type="hidden" name="service" value=service/>
                            <input type="hidden" name="currency" value=currency/>
                            <input type="hidden" name="day" value=day.to_string()/>
                            <button type="submit" class="text-xs font-medium text-amber-700 hover:text-amber-900">"Acknowledge"</button>
                        </ActionForm>
                    }.into_any(),
                }}
            </div>
            <p class="mt-2 tabular-nums" data-testid="anomaly-figures">
                {figures}
            </p>
            {(!top_resources.is_empty()).then(|| view! {
                <ul class="mt-2 space-y-0.5 text-xs text-slate-600" data-testid="anomaly-resources">
                    {top_resources.into_iter().map(|(resource, cost)| view! {
                        <li class="flex justify-between gap-4"><span class="truncate font-mono">{resource}</span><span class="tabular-nums">{cost}</span></li>
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}
