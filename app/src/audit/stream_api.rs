//! Server functions of audit streaming (admins, people only: a destination receives the whole
//! log). Thin: check, call `audit::stream`.

use leptos::prelude::*;
use uuid::Uuid;

use super::stream_model::StreamsOverview;
use crate::error::AppError;

#[cfg(feature = "ssr")]
const REVEALED_SECRET: &str = "beacon.flash.stream_secret";

#[server(endpoint = "ui/audit/streams")]
pub async fn load_streams() -> Result<StreamsOverview, AppError> {
    use super::stream_model::NewSecret;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let destinations = super::stream::overview(&state.db, &ctx.tenant).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            let revealed = session.remove::<NewSecret>(REVEALED_SECRET).await?;
            Ok(StreamsOverview { destinations, revealed })
        }
        .await,
    )
}

#[server(endpoint = "ui/audit/streams/add")]
pub async fn add_stream(name: String, url: String, #[server(default)] from_start: bool) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let secret = super::stream::add(
                &state.db,
                &state.keyring,
                &state.fetch_policy,
                &ctx.tenant,
                ctx.audit_source(),
                super::stream::NewDestination { name: &name, url: &url, from_start },
            )
            .await?;
            state.stream_wake.ring();
            // Kept in the session until the page shows it once: works with and without JS.
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(REVEALED_SECRET, secret).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/audit/streams/remove")]
pub async fn remove_stream(id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::stream::remove(&state.db, &ctx.tenant, ctx.audit_source(), id).await
        }
        .await,
    )
}
