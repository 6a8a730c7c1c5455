//! The sign-in code step and Account → Two-factor. Plain forms: both work without JavaScript.

use leptos::prelude::*;

use super::mfa_api::{load_mfa, ConfirmMfa, DisableMfa, ReplaceRecoveryCodes, VerifyMfa};
use super::model::{MfaEnrolment, MfaOverview};
use super::pages::SignInCard;
use crate::error::AppError;
use crate::settings::pages::SettingsTabs;
use crate::ui::form::{ErrorNotice, SubmitButton};

/// A 6-digit code (or a recovery code) field.
#[component]
fn CodeField(#[prop(default = "Code")] label: &'static str) -> impl IntoView {
    view! {
        <label class="block">
            <span class="block text-sm font-medium text-slate-700">{label}</span>
            <input
                type="text"
                name="code"
                required
                autocomplete="one-time-code"
                spellcheck="false"
                class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 font-mono text-sm tracking-widest shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30"
            />
        </label>
    }
}

/// /login/mfa: the code from the authenticator app after the password.
#[component]
pub fn MfaChallengePage() -> impl IntoView {
    let verify = ServerAction::<VerifyMfa>::new();
    let error = Signal::derive(move || verify.value().get().and_then(Result::err));
    view! {
        <SignInCard title="Two-factor authentication" hint="Enter the 6-digit code from your authenticator app, or one of your recovery codes.">
            <ActionForm action=verify>
                <div class="mt-6 space-y-4">
                    <ErrorNotice error=error/>
                    <CodeField label="Authentication code"/>
                    <SubmitButton label="Verify" pending=verify.pending()/>
                    <a href="/login" class="block text-center text-sm text-slate-500 hover:text-slate-900">"Start again"</a>
                </div>
            </ActionForm>
        </SignInCard>
    }
}

/// /account/mfa: enrol with a QR code, see recovery codes once, replace them, turn off.
#[component]
pub fn MfaPage() -> impl IntoView {
    let confirm = ServerAction::<ConfirmMfa>::new();
    let replace = ServerAction::<ReplaceRecoveryCodes>::new();
    let disable = ServerAction::<DisableMfa>::new();
    let overview = Resource::new(
        move || (confirm.version().get(), replace.version().get(), disable.version().get()),
        |_| load_mfa(),
    );
    view! {
        <section class="max-w-2xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Two-factor authentication"</h1>
            <SettingsTabs current="/account/mfa"/>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview confirm replace disable/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(
    overview: MfaOverview,
    confirm: ServerAction<ConfirmMfa>,
    replace: ServerAction<ReplaceRecoveryCodes>,
    disable: ServerAction<DisableMfa>,
) -> impl IntoView {
    let required = overview.required;
    view! {
        {overview.new_recovery_codes.map(|codes| view! { <RecoveryCodes codes/> })}
        {match (overview.enabled_since, overview.enrolment) {
            (Some(since), _) => view! {
                <Enabled since left=overview.recovery_codes_left required replace disable/>
            }.into_any(),
            (None, Some(enrolment)) => view! { <Enrol enrolment required confirm/> }.into_any(),
            (None, None) => ().into_any(),
        }}
    }
}

#[component]
fn Enrol(enrolment: MfaEnrolment, required: bool, confirm: ServerAction<ConfirmMfa>) -> impl IntoView {
    let error = Signal::derive(move || confirm.value().get().and_then(Result::err));
    view! {
        {required.then(|| view! {
            <p class="mt-4 rounded-lg bg-amber-50 px-3 py-2 text-sm text-amber-900 ring-1 ring-amber-200">
                "Your organisation requires two-factor authentication. Set it up to continue."
            </p>
        })}
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6" data-testid="mfa-enrolment">
            <h2 class="font-medium text-slate-900">"Set up an authenticator app"</h2>
            <ol class="mt-2 list-decimal pl-5 text-sm text-slate-600 space-y-1">
                <li>"Scan the QR code with an authenticator app (1Password, Google Authenticator, Authy, …)."</li>
                <li>"Enter the 6-digit code it shows to confirm."</li>
            </ol>
            <div class="mt-4 flex flex-wrap items-start gap-6">
                <div class="w-[200px]" role="img" aria-label="QR code for your authenticator app" inner_html=enrolment.qr_svg></div>
                <div class="text-sm">
                    <p class="text-slate-600">"Cannot scan? Type this key:"</p>
                    <code data-testid="mfa-secret" class="mt-1 block font-mono text-slate-900">{enrolment.secret}</code>
                </div>
            </div>
            <ActionForm action=confirm>
                <div class="mt-4 flex items-end gap-3">
                    <CodeField/>
                    <SubmitButton label="Turn on" pending=confirm.pending()/>
                </div>
                <div class="mt-3"><ErrorNotice error=error/></div>
            </ActionForm>
        </div>
    }
}

#[component]
fn Enabled(
    since: chrono::DateTime<chrono::Utc>,
    left: i64,
    required: bool,
    replace: ServerAction<ReplaceRecoveryCodes>,
    disable: ServerAction<DisableMfa>,
) -> impl IntoView {
    let error: Signal<Option<AppError>> = Signal::derive(move || {
        replace.value().get().and_then(Result::err).or_else(|| disable.value().get().and_then(Result::err))
    });
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6" data-testid="mfa-enabled">
            <p class="text-sm text-slate-900">
                <span class="rounded bg-emerald-100 px-1.5 py-0.5 text-xs font-medium text-emerald-800">"On"</span>
                {format!(" since {} · {left} recovery codes left", since.format("%Y-%m-%d"))}
            </p>
            <div class="mt-3"><ErrorNotice error=error/></div>
            <ActionForm action=replace>
                <div class="mt-4 flex items-end gap-3">
                    <CodeField label="Current code"/>
                    <SubmitButton label="New recovery codes" pending=replace.pending()/>
                </div>
            </ActionForm>
            {(!required).then(|| view! {
                <ActionForm action=disable>
                    <div class="mt-4 flex items-end gap-3">
                        <CodeField label="Current code"/>
                        <SubmitButton label="Turn off" pending=disable.pending()/>
                    </div>
                </ActionForm>
            })}
        </div>
    }
}

#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <div data-testid="recovery-codes" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">"Save these recovery codes now: they are shown only once. Each signs you in once if you lose your device."</p>
            <ul class="mt-2 grid grid-cols-2 gap-1 font-mono">
                {codes.into_iter().map(|code| view! { <li data-testid="recovery-code">{code}</li> }).collect_view()}
            </ul>
        </div>
    }
}
