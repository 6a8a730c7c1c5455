//! Server functions of the catalog pages. Thin: check the role, call the catalog service.

use leptos::prelude::*;

use super::model::{EntityDetail, ImportReport};
use super::view::{CatalogPage, CatalogView};
use crate::error::AppError;

#[server(endpoint = "ui/catalog/list")]
pub async fn list_catalog(view: CatalogView) -> Result<CatalogPage, AppError> {
    use crate::auth::model::Role;
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            ctx.require_role(Role::Viewer)?;
            super::service::list_page(&AppState::current()?.db, &ctx.tenant, &view).await
        }
        .await,
    )
}

#[server(endpoint = "ui/catalog/entity")]
pub async fn load_entity(namespace: String, kind: String, name: String) -> Result<EntityDetail, AppError> {
    use crate::auth::model::Role;
    use crate::catalog::refs::EntityRef;
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            ctx.require_role(Role::Viewer)?;
            let entity_ref = EntityRef::new(&kind, &namespace, &name);
            super::service::detail(&AppState::current()?.db, &ctx.tenant, entity_ref).await
        }
        .await,
    )
}

/// Imports pasted YAML (one or many documents); Developers and up. The report waits in the
/// session until the import page shows it, so it appears with and without JavaScript.
#[server(endpoint = "ui/catalog/import")]
pub async fn import_yaml(yaml: String) -> Result<(), AppError> {
    use crate::auth::model::Role;
    use crate::auth::session::IMPORT_FLASH_KEY;
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            ctx.require_role(Role::Developer)?;
            let documents = super::service::parse_documents(&yaml);
            if documents.is_empty() {
                return Err(AppError::Invalid("Paste at least one YAML document.".into()));
            }
            let report =
                super::service::import(&AppState::current()?.db, &ctx.tenant, &ctx.audit_source(), "paste", documents)
                    .await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(IMPORT_FLASH_KEY, report).await?;
            Ok(())
        }
        .await,
    )
}

/// The report of this user's last import, once.
#[server(endpoint = "ui/catalog/last-import")]
pub async fn last_import() -> Result<Option<ImportReport>, AppError> {
    use crate::auth::model::Role;
    use crate::auth::session::IMPORT_FLASH_KEY;
    use crate::error::respond;
    use crate::state::RequestContext;

    respond(
        async {
            RequestContext::current().await?.require_role(Role::Viewer)?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            Ok(session.remove::<ImportReport>(IMPORT_FLASH_KEY).await?)
        }
        .await,
    )
}

/// Deletes an entity (the confirmation box must be ticked); Developers and up.
#[server(endpoint = "ui/catalog/delete")]
pub async fn delete_entity(uid: String, confirm: Option<String>) -> Result<(), AppError> {
    use crate::auth::model::Role;
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            ctx.require_role(Role::Developer)?;
            if confirm.as_deref() != Some("yes") {
                return Err(AppError::Invalid("Tick the box to confirm the deletion.".into()));
            }
            let uid = uuid::Uuid::parse_str(&uid).map_err(|_| AppError::NotFound("No such entity.".into()))?;
            super::service::delete_by_uid(&AppState::current()?.db, &ctx.tenant, ctx.audit_source(), uid).await?;
            leptos_axum::redirect("/catalog");
            Ok(())
        }
        .await,
    )
}

/// Creates (`original` empty) or replaces (`original` = its ref) one entity from YAML,
/// validated exactly like the API; Developers and up. Redirects to the entity's page.
#[server(endpoint = "ui/catalog/save")]
pub async fn save_entity(original: Option<String>, yaml: String) -> Result<(), AppError> {
    use crate::auth::model::Role;
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            ctx.require_role(Role::Developer)?;
            let original = original.filter(|o| !o.trim().is_empty());
            let state = AppState::current()?;
            let saved =
                super::service::save_one(&state.db, &ctx.tenant, &ctx.audit_source(), original.as_deref(), &yaml)
                    .await?;
            leptos_axum::redirect(&saved.page_path());
            Ok(())
        }
        .await,
    )
}
