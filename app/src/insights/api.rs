//! Server functions of the usage insights (admins; keys need `audit:read`). Thin: check, call the service.

use leptos::prelude::*;

use super::model::UsageInsights;
use crate::error::AppError;

#[server(endpoint = "ui/audit/insights")]
pub async fn load_insights() -> Result<UsageInsights, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::AuditRead).await?;
            super::service::insights(&state.db, &ctx.tenant, chrono::Utc::now()).await
        }
        .await,
    )
}
