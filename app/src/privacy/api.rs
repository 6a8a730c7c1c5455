//! Server functions of the privacy area. Thin: check the role, call the service.

use leptos::prelude::*;
use uuid::Uuid;

use crate::error::AppError;

/// Settings → Users → Erase: removes a member's personal data from this tenant for good.
/// `confirm` repeats their email. The report is shown once on the users list.
#[server(endpoint = "settings/users/erase")]
pub async fn erase_user(user_id: Uuid, confirm: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::auth::session::ERASURE_FLASH_KEY;
    use crate::error::respond;
    use crate::privacy::service;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageUsers).await?;
            let report = service::erase(&state, &ctx.tenant, ctx.audit_source(), user_id, &confirm).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(ERASURE_FLASH_KEY, report).await?;
            Ok(())
        }
        .await,
    )
}
