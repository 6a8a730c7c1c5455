//! Server functions: the deployments panel of entity pages (catalog readers) and Settings →
//! CI/CD (admins). Thin: check, call `deployments::service`.

use leptos::prelude::*;

use super::model::{CicdOverview, EntityDeployments};
use crate::error::AppError;

#[cfg(feature = "ssr")]
const REVEALED_SECRET: &str = "beacon.flash.cicd_secret";

#[server(endpoint = "ui/deployments/entity")]
pub async fn load_entity_deployments(
    namespace: String,
    kind: String,
    name: String,
) -> Result<EntityDeployments, AppError> {
    use crate::auth::permission::Action;
    use crate::catalog::refs::EntityRef;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogRead).await?;
            let entity = EntityRef::new(&kind, &namespace, &name);
            super::service::entity_deployments(&state.db, &ctx.tenant, &entity).await
        }
        .await,
    )
}

#[server(endpoint = "ui/cicd")]
pub async fn load_cicd() -> Result<CicdOverview, AppError> {
    use super::model::NewCicdSecret;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let base = state.mailer.base_url(&ctx.tenant);
            let (integrations, unmatched) = super::service::overview(&state.db, &ctx.tenant, &base).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            let revealed = session.remove::<NewCicdSecret>(REVEALED_SECRET).await?;
            Ok(CicdOverview { integrations, unmatched, revealed })
        }
        .await,
    )
}

/// Creates or replaces the secret of `provider` (`github`, `jenkins`, `argocd`).
#[server(endpoint = "ui/cicd/secret")]
pub async fn set_cicd_secret(provider: String) -> Result<(), AppError> {
    use super::model::Provider;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let provider = Provider::parse(&provider).map_err(|_| AppError::invalid("No such CI/CD provider."))?;
            let secret =
                super::service::set_secret(&state.db, &state.keyring, &ctx.tenant, ctx.audit_source(), provider)
                    .await?;
            // Kept in the session until the page shows it once: works with and without JS.
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(REVEALED_SECRET, secret).await?;
            Ok(())
        }
        .await,
    )
}
