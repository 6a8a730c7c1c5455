//! Whole requests through the real router (edge middleware, Redis, PostgreSQL), in process:
//! the cost of each way of signing in — the session registry check, the API key lookup, the
//! access token check — read against the same catalog query without the network in the way,
//! and the most expensive catalog queries the limits allow.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::bench::{print_row, sample};
use crate::config::ServeConfig;
use crate::router::{self, Edge};
use crate::startup;
use app::access::service::{self as access, NewClientInput, NewKey};
use app::audit::service::AuditSource;
use app::auth::service as auth;
use app::catalog::query::{MAX_CONDITIONS, MAX_PAGE, MAX_PREDICATE_DEPTH, MAX_PREDICATE_NODES};
use app::db::Database;
use app::error::AppError;
use app::tenancy::model::Tenant;

const CATALOG_PAGE: &str = "/api/catalog/entities?limit=25&filter=kind=component";

pub(super) struct Client {
    router: Router,
    host: String,
}

impl Client {
    /// The real router over `db`, configured from the environment as `serve` is, addressed to
    /// `tenant`'s host.
    pub(super) async fn connect(db: &Database, tenant: &Tenant) -> Result<Self, AppError> {
        let config = ServeConfig::from_env()?;
        let leptos_options = leptos::config::LeptosOptions::builder().output_name("beacon").build();
        let (state, sessions) = startup::connect(db.clone(), &config, leptos_options).await?;
        Ok(Client {
            router: router::build(state, Arc::new(Edge::from_config(&config)?), sessions),
            host: format!("{}.{}", tenant.slug, config.base_domain),
        })
    }

    /// Sends a request from loopback and reads the whole answer.
    async fn send(&self, request: Request<Body>) -> Result<(StatusCode, axum::http::HeaderMap, Vec<u8>), AppError> {
        let mut request = request;
        request.extensions_mut().insert(axum::extract::ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        let response = self.router.clone().oneshot(request).await.map_err(AppError::internal)?;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(AppError::internal)?;
        Ok((parts.status, parts.headers, bytes.to_vec()))
    }

    pub(super) async fn get(&self, path: &str, credential: (header::HeaderName, &str)) -> Result<(), AppError> {
        self.get_bytes(path, credential).await.map(drop)
    }

    /// The body of a 200 answer to a GET; any other status is an error.
    pub(super) async fn get_bytes(
        &self,
        path: &str,
        credential: (header::HeaderName, &str),
    ) -> Result<Vec<u8>, AppError> {
        let request = Request::get(path)
            .header(header::HOST, &self.host)
            .header(credential.0, credential.1)
            .body(Body::empty())
            .map_err(AppError::internal)?;
        match self.send(request).await? {
            (StatusCode::OK, _, body) => Ok(body),
            (status, _, body) => Err(refused("GET", path, status, &body)),
        }
    }

    /// A GET whose answer is handed over unread, to be streamed.
    pub(super) async fn stream(
        &self,
        path: &str,
        credential: (header::HeaderName, &str),
    ) -> Result<Response, AppError> {
        let mut request = Request::get(path)
            .header(header::HOST, &self.host)
            .header(credential.0, credential.1)
            .body(Body::empty())
            .map_err(AppError::internal)?;
        request.extensions_mut().insert(axum::extract::ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        self.router.clone().oneshot(request).await.map_err(AppError::internal)
    }

    async fn post_json(&self, path: &str, body: &Value, key: &str) -> Result<(), AppError> {
        let request = Request::post(path)
            .header(header::HOST, &self.host)
            .header("x-api-key", key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .map_err(AppError::internal)?;
        match self.send(request).await? {
            (StatusCode::OK, _, _) => Ok(()),
            (status, _, body) => Err(refused("POST", path, status, &body)),
        }
    }

    /// Signs in with a password; the session cookie (`name=value`).
    pub(super) async fn sign_in(&self, email: &str, password: &str) -> Result<String, AppError> {
        let form = format!("email={}&password={password}", email.replace('@', "%40"));
        let (headers, _) = self.post_form("/api/auth/login", form).await?;
        headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .ok_or_else(|| AppError::internal("sign-in set no cookie"))
    }

    async fn post_form(&self, path: &str, form: String) -> Result<(axum::http::HeaderMap, Vec<u8>), AppError> {
        let request = Request::post(path)
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(form))
            .map_err(AppError::internal)?;
        match self.send(request).await? {
            (status, headers, body) if status.is_success() => Ok((headers, body)),
            (status, _, body) => Err(refused("POST", path, status, &body)),
        }
    }
}

/// Prints one row per way of calling the catalog API, plus signing in itself.
pub async fn run(db: &Database, tenant: &Tenant, admin: (&str, &str), samples: usize) -> Result<(), AppError> {
    let client = Client::connect(db, tenant).await?;
    let (email, password) = admin;
    let login = format!("email={}&password={password}", email.replace('@', "%40"));

    let sign_in =
        sample(samples.min(10), || async { client.post_form("/api/auth/login", login.clone()).await.map(drop) })
            .await?;
    print_row("sign-in (argon2id, throttle, registry)", &sign_in);

    let cookie = client.sign_in(email, password).await?;
    let by_session =
        sample(samples, || async { client.get(CATALOG_PAGE, (header::COOKIE, cookie.as_str())).await }).await?;
    print_row("GET entities page, session cookie", &by_session);

    let me = auth::find_principal(db, tenant, email).await?.ok_or_else(|| AppError::internal("admin not found"))?;
    let key = access::create_key(
        db,
        tenant,
        AuditSource::command_line(),
        &me,
        NewKey::parse("bench", &["catalog:read".into()], "30")?,
    )
    .await?
    .secret;
    let by_key = sample(samples, || async {
        client.get(CATALOG_PAGE, (header::HeaderName::from_static("x-api-key"), key.as_str())).await
    })
    .await?;
    print_row("GET entities page, API key", &by_key);
    // The edge alone: tenant, allowlist, key, rate limit, and a handler that reads nothing.
    let edge_only = sample(samples, || async {
        client.get("/api/permissions/roles", (header::HeaderName::from_static("x-api-key"), key.as_str())).await
    })
    .await?;
    print_row("GET permissions/roles, API key (edge only)", &edge_only);

    // The heaviest requests the limits allow: a few samples are enough, and where one runs past
    // the request budget (a million entities) the server stops it with a 503, which is the row.
    let stress_samples = samples.min(10);
    let largest = largest_predicate_query();
    let by_predicate = sample(stress_samples, || async {
        client.post_json("/api/catalog/entities/by-query", &largest, key.as_str()).await
    })
    .await;
    print_stress_row("largest legal POST by-query (1,000 rows)", by_predicate)?;
    let by_filters = largest_filter_query();
    let by_filters = sample(stress_samples, || async {
        client.get(&by_filters, (header::HeaderName::from_static("x-api-key"), key.as_str())).await
    })
    .await;
    print_stress_row("largest legal GET by-query (1,000 rows)", by_filters)?;

    let registered = access::create_client(
        db,
        tenant,
        AuditSource::command_line(),
        &me,
        NewClientInput::parse("bench", &["catalog:read".into()], "viewer")?,
    )
    .await?;
    let grant =
        format!("grant_type=client_credentials&client_id={}&client_secret={}", registered.label, registered.secret);
    let (_, body) = client.post_form("/oauth/token", grant).await?;
    let token: serde_json::Value = serde_json::from_slice(&body).map_err(AppError::internal)?;
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap_or_default());
    let by_token =
        sample(samples, || async { client.get(CATALOG_PAGE, (header::AUTHORIZATION, bearer.as_str())).await }).await?;
    print_row("GET entities page, OAuth access token", &by_token);
    Ok(())
}

/// A request the server did not answer as asked: a 503 (stopped at the request budget, or
/// busy) stays recognisable for the stress rows; anything else is the bench's failure.
fn refused(method: &str, path: &str, status: StatusCode, body: &[u8]) -> AppError {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => AppError::unavailable(format!("{method} {path}: 503")),
        _ => AppError::internal(format!("{method} {path}: {status} {}", String::from_utf8_lossy(body))),
    }
}

fn print_stress_row(label: &str, timings: Result<(Duration, Vec<Duration>), AppError>) -> Result<(), AppError> {
    match timings {
        Ok(timings) => print_row(label, &timings),
        Err(AppError::Unavailable(_)) => println!("{label:<48} over the request budget: stopped, 503"),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Every sort column, each once (repeats are dropped, so more keys cost nothing more).
const SORT_COLUMNS: [&str; 7] =
    ["kind", "metadata.namespace", "spec.type", "spec.lifecycle", "spec.owner", "metadata.title", "metadata.name"];

/// The most a by-query body may ask: a predicate of exactly the node and depth limits that
/// matches every component, every sort column, a full page. (The integration tests check that
/// both largest queries are served; the bench measures them.)
pub fn largest_predicate_query() -> Value {
    // A chain of `$any`, each holding one cheap leaf and the next level: depth - 1 levels.
    let mut chain = json!({ "spec.lifecycle": { "$in": ["production", "experimental"] } });
    let mut nodes = 3;
    for _ in 2..MAX_PREDICATE_DEPTH {
        chain = json!({ "$any": [{ "metadata.name": { "$exists": true } }, chain] });
        nodes += 2;
    }
    let mut all = vec![json!({ "kind": "component" }), chain];
    nodes += 2;
    all.extend(
        (nodes..MAX_PREDICATE_NODES)
            .map(|i| json!({ format!("metadata.annotations.bench/k{i}"): { "$exists": false } })),
    );
    let order: Vec<Value> = SORT_COLUMNS.iter().map(|field| json!({ "field": field, "order": "desc" })).collect();
    json!({ "query": { "$all": all }, "orderBy": order, "limit": MAX_PAGE })
}

/// The most the query parameters may ask: the condition limit spread over two filter sets
/// whose conditions every component meets, every sort column, a full page.
pub fn largest_filter_query() -> String {
    const MET: [&str; 5] = ["metadata.namespace=default", "spec.owner", "spec.lifecycle", "spec.type", "metadata.name"];
    let set = |n: usize| -> String {
        let conditions = std::iter::once("kind=component").chain(MET.iter().copied().cycle().take(n - 1));
        conditions.collect::<Vec<_>>().join(",")
    };
    let order: String = SORT_COLUMNS.iter().map(|field| format!("&orderField={field},asc")).collect();
    let half = MAX_CONDITIONS / 2;
    format!("/api/catalog/entities/by-query?filter={}&filter={}{order}&limit={MAX_PAGE}", set(half), set(half))
}
