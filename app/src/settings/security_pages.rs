//! Settings → Security: who needs a second factor, and from which networks the portal and the
//! API may be used.

use leptos::prelude::*;

use super::pages::SettingsTabs;
use super::security_api::{load_security, AddAllowedNetwork, RemoveAllowedNetwork, SecurityView, SetMfaPolicy};
use crate::tenancy::model::{AllowFor, AllowRule, MfaPolicy};
use crate::ui::form::{ErrorNotice, SubmitButton, TextField};

#[component]
pub fn SecurityPage() -> impl IntoView {
    let policy = ServerAction::<SetMfaPolicy>::new();
    let add = ServerAction::<AddAllowedNetwork>::new();
    let remove = ServerAction::<RemoveAllowedNetwork>::new();
    let view_data = Resource::new(
        move || (policy.version().get(), add.version().get(), remove.version().get()),
        |_| load_security(),
    );
    view! {
        <section class="max-w-3xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Security"</h1>
            <SettingsTabs current="/settings/security"/>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(security) => view! { <Security security policy add remove/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Security(
    security: SecurityView,
    policy: ServerAction<SetMfaPolicy>,
    add: ServerAction<AddAllowedNetwork>,
    remove: ServerAction<RemoveAllowedNetwork>,
) -> impl IntoView {
    let policy_error = Signal::derive(move || policy.value().get().and_then(Result::err));
    let list_error = Signal::derive(move || {
        add.value().get().and_then(Result::err).or_else(|| remove.value().get().and_then(Result::err))
    });
    let current = security.mfa_policy;
    let address = security.your_address.clone().unwrap_or_else(|| "unknown".into());
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6">
            <h2 class="font-medium text-slate-900">"Two-factor authentication"</h2>
            <ActionForm action=policy>
                <div class="mt-4 flex items-end gap-3">
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Policy"</span>
                        <select name="policy" aria-label="MFA policy" class="mt-1 block rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm">
                            {MfaPolicy::ALL
                                .into_iter()
                                .map(|p| view! { <option value=p.as_str() selected=p == current>{p.label()}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <SubmitButton label="Save policy" pending=policy.pending()/>
                </div>
                <p class="mt-2 text-xs text-slate-500">"Members the policy covers must set up an authenticator app at their next request."</p>
                <div class="mt-2"><ErrorNotice error=policy_error/></div>
            </ActionForm>
        </div>
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6">
            <h2 class="font-medium text-slate-900">"IP allowlist"</h2>
            <p class="mt-1 text-sm text-slate-500">
                "With no entries, every address may connect. Once the portal or the API has an entry, only listed networks reach it. "
                "Your address: "<code class="font-mono" data-testid="your-address">{address}</code>
            </p>
            <div class="mt-3"><ErrorNotice error=list_error/></div>
            <ActionForm action=add>
                <div class="mt-4 grid gap-4 sm:grid-cols-3">
                    <TextField label="Network (CIDR)" name="cidr"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Applies to"</span>
                        <select name="applies_to" aria-label="Applies to" class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm">
                            {AllowFor::ALL.into_iter().map(|a| view! { <option value=a.as_str()>{label(a)}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Note"</span>
                        <input name="note" aria-label="Note" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm"/>
                    </label>
                </div>
                <div class="mt-4 flex items-center gap-4">
                    <SubmitButton label="Add network" pending=add.pending()/>
                    <LockMeOut/>
                </div>
            </ActionForm>
            <table class="mt-6 min-w-full divide-y divide-slate-200 text-sm" data-testid="allowlist">
                <thead class="text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr><th class="py-2">"Network"</th><th class="py-2">"Applies to"</th><th class="py-2">"Note"</th><th class="py-2"></th></tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {security.allowlist.into_iter().map(|rule| view! { <RuleRow rule remove/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn label(applies_to: AllowFor) -> &'static str {
    match applies_to {
        AllowFor::Both => "Portal and API",
        AllowFor::Portal => "Portal only",
        AllowFor::Api => "API only",
    }
}

/// The explicit confirmation for a change that would shut out the admin's own address.
#[component]
fn LockMeOut() -> impl IntoView {
    view! {
        <label class="flex items-center gap-2 text-xs text-slate-600">
            <input type="checkbox" name="lock_me_out" value="true"/>
            "Lock me out (confirm a change that excludes my address)"
        </label>
    }
}

#[component]
fn RuleRow(rule: AllowRule, remove: ServerAction<RemoveAllowedNetwork>) -> impl IntoView {
    let remove_label = format!("Remove {}", rule.cidr);
    let cidr = rule.cidr.clone();
    view! {
        <tr data-testid="allowlist-row" data-cidr=rule.cidr.clone()>
            <td class="py-2 font-mono">{rule.cidr.clone()}</td>
            <td class="py-2">{label(rule.applies_to)}</td>
            <td class="py-2 text-slate-500">{rule.note.clone()}</td>
            <td class="py-2 text-right">
                <ActionForm action=remove>
                    <input type="hidden" name="cidr" value=cidr/>
                    <input type="hidden" name="applies_to" value=rule.applies_to.as_str()/>
                    <div class="flex items-center justify-end gap-3">
                        <LockMeOut/>
                        <button type="submit" aria-label=remove_label class="text-xs font-medium text-red-600 hover:text-red-800">"Remove"</button>
                    </div>
                </ActionForm>
            </td>
        </tr>
    }
}
