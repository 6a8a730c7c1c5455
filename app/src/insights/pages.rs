//! `/audit/insights`: the usage insights as server-drawn SVG charts and ranked tables; no
//! script needed.

use chrono::{Days, NaiveDate};
use leptos::prelude::*;

use super::api::load_insights;
use super::model::{Ranked, Series, UsageInsights};
use crate::ui::chart::{Bar, BarChart};
use crate::ui::form::PageProblem;

const CHART_WIDTH: f64 = 600.0;
const CHART_HEIGHT: f64 = 96.0;

#[component]
pub fn InsightsPage() -> impl IntoView {
    let insights = Resource::new(|| (), |_| load_insights());
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Usage insights"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "How this organisation uses the portal, from what it records itself (the audit log, the API access log, page "
                "counters); nothing is sent anywhere. Days are UTC. "
                <a href="/audit" class="font-medium text-amber-700 hover:text-amber-900">"Audit log"</a>
            </p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading insights…"</p> }>
                {move || Suspend::new(async move {
                    match insights.await {
                        Ok(insights) => view! { <Insights insights/> }.into_any(),
                        Err(error) => view! { <PageProblem error allowed="Admins only"/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Insights(insights: UsageInsights) -> impl IntoView {
    let UsageInsights {
        first_day,
        first_week,
        active_daily,
        active_weekly,
        sign_ins,
        most_viewed,
        empty_searches,
        api_callers,
    } = insights;
    view! {
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <Card title="Active members">
                <SeriesChart series=active_daily first=first_day step=1/>
                <SeriesChart series=active_weekly first=first_week step=7/>
            </Card>
            <Card title="Sign-ins by method">
                {sign_ins.into_iter().map(|series| view! { <SeriesChart series first=first_day step=1/> }).collect_view()}
            </Card>
            <Card title="Most viewed catalog entities, 30 days">
                <RankedTable rows=most_viewed unit="views" empty="No entity pages viewed yet." testid="most-viewed"/>
            </Card>
            <Card title="Searches with no results, 30 days">
                <RankedTable rows=empty_searches unit="searches" empty="Every search found something." testid="empty-searches"/>
            </Card>
            <Card title="API calls per key and client, 30 days">
                <RankedTable rows=api_callers unit="calls" empty="No API calls with keys or clients." testid="api-callers"/>
            </Card>
        </div>
    }
}

#[component]
fn Card(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-5">
            <h2 class="font-medium text-slate-900">{title}</h2>
            <div class="mt-3 space-y-4">{children()}</div>
        </div>
    }
}

/// One series as a bar chart with its total and latest value; each bar's tooltip names its
/// day (or week) and value.
#[component]
fn SeriesChart(series: Series, first: NaiveDate, step: u64) -> impl IntoView {
    let latest = series.values.last().copied().unwrap_or(0);
    let peak = series.values.iter().copied().max().unwrap_or(0);
    let unit = if step == 7 { "week of " } else { "" };
    let bars: Vec<Bar> = series
        .values
        .iter()
        .enumerate()
        .map(|(i, &value)| {
            let day = first + Days::new(step * i as u64);
            Bar { title: format!("{unit}{day}: {value}"), value, marked: false }
        })
        .collect();
    let last = first + Days::new(step * (series.values.len().max(1) as u64 - 1));
    let label = series.label.clone();
    let (attribute, caption) = (label.clone(), label.clone());
    view! {
        <figure data-testid="insight-chart" data-label=attribute>
            <figcaption class="flex justify-between text-sm">
                <span class="text-slate-700">{caption}</span>
                <span class="text-slate-500" data-testid="insight-figures">
                    {format!("latest {latest} · peak {peak} · total {}", series.total())}
                </span>
            </figcaption>
            <div class="mt-1 overflow-x-auto">
                <BarChart name=label bars width=CHART_WIDTH height=CHART_HEIGHT/>
            </div>
            <div class="flex justify-between text-xs text-slate-400" style=format!("max-width: {CHART_WIDTH}px")>
                <span>{first.to_string()}</span>
                <span>{last.to_string()}</span>
            </div>
        </figure>
    }
}

#[component]
fn RankedTable(rows: Vec<Ranked>, unit: &'static str, empty: &'static str, testid: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid=testid>{empty}</p> }.into_any();
    }
    view! {
        <table class="w-full text-sm" data-testid=testid>
            <tbody class="divide-y divide-slate-100">
                {rows
                    .into_iter()
                    .map(|row| {
                        let name = match row.href {
                            Some(href) => view! { <a href=href class="text-amber-700 hover:text-amber-900">{row.name}</a> }.into_any(),
                            None => view! { <span>{row.name}</span> }.into_any(),
                        };
                        let failed = (row.failed > 0).then(|| format!(" ({} failed)", row.failed));
                        view! {
                            <tr data-testid="ranked-row">
                                <td class="py-1.5 pr-4 break-all">{name}</td>
                                <td class="py-1.5 text-right tabular-nums text-slate-600 whitespace-nowrap">
                                    {format!("{} {unit}", row.count)}{failed}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
