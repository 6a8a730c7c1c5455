//! Diesel queries on `control.tenants`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{AllowRule, MfaPolicy, Plan, SchemaName, Tenant, TenantId, TenantSlug, TenantStatus};
use crate::db::schema::tenants;
use crate::db::Connection;
use crate::error::AppError;

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants)]
struct TenantRow {
    id: i64,
    slug: String,
    name: String,
    schema_name: String,
    status: String,
    plan: String,
    mfa_policy: String,
    ip_allowlist: serde_json::Value,
    sso_required: bool,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = AppError;

    fn try_from(row: TenantRow) -> Result<Self, AppError> {
        Ok(Tenant {
            id: TenantId(row.id),
            slug: TenantSlug::parse(&row.slug)?,
            name: row.name,
            schema: SchemaName::parse(&row.schema_name)?,
            status: TenantStatus::parse(&row.status)?,
            plan: Plan::parse(&row.plan)?,
            mfa_policy: MfaPolicy::parse(&row.mfa_policy)?,
            allowlist: serde_json::from_value(row.ip_allowlist).map_err(AppError::internal)?,
            sso_required: row.sso_required,
            created_at: row.created_at,
        })
    }
}

pub async fn find_by_slug(conn: &mut Connection, slug: &TenantSlug) -> Result<Option<Tenant>, AppError> {
    tenants::table
        .filter(tenants::slug.eq(slug.as_str()))
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Tenant::try_from)
        .transpose()
}

pub async fn list(conn: &mut Connection) -> Result<Vec<Tenant>, AppError> {
    tenants::table
        .order(tenants::slug)
        .select(TenantRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(Tenant::try_from)
        .collect()
}

/// Reserves the id (and so the schema name) of a tenant before its row exists, so the schema
/// can be migrated first and the row only appears once the tenant is usable.
pub async fn reserve_id(conn: &mut Connection) -> Result<TenantId, AppError> {
    #[derive(QueryableByName)]
    struct Reserved {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let reserved: Reserved = diesel::sql_query("SELECT nextval(pg_get_serial_sequence('control.tenants', 'id')) AS id")
        .get_result(conn)
        .await?;
    Ok(TenantId(reserved.id))
}

pub async fn insert(conn: &mut Connection, id: TenantId, slug: &TenantSlug, name: &str) -> Result<Tenant, AppError> {
    diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(id.0),
            tenants::slug.eq(slug.as_str()),
            tenants::name.eq(name),
            tenants::schema_name.eq(SchemaName::for_tenant(id).as_str()),
        ))
        .returning(TenantRow::as_returning())
        .get_result(conn)
        .await?
        .try_into()
}

pub async fn set_status(conn: &mut Connection, id: TenantId, status: TenantStatus) -> Result<(), AppError> {
    diesel::update(tenants::table.find(id.0)).set(tenants::status.eq(status.as_str())).execute(conn).await?;
    Ok(())
}

pub async fn set_plan(conn: &mut Connection, id: TenantId, plan: Plan) -> Result<(), AppError> {
    diesel::update(tenants::table.find(id.0)).set(tenants::plan.eq(plan.as_str())).execute(conn).await?;
    Ok(())
}

pub async fn set_mfa_policy(conn: &mut Connection, id: TenantId, policy: MfaPolicy) -> Result<(), AppError> {
    diesel::update(tenants::table.find(id.0)).set(tenants::mfa_policy.eq(policy.as_str())).execute(conn).await?;
    Ok(())
}

pub async fn set_sso_required(conn: &mut Connection, id: TenantId, required: bool) -> Result<(), AppError> {
    diesel::update(tenants::table.find(id.0)).set(tenants::sso_required.eq(required)).execute(conn).await?;
    Ok(())
}

/// The tenant's allowlist, locked until the transaction ends.
pub async fn lock_allowlist(conn: &mut Connection, id: TenantId) -> Result<Vec<AllowRule>, AppError> {
    let raw: serde_json::Value =
        tenants::table.find(id.0).select(tenants::ip_allowlist).for_update().first(conn).await?;
    serde_json::from_value(raw).map_err(AppError::internal)
}

pub async fn set_allowlist(conn: &mut Connection, id: TenantId, rules: &[AllowRule]) -> Result<(), AppError> {
    let rules = serde_json::to_value(rules).map_err(AppError::internal)?;
    diesel::update(tenants::table.find(id.0)).set(tenants::ip_allowlist.eq(rules)).execute(conn).await?;
    Ok(())
}

pub async fn delete(conn: &mut Connection, id: TenantId) -> Result<(), AppError> {
    diesel::delete(tenants::table.find(id.0)).execute(conn).await?;
    Ok(())
}

/// Runs DDL built from validated identifiers only (see `SchemaName`).
pub async fn execute_ddl(conn: &mut Connection, sql: &str) -> Result<(), AppError> {
    diesel::sql_query(sql).execute(conn).await?;
    Ok(())
}
