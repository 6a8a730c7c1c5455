use std::path::PathBuf;

use clap::Subcommand;

use app::audit::service::AuditSource;
use app::catalog::model::DocumentOutcome;
use app::catalog::reader::{read_tree, FolderSource};
use app::catalog::service;
use app::db::Database;
use app::error::AppError;
use app::tenancy::model::TenantSlug;
use app::tenancy::service as tenancy;

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Import entities from YAML files, following their Locations and `$text` placeholders.
    Import {
        #[arg(long)]
        tenant: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

impl CatalogCommand {
    pub async fn run(self, db: &Database) -> Result<(), AppError> {
        let CatalogCommand::Import { tenant, files } = self;
        let slug = TenantSlug::parse(&tenant)?;
        let tenant = tenancy::find(db, &slug)
            .await?
            .ok_or_else(|| AppError::not_found(format!("Tenant `{slug}` not found.")))?;
        for file in files {
            let (source, entry) =
                FolderSource::for_entry(&file).map_err(|e| AppError::invalid(format!("{}: {e}", file.display())))?;
            let documents = read_tree(&source, vec![(entry, None)], false).await.map_err(AppError::Invalid)?;
            let origin = service::Origin::named(format!("file:{}", file.display()));
            let report = service::import(
                db,
                &tenant,
                &AuditSource::command_line(),
                &origin,
                documents.into_iter().map(Into::into).collect(),
            )
            .await?;
            for result in &report.results {
                if let DocumentOutcome::Rejected(reasons) = &result.outcome {
                    eprintln!("document {} rejected: {}", result.document, reasons.join("; "));
                }
            }
            println!(
                "{}: {} created, {} updated, {} unchanged, {} rejected",
                file.display(),
                report.count(|o| *o == DocumentOutcome::Created),
                report.count(|o| *o == DocumentOutcome::Updated),
                report.count(|o| *o == DocumentOutcome::Unchanged),
                report.count(|o| matches!(o, DocumentOutcome::Rejected(_))),
            );
        }
        Ok(())
    }
}
