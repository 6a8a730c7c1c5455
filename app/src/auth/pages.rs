//! Sign-in and sign-out pages. Both are plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;

use super::api::{ChangePassword, Login, Logout};
use crate::settings::pages::SettingsTabs;
use crate::ui::form::{ErrorNotice, SubmitButton, TextField};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    view! {
        <main class="min-h-screen bg-slate-950 flex items-center justify-center px-4">
            <div class="w-full max-w-sm">
                <div class="flex items-center gap-2 mb-8 justify-center">
                    <span class="h-3 w-3 rounded-full bg-amber-400 shadow-[0_0_12px_rgba(251,191,36,0.8)]"></span>
                    <span class="text-xl font-semibold tracking-tight text-white">"Beacon"</span>
                </div>
                <div class="rounded-2xl bg-white p-8 shadow-xl">
                    <h1 class="text-lg font-semibold text-slate-900">"Sign in"</h1>
                    <p class="mt-1 text-sm text-slate-500">"Use the account your administrator gave you."</p>
                    <ActionForm action=login>
                        <div class="mt-6 space-y-4">
                            <ErrorNotice error=error/>
                            <TextField label="Email" name="email" kind="email" autocomplete="username"/>
                            <TextField label="Password" name="password" kind="password" autocomplete="current-password"/>
                            <SubmitButton label="Sign in" pending=login.pending()/>
                        </div>
                    </ActionForm>
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
