//! GDPR in one tenant: a member's export (Art. 15 and 20) and an admin's erasure of a member
//! (Art. 17). Both stay inside the tenant asking: another tenant the person belongs to keeps
//! everything it holds, and the account itself goes only with its last membership.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::model::ErasureReport;
use super::repo::{self, ApiRequest};
use crate::access::repo as access;
use crate::audit::archive_erasure;
use crate::audit::erasure::{self, Person, Pseudonym};
use crate::audit::model::{AuditAction, AuditDetail};
use crate::audit::repo as audit;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::{Principal, Role};
use crate::auth::{repo as members, service as auth, session_registry};
use crate::catalog::teams;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenancy::model::Tenant;

/// Everything the export holds but the two lists that can be long (the person's API requests
/// and audit events), which it streams page by page; and the ids of the person's keys, whose
/// requests it streams.
pub struct ExportSummary {
    pub document: Value,
    pub key_ids: Vec<Uuid>,
}

/// Reads the person's records and audits the download.
pub async fn export_summary(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
) -> AppResult<ExportSummary> {
    let (tenant_id, user, email) = (tenant.id, me.user_id, me.email.clone());
    let sessions = session_registry::list(&state.redis, &state.session_policy, tenant_id, user, "").await?;
    let sessions: Vec<Value> = sessions
        .into_iter()
        .map(|s| {
            json!({ "device": s.device, "user_agent": s.user_agent, "ip": s.ip,
                    "signed_in_at": s.signed_in_at, "last_seen_at": s.last_seen_at })
        })
        .collect();
    let (tenant_slug, tenant_name) = (tenant.slug.as_str().to_owned(), tenant.name.clone());
    state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let profile = repo::profile(conn, user).await?;
                let member = members::find_by_id(conn, tenant_id, user)
                    .await?
                    .ok_or_else(|| AppError::not_found("You are not a member of this tenant."))?;
                let recovery_codes_left = members::unused_recovery_codes(conn, user).await?;
                let keys = access::list_keys(conn, Some(user)).await?;
                let key_ids = keys.iter().map(|k| k.id).collect();
                let keys: Vec<Value> = keys
                    .into_iter()
                    .map(|k| {
                        json!({ "id": k.id, "name": k.name, "prefix": format!("bcn_{}", k.prefix), "scopes": k.scopes,
                                "created_at": k.created_at, "expires_at": k.expires_at, "last_used_at": k.last_used_at,
                                "last_used_ip": k.last_used_ip, "revoked_at": k.revoked_at })
                    })
                    .collect();
                let document = json!({
                    "format": "beacon-account-export-v1",
                    "exported_at": Utc::now().trunc_subsecs(0),
                    "tenant": { "slug": tenant_slug, "name": tenant_name },
                    "profile": profile,
                    "membership": { "role": member.role.as_str(), "status": member.status, "joined_at": member.joined_at },
                    "password_set": member.password_hash.is_some(),
                    "recovery_codes_left": recovery_codes_left,
                    "sessions": sessions,
                    "api_keys": keys,
                    "sso_identities": repo::sso_identities(conn, user).await?,
                    "oauth_clients_created": repo::clients_created_by(conn, user).await?,
                    "records_created": repo::created_by(conn, &email).await?,
                });
                let event = AuditEvent::success(AuditAction::AccountExported, email.clone());
                record(conn, &source, event).await?;
                Ok(ExportSummary { document, key_ids })
            })
        })
        .await
}

/// A page of one key's requests, newest first, and where the next page starts.
pub async fn export_requests(
    db: &Database,
    tenant: &Tenant,
    key: Uuid,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> AppResult<(Vec<ApiRequest>, Option<(DateTime<Utc>, i64)>)> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let page = repo::key_requests(conn, key, before, limit).await?;
            let next = page.last().filter(|_| page.len() as i64 == limit).map(|r| (r.at, r.id));
            Ok((page, next))
        })
    })
    .await
}

/// A page of the audit events that name the person, newest first, and the id the next page
/// reads below.
pub async fn export_events(
    db: &Database,
    tenant: &Tenant,
    me: &Principal,
    before: Option<i64>,
    limit: i64,
) -> AppResult<(Vec<AuditDetail>, Option<i64>)> {
    let (user, email) = (me.user_id, me.email.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let page = audit::naming_page(conn, user, &email, before, limit).await?;
            let next = page.last().filter(|_| page.len() as i64 == limit).map(|e| e.record.id);
            Ok((page, next))
        })
    })
    .await
}

/// Erases a member from this tenant, in one transaction: the audit events that name them now
/// name a pseudonym (the chain still verifies), their keys, request log and single sign-on
/// links are deleted, what they created is credited to the pseudonym, the membership goes, and
/// the account too when no other tenant has it, and every archived month of the audit log is
/// queued to be written again without them. `confirm` must repeat the member's email. Then
/// every session ends and the archiver starts on the archived months. The erasure itself is
/// audited, under the pseudonym.
pub async fn erase(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
    confirm: &str,
) -> AppResult<ErasureReport> {
    if source.actor_user_id == Some(user_id) {
        return Err(AppError::invalid("You cannot erase yourself: ask another admin."));
    }
    let tenant_id = tenant.id;
    let confirm = confirm.trim().to_lowercase();
    let pseudonym = Pseudonym::new();
    let recorded_by = source.clone();
    let keyring = state.keyring.clone();
    let mut report = state
        .db
        .with_tenant(tenant, {
            let pseudonym = pseudonym.clone();
            move |conn| {
                Box::pin(async move {
                    let member = members::find_by_id(conn, tenant_id, user_id)
                        .await?
                        .ok_or_else(|| AppError::not_found("User not found."))?;
                    if confirm != member.email {
                        return Err(AppError::invalid(format!("Type {} to confirm the erasure.", member.email)));
                    }
                    if member.role == Role::Admin && member.is_active() {
                        auth::ensure_another_admin(conn, tenant_id, user_id).await?;
                    }
                    let person =
                        Person { user_id, email: member.email.clone(), display_name: member.display_name.clone() };
                    let archived_months_queued =
                        archive_erasure::queue_erasure(conn, &keyring, tenant_id.0, &person, &pseudonym).await?;
                    let events = erasure::erase(conn, &person, &pseudonym).await?;
                    let cleaned = repo::clean(
                        conn,
                        user_id,
                        (&person.email, &person.display_name),
                        (&pseudonym.name, pseudonym.user_id),
                    )
                    .await?;
                    let catalog_mentions: Vec<String> =
                        teams::naming_email(conn, &person.email).await?.into_iter().map(|(r, _)| r).collect();
                    members::delete_membership(conn, tenant_id, user_id).await?;
                    let account_deleted = members::membership_count(conn, user_id).await? == 0;
                    if account_deleted {
                        repo::delete_account(conn, user_id).await?;
                    }
                    let report = ErasureReport {
                        pseudonym: pseudonym.name.clone(),
                        audit_events_pseudonymised: events,
                        archived_months_queued,
                        api_keys_deleted: cleaned.api_keys,
                        api_requests_deleted: cleaned.api_requests,
                        sso_identities_deleted: cleaned.sso_identities,
                        records_reattributed: cleaned.reattributed,
                        sessions_ended: 0,
                        account_deleted,
                        catalog_mentions,
                    };
                    let event = AuditEvent::success(AuditAction::UserErased, pseudonym.name.clone())
                        .details(erasure_details(&report));
                    record(conn, &source, event).await?;
                    Ok(report)
                })
            }
        })
        .await?;
    // The erasure has committed: the archived months go ahead whatever happens to the sessions.
    if report.archived_months_queued > 0 {
        state.archiver().pass_soon(tenant.clone());
    }
    // The membership is gone, so no session of theirs is honoured any more; ending them
    // frees the store. Recorded under the pseudonym, never the email.
    report.sessions_ended =
        auth::end_sessions(&state.db, &state.redis, tenant, recorded_by, (user_id, pseudonym.name), None, "erased")
            .await?;
    Ok(report)
}

fn erasure_details(report: &ErasureReport) -> Value {
    json!({
        "audit_events_pseudonymised": report.audit_events_pseudonymised,
        "archived_months_queued": report.archived_months_queued,
        "api_keys_deleted": report.api_keys_deleted,
        "api_requests_deleted": report.api_requests_deleted,
        "sso_identities_deleted": report.sso_identities_deleted,
        "records_reattributed": report.records_reattributed,
        "account_deleted": report.account_deleted,
        // How many, not which: an entity's name can be the person's.
        "catalog_mentions": report.catalog_mentions.len(),
    })
}
