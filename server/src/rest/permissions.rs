//! The permission API: "may principal P do action A on resource R?" answered by the same
//! `auth::permission::decide` every page, server function and REST handler enforces with.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::Method;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_body, ApiResult, Endpoint};
use app::audit::permissions;
use app::audit::service as audit_log;
use app::auth::model::Role;
use app::auth::permission::{decide, Action, Scope};
use app::auth::service as auth;
use app::catalog::refs::EntityRef;
use app::catalog::service as catalog;
use app::error::AppError;
use app::state::{AppState, Credential, RequestContext};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/permissions/roles", roles),
        Endpoint::new(Method::POST, "/api/permissions/check", check),
        Endpoint::new(Method::POST, "/api/permissions/audit", audit),
    ]
}

/// Every role with the actions it grants, and every scope.
async fn roles(Extension(ctx): Extension<RequestContext>) -> ApiResult<Json<Value>> {
    ctx.require_user()?;
    let roles: Vec<Value> = Role::ALL
        .into_iter()
        .map(|role| {
            let actions: Vec<_> = Action::granted_to(role).into_iter().map(Action::as_str).collect();
            json!({ "role": role.as_str(), "actions": actions })
        })
        .collect();
    let actions: Vec<Value> = Action::ALL
        .into_iter()
        .map(|a| json!({ "action": a.as_str(), "minRole": a.min_role().as_str(), "scope": a.scope().map(Scope::as_str) }))
        .collect();
    let scopes: Vec<Value> =
        Scope::ALL.into_iter().map(|s| json!({ "scope": s.as_str(), "description": s.describe() })).collect();
    Ok(Json(json!({ "roles": roles, "actions": actions, "scopes": scopes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    action: String,
    /// A user id or email of this tenant; the caller when absent. Asking about someone else
    /// is for admins.
    principal: Option<String>,
    /// An entity reference (`component:default/checkout`) the action would apply to.
    resource: Option<String>,
}

async fn check(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let asker = ctx.require_user()?;
    let request: CheckRequest = json_body(&body)?;
    let action = Action::parse(&request.action)?;

    let (subject, scopes) = match request.principal.as_deref() {
        None => (asker.clone(), ctx.credential.scopes().map(<[Scope]>::to_vec)),
        Some(who) => {
            ctx.authorize(Action::ManageUsers)?;
            let member = auth::find_principal(&state.db, &ctx.tenant, who)
                .await?
                .ok_or_else(|| AppError::not_found(format!("No active member `{who}` in this tenant.")))?;
            (member, None)
        }
    };
    if let Some(raw) = &request.resource {
        // Existence is only revealed to callers who may read the catalog.
        ctx.authorize(Action::CatalogRead)?;
        let entity_ref = EntityRef::parse(raw, None, "default").map_err(AppError::Invalid)?;
        if catalog::get_by_ref(&state.db, &ctx.tenant, &entity_ref).await?.is_none() {
            return Err(AppError::not_found(format!("No entity `{raw}` in this tenant.")).into());
        }
    }
    let decision = decide(subject.role, scopes.as_deref(), action);
    let credential = match (&request.principal, &ctx.credential) {
        (Some(_), _) | (None, Credential::Session) => "session",
        (None, Credential::ApiKey { .. }) => "api_key",
        (None, Credential::AccessToken { .. }) => "access_token",
    };
    Ok(Json(json!({
        "result": if decision.allowed() { "ALLOW" } else { "DENY" },
        "allowed": decision.allowed(),
        "reason": decision.reason(),
        "action": action.as_str(),
        "resource": request.resource,
        "principal": { "id": subject.user_id, "email": subject.email, "role": subject.role.as_str(), "credential": credential },
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditRequest {
    /// A date, `2026-12-01T09:30` or RFC 3339; 30 days before `to` when absent.
    from: Option<String>,
    /// Now when absent; a date alone includes that day.
    to: Option<String>,
}

/// `POST /api/permissions/audit`: who gained or lost which role, scope, allowlist entry or SSO
/// role mapping in a period, newest first (auditors: admins, or keys with `audit:read`).
async fn audit(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<permissions::PermissionReport>> {
    ctx.authorize(Action::AuditRead)?;
    let request: AuditRequest = if body.is_empty() { AuditRequest::default() } else { json_body(&body)? };
    let (from, to) = permissions::period(request.from.as_deref(), request.to.as_deref(), chrono::Utc::now())?;
    Ok(Json(audit_log::permission_report(&state.db, &ctx.tenant, from, to).await?))
}
