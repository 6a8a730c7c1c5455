//! `server plugins refresh`: reads every directory package's packument from the npm registry
//! (`BEACON_NPM_REGISTRY`) and stores every published version with its dates, dependencies,
//! integrity and configuration schema. Shared by all tenants; safe to run again at any time.

use clap::Subcommand;

use app::db::Database;
use app::error::AppError;
use app::fetch::FetchPolicy;
use app::plugins::service;

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// Refresh the directory's packages from the npm registry.
    Refresh {
        #[arg(long, env = "BEACON_NPM_REGISTRY", default_value = "https://registry.npmjs.org")]
        registry: String,
        /// Allow a registry on loopback or a private network (a local mirror or Verdaccio).
        #[arg(long, env = "BEACON_FETCH_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
        private_networks: bool,
        /// Only these packages (all when none are named).
        packages: Vec<String>,
    },
}

impl PluginsCommand {
    pub async fn run(self, db: &Database) -> Result<(), AppError> {
        match self {
            PluginsCommand::Refresh { registry, private_networks, packages } => {
                let policy = FetchPolicy { allow_private_networks: private_networks };
                let report = service::refresh(db, &policy, &registry, &packages).await?;
                println!(
                    "{} packages refreshed ({} versions); {} not in the registry; {} failed; \
                     admins of {} tenants told of updates",
                    report.packages,
                    report.versions,
                    report.not_found.len(),
                    report.failed.len(),
                    report.tenants_told
                );
                for (name, error) in &report.failed {
                    println!("  {name}: {error}");
                }
                Ok(())
            }
        }
    }
}
