//! Server functions of Settings → Security (admins): the tenant's MFA policy and IP allowlist.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::tenancy::model::{AllowRule, MfaPolicy};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityView {
    pub mfa_policy: MfaPolicy,
    pub allowlist: Vec<AllowRule>,
    /// The admin's address as the portal sees it, to help write the first entry.
    pub your_address: Option<String>,
}

#[server(endpoint = "settings/security")]
pub async fn load_security() -> Result<SecurityView, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, .. } = authorized(Action::ManageAccess).await?;
            Ok(SecurityView {
                mfa_policy: ctx.tenant.mfa_policy,
                allowlist: ctx.tenant.allowlist.clone(),
                your_address: ctx.ip.clone(),
            })
        }
        .await,
    )
}

#[server(endpoint = "settings/security/mfa-policy")]
pub async fn set_mfa_policy(policy: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};
    use crate::tenancy::service;

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let policy = MfaPolicy::parse(&policy)?;
            service::set_mfa_policy(&state.db, &ctx.tenant, ctx.audit_source(), policy).await
        }
        .await,
    )
}

/// `lock_me_out` is the confirmation a change needs when it would shut out the admin's own address.
#[server(endpoint = "settings/security/allowlist/add")]
pub async fn add_allowed_network(
    cidr: String,
    applies_to: String,
    #[server(default)] note: String,
    #[server(default)] lock_me_out: bool,
) -> Result<(), AppError> {
    use crate::access::network::{self, Edit};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let edit = Edit::add(&cidr, &applies_to, &note)?;
            network::edit(&state.db, &ctx.tenant, ctx.audit_source(), edit, lock_me_out).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "settings/security/allowlist/remove")]
pub async fn remove_allowed_network(
    cidr: String,
    applies_to: String,
    #[server(default)] lock_me_out: bool,
) -> Result<(), AppError> {
    use crate::access::network::{self, Edit};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};
    use crate::tenancy::model::AllowFor;

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let edit = Edit::Remove { cidr, applies_to: AllowFor::parse(&applies_to)? };
            network::edit(&state.db, &ctx.tenant, ctx.audit_source(), edit, lock_me_out).await?;
            Ok(())
        }
        .await,
    )
}
