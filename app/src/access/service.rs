//! Machine access: API keys and OAuth clients — issuing, listing, revoking, and turning a
//! presented credential into a principal with scopes. Every change writes its audit event in
//! the same transaction.

use crate::audit::model::AuditAction;
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::model::{ApiKeyView, ClientView, Revealed, Usage};
use super::repo::{self, ApiKeyRow, ClientRow, NewApiKey, NewClient};
use super::token::{self, AccessClaims, TokenError};
use super::usage::{Caller, UsageByCaller};
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::{Principal, Role};
use crate::auth::permission::{Action, Scope};
use crate::auth::repo as members;
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::keyring::Keyring;
use crate::state::Credential;
use crate::tenancy::model::Tenant;

/// Access tokens live this long; clients fetch a new one rather than refresh (no refresh tokens).
pub const TOKEN_LIFETIME_SECONDS: i64 = 900;
const MAX_KEY_DAYS: u32 = 366;

/// A credential that checked out: who it acts as, and what it is limited to.
#[derive(Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub credential: Credential,
}

/// Validated input for a new API key.
pub struct NewKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_in_days: Option<u32>,
}

impl NewKey {
    pub fn parse(name: &str, scopes: &[String], expires_in_days: &str) -> AppResult<Self> {
        let name = parse_name(name)?;
        let scopes = Scope::parse_all(scopes.iter().map(String::as_str))?;
        let expires_in_days = match expires_in_days.trim() {
            "" | "never" => None,
            days => match days.parse::<u32>() {
                Ok(d) if (1..=MAX_KEY_DAYS).contains(&d) => Some(d),
                _ => return Err(AppError::invalid(format!("Expiry must be 1 to {MAX_KEY_DAYS} days, or never."))),
            },
        };
        Ok(Self { name, scopes, expires_in_days })
    }
}

fn parse_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("Name must be 1 to 100 characters."));
    }
    Ok(name.to_owned())
}

/// A scope no action of the role could use would be a silent no-op: refuse it up front.
fn ensure_role_can_use(role: Role, scopes: &[Scope]) -> AppResult<()> {
    for scope in scopes {
        let usable = Action::ALL.iter().any(|a| a.scope() == Some(*scope) && role.grants(a.min_role()));
        if !usable {
            return Err(AppError::invalid(format!(
                "The {} role cannot use the {} scope.",
                role.label(),
                scope.as_str()
            )));
        }
    }
    Ok(())
}

pub async fn create_key(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    owner: &Principal,
    new: NewKey,
) -> AppResult<Revealed> {
    ensure_role_can_use(owner.role, &new.scopes)?;
    let issued = token::new_api_key();
    let owner_id = owner.user_id;
    let expires_at = new.expires_in_days.map(|d| Utc::now() + Duration::days(i64::from(d)));
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let id = Uuid::new_v4();
            let scopes: Vec<String> = new.scopes.iter().map(|s| s.as_str().to_owned()).collect();
            repo::insert_key(
                conn,
                NewApiKey {
                    id,
                    user_id: owner_id,
                    name: &new.name,
                    prefix: &issued.lookup,
                    secret_hash: &issued.hash,
                    scopes: scopes.clone(),
                    expires_at,
                },
            )
            .await?;
            let event = AuditEvent::success(AuditAction::ApiKeyCreated, format!("bcn_{}", issued.lookup))
                .details(json!({ "name": new.name, "scopes": scopes, "expires_at": expires_at }));
            record(conn, &source, event).await?;
            Ok(Revealed { label: new.name, secret: issued.shown })
        })
    })
    .await
}

/// An API key made by an operator on the command line (bootstrapping a pipeline or a test
/// without the browser). It acts as `owner` (an email), or else as the tenant's longest-standing
/// active admin, and is audited as the command line's doing.
pub async fn create_key_as_operator(
    db: &Database,
    tenant: &Tenant,
    owner: Option<&str>,
    new: NewKey,
) -> AppResult<(Principal, Revealed)> {
    let tenant_id = tenant.id;
    let owner_email = owner.map(|o| o.trim().to_ascii_lowercase());
    let principal = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let candidates = match &owner_email {
                    Some(email) => members::find_by_email(conn, tenant_id, email).await?.into_iter().collect(),
                    None => {
                        let mut all = members::list(conn, tenant_id).await?;
                        all.sort_by_key(|m| m.joined_at);
                        all.into_iter().filter(|m| m.role == Role::Admin).collect::<Vec<_>>()
                    }
                };
                match candidates.into_iter().find(members::MemberRow::is_active) {
                    Some(row) => row.principal(),
                    None => Err(AppError::NotFound(match owner_email {
                        Some(email) => format!("No active member {email} in this tenant."),
                        None => "The tenant has no active admin to own the key.".into(),
                    })),
                }
            })
        })
        .await?;
    let revealed = create_key(db, tenant, AuditSource::command_line(), &principal, new).await?;
    Ok((principal, revealed))
}

/// Admins see every key of the tenant; everyone else sees their own.
pub async fn list_keys(db: &Database, tenant: &Tenant, viewer: &Principal) -> AppResult<Vec<ApiKeyView>> {
    let owner = (!viewer.role.grants(Action::ManageAccess.min_role())).then_some(viewer.user_id);
    let tenant_id = tenant.id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let rows = repo::list_keys(conn, owner).await?;
            let usage = UsageByCaller::read(conn).await?;
            // One read of the tenant's members for all owners, not one per key.
            let emails: std::collections::HashMap<Uuid, String> =
                members::list(conn, tenant_id).await?.into_iter().map(|m| (m.user_id, m.email)).collect();
            Ok(rows
                .into_iter()
                .map(|row| {
                    let owner_email = emails.get(&row.user_id).cloned().unwrap_or_else(|| "former member".to_owned());
                    let usage = usage.of(&Caller::ApiKey(row.id));
                    key_view(row, owner_email, usage)
                })
                .collect())
        })
    })
    .await
}

fn key_view(row: ApiKeyRow, owner_email: String, usage: Usage) -> ApiKeyView {
    ApiKeyView {
        id: row.id,
        name: row.name,
        prefix: format!("bcn_{}", row.prefix),
        owner_email,
        scopes: row.scopes,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        last_used_ip: row.last_used_ip,
        revoked_at: row.revoked_at,
        usage,
    }
}

/// The owner may revoke their key; admins may revoke anyone's. Another tenant's key id is
/// simply not found (it lives in another schema).
pub async fn revoke_key(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    actor: &Principal,
    id: Uuid,
) -> AppResult<()> {
    let actor = actor.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let key = repo::find_key(conn, id).await?.ok_or_else(|| AppError::not_found("API key not found."))?;
            if key.user_id != actor.user_id && !actor.role.grants(Action::ManageAccess.min_role()) {
                return Err(AppError::not_found("API key not found."));
            }
            if repo::revoke_key(conn, id).await? {
                let event = AuditEvent::success(AuditAction::ApiKeyRevoked, format!("bcn_{}", key.prefix))
                    .details(json!({ "name": key.name }));
                record(conn, &source, event).await?;
            }
            Ok(())
        })
    })
    .await?;
    // At once on this server; the others hear it from PostgreSQL.
    db.verified_keys().forget_key(id);
    Ok(())
}

/// Checks a presented `bcn_…` key. Any failure is `Unauthenticated`; failures of a key that
/// exists (wrong secret, revoked, expired, owner gone) are audited, unknown prefixes are not
/// (anyone can invent those, and the rate limiter bounds them).
pub async fn authenticate_key(
    db: &Database,
    tenant: &Tenant,
    presented: &str,
    source: AuditSource,
) -> AppResult<Authenticated> {
    let (lookup, hash) = token::parse_api_key(presented).ok_or(AppError::Unauthenticated)?;
    let lookup = lookup.to_owned();
    let tenant_id = tenant.id;
    let presented = (tenant_id, lookup.clone(), hash, source.ip.clone());
    if let Some(authenticated) = db.verified_keys().get(&presented) {
        return Ok(authenticated);
    }
    let generation = db.verified_keys().generation();
    let verified = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let Some(key) = repo::find_key_by_prefix(conn, &lookup).await? else {
                    return Ok::<_, AppError>(Err(AppError::Unauthenticated));
                };
                let owner = members::find_by_id(conn, tenant_id, key.user_id).await?.filter(|m| m.is_active());
                let refusal = if !token::hashes_match(&key.secret_hash, &hash) {
                    Some("wrong secret")
                } else if key.revoked_at.is_some() {
                    Some("revoked")
                } else if key.expires_at.is_some_and(|at| at <= Utc::now()) {
                    Some("expired")
                } else if owner.is_none() {
                    Some("owner is no longer an active member")
                } else {
                    None
                };
                let target = format!("bcn_{}", key.prefix);
                if let Some(reason) = refusal {
                    let event =
                        AuditEvent::failure(AuditAction::ApiKeyRejected, target).details(json!({ "reason": reason }));
                    record(conn, &source, event).await?;
                    return Ok(Err(AppError::Unauthenticated));
                }
                let owner = owner.expect("checked above").principal()?;
                if key.last_used_at.is_none() {
                    let event =
                        AuditEvent::success(AuditAction::ApiKeyFirstUsed, target).details(json!({ "name": key.name }));
                    record(
                        conn,
                        &AuditSource {
                            actor_user_id: Some(owner.user_id),
                            actor: owner.email.clone(),
                            ..source.clone()
                        },
                        event,
                    )
                    .await?;
                }
                repo::touch_key(conn, key.id, source.ip.as_deref()).await?;
                let scopes = Scope::parse_all(key.scopes.iter().map(String::as_str))?;
                let authenticated = Authenticated {
                    principal: owner,
                    credential: Credential::ApiKey { id: key.id, prefix: key.prefix, scopes },
                };
                Ok(Ok((authenticated, key.id, key.expires_at)))
            })
        })
        .await??;
    let (authenticated, key_id, expires_at) = verified;
    db.verified_keys().put(generation, presented, authenticated.clone(), key_id, expires_at);
    Ok(authenticated)
}

/// Validated input for a new OAuth client.
pub struct NewClientInput {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub role: Role,
}

impl NewClientInput {
    pub fn parse(name: &str, scopes: &[String], role: &str) -> AppResult<Self> {
        let role = Role::parse(role)?;
        if role == Role::Admin {
            return Err(AppError::invalid("OAuth clients cannot act as admins."));
        }
        Ok(Self { name: parse_name(name)?, scopes: Scope::parse_all(scopes.iter().map(String::as_str))?, role })
    }
}

pub async fn create_client(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    creator: &Principal,
    new: NewClientInput,
) -> AppResult<Revealed> {
    ensure_role_can_use(new.role, &new.scopes)?;
    let issued = token::new_client_secret();
    let creator = creator.user_id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let scopes: Vec<String> = new.scopes.iter().map(|s| s.as_str().to_owned()).collect();
            repo::insert_client(
                conn,
                NewClient {
                    id: Uuid::new_v4(),
                    client_id: &issued.lookup,
                    name: &new.name,
                    secret_hash: &issued.hash,
                    scopes: scopes.clone(),
                    role: new.role.as_str(),
                    created_by: creator,
                },
            )
            .await?;
            let event = AuditEvent::success(AuditAction::OauthClientCreated, issued.lookup.clone())
                .details(json!({ "name": new.name, "scopes": scopes, "role": new.role.as_str() }));
            record(conn, &source, event).await?;
            Ok(Revealed { label: issued.lookup, secret: issued.shown })
        })
    })
    .await
}

pub async fn list_clients(db: &Database, tenant: &Tenant) -> AppResult<Vec<ClientView>> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let usage = UsageByCaller::read(conn).await?;
            Ok(repo::list_clients(conn)
                .await?
                .into_iter()
                .map(|row| {
                    let usage = usage.of(&Caller::OAuthClient(row.client_id.clone()));
                    client_view(row, usage)
                })
                .collect())
        })
    })
    .await
}

fn client_view(row: ClientRow, usage: Usage) -> ClientView {
    ClientView {
        id: row.id,
        client_id: row.client_id,
        name: row.name,
        role: row.role.as_str().to_owned(),
        scopes: row.scopes,
        created_at: row.created_at,
        last_token_at: row.last_token_at,
        revoked_at: row.revoked_at,
        usage,
    }
}

pub async fn revoke_client(db: &Database, tenant: &Tenant, source: AuditSource, id: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if let Some(client_id) = repo::revoke_client(conn, id).await? {
                let event = AuditEvent::success(AuditAction::OauthClientRevoked, client_id);
                record(conn, &source, event).await?;
            }
            Ok(())
        })
    })
    .await
}

/// RFC 6749 §5.2 error codes of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl OAuthError {
    pub fn code(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
        }
    }
}

/// A successful client-credentials grant.
pub struct Grant {
    pub access_token: String,
    pub scope: String,
    pub expires_in: i64,
}

/// The client-credentials grant: checks the client and its secret, narrows the scopes to the
/// requested ones, and signs a token for this tenant only.
pub async fn issue_token(
    db: &Database,
    tenant: &Tenant,
    keys: &Keyring,
    source: AuditSource,
    client_id: &str,
    secret: &str,
    requested_scope: Option<&str>,
) -> AppResult<Result<Grant, OAuthError>> {
    let client_id = client_id.to_owned();
    let presented = token::sha256(secret.as_bytes());
    let requested = requested_scope.map(str::to_owned);
    let keys = keys.clone();
    let audience = tenant.slug.to_string();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let Some(client) = repo::find_client(conn, &client_id).await? else {
                return Ok(Err(OAuthError::InvalidClient));
            };
            let source = AuditSource { actor: format!("client:{}", client.client_id), ..source };
            let refused = |reason: &'static str| {
                AuditEvent::failure(AuditAction::OauthToken, client.client_id.clone())
                    .details(json!({ "reason": reason }))
            };
            if !token::hashes_match(&client.secret_hash, &presented) || client.revoked_at.is_some() {
                let reason = if client.revoked_at.is_some() { "revoked client" } else { "wrong secret" };
                record(conn, &source, refused(reason)).await?;
                return Ok(Err(OAuthError::InvalidClient));
            }
            let granted = match requested.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => client.scopes.clone(),
                Some(asked) => {
                    let asked: Vec<String> = asked.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                    if asked.iter().any(|s| !client.scopes.contains(s)) {
                        record(conn, &source, refused("scope not granted to this client")).await?;
                        return Ok(Err(OAuthError::InvalidScope));
                    }
                    asked
                }
            };
            let now = Utc::now().timestamp();
            let claims = AccessClaims {
                iss: token::ISSUER.into(),
                aud: audience,
                sub: client.client_id.clone(),
                scope: granted.join(" "),
                iat: now,
                exp: now + TOKEN_LIFETIME_SECONDS,
                jti: Uuid::new_v4().to_string(),
                client_id: client.client_id.clone(),
            };
            let access_token = token::sign(&claims, &keys);
            repo::touch_client(conn, client.id).await?;
            let event = AuditEvent::success(AuditAction::OauthToken, client.client_id.clone())
                .details(json!({ "scope": claims.scope, "jti": claims.jti, "expires_in": TOKEN_LIFETIME_SECONDS }));
            record(conn, &source, event).await?;
            Ok(Ok(Grant { access_token, scope: claims.scope, expires_in: TOKEN_LIFETIME_SECONDS }))
        })
    })
    .await
}

/// Checks a bearer access token: signature, expiry, this tenant as audience, and that its
/// client is still registered and not revoked (so revocation takes effect at once).
pub async fn authenticate_token(
    db: &Database,
    tenant: &Tenant,
    keys: &Keyring,
    presented: &str,
) -> AppResult<Authenticated> {
    let claims =
        token::verify(presented, keys, tenant.slug.as_str(), Utc::now().timestamp()).map_err(|e: TokenError| {
            tracing::info!(reason = %e, "access token refused");
            AppError::Unauthenticated
        })?;
    db.with_tenant(tenant, move |conn| Box::pin(async move { client_principal(conn, claims).await })).await
}

async fn client_principal(conn: &mut Connection, claims: AccessClaims) -> AppResult<Authenticated> {
    let client = repo::find_client(conn, &claims.client_id)
        .await?
        .filter(|c| c.revoked_at.is_none())
        .ok_or(AppError::Unauthenticated)?;
    let scopes = Scope::parse_all(claims.scope.split(' '))?;
    Ok(Authenticated {
        principal: Principal {
            user_id: client.id,
            email: format!("client:{}", client.client_id),
            display_name: client.name,
            role: client.role,
            must_change_password: false,
            mfa_enabled: false,
        },
        credential: Credential::AccessToken { client_id: client.client_id, scopes },
    })
}
