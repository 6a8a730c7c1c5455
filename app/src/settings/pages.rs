//! Settings → Users: list members, invite, change roles, deactivate, erase. Admins only.

use leptos::prelude::*;

use super::api::{
    list_users, ChangeUserRole, DeactivateUser, EndUserSessions, InviteUser, ResetUserMfa, ResetUserPassword, UsersView,
};
use crate::auth::model::{Invitation, Member, MemberStatus, Role};
use crate::error::AppError;
use crate::privacy::api::EraseUser;
use crate::privacy::pages::{EraseMemberForm, ErasureNotice};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton, TextField};

/// What an admin can do to a member, one server action each (all `Copy`).
#[derive(Clone, Copy)]
struct RowActions {
    change_role: ServerAction<ChangeUserRole>,
    deactivate: ServerAction<DeactivateUser>,
    reset_password: ServerAction<ResetUserPassword>,
    end_sessions: ServerAction<EndUserSessions>,
    reset_mfa: ServerAction<ResetUserMfa>,
    erase: ServerAction<EraseUser>,
}

impl RowActions {
    fn new() -> Self {
        Self {
            change_role: ServerAction::new(),
            deactivate: ServerAction::new(),
            reset_password: ServerAction::new(),
            end_sessions: ServerAction::new(),
            reset_mfa: ServerAction::new(),
            erase: ServerAction::new(),
        }
    }

    /// Changes whenever any of them completes, to reload the list.
    fn versions(self) -> [usize; 6] {
        [
            self.change_role.version().get(),
            self.deactivate.version().get(),
            self.reset_password.version().get(),
            self.end_sessions.version().get(),
            self.reset_mfa.version().get(),
            self.erase.version().get(),
        ]
    }

    fn error(self) -> Option<AppError> {
        self.change_role
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| self.deactivate.value().get().and_then(Result::err))
            .or_else(|| self.reset_password.value().get().and_then(Result::err))
            .or_else(|| self.end_sessions.value().get().and_then(Result::err))
            .or_else(|| self.reset_mfa.value().get().and_then(Result::err))
            .or_else(|| self.erase.value().get().and_then(Result::err))
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let invite = ServerAction::<InviteUser>::new();
    let actions = RowActions::new();
    let users = Resource::new(move || (invite.version().get(), actions.versions()), |_| list_users());
    let row_error = Signal::derive(move || actions.error());
    let invite_error = Signal::derive(move || invite.value().get().and_then(Result::err));

    view! {
        <section>
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Users"</h1>
            <p class="mt-1 text-sm text-slate-500">"Who can use this portal, and what they may do."</p>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(view) => view! { <UsersAdmin view invite actions row_error invite_error/> }.into_any(),
                        Err(error) => view! { <PageProblem error allowed="Admins only"/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn UsersAdmin(
    view: UsersView,
    invite: ServerAction<InviteUser>,
    actions: RowActions,
    row_error: Signal<Option<AppError>>,
    invite_error: Signal<Option<AppError>>,
) -> impl IntoView {
    let me = view.me;
    view! {
        <SettingsTabs current="/settings/users"/>
        {view.invitation.map(|invitation| view! { <InvitationNotice invitation/> })}
        {view.reset.map(|reset| view! {
            <div data-testid="password-reset" class="mt-6 rounded-xl border border-amber-200 bg-amber-50 p-4 text-sm text-amber-900">
                <p class="font-medium">{format!("The password of {} was reset; they must choose a new one when they sign in.", reset.email)}</p>
                <p class="mt-1">
                    "One-time password (shown only now): "
                    <code data-testid="reset-password" class="rounded bg-white px-1.5 py-0.5 font-mono">{reset.one_time_password}</code>
                </p>
            </div>
        })}
        {view.erasure.map(|report| view! { <ErasureNotice report/> })}
        <div class="mt-6">
            <ErrorNotice error=row_error/>
        </div>
        <div class="mt-4 overflow-hidden rounded-xl border border-slate-200 bg-white">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="users-table">
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-3">"User"</th>
                        <th class="px-4 py-3">"Role"</th>
                        <th class="px-4 py-3">"Status"</th>
                        <th class="px-4 py-3">"Joined"</th>
                        <th class="px-4 py-3"></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {view
                        .members
                        .into_iter()
                        .map(|member| {
                            let is_me = member.user_id == me;
                            view! { <MemberRow member is_me actions/> }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <div class="mt-8 rounded-xl border border-slate-200 bg-white p-6">
            <h2 class="font-medium text-slate-900">"Invite a user"</h2>
            <p class="mt-1 text-sm text-slate-500">"New accounts get a one-time password to hand over."</p>
            <ActionForm action=invite>
                <div class="mt-4 grid gap-4 sm:grid-cols-4 sm:items-end">
                    <TextField label="Email" name="email" kind="email"/>
                    <TextField label="Name" name="display_name"/>
                    <RoleSelect name="role" selected=Role::Developer/>
                    <SubmitButton label="Invite" pending=invite.pending()/>
                </div>
                <div class="mt-3">
                    <ErrorNotice error=invite_error/>
                </div>
            </ActionForm>
        </div>
    }
}

#[component]
fn InvitationNotice(invitation: Invitation) -> impl IntoView {
    view! {
        <div data-testid="invitation" class="mt-6 rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900">
            <p class="font-medium">{format!("{} was added.", invitation.email)}</p>
            {match invitation.one_time_password {
                Some(password) => {
                    view! {
                        <p class="mt-1">
                            "One-time password (shown only now): "
                            <code data-testid="one-time-password" class="rounded bg-white px-1.5 py-0.5 font-mono">{password}</code>
                        </p>
                    }
                        .into_any()
                }
                None => view! { <p class="mt-1">"They already have an account and sign in with their password."</p> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn MemberRow(member: Member, is_me: bool, actions: RowActions) -> impl IntoView {
    let user_id = member.user_id.to_string();
    let active = member.status == MemberStatus::Active;
    // (user id, accessible label) per form: each form's children own what they show.
    let email = &member.email;
    let reset_password = (user_id.clone(), format!("Reset password of {email}"));
    let reset_mfa = (user_id.clone(), format!("Reset two-factor of {email}"));
    let sign_out = (user_id.clone(), format!("Sign out {email} everywhere"));
    let deactivate = (user_id.clone(), format!("Deactivate {email}"));
    let erase = (user_id.clone(), email.clone());
    let mfa_enabled = member.mfa_enabled;
    view! {
        <tr data-testid="user-row" data-email=member.email.clone()>
            <td class="px-4 py-3">
                <p class="font-medium text-slate-900">{member.display_name.clone()}</p>
                <p class="text-slate-500">{member.email.clone()}{is_me.then_some(" (you)")}</p>
                {mfa_enabled.then(|| view! { <p class="text-xs text-emerald-700">"Two-factor on"</p> })}
                <a href=format!("/audit?actor={}", crate::escape::percent(email, b"")) class="text-xs text-amber-700 hover:text-amber-900"
                    aria-label=format!("Activity of {email}")>
                    "Activity"
                </a>
            </td>
            <td class="px-4 py-3">
                <ActionForm action=actions.change_role>
                    <div class="flex items-center gap-2">
                        <input type="hidden" name="user_id" value=user_id.clone()/>
                        <RoleSelect name="role" selected=member.role/>
                        <button type="submit" class="rounded-lg border border-slate-300 px-2.5 py-1 text-xs font-medium hover:bg-slate-50">
                            "Save"
                        </button>
                    </div>
                </ActionForm>
            </td>
            <td class="px-4 py-3">
                <span
                    data-testid="user-status"
                    class=if active { "rounded-full bg-emerald-50 px-2 py-0.5 text-xs text-emerald-700" } else { "rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-500" }
                >
                    {if active { "Active" } else { "Deactivated" }}
                </span>
            </td>
            <td class="px-4 py-3 text-slate-500">{member.joined_at.format("%Y-%m-%d").to_string()}</td>
            <td class="px-4 py-3 text-right">
                {(active && !is_me).then(move || view! {
                    <div class="flex flex-wrap justify-end gap-3">
                        <ActionForm action=actions.reset_password>
                            <MemberButton user_id=reset_password.0 label="Reset password" aria=reset_password.1/>
                        </ActionForm>
                        {mfa_enabled.then(move || view! {
                            <ActionForm action=actions.reset_mfa>
                                <MemberButton user_id=reset_mfa.0 label="Reset two-factor" aria=reset_mfa.1/>
                            </ActionForm>
                        })}
                        <ActionForm action=actions.end_sessions>
                            <MemberButton user_id=sign_out.0 label="Sign out" aria=sign_out.1/>
                        </ActionForm>
                        <ActionForm action=actions.deactivate>
                            <MemberButton user_id=deactivate.0 label="Deactivate" aria=deactivate.1 danger=true/>
                        </ActionForm>
                    </div>
                })}
                // Deactivated members can be erased too.
                {(!is_me).then(move || view! { <EraseMemberForm action=actions.erase user_id=erase.0 email=erase.1/> })}
            </td>
        </tr>
    }
}

/// The inside of a one-button form acting on one member.
#[component]
fn MemberButton(user_id: String, label: &'static str, aria: String, #[prop(optional)] danger: bool) -> impl IntoView {
    let class = if danger {
        "text-xs font-medium text-red-600 hover:text-red-800"
    } else {
        "text-xs font-medium text-slate-600 hover:text-slate-900"
    };
    view! {
        <input type="hidden" name="user_id" value=user_id/>
        <button type="submit" aria-label=aria class=class>{label}</button>
    }
}

#[component]
fn RoleSelect(name: &'static str, selected: Role) -> impl IntoView {
    view! {
        <label class="block">
            <span class="sr-only">"Role"</span>
            <select name=name aria-label="Role" class="block rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm">
                {Role::ALL
                    .into_iter()
                    .map(|role| view! { <option value=role.as_str() selected=role == selected>{role.label()}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The roles something other than an admin's own choice may be given (OAuth clients, members
/// created by single sign-on): never admin.
#[component]
pub fn NonAdminRoleSelect(name: &'static str, label: &'static str) -> impl IntoView {
    view! {
        <label class="block text-sm">
            <span class="font-medium text-slate-700">{label}</span>
            <select name=name aria-label=label class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm">
                {[Role::Viewer, Role::Developer, Role::Maintainer]
                    .into_iter()
                    .map(|role| view! { <option value=role.as_str()>{role.label()}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Links between the settings pages.
#[component]
pub fn SettingsTabs(current: &'static str) -> impl IntoView {
    let tabs = [
        ("/settings/users", "Users"),
        ("/settings/api-access", "API access"),
        ("/settings/security", "Security"),
        ("/settings/sso", "Single sign-on"),
        ("/settings/webhooks", "Webhooks"),
        ("/settings/cicd", "CI/CD"),
        ("/settings/plugins", "Plugins"),
        ("/account/password", "Password"),
        ("/account/mfa", "Two-factor"),
        ("/account/sessions", "Sessions"),
        ("/account/data", "Your data"),
    ];
    view! {
        <nav class="mt-4 flex gap-4 border-b border-slate-200 text-sm" aria-label="Settings">
            {tabs
                .into_iter()
                .map(|(href, label)| {
                    let class = if href == current {
                        "-mb-px border-b-2 border-amber-500 pb-2 font-medium text-slate-900"
                    } else {
                        "pb-2 text-slate-500 hover:text-slate-900"
                    };
                    view! { <a href=href class=class>{label}</a> }
                })
                .collect_view()}
        </nav>
    }
}
