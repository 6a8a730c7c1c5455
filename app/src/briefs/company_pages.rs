//! `/briefs/companies` (search, import a file, add one) and `/briefs/companies/:id` (a
//! company's facts; for those who manage company data, its form with the sensitive fields,
//! which are sealed at rest). Plain forms: they work without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{load_companies, load_company, RemoveCompany, RequestBrief, SaveCompany};
use super::model::{Company, CompanyPage, Sensitive};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30";

#[component]
pub fn CompaniesPage() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        query.with(|q| (q.get("q").unwrap_or_default(), q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(0)))
    };
    let companies = Resource::new(params, |(search, page)| load_companies(search, page));
    view! {
        <section class="max-w-5xl">
            <p class="text-sm text-slate-500"><A href="/briefs" attr:class="hover:text-slate-900">"Competitive briefs"</A>" / companies"</p>
            <h1 class="mt-1 text-2xl font-semibold tracking-tight text-slate-900">"Company data"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "What discovery compares: one-liner, description, subindustry, tags, regions, stage. Funding, revenue, valuation and notes are encrypted field by field and shown only to principals and partners."
            </p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading companies…"</p> }>
                {move || Suspend::new(async move {
                    match companies.await {
                        Ok((list, report)) => view! { <CompanyTable list report/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CompanyTable(list: super::model::CompanyList, report: Option<String>) -> impl IntoView {
    let query = use_query_map();
    let (search, page) = query.with_untracked(|q| {
        (q.get("q").unwrap_or_default(), q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(0))
    });
    let shown = list.items.len() as i64;
    let first = page * 50;
    let next = (first + shown < list.total)
        .then(|| format!("/briefs/companies?q={}&page={}", crate::escape::percent(&search, b""), page + 1));
    let previous =
        (page > 0).then(|| format!("/briefs/companies?q={}&page={}", crate::escape::percent(&search, b""), page - 1));
    view! {
        {report.map(|report| view! { <p role="status" class="mt-4 rounded-lg bg-emerald-50 px-3 py-2 text-sm text-emerald-800" data-testid="import-report">{report}</p> })}
        {list.may_manage.then(|| view! {
            <div class="mt-6 grid gap-4 md:grid-cols-2">
                <form method="post" action="/api/ui/briefs/companies/upload" enctype="multipart/form-data" class="rounded-xl border border-slate-200 bg-white p-5 text-sm">
                    <p class="font-medium text-slate-900">"Import companies"</p>
                    <p class="mt-1 text-xs text-slate-500">"CSV, JSON or JSON Lines, gzip accepted. Known companies (same domain or name) are updated."</p>
                    <input type="file" name="file" required aria-label="Company file" class="mt-3 block text-sm"/>
                    <label class="mt-3 block">
                        <span class="text-xs text-slate-600">"Column mapping (optional): field=column, comma separated"</span>
                        <input name="mapping" placeholder="one_liner=tagline, funding=total_raised" class=INPUT/>
                    </label>
                    <button type="submit" class="mt-3 rounded-lg bg-slate-900 px-4 py-2 text-sm font-semibold text-white hover:bg-slate-700">"Import"</button>
                </form>
                <div class="rounded-xl border border-slate-200 bg-white p-5 text-sm">
                    <p class="font-medium text-slate-900">"Add one company"</p>
                    <p class="mt-1 text-xs text-slate-500">"For a company that is not in an import, such as your own."</p>
                    <A href="/briefs/companies/new" attr:class="mt-3 inline-block rounded-lg border border-slate-300 px-4 py-2 font-medium">"New company"</A>
                </div>
            </div>
        })}
        <div class="mt-6 flex items-end justify-between gap-4">
            <p class="text-sm text-slate-500" data-testid="company-count">{format!("{} companies", list.total)}</p>
            <form method="get" action="/briefs/companies" class="flex gap-2">
                <input type="search" name="q" value=search placeholder="Name, one-liner or subindustry" aria-label="Search companies" class="rounded-lg border border-slate-300 px-3 py-1.5 text-sm"/>
                <button type="submit" class="rounded-lg border border-slate-300 px-3 py-1.5 text-sm">"Search"</button>
            </form>
        </div>
        <table class="mt-3 w-full text-left text-sm" data-testid="companies">
            <thead class="text-xs uppercase text-slate-500">
                <tr><th class="py-2">"Company"</th><th>"Subindustry"</th><th>"Stage"</th><th class="text-right">"Team"</th></tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {list.items.into_iter().map(|c| {
                    let href = format!("/briefs/companies/{}", c.id);
                    let segment = c.segment().unwrap_or("—").to_owned();
                    view! {
                        <tr data-testid="company-row">
                            <td class="py-2">
                                <A href=href attr:class="font-medium text-slate-900 hover:underline">{c.name.clone()}</A>
                                <p class="text-xs text-slate-500">{c.one_liner.clone().unwrap_or_default()}</p>
                            </td>
                            <td class="text-slate-600">{segment}</td>
                            <td class="text-slate-600">{c.stage.clone().unwrap_or_default()}</td>
                            <td class="text-right tabular-nums text-slate-600">{c.team_size.map(|s| s.to_string()).unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <div class="mt-4 flex gap-4 text-sm">
            {previous.map(|href| view! { <a href=href class="text-amber-700">"← Previous"</a> })}
            {next.map(|href| view! { <a href=href class="text-amber-700">"Next →"</a> })}
        </div>
    }
}

#[component]
pub fn CompanyPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let company = Resource::new(id, |id| async move {
        match id.as_str() {
            "new" => Ok(CompanyPage { company: Company::default(), sensitive: Some(Sensitive::default()) }),
            _ => load_company(id).await,
        }
    });
    view! {
        <section class="max-w-4xl">
            <p class="text-sm text-slate-500">
                <A href="/briefs" attr:class="hover:text-slate-900">"Competitive briefs"</A>" / "
                <A href="/briefs/companies" attr:class="hover:text-slate-900">"companies"</A>
            </p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match company.await {
                        Ok(page) => view! { <CompanyView page/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CompanyView(page: CompanyPage) -> impl IntoView {
    let CompanyPage { company, sensitive } = page;
    let title = if company.id.is_nil() { "New company".to_owned() } else { company.name.clone() };
    // A brief by the company's id: unambiguous even where two companies share a name.
    let request = ServerAction::<RequestBrief>::new();
    let refused = Signal::derive(move || request.value().get().and_then(Result::err));
    let brief = (!company.id.is_nil()).then(|| {
        let id = company.id.to_string();
        view! {
            <ActionForm action=request attr:class="mt-3">
                <input type="hidden" name="company" value=id/>
                <SubmitButton label="Generate a brief of this company" pending=request.pending()/>
            </ActionForm>
            <div class="mt-2"><ErrorNotice error=refused/></div>
        }
    });
    view! {
        <h1 class="mt-1 text-2xl font-semibold tracking-tight text-slate-900" data-testid="company-name">{title}</h1>
        {brief}
        {match sensitive {
            Some(sensitive) => view! { <CompanyForm company sensitive/> }.into_any(),
            None => view! { <CompanyFacts company/> }.into_any(),
        }}
    }
}

#[component]
fn CompanyFacts(company: Company) -> impl IntoView {
    let rows: Vec<(&'static str, String)> = vec![
        ("Website", company.website.clone().unwrap_or_default()),
        ("One-liner", company.one_liner.clone().unwrap_or_default()),
        ("Description", company.description.clone().unwrap_or_default()),
        ("Industry", company.industry.clone().unwrap_or_default()),
        ("Subindustry", company.subindustry.clone().unwrap_or_default()),
        ("Tags", company.tags.join(", ")),
        ("Regions", company.regions.join(", ")),
        ("Stage", company.stage.clone().unwrap_or_default()),
        ("Status", company.status.clone().unwrap_or_default()),
        ("Batch", company.batch.clone().unwrap_or_default()),
        ("Team size", company.team_size.map(|s| s.to_string()).unwrap_or_default()),
    ];
    view! {
        <dl class="mt-6 grid gap-3 rounded-xl border border-slate-200 bg-white p-5 text-sm sm:grid-cols-[10rem_1fr]">
            {rows.into_iter().map(|(label, value)| view! {
                <dt class="font-medium text-slate-500">{label}</dt>
                <dd class="text-slate-900">{value}</dd>
            }).collect_view()}
        </dl>
    }
}

#[component]
fn CompanyForm(company: Company, sensitive: Sensitive) -> impl IntoView {
    let save = ServerAction::<SaveCompany>::new();
    let remove = ServerAction::<RemoveCompany>::new();
    let error = Signal::derive(move || {
        save.value().get().and_then(Result::err).or_else(|| remove.value().get().and_then(Result::err))
    });
    let existing = !company.id.is_nil();
    let id = if existing { company.id.to_string() } else { String::new() };
    let remove_id = id.clone();
    let field = |label: &'static str, name: &'static str, value: Option<String>| {
        view! {
            <label class="block text-sm">
                <span class="font-medium text-slate-700">{label}</span>
                <input name=format!("form[{name}]") value=value.unwrap_or_default() required=name == "name" class=INPUT/>
            </label>
        }
    };
    let hiring = match company.is_hiring {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    };
    view! {
        <div class="mt-4"><ErrorNotice error/></div>
        <ActionForm action=save>
            <input type="hidden" name="form[id]" value=id/>
            <div class="mt-4 grid gap-4 rounded-xl border border-slate-200 bg-white p-5 sm:grid-cols-2">
                {field("Name", "name", Some(company.name.clone()).filter(|n| !n.is_empty()))}
                {field("Website", "website", company.website.clone())}
                <div class="sm:col-span-2">{field("One-liner", "one_liner", company.one_liner.clone())}</div>
                <label class="block text-sm sm:col-span-2">
                    <span class="font-medium text-slate-700">"Description"</span>
                    <textarea name="form[description]" rows="4" class=INPUT>{company.description.clone().unwrap_or_default()}</textarea>
                </label>
                {field("Industry", "industry", company.industry.clone())}
                {field("Subindustry", "subindustry", company.subindustry.clone())}
                {field("Tags (comma separated)", "tags", Some(company.tags.join(", ")))}
                {field("Regions (comma separated)", "regions", Some(company.regions.join(", ")))}
                {field("Stage", "stage", company.stage.clone())}
                {field("Status", "status", company.status.clone())}
                {field("Batch", "batch", company.batch.clone())}
                {field("Team size", "team_size", company.team_size.map(|s| s.to_string()))}
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Hiring"</span>
                    <select name="form[is_hiring]" class=INPUT>
                        <option value="" selected=hiring.is_empty()>"Unknown"</option>
                        <option value="true" selected=hiring == "true">"Yes"</option>
                        <option value="false" selected=hiring == "false">"No"</option>
                    </select>
                </label>
            </div>
            <div class="mt-4 grid gap-4 rounded-xl border border-amber-200 bg-amber-50/40 p-5 sm:grid-cols-2" data-testid="sensitive-fields">
                <p class="text-sm text-slate-600 sm:col-span-2">"Sensitive: encrypted with the organisation's key, never cached or indexed. Empty removes the value."</p>
                {field("Funding", "funding", sensitive.funding.clone())}
                {field("Revenue", "revenue", sensitive.revenue.clone())}
                {field("Valuation", "valuation", sensitive.valuation.clone())}
                <label class="block text-sm sm:col-span-2">
                    <span class="font-medium text-slate-700">"Notes"</span>
                    <textarea name="form[notes]" rows="3" class=INPUT>{sensitive.notes.clone().unwrap_or_default()}</textarea>
                </label>
            </div>
            <div class="mt-4"><SubmitButton label="Save company" pending=save.pending()/></div>
        </ActionForm>
        {existing.then(|| view! {
            <ActionForm action=remove attr:class="mt-6">
                <input type="hidden" name="id" value=remove_id/>
                <button type="submit" class="text-sm font-medium text-red-600 hover:text-red-800">"Remove this company"</button>
            </ActionForm>
        })}
    }
}
