//! Server functions of Settings → Users. Thin: check the role, call the auth service.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::model::{Invitation, Member};
use crate::error::AppError;
use crate::privacy::model::ErasureReport;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersView {
    pub members: Vec<Member>,
    pub me: Uuid,
    /// The invitation just made by this admin, shown once.
    pub invitation: Option<Invitation>,
    /// The password reset just made by this admin, shown once.
    pub reset: Option<Invitation>,
    /// The erasure just made by this admin, shown once.
    pub erasure: Option<ErasureReport>,
}

#[server(endpoint = "settings/users/list")]
pub async fn list_users() -> Result<UsersView, AppError> {
    use crate::auth::permission::Action;
    use crate::auth::service;
    use crate::auth::session::{ERASURE_FLASH_KEY, INVITATION_FLASH_KEY, RESET_FLASH_KEY};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageUsers).await?;
            let me = me.user_id;
            let members = service::list_members(&state.db, &ctx.tenant).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            let invitation = session.remove::<Invitation>(INVITATION_FLASH_KEY).await?;
            let reset = session.remove::<Invitation>(RESET_FLASH_KEY).await?;
            let erasure = session.remove::<ErasureReport>(ERASURE_FLASH_KEY).await?;
            Ok(UsersView { members, me, invitation, reset, erasure })
        }
        .await,
    )
}

#[server(endpoint = "settings/users/invite")]
pub async fn invite_user(email: String, display_name: String, role: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::auth::service::{self, NewMember};
    use crate::auth::session::INVITATION_FLASH_KEY;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageUsers).await?;
            let member = NewMember::parse(&email, &display_name, &role)?;
            let invitation = service::invite(&state.db, &ctx.tenant, ctx.audit_source(), member).await?;
            // Kept in the session until the users list shows it once: works with and without JS.
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(INVITATION_FLASH_KEY, invitation).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "settings/users/role")]
pub async fn change_user_role(user_id: Uuid, role: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::auth::service;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageUsers).await?;
            let role = crate::auth::model::Role::parse(&role)?;
            service::change_role(&state.db, &state.redis, &ctx.tenant, ctx.audit_source(), user_id, role).await
        }
        .await,
    )
}

#[server(endpoint = "settings/users/deactivate")]
pub async fn deactivate_user(user_id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::auth::service;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageUsers).await?;
            service::deactivate(&state.db, &state.redis, &ctx.tenant, ctx.audit_source(), user_id).await
        }
        .await,
    )
}

#[server(endpoint = "settings/users/reset-password")]
pub async fn reset_user_password(user_id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::auth::service;
    use crate::auth::session::RESET_FLASH_KEY;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageUsers).await?;
            if me.user_id == user_id {
                return Err(AppError::invalid("Change your own password under Account → Password."));
            }
            let reset =
                service::reset_password(&state.db, &state.redis, &ctx.tenant, ctx.audit_source(), user_id).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(RESET_FLASH_KEY, reset).await?;
            Ok(())
        }
        .await,
    )
}

/// Signs a member out of every browser in this tenant.
#[server(endpoint = "settings/users/end-sessions")]
pub async fn end_user_sessions(user_id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::auth::service;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageUsers).await?;
            if me.user_id == user_id {
                return Err(AppError::invalid("End your own sessions under Account → Sessions."));
            }
            service::end_member_sessions(&state.db, &state.redis, &ctx.tenant, ctx.audit_source(), user_id).await?;
            Ok(())
        }
        .await,
    )
}

/// Removes a member's second factor after they lost it.
#[server(endpoint = "settings/users/reset-mfa")]
pub async fn reset_user_mfa(user_id: Uuid) -> Result<(), AppError> {
    use crate::auth::mfa;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageUsers).await?;
            if me.user_id == user_id {
                return Err(AppError::invalid("Manage your own second factor under Account → Two-factor."));
            }
            mfa::reset_for_member(&state, &ctx.tenant, ctx.audit_source(), user_id).await
        }
        .await,
    )
}
