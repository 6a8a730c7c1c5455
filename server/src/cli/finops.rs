//! `server finops import --tenant <slug> [--source s] [--currency USD] <file>...`: imports cost
//! files as the portal does and prints, per file, the rows imported and refused and the
//! BilledCost and EffectiveCost totals per currency and billing period.

use std::path::PathBuf;

use clap::Subcommand;

use app::audit::service::AuditSource;
use app::db::Database;
use app::error::AppError;
use app::finops::import::{import_now, ImportFile, ImportRequest};
use app::finops::model::ImportStatus;
use app::tenancy::model::TenantSlug;
use app::tenancy::service as tenancy;

#[derive(Subcommand, Debug)]
pub enum FinopsCommand {
    /// Import FOCUS, AWS CUR or Azure usage files (CSV or CSV.gz).
    Import {
        #[arg(long)]
        tenant: String,
        /// Who sends these bills; re-importing a period of a source replaces it.
        #[arg(long, default_value = "cli")]
        source: String,
        /// The currency of files without a BillingCurrency column.
        #[arg(long, default_value = "USD")]
        currency: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

impl FinopsCommand {
    pub async fn run(self, db: &Database) -> Result<(), AppError> {
        let FinopsCommand::Import { tenant, source, currency, files } = self;
        let slug = TenantSlug::parse(&tenant)?;
        let tenant = tenancy::find(db, &slug)
            .await?
            .ok_or_else(|| AppError::not_found(format!("Tenant `{slug}` not found.")))?;
        let mut refused = 0;
        for file in files {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let request = ImportRequest::parse(&source, &name, &currency)?;
            let import = import_now(
                db,
                &tenant,
                AuditSource::command_line(),
                request,
                ImportFile { path: file.clone(), remove_after: false },
            )
            .await?;
            let report = import.report.unwrap_or_default();
            println!(
                "{}: {} rows imported, {} refused{}",
                file.display(),
                report.rows_imported,
                report.rows_rejected,
                if report.layout.is_empty() { String::new() } else { format!(" ({})", report.layout) }
            );
            for total in &report.totals {
                println!(
                    "  {} {}  BilledCost {}  EffectiveCost {}  ({} rows)",
                    total.billing_period_start.format("%Y-%m"),
                    total.currency,
                    total.billed_cost,
                    total.effective_cost,
                    total.rows
                );
            }
            for warning in &report.warnings {
                println!("  note: {warning}");
            }
            for rejected in &report.rejected {
                eprintln!("  line {}: {}", rejected.line, rejected.reason);
            }
            if import.status != ImportStatus::Done {
                refused += 1;
                eprintln!("  refused: {}", import.error.unwrap_or_default());
            }
        }
        match refused {
            0 => Ok(()),
            n => Err(AppError::invalid(format!("{n} file(s) refused; nothing of them was imported"))),
        }
    }
}
