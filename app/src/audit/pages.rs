//! The audit pages: the filtered list (filters and position in the URL, GET forms and links, so
//! all of it works without JS), one event's details, exports and the integrity check.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{list_audit, load_audit_event, load_permission_report, VerifyAuditLog};
use super::model::{AuditAction, AuditDetail, AuditRecord, Outcome, Severity};
use super::permissions::{Change, PermissionReport, DEFAULT_DAYS};
use super::view::{AuditPage, AuditView};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_live;

const ADMINS_ONLY: &str = "Admins only";

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let view = Memo::new(move |_| query.with(|q| AuditView::from_query(|k| q.get(k))));
    let page = Resource::new(move || view.get(), list_audit);
    // Events recorded since the page loaded, counted live; shown on request, not re-read on
    // each (a busy tenant records many a second).
    let fresh = RwSignal::new(0_u32);
    on_live("audit", move |_| fresh.update(|n| *n += 1));
    let show_fresh = move |_| {
        fresh.set(0);
        page.refetch();
    };
    view! {
        <section>
            <div class="flex items-center justify-between">
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Audit log"</h1>
                <div class="flex items-center gap-4">
                    <a href="/audit/insights" class="text-sm font-medium text-amber-700 hover:text-amber-900">"Usage insights"</a>
                    <a href="/audit/streams" class="text-sm font-medium text-amber-700 hover:text-amber-900">"Streaming"</a>
                    <a href="/audit/archive" class="text-sm font-medium text-amber-700 hover:text-amber-900">"Archive"</a>
                    <a href="/audit/permissions" class="text-sm font-medium text-amber-700 hover:text-amber-900">"Permission changes"</a>
                    <VerifyButton/>
                </div>
            </div>
            <p class="mt-1 text-sm text-slate-500">"Every security and data event of this tenant, newest first. Times are UTC."</p>
            {move || (fresh.get() > 0).then(|| view! {
                <button type="button" data-testid="audit-new-events" on:click=show_fresh
                    class="mt-3 rounded-lg bg-amber-50 px-3 py-1.5 text-sm font-medium text-amber-800 ring-1 ring-amber-200 hover:bg-amber-100">
                    {match fresh.get() {
                        1 => "1 new event: show it".to_owned(),
                        n => format!("{n} new events: show them"),
                    }}
                </button>
            })}
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    let current = view.get_untracked();
                    match page.await {
                        Ok(page) => view! { <AuditResults view=current page/> }.into_any(),
                        Err(error) => view! { <PageProblem error allowed=ADMINS_ONLY/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Runs the integrity check; the server answers with the recorded result's page.
#[component]
fn VerifyButton() -> impl IntoView {
    let verify = ServerAction::<VerifyAuditLog>::new();
    let error = Signal::derive(move || verify.value().get().and_then(Result::err));
    view! {
        <div class="flex items-center gap-3">
            <ErrorNotice error/>
            <ActionForm action=verify>
                <SubmitButton label="Verify integrity" pending=verify.pending()/>
            </ActionForm>
        </div>
    }
}

#[component]
fn AuditResults(view: AuditView, page: AuditPage) -> impl IntoView {
    let export = |format: &str| view.href_with("/api/audit/export", &[("format", format)]);
    let (csv, ndjson) = (export("csv"), export("ndjson"));
    let newer = page.newer.map(|c| view.newer_href(c));
    let older = page.older.map(|c| view.older_href(c));
    let detail_query = view.href_with("", &[]);
    view! {
        <FilterForm view=view.clone()/>
        <div class="mt-4 flex items-center justify-between text-sm">
            <p class="text-slate-500" data-testid="audit-count">
                {match (page.items.len(), view.is_filtered()) {
                    (0, _) => "No events match.".to_owned(),
                    (n, true) => format!("{n} matching event{} on this page", if n == 1 { "" } else { "s" }),
                    (n, false) => format!("{n} event{} on this page", if n == 1 { "" } else { "s" }),
                }}
            </p>
            <div class="flex gap-3">
                <a href=csv data-testid="export-csv" class="font-medium text-amber-700 hover:text-amber-900" download>"Export CSV"</a>
                <a href=ndjson data-testid="export-ndjson" class="font-medium text-amber-700 hover:text-amber-900" download>"Export NDJSON"</a>
            </div>
        </div>
        <div class="mt-3 overflow-x-auto rounded-xl border border-slate-200 bg-white">
            <table class="w-full divide-y divide-slate-200 text-sm" data-testid="audit-table">
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-3">"Time"</th>
                        <th class="px-4 py-3">"Actor"</th>
                        <th class="px-4 py-3">"Action"</th>
                        <th class="px-4 py-3">"Target"</th>
                        <th class="px-4 py-3">"Outcome"</th>
                        <th class="px-4 py-3">"Severity"</th>
                        <th class="px-4 py-3">"Address"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {page.items.into_iter().map(|record| view! { <EventRow record detail_query=detail_query.clone()/> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav aria-label="Pages" class="mt-4 flex justify-end gap-2 text-sm">
            {newer.map(|href| view! { <a href=href class="rounded-lg border border-slate-300 bg-white px-3 py-1">"Newer"</a> })}
            {older.map(|href| view! { <a href=href class="rounded-lg border border-slate-300 bg-white px-3 py-1">"Older"</a> })}
        </nav>
    }
}

#[component]
fn EventRow(record: AuditRecord, detail_query: String) -> impl IntoView {
    let href = format!("/audit/{}{detail_query}", record.id);
    view! {
        <tr data-testid="audit-row" data-action=record.action.clone()>
            <td class="whitespace-nowrap px-4 py-2 text-slate-500">
                <a href=href class="hover:text-slate-900" aria-label=format!("Details of event {}", record.id)>
                    {record.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string()}
                </a>
            </td>
            <td class="max-w-[14rem] truncate px-4 py-2">{record.actor.clone()}</td>
            <td class="px-4 py-2 font-mono text-xs">{record.action.clone()}</td>
            <td class="max-w-[16rem] truncate px-4 py-2">{record.target.clone()}</td>
            <td class="px-4 py-2"><OutcomeBadge outcome=record.outcome.clone()/></td>
            <td class="px-4 py-2"><SeverityBadge severity=record.severity/></td>
            <td class="px-4 py-2 font-mono text-xs text-slate-500">{record.ip.clone().unwrap_or_default()}</td>
        </tr>
    }
}

#[component]
fn OutcomeBadge(outcome: String) -> impl IntoView {
    let class = match Outcome::parse(&outcome) {
        Some(Outcome::Failure) => "rounded bg-red-50 px-1.5 py-0.5 text-xs font-medium text-red-700",
        _ => "rounded bg-emerald-50 px-1.5 py-0.5 text-xs font-medium text-emerald-700",
    };
    view! { <span class=class>{outcome}</span> }
}

#[component]
fn SeverityBadge(severity: Option<Severity>) -> impl IntoView {
    let class = match severity {
        Some(Severity::Critical) => "rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800",
        Some(Severity::High) => "rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-800",
        Some(Severity::Medium) => "rounded bg-sky-50 px-1.5 py-0.5 text-xs font-medium text-sky-800",
        _ => "rounded bg-slate-100 px-1.5 py-0.5 text-xs font-medium text-slate-600",
    };
    view! { <span class=class>{severity.map_or("unknown", Severity::as_str)}</span> }
}

/// A GET form: the filters land in the URL, and the first page of their results opens.
#[component]
fn FilterForm(view: AuditView) -> impl IntoView {
    let text = |label: &'static str, name: &'static str, value: Option<String>, placeholder: &'static str| {
        view! {
            <label class="block text-sm">
                <span class="font-medium text-slate-700">{label}</span>
                <input name=name value=value.unwrap_or_default() placeholder=placeholder aria-label=label
                    class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
            </label>
        }
    };
    let select = |label: &'static str,
                  name: &'static str,
                  current: Option<String>,
                  options: Vec<(&'static str, String)>| {
        view! {
            <label class="block text-sm">
                <span class="font-medium text-slate-700">{label}</span>
                <select name=name aria-label=label class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm">
                    <option value="">"Any"</option>
                    {options
                        .into_iter()
                        .map(|(value, shown)| view! { <option value=value selected=current.as_deref() == Some(value)>{shown}</option> })
                        .collect_view()}
                </select>
            </label>
        }
    };
    let mut actions: Vec<AuditAction> = AuditAction::ALL.to_vec();
    actions.sort_by_key(|a| a.as_str());
    let action_options = actions.into_iter().map(|a| (a.as_str(), a.as_str().to_owned())).collect();
    let outcome_options = vec![("success", "Success".to_owned()), ("failure", "Failure".to_owned())];
    let severity_options = Severity::ALL.into_iter().map(|s| (s.as_str(), s.as_str().to_owned())).collect();
    view! {
        <form method="get" action="/audit" role="search" aria-label="Filter events" class="mt-6 rounded-xl border border-slate-200 bg-white p-4">
            <div class="grid gap-3 sm:grid-cols-3 lg:grid-cols-5">
                {text("Search", "q", view.q.clone(), "whole words of actor, target, request id")}
                {text("Actor", "actor", view.actor.clone(), "email, cli or anonymous")}
                {select("Action", "action", view.action.clone(), action_options)}
                {text("Target", "target", view.target.clone(), "exactly")}
                {select("Outcome", "outcome", view.outcome.clone(), outcome_options)}
                {select("Severity", "severity", view.severity.clone(), severity_options)}
                {text("Address", "ip", view.ip.clone(), "203.0.113.7 or 10.0.0.0/8")}
                {text("From", "from", view.from.clone(), "2026-12-01 or 2026-12-01T09:30")}
                {text("To", "to", view.to.clone(), "exclusive")}
            </div>
            <div class="mt-3 flex items-center gap-3">
                <button type="submit" class="rounded-lg bg-slate-900 px-4 py-1.5 text-sm font-semibold text-white hover:bg-slate-700">"Filter"</button>
                <a href="/audit" class="text-sm text-slate-600 hover:text-slate-900">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
pub fn AuditEventPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0)));
    let event = Resource::new(move || id.get(), load_audit_event);
    let back = Memo::new(move |_| query.with(|q| AuditView::from_query(|k| q.get(k))).href_with("/audit", &[]));
    view! {
        <section class="max-w-4xl">
            <a href=move || back.get() class="text-sm text-slate-500 hover:text-slate-900">"← Audit log"</a>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading the event…"</p> }>
                {move || Suspend::new(async move {
                    match event.await {
                        Ok(detail) => view! { <EventDetail detail/> }.into_any(),
                        Err(error) => view! { <PageProblem error allowed=ADMINS_ONLY/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn EventDetail(detail: AuditDetail) -> impl IntoView {
    let record = detail.record;
    let action = AuditAction::parse(&record.action);
    let verification = (action == Some(AuditAction::AuditVerified))
        .then(|| detail.details.get("summary").and_then(|s| s.as_str()).map(str::to_owned))
        .flatten()
        .map(|summary| (record.outcome == "success", summary));
    let details = serde_json::to_string_pretty(&detail.details).unwrap_or_default();
    let row = |label: &'static str, value: String| {
        view! {
            <div class="grid grid-cols-3 gap-4 px-4 py-2">
                <dt class="text-slate-500">{label}</dt>
                <dd class="col-span-2 break-all text-slate-900">{value}</dd>
            </div>
        }
    };
    view! {
        <h1 class="mt-2 text-2xl font-semibold tracking-tight text-slate-900">{format!("Event #{}", record.id)}</h1>
        <p class="mt-1 text-sm text-slate-500">{action.map(AuditAction::meaning).unwrap_or("An action outside the current registry.")}</p>
        {verification.map(|(intact, summary)| {
            let class = if intact {
                "mt-4 rounded-lg bg-emerald-50 px-4 py-3 text-sm font-medium text-emerald-800 ring-1 ring-emerald-200"
            } else {
                "mt-4 rounded-lg bg-red-50 px-4 py-3 text-sm font-medium text-red-800 ring-1 ring-red-200"
            };
            view! { <p role="status" data-testid="verification" class=class>{summary}</p> }
        })}
        <dl class="mt-6 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white text-sm" data-testid="audit-detail">
            {row("Time (UTC)", record.occurred_at.format("%Y-%m-%d %H:%M:%S%.6f").to_string())}
            {row("Actor", record.actor.clone())}
            {row("Actor id", detail.actor_user_id.map(|id| id.to_string()).unwrap_or_else(|| "—".into()))}
            {row("Action", record.action.clone())}
            {row("Target", record.target.clone())}
            {row("Outcome", record.outcome.clone())}
            {row("Severity", record.severity.map_or("unknown", Severity::as_str).to_owned())}
            {row("Address", record.ip.clone().unwrap_or_else(|| "—".into()))}
            {row("User agent", record.user_agent.clone().unwrap_or_else(|| "—".into()))}
            {row("Request id", record.request_id.clone().unwrap_or_else(|| "—".into()))}
            {row("Chain position", detail.chain_seq.map_or_else(|| "not chained (written before tamper evidence)".into(), |s| s.to_string()))}
        </dl>
        <h2 class="mt-6 font-medium text-slate-900">"Details"</h2>
        <pre data-testid="audit-details" class="mt-2 max-h-96 overflow-auto rounded-xl bg-slate-950 p-4 text-xs text-slate-100">{details}</pre>
    }
}

/// Who gained or lost which role, scope, allowlist entry or SSO mapping in a period: a GET
/// form, so the period is in the URL and the page works without JS.
#[component]
pub fn PermissionChangesPage() -> impl IntoView {
    let query = use_query_map();
    let period = Memo::new(move |_| query.with(|q| (q.get("from"), q.get("to"))));
    let report = Resource::new(move || period.get(), |(from, to)| load_permission_report(from, to));
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Permission changes"</h1>
            <p class="mt-1 text-sm text-slate-500">
                {format!("Who gained or lost a role, a scope, an IP allowlist entry or a single sign-on role mapping; the last {DEFAULT_DAYS} days unless you choose a period. Times are UTC. ")}
                <a href="/audit" class="font-medium text-amber-700 hover:text-amber-900">"Audit log"</a>
            </p>
            <form method="get" action="/audit/permissions" aria-label="Period" class="mt-6 flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-4">
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"From"</span>
                    <input type="date" name="from" aria-label="From" value=move || period.get().0.unwrap_or_default()
                        class="mt-1 block rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                </label>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"To"</span>
                    <input type="date" name="to" aria-label="To" value=move || period.get().1.unwrap_or_default()
                        class="mt-1 block rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                </label>
                <button type="submit" class="rounded-lg bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700">"Show"</button>
            </form>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading changes…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <PermissionChanges report/> }.into_any(),
                        Err(error) => view! { <PageProblem error allowed=ADMINS_ONLY/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PermissionChanges(report: PermissionReport) -> impl IntoView {
    let span = format!(
        "{} changes from {} to {}",
        report.changes.len(),
        report.from.format("%Y-%m-%d %H:%M"),
        report.to.format("%Y-%m-%d %H:%M")
    );
    view! {
        <p class="mt-4 text-sm text-slate-500" data-testid="permission-count">{span}</p>
        {report.truncated.then(|| view! {
            <p class="mt-2 text-sm text-amber-700">"The period holds more changes than one report shows: choose a shorter one to see the rest."</p>
        })}
        <div class="mt-3 overflow-x-auto rounded-xl border border-slate-200 bg-white">
            <table class="w-full divide-y divide-slate-200 text-sm" data-testid="permission-changes">
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-3">"Time"</th>
                        <th class="px-4 py-3">"Who"</th>
                        <th class="px-4 py-3">"Change"</th>
                        <th class="px-4 py-3">"Kind"</th>
                        <th class="px-4 py-3">"What"</th>
                        <th class="px-4 py-3">"By"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {report
                        .changes
                        .into_iter()
                        .map(|c| {
                            let badge = match c.change {
                                Change::Gained => "rounded bg-emerald-50 px-1.5 py-0.5 text-xs font-medium text-emerald-800",
                                Change::Lost => "rounded bg-red-50 px-1.5 py-0.5 text-xs font-medium text-red-800",
                            };
                            let subject = c.subject.clone();
                            view! {
                                <tr data-testid="permission-change" data-subject=subject>
                                    <td class="whitespace-nowrap px-4 py-2 text-slate-500">
                                        <a href=format!("/audit/{}", c.event_id) class="hover:text-slate-900">{c.at.format("%Y-%m-%d %H:%M:%S").to_string()}</a>
                                    </td>
                                    <td class="px-4 py-2 text-slate-900">{c.subject}</td>
                                    <td class="px-4 py-2"><span class=badge>{c.change.as_str()}</span></td>
                                    <td class="px-4 py-2 text-slate-500">{c.grant.as_str().replace('_', " ")}</td>
                                    <td class="px-4 py-2 font-mono text-xs">{c.value}</td>
                                    <td class="px-4 py-2 text-slate-500">{c.actor}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
