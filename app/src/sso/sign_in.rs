//! The end every sign-in shares, whatever the protocol (OpenID Connect, GitHub, SAML): the
//! person a provider verified becomes a member of this tenant — the linked identity, else the
//! member with that verified email, else a new member (JIT) — with the role the provider's
//! mapping grants; or an admin's test sign-in reports what would happen; or the failure is
//! audited under a reference. Also the one-time Redis values the round trips keep.

use crate::audit::model::AuditAction;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;
use tower_sessions_redis_store::fred::types::Expiration;
use uuid::Uuid;

use super::repo;
use crate::audit::service::{record, record_alone, AuditEvent, AuditSource};
use crate::auth::model::{normalize_email, Role};
use crate::auth::repo as accounts;
use crate::error::{AppError, AppResult};
use crate::state::{AppState, RedisPool};
use crate::tenancy::model::Tenant;

/// The session key of the sign-in this browser started (its OAuth `state` or SAML RelayState):
/// a round trip must end in the browser that began it, or a forged one could sign a victim in
/// as the attacker (login CSRF, RFC 6749 §10.12).
pub const FLOW_KEY: &str = "beacon.sso.flow";

/// A started sign-in: where to send the browser, and the token to bind to its session.
pub struct Started {
    pub url: String,
    pub flow: String,
}

/// Who signed in at the provider, as sign-in needs it, whatever the protocol.
#[derive(Serialize, Deserialize)]
pub struct ExternalUser {
    /// The provider's stable id for the person (`sub`, GitHub's numeric id).
    pub subject: String,
    /// Only an address the provider says it verified.
    pub verified_email: Option<String>,
    pub name: Option<String>,
    /// Values the role mapping matches: the mapped claim's values (OIDC), organisations (GitHub).
    pub groups: Vec<String>,
    /// Every attribute the provider sent (SAML), shown by test sign-ins.
    pub attributes: Vec<(String, Vec<String>)>,
}

/// How long a started sign-in (OIDC, GitHub or SAML) may take at the provider.
pub const PENDING_SECONDS: i64 = 600;

/// Keeps `value` in Redis as JSON for `seconds`, to be taken back once (a started sign-in, a
/// verified assertion on its way to its browser).
pub async fn put_once<T: Serialize>(redis: &RedisPool, key: String, value: &T, seconds: i64) -> Result<(), String> {
    let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
    redis.set(key, json, Some(Expiration::EX(seconds)), None, false).await.map_err(|e| format!("redis: {e}"))
}

/// Takes back what `put_once` kept. GETDEL: it works once, whatever happens next.
pub async fn take_once<T: DeserializeOwned>(redis: &RedisPool, key: String) -> Result<Option<T>, String> {
    let stored: Option<String> = redis.getdel(key).await.map_err(|e| format!("redis: {e}"))?;
    stored.map(|json| serde_json::from_str(&json).map_err(|_| "unreadable pending sign-in".to_owned())).transpose()
}

/// A failed sign-in: the reason is audited under `reference`, the browser sees only the
/// reference.
#[derive(Debug)]
pub struct Failure {
    pub reference: String,
    pub reason: String,
}

/// A provider's verified answer, before it becomes a member.
pub struct Verified {
    pub provider: repo::ProviderRow,
    pub user: ExternalUser,
    /// Started as an admin's test: report, sign nobody in.
    pub test: bool,
}

/// How a completed round trip ends.
pub enum Completed {
    /// The member to start a session for.
    SignedIn(Uuid),
    Tested(TestReport),
}

/// An admin's test sign-in: what the provider sent and what sign-in would make of it.
pub struct TestReport {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Every attribute a SAML assertion carried (empty for OAuth providers).
    pub attributes: Vec<(String, Vec<String>)>,
    /// The role the mapping grants for these groups, if any mapping matches.
    pub mapped_role: Option<String>,
    /// The role a new member gets when no mapping matches.
    pub default_role: String,
}

/// The end of every protocol's round trip: a verified answer becomes a member (or a test
/// report); a failure gets a reference. Every outcome is audited.
pub async fn conclude(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    verified: Result<Verified, String>,
) -> Result<Completed, Failure> {
    let outcome = match verified {
        Ok(Verified { provider, user, test: true }) => {
            let report = TestReport {
                provider: provider.name.clone(),
                mapped_role: mapped_role(&provider, &user.groups).map(|r| r.as_str().to_owned()),
                default_role: provider.default_role.as_str().to_owned(),
                subject: user.subject,
                email: user.verified_email,
                name: user.name,
                groups: user.groups,
                attributes: user.attributes,
            };
            let event = AuditEvent::success(AuditAction::SsoTestLogin, provider.name).details(
                json!({ "subject": report.subject, "email": report.email, "mapped_role": report.mapped_role }),
            );
            Ok((Completed::Tested(report), event))
        }
        Ok(Verified { provider, user, test: false }) => {
            member_for(state, tenant, &provider, user).await.map(|(user_id, email)| {
                let event =
                    AuditEvent::success(AuditAction::SsoLogin, email).details(json!({ "provider": provider.name }));
                (Completed::SignedIn(user_id), event)
            })
        }
        Err(reason) => Err(reason),
    };
    match outcome {
        Ok((completed, event)) => {
            if let Err(e) = record_alone(&state.db, tenant, source, event).await {
                tracing::error!(error = %e, "could not audit a single sign-on");
            }
            Ok(completed)
        }
        Err(reason) => Err(refuse(state, tenant, source, reason).await),
    }
}

/// A failed sign-in: audited with its reason under a new reference, which alone is shown.
pub async fn refuse(state: &AppState, tenant: &Tenant, source: AuditSource, reason: String) -> Failure {
    let reference = crate::error::new_reference();
    let event = AuditEvent::failure(AuditAction::SsoLogin, "single sign-on")
        .details(json!({ "reason": reason, "reference": reference }));
    if let Err(e) = record_alone(&state.db, tenant, source, event).await {
        tracing::error!(error = %e, "could not audit a single sign-on");
    }
    Failure { reference, reason }
}

pub const STARTED_ELSEWHERE: &str = "the sign-in was started in another browser (or its session ended)";

/// The member behind verified claims: linked identity, else the verified email within this
/// tenant, else a new member with the provider's default role.
async fn member_for(
    state: &AppState,
    tenant: &Tenant,
    provider: &repo::ProviderRow,
    user: ExternalUser,
) -> Result<(Uuid, String), String> {
    let verified_email = user.verified_email.as_deref().and_then(|e| normalize_email(e).ok());
    let (tenant_id, provider_id, default_role) = (tenant.id, provider.id, provider.default_role);
    let mapped_role = mapped_role(provider, &user.groups);
    let allowed = provider.allowed_domains.clone();
    let (subject, display_name) = (user.subject, user.name);
    let source = AuditSource { actor: format!("sso:{}", provider.name), ..AuditSource::default() };
    state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let refuse = |reason: String| Ok::<_, AppError>(Err(reason));
                if let Some(user_id) = repo::linked_user(conn, provider_id, &subject).await? {
                    let Some(row) = accounts::find_by_id(conn, tenant_id, user_id).await?.filter(|r| r.is_active())
                    else {
                        return refuse("the linked member is deactivated or removed".into());
                    };
                    apply_mapped_role(conn, tenant_id, &source, &row, mapped_role).await?;
                    repo::touch(conn, provider_id, &subject).await?;
                    return Ok(Ok((user_id, row.email)));
                }
                let Some(email) = verified_email else {
                    return refuse("no verified email in the ID token, so it cannot be linked".into());
                };
                let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
                if !allowed.is_empty() && !allowed.contains(&domain) {
                    return refuse(format!("email domain `{domain}` is not allowed for this provider"));
                }
                let user_id = match accounts::find_by_email(conn, tenant_id, &email).await? {
                    Some(row) if row.is_active() => {
                        apply_mapped_role(conn, tenant_id, &source, &row, mapped_role).await?;
                        row.user_id
                    }
                    Some(_) => return refuse("the member with this email is deactivated".into()),
                    None => {
                        let role = match mapped_role {
                            Some(role) => role,
                            None => default_role,
                        };
                        let user_id = match accounts::find_user_id(conn, &email).await? {
                            Some(id) => id,
                            None => {
                                let id = Uuid::new_v4();
                                let name = display_name.clone().unwrap_or_else(|| email.clone());
                                // No password: this account signs in through its provider.
                                accounts::insert_user(conn, id, &email, &name, None).await?;
                                id
                            }
                        };
                        accounts::insert_membership(conn, tenant_id, user_id, role).await?;
                        let event = AuditEvent::success(AuditAction::SsoProvisioned, email.clone())
                            .details(json!({ "role": role.as_str() }));
                        record(conn, &source, event).await?;
                        user_id
                    }
                };
                repo::link(conn, provider_id, &subject, user_id, &email).await?;
                repo::touch(conn, provider_id, &subject).await?;
                Ok(Ok((user_id, email)))
            })
        })
        .await
        .map_err(|e| e.to_string())?
}

/// The highest role the provider's mapping grants for these groups, if any mapping matches.
fn mapped_role(provider: &repo::ProviderRow, groups: &[String]) -> Option<Role> {
    provider.role_claim.as_deref()?;
    provider
        .role_mapping()
        .into_iter()
        .filter(|m| groups.contains(&m.value))
        .filter_map(|m| Role::parse(&m.role).ok())
        .max()
}

/// Brings an existing member's role in line with the provider's mapping at sign-in. The
/// tenant's last active admin is never demoted this way.
async fn apply_mapped_role(
    conn: &mut crate::db::Connection,
    tenant_id: crate::tenancy::model::TenantId,
    source: &AuditSource,
    member: &accounts::MemberRow,
    mapped: Option<Role>,
) -> AppResult<()> {
    let current = member.role;
    let Some(role) = mapped.filter(|r| *r != current) else { return Ok(()) };
    if current == Role::Admin {
        let admins = accounts::lock_active_admins(conn, tenant_id).await?;
        if !admins.iter().any(|id| *id != member.user_id) {
            tracing::warn!(member = %member.email, "SSO role mapping would demote the last admin; kept");
            return Ok(());
        }
    }
    accounts::update_role(conn, tenant_id, member.user_id, role).await?;
    let event = AuditEvent::success(AuditAction::UserRoleChanged, member.email.clone())
        .details(json!({ "from": current.as_str(), "to": role.as_str(), "by": "identity provider role mapping" }));
    record(conn, source, event).await
}
