//! Account → Your data (the export), and the erasure form and its report on Settings → Users.

use leptos::prelude::*;

use super::api::EraseUser;
use super::model::ErasureReport;
use crate::settings::pages::SettingsTabs;

/// Where the export is downloaded: a plain link, so it works without JS.
pub const EXPORT_PATH: &str = "/api/account/export";

#[component]
pub fn YourDataPage() -> impl IntoView {
    view! {
        <section class="max-w-3xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Your data"</h1>
            <SettingsTabs current="/account/data"/>
            <p class="mt-4 text-sm text-slate-600">
                "Download everything this organisation's portal holds about you, as one JSON file: your profile and membership, "
                "where you are signed in, your API keys (never their secrets), single sign-on links, what you created, "
                "the requests made with your keys and every audit event that names you."
            </p>
            <a href=EXPORT_PATH download="beacon-account-export.json" data-testid="download-my-data"
                class="mt-6 inline-flex rounded-lg bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700">
                "Download my data (JSON)"
            </a>
            <p class="mt-6 text-sm text-slate-500">
                "To have your data erased from this organisation, ask one of its admins: the erasure removes or pseudonymises "
                "your personal data here while the audit log keeps its events and its proof of integrity. Other organisations "
                "you belong to are not affected."
            </p>
        </section>
    }
}

/// The inside of a member row's erase control: closed until opened, and the email must be
/// typed again before anything happens.
#[component]
pub fn EraseMemberForm(action: ServerAction<EraseUser>, user_id: String, email: String) -> impl IntoView {
    let (open, erase) = (format!("Erase {email}…"), format!("Erase {email} permanently"));
    view! {
        <details class="text-left">
            <summary class="cursor-pointer text-xs font-medium text-red-600 hover:text-red-800" aria-label=open>
                "Erase…"
            </summary>
            <ActionForm action>
                <div class="mt-2 w-64 space-y-2 rounded-lg border border-red-200 bg-red-50 p-3 text-xs text-red-900">
                    <p>"Removes their personal data from this organisation for good. Audit events stay, under a pseudonym."</p>
                    <input type="hidden" name="user_id" value=user_id/>
                    <label class="block">
                        <span>"Type " <strong>{email.clone()}</strong> " to confirm"</span>
                        <input type="text" name="confirm" required autocomplete="off" aria-label=format!("Confirm erasing {email}")
                            class="mt-1 block w-full rounded border border-red-300 bg-white px-2 py-1"/>
                    </label>
                    <button type="submit" aria-label=erase class="rounded bg-red-600 px-2.5 py-1 font-medium text-white hover:bg-red-700">
                        "Erase permanently"
                    </button>
                </div>
            </ActionForm>
        </details>
    }
}

#[component]
pub fn ErasureNotice(report: ErasureReport) -> impl IntoView {
    let facts = [
        ("Audit events pseudonymised", report.audit_events_pseudonymised),
        ("Archived audit months being rewritten", report.archived_months_queued),
        ("API keys deleted", report.api_keys_deleted),
        ("Logged API requests deleted", report.api_requests_deleted),
        ("Single sign-on links deleted", report.sso_identities_deleted),
        ("Records credited to the pseudonym", report.records_reattributed),
        ("Sessions ended", report.sessions_ended),
    ];
    view! {
        <div data-testid="erasure" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">
                {format!("The member was erased; the audit log now calls them {}.", report.pseudonym)}
            </p>
            <ul class="mt-2 grid gap-x-6 sm:grid-cols-2">
                {facts.into_iter().map(|(what, n)| view! { <li>{format!("{what}: {n}")}</li> }).collect_view()}
            </ul>
            <p class="mt-2">
                {if report.account_deleted {
                    "This was their only organisation: their account is deleted."
                } else {
                    "They belong to other organisations: their account stays there."
                }}
            </p>
            {(!report.catalog_mentions.is_empty()).then(|| view! {
                <p class="mt-2 text-amber-800" data-testid="catalog-mentions">
                    {format!(
                        "Still in the catalog, from your own sources (remove them there, or the next refresh brings them back): {}",
                        report.catalog_mentions.join(", ")
                    )}
                </p>
            })}
        </div>
    }
}
