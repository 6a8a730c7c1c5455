use clap::{Args, Subcommand};

use app::audit::{service, verify};
use app::db::Database;
use app::error::AppError;
use app::keyring::Keyring;
use app::tenancy::model::{Tenant, TenantSlug};
use app::tenancy::service as tenancy;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check a tenant's audit log: every event against its hashes, the chain, and the signed
    /// checkpoints. Exits non-zero, naming the first problem, unless the log is intact.
    Verify(TenantKeys),
    /// Sign the chain's head now (the server does this every minute by itself).
    Checkpoint(TenantKeys),
}

#[derive(Args, Debug)]
pub struct TenantKeys {
    #[arg(long)]
    tenant: String,
    /// The server's keys: checkpoints are signed and checked with them.
    #[arg(long, env = "BEACON_SECRET_KEYS", hide_env_values = true)]
    secret_keys: String,
}

impl TenantKeys {
    async fn resolve(&self, db: &Database) -> Result<(Tenant, Keyring), AppError> {
        let slug = TenantSlug::parse(&self.tenant)?;
        let tenant = tenancy::find(db, &slug)
            .await?
            .ok_or_else(|| AppError::not_found(format!("Tenant `{slug}` not found.")))?;
        Ok((tenant, Keyring::parse(&self.secret_keys)?))
    }
}

impl AuditCommand {
    pub async fn run(self, db: &Database) -> Result<(), AppError> {
        match self {
            AuditCommand::Verify(args) => {
                let (tenant, keyring) = args.resolve(db).await?;
                let report = verify::verify(db, &tenant, &keyring).await?;
                println!("{}", report.summary());
                println!(
                    "{} events checked, {} signed checkpoints{}; {} events from before the chain, {} erased",
                    report.events_checked,
                    report.checkpoints,
                    report.latest_checkpoint.map_or_else(String::new, |(seq, at)| format!(
                        " (latest at position {seq}, {})",
                        at.format("%Y-%m-%d %H:%M:%S UTC")
                    )),
                    report.before_chain,
                    report.erased,
                );
                match report.problem {
                    None => Ok(()),
                    Some(problem) => {
                        Err(AppError::conflict(format!("audit log of `{}`: {}", tenant.slug, problem.message)))
                    }
                }
            }
            AuditCommand::Checkpoint(args) => {
                let (tenant, keyring) = args.resolve(db).await?;
                match service::checkpoint(db, &tenant, &keyring).await? {
                    Some(seq) => println!("signed the chain of `{}` at position {seq}", tenant.slug),
                    None => println!("the latest checkpoint of `{}` already covers its chain", tenant.slug),
                }
                Ok(())
            }
        }
    }
}
