//! Server-side state shared by the router, server functions and services.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::access::usage::AccessLog;
use crate::audit::archive::ArchiveStore;
use crate::audit::service::AuditSource;
use crate::audit::stream::StreamWake;
use crate::auth::model::Principal;
use crate::auth::permission::{decide, Action, Scope};
use crate::auth::session_registry::SessionPolicy;
use crate::catalog::cache::CatalogCache;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::events::due::DueTenants;
use crate::events::hub::EventHub;
use crate::fetch::FetchPolicy;
use crate::insights::counter::UsageCounter;
use crate::keyring::Keyring;
use crate::notifications::mail::Mailer;
use crate::tenancy::model::Tenant;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Database,
    /// This server's side of the event bus: what the sockets and live pages hear (`events`).
    pub events: EventHub,
    /// Sends the notifications members chose to get by mail (`notifications::mail`).
    pub mailer: Mailer,
    /// Rings this server's webhook sender for a tenant (`webhooks::sender`).
    pub webhooks: DueTenants,
    /// Counts and facets of catalog views, per app (see `catalog::cache`).
    pub catalog_cache: CatalogCache,
    pub fetch_policy: FetchPolicy,
    pub keyring: Keyring,
    /// Shared counters (login throttling, rate limits) and session bookkeeping.
    pub redis: RedisPool,
    pub session_policy: SessionPolicy,
    /// What API keys and OAuth clients called, written in the background (`access::usage`).
    pub access_log: AccessLog,
    /// Entity views and empty searches, counted in the background (`insights::counter`).
    pub usage: UsageCounter,
    /// Tells this server's audit stream sender about a new destination (`audit::stream`).
    pub stream_wake: StreamWake,
    /// Where archived months of the audit log are kept (`audit::archive`).
    pub audit_archive: ArchiveStore,
    /// Discovery indexes, brief metrics and the generator's wake-up (`briefs::service`).
    pub briefs: crate::briefs::service::Briefs,
    /// The sentence-embedding model, when configured (`embedding`).
    pub embedder: Option<crate::embedding::Embedder>,
    /// Entities and their vectors for the catalog's semantic search (`catalog::semantic`).
    pub semantic: crate::catalog::semantic::SemanticIndexes,
    /// The plugin directory each server keeps in memory (`plugins::service`).
    pub plugins: crate::plugins::service::Plugins,
    /// `https` unless cookies are sent without `Secure` (plain-http development): how the
    /// portal's own URLs are written for others (the SSO redirect URI).
    pub public_scheme: &'static str,
}

impl AppState {
    pub fn archiver(&self) -> crate::audit::archive::Archiver {
        crate::audit::archive::Archiver {
            db: self.db.clone(),
            store: self.audit_archive.clone(),
            keyring: self.keyring.clone(),
        }
    }
}

pub type RedisPool = tower_sessions_redis_store::fred::prelude::Pool;

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (or nobody yet): acts with the member's full role.
    Session,
    /// A personal API key, limited to its scopes.
    ApiKey { id: uuid::Uuid, prefix: String, scopes: Vec<Scope> },
    /// An OAuth client's access token, limited to its scopes.
    AccessToken { client_id: String, scopes: Vec<Scope> },
}

impl Credential {
    pub fn scopes(&self) -> Option<&[Scope]> {
        match self {
            Credential::Session => None,
            Credential::ApiKey { scopes, .. } | Credential::AccessToken { scopes, .. } => Some(scopes),
        }
    }
}

impl AppState {
    /// The state inside a server function or SSR render (provided by the router).
    pub fn current() -> AppResult<Self> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| AppError::internal("AppState missing from context"))
    }

    /// Scheme and host of the tenant a request came to (`https://acme.example.com`): the base of
    /// the URLs identity providers send browsers back to.
    pub fn public_base(&self, headers: &http::HeaderMap) -> String {
        let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        format!("{}://{host}", self.public_scheme)
    }
}

/// A caller checked for one action, with what a server function needs to act for them.
pub struct Authorized {
    pub ctx: RequestContext,
    pub me: Principal,
    pub state: AppState,
}

/// The prologue of every server function that acts for someone: the request's context,
/// authorized for `action` (401 when signed out, 403 when the role or the key's scopes do not
/// allow it), and the app state. A server function that skips it stands out: it calls
/// `RequestContext::current()` itself, which only sign-in and public functions do.
pub async fn authorized(action: Action) -> AppResult<Authorized> {
    let ctx = RequestContext::current().await?;
    let me = ctx.authorize(action)?.clone();
    Ok(Authorized { ctx, me, state: AppState::current()? })
}

/// What the HTTP edge resolved about a tenant request before any page or server function runs.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub tenant: Tenant,
    pub principal: Option<Principal>,
    pub credential: Credential,
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
            .map_err(|_| AppError::not_found("Tenant not found."))
    }

    pub fn require_user(&self) -> AppResult<&Principal> {
        self.principal.as_ref().ok_or(AppError::Unauthenticated)
    }

    /// The one authorization check: the principal's role and, for keys and clients, their
    /// scopes must allow `action` (see `auth::permission`).
    pub fn authorize(&self, action: Action) -> AppResult<&Principal> {
        let principal = self.require_user()?;
        let decision = decide(principal.role, self.credential.scopes(), action);
        if decision.allowed() {
            Ok(principal)
        } else {
            tracing::warn!(action = action.as_str(), reason = decision.reason(), user = %principal.user_id, "forbidden");
            Err(AppError::Forbidden)
        }
    }

    /// Whether the caller may do `action`, for showing what they may do (no refusal logged).
    pub fn may(&self, action: Action) -> bool {
        self.principal.as_ref().is_some_and(|p| decide(p.role, self.credential.scopes(), action).allowed())
    }

    /// Who is calling, as a key for per-caller counters and queues: the member of a session,
    /// the API key, the OAuth client, or an anonymous caller's address.
    pub fn caller(&self) -> String {
        match (&self.principal, &self.credential) {
            (None, _) => format!("ip:{}", self.ip.as_deref().unwrap_or("unknown")),
            (Some(p), Credential::Session) => format!("user:{}", p.user_id),
            (Some(_), Credential::ApiKey { id, .. }) => format!("key:{id}"),
            (Some(_), Credential::AccessToken { client_id, .. }) => format!("client:{client_id}"),
        }
    }

    pub fn audit_source(&self) -> AuditSource {
        AuditSource {
            actor_user_id: self.principal.as_ref().map(|p| p.user_id),
            actor: match (&self.principal, &self.credential) {
                (None, _) => "anonymous".to_owned(),
                (Some(p), Credential::ApiKey { prefix, .. }) => format!("{} (key bcn_{prefix})", p.email),
                (Some(p), _) => p.email.clone(),
            },
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: Some(self.request_id.clone()),
        }
    }
}
