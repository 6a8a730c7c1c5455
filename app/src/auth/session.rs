//! What the portal keeps in a session (stored in Redis by tower-sessions).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::tenancy::model::TenantId;

/// Key of the signed-in user. The tenant is stored too, and checked on every request, so a
/// session can never be used on another tenant's host.
pub const USER_KEY: &str = "beacon.user";

/// A one-time password to show the admin once after an invitation, with or without JS.
pub const INVITATION_FLASH_KEY: &str = "beacon.flash.invitation";

/// A one-time password from an admin's password reset, shown once.
pub const RESET_FLASH_KEY: &str = "beacon.flash.reset";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionUser {
    pub tenant_id: TenantId,
    pub user_id: Uuid,
}
