//! Server functions of the notifications page and the bell: a member's own notifications
//! and choices (people only, any role). Thin: check, call the service.

use leptos::prelude::*;

use super::model::NotificationsPage;
use crate::error::AppError;

#[server(endpoint = "notifications")]
pub async fn load_notifications(before: Option<i64>) -> Result<NotificationsPage, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            super::service::page(&state.db, &ctx.tenant, &me, before, state.mailer.available()).await
        }
        .await,
    )
}

/// Marks one notification read.
#[server(endpoint = "notifications/read")]
pub async fn mark_notification_read(id: i64) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            super::service::mark_read(&state.db, &ctx.tenant, ctx.audit_source(), &me, Some(id)).await
        }
        .await,
    )
}

#[server(endpoint = "notifications/read-all")]
pub async fn mark_all_notifications_read() -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            super::service::mark_read(&state.db, &ctx.tenant, ctx.audit_source(), &me, None).await
        }
        .await,
    )
}

/// How the member is told of one kind: `app`, `email` or `off`.
#[server(endpoint = "notifications/preference")]
pub async fn set_notification_preference(kind: String, channel: String) -> Result<(), AppError> {
    use super::model::{Channel, NotificationKind};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            let (kind, channel) = (NotificationKind::parse(&kind)?, Channel::parse(&channel)?);
            let email_available = state.mailer.available();
            super::service::set_preference(
                &state.db,
                &ctx.tenant,
                ctx.audit_source(),
                &me,
                kind,
                channel,
                email_available,
            )
            .await
        }
        .await,
    )
}
