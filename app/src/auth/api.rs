//! Server functions of sign-in and the portal shell.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::mfa_api::{ConfirmMfa, LoadMfa, VerifyMfa};
use super::model::{ActiveSession, PortalContext, Principal};
use crate::error::AppError;
use crate::sso::api::LoginProviders;
use crate::tenancy::model::MfaPolicy;

/// The only server functions anonymous visitors may call. Every other one is refused with 401
/// at the edge before its arguments are even read: new endpoints are private by default.
pub fn is_public_server_fn(path: &str) -> bool {
    [Login::PATH, VerifyMfa::PATH, Logout::PATH, ShellContext::PATH, LoginProviders::PATH].contains(&path)
}

/// Something a signed-in member must do before using the portal; until then the edge sends
/// their pages to `page()` and refuses every other server function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequiredStep {
    /// An admin reset their password.
    ChangePassword,
    /// The tenant requires a second factor and they have none yet.
    EnrolMfa,
}

impl RequiredStep {
    /// A reset password stops the member's keys too; the MFA policy concerns people signing
    /// in, so it confines browser sessions only.
    pub fn of(principal: &Principal, mfa_policy: MfaPolicy, by_session: bool) -> Option<Self> {
        if principal.must_change_password {
            Some(RequiredStep::ChangePassword)
        } else if by_session && mfa_policy.requires(principal.role) && !principal.mfa_enabled {
            Some(RequiredStep::EnrolMfa)
        } else {
            None
        }
    }

    pub fn page(self) -> &'static str {
        match self {
            RequiredStep::ChangePassword => "/account/password",
            RequiredStep::EnrolMfa => "/account/mfa",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            RequiredStep::ChangePassword => "Choose a new password first.",
            RequiredStep::EnrolMfa => "Set up two-factor authentication first.",
        }
    }

    pub fn allows(self, path: &str) -> bool {
        let always = [Logout::PATH, ShellContext::PATH];
        let step: &[&str] = match self {
            RequiredStep::ChangePassword => &[ChangePassword::PATH],
            RequiredStep::EnrolMfa => &[LoadMfa::PATH, ConfirmMfa::PATH],
        };
        always.contains(&path) || step.contains(&path)
    }
}

/// Signs in with email and password; cycles the session id against fixation.
#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use crate::auth::{service, session};
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            let state = AppState::current()?;
            let principal =
                service::sign_in(&state.db, &state.redis, &ctx.tenant, &email, &password, ctx.audit_source()).await?;
            let (current, _) = session::current().await?;
            if principal.mfa_enabled {
                // Not signed in yet: the code comes next, at /login/mfa.
                current.cycle_id().await?;
                let pending = session::PendingSignIn {
                    tenant_id: ctx.tenant.id,
                    user_id: principal.user_id,
                    email: principal.email,
                    started_at: chrono::Utc::now(),
                };
                current.insert(session::PENDING_SIGN_IN_KEY, pending).await?;
                leptos_axum::redirect("/login/mfa");
                return Ok(());
            }
            session::establish(&state, &current, &ctx, principal.user_id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::auth::{service, session, session_registry};
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            let state = AppState::current()?;
            let (current, user) = session::current().await?;
            if let (Some(_), Some(user)) = (&ctx.principal, user) {
                session_registry::end(&state.redis, user.tenant_id, user.user_id, &user.handle).await?;
                service::sign_out(&state.db, &ctx.tenant, ctx.audit_source()).await?;
            }
            current.flush().await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// The tenant and the signed-in user, for the portal shell.
#[server(endpoint = "portal/context")]
pub async fn shell_context() -> Result<PortalContext, AppError> {
    use crate::error::respond;
    use crate::state::{AppState, Credential, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            let (unread_notifications, live_after) = match (&ctx.principal, &ctx.credential) {
                (Some(me), Credential::Session) => {
                    let state = AppState::current()?;
                    crate::notifications::service::bell(&state.db, &ctx.tenant, me).await?
                }
                _ => (0, 0),
            };
            let tenant = ctx.tenant.summary();
            Ok(PortalContext { tenant, user: ctx.principal, unread_notifications, live_after })
        }
        .await,
    )
}

#[server(endpoint = "auth/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use crate::auth::service::{self, PasswordChange};
    use crate::auth::session;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            // People only: a key must never change its owner's password.
            let Authorized { ctx, me, state } = authorized(crate::auth::permission::Action::ManageOwnAccount).await?;
            let change = PasswordChange::parse(current_password, new_password, &confirm_password)?;
            let (current, user) = session::current().await?;
            let handle = user.map(|u| u.handle).unwrap_or_default();
            service::change_password(&state.db, &state.redis, &ctx.tenant, ctx.audit_source(), &me, &handle, change)
                .await?;
            // A new session id for the new credential (ASVS 7.2.4).
            current.cycle_id().await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

/// The member's own signed-in sessions in this tenant (Account → Sessions).
#[server(endpoint = "auth/sessions")]
pub async fn list_sessions() -> Result<Vec<ActiveSession>, AppError> {
    use crate::auth::{session, session_registry};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(crate::auth::permission::Action::ManageOwnAccount).await?;
            let (_, user) = session::current().await?;
            let handle = user.map(|u| u.handle).unwrap_or_default();
            session_registry::list(&state.redis, &state.session_policy, ctx.tenant.id, me.user_id, &handle).await
        }
        .await,
    )
}

/// Ends one of the member's sessions; ending the current one signs out here.
#[server(endpoint = "auth/sessions/end")]
pub async fn end_session(handle: String) -> Result<(), AppError> {
    use crate::auth::{service, session};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(crate::auth::permission::Action::ManageOwnAccount).await?;
            service::end_session(&state.db, &state.redis, &ctx.tenant, ctx.audit_source(), &me, &handle).await?;
            let (current, user) = session::current().await?;
            if user.is_some_and(|u| u.handle == handle) {
                current.flush().await?;
                leptos_axum::redirect("/login");
            }
            Ok(())
        }
        .await,
    )
}

/// Ends every session of the member in this tenant, this one included.
#[server(endpoint = "auth/sessions/end-all")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::auth::{service, session};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(crate::auth::permission::Action::ManageOwnAccount).await?;
            let whom = (me.user_id, me.email.clone());
            service::end_sessions(
                &state.db,
                &state.redis,
                &ctx.tenant,
                ctx.audit_source(),
                whom,
                None,
                "signed out everywhere",
            )
            .await?;
            let (current, _) = session::current().await?;
            current.flush().await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}
