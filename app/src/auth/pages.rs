//! Sign-in and sign-out pages. Both are plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;

use super::api::{list_sessions, ChangePassword, EndSession, Login, Logout, SignOutEverywhere};
use super::model::ActiveSession;
use crate::settings::pages::SettingsTabs;
use crate::sso::pages::SsoButtons;
use crate::ui::form::{ErrorNotice, SubmitButton, TextField};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    view! {
        <SignInCard title="Sign in" hint="Use the account your administrator gave you.">
            <ActionForm action=login>
                <div class="mt-6 space-y-4">
                    <ErrorNotice error=error/>
                    <TextField label="Email" name="email" kind="email" autocomplete="username"/>
                    <TextField label="Password" name="password" kind="password" autocomplete="current-password"/>
                    <SubmitButton label="Sign in" pending=login.pending()/>
                </div>
            </ActionForm>
            <SsoButtons/>
        </SignInCard>
    }
}

/// The frame of the sign-in steps, outside the portal shell.
#[component]
pub fn SignInCard(title: &'static str, hint: &'static str, children: Children) -> impl IntoView {
    view! {
        <main class="min-h-screen bg-slate-950 flex items-center justify-center px-4">
            <div class="w-full max-w-sm">
                <div class="flex items-center gap-2 mb-8 justify-center">
                    <span class="h-3 w-3 rounded-full bg-amber-400 shadow-[0_0_12px_rgba(251,191,36,0.8)]"></span>
                    <span class="text-xl font-semibold tracking-tight text-white">"Beacon"</span>
                </div>
                <div class="rounded-2xl bg-white p-8 shadow-xl">
                    <h1 class="text-lg font-semibold text-slate-900">{title}</h1>
                    <p class="mt-1 text-sm text-slate-500">{hint}</p>
                    {children()}
                </div>
            </div>
        </main>
    }
}

#[component]
pub fn LogoutPage() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let error = Signal::derive(move || logout.value().get().and_then(Result::err));
    view! {
        <div class="max-w-md rounded-xl border border-slate-200 bg-white p-8">
            <h1 class="text-lg font-semibold text-slate-900">"Sign out"</h1>
            <p class="mt-1 text-sm text-slate-500">"You will need to sign in again to use the portal."</p>
            <ActionForm action=logout>
                <div class="mt-6 flex items-center gap-3">
                    <ErrorNotice error=error/>
                    <SubmitButton label="Sign out" pending=logout.pending()/>
                    <A href="/" attr:class="text-sm text-slate-600 hover:text-slate-900">"Cancel"</A>
                </div>
            </ActionForm>
        </div>
    }
}

/// Account → Password. Also the only page a member sees after an admin reset their password.
#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = Signal::derive(move || change.value().get().and_then(Result::err));
    view! {
        <section class="max-w-md">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Change your password"</h1>
            <SettingsTabs current="/account/password"/>
            <p class="mt-4 text-sm text-slate-500">
                "At least 12 characters. Long passphrases are best; common passwords are refused."
            </p>
            <ActionForm action=change>
                <div class="mt-6 space-y-4">
                    <ErrorNotice error=error/>
                    <TextField label="Current password" name="current_password" kind="password" autocomplete="current-password"/>
                    <TextField label="New password" name="new_password" kind="password" autocomplete="new-password"/>
                    <TextField label="Repeat the new password" name="confirm_password" kind="password" autocomplete="new-password"/>
                    <SubmitButton label="Change password" pending=change.pending()/>
                </div>
            </ActionForm>
        </section>
    }
}

/// Account → Sessions: where the member is signed in, with revoke and "sign out everywhere".
#[component]
pub fn SessionsPage() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let end_all = ServerAction::<SignOutEverywhere>::new();
    let sessions = Resource::new(move || end.version().get(), |_| list_sessions());
    let error = Signal::derive(move || {
        end.value().get().and_then(Result::err).or_else(|| end_all.value().get().and_then(Result::err))
    });
    view! {
        <section class="max-w-3xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Your sessions"</h1>
            <SettingsTabs current="/account/sessions"/>
            <p class="mt-4 text-sm text-slate-500">
                "Everywhere you are signed in to this organisation. End any session you do not recognise."
            </p>
            <div class="mt-4"><ErrorNotice error=error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(sessions) => view! {
                            <ul class="mt-4 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="sessions">
                                {sessions.into_iter().map(|s| view! { <SessionRow session=s end/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=end_all>
                <div class="mt-6">
                    <SubmitButton label="Sign out everywhere" pending=end_all.pending()/>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn SessionRow(session: ActiveSession, end: ServerAction<EndSession>) -> impl IntoView {
    let label = if session.current { "Sign out here".to_owned() } else { format!("End session on {}", session.device) };
    let seen = session.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let since = session.signed_in_at.format("%Y-%m-%d %H:%M UTC").to_string();
    view! {
        <li class="flex items-center justify-between gap-4 px-4 py-3 text-sm" data-testid="session-row" data-current=session.current.to_string()>
            <div>
                <p class="font-medium text-slate-900" title=session.user_agent.clone().unwrap_or_default()>
                    {session.device.clone()}
                    {session.current.then(|| view! { <span class="ml-2 rounded bg-emerald-100 px-1.5 py-0.5 text-xs text-emerald-800">"this browser"</span> })}
                </p>
                <p class="text-xs text-slate-500">
                    {session.ip.clone().unwrap_or_else(|| "unknown address".into())}
                    " · last seen "{seen}" · signed in "{since}
                </p>
            </div>
            <ActionForm action=end>
                <input type="hidden" name="handle" value=session.handle.clone()/>
                <button type="submit" aria-label=label.clone() class="text-xs font-medium text-red-600 hover:text-red-800">{label.clone()}</button>
            </ActionForm>
        </li>
    }
}
