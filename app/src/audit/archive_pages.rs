//! `/audit/archive`: how long events stay in the database, which months are archived (and
//! where), and restoring a month for searching. Plain forms: works without JS.

use leptos::prelude::*;

use super::archive_api::{load_archive, PutBackMonth, RestoreMonth, SetRetention};
use super::archive_model::{ArchivedMonth, HOT_DAYS};
use crate::error::AppError;
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};

#[component]
pub fn AuditArchivePage() -> impl IntoView {
    let retention = ServerAction::<SetRetention>::new();
    let restore = ServerAction::<RestoreMonth>::new();
    let put_back = ServerAction::<PutBackMonth>::new();
    let overview = Resource::new(
        move || (retention.version().get(), restore.version().get(), put_back.version().get()),
        |_| load_archive(),
    );
    let error: Signal<Option<AppError>> = Signal::derive(move || {
        retention
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| restore.value().get().and_then(Result::err))
            .or_else(|| put_back.value().get().and_then(Result::err))
    });
    let restoring = Signal::derive(move || restore.value().get().is_some_and(|r| r.is_ok()));
    view! {
        <section class="max-w-4xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Retention and archive"</h1>
            <p class="mt-1 text-sm text-slate-500">
                "Events stay in the database for the retention below. Each month past it is written to the archive as "
                "compressed NDJSON with a signed manifest, read back and checked, and only then removed from the database; "
                "the integrity check still covers it. Restore a month to search it again. "
                <a href="/audit" class="font-medium text-amber-700 hover:text-amber-900">"Audit log"</a>
            </p>
            <div class="mt-4"><ErrorNotice error/></div>
            <Show when=move || restoring.get()>
                <p data-testid="restore-started" class="mt-4 rounded-lg bg-emerald-50 p-3 text-sm text-emerald-900">
                    "Restoring: the month shows as Restored here when it is back (a minute or two per million events)."
                </p>
            </Show>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! {
                            <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6">
                                <h2 class="font-medium text-slate-900">"Retention"</h2>
                                <ActionForm action=retention>
                                    <div class="mt-3 flex items-end gap-3">
                                        <label class="text-sm text-slate-700">
                                            "Days in the database"
                                            <input type="number" name="days" required
                                                min=HOT_DAYS.start().to_string() max=HOT_DAYS.end().to_string()
                                                value=overview.hot_days.to_string()
                                                class="mt-1 block w-32 rounded-lg border border-slate-300 px-3 py-2 text-sm"/>
                                        </label>
                                        <SubmitButton label="Save retention" pending=retention.pending()/>
                                    </div>
                                </ActionForm>
                                <p class="mt-3 text-sm text-slate-500" data-testid="archive-store">
                                    {format!("Archives are kept in {}.", overview.store)}
                                </p>
                                <p class="mt-1 text-sm text-slate-500" data-testid="hot-months">
                                    {format!("In the database: {}.", overview.hot_months.join(", "))}
                                </p>
                            </div>
                            <div class="mt-6" data-testid="archives">
                                {overview.archives.is_empty().then(|| view! {
                                    <p class="text-sm text-slate-500">"No month has been archived yet."</p>
                                })}
                                {(!overview.archives.is_empty()).then(|| view! {
                                    <table class="w-full text-sm">
                                        <thead class="text-left text-slate-500">
                                            <tr><th class="py-2">"Month"</th><th>"State"</th><th>"Events"</th><th>"Size"</th><th>"Archived (UTC)"</th><th></th></tr>
                                        </thead>
                                        <tbody class="divide-y divide-slate-100">
                                            {overview.archives.into_iter().map(|month| view! { <MonthRow month restore put_back/> }).collect_view()}
                                        </tbody>
                                    </table>
                                })}
                            </div>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error allowed="Admins and auditors only"/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn MonthRow(
    month: ArchivedMonth,
    restore: ServerAction<RestoreMonth>,
    put_back: ServerAction<PutBackMonth>,
) -> impl IntoView {
    let ArchivedMonth { month, state, events, bytes, archived_at, erasures_waiting, erasure_error, .. } = month;
    let label = match state.as_str() {
        "writing" => "Being archived",
        "restored" => "Restored (read-only)",
        _ => "Archived",
    };
    let action = match state.as_str() {
        "archived" => {
            let (aria, value) = (format!("Restore {month}"), month.clone());
            view! {
                <ActionForm action=restore>
                    <input type="hidden" name="month" value=value/>
                    <button type="submit" aria-label=aria class="text-xs font-medium text-amber-700 hover:text-amber-900">"Restore"</button>
                </ActionForm>
            }
            .into_any()
        }
        "restored" => {
            let (aria, value) = (format!("Put {month} back"), month.clone());
            view! {
                <ActionForm action=put_back>
                    <input type="hidden" name="month" value=value/>
                    <button type="submit" aria-label=aria class="text-xs font-medium text-amber-700 hover:text-amber-900">"Put back"</button>
                </ActionForm>
            }
            .into_any()
        }
        _ => ().into_any(),
    };
    let attribute = month.clone();
    view! {
        <tr data-testid="archived-month" data-month=attribute data-state=state>
            <td class="py-2 font-medium text-slate-900">{month}</td>
            <td>
                {label}
                {(erasures_waiting > 0).then(|| view! {
                    <span data-testid="erasures-waiting" class="block text-xs text-amber-700" title=erasure_error>
                        {match erasures_waiting {
                            1 => "1 erasure being written".to_owned(),
                            n => format!("{n} erasures being written"),
                        }}
                    </span>
                })}
            </td>
            <td>{events}</td>
            <td>{format!("{:.1} kB", bytes as f64 / 1024.0)}</td>
            <td>{archived_at.map(|at| at.format("%Y-%m-%d %H:%M").to_string())}</td>
            <td class="text-right">{action}</td>
        </tr>
    }
}
