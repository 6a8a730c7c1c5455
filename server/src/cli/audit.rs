use clap::{Args, Subcommand};

use chrono::NaiveDate;

use app::audit::archive::{ArchiveStore, Archiver};
use app::audit::service::AuditSource;
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
    /// Archive the months past the tenant's retention now (the server does this every hour):
    /// each written to the archive store, read back and checked, then dropped from the
    /// database; and write again the archived months that GDPR erasures are waiting for.
    /// Safe to interrupt and run again.
    Archive(ArchiveArgs),
    /// Check a month's archive on its own: the signed manifest, the file's digest, every
    /// event's hashes and every link of the chain through it.
    CheckArchive(MonthArgs),
    /// Restore an archived month into a read-only partition, so the audit page searches it.
    Restore(MonthArgs),
    /// Drop a restored month from the database again (its archive stays).
    PutBack(MonthArgs),
}

#[derive(Args, Debug)]
pub struct ArchiveArgs {
    #[command(flatten)]
    keys: TenantKeys,
    /// Where archives go: a directory, or `s3://bucket/prefix` (with the `AWS_*` variables).
    #[arg(long, env = "BEACON_AUDIT_ARCHIVE", default_value = "audit-archive")]
    archive: String,
}

#[derive(Args, Debug)]
pub struct MonthArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// The month, as `YYYY-MM`.
    #[arg(long)]
    month: String,
}

impl ArchiveArgs {
    async fn archiver(&self, db: &Database) -> Result<(Tenant, Archiver), AppError> {
        let (tenant, keyring) = self.keys.resolve(db).await?;
        let store = ArchiveStore::open(&self.archive, &[])?;
        Ok((tenant, Archiver { db: db.clone(), store, keyring }))
    }
}

impl MonthArgs {
    fn month(&self) -> Result<NaiveDate, AppError> {
        app::audit::archive::parse_month(&self.month)
    }
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
                if report.archived > 0 {
                    println!(
                        "{} events are in archived months (each archive checks on its own: `audit check-archive`)",
                        report.archived
                    );
                }
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
            AuditCommand::Archive(args) => {
                let (tenant, archiver) = args.archiver(db).await?;
                let pass = archiver.pass(&tenant, chrono::Utc::now(), &AuditSource::command_line()).await?;
                if pass.skipped {
                    return Err(AppError::conflict(format!(
                        "another archiver is working on `{}` right now",
                        tenant.slug
                    )));
                }
                for m in &pass.archived {
                    println!(
                        "archived {}: {} events ({} outside the chain), {} bytes at {}",
                        m.month_label(),
                        m.events,
                        m.unchained,
                        m.object_bytes,
                        m.object
                    );
                }
                for m in &pass.erased {
                    println!(
                        "erased in {}: {} events naming {} erased people, now at {}",
                        m.month.format("%Y-%m"),
                        m.events,
                        m.people,
                        m.object
                    );
                }
                if pass.archived.is_empty() && pass.erased.is_empty() {
                    println!("nothing of `{}` is past its retention", tenant.slug);
                }
                Ok(())
            }
            AuditCommand::CheckArchive(args) => {
                let month = args.month()?;
                let (tenant, archiver) = args.archive.archiver(db).await?;
                let check = archiver.check(&tenant, month).await?;
                match check.problem {
                    None => {
                        println!(
                            "the archive of {} verifies: {} events ({} outside the chain, {} erased)",
                            args.month, check.events, check.unchained, check.erased
                        );
                        Ok(())
                    }
                    Some(problem) => Err(AppError::conflict(problem)),
                }
            }
            AuditCommand::Restore(args) => {
                let month = args.month()?;
                let (tenant, archiver) = args.archive.archiver(db).await?;
                let check = archiver.restore(&tenant, month, &AuditSource::command_line()).await?;
                println!("restored {}: {} events, read-only", args.month, check.events);
                Ok(())
            }
            AuditCommand::PutBack(args) => {
                let month = args.month()?;
                let (tenant, archiver) = args.archive.archiver(db).await?;
                archiver.put_back(&tenant, month, &AuditSource::command_line()).await?;
                println!("{} is in its archive only again", args.month);
                Ok(())
            }
        }
    }
}
