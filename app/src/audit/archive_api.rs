//! Server functions of retention and archive: auditors see it, admins change it. Thin: check,
//! call `audit::archive`.

use leptos::prelude::*;

use super::archive_model::ArchiveOverview;
use crate::error::AppError;

#[server(endpoint = "ui/audit/archive")]
pub async fn load_archive() -> Result<ArchiveOverview, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::AuditRead).await?;
            state.archiver().overview(&ctx.tenant).await
        }
        .await,
    )
}

#[server(endpoint = "ui/audit/archive/retention")]
pub async fn set_retention(days: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let days = days.trim().parse().map_err(|_| AppError::invalid("Retention is a number of days."))?;
            super::archive::set_retention(&state.db, &ctx.tenant, ctx.audit_source(), days).await
        }
        .await,
    )
}

#[server(endpoint = "ui/audit/archive/restore")]
pub async fn restore_month(month: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let month = super::archive::parse_month(&month)?;
            state.archiver().start_restore(&ctx.tenant, month, ctx.audit_source()).await
        }
        .await,
    )
}

#[server(endpoint = "ui/audit/archive/put-back")]
pub async fn put_back_month(month: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let month = super::archive::parse_month(&month)?;
            state.archiver().put_back(&ctx.tenant, month, &ctx.audit_source()).await
        }
        .await,
    )
}
