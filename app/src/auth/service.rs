//! Use cases of accounts and memberships. Each runs in one tenant-scoped transaction that
//! also writes its audit event.

use serde_json::json;
use uuid::Uuid;

use super::model::{normalize_email, Invitation, Member, MemberStatus, Principal, Role};
use super::{password, repo};
use crate::audit::model::Severity;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::tenancy::model::{Tenant, TenantId};

pub async fn sign_in(
    db: &Database,
    tenant: &Tenant,
    email: &str,
    password: &str,
    source: AuditSource,
) -> AppResult<Principal> {
    let email = normalize_email(email).map_err(|_| AppError::InvalidCredentials)?;
    let tenant_id = tenant.id;
    let lookup = email.clone();
    let row = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { repo::find_by_email(conn, tenant_id, &lookup).await.map_err(AppError::from) })
        })
        .await?;
    let stored_hash = row.as_ref().filter(|r| r.is_active()).and_then(|r| r.password_hash.clone());
    let verified = password::verify(password.to_owned(), stored_hash).await;

    let outcome = match row.filter(|_| verified) {
        Some(row) => Ok(row.principal()?),
        None => Err(AppError::InvalidCredentials),
    };
    let source =
        AuditSource { actor_user_id: outcome.as_ref().ok().map(|p| p.user_id), actor: email.clone(), ..source };
    let event = match &outcome {
        Ok(_) => AuditEvent::success("auth.login", email),
        Err(_) => AuditEvent::failure("auth.login", email),
    };
    db.with_tenant(tenant, move |conn| Box::pin(async move { record(conn, &source, event).await })).await?;
    outcome
}

pub async fn sign_out(db: &Database, tenant: &Tenant, source: AuditSource) -> AppResult<()> {
    let target = source.actor.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { record(conn, &source, AuditEvent::success("auth.logout", target)).await })
    })
    .await
}

/// The active member behind a session, if the membership still exists and is active.
pub async fn active_principal(db: &Database, tenant: &Tenant, user_id: Uuid) -> AppResult<Option<Principal>> {
    let tenant_id = tenant.id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            match repo::find_by_id(conn, tenant_id, user_id).await? {
                Some(row) if row.is_active() => Ok(Some(row.principal()?)),
                _ => Ok(None),
            }
        })
    })
    .await
}

pub async fn list_members(db: &Database, tenant: &Tenant) -> AppResult<Vec<Member>> {
    let tenant_id = tenant.id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { repo::list(conn, tenant_id).await?.iter().map(repo::MemberRow::member).collect() })
    })
    .await
}

/// Validated input for adding a member.
pub struct NewMember {
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

impl NewMember {
    pub fn parse(email: &str, display_name: &str, role: &str) -> AppResult<Self> {
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 200 {
            return Err(AppError::Invalid("Name must be 1 to 200 characters.".into()));
        }
        Ok(Self { email: normalize_email(email)?, display_name: display_name.to_owned(), role: Role::parse(role)? })
    }
}

pub async fn invite(db: &Database, tenant: &Tenant, source: AuditSource, member: NewMember) -> AppResult<Invitation> {
    let one_time_password = password::one_time();
    let hash = password::hash(one_time_password.clone()).await?;
    let tenant_id = tenant.id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { add_member(conn, tenant_id, &source, member, one_time_password, &hash).await })
    })
    .await
}

/// Adds a member inside the caller's tenant transaction (invitations and provisioning).
pub async fn add_member(
    conn: &mut Connection,
    tenant_id: TenantId,
    source: &AuditSource,
    member: NewMember,
    one_time_password: String,
    password_hash: &str,
) -> AppResult<Invitation> {
    let (user_id, created) = match repo::find_user_id(conn, &member.email).await? {
        Some(id) => (id, false),
        None => {
            let id = Uuid::new_v4();
            repo::insert_user(conn, id, &member.email, &member.display_name, password_hash).await?;
            (id, true)
        }
    };
    if !repo::insert_membership(conn, tenant_id, user_id, member.role).await? {
        return Err(AppError::Conflict(format!("{} is already a member.", member.email)));
    }
    let event = AuditEvent::success("user.invited", member.email.clone())
        .severity(Severity::Notice)
        .details(json!({ "role": member.role.as_str(), "new_account": created }));
    record(conn, source, event).await?;
    Ok(Invitation { email: member.email, one_time_password: created.then_some(one_time_password) })
}

pub async fn change_role(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
    role: Role,
) -> AppResult<()> {
    let tenant_id = tenant.id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let current = member_for_update(conn, tenant_id, user_id).await?;
            if current.role == role {
                return Ok(());
            }
            if current.role == Role::Admin {
                ensure_another_admin(conn, tenant_id, user_id).await?;
            }
            repo::update_role(conn, tenant_id, user_id, role).await?;
            let event = AuditEvent::success("user.role_changed", current.email)
                .severity(Severity::Notice)
                .details(json!({ "from": current.role.as_str(), "to": role.as_str() }));
            record(conn, &source, event).await
        })
    })
    .await
}

pub async fn deactivate(db: &Database, tenant: &Tenant, source: AuditSource, user_id: Uuid) -> AppResult<()> {
    let tenant_id = tenant.id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let current = member_for_update(conn, tenant_id, user_id).await?;
            if current.status == MemberStatus::Deactivated {
                return Ok(());
            }
            if current.role == Role::Admin {
                ensure_another_admin(conn, tenant_id, user_id).await?;
            }
            repo::update_status(conn, tenant_id, user_id, MemberStatus::Deactivated).await?;
            let event = AuditEvent::success("user.deactivated", current.email).severity(Severity::Notice);
            record(conn, &source, event).await
        })
    })
    .await
}

async fn member_for_update(conn: &mut Connection, tenant_id: TenantId, user_id: Uuid) -> AppResult<Member> {
    repo::find_by_id(conn, tenant_id, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("User not found.".into()))?
        .member()
}

/// A tenant must keep at least one active admin, or nobody could manage it.
async fn ensure_another_admin(conn: &mut Connection, tenant_id: TenantId, leaving: Uuid) -> AppResult<()> {
    let admins = repo::lock_active_admins(conn, tenant_id).await?;
    if admins.iter().any(|id| *id != leaving) {
        Ok(())
    } else {
        Err(AppError::Conflict("The tenant needs at least one active admin.".into()))
    }
}
