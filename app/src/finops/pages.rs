//! FinOps pages: the cost overview (`/finops`), the sources page where bills are uploaded
//! (`/finops/sources`) and an import's progress (`/finops/imports/:id`). The overview's
//! controls are a GET form and its charts server-drawn SVG, so it all works without JavaScript.

use chrono::NaiveDate;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{load_cost_import, load_cost_imports, load_cost_overview};
use super::model::{CostImport, CostOverview, CostView, ImportReport, ImportStatus, Movement};
use crate::ui::chart::{Bar, BarChart};
use crate::ui::form::PageProblem;

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
    let overview = Resource::new(
        move || query.with(|q| (q.get("view").unwrap_or_default(), q.get("currency"), q.get("month"))),
        |(view, currency, month)| load_cost_overview(view, currency, month),
    );
    view! {
        <section>
            <div class="flex flex-wrap items-baseline justify-between gap-3">
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Cloud cost"</h1>
                <A href="/finops/sources" attr:class="text-sm font-medium text-amber-700 hover:text-amber-900">"Sources and imports"</A>
            </div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading costs…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(overview: CostOverview) -> impl IntoView {
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
                    {overview.currencies.iter().map(|c| view! { <option value=c.clone() selected=*c == currency>{c.clone()}</option> }).collect_view()}
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
        </form>
        <p class="mt-2 text-xs text-slate-500">{explanation}" Currencies are never added together."</p>
        <div class="mt-6 grid gap-6 lg:grid-cols-3">
            <div class="rounded-xl border border-slate-200 bg-white p-5">
                <p class="text-sm text-slate-500">{format!("{} · {}", month_label(month), currency)}</p>
                <p class="mt-1 text-3xl font-semibold tabular-nums text-slate-900" data-testid="finops-total">{format!("{} {currency}", format_amount(&total.amount))}</p>
                <p class="mt-1 text-sm text-slate-500" data-testid="finops-change">{change_text}</p>
            </div>
            <div class="rounded-xl border border-slate-200 bg-white p-5 lg:col-span-2">
                <AmountChart title="Each day of the month (amortized)" points=overview.daily.clone() currency=currency.clone() testid="finops-daily" width=600.0/>
                <AmountChart title="The last twelve months" points=overview.monthly.clone() currency=currency.clone() testid="finops-monthly" width=600.0/>
            </div>
        </div>
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            {overview.breakdowns.into_iter().map(|(title, rows)| view! { <Breakdown title rows currency=currency.clone()/> }).collect_view()}
        </div>
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
                                <td class="py-1.5 pr-4 break-all">{row.name.clone()}</td>
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

#[component]
pub fn CostSourcesPage() -> impl IntoView {
    let imports = Resource::new(|| (), |_| load_cost_imports());
    view! {
        <section>
            <p class="text-sm text-slate-500"><A href="/finops" attr:class="hover:text-slate-900">"Cloud cost"</A>" / sources"</p>
            <h1 class="mt-2 text-2xl font-semibold tracking-tight text-slate-900">"Cost sources"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "Upload a bill as FOCUS 1.0–1.2 CSV, an AWS Cost and Usage Report (legacy columns) or an Azure EA/MCA usage export; plain or gzip-compressed. "
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
                    <input type="file" name="file" required accept=".csv,.gz,.csv.gz,text/csv,application/gzip"
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
    use super::format_amount;

    #[test]
    fn amounts_are_grouped_and_keep_their_cents() {
        assert_eq!(format_amount("12345.6"), "12,345.60");
        assert_eq!(format_amount("-1234567.89"), "-1,234,567.89");
        assert_eq!(format_amount("0.00"), "0.00");
        assert_eq!(format_amount("999"), "999.00");
    }
}
