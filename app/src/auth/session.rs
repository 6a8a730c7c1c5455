//! What the portal keeps in a session (stored in Redis by tower-sessions).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::session_registry;
use crate::error::{AppError, AppResult};
use crate::state::{AppState, RequestContext};
use crate::tenancy::model::TenantId;

/// Key of the signed-in user. The tenant is stored too, and checked on every request, so a
/// session can never be used on another tenant's host.
pub const USER_KEY: &str = "beacon.user";

/// A one-time password to show the admin once after an invitation, with or without JS.
pub const INVITATION_FLASH_KEY: &str = "beacon.flash.invitation";

/// A one-time password from an admin's password reset, shown once.
pub const RESET_FLASH_KEY: &str = "beacon.flash.reset";

/// What an admin's erasure of a member changed, shown once.
pub const ERASURE_FLASH_KEY: &str = "beacon.flash.erasure";

/// A signed-in session: whose, since when, and its handle in the session registry (which the
/// edge checks on every request, so a session can be ended from elsewhere).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionUser {
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    pub handle: String,
    pub signed_in_at: chrono::DateTime<chrono::Utc>,
}

/// Starts a signed-in session for `user_id`: a new session id against fixation (ASVS 7.2.4)
/// and a fresh entry in the session registry.
pub async fn establish(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &RequestContext,
    user_id: Uuid,
) -> AppResult<()> {
    session.cycle_id().await?;
    let user = session_registry::open(
        &state.redis,
        &state.session_policy,
        ctx.tenant.id,
        user_id,
        ctx.ip.clone(),
        ctx.user_agent.clone(),
    )
    .await?;
    session.insert(USER_KEY, user).await?;
    Ok(())
}

/// The session of the request being served, and its signed-in user if any.
pub async fn current() -> AppResult<(tower_sessions::Session, Option<SessionUser>)> {
    let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
    let user = session.get::<SessionUser>(USER_KEY).await.ok().flatten();
    Ok((session, user))
}

/// A sign-in whose password checked out and whose second factor is still to come. It is not
/// a signed-in session: the edge treats its holder as anonymous.
pub const PENDING_SIGN_IN_KEY: &str = "beacon.mfa.pending";

/// How long the code may take after the password.
pub const PENDING_SIGN_IN_MINUTES: i64 = 5;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    pub email: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A TOTP secret shown for enrolment and not confirmed yet (kept server-side, in the session).
pub const ENROLMENT_KEY: &str = "beacon.mfa.enrolment";

/// Recovery codes created by the previous request, shown once.
pub const RECOVERY_CODES_FLASH_KEY: &str = "beacon.flash.recovery_codes";
