//! Server functions of Settings → Webhooks (admins, people only: a webhook sends the tenant's
//! events out). Thin: check, call `webhooks::service`, ring the sender.

use leptos::prelude::*;
use uuid::Uuid;

use super::model::WebhooksOverview;
use crate::error::AppError;

#[cfg(feature = "ssr")]
const REVEALED_SECRET: &str = "beacon.flash.webhook_secret";

#[server(endpoint = "ui/webhooks")]
pub async fn load_webhooks() -> Result<WebhooksOverview, AppError> {
    use super::model::NewSecret;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let webhooks = super::service::overview(&state.db, &ctx.tenant).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            let revealed = session.remove::<NewSecret>(REVEALED_SECRET).await?;
            Ok(WebhooksOverview { webhooks, revealed })
        }
        .await,
    )
}

/// `kinds` come from checkboxes named `kinds[0]`, `kinds[1]`, …
#[server(endpoint = "ui/webhooks/add")]
pub async fn add_webhook(name: String, url: String, #[server(default)] kinds: Vec<String>) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let secret = super::service::add(
                &state.db,
                &state.keyring,
                &state.fetch_policy,
                &ctx.tenant,
                ctx.audit_source(),
                super::service::NewWebhook { name: &name, url: &url, kinds: &kinds },
            )
            .await?;
            // Kept in the session until the page shows it once: works with and without JS.
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(REVEALED_SECRET, secret).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/webhooks/remove")]
pub async fn remove_webhook(id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::service::remove(&state.db, &ctx.tenant, ctx.audit_source(), id).await
        }
        .await,
    )
}

#[server(endpoint = "ui/webhooks/enable")]
pub async fn enable_webhook(id: Uuid, enabled: bool) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::service::set_enabled(&state.db, &ctx.tenant, ctx.audit_source(), id, enabled).await?;
            state.webhooks.ring(ctx.tenant.schema.as_str());
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/webhooks/redeliver")]
pub async fn redeliver_webhook(delivery: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::service::redeliver(&state.db, &ctx.tenant, ctx.audit_source(), delivery).await?;
            state.webhooks.ring(ctx.tenant.schema.as_str());
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/webhooks/ping")]
pub async fn ping_webhook(id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::service::ping(&state.db, &ctx.tenant, ctx.audit_source(), id).await?;
            state.webhooks.ring(ctx.tenant.schema.as_str());
            Ok(())
        }
        .await,
    )
}
