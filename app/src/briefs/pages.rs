//! `/briefs` (generate a brief, the briefs the reader may see) and `/briefs/:id` (a brief:
//! live progress while it is generated, then the target, the threat with its terms, the
//! narrative, the competitors with the why of each, the positioning chart, the market map and
//! the PDF). Forms are plain ActionForms and GET forms: they work without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{load_brief, load_briefs, RequestBrief};
use super::chart::positioning;
use super::model::{Brief, BriefContent, BriefStatus, BriefSummary, Competitor};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_live;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30";

fn status_badge(status: BriefStatus) -> (&'static str, &'static str) {
    match status {
        BriefStatus::Queued => ("Queued", "bg-slate-100 text-slate-700"),
        BriefStatus::Running => ("Generating", "bg-amber-50 text-amber-800"),
        BriefStatus::Ready => ("Ready", "bg-emerald-50 text-emerald-700"),
        BriefStatus::Failed => ("Failed", "bg-red-50 text-red-700"),
    }
}

#[component]
pub fn BriefsPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.with(|q| q.get("q").unwrap_or_default());
    let request = ServerAction::<RequestBrief>::new();
    let briefs = Resource::new(search, load_briefs);
    on_live("brief", move |_| briefs.refetch());
    let error = Signal::derive(move || request.value().get().and_then(Result::err));
    view! {
        <section class="max-w-5xl">
            <div class="flex items-end justify-between gap-4">
                <div>
                    <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Competitive briefs"</h1>
                    <p class="mt-1 text-sm text-slate-500">
                        "Name a company: its competitors are ranked from your company data, each with why, and the threat is scored with its terms — as a page and a PDF."
                    </p>
                </div>
                <A href="/briefs/companies" attr:class="text-sm font-medium text-amber-700 hover:text-amber-900">"Company data →"</A>
            </div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading briefs…"</p> }>
                {move || Suspend::new(async move {
                    match briefs.await {
                        Ok(list) => view! {
                            {list.may_generate.then(|| view! {
                                <div class="mt-6 rounded-xl border border-slate-200 bg-white p-5">
                                    <ActionForm action=request>
                                        <label class="block text-sm font-medium text-slate-700" for="brief-company">"Company"</label>
                                        <div class="mt-1 flex gap-3">
                                            <input id="brief-company" name="company" required placeholder="Infracost" class=INPUT/>
                                            <SubmitButton label="Generate brief" pending=request.pending()/>
                                        </div>
                                        <p class="mt-2 text-xs text-slate-500">{format!("{} companies in your data.", list.companies)}</p>
                                    </ActionForm>
                                    <div class="mt-3"><ErrorNotice error/></div>
                                </div>
                            })}
                            <BriefTable list/>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BriefTable(list: super::model::BriefList) -> impl IntoView {
    let query = use_query_map();
    let current = query.with_untracked(|q| q.get("q").unwrap_or_default());
    let scope = if list.sees_all {
        "All briefs of your organisation."
    } else {
        "Your briefs (analysts see the briefs they generated)."
    };
    view! {
        <div class="mt-8 flex items-end justify-between gap-4">
            <p class="text-sm text-slate-500" data-testid="briefs-scope">{scope}</p>
            <form method="get" action="/briefs" class="flex gap-2">
                <input type="search" name="q" value=current placeholder="Filter by company" aria-label="Filter by company" class="rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                <button type="submit" class="rounded-lg border border-slate-300 px-3 py-1.5 text-sm">"Filter"</button>
            </form>
        </div>
        <table class="mt-3 w-full text-left text-sm" data-testid="briefs">
            <thead class="text-xs uppercase text-slate-500">
                <tr><th class="py-2">"Company"</th><th>"Threat"</th><th>"Status"</th><th>"Requested by"</th><th>"When"</th></tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {list.items.is_empty().then(|| view! { <tr><td colspan="5" class="py-4 text-slate-500">"No briefs yet."</td></tr> })}
                {list.items.into_iter().map(|b| view! { <BriefRow brief=b/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn BriefRow(brief: BriefSummary) -> impl IntoView {
    let (label, class) = status_badge(brief.status);
    let href = format!("/briefs/{}", brief.id);
    let company = brief.target_name.clone();
    view! {
        <tr data-testid="brief-row" data-company=company>
            <td class="py-2 font-medium text-slate-900"><A href=href>{brief.target_name.clone()}</A></td>
            <td class="tabular-nums">{brief.threat_score.map(|s| format!("{s:.0}")).unwrap_or_else(|| "—".into())}</td>
            <td><span class=format!("rounded px-1.5 py-0.5 text-xs {class}")>{label}</span></td>
            <td class="text-slate-600">{brief.requester.clone()}</td>
            <td class="text-slate-500">{brief.requested_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
        </tr>
    }
}

#[component]
pub fn BriefPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let brief = Resource::new(id, load_brief);
    // Only this brief's progress: each load of a ready brief is an audited view.
    on_live("brief", move |message| {
        let current = params.with_untracked(|p| p.get("id").unwrap_or_default());
        if message.payload.get("brief").and_then(|b| b.as_str()) == Some(current.as_str()) {
            brief.refetch();
        }
    });
    view! {
        <section class="max-w-5xl">
            <p class="text-sm text-slate-500"><A href="/briefs" attr:class="hover:text-slate-900">"Competitive briefs"</A>" / brief"</p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading the brief…"</p> }>
                {move || Suspend::new(async move {
                    match brief.await {
                        Ok(brief) => view! { <BriefView brief/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BriefView(brief: Brief) -> impl IntoView {
    let Brief { summary, content, competitors, may_export } = brief;
    let (label, class) = status_badge(summary.status);
    let pending = matches!(summary.status, BriefStatus::Queued | BriefStatus::Running);
    let pdf = format!("/api/briefs/{}/pdf", summary.id);
    view! {
        <div class="mt-2 flex flex-wrap items-center justify-between gap-4">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900" data-testid="brief-target">{summary.target_name.clone()}</h1>
            <div class="flex items-center gap-3">
                <span class=format!("rounded px-2 py-1 text-xs font-medium {class}") data-testid="brief-status">{label}</span>
                {(may_export && content.is_some()).then(|| view! {
                    <a href=pdf.clone() rel="external" download class="rounded-lg bg-slate-900 px-3 py-1.5 text-sm font-semibold text-white hover:bg-slate-700" data-testid="brief-pdf">"Download PDF"</a>
                })}
            </div>
        </div>
        <p class="mt-1 text-xs text-slate-500">
            {format!("Requested by {} on {}", summary.requester, summary.requested_at.format("%Y-%m-%d %H:%M UTC"))}
            {summary.duration_ms.map(|ms| format!(" · generated in {:.2} s", f64::from(ms) / 1000.0))}
            " · share this page's address with anyone in your organisation who may read briefs."
        </p>
        {pending.then(|| view! {
            <noscript><meta http-equiv="refresh" content="1"/></noscript>
            <div class="mt-6 max-w-xl" data-testid="brief-progress">
                <p class="text-sm text-slate-700">{format!("Generating… {}%", summary.progress)}</p>
                <div class="mt-2 h-2 rounded-full bg-slate-100" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=summary.progress.to_string()>
                    <div class="h-2 rounded-full bg-amber-500" style=format!("width: {}%", summary.progress)></div>
                </div>
            </div>
        })}
        {(summary.status == BriefStatus::Failed).then(|| view! {
            <p role="alert" class="mt-6 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
                {format!("The brief could not be generated: {}", summary.error.clone().unwrap_or_default())}
            </p>
        })}
        {content.map(|content| view! { <BriefBody content competitors/> })}
    }
}

#[component]
fn BriefBody(content: BriefContent, competitors: Vec<Competitor>) -> impl IntoView {
    let BriefContent { target, threat, market_map, narrative, companies_compared } = content;
    let facts = target.headline_facts();
    let largest = market_map.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    view! {
        <div class="mt-6 grid gap-6 md:grid-cols-3">
            <div class="md:col-span-2 rounded-xl border border-slate-200 bg-white p-5">
                <p class="text-sm text-slate-500">{facts.join(" · ")}</p>
                <p class="mt-2 text-slate-900">{target.one_liner.clone().unwrap_or_default()}</p>
                <div class="mt-4 space-y-2 text-sm text-slate-700" data-testid="brief-narrative">
                    {narrative.into_iter().map(|line| view! { <p>{line}</p> }).collect_view()}
                </div>
            </div>
            <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="brief-threat">
                <p class="text-sm font-medium text-slate-500">"Competitive threat"</p>
                <p class="mt-1 text-4xl font-semibold tabular-nums text-slate-900" data-testid="threat-score">{format!("{:.0}", threat.score)}</p>
                <p class="text-xs text-slate-500">"of 100 · 100 × (1 − Π(1 − score × momentum)) over the 5 closest"</p>
                <table class="mt-3 w-full text-xs tabular-nums">
                    <thead class="text-slate-500"><tr><th class="text-left">"Competitor"</th><th class="text-right">"score × momentum"</th><th class="text-right">"pressure"</th></tr></thead>
                    <tbody>
                        {threat.terms.into_iter().map(|t| view! {
                            <tr><td class="py-0.5">{t.name}</td><td class="text-right">{format!("{:.2} × {:.2}", t.score, t.momentum)}</td><td class="text-right">{format!("{:.2}", t.pressure)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
        <CompetitorTable competitors=competitors.clone() compared=companies_compared/>
        <div class="mt-6 grid gap-6 md:grid-cols-2">
            <div class="rounded-xl border border-slate-200 bg-white p-5">
                <h2 class="font-medium text-slate-900">"Positioning"</h2>
                <p class="text-xs text-slate-500">"Similarity to the target × momentum; bubble area: team size."</p>
                <PositioningChart competitors/>
            </div>
            <div class="rounded-xl border border-slate-200 bg-white p-5" data-testid="market-map">
                <h2 class="font-medium text-slate-900">"Market map"</h2>
                <p class="text-xs text-slate-500">"Competitors per subindustry."</p>
                <ul class="mt-3 space-y-2 text-sm">
                    {market_map.into_iter().map(|(segment, count)| view! {
                        <li>
                            <div class="flex justify-between"><span>{segment}</span><span class="tabular-nums text-slate-500">{count}</span></div>
                            <div class="mt-1 h-2 rounded bg-indigo-500" style=format!("width: {:.0}%", 100.0 * f64::from(count) / f64::from(largest))></div>
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        </div>
    }
}

/// How the competitor table is ordered (in the browser; without JavaScript, by rank).
#[derive(Clone, Copy, PartialEq)]
enum Order {
    Rank,
    Momentum,
    Name,
}

#[component]
fn CompetitorTable(competitors: Vec<Competitor>, compared: u64) -> impl IntoView {
    let order = RwSignal::new(Order::Rank);
    let rows = move || {
        let mut rows = competitors.clone();
        match order.get() {
            Order::Rank => rows.sort_by_key(|c| c.rank),
            Order::Momentum => rows.sort_by(|a, b| b.momentum.total_cmp(&a.momentum)),
            Order::Name => rows.sort_by(|a, b| a.company.name.cmp(&b.company.name)),
        }
        rows
    };
    let sort_button = move |label: &'static str, by: Order| {
        view! {
            <button type="button" class=move || if order.get() == by { "font-semibold text-slate-900" } else { "hover:text-slate-900" } on:click=move |_| order.set(by)>{label}</button>
        }
    };
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-5">
            <div class="flex items-baseline justify-between">
                <h2 class="font-medium text-slate-900">"Competitors"</h2>
                <p class="text-xs text-slate-500">{format!("ranked among {compared} companies · score = Σ weight × similarity per feature")}</p>
            </div>
            <table class="mt-3 w-full text-left text-sm" data-testid="competitors">
                <thead class="text-xs uppercase text-slate-500">
                    <tr>
                        <th class="py-2">{sort_button("#", Order::Rank)}</th>
                        <th>{sort_button("Company", Order::Name)}</th>
                        <th class="text-right">{sort_button("Score", Order::Rank)}</th>
                        <th class="text-right">{sort_button("Momentum", Order::Momentum)}</th>
                        <th class="pl-4">"Why"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 align-top">
                    {move || rows().into_iter().map(|c| view! { <CompetitorRow competitor=c/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn CompetitorRow(competitor: Competitor) -> impl IntoView {
    let Competitor { rank, company, score, momentum, contributions, why } = competitor;
    view! {
        <tr data-testid="competitor" data-name=company.name.clone()>
            <td class="py-2 text-slate-500">{rank}</td>
            <td class="py-2">
                <p class="font-medium text-slate-900">{company.name.clone()}</p>
                <p class="text-xs text-slate-500">{company.one_liner.clone().unwrap_or_default()}</p>
            </td>
            <td class="py-2 text-right tabular-nums">{format!("{score:.2}")}</td>
            <td class="py-2 text-right tabular-nums">{format!("{momentum:.2}")}</td>
            <td class="py-2 pl-4">
                <details data-testid="competitor-why">
                    <summary class="cursor-pointer text-slate-700">{why}</summary>
                    <table class="mt-2 text-xs tabular-nums text-slate-600">
                        <thead><tr><th class="pr-3 text-left">"feature"</th><th class="pr-3 text-right">"similarity"</th><th class="pr-3 text-right">"weight"</th><th class="pr-3 text-right">"points"</th><th class="text-left">"found"</th></tr></thead>
                        <tbody>
                            {contributions.into_iter().map(|c| view! {
                                <tr data-testid="contribution">
                                    <td class="pr-3">{c.feature.label()}</td>
                                    <td class="pr-3 text-right">{format!("{:.2}", c.value)}</td>
                                    <td class="pr-3 text-right">{format!("{:.2}", c.weight)}</td>
                                    <td class="pr-3 text-right">{format!("{:.3}", c.points)}</td>
                                    <td>{c.detail}</td>
                                </tr>
                            }).collect_view()}
                            <tr class="font-medium"><td class="pr-3">"total"</td><td></td><td></td><td class="pr-3 text-right">{format!("{score:.3}")}</td><td></td></tr>
                        </tbody>
                    </table>
                </details>
            </td>
        </tr>
    }
}

/// The positioning chart as SVG, drawn on the server from the same geometry as the PDF's.
#[component]
fn PositioningChart(competitors: Vec<Competitor>) -> impl IntoView {
    let (width, height, left, bottom, top, right) = (520.0, 300.0, 40.0, 30.0, 12.0, 110.0);
    let (plot_w, plot_h) = (width - left - right, height - top - bottom);
    let chart = positioning(&competitors);
    let x_max = chart.x_max;
    view! {
        <svg viewBox=format!("0 0 {width} {height}") class="mt-3 w-full" role="img" aria-label="Competitors by similarity and momentum" data-testid="positioning-chart">
            <line x1=left y1=top + plot_h x2=left + plot_w y2=top + plot_h stroke="#94a3b8"/>
            <line x1=left y1=top x2=left y2=top + plot_h stroke="#94a3b8"/>
            <text x=left y=height - 8.0 font-size="10" fill="#64748b">"0"</text>
            <text x=left + plot_w y=height - 8.0 font-size="10" fill="#64748b" text-anchor="end">{format!("similarity {x_max:.1}")}</text>
            <text x=4.0 y=top + 8.0 font-size="10" fill="#64748b">"1.0"</text>
            <text x=4.0 y=top + plot_h font-size="10" fill="#64748b">"0"</text>
            {chart.dots.into_iter().map(|dot| {
                let (cx, cy) = (left + dot.x * plot_w, top + plot_h - dot.y * plot_h);
                let r = 5.0 + 16.0 * dot.radius;
                view! {
                    <g>
                        <circle cx=cx cy=cy r=r fill="#c7d2fe" fill-opacity="0.7" stroke="#4f46e5"/>
                        <text x=cx + r + 3.0 y=cy + 3.0 font-size="10" fill="#0f172a">{dot.label}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}
