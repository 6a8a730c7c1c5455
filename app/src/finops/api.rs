//! Server functions of the FinOps pages. Thin: check, call the service. Everyone in the tenant
//! reads costs; maintainers and admins import them.

use leptos::prelude::*;

use super::model::{CostImport, CostOverview};
use crate::error::AppError;

#[server(endpoint = "ui/finops/overview")]
pub async fn load_cost_overview(
    view: String,
    currency: Option<String>,
    month: Option<String>,
) -> Result<CostOverview, AppError> {
    use super::model::CostView;
    use super::service::{overview, parse_month};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            let month = month.as_deref().and_then(parse_month);
            overview(&state.db, &ctx.tenant, CostView::parse(&view), currency, month).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/imports")]
pub async fn load_cost_imports() -> Result<Vec<CostImport>, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            super::import::recent(&state.db, &ctx.tenant).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/import")]
pub async fn load_cost_import(id: String) -> Result<CostImport, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            let missing = || AppError::not_found("No such cost import.");
            let id = uuid::Uuid::parse_str(&id).map_err(|_| missing())?;
            super::import::load(&state.db, &ctx.tenant, id).await?.ok_or_else(missing)
        }
        .await,
    )
}

/// Starts importing an uploaded cost file and opens its progress page. A plain multipart form
/// posts here (works without JavaScript); the file goes to disk as it arrives, never whole
/// into memory.
#[server(endpoint = "ui/finops/upload", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn upload_costs(data: leptos::server_fn::codec::MultipartData) -> Result<(), AppError> {
    use super::import::{start, ImportFile, ImportRequest};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            let mut multipart = data.into_inner().ok_or_else(|| AppError::internal("multipart body missing"))?;
            let (mut source, mut currency, mut file) = (String::new(), String::from("USD"), None);
            while let Some(field) =
                multipart.next_field().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?
            {
                match field.name().unwrap_or_default() {
                    "source" => source = field.text().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?,
                    "currency" => {
                        currency = field.text().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?
                    }
                    "file" => {
                        let name = field.file_name().unwrap_or("upload").to_owned();
                        file = Some((name, super::import::spool(field).await?));
                    }
                    _ => {}
                }
            }
            let Some((name, path)) = file else { return Err(AppError::invalid("Choose a cost file.")) };
            let request = match ImportRequest::parse(&source, &name, &currency) {
                Ok(request) => request,
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            let file = ImportFile { path, remove_after: true };
            let id = start(&state.db, &ctx.tenant, ctx.audit_source(), request, file).await?;
            leptos_axum::redirect(&format!("/finops/imports/{id}"));
            Ok(())
        }
        .await,
    )
}
