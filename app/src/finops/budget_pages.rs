//! `/finops/budgets`: each budget's period, actual and forecast spend against its amount and
//! thresholds (the ones that fired this period marked), a form to add one and a button to
//! remove one. Plain forms: works without JS.

use leptos::prelude::*;
use leptos_router::components::A;

use super::api::{load_budgets, AddBudget, RemoveBudget};
use super::model::{BudgetView, ThresholdOn};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton, TextField};
use crate::ui::live::on_live;

#[component]
pub fn BudgetsPage() -> impl IntoView {
    let add = ServerAction::<AddBudget>::new();
    let remove = ServerAction::<RemoveBudget>::new();
    let budgets = Resource::new(move || (add.version().get(), remove.version().get()), |_| load_budgets());
    // An import elsewhere can cross a threshold while the page is open.
    on_live("finops", move |_| budgets.refetch());
    let error = Signal::derive(move || {
        add.value().get().and_then(Result::err).or_else(|| remove.value().get().and_then(Result::err))
    });
    let select = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm";
    view! {
        <section class="max-w-4xl">
            <p class="text-sm text-slate-500"><A href="/finops" attr:class="hover:text-slate-900">"Cloud cost"</A>" / budgets"</p>
            <h1 class="mt-1 text-2xl font-semibold tracking-tight text-slate-900">"Budgets"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "Spend per period against an amount, for the organisation or a team or entity of the catalog. The forecast adds, for each "
                "remaining day, the mean of the same weekday over the last 28 days. Each threshold tells the owners once per period."
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading budgets…"</p> }>
                {move || Suspend::new(async move {
                    match budgets.await {
                        Ok(budgets) => view! {
                            <div class="mt-6 space-y-4" data-testid="budgets">
                                {budgets.is_empty().then(|| view! { <p class="text-sm text-slate-500">"No budgets yet."</p> })}
                                {budgets.into_iter().map(|budget| view! { <Budget budget remove/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
            <div class="mt-8 rounded-xl border border-slate-200 bg-white p-6">
                <h2 class="font-medium text-slate-900">"Add a budget"</h2>
                <ActionForm action=add>
                    <div class="mt-4 grid gap-4 sm:grid-cols-3">
                        <TextField label="Name" name="name" placeholder="Payments cloud spend"/>
                        <TextField label="Scope (empty: the organisation)" name="scope" optional=true placeholder="group:team-payments"/>
                        <TextField label="Thresholds (%)" name="thresholds" placeholder="80, 100 forecast"/>
                        <TextField label="Amount" name="amount" placeholder="25000"/>
                        <TextField label="Currency" name="currency" placeholder="USD"/>
                        <div class="grid grid-cols-2 gap-2">
                            <label class="block text-sm">
                                <span class="font-medium text-slate-700">"Period"</span>
                                <select name="period" class=select>
                                    <option value="month">"Month"</option>
                                    <option value="quarter">"Quarter"</option>
                                    <option value="year">"Year"</option>
                                </select>
                            </label>
                            <label class="block text-sm">
                                <span class="font-medium text-slate-700">"Metric"</span>
                                <select name="metric" class=select>
                                    <option value="amortized">"Amortized"</option>
                                    <option value="billed">"Billed"</option>
                                </select>
                            </label>
                        </div>
                    </div>
                    <div class="mt-4"><SubmitButton label="Add budget" pending=add.pending()/></div>
                </ActionForm>
            </div>
        </section>
    }
}

#[component]
fn Budget(budget: BudgetView, remove: ServerAction<RemoveBudget>) -> impl IntoView {
    let BudgetView {
        id,
        name,
        scope,
        period,
        metric,
        amount,
        currency,
        thresholds,
        period_start,
        as_of,
        actual,
        forecast,
        actual_percent,
        forecast_percent,
        fired,
        ..
    } = budget;
    let width = |percent: f64| format!("width: {:.1}%", percent.clamp(0.0, 100.0));
    let over = actual_percent >= 100.0;
    let marks: Vec<(String, bool)> = thresholds
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let on = match t.on {
                ThresholdOn::Actual => "actual",
                ThresholdOn::Forecast => "forecast",
            };
            (format!("{}% {on}", t.percent), fired.contains(&i))
        })
        .collect();
    let (attribute, label) = (name.clone(), format!("Remove {name}"));
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="budget" data-name=attribute>
            <div class="flex items-start justify-between gap-4">
                <div>
                    <p class="font-medium text-slate-900">{name}</p>
                    <p class="text-xs text-slate-500">
                        {format!("{} · {period} from {period_start} · {metric} · data to {as_of}", scope.unwrap_or_else(|| "The organisation".into()))}
                    </p>
                </div>
                <ActionForm action=remove>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <button type="submit" aria-label=label class="text-xs font-medium text-red-600 hover:text-red-800">"Remove"</button>
                </ActionForm>
            </div>
            <p class="mt-3 text-sm tabular-nums" data-testid="budget-figures">
                {format!("{actual} {currency} spent ({actual_percent:.0}%) · forecast {forecast} ({forecast_percent:.0}%) of {amount} {currency}")}
            </p>
            <div class="relative mt-2 h-2 rounded-full bg-slate-100" role="img" aria-label=format!("{actual_percent:.0}% spent, {forecast_percent:.0}% forecast")>
                <div class="absolute inset-y-0 left-0 rounded-full bg-amber-200" style=width(forecast_percent)></div>
                <div class=if over { "absolute inset-y-0 left-0 rounded-full bg-red-500" } else { "absolute inset-y-0 left-0 rounded-full bg-amber-500" } style=width(actual_percent)></div>
            </div>
            <ul class="mt-2 flex flex-wrap gap-2 text-xs">
                {marks.into_iter().map(|(mark, fired)| view! {
                    <li data-testid="budget-threshold" data-fired=fired.to_string()
                        class=if fired { "rounded bg-red-50 px-1.5 py-0.5 text-red-700" } else { "rounded bg-slate-100 px-1.5 py-0.5 text-slate-600" }>
                        {if fired { format!("{mark}: crossed") } else { mark }}
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}
