//! Server functions of the briefs pages. Thin: check, call `briefs::service`. Who may see a
//! brief is decided in the service (`may_see`), the same for pages, REST and the PDF.

use leptos::prelude::*;

use super::model::{Brief, BriefList, CompanyList, CompanyPage};
use crate::error::AppError;

#[cfg(feature = "ssr")]
const IMPORT_REPORT: &str = "beacon.flash.company_import";

#[cfg(feature = "ssr")]
fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw.trim()).map_err(|_| AppError::not_found(format!("No such {what}.")))
}

#[server(endpoint = "ui/briefs")]
pub async fn load_briefs(search: String) -> Result<BriefList, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::BriefsRead).await?;
            super::service::list_briefs(&state.db, &ctx.tenant, &me, ctx.credential.scopes(), &search).await
        }
        .await,
    )
}

/// Queues a brief of the company named and opens its page, where it is followed live.
#[server(endpoint = "ui/briefs/request")]
pub async fn request_brief(company: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::BriefsGenerate).await?;
            let id = super::service::request_brief(&state.db, &ctx.tenant, ctx.audit_source(), &me, &company).await?;
            leptos_axum::redirect(&format!("/briefs/{id}"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/briefs/brief")]
pub async fn load_brief(id: String) -> Result<Brief, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::BriefsRead).await?;
            let id = parse_id(&id, "brief")?;
            let scopes = ctx.credential.scopes();
            super::service::brief(&state.db, Some(&state.redis), &ctx.tenant, ctx.audit_source(), &me, scopes, id).await
        }
        .await,
    )
}

/// The companies page, with the report of the import just made (once).
#[server(endpoint = "ui/briefs/companies")]
pub async fn load_companies(search: String, page: i64) -> Result<(CompanyList, Option<String>), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::BriefsRead).await?;
            let manage = ctx.may(Action::CompaniesManage);
            let list = super::service::list_companies(&state.db, &ctx.tenant, &search, page, manage).await?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            let report = session.remove::<String>(IMPORT_REPORT).await?;
            Ok((list, report))
        }
        .await,
    )
}

/// A company; its sensitive fields only for those who manage company data.
#[server(endpoint = "ui/briefs/company")]
pub async fn load_company(id: String) -> Result<CompanyPage, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::BriefsRead).await?;
            let reveal = ctx.may(Action::CompaniesManage);
            let id = parse_id(&id, "company")?;
            super::service::company_page(&state.db, &state.keyring, &ctx.tenant, id, reveal).await
        }
        .await,
    )
}

/// A company as its form sends it: every field text, lists comma separated.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompanyForm {
    /// Empty for a new company.
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub one_liner: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub industry: String,
    #[serde(default)]
    pub subindustry: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub regions: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub batch: String,
    #[serde(default)]
    pub team_size: String,
    #[serde(default)]
    pub is_hiring: String,
    #[serde(default)]
    pub funding: String,
    #[serde(default)]
    pub revenue: String,
    #[serde(default)]
    pub valuation: String,
    #[serde(default)]
    pub notes: String,
}

#[server(endpoint = "ui/briefs/company/save")]
pub async fn save_company(form: CompanyForm) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CompaniesManage).await?;
            let fields = serde_json::to_value(&form).map_err(AppError::internal)?;
            let fields = fields.as_object().cloned().unwrap_or_default();
            let (mut company, sensitive) = super::company_file::from_fields(&fields).map_err(AppError::invalid)?;
            if !form.id.trim().is_empty() {
                company.id = parse_id(&form.id, "company")?;
            }
            let id = super::service::save_company(
                &state.db,
                &state.keyring,
                &ctx.tenant,
                ctx.audit_source(),
                company,
                sensitive,
            )
            .await?;
            leptos_axum::redirect(&format!("/briefs/companies/{id}"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/briefs/company/remove")]
pub async fn remove_company(id: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CompaniesManage).await?;
            let id = parse_id(&id, "company")?;
            super::service::delete_company(&state.db, &ctx.tenant, ctx.audit_source(), id).await?;
            leptos_axum::redirect("/briefs/companies");
            Ok(())
        }
        .await,
    )
}

/// Imports an uploaded company file (a plain multipart form: works without JavaScript) and
/// returns to the companies page, which shows what the import did.
#[server(endpoint = "ui/briefs/companies/upload", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn upload_companies(data: leptos::server_fn::codec::MultipartData) -> Result<(), AppError> {
    use super::company_file::{parse_mapping, MAX_FILE_BYTES};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::CompaniesManage).await?;
            let mut multipart = data.into_inner().ok_or_else(|| AppError::internal("multipart body missing"))?;
            fn broken(e: impl std::fmt::Display) -> AppError {
                AppError::invalid(format!("upload: {e}"))
            }
            let (mut mapping, mut file) = (String::new(), None);
            while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
                match field.name().unwrap_or_default() {
                    "mapping" => mapping = field.text().await.map_err(broken)?,
                    "file" => {
                        let name = field.file_name().unwrap_or("upload").to_owned();
                        let mut bytes = Vec::new();
                        while let Some(chunk) = field.chunk().await.map_err(broken)? {
                            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                                return Err(AppError::too_large(format!(
                                    "Company files are limited to {} MiB.",
                                    MAX_FILE_BYTES / 1024 / 1024
                                )));
                            }
                            bytes.extend_from_slice(&chunk);
                        }
                        file = Some((name, bytes));
                    }
                    _ => {}
                }
            }
            let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
                return Err(AppError::invalid("Choose a company file (CSV, JSON or JSON Lines, gzip accepted)."));
            };
            let mapping = parse_mapping(&mapping)?;
            let summary = super::service::import_companies(
                &state.db,
                &state.keyring,
                &ctx.tenant,
                ctx.audit_source(),
                bytes,
                mapping,
                &name,
            )
            .await?;
            let mut report = format!(
                "{}: {} created, {} updated, {} merged duplicates, {} refused.",
                name, summary.created, summary.updated, summary.merged, summary.refused
            );
            for refused in summary.refused_listed.iter().take(5) {
                report.push_str(&format!(" Line {}: {}.", refused.line, refused.reason));
            }
            let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(AppError::internal)?;
            session.insert(IMPORT_REPORT, report).await?;
            leptos_axum::redirect("/briefs/companies");
            Ok(())
        }
        .await,
    )
}
