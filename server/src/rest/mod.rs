//! REST handlers: thin adapters over the app's services, with Backstage's error envelope.

pub mod account;
pub mod audit;
pub mod briefs;
pub mod catalog;
pub mod cicd;
pub mod cost_insights;
pub mod events;
pub mod finops;
pub mod health;
pub mod notifications;
pub mod oauth;
pub mod permissions;
pub mod plugins;
pub mod sso;

use axum::body::Body;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde_json::json;

use app::error::AppError;
use app::state::AppState;

/// One REST endpoint. Each module lists its endpoints in a table, the router is built from
/// those tables, and the authorization matrix test walks the same tables: an endpoint cannot
/// be served without being in the matrix.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: MethodRouter<AppState>,
}

impl Endpoint {
    pub fn new<H, T>(method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        Self { method, path, route: on(filter, handler) }
    }

    /// Limits the request body of this endpoint to `bytes` (413 beyond).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.route = self.route.layer(axum::extract::DefaultBodyLimit::max(bytes));
        self
    }
}

/// A router serving `endpoints`; methods of one path are merged.
fn router(endpoints: Vec<Endpoint>) -> Router<AppState> {
    endpoints.into_iter().fold(Router::new(), |router, e| router.route(e.path, e.route))
}

/// A whole page for answers that never reach the app's pages (no tenant, suspended tenant,
/// refused address, failed single sign-on), optionally with a link onwards.
pub fn error_page(status: StatusCode, title: &str, text: String, onwards: Option<(&str, &str)>) -> Response {
    let link = onwards.map_or_else(String::new, |(href, label)| {
        format!(
            r#"<p class="mt-4"><a class="text-sm text-amber-700" href="{href}">{}</a></p>"#,
            app::escape::html(label)
        )
    });
    let body = format!(
        r#"<div class="max-w-md text-center"><p class="text-sm font-semibold text-amber-600">{code}</p>
<h1 class="mt-2 text-2xl font-semibold tracking-tight">{title}</h1><p class="mt-2 text-sm text-slate-600">{text}</p>{link}</div>"#,
        code = status.as_u16(),
        text = app::escape::html(&text),
    );
    standalone_page(status, title, &body)
}

/// A page outside the app's shell; `body` is trusted HTML (callers escape what they insert).
pub fn standalone_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Beacon</title><link rel="stylesheet" href="/pkg/beacon.css"></head>
<body class="bg-slate-50 text-slate-900 antialiased"><main class="min-h-screen flex items-center justify-center px-4">{body}</main></body></html>"#
    );
    (status, axum::response::Html(html)).into_response()
}

/// Request bodies of the JSON endpoints (an entity, a query, a thousand refs fit many times
/// over); larger ones are refused with 413 before they are read. Imports set their own limit.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Every REST endpoint of a tenant host.
pub fn tenant_endpoints() -> impl Iterator<Item = Endpoint> {
    catalog::endpoints()
        .into_iter()
        .chain(permissions::endpoints())
        .chain(audit::endpoints())
        .chain(finops::endpoints())
        .chain(cost_insights::endpoints())
        .chain(oauth::endpoints())
        .chain(sso::endpoints())
        .chain(account::endpoints())
        .chain(events::endpoints())
        .chain(notifications::endpoints())
        .chain(cicd::endpoints())
        .chain(briefs::endpoints())
        .chain(plugins::endpoints())
}

/// The tenant hosts' REST API: the catalog, permission and audit APIs answer errors in
/// Backstage's envelope, the token endpoint in OAuth's own, the SSO round trip with pages.
pub fn tenant_routes() -> Router<AppState> {
    let backstage = router(
        catalog::endpoints()
            .into_iter()
            .chain(permissions::endpoints())
            .chain(audit::endpoints())
            .chain(finops::endpoints())
            .chain(cost_insights::endpoints())
            .chain(account::endpoints())
            .chain(briefs::endpoints())
            .chain(plugins::endpoints())
            .collect(),
    )
    .route("/api/catalog/{*unknown}", axum::routing::any(no_such_route))
    .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
    .layer(axum::middleware::from_fn(backstage_errors));
    backstage
        .merge(router(oauth::endpoints()))
        .merge(router(sso::endpoints()))
        .merge(router(events::endpoints()))
        .merge(router(notifications::endpoints()))
        .merge(router(cicd::endpoints()))
}

/// A path under the catalog API that names no route (an empty ref segment, a typo): Backstage's
/// 404, not the portal's page.
async fn no_such_route(uri: Uri) -> ApiError {
    ApiError(AppError::not_found(format!("No catalog route {}", uri.path())))
}

/// Health checks, served on every host.
pub fn health_routes() -> Router<AppState> {
    router(health::endpoints())
}

/// An error a REST handler returns; `backstage_errors` turns it into the envelope.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let response = carrying(status.into_response(), self.0);
        match status {
            StatusCode::SERVICE_UNAVAILABLE => crate::middleware::budget::retry_later(response),
            _ => response,
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A request refused at the edge, before any handler: the app's JSON error, which
/// `in_envelope` turns into Backstage's envelope where the path asks for it.
pub fn refusal(status: StatusCode, error: AppError) -> Response {
    carrying((status, Json(&error)).into_response(), error)
}

/// `response`, remembering the error it answers, for `in_envelope`.
pub fn carrying(mut response: Response, error: AppError) -> Response {
    response.extensions_mut().insert(error);
    response
}

/// Wraps handlers' errors in Backstage's envelope, and so axum's own refusals (a body over its
/// limit, a malformed path parameter), which come as plain text.
pub async fn backstage_errors(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    let plain_refusal = response.status().is_client_error()
        && response.extensions().get::<AppError>().is_none()
        && response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    let response = if plain_refusal { as_error(response).await } else { response };
    in_envelope(&method, &uri, response)
}

/// A plain-text refusal made before any handler ran, carrying its text as the error.
async fn as_error(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_default();
    let error = match parts.status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::too_large(format!("{text}: JSON request bodies are limited to {} KiB.", MAX_JSON_BYTES / 1024))
        }
        StatusCode::NOT_FOUND => AppError::not_found(text),
        _ => AppError::invalid(text),
    };
    carrying(Response::from_parts(parts, Body::empty()), error)
}

/// A response that carries an error, answered in Backstage's envelope
/// `{error:{name,message},request:{method,url},response:{statusCode}}` with its headers kept
/// (`Retry-After`, `WWW-Authenticate`); other responses as they are.
pub fn in_envelope(method: &Method, uri: &Uri, mut response: Response) -> Response {
    let Some(error) = response.extensions_mut().remove::<AppError>() else { return response };
    let (mut parts, _) = response.into_parts();
    // Backstage answers InputError with 400 where we answer 422; clients such as
    // catalog-client rely on it.
    if parts.status == StatusCode::UNPROCESSABLE_ENTITY {
        parts.status = StatusCode::BAD_REQUEST;
    }
    let body = json!({
        "error": { "name": error_name(parts.status), "message": error.to_string() },
        "request": { "method": method.as_str(), "url": uri.to_string() },
        "response": { "statusCode": parts.status.as_u16() },
    });
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// Backstage's error name for a status: the status, not the error's kind, decides, so a
/// refusal (403) is a NotAllowedError whatever it carries.
fn error_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "InputError",
        StatusCode::UNAUTHORIZED => "AuthenticationError",
        StatusCode::FORBIDDEN => "NotAllowedError",
        StatusCode::NOT_FOUND => "NotFoundError",
        StatusCode::CONFLICT => "ConflictError",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLargeError",
        StatusCode::TOO_MANY_REQUESTS => "TooManyRequestsError",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
        _ => "Error",
    }
}

/// A JSON request body; malformed ones are an InputError naming the problem, and so are
/// strings or keys holding NUL (`\u0000`), which PostgreSQL cannot store or compare.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| invalid(format!("request body: {e}")))?;
    if app::catalog::validate::holds_nul(&value) {
        return Err(invalid("request body: strings may not contain NUL (\\u0000)".into()));
    }
    serde_json::from_value(value).map_err(|e| invalid(format!("request body: {e}")))
}

pub fn invalid(message: String) -> ApiError {
    ApiError(AppError::Invalid(message))
}

/// The query string as repeated `key=value` pairs (`filter` may appear many times).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<String>) -> ApiResult<Self> {
        serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map(Self)
            .map_err(|e| ApiError(AppError::invalid(format!("malformed query string: {e}"))))
    }

    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(crate) fn one<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).last()
    }

    pub(crate) fn number(&self, key: &str) -> ApiResult<Option<i64>> {
        self.one(key)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| invalid(format!("{key} must be a non-negative integer")))
            })
            .transpose()
    }

    pub(crate) fn fields(&self) -> Vec<String> {
        self.all("fields")
            .flat_map(|f| f.split(','))
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
