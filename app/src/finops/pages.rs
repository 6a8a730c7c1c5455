//! FinOps pages: the cost overview (`/finops`), the sources page where bills are uploaded
//! (`/finops/sources`) and an import's progress (`/finops/imports/:id`). The overview's
//! controls are a GET form and its charts server-drawn SVG, so it all works without JavaScript.

use chrono::NaiveDate;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{
    load_allocation, load_cost_import, load_cost_imports, load_cost_overview, load_entity_cost, AddAllocationRule,
    RemoveAllocationRule, RestoreAllocationRules, RuleForm, SetCurrencyRates, SetEngineerCost,
};
use super::model::{
    AllocationPage, CostImport, CostOverview, CostView, EntityCost, ImportReport, ImportStatus, Movement, RuleKind,
    SplitMethod, ALL_CURRENCIES, UNALLOCATED,
};
use crate::ui::chart::{Bar, BarChart};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};

/// `12345.6` → `12,345.60`: an exact decimal from the database, grouped for reading.
pub fn format_amount(amount: &str) -> String {
    let (sign, digits) = match amount.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", amount),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let fraction = format!("{fraction:0<2}");
    format!("{sign}{grouped}.{fraction}")
}

/// The change from `previous` to `amount` in percent, when there was something before.
fn change(movement: &Movement) -> Option<f64> {
    // Display only: the amounts themselves stay exact decimals.
    let (now, before) = (movement.amount.parse::<f64>().ok()?, movement.previous.parse::<f64>().ok()?);
    (before.abs() >= 0.005).then(|| (now - before) / before.abs() * 100.0)
}

fn month_label(month: NaiveDate) -> String {
    month.format("%B %Y").to_string()
}

#[component]
pub fn FinopsPage() -> impl IntoView {
    let query = use_query_map();
    let engineer_cost = ServerAction::<SetEngineerCost>::new();
    let currency_rates = ServerAction::<SetCurrencyRates>::new();
    let overview = Resource::new(
        move || {
            let saved = (engineer_cost.version().get(), currency_rates.version().get());
            query.with(|q| (q.get("view").unwrap_or_default(), q.get("currency"), q.get("month"), saved))
        },
        |(view, currency, month, _)| load_cost_overview(view, currency, month),
    );
    let error = Signal::derive(move || {
        engineer_cost.value().get().and_then(Result::err).or_else(|| currency_rates.value().get().and_then(Result::err))
    });
    view! {
        <section>
            <div class="flex flex-wrap items-baseline justify-between gap-3">
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Cloud cost"</h1>
                <span class="space-x-4 text-sm font-medium">
                    <A href="/finops/anomalies" attr:class="text-amber-700 hover:text-amber-900">"Anomalies"</A>
                    <A href="/finops/budgets" attr:class="text-amber-700 hover:text-amber-900">"Budgets"</A>
                    <A href="/finops/allocation" attr:class="text-amber-700 hover:text-amber-900">"Allocation"</A>
                    <A href="/finops/sources" attr:class="text-amber-700 hover:text-amber-900">"Sources and imports"</A>
                </span>
            </div>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading costs…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview engineer_cost currency_rates/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(
    overview: CostOverview,
    engineer_cost: ServerAction<SetEngineerCost>,
    currency_rates: ServerAction<SetCurrencyRates>,
) -> impl IntoView {
    let (Some(currency), Some(month)) = (overview.currency.clone(), overview.month) else {
        return view! {
            <div class="mt-6 rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center" data-testid="finops-empty">
                <p class="font-medium text-slate-900">"No cost data yet"</p>
                <p class="mt-1 text-sm text-slate-500">"Import a bill (FOCUS, AWS CUR or an Azure export) on "<A href="/finops/sources" attr:class="text-amber-700 underline">"Sources"</A>"."</p>
            </div>
        }
        .into_any();
    };
    let view_name = overview.view;
    let explanation = match view_name {
        CostView::Amortized => "Amortized: EffectiveCost by the day it was incurred; commitment purchases are spread over the usage they covered, never counted twice.",
        CostView::Invoice => "Invoice: BilledCost by billing period, as the invoices add up.",
    };
    let total = overview.total.clone();
    let rate = overview.engineer_rate.clone();
    let converted = overview.converted.clone();
    let rates_text = overview
        .rates
        .as_ref()
        .map(|r| r.rates.iter().map(|(c, rate)| format!("{c} {rate}")).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    let reporting = overview.rates.as_ref().map(|r| r.reporting.clone()).unwrap_or_else(|| currency.clone());
    let change_text = change(&total)
        .map(|c| format!("{c:+.1}% on the month before"))
        .unwrap_or_else(|| "no cost the month before".into());
    view! {
        <form method="get" action="/finops" class="mt-4 flex flex-wrap items-end gap-3 text-sm" data-testid="finops-controls">
            <label class="flex flex-col gap-1">"View"
                <select name="view" class="rounded-lg border border-slate-300 px-2 py-1.5">
                    <option value="amortized" selected=view_name == CostView::Amortized>"Amortized (by day incurred)"</option>
                    <option value="invoice" selected=view_name == CostView::Invoice>"Invoice (by billing period)"</option>
                </select>
            </label>
            <label class="flex flex-col gap-1">"Currency"
                <select name="currency" class="rounded-lg border border-slate-300 px-2 py-1.5">
                    {overview.currencies.iter().map(|c| view! { <option value=c.clone() selected=converted.is_none() && *c == currency>{c.clone()}</option> }).collect_view()}
                    {overview.rates.as_ref().map(|rates| view! {
                        <option value=ALL_CURRENCIES selected=converted.is_some()>{format!("All, in {}", rates.reporting)}</option>
                    })}
                </select>
            </label>
            <label class="flex flex-col gap-1">"Month"
                <select name="month" class="rounded-lg border border-slate-300 px-2 py-1.5">
                    {overview.months.iter().map(|m| {
                        let value = m.format("%Y-%m").to_string();
                        view! { <option value=value selected=*m == month>{month_label(*m)}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="rounded-lg bg-slate-900 px-3 py-1.5 font-semibold text-white hover:bg-slate-700">"Show"</button>
            <a href=format!("/api/cost-analytics/export.csv?view={}&currency={currency}&month={}", view_name.as_str(), month.format("%Y-%m"))
                class="py-1.5 text-amber-700 hover:text-amber-900" data-testid="finops-export" rel="external" download>"Download CSV"</a>
        </form>
        <p class="mt-2 text-xs text-slate-500" data-testid="finops-currency-note">{match &converted {
            None => format!("{explanation} Currencies are never added together."),
            Some(conversion) => format!(
                "{explanation} Converted into {currency} at {}{}.",
                if conversion.used.is_empty() { "no rate".to_owned() } else {
                    conversion.used.iter().map(|(c, r)| format!("1 {c} = {r} {currency}")).collect::<Vec<_>>().join(", ")
                },
                if conversion.left_out.is_empty() { String::new() } else {
                    format!("; left out for want of a rate: {}", conversion.left_out.join(", "))
                },
            ),
        }}</p>
        <div class="mt-6 grid gap-6 lg:grid-cols-3">
            <div class="rounded-xl border border-slate-200 bg-white p-5">
                <p class="text-sm text-slate-500">{format!("{} · {}", month_label(month), currency)}</p>
                <p class="mt-1 text-3xl font-semibold tabular-nums text-slate-900" data-testid="finops-total">{format!("{} {currency}", format_amount(&total.amount))}</p>
                <p class="mt-1 text-sm text-slate-500" data-testid="finops-change">{change_text}</p>
                {overview.forecast.clone().map(|(forecast, as_of)| view! {
                    <p class="mt-2 text-sm text-slate-700" data-testid="finops-forecast"
                        title="The days left at the mean of their weekday over the last 28 days">
                        {format!("Forecast for the month: {} {currency} (data to {as_of})", format_amount(&forecast))}
                    </p>
                })}
                {overview.unallocated_share.clone().map(|share| view! {
                    <p class="mt-2 text-sm">
                        <A href="/finops/allocation" attr:class="text-amber-700 hover:text-amber-900" attr:data-testid="finops-unallocated-share">{format!("{share} unallocated")}</A>
                    </p>
                })}
                {overview.engineers.clone().zip(overview.engineer_rate.clone()).map(|(engineers, rate)| view! {
                    <p class="mt-2 text-sm text-slate-700" data-testid="finops-engineers">
                        {format!("{engineers} at {} {} a month", format_amount(&rate.monthly_cost), rate.currency)}
                    </p>
                })}
            </div>
            <div class="rounded-xl border border-slate-200 bg-white p-5 lg:col-span-2">
                <AmountChart title="Each day of the month (amortized)" points=overview.daily.clone() currency=currency.clone() testid="finops-daily" width=600.0/>
                <AmountChart title="The last twelve months" points=overview.monthly.clone() currency=currency.clone() testid="finops-monthly" width=600.0/>
            </div>
        </div>
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <Movers movers=overview.movers currency=currency.clone()/>
            {overview.breakdowns.into_iter().map(|(title, rows)| view! { <Breakdown title rows currency=currency.clone()/> }).collect_view()}
        </div>
        <ActionForm action=engineer_cost attr:class="mt-6 flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-4 text-sm" attr:data-testid="engineer-cost-form">
            <p class="w-full text-slate-500">"What an engineer costs a month, to read cost as people (maintainers and admins; leave the amount empty to stop)."</p>
            <label>
                <span class="block font-medium text-slate-700">"Engineer's monthly cost"</span>
                <input name="monthly_cost" value=rate.as_ref().map(|r| r.monthly_cost.clone()).unwrap_or_default()
                    class="mt-1 w-32 rounded-lg border border-slate-300 px-2 py-1.5"/>
            </label>
            <label>
                <span class="block font-medium text-slate-700">"Its currency"</span>
                <input name="currency" value=rate.map(|r| r.currency).unwrap_or_else(|| currency.clone()) maxlength="3"
                    class="mt-1 w-20 rounded-lg border border-slate-300 px-2 py-1.5"/>
            </label>
            <SubmitButton label="Save engineer cost" pending=engineer_cost.pending()/>
        </ActionForm>
        <ActionForm action=currency_rates attr:class="mt-4 flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-4 text-sm" attr:data-testid="currency-rates-form">
            <p class="w-full text-slate-500">"Rates into a reporting currency, for a view of every currency converted into it (amounts stay stored in their own; leave the rates empty to remove the view)."</p>
            <label>
                <span class="block font-medium text-slate-700">"Reporting currency"</span>
                <input name="reporting" value=reporting maxlength="3" class="mt-1 w-20 rounded-lg border border-slate-300 px-2 py-1.5"/>
            </label>
            <label>
                <span class="block font-medium text-slate-700">"Rates (one per line: CAD 0.73)"</span>
                <textarea name="rates" rows="3" class="mt-1 w-48 rounded-lg border border-slate-300 px-2 py-1.5 font-mono">{rates_text}</textarea>
            </label>
            <SubmitButton label="Save rates" pending=currency_rates.pending()/>
        </ActionForm>
    }
    .into_any()
}

/// Amounts over time as bars; each bar's tooltip has its date and exact amount.
#[component]
fn AmountChart(
    title: &'static str,
    points: Vec<(NaiveDate, String)>,
    currency: String,
    testid: &'static str,
    width: f64,
) -> impl IntoView {
    // Bars are drawn in cents; negative days (credits) are drawn empty and shown in the tooltip.
    let bars: Vec<Bar> = points
        .iter()
        .map(|(day, amount)| Bar {
            title: format!("{day}: {} {currency}", format_amount(amount)),
            value: amount.parse::<f64>().map(|a| (a * 100.0).max(0.0) as u64).unwrap_or(0),
            marked: amount.starts_with('-'),
        })
        .collect();
    view! {
        <figure data-testid=testid class="mb-4">
            <figcaption class="text-sm text-slate-700">{title}</figcaption>
            <div class="mt-1 overflow-x-auto"><BarChart name=title.to_owned() bars width height=80.0/></div>
        </figure>
    }
}

#[component]
fn Breakdown(title: String, rows: Vec<Movement>, currency: String) -> impl IntoView {
    let (attribute, heading) = (title.clone(), format!("By {}", title.to_lowercase()));
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="finops-breakdown" data-title=attribute>
            <h2 class="font-medium text-slate-900">{heading}</h2>
            <table class="mt-3 w-full text-sm">
                <thead class="text-left text-xs text-slate-500">
                    <tr><th class="py-1 font-medium">{title}</th><th class="py-1 text-right font-medium">{currency}</th><th class="py-1 text-right font-medium">"vs month before"</th></tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|row| {
                        let change = change(&row).map(|c| format!("{c:+.1}%")).unwrap_or_else(|| "new".into());
                        view! {
                            <tr data-testid="finops-row">
                                <td class="py-1.5 pr-4 break-all">{row_name(&row.name)}</td>
                                <td class="py-1.5 text-right tabular-nums">{format_amount(&row.amount)}</td>
                                <td class="py-1.5 text-right tabular-nums text-slate-500">{change}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The owners and services whose cost changed most on the month before, either way.
#[component]
fn Movers(movers: Vec<(String, Movement)>, currency: String) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="finops-movers">
            <h2 class="font-medium text-slate-900">"Top movers"</h2>
            {movers.is_empty().then(|| view! { <p class="mt-3 text-sm text-slate-500">"Nothing changed on the month before."</p> })}
            <table class="mt-3 w-full text-sm">
                <tbody class="divide-y divide-slate-100">
                    {movers.into_iter().map(|(dimension, row)| {
                        let delta = subtract(&row.amount, &row.previous);
                        let percent = change(&row).map(|c| format!(" ({c:+.1}%)")).unwrap_or_default();
                        view! {
                            <tr data-testid="finops-mover">
                                <td class="py-1.5 pr-2 text-xs text-slate-500">{dimension}</td>
                                <td class="py-1.5 pr-4 break-all">{row_name(&row.name)}</td>
                                <td class="py-1.5 text-right tabular-nums">{format!("{delta} {currency}{percent}")}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `amount − previous` of two cent amounts as signed text (`+1,234.50`), computed in cents so
/// it is exact.
fn subtract(amount: &str, previous: &str) -> String {
    let cents = |text: &str| -> Option<i128> {
        let (sign, digits) = text.strip_prefix('-').map_or((1, text), |rest| (-1, rest));
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let fraction = format!("{fraction:0<2}");
        Some(sign * (whole.parse::<i128>().ok()? * 100 + fraction.get(..2)?.parse::<i128>().ok()?))
    };
    match (cents(amount), cents(previous)) {
        (Some(a), Some(p)) => {
            let delta = a - p;
            let sign = if delta < 0 { "-" } else { "+" };
            format!("{sign}{}", format_amount(&format!("{}.{:02}", delta.abs() / 100, delta.abs() % 100)))
        }
        _ => String::new(),
    }
}

/// A breakdown row's name, linked when it is an owner: a team to its cost page, another
/// entity to its catalog page, Unallocated to the allocation rules.
fn row_name(name: &str) -> AnyView {
    let name = name.to_owned();
    if name == UNALLOCATED {
        return view! { <A href="/finops/allocation" attr:class="text-amber-700 hover:text-amber-900">{UNALLOCATED}</A> }.into_any();
    }
    match crate::catalog::refs::EntityRef::parse(&name, None, "default") {
        Ok(entity) if entity.kind == "group" && name.contains(':') => {
            let href = format!("/finops/teams/{}/{}", entity.namespace, entity.name);
            view! { <A href=href attr:class="text-amber-700 hover:text-amber-900">{name}</A> }.into_any()
        }
        Ok(entity) if name.contains(':') => {
            view! { <A href=entity.page_path() attr:class="text-amber-700 hover:text-amber-900">{name}</A> }.into_any()
        }
        _ => view! { <span>{name}</span> }.into_any(),
    }
}

#[component]
pub fn CostSourcesPage() -> impl IntoView {
    let imports = Resource::new(|| (), |_| load_cost_imports());
    view! {
        <section>
            <p class="text-sm text-slate-500"><A href="/finops" attr:class="hover:text-slate-900">"Cloud cost"</A>" / sources"</p>
            <h1 class="mt-2 text-2xl font-semibold tracking-tight text-slate-900">"Cost sources"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "Upload a bill as FOCUS 1.0–1.2 CSV, an AWS Cost and Usage Report (legacy columns) or an Azure EA/MCA usage export; plain or gzip-compressed. "
                "An OpenCost allocation response (JSON) adds no cost: its namespaces weigh how a shared pool split by OpenCost divides a cluster's bill. "
                "Importing a period again replaces what the same source held for that billing account and period. A file with a row that cannot be read is refused whole."
            </p>
            <form method="post" action="/api/ui/finops/upload" enctype="multipart/form-data" class="mt-6 grid max-w-xl gap-3 rounded-xl border border-slate-200 bg-white p-5 text-sm">
                <label class="flex flex-col gap-1">"Source name"
                    <input name="source" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,62}" placeholder="aws-payer" class="rounded-lg border border-slate-300 px-3 py-2"/>
                    <span class="text-xs text-slate-500">"Who sends these bills. Re-imports of a source replace its periods; other sources are left alone."</span>
                </label>
                <label class="flex flex-col gap-1">"Currency when the file names none"
                    <input name="currency" value="USD" required maxlength="3" class="w-24 rounded-lg border border-slate-300 px-3 py-2 uppercase"/>
                </label>
                <label class="flex flex-col gap-1">"Cost file"
                    <input type="file" name="file" required accept=".csv,.gz,.csv.gz,.json,text/csv,application/gzip,application/json"
                        class="block w-full text-sm text-slate-600 file:mr-3 file:rounded-lg file:border-0 file:bg-slate-900 file:px-3 file:py-2 file:text-sm file:font-semibold file:text-white"/>
                </label>
                <div><button type="submit" class="rounded-lg bg-slate-900 px-4 py-2 font-semibold text-white hover:bg-slate-700">"Import"</button></div>
            </form>
            <h2 class="mt-8 font-medium text-slate-900">"Imports"</h2>
            <Transition fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match imports.await {
                        Ok(imports) => view! { <ImportsTable imports/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ImportsTable(imports: Vec<CostImport>) -> impl IntoView {
    if imports.is_empty() {
        return view! { <p class="mt-2 text-sm text-slate-500" data-testid="cost-imports-empty">"Nothing imported yet."</p> }.into_any();
    }
    view! {
        <table class="mt-2 w-full text-sm" data-testid="cost-imports">
            <thead class="text-left text-xs text-slate-500">
                <tr><th class="py-1">"When"</th><th>"Source"</th><th>"File"</th><th>"Status"</th><th class="text-right">"Rows"</th></tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {imports.into_iter().map(|import| {
                    let href = format!("/finops/imports/{}", import.id);
                    let rows = import.report.as_ref().map_or(import.rows_read, |r| r.rows_imported);
                    view! {
                        <tr data-testid="cost-import-row">
                            <td class="py-1.5 whitespace-nowrap"><a href=href class="text-amber-700 hover:text-amber-900">{import.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</a></td>
                            <td>{import.source.clone()}</td>
                            <td class="break-all">{import.file_name.clone()}</td>
                            <td>{import.status.as_str()}</td>
                            <td class="text-right tabular-nums">{rows}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// `/finops/imports/:id`: a progress bar while the file is read, then what it held.
#[component]
pub fn CostImportPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let import = Resource::new(id, load_cost_import);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(Ok(current)) = import.get() {
            if current.status == ImportStatus::Running {
                set_timeout(move || import.refetch(), std::time::Duration::from_millis(500));
            }
        }
    });
    view! {
        <section>
            <p class="text-sm text-slate-500"><A href="/finops/sources" attr:class="hover:text-slate-900">"Cost sources"</A>" / import"</p>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match import.await {
                        Ok(import) => view! { <ImportView import/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ImportView(import: CostImport) -> impl IntoView {
    let percent = import.percent();
    let (label, class) = match import.status {
        ImportStatus::Running => ("Importing…", "text-slate-700"),
        ImportStatus::Done => ("Imported", "text-emerald-700"),
        ImportStatus::Failed => ("Refused: nothing of the file was kept", "text-red-700"),
    };
    let running = import.status == ImportStatus::Running;
    view! {
        <h1 class="mt-2 text-2xl font-semibold tracking-tight text-slate-900">{format!("{} · {}", import.source, import.file_name)}</h1>
        {running.then(|| view! { <noscript><meta http-equiv="refresh" content="1"/></noscript> })}
        <div class="mt-4 max-w-xl">
            <div class="flex justify-between text-sm">
                <span class=format!("font-medium {class}") data-testid="cost-import-status">{label}</span>
                <span class="text-slate-500">{format!("{} rows read", import.rows_read)}</span>
            </div>
            <div role="progressbar" aria-label="Import progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent
                class="mt-2 h-2 overflow-hidden rounded-full bg-slate-200">
                <div class="h-full bg-amber-500 transition-all" style=format!("width: {percent}%")></div>
            </div>
        </div>
        {import.error.map(|e| view! { <p role="alert" class="mt-4 text-sm text-red-700" data-testid="cost-import-error">{e}</p> })}
        {import.report.map(|report| view! { <ReportView report/> })}
    }
}

#[component]
fn ReportView(report: ImportReport) -> impl IntoView {
    view! {
        <div class="mt-6 space-y-4 text-sm">
            <p data-testid="cost-import-summary">{format!(
                "{}: {} rows imported, {} refused, {} earlier billing period(s) replaced.",
                report.layout, report.rows_imported, report.rows_rejected, report.replaced_periods
            )}</p>
            {(!report.warnings.is_empty()).then(|| view! {
                <ul class="list-disc pl-5 text-amber-800">{report.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            })}
            {(!report.totals.is_empty()).then(|| view! {
                <table class="w-full max-w-2xl" data-testid="cost-import-totals">
                    <thead class="text-left text-xs text-slate-500"><tr><th>"Billing period"</th><th>"Currency"</th><th class="text-right">"BilledCost"</th><th class="text-right">"EffectiveCost"</th><th class="text-right">"Rows"</th></tr></thead>
                    <tbody class="divide-y divide-slate-100">
                        {report.totals.iter().map(|t| view! {
                            <tr><td class="py-1">{t.billing_period_start.format("%Y-%m").to_string()}</td><td>{t.currency.clone()}</td>
                                <td class="text-right tabular-nums">{t.billed_cost.clone()}</td><td class="text-right tabular-nums">{t.effective_cost.clone()}</td>
                                <td class="text-right tabular-nums">{t.rows}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {(!report.rejected.is_empty()).then(|| view! {
                <table class="w-full max-w-2xl" data-testid="cost-import-rejected">
                    <thead class="text-left text-xs text-slate-500"><tr><th>"Line"</th><th>"Why it was refused"</th></tr></thead>
                    <tbody class="divide-y divide-slate-100">
                        {report.rejected.iter().map(|r| view! { <tr><td class="py-1 tabular-nums">{r.line}</td><td>{r.reason.clone()}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{format_amount, subtract};

    #[test]
    fn amounts_are_grouped_and_keep_their_cents() {
        assert_eq!(format_amount("12345.6"), "12,345.60");
        assert_eq!(format_amount("-1234567.89"), "-1,234,567.89");
        assert_eq!(format_amount("0.00"), "0.00");
        assert_eq!(format_amount("999"), "999.00");
    }

    #[test]
    fn changes_are_exact_in_cents_and_signed() {
        assert_eq!(subtract("1234.50", "100.25"), "+1,134.25");
        assert_eq!(subtract("0.10", "0.30"), "-0.20");
        assert_eq!(subtract("-5.00", "2.5"), "-7.50");
        assert_eq!(subtract("10", "10.00"), "+0.00");
    }
}

/// `/finops/allocation`: the ordered rules, what they leave unallocated, a preview of a new
/// rule's effect before it is added, and the revisions to roll back to. Plain forms: the
/// preview is a GET, the changes are ActionForms.
#[component]
pub fn AllocationSettingsPage() -> impl IntoView {
    let query = use_query_map();
    let add = ServerAction::<AddAllocationRule>::new();
    let remove = ServerAction::<RemoveAllocationRule>::new();
    let restore = ServerAction::<RestoreAllocationRules>::new();
    let page = Resource::new(
        move || {
            (
                query.with(|q| q.get("kind").is_some().then(|| rule_form(q))),
                add.version().get() + remove.version().get() + restore.version().get(),
            )
        },
        |(preview, _)| load_allocation(preview),
    );
    let error = Signal::derive(move || {
        add.value()
            .get()
            .and_then(Result::err)
            .or_else(|| remove.value().get().and_then(Result::err))
            .or_else(|| restore.value().get().and_then(Result::err))
    });
    let form = move || query.with(rule_form);
    view! {
        <section>
            <p class="text-sm text-slate-500"><A href="/finops" attr:class="hover:text-slate-900">"Cloud cost"</A>" / allocation"</p>
            <h1 class="mt-2 text-2xl font-semibold tracking-tight text-slate-900">"Allocation to the catalog"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "Rules give each cost row to a catalog entity; the first matching rule wins, and what none matches stays in Unallocated. "
                "Teams see the cost of what they own. Every change is a revision you can restore."
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <Allocation page form=form() add remove restore/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The rule the preview form's query describes; a rule on a tag by default.
fn rule_form(q: &leptos_router::params::ParamsMap) -> RuleForm {
    let field = |name: &str| q.get(name).unwrap_or_default();
    RuleForm {
        kind: q.get("kind").unwrap_or_else(|| "tag".into()),
        key: field("key"),
        pattern: field("pattern"),
        target: field("target"),
        position: field("position"),
        split: field("split"),
        recipients: field("recipients"),
    }
}

#[component]
fn Allocation(
    page: AllocationPage,
    form: RuleForm,
    add: ServerAction<AddAllocationRule>,
    remove: ServerAction<RemoveAllocationRule>,
    restore: ServerAction<RestoreAllocationRules>,
) -> impl IntoView {
    let revision = page.current.as_ref().map(|c| c.revision.to_string()).unwrap_or_default();
    let rules = page.current.as_ref().map(|c| c.rules.clone()).unwrap_or_default();
    let recomputing = page.current.as_ref().is_some_and(|c| !c.applied);
    let window =
        page.window.map(|(from, to)| format!("{from} to {to}")).unwrap_or_else(|| "no cost imported yet".into());
    view! {
        {recomputing.then(|| view! {
            <p class="mt-4 rounded-lg bg-amber-50 px-3 py-2 text-sm text-amber-800" role="status" data-testid="allocation-recomputing">
                "The allocation is being recomputed with the newest rules; figures below may still show the previous ones."
            </p>
        })}
        <div class="mt-6 grid gap-4 sm:grid-cols-3" data-testid="allocation-split">
            {page.split.iter().map(|(currency, allocated, unallocated)| {
                let share = match (allocated.parse::<f64>(), unallocated.parse::<f64>()) {
                    (Ok(a), Ok(u)) if (a + u).abs() > 0.0 => format!("{:.1}% unallocated", u / (a + u) * 100.0),
                    _ => String::new(),
                };
                view! {
                    <div class="rounded-xl border border-slate-200 bg-white p-4 text-sm">
                        <p class="text-slate-500">{format!("{currency}, {window}")}</p>
                        <p class="mt-1"><span class="font-semibold tabular-nums">{format_amount(allocated)}</span>" allocated"</p>
                        <p data-testid="unallocated-amount"><span class="font-semibold tabular-nums">{format_amount(unallocated)}</span>" unallocated"</p>
                        <p class="text-slate-500">{share}</p>
                    </div>
                }
            }).collect_view()}
        </div>

        <h2 class="mt-8 font-medium text-slate-900">"Rules"</h2>
        {if rules.is_empty() {
            view! { <p class="mt-2 text-sm text-slate-500" data-testid="allocation-no-rules">"No rules yet: all cost is unallocated."</p> }.into_any()
        } else {
            view! {
                <ol class="mt-2 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white text-sm" data-testid="allocation-rules">
                    {rules.iter().enumerate().map(|(i, rule)| {
                        let revision = revision.clone();
                        view! {
                            <li class="flex items-center justify-between gap-3 px-4 py-2" data-testid="allocation-rule">
                                <span><span class="mr-2 text-slate-400 tabular-nums">{i + 1}</span>{rule.describe()}</span>
                                <ActionForm action=remove>
                                    <input type="hidden" name="index" value=i.to_string()/>
                                    <input type="hidden" name="revision" value=revision/>
                                    <button type="submit" class="text-sm text-red-700 hover:text-red-900">"Remove"</button>
                                </ActionForm>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            }.into_any()
        }}

        <h2 class="mt-8 font-medium text-slate-900">"Add a rule"</h2>
        <form method="get" action="/finops/allocation" class="mt-2 grid gap-3 rounded-xl border border-slate-200 bg-white p-4 text-sm sm:grid-cols-6" data-testid="rule-preview-form">
            <label class="flex flex-col gap-1">"Looks at"
                <select name="kind" class="rounded-lg border border-slate-300 px-2 py-1.5">
                    {RuleKind::ALL.into_iter().map(|k| view! { <option value=k.as_str() selected=form.kind == k.as_str()>{k.label()}</option> }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1">"Tag key"<input name="key" value=form.key.clone() placeholder="application" class="rounded-lg border border-slate-300 px-2 py-1.5"/></label>
            <label class="flex flex-col gap-1">"Value"<input name="pattern" value=form.pattern.clone() required placeholder="checkout or checkout-*" class="rounded-lg border border-slate-300 px-2 py-1.5"/></label>
            <label class="flex flex-col gap-1 sm:col-span-2">"Catalog entity, or a shared pool's name"<input name="target" value=form.target.clone() required placeholder="component:default/checkout" class="rounded-lg border border-slate-300 px-2 py-1.5"/></label>
            <label class="flex flex-col gap-1">"Position"<input name="position" value=form.position.clone() placeholder="last" class="w-20 rounded-lg border border-slate-300 px-2 py-1.5"/></label>
            <label class="flex flex-col gap-1 sm:col-span-2">"Goes to"
                <select name="split" class="rounded-lg border border-slate-300 px-2 py-1.5">
                    <option value="" selected=form.split.is_empty()>"the one entity named"</option>
                    {SplitMethod::ALL.into_iter().map(|m| view! {
                        <option value=m.as_str() selected=form.split == m.as_str()>{format!("a shared pool, split {}", m.label())}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1 sm:col-span-4">"Shared among (entities; for a fixed split a percent each, for OpenCost a namespace each)"
                <input name="recipients" value=form.recipients.clone() placeholder="checkout 60, group:team-a 40" class="rounded-lg border border-slate-300 px-2 py-1.5"/>
            </label>
            <div class="sm:col-span-6"><button type="submit" class="rounded-lg border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-50">"Preview"</button></div>
        </form>
        {page.preview_error.clone().map(|e| view! { <p role="alert" class="mt-2 text-sm text-red-700" data-testid="rule-preview-error">{e}</p> })}
        {page.preview.clone().map(|moves| {
            let form = form.clone();
            view! {
                <div class="mt-3 rounded-xl border border-amber-200 bg-amber-50 p-4 text-sm" data-testid="rule-preview">
                    {if moves.is_empty() {
                        view! { <p>"This rule would move nothing over the last 30 days of charges."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="space-y-1">
                                {moves.into_iter().map(|m| view! {
                                    <li>{format!("This rule would move {} {} from {} to {}", format_amount(&m.amount), m.currency, owner_name(&m.from), owner_name(&m.to))}</li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    <ActionForm action=add attr:class="mt-3">
                        <input type="hidden" name="rule[kind]" value=form.kind.clone()/>
                        <input type="hidden" name="rule[key]" value=form.key.clone()/>
                        <input type="hidden" name="rule[pattern]" value=form.pattern.clone()/>
                        <input type="hidden" name="rule[target]" value=form.target.clone()/>
                        <input type="hidden" name="rule[position]" value=form.position.clone()/>
                        <input type="hidden" name="rule[split]" value=form.split.clone()/>
                        <input type="hidden" name="rule[recipients]" value=form.recipients.clone()/>
                        <input type="hidden" name="revision" value=revision.clone()/>
                        <button type="submit" class="rounded-lg bg-slate-900 px-3 py-1.5 font-semibold text-white hover:bg-slate-700">"Add this rule"</button>
                    </ActionForm>
                </div>
            }
        })}

        <h2 class="mt-8 font-medium text-slate-900">"Costliest unallocated resources"</h2>
        {if page.unallocated.is_empty() {
            view! { <p class="mt-2 text-sm text-slate-500">"Nothing unallocated in the last 30 days of charges."</p> }.into_any()
        } else {
            view! {
                <table class="mt-2 w-full text-sm" data-testid="unallocated-resources">
                    <thead class="text-left text-xs text-slate-500"><tr><th class="py-1">"Resource"</th><th>"Service"</th><th>"Sub-account"</th><th class="text-right">"Cost"</th><th>"Create a rule from"</th></tr></thead>
                    <tbody class="divide-y divide-slate-100">
                        {page.unallocated.into_iter().map(|r| {
                            let by_resource = format!("/finops/allocation?kind=resource&pattern={}", crate::escape::percent(&r.resource_id, b""));
                            let by_account = format!("/finops/allocation?kind=sub_account&pattern={}", crate::escape::percent(&r.sub_account_id, b""));
                            view! {
                                <tr data-testid="unallocated-resource">
                                    <td class="py-1.5 pr-3 break-all">{if r.resource_id.is_empty() { "(no resource id)".to_owned() } else { r.resource_id.clone() }}</td>
                                    <td class="pr-3">{r.service_name.clone()}</td>
                                    <td class="pr-3">{r.sub_account_id.clone()}</td>
                                    <td class="pr-3 text-right tabular-nums">{format!("{} {}", format_amount(&r.amount), r.currency)}</td>
                                    <td class="space-x-2">
                                        {(!r.resource_id.is_empty()).then(|| view! { <a href=by_resource class="text-amber-700 hover:text-amber-900">"resource"</a> })}
                                        {(!r.sub_account_id.is_empty()).then(|| view! { <a href=by_account class="text-amber-700 hover:text-amber-900">"sub-account"</a> })}
                                        {r.tags.iter().take(3).map(|(k, v)| {
                                            let href = format!("/finops/allocation?kind=tag&key={}&pattern={}", crate::escape::percent(k, b""), crate::escape::percent(v, b""));
                                            view! { <a href=href class="text-amber-700 hover:text-amber-900">{format!("{k}={v}")}</a> }
                                        }).collect_view()}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}

        <h2 class="mt-8 font-medium text-slate-900">"Revisions"</h2>
        <ul class="mt-2 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white text-sm" data-testid="allocation-revisions">
            {page.revisions.into_iter().enumerate().map(|(i, r)| view! {
                <li class="flex items-center justify-between gap-3 px-4 py-2" data-testid="allocation-revision">
                    <span>
                        <span class="font-medium">{format!("Revision {}", r.revision)}</span>
                        {format!(" · {} rule(s) · {} · {} · {}", r.rules.len(), r.reason, r.created_by, r.created_at.format("%Y-%m-%d %H:%M UTC"))}
                    </span>
                    {(i > 0).then(|| view! {
                        <ActionForm action=restore>
                            <input type="hidden" name="revision" value=r.revision.to_string()/>
                            <button type="submit" class="text-sm text-amber-700 hover:text-amber-900">"Restore"</button>
                        </ActionForm>
                    })}
                </li>
            }).collect_view()}
        </ul>
    }
}

/// An allocation target as people read it: Unallocated for none.
fn owner_name(target: &str) -> String {
    if target.is_empty() {
        UNALLOCATED.to_owned()
    } else {
        target.to_owned()
    }
}

/// The cost panel of a catalog entity page; nothing when no cost is allocated to it.
#[component]
pub fn EntityCostPanel(namespace: String, kind: String, name: String) -> impl IntoView {
    let cost = Resource::new(
        move || (namespace.clone(), kind.clone(), name.clone()),
        |(ns, kind, name)| load_entity_cost(ns, kind, name),
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match cost.await {
                    Ok(Some(cost)) => view! { <CostPanel cost/> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CostPanel(cost: EntityCost) -> impl IntoView {
    let movement =
        Movement { name: String::new(), amount: cost.last_30_days.clone(), previous: cost.previous_30_days.clone() };
    let trend = change(&movement)
        .map(|c| format!("{c:+.1}% on the 30 days before"))
        .unwrap_or_else(|| "no cost the 30 days before".into());
    let currency = cost.currency.clone();
    view! {
        <section class="mt-8" aria-labelledby="cost-heading" data-testid="entity-cost">
            <h2 id="cost-heading" class="font-medium text-slate-900">"Cloud cost"</h2>
            <div class="mt-2 grid gap-4 rounded-xl border border-slate-200 bg-white p-5 text-sm sm:grid-cols-3">
                <div>
                    <p class="text-slate-500">"Last 30 days (amortized)"</p>
                    <p class="text-2xl font-semibold tabular-nums" data-testid="entity-cost-30">{format!("{} {}", format_amount(&cost.last_30_days), cost.currency)}</p>
                    <p class="text-slate-500">{trend}</p>
                    <p class="mt-2 text-slate-500">{format!("Last 90 days: {} {}", format_amount(&cost.last_90_days), cost.currency)}</p>
                    {cost.engineers.clone().map(|engineers| view! {
                        <p class="mt-2 text-slate-700" data-testid="entity-cost-engineers">{format!("{engineers} a month")}</p>
                    })}
                </div>
                <div class="sm:col-span-2">
                    <AmountChart title="Each of the last 30 days" points=cost.daily.clone() currency=currency.clone() testid="entity-cost-daily" width=420.0/>
                    <ul class="space-y-0.5">
                        {cost.top_services.iter().map(|(service, amount)| view! {
                            <li class="flex justify-between"><span>{service.clone()}</span><span class="tabular-nums">{format_amount(amount)}</span></li>
                        }).collect_view()}
                    </ul>
                </div>
            </div>
            {(!cost.by_entity.is_empty()).then(|| {
                let rows = cost.by_entity.clone();
                view! {
                    <table class="mt-3 w-full rounded-xl border border-slate-200 bg-white text-sm" data-testid="entity-cost-by-entity">
                        <thead class="text-left text-xs text-slate-500">
                            <tr><th class="px-4 py-1 font-medium">"Owned"</th><th class="py-1 text-right font-medium">{format!("Last 30 days, {currency}")}</th><th class="px-4 py-1 text-right font-medium">"vs 30 before"</th></tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {rows.into_iter().map(|row| {
                                let trend = change(&row).map(|c| format!("{c:+.1}%")).unwrap_or_else(|| "new".into());
                                view! {
                                    <tr data-testid="entity-cost-row">
                                        <td class="px-4 py-1.5 break-all">{row_name(&row.name)}</td>
                                        <td class="py-1.5 text-right tabular-nums">{format_amount(&row.amount)}</td>
                                        <td class="px-4 py-1.5 text-right tabular-nums text-slate-500">{trend}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }
            })}
        </section>
    }
}
