//! Second factor use cases (ASVS 6.5.x): enrolment with a confirmation code, the sign-in
//! challenge, recovery codes and turning it off. Every outcome is audited; wrong codes count
//! towards the same sign-in throttle as wrong passwords.

use crate::audit::model::AuditAction;
use serde_json::json;
use uuid::Uuid;

use super::model::{MfaEnrolment, MfaOverview, Principal};
use super::service::record_failed_attempt;
use super::{repo, throttle, totp};
use crate::audit::service::{record, record_alone, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::keyring::{Keyring, Purpose};
use crate::state::AppState;
use crate::tenancy::model::Tenant;

const WRONG_CODE: &str = "That code is not valid. Use the current code from your app, or a recovery code.";

/// What the enrolment page shows for a secret that is not confirmed yet.
pub fn enrolment(tenant: &Tenant, me: &Principal, secret: &[u8]) -> AppResult<MfaEnrolment> {
    let issuer = format!("Beacon ({})", tenant.name);
    let uri = totp::provisioning_uri(&issuer, &me.email, secret);
    let encoded = totp::base32(secret);
    let grouped: Vec<&str> = encoded.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    Ok(MfaEnrolment { qr_svg: totp::qr_svg(&uri)?, secret: grouped.join(" ") })
}

pub async fn overview(db: &Database, tenant: &Tenant, me: &Principal) -> AppResult<MfaOverview> {
    let (tenant_id, user_id) = (tenant.id, me.user_id);
    let (enabled_since, left) = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let row = repo::find_by_id(conn, tenant_id, user_id).await?.ok_or(AppError::Unauthenticated)?;
                Ok::<_, AppError>((row.totp_enabled_at, repo::unused_recovery_codes(conn, user_id).await?))
            })
        })
        .await?;
    Ok(MfaOverview {
        enabled_since,
        recovery_codes_left: left,
        required: tenant.mfa_policy.requires(me.role),
        enrolment: None,
        new_recovery_codes: None,
    })
}

fn context(user_id: Uuid) -> [u8; 16] {
    // Binds the ciphertext to its account: copied to another row it does not decrypt.
    *user_id.as_bytes()
}

/// Confirms an enrolment with a code from the app; returns the recovery codes to show once.
pub async fn confirm(
    db: &Database,
    keyring: &Keyring,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    secret: Vec<u8>,
    code: &str,
) -> AppResult<Vec<String>> {
    let now_step = totp::step_at(chrono::Utc::now().timestamp());
    let Some(step) = totp::matching_step(&secret, code, now_step, None) else {
        let event =
            AuditEvent::failure(AuditAction::MfaEnrol, me.email.clone()).details(json!({ "reason": "wrong code" }));
        record_alone(db, tenant, source, event).await?;
        return Err(AppError::invalid("That code does not match. Check the time on your device and try again."));
    };
    let sealed = keyring.seal(Purpose::TotpSecret, &secret, &context(me.user_id))?;
    let codes = totp::new_recovery_codes();
    let hashes = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    let (tenant_id, user_id, email) = (tenant.id, me.user_id, me.email.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let row = repo::find_by_id(conn, tenant_id, user_id).await?.ok_or(AppError::Unauthenticated)?;
            if row.totp_enabled_at.is_some() {
                return Err(AppError::conflict("Two-factor authentication is already on."));
            }
            repo::enable_totp(conn, user_id, &sealed, step).await?;
            repo::replace_recovery_codes(conn, user_id, hashes).await?;
            let event = AuditEvent::success(AuditAction::MfaEnrol, email);
            record(conn, &source, event).await
        })
    })
    .await?;
    Ok(codes)
}

/// How a code checked out.
#[derive(Debug, PartialEq, Eq)]
enum Accepted {
    Totp,
    RecoveryCode { left: i64 },
}

/// Checks a TOTP or recovery code and uses it up, inside the caller's transaction.
async fn accept_code(
    conn: &mut Connection,
    keyring: &Keyring,
    user_id: Uuid,
    input: &str,
) -> AppResult<Option<Accepted>> {
    if totp::is_recovery_code(input) {
        if !repo::use_recovery_code(conn, user_id, &totp::recovery_code_hash(input)).await? {
            return Ok(None);
        }
        return Ok(Some(Accepted::RecoveryCode { left: repo::unused_recovery_codes(conn, user_id).await? }));
    }
    let Some((sealed, last_step)) = repo::totp_secret(conn, user_id).await? else {
        return Ok(None);
    };
    let secret = keyring.open(Purpose::TotpSecret, &sealed, &context(user_id))?;
    let now_step = totp::step_at(chrono::Utc::now().timestamp());
    match totp::matching_step(&secret, input, now_step, last_step) {
        Some(step) if repo::consume_totp_step(conn, user_id, step).await? => Ok(Some(Accepted::Totp)),
        _ => Ok(None),
    }
}

/// Refuses while the account or address is throttled (wrong codes count like wrong passwords).
async fn gate(state: &AppState, tenant: &Tenant, source: &AuditSource, action: AuditAction) -> AppResult<()> {
    let gate = throttle::gate(&state.redis, tenant.id, &source.actor, source.ip.as_deref()).await?;
    match gate.refusal() {
        None => Ok(()),
        Some(refusal) => {
            let event =
                AuditEvent::failure(action, source.actor.clone()).details(json!({ "reason": format!("{gate:?}") }));
            record_alone(&state.db, tenant, source.clone(), event).await?;
            Err(refusal)
        }
    }
}

/// Counts a wrong code towards the throttle, audits it (and any lock it caused), and refuses.
async fn wrong_code(state: &AppState, tenant: &Tenant, source: AuditSource, action: AuditAction) -> AppError {
    match record_failed_attempt(&state.db, &state.redis, tenant, source, action, "wrong code").await {
        Ok(()) => AppError::Invalid(WRONG_CODE.into()),
        Err(e) => e,
    }
}

/// The second step of signing in, for the member the password step identified.
pub async fn verify(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    (user_id, email): (Uuid, &str),
    input: &str,
) -> AppResult<()> {
    let source = AuditSource { actor_user_id: Some(user_id), actor: email.to_owned(), ..source };
    gate(state, tenant, &source, AuditAction::MfaVerify).await?;
    let (keyring, input, audit) = (state.keyring.clone(), input.to_owned(), source.clone());
    let accepted = state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let accepted = accept_code(conn, &keyring, user_id, &input).await?;
                let event = match &accepted {
                    Some(Accepted::Totp) => AuditEvent::success(AuditAction::MfaVerify, audit.actor.clone()),
                    Some(Accepted::RecoveryCode { left }) => {
                        AuditEvent::success(AuditAction::MfaRecoveryCodeUsed, audit.actor.clone())
                            .details(json!({ "left": left }))
                    }
                    None => return Ok::<_, AppError>(false),
                };
                record(conn, &audit, event).await?;
                Ok(true)
            })
        })
        .await?;
    if !accepted {
        return Err(wrong_code(state, tenant, source, AuditAction::MfaVerify).await);
    }
    throttle::record_success(&state.redis, tenant.id, email).await
}

/// What a member does with their second factor, each confirmed with a current code.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    RegenerateRecoveryCodes,
    Disable,
}

/// Replaces the recovery codes (returned, to show once) or turns TOTP off.
pub async fn change(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    change: Change,
    code: &str,
) -> AppResult<Option<Vec<String>>> {
    if matches!(change, Change::Disable) && tenant.mfa_policy.requires(me.role) {
        return Err(AppError::invalid("Your organisation requires two-factor authentication for you."));
    }
    gate(state, tenant, &source, AuditAction::MfaChange).await?;
    let codes = matches!(change, Change::RegenerateRecoveryCodes).then(totp::new_recovery_codes);
    let hashes: Option<Vec<Vec<u8>>> = codes.as_ref().map(|c| c.iter().map(|c| totp::recovery_code_hash(c)).collect());
    let (keyring, user_id, input, audit) = (state.keyring.clone(), me.user_id, code.to_owned(), source.clone());
    let accepted = state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                if accept_code(conn, &keyring, user_id, &input).await?.is_none() {
                    return Ok::<_, AppError>(false);
                }
                let event = match hashes {
                    Some(hashes) => {
                        repo::replace_recovery_codes(conn, user_id, hashes).await?;
                        AuditEvent::success(AuditAction::MfaRecoveryCodesReplaced, audit.actor.clone())
                    }
                    None => {
                        repo::disable_totp(conn, user_id).await?;
                        AuditEvent::success(AuditAction::MfaDisabled, audit.actor.clone())
                    }
                };
                record(conn, &audit, event).await?;
                Ok(true)
            })
        })
        .await?;
    if !accepted {
        return Err(wrong_code(state, tenant, source, AuditAction::MfaChange).await);
    }
    Ok(codes)
}

/// An admin removes a member's second factor after they lost it (and their recovery codes):
/// they sign in with their password alone and, if the policy requires it, enrol again at
/// once. Refused for accounts shared with other tenants, whose factor is not this tenant's to
/// remove. The member's sessions end.
pub async fn reset_for_member(state: &AppState, tenant: &Tenant, source: AuditSource, user_id: Uuid) -> AppResult<()> {
    let tenant_id = tenant.id;
    let audit = source.clone();
    let email = state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let row = repo::find_by_id(conn, tenant_id, user_id)
                    .await?
                    .ok_or_else(|| AppError::not_found("User not found."))?;
                if row.totp_enabled_at.is_none() {
                    return Err(AppError::conflict(format!("{} has no second factor to reset.", row.email)));
                }
                if repo::membership_count(conn, user_id).await? > 1 {
                    return Err(AppError::conflict(format!(
                        "{} also belongs to other organisations, so only they can change their second factor.",
                        row.email
                    )));
                }
                repo::disable_totp(conn, user_id).await?;
                let event = AuditEvent::success(AuditAction::MfaReset, row.email.clone());
                record(conn, &audit, event).await?;
                Ok(row.email)
            })
        })
        .await?;
    super::service::end_sessions(&state.db, &state.redis, tenant, source, (user_id, email), None, "second factor reset")
        .await
        .map(drop)
}
