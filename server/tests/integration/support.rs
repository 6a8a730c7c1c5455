use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use serde_json::Value;

use app::access::model::AccessOverview;
use app::audit::service::AuditSource;
use app::auth::model::Role;
use app::catalog::model::DocumentOutcome;
use app::catalog::reader::{read_tree, FolderSource};
use app::catalog::service as catalog;
use app::db::{migrate, Database};
use app::settings::api::UsersView;
use app::state::AppState;
use app::tenancy::model::Tenant;
use app::tenancy::service as tenancy;
use server::config::{RateLimits, ServeConfig};
use server::router::{self, Edge};
use server::startup;

/// Backstage's own example catalog, as the demo tenant gets it.
pub const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/backstage-examples");

/// What the tests' scraper presents to `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token";

pub struct TestApp {
    pub db: Database,
    pub state: AppState,
    pub router: Router,
    /// The client address of this test's requests: its own, so per-address limits and
    /// counters of one test never touch another's.
    pub client_ip: std::net::SocketAddr,
}

pub struct TestAppBuilder {
    pool_size: usize,
    cookie_secure: bool,
    request_timeout_ms: u64,
    extra_routes: Router<AppState>,
    audit_archive: Option<String>,
    /// The SMTP catcher `make test` starts (`BEACON_SMTP_URL`), if any.
    smtp_url: Option<String>,
    /// The npm registry plugin tarballs are fetched from and verified (none: not verified).
    npm_registry: Option<String>,
}

impl TestAppBuilder {
    pub fn npm_registry(self, url: &str) -> Self {
        Self { npm_registry: Some(url.to_owned()), ..self }
    }

    pub fn pool_size(self, pool_size: usize) -> Self {
        Self { pool_size, ..self }
    }

    /// Served as over https: Secure, `__Host-` prefixed session cookies.
    pub fn secure_cookies(self) -> Self {
        Self { cookie_secure: true, ..self }
    }

    /// Requests past this budget are answered 503 (production: 30 s).
    pub fn request_timeout(self, budget: std::time::Duration) -> Self {
        Self { request_timeout_ms: budget.as_millis() as u64, ..self }
    }

    /// The audit archive store (a directory or `s3://…`) of this app, for a test that archives
    /// through it; by default one directory that no test archives through.
    pub fn audit_archive(self, store: &str) -> Self {
        Self { audit_archive: Some(store.to_owned()), ..self }
    }

    /// Routes of the test's own, served on tenant hosts behind the real middleware.
    pub fn tenant_routes(self, extra_routes: Router<AppState>) -> Self {
        Self { extra_routes, ..self }
    }

    pub async fn start(self) -> TestApp {
        TestApp::start(self).await
    }
}

pub struct TestTenant {
    pub tenant: Tenant,
    pub host: String,
    pub admin_email: String,
    pub admin_password: String,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    /// The body as text (lossy), for the many answers that are text.
    pub body: String,
    /// The body as sent, for the few that are not (PDFs, archives).
    pub bytes: axum::body::Bytes,
}

impl TestResponse {
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("beacon_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }

    /// The body as `T`; a body that is not one fails the test at the caller's line, with the
    /// status and the body.
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        match serde_json::from_str(&self.body) {
            Ok(value) => value,
            Err(e) => panic!("expected JSON ({e}), got {}: {}", self.status, self.body),
        }
    }
}

impl TestResponse {
    /// The JSON body, `Null` for an answer that is not JSON (an empty body, an HTML page).
    fn json_or_null(&self, caller: &std::panic::Location<'_>) -> Value {
        let is_json = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Value::Null;
        }
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("{caller}: a JSON answer that does not parse ({e}), {}: {}", self.status, self.body)
        })
    }
}

/// The documents of one of Backstage's example files and everything its Locations lead to.
pub async fn example_documents(file: &str) -> Vec<catalog::Incoming> {
    let (source, entry) = FolderSource::for_entry(&std::path::Path::new(EXAMPLES).join(file)).unwrap();
    read_tree(&source, vec![(entry, None)], false).await.unwrap().into_iter().map(Into::into).collect()
}

fn rand_octet() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0].max(1)
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with `make test`"))
}

impl TestApp {
    /// An app with the defaults; `TestApp::init()` for others.
    pub async fn new() -> Self {
        Self::init().start().await
    }

    /// A builder: `TestApp::init().pool_size(2).secure_cookies().start().await`.
    pub fn init() -> TestAppBuilder {
        TestAppBuilder {
            pool_size: 4,
            cookie_secure: false,
            request_timeout_ms: 30_000,
            extra_routes: Router::new(),
            audit_archive: None,
            smtp_url: std::env::var("BEACON_SMTP_URL").ok(),
            npm_registry: None,
        }
    }

    /// An app with a tenant loaded with Backstage's example catalog, and its admin's session.
    pub async fn with_examples() -> (TestApp, TestTenant, String) {
        let app = TestApp::new().await;
        let (t, cookie) = app.signed_in_tenant().await;
        for file in ["all.yaml", "acme-corp.yaml"] {
            let report = catalog::import(
                &app.db,
                &t.tenant,
                &AuditSource::command_line(),
                &catalog::Origin::named(file),
                example_documents(file).await,
            )
            .await
            .unwrap();
            assert_eq!(report.count(|o| matches!(o, DocumentOutcome::Rejected(_))), 0, "{:?}", report.results);
        }
        (app, t, cookie)
    }

    /// A GET as the member signed in with `cookie`: status, the JSON body (`Null` when the
    /// answer is not JSON; a JSON answer that does not parse fails the test), headers.
    #[track_caller]
    pub fn get_json<'a>(
        &'a self,
        t: &'a TestTenant,
        cookie: &'a str,
        path: &'a str,
    ) -> impl std::future::Future<Output = (StatusCode, Value, axum::http::HeaderMap)> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let response = self.get(&t.host, path, Some(cookie)).await;
            let body = response.json_or_null(caller);
            (response.status, body, response.headers)
        }
    }

    /// A JSON POST as the member signed in with `cookie`: status and JSON body (as `get_json`).
    #[track_caller]
    pub fn post_json<'a>(
        &'a self,
        t: &'a TestTenant,
        cookie: &'a str,
        path: &'a str,
        body: Value,
    ) -> impl std::future::Future<Output = (StatusCode, Value)> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let request = Request::post(path)
                .header(header::HOST, &t.host)
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let response = self.send(request).await;
            (response.status, response.json_or_null(caller))
        }
    }

    /// A fresh tenant and its admin's session cookie: what most tests start from.
    pub async fn signed_in_tenant(&self) -> (TestTenant, String) {
        let t = self.tenant().await;
        let cookie = self.login(&t.host, &t.admin_email, &t.admin_password).await;
        (t, cookie)
    }

    async fn start(options: TestAppBuilder) -> Self {
        let TestAppBuilder {
            pool_size,
            cookie_secure,
            request_timeout_ms,
            extra_routes,
            audit_archive,
            smtp_url,
            npm_registry,
        } = options;
        // The server's warnings (a request out of time, a lost listener) go to the test's
        // output, which nextest shows for a test that fails or hangs.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .try_init();
        let db = Database::connect(&env("DATABASE_URL"), pool_size).expect("pool");
        migrate::migrate_control(db.url()).await.expect("control migrations");
        app::plugins::service::seed_bundled(&db).await.expect("plugin directory");
        let config = ServeConfig {
            redis_url: env("REDIS_URL"),
            base_domain: "localhost".into(),
            cookie_secure,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            // Test clients connect from 127.x; trusting loopback lets a test speak for another
            // address through X-Forwarded-For, as a load balancer would.
            trusted_proxies: "127.0.0.0/8".into(),
            // Tests serve Locations from loopback; the refusal of private addresses is
            // tested where the policy is built by hand.
            fetch_private_networks: true,
            secret_keys: env("BEACON_SECRET_KEYS"),
            // The production defaults: tests that need a limit hit use their own tenant and caller.
            rate_limits: RateLimits::DEFAULT,
            metrics_token: Some(METRICS_TOKEN.into()),
            request_timeout_ms,
            import_timeout_ms: 300_000,
            audit_checkpoint_seconds: 60,
            // By default one directory for every test process (paths are per tenant).
            audit_archive: audit_archive
                .unwrap_or_else(|| concat!(env!("CARGO_TARGET_TMPDIR"), "/audit-archive").into()),
            audit_archive_minutes: 60,
            // Tests refresh the plugin directory themselves, from a registry on loopback; one
            // that names it verifies tarballs from there.
            npm_registry,
            npm_refresh_hours: 24,
            // Set by scripts/test.sh: tests of discovery and semantic search embed for real.
            embedding_model: std::env::var_os("BEACON_EMBEDDING_MODEL").map(Into::into),
            smtp_url: smtp_url.clone(),
            mail_from: "Beacon <beacon@tests.example.com>".into(),
            public_url: None,
            leptos_config: "Leptos.toml".into(),
        };
        let leptos_options = leptos::config::LeptosOptions::builder().output_name("beacon").build();
        let (state, sessions) = startup::connect(db.clone(), &config, leptos_options).await.expect("redis");
        let edge = Edge::from_config(&config).expect("edge");
        let client_ip = std::net::SocketAddr::from(([127, rand_octet(), rand_octet(), rand_octet()], 40_000));
        let tenant_api = server::rest::tenant_routes().merge(extra_routes);
        let router = router::build_with(state.clone(), Arc::new(edge), sessions, tenant_api);
        Self { db, router, state, client_ip }
    }

    /// Serves the app on a loopback port, for clients that need a real connection (sockets);
    /// returns the address. Requests name the tenant in their Host header as usual.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let service = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        addr
    }

    /// The Redis pool the app uses, for tests that inspect or clear counters.
    pub fn redis(&self) -> app::state::RedisPool {
        self.state.redis.clone()
    }

    /// A freshly provisioned tenant with a unique slug.
    pub async fn tenant(&self) -> TestTenant {
        let slug = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let admin_email = format!("admin@{slug}.example.com");
        let created = tenancy::provision(&self.db, &slug, &format!("Tenant {slug}"), &admin_email, "Ada Admin")
            .await
            .expect("provision tenant");
        TestTenant {
            host: format!("{slug}.localhost"),
            tenant: created.tenant,
            admin_password: created.admin.one_time_password.expect("new admin gets a password"),
            admin_email,
        }
    }

    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        if request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().is_none() {
            request.extensions_mut().insert(axum::extract::ConnectInfo(self.client_ip));
        }
        let response = self.router.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes }
    }

    pub async fn get(&self, host: &str, path: &str, cookie: Option<&str>) -> TestResponse {
        let mut request = Request::get(path).header(header::HOST, host).header(header::ACCEPT, "text/html");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Calls a server function the way the hydrated app does (form-encoded, JSON back).
    pub async fn call(&self, host: &str, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> TestResponse {
        let body = form.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let mut request = Request::post(path)
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Signs in and returns the session cookie.
    pub async fn login(&self, host: &str, email: &str, password: &str) -> String {
        let response = self.call(host, "/api/auth/login", &[("email", email), ("password", password)], None).await;
        assert!(response.status.is_success(), "login failed: {} {}", response.status, response.body);
        response.session_cookie().expect("login sets a session cookie")
    }

    /// Invites a member as the tenant admin (`admin` is the admin's session cookie) and signs
    /// them in; returns (user id, session cookie).
    pub async fn member(&self, t: &TestTenant, admin: &str, email: &str, role: Role) -> (String, String) {
        let (id, password) = self.invite(t, admin, email, role).await;
        (id, self.login(&t.host, email, &password).await)
    }

    /// Invites a member as the tenant admin; returns (user id, one-time password).
    pub async fn invite(&self, t: &TestTenant, admin: &str, email: &str, role: Role) -> (String, String) {
        let invited = self
            .call(
                &t.host,
                "/api/settings/users/invite",
                &[("email", email), ("display_name", "Val Viewer"), ("role", role.as_str())],
                Some(admin),
            )
            .await;
        assert!(invited.status.is_success(), "{} {}", invited.status, invited.body);
        let view: UsersView = self.call(&t.host, "/api/settings/users/list", &[], Some(admin)).await.json();
        let invitation = view.invitation.expect("the invitation is shown once");
        let password = invitation.one_time_password.expect("new account");
        let id = view.members.iter().find(|m| m.email == email).expect("listed").user_id.to_string();
        (id, password)
    }

    /// Creates a key through Settings → API access as the member signed in with `cookie`;
    /// returns (key id, secret).
    pub async fn create_key(&self, t: &TestTenant, cookie: &str, name: &str, scopes: &[&str]) -> (String, String) {
        let mut form = vec![("name", name), ("expires_in_days", "30")];
        let fields: Vec<String> = (0..scopes.len()).map(|i| format!("scopes[{i}]")).collect();
        form.extend(fields.iter().map(String::as_str).zip(scopes.iter().copied()));
        let created = self.call(&t.host, "/api/access/keys/create", &form, Some(cookie)).await;
        assert!(created.status.is_success(), "{} {}", created.status, created.body);
        let overview: AccessOverview = self.call(&t.host, "/api/access/overview", &[], Some(cookie)).await.json();
        let secret = overview.revealed.expect("the secret is shown once").secret;
        let id = overview.keys.iter().find(|k| k.name == name).expect("listed").id.to_string();
        (id, secret)
    }

    pub async fn audit_actions(&self, tenant: &Tenant) -> Vec<(String, String, String)> {
        self.db
            .with_tenant(tenant, |conn| {
                Box::pin(async move { app::audit::repo::recent(conn, 100).await.map_err(app::error::AppError::from) })
            })
            .await
            .expect("audit rows")
            .into_iter()
            .map(|r| (r.action, r.target, r.outcome))
            .collect()
    }
}

fn urlencode(s: &str) -> String {
    app::escape::percent(s, b"")
}
