//! Use cases of accounts and memberships. Each runs in one tenant-scoped transaction that
//! also writes its audit event.

use crate::audit::model::AuditAction;
use serde_json::json;
use uuid::Uuid;

use super::model::{normalize_email, Invitation, Member, MemberStatus, Principal, Role};
use super::{password, repo, session_registry, throttle};
use crate::audit::service::{record, record_alone, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::state::RedisPool;
use crate::tenancy::model::{Tenant, TenantId};

/// Checks a password sign-in behind the brute-force throttle. Unknown accounts, wrong
/// passwords and deactivated members all get the same answer in the same time; throttled and
/// locked attempts are refused before the password is even checked, and all of it is audited.
pub async fn sign_in(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    email: &str,
    password: &str,
    source: AuditSource,
) -> AppResult<Principal> {
    let email = normalize_email(email).map_err(|_| AppError::InvalidCredentials)?;
    let ip = source.ip.clone();
    let audit = |event: AuditEvent, user: Option<Uuid>| {
        let source = AuditSource { actor_user_id: user, actor: email.clone(), ..source.clone() };
        record_alone(db, tenant, source, event)
    };

    let gate = throttle::gate(redis, tenant.id, &email, ip.as_deref()).await?;
    if let Some(refusal) = gate.refusal() {
        let event = AuditEvent::failure(AuditAction::AuthLogin, email.clone())
            .details(json!({ "reason": format!("{gate:?}") }));
        audit(event, None).await?;
        return Err(refusal);
    }

    let tenant_id = tenant.id;
    let lookup = email.clone();
    let row = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { repo::find_by_email(conn, tenant_id, &lookup).await.map_err(AppError::from) })
        })
        .await?;
    let stored_hash = row.as_ref().filter(|r| r.is_active()).and_then(|r| r.password_hash.clone());
    let verified = password::verify(password.to_owned(), stored_hash).await;

    match row.filter(|_| verified) {
        Some(row) => {
            let principal = row.principal()?;
            if tenant.sso_required && principal.role != Role::Admin {
                let event = AuditEvent::failure(AuditAction::AuthLogin, email.clone())
                    .details(json!({ "reason": "single sign-on required" }));
                audit(event, Some(principal.user_id)).await?;
                return Err(AppError::Invalid(
                    "Your organisation signs in with single sign-on: use the “Sign in with …” button.".into(),
                ));
            }
            throttle::record_success(redis, tenant.id, &email).await?;
            audit(AuditEvent::success(AuditAction::AuthLogin, email.clone()), Some(principal.user_id)).await?;
            Ok(principal)
        }
        None => {
            let source = AuditSource { actor_user_id: None, actor: email.clone(), ..source };
            record_failed_attempt(db, redis, tenant, source, AuditAction::AuthLogin, "invalid credentials").await?;
            Err(AppError::InvalidCredentials)
        }
    }
}

/// Counts a failed sign-in step (a wrong password or code) against the throttle of the
/// account named by `source.actor` and of its address, and audits it with the lock it caused.
pub(crate) async fn record_failed_attempt(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    action: AuditAction,
    reason: &str,
) -> AppResult<()> {
    let email = source.actor.clone();
    let failure = throttle::record_failure(redis, tenant.id, &email, source.ip.as_deref()).await?;
    let event = AuditEvent::failure(action, email.clone())
        .details(json!({ "reason": reason, "failures": failure.account_failures }));
    record_alone(db, tenant, source.clone(), event).await?;
    if failure.account_locked || failure.address_locked {
        let subject = if failure.account_locked { "account" } else { "address" };
        let event = AuditEvent::failure(AuditAction::AuthLocked, email)
            .details(json!({ "locked": subject, "ip": source.ip, "minutes": 15 }));
        record_alone(db, tenant, source, event).await?;
    }
    Ok(())
}

pub async fn sign_out(db: &Database, tenant: &Tenant, source: AuditSource) -> AppResult<()> {
    let target = source.actor.clone();
    record_alone(db, tenant, source, AuditEvent::success(AuditAction::AuthLogout, target)).await
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
            return Err(AppError::invalid("Name must be 1 to 200 characters."));
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
            repo::insert_user(conn, id, &member.email, &member.display_name, Some(password_hash)).await?;
            (id, true)
        }
    };
    if !repo::insert_membership(conn, tenant_id, user_id, member.role).await? {
        return Err(AppError::conflict(format!("{} is already a member.", member.email)));
    }
    let event = AuditEvent::success(AuditAction::UserInvited, member.email.clone())
        .details(json!({ "role": member.role.as_str(), "new_account": created }));
    record(conn, source, event).await?;
    Ok(Invitation { email: member.email, one_time_password: created.then_some(one_time_password) })
}

/// Changes a member's role and ends their sessions, so the new role starts with a new sign-in.
pub async fn change_role(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
    role: Role,
) -> AppResult<()> {
    let tenant_id = tenant.id;
    let changed: Option<String> = db
        .with_tenant(tenant, {
            let source = source.clone();
            move |conn| {
                Box::pin(async move {
                    let current = member_for_update(conn, tenant_id, user_id).await?;
                    if current.role == role {
                        return Ok::<_, AppError>(None);
                    }
                    if current.role == Role::Admin {
                        ensure_another_admin(conn, tenant_id, user_id).await?;
                    }
                    repo::update_role(conn, tenant_id, user_id, role).await?;
                    let event = AuditEvent::success(AuditAction::UserRoleChanged, current.email.clone())
                        .details(json!({ "from": current.role.as_str(), "to": role.as_str() }));
                    record(conn, &source, event).await?;
                    Ok(Some(current.email))
                })
            }
        })
        .await?;
    match changed {
        Some(email) => end_sessions(db, redis, tenant, source, (user_id, email), None, "role changed").await.map(drop),
        None => Ok(()),
    }
}

/// Deactivates a member and ends their sessions at once.
pub async fn deactivate(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
) -> AppResult<()> {
    let tenant_id = tenant.id;
    let deactivated: Option<String> = db
        .with_tenant(tenant, {
            let source = source.clone();
            move |conn| {
                Box::pin(async move {
                    let current = member_for_update(conn, tenant_id, user_id).await?;
                    if current.status == MemberStatus::Deactivated {
                        return Ok::<_, AppError>(None);
                    }
                    if current.role == Role::Admin {
                        ensure_another_admin(conn, tenant_id, user_id).await?;
                    }
                    repo::update_status(conn, tenant_id, user_id, MemberStatus::Deactivated).await?;
                    let event = AuditEvent::success(AuditAction::UserDeactivated, current.email.clone());
                    record(conn, &source, event).await?;
                    Ok(Some(current.email))
                })
            }
        })
        .await?;
    match deactivated {
        Some(email) => end_sessions(db, redis, tenant, source, (user_id, email), None, "deactivated").await.map(drop),
        None => Ok(()),
    }
}

/// Ends one of the member's own sessions (Account → Sessions).
pub async fn end_session(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    handle: &str,
) -> AppResult<()> {
    if !session_registry::end(redis, tenant.id, me.user_id, handle).await? {
        return Err(AppError::not_found("That session has already ended."));
    }
    let event = AuditEvent::success(AuditAction::SessionRevoked, me.email.clone());
    record_alone(db, tenant, source, event).await
}

/// An admin signs a member out everywhere in this tenant (ASVS 7.4.5).
pub async fn end_member_sessions(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
) -> AppResult<usize> {
    let tenant_id = tenant.id;
    let member = db
        .with_tenant(tenant, move |conn| Box::pin(async move { member_for_update(conn, tenant_id, user_id).await }))
        .await?;
    end_sessions(db, redis, tenant, source, (user_id, member.email), None, "ended by an admin").await
}

/// Ends every session of a member in this tenant but `keep`, and audits why. The member's
/// access changed, so this server's verified copies of their API keys go too (other servers
/// hear of the change from PostgreSQL, see `access::verified`).
pub async fn end_sessions(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    (user_id, email): (Uuid, String),
    keep: Option<&str>,
    reason: &'static str,
) -> AppResult<usize> {
    db.verified_keys().forget_user(user_id);
    let ended = session_registry::end_all(redis, tenant.id, user_id, keep).await?;
    if ended > 0 {
        let event = AuditEvent::success(AuditAction::SessionRevokedAll, email)
            .details(json!({ "sessions": ended, "reason": reason }));
        record_alone(db, tenant, source, event).await?;
    }
    Ok(ended)
}

async fn member_for_update(conn: &mut Connection, tenant_id: TenantId, user_id: Uuid) -> AppResult<Member> {
    repo::find_by_id(conn, tenant_id, user_id).await?.ok_or_else(|| AppError::not_found("User not found."))?.member()
}

/// A tenant must keep at least one active admin, or nobody could manage it.
pub(crate) async fn ensure_another_admin(conn: &mut Connection, tenant_id: TenantId, leaving: Uuid) -> AppResult<()> {
    let admins = repo::lock_active_admins(conn, tenant_id).await?;
    if admins.iter().any(|id| *id != leaving) {
        Ok(())
    } else {
        Err(AppError::conflict("The tenant needs at least one active admin."))
    }
}

/// An active member named by user id or email, for permission questions about someone else.
pub async fn find_principal(db: &Database, tenant: &Tenant, who: &str) -> AppResult<Option<Principal>> {
    let tenant_id = tenant.id;
    let who = who.trim().to_owned();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let row = match Uuid::parse_str(&who) {
                Ok(id) => repo::find_by_id(conn, tenant_id, id).await?,
                Err(_) => repo::find_by_email(conn, tenant_id, &who.to_ascii_lowercase()).await?,
            };
            row.filter(repo::MemberRow::is_active).map(|r| r.principal()).transpose()
        })
    })
    .await
}

/// Validated input of the change-password form.
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

impl PasswordChange {
    pub fn parse(current: String, new: String, confirm: &str) -> AppResult<Self> {
        if new != confirm {
            return Err(AppError::invalid("The new passwords do not match."));
        }
        if new == current {
            return Err(AppError::invalid("Choose a new password, not the current one."));
        }
        Ok(Self { current, new })
    }
}

/// A member changes their own password; the current one is required (ASVS 6.2.3).
/// Every other session of the member ends; `current` (the handle of the session making the
/// change) stays signed in (ASVS 7.4.3).
pub async fn change_password(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    current_session: &str,
    change: PasswordChange,
) -> AppResult<()> {
    password::check_policy(&change.new, &me.email)?;
    let (tenant_id, user_id) = (tenant.id, me.user_id);
    let stored = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                Ok::<_, AppError>(repo::find_by_id(conn, tenant_id, user_id).await?.and_then(|r| r.password_hash))
            })
        })
        .await?;
    if !password::verify(change.current, stored).await {
        let event = AuditEvent::failure(AuditAction::AuthPasswordChange, me.email.clone())
            .details(json!({ "reason": "wrong current password" }));
        record_alone(db, tenant, source, event).await?;
        return Err(AppError::invalid("Your current password is not correct."));
    }
    let hash = password::hash(change.new).await?;
    let target = me.email.clone();
    let audit_source = source.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::set_password(conn, user_id, &hash, false).await?;
            record(conn, &source, AuditEvent::success(AuditAction::AuthPasswordChange, target)).await
        })
    })
    .await?;
    end_sessions(
        db,
        redis,
        tenant,
        audit_source,
        (user_id, me.email.clone()),
        Some(current_session),
        "password changed",
    )
    .await
    .map(drop)
}

/// An admin resets a member's password: a one-time password to hand over, which must be
/// changed at the next sign-in. Accounts that also belong to other tenants are refused: their
/// password is not this tenant's to reset.
pub async fn reset_password(
    db: &Database,
    redis: &RedisPool,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
) -> AppResult<Invitation> {
    let one_time_password = password::one_time();
    let hash = password::hash(one_time_password.clone()).await?;
    let tenant_id = tenant.id;
    let audit_source = source.clone();
    let invitation = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let member = member_for_update(conn, tenant_id, user_id).await?;
                if repo::membership_count(conn, user_id).await? > 1 {
                    return Err(AppError::conflict(format!(
                        "{} also belongs to other organisations, so only they can change their password.",
                        member.email
                    )));
                }
                repo::set_password(conn, user_id, &hash, true).await?;
                let event = AuditEvent::success(AuditAction::UserPasswordReset, member.email.clone());
                record(conn, &source, event).await?;
                Ok(Invitation { email: member.email, one_time_password: Some(one_time_password) })
            })
        })
        .await?;
    // Whoever holds a session with the old password loses it (ASVS 7.4.3).
    end_sessions(db, redis, tenant, audit_source, (user_id, invitation.email.clone()), None, "password reset").await?;
    Ok(invitation)
}
