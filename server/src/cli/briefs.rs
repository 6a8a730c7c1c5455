//! `server briefs …`: import company data, print a company's ranked competitors without making
//! a brief (for operators and evaluation), embed texts now, and seal sensitive fields again
//! under the current key.

use std::path::PathBuf;

use chrono::Datelike;
use clap::Subcommand;
use serde_json::json;

use app::audit::service::AuditSource;
use app::briefs::company_file::parse_mapping;
use app::briefs::discovery::Method;
use app::briefs::service;
use app::db::Database;
use app::embedding::worker::EmbeddingWorker;
use app::embedding::Embedder;
use app::error::AppError;
use app::keyring::Keyring;
use app::tenancy::model::{Tenant, TenantSlug};
use app::tenancy::service as tenancy;

#[derive(Subcommand, Debug)]
pub enum BriefsCommand {
    /// Import companies from CSV, JSON or JSON Lines files (gzip accepted).
    Import {
        #[arg(long)]
        tenant: String,
        /// Columns for fields whose column has another name: `one_liner=tagline,funding=raised`.
        #[arg(long, default_value = "")]
        map: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a company's ranked competitors with each feature's contribution.
    Competitors {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        company: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// The features ranked on: combined (what briefs use), lexical, embeddings, structured
        /// or lexical+structured.
        #[arg(long, default_value = "combined")]
        method: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Embed now every company and catalog text of the tenant that has no vector yet, on
    /// `--threads` cores (the server's background worker does the same on half a core).
    Embed {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Seal every sensitive company field again under the first key of BEACON_SECRET_KEYS
    /// (resumable: run it again after an interruption); then older keys can be retired.
    RotateKeys {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

async fn tenant(db: &Database, slug: &str) -> Result<Tenant, AppError> {
    let slug = TenantSlug::parse(slug)?;
    tenancy::find(db, &slug).await?.ok_or_else(|| AppError::not_found(format!("Tenant `{slug}` not found.")))
}

fn keyring() -> Result<Keyring, AppError> {
    let keys = std::env::var("BEACON_SECRET_KEYS").map_err(|_| {
        AppError::invalid("Set BEACON_SECRET_KEYS (as for `server serve`): sensitive fields are sealed with it.")
    })?;
    Keyring::parse(&keys)
}

impl BriefsCommand {
    pub async fn run(self, db: &Database) -> Result<(), AppError> {
        match self {
            BriefsCommand::Import { tenant: slug, map, files } => {
                let tenant = tenant(db, &slug).await?;
                let (keyring, mapping) = (keyring()?, parse_mapping(&map)?);
                for file in files {
                    let bytes =
                        std::fs::read(&file).map_err(|e| AppError::invalid(format!("{}: {e}", file.display())))?;
                    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let summary = service::import_companies(
                        db,
                        &keyring,
                        &tenant,
                        AuditSource::command_line(),
                        bytes,
                        mapping.clone(),
                        &name,
                    )
                    .await?;
                    println!(
                        "{}: {} created, {} updated, {} merged duplicates, {} refused",
                        file.display(),
                        summary.created,
                        summary.updated,
                        summary.merged,
                        summary.refused
                    );
                    for refused in &summary.refused_listed {
                        eprintln!("  line {}: {}", refused.line, refused.reason);
                    }
                }
                Ok(())
            }
            BriefsCommand::Competitors { tenant: slug, company, limit, method, json } => {
                let method = Method::parse(&method).ok_or_else(|| {
                    let known: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
                    AppError::invalid(format!("--method is one of {}", known.join(", ")))
                })?;
                let tenant = tenant(db, &slug).await?;
                let target = db
                    .with_tenant(&tenant, move |conn| {
                        Box::pin(async move { service::find_company(conn, &company).await })
                    })
                    .await?;
                let index = service::build_index(db, &tenant).await?;
                let found = index.competitors(&target, method, limit.clamp(1, 1000), chrono::Utc::now().year());
                if json {
                    let document = json!({ "company": target.name, "compared": index.len(), "competitors": found });
                    println!("{}", serde_json::to_string_pretty(&document).map_err(AppError::internal)?);
                    return Ok(());
                }
                println!("{} — {} companies compared", target.name, index.len());
                for competitor in &found {
                    println!(
                        "{:>3}. {:<32} {:.3}  {}",
                        competitor.rank, competitor.company.name, competitor.score, competitor.why
                    );
                }
                Ok(())
            }
            BriefsCommand::Embed { tenant: slug, threads } => {
                let tenant = tenant(db, &slug).await?;
                let dir = std::env::var_os("BEACON_EMBEDDING_MODEL")
                    .ok_or_else(|| AppError::invalid("Set BEACON_EMBEDDING_MODEL (as for `server serve`)."))?;
                let worker = EmbeddingWorker::new(db.clone(), Embedder::open(std::path::Path::new(&dir))?);
                let started = std::time::Instant::now();
                let embedded = worker.catch_up(&tenant, threads.clamp(1, 64)).await?;
                println!("{embedded} texts embedded in {:.1} s", started.elapsed().as_secs_f64());
                Ok(())
            }
            BriefsCommand::RotateKeys { tenant: slug, batch } => {
                let tenant = tenant(db, &slug).await?;
                let keyring = keyring()?;
                let done = service::rotate_secrets(
                    db,
                    &keyring,
                    &tenant,
                    AuditSource::command_line(),
                    batch.clamp(1, 10_000),
                    |done, remaining| {
                        println!("{done} sealed again, {remaining} to go");
                    },
                )
                .await?;
                println!("{done} sensitive fields are now sealed under the current key");
                Ok(())
            }
        }
    }
}
