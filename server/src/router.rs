//! The one router: health and (with the operator's token) metrics on any host, the portal on
//! tenant hosts.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;

use crate::config::{RateLimits, ServeConfig};
use crate::metrics::Metrics;
use crate::middleware::fairness::{self, Fairness};
use crate::middleware::{budget, form_errors, observe, rate_limit, tenant};
use crate::rest;
use crate::startup::Sessions;
use app::access::network::TrustedProxies;
use app::error::AppError;
use app::state::AppState;
use app::{shell, App};

/// What the edge middleware needs besides the app state.
pub struct Edge {
    pub base_domain: String,
    pub metrics: Metrics,
    /// What `/metrics` asks of its callers; `None`: not served.
    pub metrics_token: Option<String>,
    pub rate_limits: RateLimits,
    pub rate_counters: rate_limit::Counters,
    pub trusted_proxies: TrustedProxies,
    /// Time any request may take (`middleware::budget`).
    pub request_budget: Duration,
    /// Time a synchronous catalog import may take: large uploads write for longer.
    pub import_budget: Duration,
    /// Each tenant's and caller's share of the expensive routes.
    pub fairness: Fairness,
}

impl Edge {
    /// The edge as configured; `serve` and the integration tests build it the same way.
    pub fn from_config(config: &ServeConfig) -> Result<Self, AppError> {
        Ok(Self {
            base_domain: config.base_domain.clone(),
            metrics: Metrics::default(),
            metrics_token: config.metrics_token.clone().filter(|t| !t.is_empty()),
            rate_limits: config.rate_limits,
            rate_counters: Default::default(),
            trusted_proxies: TrustedProxies::parse(&config.trusted_proxies)?,
            request_budget: Duration::from_millis(config.request_timeout_ms),
            import_budget: Duration::from_millis(config.import_timeout_ms),
            fairness: Fairness::default(),
        })
    }

    /// The time budget of a request to `path`.
    pub fn budget_for(&self, path: &str) -> Duration {
        let import = rest::catalog::IMPORT_PATHS.contains(&path)
            || rest::finops::UPLOAD_PATHS.contains(&path)
            || rest::briefs::UPLOAD_PATHS.contains(&path);
        match import {
            true => self.import_budget,
            false => self.request_budget,
        }
    }
}

pub fn build(state: AppState, edge: Arc<Edge>, sessions: Sessions) -> Router {
    build_with(state, edge, sessions, rest::tenant_routes())
}

/// The router with `tenant_api` as the tenant hosts' REST routes, behind the same middleware as
/// the portal; the integration tests add routes of their own here (a deliberately slow one).
pub fn build_with(state: AppState, edge: Arc<Edge>, sessions: Sessions, tenant_api: Router<AppState>) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let pkg_dir = format!("{}/{}", options.site_root, options.site_pkg_dir);

    let portal = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            move || shell(options.clone()),
        )
        .merge(tenant_api)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(form_errors::trusted))
        .layer(axum::middleware::from_fn_with_state(edge.clone(), fairness::queue))
        .layer(axum::middleware::from_fn_with_state((state.clone(), edge.clone()), tenant::resolve))
        .layer(sessions);

    Router::new()
        .merge(rest::health_routes())
        .route(
            "/metrics",
            get({
                let (edge, events) = (edge.clone(), state.events.clone());
                let (briefs, plugins) = (state.briefs.metrics.clone(), state.plugins.metrics.clone());
                move |headers: HeaderMap| async move {
                    let sockets = events.active_sockets() as f64;
                    let gauges =
                        [("websocket_connections_active", "Open WebSocket connections (GET /api/ws).", sockets)];
                    let areas = briefs.render() + &plugins.render();
                    edge.metrics.answer(edge.metrics_token.as_deref(), &headers, &gauges, &areas)
                }
            }),
        )
        .nest_service("/pkg", ServeDir::new(pkg_dir))
        .merge(portal)
        .route_layer(axum::middleware::from_fn(observe::remember_route))
        .layer(axum::middleware::from_fn_with_state(edge.clone(), budget::enforce))
        .layer(axum::middleware::from_fn_with_state((state.clone(), edge), observe::observe))
        .with_state(state)
}
