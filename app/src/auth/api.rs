//! Server functions of sign-in and the portal shell.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::model::PortalContext;
use crate::error::AppError;

/// The only server functions anonymous visitors may call. Every other one is refused with 401
/// at the edge before its arguments are even read: new endpoints are private by default.
pub fn is_public_server_fn(path: &str) -> bool {
    [Login::PATH, Logout::PATH, ShellContext::PATH].contains(&path)
}

/// What a member who must change their password may still call.
pub fn is_allowed_before_password_change(path: &str) -> bool {
    [ChangePassword::PATH, Logout::PATH, ShellContext::PATH].contains(&path)
}

/// Signs in with email and password; cycles the session id against fixation.
#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use crate::auth::service;
    use crate::auth::session::{SessionUser, USER_KEY};
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            let state = AppState::current()?;
            let principal =
                service::sign_in(&state.db, &state.redis, &ctx.tenant, &email, &password, ctx.audit_source()).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.cycle_id().await?;
            session.insert(USER_KEY, SessionUser { tenant_id: ctx.tenant.id, user_id: principal.user_id }).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::auth::service;
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            if ctx.principal.is_some() {
                service::sign_out(&AppState::current()?.db, &ctx.tenant, ctx.audit_source()).await?;
            }
            session.flush().await?;
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
    use crate::state::RequestContext;

    respond(
        RequestContext::current().await.map(|ctx| PortalContext { tenant: ctx.tenant.summary(), user: ctx.principal }),
    )
}

#[server(endpoint = "auth/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use crate::auth::service::{self, PasswordChange};
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            // People only: a key must never change its owner's password.
            let me = ctx.authorize(crate::auth::permission::Action::ManageOwnAccount)?;
            let change = PasswordChange::parse(current_password, new_password, &confirm_password)?;
            service::change_password(&AppState::current()?.db, &ctx.tenant, ctx.audit_source(), me, change).await?;
            // A new session id for the new credential (ASVS 7.2.4).
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.cycle_id().await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}
