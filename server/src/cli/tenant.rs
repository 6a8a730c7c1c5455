use clap::Subcommand;

use app::access::service::{self as access, NewKey};
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
    /// Make an API key (printed once) for a pipeline or a test, without the browser. It acts as
    /// `--owner`, by default the tenant's longest-standing admin; the audit log records it.
    CreateKey {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// Comma-separated, e.g. `catalog:read,catalog:write`.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Days until the key stops working; without it the key never expires.
        #[arg(long)]
        expires_days: Option<u32>,
        /// Email of the member the key acts as.
        #[arg(long)]
        owner: Option<String>,
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
            TenantCommand::CreateKey { slug, name, scopes, expires_days, owner } => {
                let tenant = service::find(db, &TenantSlug::parse(&slug)?)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("Tenant `{slug}` not found.")))?;
                let expiry = expires_days.map_or_else(|| "never".to_owned(), |d| d.to_string());
                let new = NewKey::parse(&name, &scopes, &expiry)?;
                let (owner, key) = access::create_key_as_operator(db, &tenant, owner.as_deref(), new).await?;
                println!(
                    "API key {} for {} acting as {} ({})",
                    key.label,
                    tenant.slug,
                    owner.email,
                    owner.role.label()
                );
                println!("key (shown once): {}", key.secret);
            }
        }
        Ok(())
    }
}
