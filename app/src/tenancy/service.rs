//! Tenant use cases: resolve a request's tenant, provision a new one, suspend or resume it.

use crate::audit::model::AuditAction;
use serde_json::json;

use super::model::{MfaPolicy, Plan, SchemaName, Tenant, TenantSlug, TenantStatus};
use super::repo;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::Invitation;
use crate::auth::model::Role;
use crate::auth::password;
use crate::auth::service::{add_member, NewMember};
use crate::db::{migrate, Database};
use crate::error::{AppError, AppResult};

/// The tenant row as stored now, skipping the cache.
async fn load(db: &Database, slug: &TenantSlug) -> AppResult<Option<Tenant>> {
    let slug = slug.clone();
    db.with_control(move |conn| Box::pin(async move { repo::find_by_slug(conn, &slug).await })).await
}

/// The stored row, for services about to change it (never a cached copy).
async fn find_current(db: &Database, slug: &TenantSlug) -> AppResult<Tenant> {
    load(db, slug).await?.ok_or_else(|| AppError::not_found(format!("Tenant `{slug}` not found.")))
}

/// The tenant with this slug, from the cache when it holds it (every request starts here).
pub async fn find(db: &Database, slug: &TenantSlug) -> AppResult<Option<Tenant>> {
    if let Some(tenant) = db.tenants().get(slug.as_str()) {
        return Ok(Some(tenant));
    }
    let generation = db.tenants().generation();
    let found = load(db, slug).await?;
    if let Some(tenant) = &found {
        db.tenants().put(generation, tenant.clone());
    }
    Ok(found)
}

pub async fn list(db: &Database) -> AppResult<Vec<Tenant>> {
    db.with_control(|conn| Box::pin(async move { repo::list(conn).await })).await
}

#[derive(Debug)]
pub struct Provisioned {
    pub tenant: Tenant,
    pub admin: Invitation,
}

/// Creates and migrates the tenant's schema, then registers the tenant, its first admin and the
/// audit event in one transaction: the tenant row appears only once everything it needs
/// exists. If any step fails, the half-made schema is dropped again.
pub async fn provision(
    db: &Database,
    slug: &str,
    name: &str,
    admin_email: &str,
    admin_name: &str,
) -> AppResult<Provisioned> {
    let slug = TenantSlug::parse(slug)?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("Tenant name must be 1 to 200 characters."));
    }
    let admin = NewMember::parse(admin_email, admin_name, Role::Admin.as_str())?;
    if find(db, &slug).await?.is_some() {
        return Err(AppError::conflict(format!("Tenant `{slug}` already exists.")));
    }

    let id = db.with_control(|conn| Box::pin(async move { repo::reserve_id(conn).await })).await?;
    let schema = SchemaName::for_tenant(id);
    let one_time_password = password::one_time();
    let hash = password::hash(one_time_password.clone()).await?;

    let result = async {
        migrate::migrate_tenant(db.url(), &schema).await?;
        let tenant = Tenant {
            id,
            slug,
            name,
            schema: schema.clone(),
            status: TenantStatus::Active,
            plan: Plan::Standard,
            mfa_policy: MfaPolicy::Off,
            allowlist: Vec::new(),
            sso_required: false,
            created_at: chrono::Utc::now(),
        };
        let scoped = tenant.clone();
        db.with_tenant(&tenant, move |conn| {
            Box::pin(async move {
                let tenant = repo::insert(conn, scoped.id, &scoped.slug, &scoped.name).await?;
                let source = AuditSource::command_line();
                let event = AuditEvent::success(AuditAction::TenantProvisioned, tenant.slug.to_string())
                    .details(json!({ "name": tenant.name, "schema": tenant.schema.as_str() }));
                record(conn, &source, event).await?;
                let admin = add_member(conn, tenant.id, &source, admin, one_time_password, &hash).await?;
                Ok(Provisioned { tenant, admin })
            })
        })
        .await
    }
    .await;
    if result.is_err() {
        drop_schema(db, &schema).await?;
    }
    result
}

async fn drop_schema(db: &Database, schema: &SchemaName) -> AppResult<()> {
    let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema.as_str());
    db.with_control(move |conn| Box::pin(async move { repo::execute_ddl(conn, &sql).await })).await
}

/// Removes a tenant with all its data: its row and memberships first (so no request can reach
/// it any more), then its schema. Accounts that belong to no tenant any more stay.
pub async fn remove(db: &Database, tenant: &Tenant) -> AppResult<()> {
    let id = tenant.id;
    db.with_control(move |conn| Box::pin(async move { repo::delete(conn, id).await })).await?;
    db.tenants().forget(id);
    drop_schema(db, &tenant.schema).await
}

/// Suspends or resumes a tenant; suspended tenants get a 403 page on every request.
pub async fn set_status(db: &Database, slug: &TenantSlug, status: TenantStatus) -> AppResult<Tenant> {
    let tenant = find_current(db, slug).await?;
    let id = tenant.id;
    db.with_control(move |conn| Box::pin(async move { repo::set_status(conn, id, status).await })).await?;
    db.tenants().forget(id);
    let action = match status {
        TenantStatus::Active => AuditAction::TenantResumed,
        TenantStatus::Suspended => AuditAction::TenantSuspended,
    };
    let target = tenant.slug.to_string();
    db.with_tenant(&tenant, move |conn| {
        Box::pin(async move {
            let event = AuditEvent::success(action, target);
            record(conn, &AuditSource::command_line(), event).await
        })
    })
    .await?;
    Ok(Tenant { status, ..tenant })
}

/// Moves a tenant to another plan (its API rate-limit tier follows at once).
pub async fn set_plan(db: &Database, slug: &TenantSlug, plan: Plan) -> AppResult<Tenant> {
    let tenant = find_current(db, slug).await?;
    let id = tenant.id;
    db.with_control(move |conn| Box::pin(async move { repo::set_plan(conn, id, plan).await })).await?;
    db.tenants().forget(id);
    let target = tenant.slug.to_string();
    let from = tenant.plan.as_str();
    db.with_tenant(&tenant, move |conn| {
        Box::pin(async move {
            let event = AuditEvent::success(AuditAction::TenantPlanChanged, target)
                .details(json!({ "from": from, "to": plan.as_str() }));
            record(conn, &AuditSource::command_line(), event).await
        })
    })
    .await?;
    Ok(Tenant { plan, ..tenant })
}

/// Brings every tenant schema up to date; the server runs this before serving traffic.
pub async fn migrate_all(db: &Database) -> AppResult<Vec<(Tenant, usize)>> {
    let mut applied = Vec::new();
    for tenant in list(db).await? {
        let count = migrate::migrate_tenant(db.url(), &tenant.schema).await?;
        applied.push((tenant, count));
    }
    Ok(applied)
}

/// An admin sets who must use a second factor; members it now covers are asked to enrol at
/// their next request.
pub async fn set_mfa_policy(db: &Database, tenant: &Tenant, source: AuditSource, policy: MfaPolicy) -> AppResult<()> {
    if tenant.mfa_policy == policy {
        return Ok(());
    }
    let (id, from) = (tenant.id, tenant.mfa_policy.as_str());
    let target = tenant.slug.to_string();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::set_mfa_policy(conn, id, policy).await?;
            let event = AuditEvent::success(AuditAction::TenantMfaPolicyChanged, target)
                .details(json!({ "from": from, "to": policy.as_str() }));
            record(conn, &source, event).await
        })
    })
    .await?;
    db.tenants().forget(id);
    Ok(())
}

/// Operator escape hatch (`server tenant clear-allowlist`) for a tenant whose admins shut
/// themselves out; audited in the tenant's log.
pub async fn clear_allowlist(db: &Database, slug: &TenantSlug) -> AppResult<usize> {
    let tenant = find_current(db, slug).await?;
    let (id, removed) = (tenant.id, tenant.allowlist.len());
    let target = tenant.slug.to_string();
    db.with_tenant(&tenant, move |conn| {
        Box::pin(async move {
            repo::set_allowlist(conn, id, &[]).await?;
            let event =
                AuditEvent::success(AuditAction::AllowlistCleared, target).details(json!({ "removed": removed }));
            record(conn, &AuditSource::command_line(), event).await
        })
    })
    .await?;
    db.tenants().forget(id);
    Ok(removed)
}
