//! Server functions of the audit pages (admins; keys need `audit:read`). Thin: check, call the service.

use leptos::prelude::*;

use super::model::{AuditDetail, Verification};
use super::permissions::PermissionReport;
use super::view::{AuditPage, AuditView};
use crate::error::AppError;

// `default`: the unfiltered view has no field to send, so its form body is empty.
#[server(endpoint = "ui/audit/list")]
pub async fn list_audit(#[server(default)] view: AuditView) -> Result<AuditPage, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::AuditRead).await?;
            super::service::list(&state.db, &ctx.tenant, &view, super::view::PAGE_SIZE).await
        }
        .await,
    )
}

#[server(endpoint = "ui/audit/event")]
pub async fn load_audit_event(id: i64) -> Result<AuditDetail, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::AuditRead).await?;
            super::service::find(&state.db, &ctx.tenant, id).await
        }
        .await,
    )
}

/// Checks the whole log, records that it was checked with the result, and opens that record:
/// the result stays in the log for the next auditor, and the page works without JS.
#[server(endpoint = "ui/audit/verify")]
pub async fn verify_audit_log() -> Result<Verification, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::AuditRead).await?;
            let (report, id) =
                super::service::verify_and_record(&state.db, &ctx.tenant, &state.keyring, ctx.audit_source()).await?;
            leptos_axum::redirect(&format!("/audit/{id}"));
            Ok(report)
        }
        .await,
    )
}

/// The permission-change report for a period (`permissions::period`: dates or times, both
/// optional).
#[server(endpoint = "ui/audit/permissions")]
pub async fn load_permission_report(from: Option<String>, to: Option<String>) -> Result<PermissionReport, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::AuditRead).await?;
            let (from, to) = super::permissions::period(from.as_deref(), to.as_deref(), chrono::Utc::now())?;
            super::service::permission_report(&state.db, &ctx.tenant, from, to).await
        }
        .await,
    )
}
