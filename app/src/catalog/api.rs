//! Server functions of the catalog pages. Thin: check the role, call the catalog service.

use leptos::prelude::*;

use super::model::{EntityDetail, ImportJob, LocationView};
use super::view::{CatalogPage, CatalogView};
use crate::error::AppError;

#[server(endpoint = "ui/catalog/list")]
pub async fn list_catalog(view: CatalogView) -> Result<CatalogPage, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::insights::model::Metric;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogRead).await?;
            let page = super::service::list_page(&state.db, &state.catalog_cache, &ctx.tenant, &view).await?;
            if let (Some(text), 0) = (&view.q, page.total) {
                state.usage.count(&ctx.tenant, Metric::EmptySearch, text);
            }
            Ok(page)
        }
        .await,
    )
}

#[server(endpoint = "ui/catalog/entity")]
pub async fn load_entity(namespace: String, kind: String, name: String) -> Result<EntityDetail, AppError> {
    use crate::auth::permission::Action;
    use crate::catalog::refs::EntityRef;
    use crate::error::respond;
    use crate::insights::model::Metric;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogRead).await?;
            let entity_ref = EntityRef::new(&kind, &namespace, &name);
            let detail = super::service::detail(&state.db, &ctx.tenant, entity_ref).await?;
            state.usage.count(&ctx.tenant, Metric::EntityView, &detail.entity_ref);
            Ok(detail)
        }
        .await,
    )
}

/// Starts importing pasted YAML (one or many documents) in the background and opens the
/// job's progress page; Developers and up.
#[server(endpoint = "ui/catalog/import")]
pub async fn import_yaml(yaml: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            let documents = super::service::documents_of_upload(yaml.as_bytes()).await?;
            let job = super::jobs::start(&state.db, &ctx.tenant, ctx.audit_source(), "paste".into(), documents).await?;
            leptos_axum::redirect(&format!("/catalog/import/{job}"));
            Ok(())
        }
        .await,
    )
}

/// Starts importing uploaded files (YAML, or .zip / .tar.gz repository archives) in the
/// background and opens the job's progress page; Developers and up. A plain multipart form
/// posts here, so it works without JavaScript.
#[server(endpoint = "ui/catalog/upload", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn upload_catalog(data: leptos::server_fn::codec::MultipartData) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            let mut multipart = data.into_inner().ok_or_else(|| AppError::internal("multipart body missing"))?;
            let (mut documents, mut names, mut size) = (Vec::new(), Vec::new(), 0usize);
            while let Some(mut field) =
                multipart.next_field().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?
            {
                let name = field.file_name().unwrap_or("upload").to_owned();
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| AppError::invalid(format!("upload: {e}")))? {
                    size += chunk.len();
                    if size > super::service::MAX_UPLOAD_BYTES {
                        return Err(AppError::too_large(format!(
                            "Uploads are limited to {} MiB.",
                            super::service::MAX_UPLOAD_BYTES / 1024 / 1024
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if bytes.is_empty() {
                    continue;
                }
                documents.extend(
                    super::service::documents_of_upload(&bytes)
                        .await
                        .map_err(|e| AppError::invalid(format!("{name}: {e}")))?,
                );
                names.push(name);
            }
            if documents.is_empty() {
                return Err(AppError::invalid("Choose at least one file."));
            }
            let label = format!("upload:{}", names.join(","));
            let job = super::jobs::start(&state.db, &ctx.tenant, ctx.audit_source(), label, documents).await?;
            leptos_axum::redirect(&format!("/catalog/import/{job}"));
            Ok(())
        }
        .await,
    )
}

/// An import job, for its progress page.
#[server(endpoint = "ui/catalog/import-job")]
pub async fn load_import_job(id: String) -> Result<ImportJob, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            let missing = || AppError::not_found("No such import.");
            let id = uuid::Uuid::parse_str(&id).map_err(|_| missing())?;
            super::jobs::load(&state.db, &ctx.tenant, id).await?.ok_or_else(missing)
        }
        .await,
    )
}

/// The Locations page: registered locations and the hosts they may be read from.
#[server(endpoint = "ui/catalog/locations")]
pub async fn list_locations() -> Result<(Vec<LocationView>, Vec<String>), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogRead).await?;
            let db = &state.db;
            Ok((super::locations::list(db, &ctx.tenant).await?, super::locations::allowlist(db, &ctx.tenant).await?))
        }
        .await,
    )
}

/// Registers a URL location and imports what it emits; Developers and up.
#[server(endpoint = "ui/catalog/register-location")]
pub async fn register_location(target: String) -> Result<String, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            let registered = super::locations::register(
                &state.db,
                &ctx.tenant,
                &ctx.audit_source(),
                &state.fetch_policy,
                &target,
                super::locations::RegisterOptions::default(),
            )
            .await?;
            Ok(format!("Registered {} with {} entities.", registered.location.target, registered.entities.len()))
        }
        .await,
    )
}

/// Re-reads a location now; Developers and up.
#[server(endpoint = "ui/catalog/refresh-location")]
pub async fn refresh_location(id: String) -> Result<String, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::not_found("No such location."))?;
            let report =
                super::locations::refresh(&state.db, &ctx.tenant, &ctx.audit_source(), &state.fetch_policy, id).await?;
            Ok(format!(
                "Refreshed: {} created, {} updated, {} unchanged, {} rejected, {} orphaned.",
                report.count(|o| *o == super::model::DocumentOutcome::Created),
                report.count(|o| *o == super::model::DocumentOutcome::Updated),
                report.count(|o| *o == super::model::DocumentOutcome::Unchanged),
                report.count(|o| matches!(o, super::model::DocumentOutcome::Rejected(_))),
                report.orphaned.len(),
            ))
        }
        .await,
    )
}

/// Unregisters a location and deletes its entities (the box must be ticked); Developers and up.
#[server(endpoint = "ui/catalog/delete-location")]
pub async fn delete_location(id: String, confirm: Option<String>) -> Result<String, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            if confirm.as_deref() != Some("yes") {
                return Err(AppError::Invalid(
                    "Tick the box to confirm: the location's entities are deleted too.".into(),
                ));
            }
            let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::not_found("No such location."))?;
            super::locations::delete(&state.db, &ctx.tenant, &ctx.audit_source(), id).await?;
            Ok("Location unregistered; its entities were deleted.".into())
        }
        .await,
    )
}

/// Adds a host pattern to the tenant's fetch allowlist; Admins only.
#[server(endpoint = "ui/catalog/allow-host")]
pub async fn allow_host(pattern: String) -> Result<String, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogAdmin).await?;
            let added = super::locations::allow_host(&state.db, &ctx.tenant, &ctx.audit_source(), &pattern).await?;
            Ok(format!("Locations may now be read from {added}."))
        }
        .await,
    )
}

/// Removes a host pattern from the allowlist; Admins only.
#[server(endpoint = "ui/catalog/remove-host")]
pub async fn remove_host(pattern: String) -> Result<String, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogAdmin).await?;
            super::locations::disallow_host(&state.db, &ctx.tenant, &ctx.audit_source(), &pattern).await?;
            Ok(format!("Removed {pattern}."))
        }
        .await,
    )
}

/// Deletes an entity (the confirmation box must be ticked); Developers and up.
#[server(endpoint = "ui/catalog/delete")]
pub async fn delete_entity(uid: String, confirm: Option<String>) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            if confirm.as_deref() != Some("yes") {
                return Err(AppError::invalid("Tick the box to confirm the deletion."));
            }
            let uid = uuid::Uuid::parse_str(&uid).map_err(|_| AppError::not_found("No such entity."))?;
            super::service::delete_by_uid(&state.db, &ctx.tenant, ctx.audit_source(), uid).await?;
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
    use super::service::{save_one, SaveTarget};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CatalogWrite).await?;
            let target = match original.filter(|o| !o.trim().is_empty()) {
                Some(original) => SaveTarget::Ref(original),
                None => SaveTarget::New,
            };
            let (saved, _) = save_one(&state.db, &ctx.tenant, &ctx.audit_source(), target, &yaml).await?;
            leptos_axum::redirect(&saved.page_path());
            Ok(())
        }
        .await,
    )
}
