//! Server functions of Settings → API access. Thin: authorize, call the access service.

use leptos::prelude::*;
use uuid::Uuid;

use super::model::AccessOverview;
use crate::error::AppError;

/// Session key of a secret created by the previous request, shown once (works without JS).
#[cfg(feature = "ssr")]
const REVEALED_KEY: &str = "beacon.flash.secret";

#[server(endpoint = "access/overview")]
pub async fn load_access() -> Result<AccessOverview, AppError> {
    use super::model::Revealed;
    use super::service;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            let db = &state.db;
            let keys = service::list_keys(db, &ctx.tenant, &me).await?;
            let clients =
                if ctx.may(Action::ManageAccess) { Some(service::list_clients(db, &ctx.tenant).await?) } else { None };
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            let revealed = session.remove::<Revealed>(REVEALED_KEY).await?;
            Ok(AccessOverview { keys, clients, revealed, now: chrono::Utc::now() })
        }
        .await,
    )
}

/// `scopes` come from checkboxes named `scopes[0]`, `scopes[1]`, …; none ticked means none.
#[server(endpoint = "access/keys/create")]
pub async fn create_api_key(
    name: String,
    #[server(default)] scopes: Vec<String>,
    expires_in_days: String,
) -> Result<(), AppError> {
    use super::service::{self, NewKey};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            let new = NewKey::parse(&name, &scopes, &expires_in_days)?;
            let revealed = service::create_key(&state.db, &ctx.tenant, ctx.audit_source(), &me, new).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(REVEALED_KEY, revealed).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "access/keys/revoke")]
pub async fn revoke_api_key(id: Uuid) -> Result<(), AppError> {
    use super::service;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            service::revoke_key(&state.db, &ctx.tenant, ctx.audit_source(), &me, id).await
        }
        .await,
    )
}

#[server(endpoint = "access/clients/create")]
pub async fn create_oauth_client(
    name: String,
    role: String,
    #[server(default)] scopes: Vec<String>,
) -> Result<(), AppError> {
    use super::service::{self, NewClientInput};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageAccess).await?;
            let new = NewClientInput::parse(&name, &scopes, &role)?;
            let revealed = service::create_client(&state.db, &ctx.tenant, ctx.audit_source(), &me, new).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(REVEALED_KEY, revealed).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "access/clients/revoke")]
pub async fn revoke_oauth_client(id: Uuid) -> Result<(), AppError> {
    use super::service;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            service::revoke_client(&state.db, &ctx.tenant, ctx.audit_source(), id).await
        }
        .await,
    )
}
