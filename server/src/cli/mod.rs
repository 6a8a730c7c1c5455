//! `server [serve]`, `server migrate`, `server tenant …`: one binary for every operation.

mod audit;
mod bench;
mod bench_audit;
mod bench_briefs;
pub mod bench_edge;
mod bench_finops;
mod bench_http;
mod bench_plans;
mod bench_plugins;
mod bench_ws;
mod briefs;
mod catalog;
pub mod cost_estate;
mod finops;
mod plugins;
mod tenant;

use clap::{Parser, Subcommand};

use crate::config::{DatabaseConfig, ServeConfig};
use crate::startup;
use app::db::Database;
use app::error::AppError;

#[derive(Parser, Debug)]
#[command(name = "server", version, about = "Beacon, the multi-tenant developer portal")]
pub struct Cli {
    #[command(flatten)]
    database: DatabaseConfig,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Migrate every schema, then serve HTTP (the default).
    Serve(Box<ServeConfig>),
    /// Apply pending migrations to the control schema and every tenant schema.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Verify and sign a tenant's audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Manage a tenant's software catalog.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Import a tenant's cloud bills.
    #[command(subcommand)]
    Finops(finops::FinopsCommand),
    /// A tenant's company data and competitor discovery.
    #[command(subcommand)]
    Briefs(briefs::BriefsCommand),
    /// The plugin directory shared by every tenant.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Measure catalog ingestion and queries on a synthetic catalog in a scratch tenant.
    Bench(bench::BenchArgs),
}

impl Cli {
    pub async fn run(self) -> Result<(), AppError> {
        let db = Database::connect(&self.database.database_url, self.database.db_pool_size)?;
        match self.command {
            Some(Command::Serve(config)) => startup::serve(db, *config).await,
            None => startup::serve(db, ServeConfig::from_env()?).await,
            Some(Command::Migrate) => {
                for (tenant, applied) in startup::migrate(&db).await? {
                    println!("{:<24} {:<12} {applied} migration(s) applied", tenant.slug, tenant.schema.as_str());
                }
                Ok(())
            }
            Some(Command::Tenant(command)) => {
                app::db::migrate::migrate_control(db.url()).await?;
                command.run(&db).await
            }
            Some(Command::Bench(args)) => {
                startup::migrate(&db).await?;
                bench::run(&db, args).await
            }
            Some(Command::Audit(command)) => {
                startup::migrate(&db).await?;
                command.run(&db).await
            }
            Some(Command::Catalog(command)) => {
                startup::migrate(&db).await?;
                command.run(&db).await
            }
            Some(Command::Finops(command)) => {
                startup::migrate(&db).await?;
                command.run(&db).await
            }
            Some(Command::Briefs(command)) => {
                startup::migrate(&db).await?;
                command.run(&db).await
            }
            Some(Command::Plugins(command)) => {
                startup::migrate(&db).await?;
                command.run(&db).await
            }
        }
    }
}

impl ServeConfig {
    /// `server` with no subcommand serves with its configuration taken from the environment.
    fn from_env() -> Result<Self, AppError> {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: ServeConfig,
        }
        Only::try_parse_from(["server"]).map(|o| o.config).map_err(|e| AppError::Invalid(e.to_string()))
    }
}
