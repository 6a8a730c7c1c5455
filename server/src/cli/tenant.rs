use clap::Subcommand;

use app::db::Database;
use app::error::AppError;
use app::tenancy::model::{Plan, TenantSlug, TenantStatus};
use app::tenancy::service;

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant: its schema, its migrations and its first admin (prints a one-time password).
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
    },
    /// List tenants.
    List,
    /// Suspend a tenant: every request to it gets a 403 page.
    Suspend {
        #[arg(long)]
        slug: String,
    },
    /// Resume a suspended tenant.
    Resume {
        #[arg(long)]
        slug: String,
    },
    /// Move a tenant to a plan (`standard` or `enterprise`); it sets the API rate-limit tier.
    SetPlan {
        #[arg(long)]
        slug: String,
        plan: String,
    },
    /// Empty a tenant's IP allowlist: the way back in for admins who locked themselves out.
    ClearAllowlist {
        #[arg(long)]
        slug: String,
    },
}

impl TenantCommand {
    pub async fn run(self, db: &Database) -> Result<(), AppError> {
        match self {
            TenantCommand::Create { slug, name, admin_email, admin_name } => {
                let created = service::provision(db, &slug, &name, &admin_email, &admin_name).await?;
                println!(
                    "created tenant {} ({}) in schema {}",
                    created.tenant.slug,
                    created.tenant.name,
                    created.tenant.schema.as_str()
                );
                println!("admin: {}", created.admin.email);
                match created.admin.one_time_password {
                    Some(password) => println!("one-time password: {password}"),
                    None => println!("the admin already has an account and keeps its password"),
                }
            }
            TenantCommand::List => {
                println!("{:<24} {:<32} {:<14} {:<10} {:<11} CREATED", "SLUG", "NAME", "SCHEMA", "STATUS", "PLAN");
                for t in service::list(db).await? {
                    println!(
                        "{:<24} {:<32} {:<14} {:<10} {:<11} {}",
                        t.slug,
                        t.name,
                        t.schema.as_str(),
                        t.status.as_str(),
                        t.plan.as_str(),
                        t.created_at.format("%Y-%m-%d %H:%M")
                    );
                }
            }
            TenantCommand::Suspend { slug } => {
                let t = service::set_status(db, &TenantSlug::parse(&slug)?, TenantStatus::Suspended).await?;
                println!("suspended {}", t.slug);
            }
            TenantCommand::Resume { slug } => {
                let t = service::set_status(db, &TenantSlug::parse(&slug)?, TenantStatus::Active).await?;
                println!("resumed {}", t.slug);
            }
            TenantCommand::SetPlan { slug, plan } => {
                let t = service::set_plan(db, &TenantSlug::parse(&slug)?, Plan::parse(&plan)?).await?;
                println!("{} is on the {} plan", t.slug, t.plan.as_str());
            }
            TenantCommand::ClearAllowlist { slug } => {
                let removed = service::clear_allowlist(db, &TenantSlug::parse(&slug)?).await?;
                println!("removed {removed} allowlist entries of {slug}: every address may connect again");
            }
        }
        Ok(())
    }
}
