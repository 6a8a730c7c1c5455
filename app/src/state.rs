//! Server-side state shared by the router, server functions and services.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::audit::service::AuditSource;
use crate::auth::model::{Principal, Role};
use crate::catalog::events::CatalogEvents;
use crate::catalog::fetch::FetchPolicy;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Database,
    pub catalog_events: CatalogEvents,
    pub fetch_policy: FetchPolicy,
}

impl AppState {
    /// The state inside a server function or SSR render (provided by the router).
    pub fn current() -> AppResult<Self> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| AppError::internal("AppState missing from context"))
    }
}

/// What the HTTP edge resolved about a tenant request before any page or server function runs.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub tenant: Tenant,
    pub principal: Option<Principal>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

impl RequestContext {
    /// The context of the request being served (set by the tenant middleware).
    pub async fn current() -> AppResult<Self> {
        leptos_axum::extract::<axum::Extension<Self>>()
            .await
            .map(|axum::Extension(ctx)| ctx)
            .map_err(|_| AppError::NotFound("Tenant not found.".into()))
    }

    pub fn require_user(&self) -> AppResult<&Principal> {
        self.principal.as_ref().ok_or(AppError::Unauthenticated)
    }

    pub fn require_role(&self, role: Role) -> AppResult<&Principal> {
        let principal = self.require_user()?;
        if principal.role.grants(role) {
            Ok(principal)
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn audit_source(&self) -> AuditSource {
        AuditSource {
            actor_user_id: self.principal.as_ref().map(|p| p.user_id),
            actor: self.principal.as_ref().map_or_else(|| "anonymous".to_owned(), |p| p.email.clone()),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: Some(self.request_id.clone()),
        }
    }
}
