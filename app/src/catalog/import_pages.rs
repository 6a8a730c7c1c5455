//! Import pages: paste YAML or upload files (YAML, .zip, .tar.gz), then follow the job's
//! progress. The upload is a plain multipart form and the progress page refreshes itself
//! without JavaScript (a `<noscript>` meta refresh); with JavaScript it polls in place.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::api::{load_import_job, ImportYaml};
use super::model::{DocumentOutcome, ImportJob, ImportReport, JobStatus};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};

/// Report rows shown on the page; the rest are summarised (rejections are listed first).
const SHOWN_RESULTS: usize = 200;

#[component]
pub fn ImportPage() -> impl IntoView {
    let import = ServerAction::<ImportYaml>::new();
    let error = Signal::derive(move || import.value().get().and_then(Result::err));
    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Import entities"</h1>
            <p class="mt-1 text-sm text-slate-500">"Bad documents are reported and skipped; the others are saved. To keep entities in sync with a repository, register a "<A href="/catalog/locations" attr:class="underline hover:text-slate-900">"location"</A>" instead."</p>
            <div class="mt-6 grid gap-8 lg:grid-cols-2">
                <div>
                    <h2 class="font-medium text-slate-900">"Paste YAML"</h2>
                    <p class="text-sm text-slate-500">"One or more catalog-info.yaml documents, separated by ---."</p>
                    <ActionForm action=import>
                        <textarea name="yaml" rows="14" required aria-label="YAML documents"
                            class="mt-3 block w-full rounded-xl border border-slate-300 p-3 font-mono text-xs shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30"></textarea>
                        <div class="mt-3 flex items-center gap-3">
                            <SubmitButton label="Import" pending=import.pending()/>
                            {move || import.pending().get().then(|| view! { <span class="text-sm text-slate-500" role="status">"Starting…"</span> })}
                        </div>
                    </ActionForm>
                    <div class="mt-4"><ErrorNotice error/></div>
                </div>
                <div>
                    <h2 class="font-medium text-slate-900">"Upload files"</h2>
                    <p class="text-sm text-slate-500">"YAML files, or a .zip / .tar.gz of a repository: its Locations and $text references are followed inside the archive. Up to 20 MiB."</p>
                    <form method="post" action="/api/ui/catalog/upload" enctype="multipart/form-data" class="mt-3">
                        <input type="file" name="files" multiple required aria-label="Catalog files"
                            accept=".yaml,.yml,.zip,.tar.gz,.tgz,application/zip,application/gzip"
                            class="block w-full text-sm text-slate-600 file:mr-3 file:rounded-lg file:border-0 file:bg-slate-900 file:px-3 file:py-2 file:text-sm file:font-semibold file:text-white"/>
                        <button type="submit" class="mt-3 rounded-lg bg-slate-900 px-4 py-2 text-sm font-semibold text-white hover:bg-slate-700">"Upload"</button>
                    </form>
                </div>
            </div>
        </section>
    }
}

/// `/catalog/import/:id`: a progress bar while the job runs, then its report.
#[component]
pub fn ImportJobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let job = Resource::new(id, load_import_job);
    poll_while_running(job);
    view! {
        <section>
            <p class="text-sm text-slate-500"><A href="/catalog/import" attr:class="hover:text-slate-900">"Import"</A>" / progress"</p>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match job.await {
                        Ok(job) => view! { <JobView job/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Reloads the job every half second while it runs (in the browser only).
fn poll_while_running(job: Resource<Result<ImportJob, crate::error::AppError>>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(Ok(current)) = job.get() {
            if current.status == JobStatus::Running {
                set_timeout(move || job.refetch(), std::time::Duration::from_millis(500));
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = job;
}

#[component]
fn JobView(job: ImportJob) -> impl IntoView {
    let percent = if job.total > 0 { job.processed * 100 / job.total } else { 100 };
    let (label, class) = match job.status {
        JobStatus::Running => ("Importing…", "text-slate-700"),
        JobStatus::Done => ("Done", "text-emerald-700"),
        JobStatus::Failed => ("Failed", "text-red-700"),
        JobStatus::Interrupted => {
            ("Interrupted: the server stopped; what was written before stays written", "text-red-700")
        }
    };
    let running = job.status == JobStatus::Running;
    view! {
        <h1 class="mt-2 text-2xl font-semibold tracking-tight text-slate-900">"Importing " {job.source.clone()}</h1>
        {running.then(|| view! { <noscript><meta http-equiv="refresh" content="1"/></noscript> })}
        <div class="mt-4 max-w-xl">
            <div class="flex justify-between text-sm">
                <span class=format!("font-medium {class}") data-testid="import-status">{label}</span>
                <span class="text-slate-500">{format!("{} of {} documents", job.processed, job.total)}</span>
            </div>
            <div role="progressbar" aria-label="Import progress" aria-valuemin="0" aria-valuemax=job.total aria-valuenow=job.processed
                class="mt-2 h-2 overflow-hidden rounded-full bg-slate-200">
                <div class="h-full bg-amber-500 transition-all" style=format!("width: {percent}%")></div>
            </div>
        </div>
        {job.error.map(|e| view! { <p role="alert" class="mt-4 text-sm text-red-700">{e}</p> })}
        {job.report.map(|report| view! { <ImportResults report/> })}
    }
}

#[component]
fn ImportResults(report: ImportReport) -> impl IntoView {
    let count = |f: fn(&DocumentOutcome) -> bool| report.count(f);
    let summary = format!(
        "{} created, {} updated, {} unchanged, {} rejected",
        count(|o| *o == DocumentOutcome::Created),
        count(|o| *o == DocumentOutcome::Updated),
        count(|o| *o == DocumentOutcome::Unchanged),
        count(|o| matches!(o, DocumentOutcome::Rejected(_))),
    );
    let total = report.results.len();
    let mut results = report.results;
    results.sort_by_key(|r| (!matches!(r.outcome, DocumentOutcome::Rejected(_)), r.document));
    results.truncate(SHOWN_RESULTS);
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white" data-testid="import-results">
            <p class="border-b border-slate-100 px-4 py-3 text-sm font-medium text-slate-900">{summary}</p>
            <ul class="divide-y divide-slate-100 text-sm">
                {results.into_iter().map(|r| {
                    let (label, class, reasons) = match r.outcome {
                        DocumentOutcome::Created => ("Created", "text-emerald-700", vec![]),
                        DocumentOutcome::Updated => ("Updated", "text-sky-700", vec![]),
                        DocumentOutcome::Unchanged => ("Unchanged", "text-slate-500", vec![]),
                        DocumentOutcome::Rejected(reasons) => ("Rejected", "text-red-700", reasons),
                    };
                    view! {
                        <li class="px-4 py-2" data-testid="import-result">
                            <span class=format!("font-medium {class}")>{label}</span>
                            <span class="ml-2 text-slate-600">{format!("document {}", r.document)}{r.entity_ref.map(|e| format!(" · {e}"))}</span>
                            {reasons.into_iter().map(|reason| view! { <p class="mt-1 text-xs text-red-700">{reason}</p> }).collect_view()}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {(total > SHOWN_RESULTS).then(|| view! {
                <p class="border-t border-slate-100 px-4 py-2 text-xs text-slate-500">{format!("and {} more documents", total - SHOWN_RESULTS)}</p>
            })}
        </div>
    }
}
