//! Bringing the server up: logging, migrations, connections, and serving until a signal.

use std::net::SocketAddr;
use std::sync::Arc;

use tower_sessions::cookie::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config as RedisConfig, Pool as RedisPool};
use tower_sessions_redis_store::RedisStore;
use tracing_subscriber::EnvFilter;

use crate::config::ServeConfig;
use crate::router::{self, Edge};
use app::access::usage::AccessLog;
use app::audit::archive::{ArchiveStore, Archiver};
use app::audit::stream::{Sender, StreamWake};
use app::auth::session_registry::SessionPolicy;
use app::briefs::generator::BriefGenerator;
use app::briefs::service::Briefs;
use app::catalog::cache::CatalogCache;
use app::catalog::semantic::SemanticIndexes;
use app::db::{migrate, Database};
use app::embedding::worker::EmbeddingWorker;
use app::embedding::Embedder;
use app::error::AppError;
use app::events::due::DueTenants;
use app::events::hub::EventHub;
use app::events::listener::{self, Outboxes};
use app::fetch::FetchPolicy;
use app::insights::counter::UsageCounter;
use app::keyring::Keyring;
use app::notifications::mail::Mailer;
use app::plugins::service::{ArtifactSource, Plugins};
use app::state::AppState;
use app::tenancy::model::Tenant;
use app::tenancy::service as tenancy;
use app::webhooks::sender::WebhookSender;

pub type Sessions = SessionManagerLayer<RedisStore<RedisPool>>;

/// Logs go to stderr: the commands' stdout is their output (tables, `--json` documents, the
/// one-time password), which scripts read.
pub fn init_tracing() {
    // The plugin solver (pubgrub) logs every step of a solve at info: thousands of lines per
    // install. It is quiet unless RUST_LOG names it.
    let quiet = "tower_sessions=warn,fred=warn,pubgrub=warn";
    let filter = match std::env::var("RUST_LOG") {
        Ok(wanted) if wanted.contains("pubgrub") => EnvFilter::new(wanted),
        Ok(wanted) => EnvFilter::new(format!("{wanted},pubgrub=warn")),
        Err(_) => EnvFilter::new(format!("info,{quiet}")),
    };
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).init();
}

/// Control schema first, then every tenant schema: run before any traffic is served.
pub async fn migrate(db: &Database) -> Result<Vec<(Tenant, usize)>, AppError> {
    let control = migrate::migrate_control(db.url()).await?;
    tracing::info!(applied = control, "control schema migrated");
    if app::plugins::service::seed_bundled(db).await? {
        tracing::info!("plugin directory loaded from this build");
    }
    let tenants = tenancy::migrate_all(db).await?;
    tracing::info!(tenants = tenants.len(), "tenant schemas migrated");
    Ok(tenants)
}

/// How long start-up waits for Redis before giving up with an error.
const REDIS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects everything the portal shares between requests: Redis (sessions, counters) and the
/// app state. Used by `serve` and by the integration tests, so both run the same wiring.
pub async fn connect(
    db: Database,
    config: &ServeConfig,
    leptos_options: leptos::config::LeptosOptions,
) -> Result<(AppState, Sessions), AppError> {
    let keyring = Keyring::parse(&config.secret_keys)?;
    let redis = RedisConfig::from_url(&config.redis_url).map_err(|e| AppError::invalid(format!("REDIS_URL: {e}")))?;
    let pool = RedisPool::new(redis, None, None, None, 4).map_err(AppError::internal)?;
    // `init` listens for the connections before starting them. (`connect` then
    // `wait_for_connect` misses a connection made in between and waits forever: the hang of a
    // test process at its start, with Redis connected and nothing else.)
    match tokio::time::timeout(REDIS_CONNECT_TIMEOUT, pool.init()).await {
        Ok(Ok(_driver)) => {}
        Ok(Err(e)) => return Err(AppError::internal(format!("connecting to Redis: {e}"))),
        Err(_) => return Err(AppError::internal("connecting to Redis: no answer within 10 s")),
    }
    // Over https the cookie is `__Host-` prefixed: Secure, Path=/, no Domain, so no sibling
    // subdomain can set or shadow it (ASVS 3.3.1, 3.3.3).
    let cookie_name = if config.cookie_secure { "__Host-beacon_session" } else { "beacon_session" };
    let sessions = SessionManagerLayer::new(RedisStore::new(pool.clone()))
        .with_name(cookie_name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.cookie_secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::minutes(config.session_idle_minutes)));
    let public_scheme = if config.cookie_secure { "https" } else { "http" };
    let public_url = config.public_url.clone().unwrap_or_else(|| {
        let port = match (public_scheme, leptos_options.site_addr.port()) {
            ("http", 80) | ("https", 443) => String::new(),
            (_, port) => format!(":{port}"),
        };
        format!("{public_scheme}://{{tenant}}.{}{port}", config.base_domain)
    });
    let mailer = Mailer::new(config.smtp_url.as_deref(), &config.mail_from, &public_url)?;
    let events = EventHub::default();
    let (tenants, keys) = (db.tenants().clone(), db.verified_keys().clone());
    let webhooks = DueTenants::default();
    let briefs = Briefs::default();
    let outboxes = Outboxes { mail: mailer.due().clone(), webhooks: webhooks.clone(), briefs: briefs.due.clone() };
    listener::listen(db.url().to_owned(), events.clone(), outboxes, tenants, keys);
    let embedder = config.embedding_model.as_deref().map(Embedder::open).transpose()?;
    let state = AppState {
        leptos_options,
        embedder,
        semantic: SemanticIndexes::default(),
        access_log: AccessLog::start(db.clone()),
        usage: UsageCounter::start(db.clone()),
        stream_wake: StreamWake::default(),
        briefs,
        plugins: Plugins::new(config.npm_registry.clone().map(|registry| ArtifactSource {
            registry,
            policy: FetchPolicy { allow_private_networks: config.fetch_private_networks },
        })),
        audit_archive: ArchiveStore::open(&config.audit_archive, &[])?,
        events,
        mailer,
        webhooks,
        catalog_cache: CatalogCache::default(),
        db,
        fetch_policy: FetchPolicy { allow_private_networks: config.fetch_private_networks },
        keyring,
        redis: pool,
        public_scheme,
        session_policy: SessionPolicy {
            idle: chrono::Duration::minutes(config.session_idle_minutes),
            absolute: chrono::Duration::hours(config.session_absolute_hours),
        },
    };
    Ok((state, sessions))
}

/// Refreshes the shared plugin directory from the npm registry now and then every `every`.
/// Several servers may do it at once: each write is an upsert of what the registry publishes.
async fn refresh_plugin_directory(db: Database, policy: FetchPolicy, registry: String, every: std::time::Duration) {
    loop {
        match app::plugins::service::refresh(&db, &policy, &registry, &[]).await {
            Ok(report) => tracing::info!(
                packages = report.packages,
                versions = report.versions,
                not_found = report.not_found.len(),
                failed = report.failed.len(),
                tenants_told = report.tenants_told,
                "plugin directory refreshed from {registry}"
            ),
            Err(error) => tracing::warn!("plugin directory refresh from {registry} failed: {error}"),
        }
        tokio::time::sleep(every).await;
    }
}

pub async fn serve(db: Database, config: ServeConfig) -> Result<(), AppError> {
    migrate(&db).await?;
    let leptos = leptos::config::get_configuration(Some(&config.leptos_config))
        .map_err(|e| AppError::invalid(format!("{}: {e}", config.leptos_config)))?
        .leptos_options;
    let addr = leptos.site_addr;
    let (state, sessions) = connect(db, &config, leptos).await?;
    tokio::spawn(sign_audit_chains(
        state.db.clone(),
        state.keyring.clone(),
        std::time::Duration::from_secs(config.audit_checkpoint_seconds.max(1)),
    ));
    let streams = Sender {
        db: state.db.clone(),
        keyring: state.keyring.clone(),
        policy: state.fetch_policy.clone(),
        wake: state.stream_wake.clone(),
    };
    tokio::spawn(streams.run());
    tokio::spawn(forget_old_events(state.db.clone()));
    let webhooks = WebhookSender {
        db: state.db.clone(),
        keyring: state.keyring.clone(),
        policy: state.fetch_policy.clone(),
        due: state.webhooks.clone(),
    };
    tokio::spawn(webhooks.run());
    let generator = BriefGenerator {
        db: state.db.clone(),
        keyring: state.keyring.clone(),
        redis: Some(state.redis.clone()),
        briefs: state.briefs.clone(),
    };
    tokio::spawn(generator.run());
    if let Some(embedder) = state.embedder.clone() {
        let loading = embedder.clone();
        tokio::task::spawn_blocking(move || loading.load()).await.map_err(AppError::internal)??;
        tokio::spawn(EmbeddingWorker::new(state.db.clone(), embedder).run());
    }
    tokio::spawn(state.mailer.clone().run(state.db.clone(), state.keyring.clone()));
    let archiver =
        Archiver { db: state.db.clone(), store: state.audit_archive.clone(), keyring: state.keyring.clone() };
    tokio::spawn(archiver.run(std::time::Duration::from_secs(config.audit_archive_minutes.max(1) * 60)));
    if let Some(registry) = config.npm_registry.clone() {
        let every = std::time::Duration::from_secs(config.npm_refresh_hours.max(1) * 3600);
        tokio::spawn(refresh_plugin_directory(state.db.clone(), state.fetch_policy.clone(), registry, every));
    }
    let (access_log, usage) = (state.access_log.clone(), state.usage.clone());
    let app = router::build(state, Arc::new(Edge::from_config(&config)?), sessions);

    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| AppError::internal(format!("binding {addr}: {e}")))?;
    tracing::info!("serving on http://{addr} (tenants at http://<slug>.{}:{})", config.base_domain, addr.port());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(AppError::internal)?;
    // Requests have drained: what they logged and counted is written before the process exits.
    access_log.close().await;
    usage.close().await;
    Ok(())
}

/// Runs `work` for every tenant at each tick of `every`; a tenant's failure is logged and the
/// others go on.
async fn every_tenant<F, Fut>(db: Database, every: std::time::Duration, what: &'static str, work: F)
where
    F: Fn(Database, Tenant) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let tenants = match tenancy::list(&db).await {
            Ok(tenants) => tenants,
            Err(e) => {
                tracing::warn!(error = %e, "{what}: could not list tenants");
                continue;
            }
        };
        for tenant in tenants {
            let slug = tenant.slug.clone();
            if let Err(e) = work(db.clone(), tenant).await {
                tracing::warn!(tenant = %slug, error = %e, "{what} failed");
            }
        }
    }
}

/// Signs every tenant's audit chain head at each tick, so tampering with the log directly in
/// the database is detectable up to at most one interval ago (see `app::audit::chain`).
async fn sign_audit_chains(db: Database, keyring: Keyring, every: std::time::Duration) {
    every_tenant(db, every, "audit checkpoint", move |db, tenant| {
        let keyring = keyring.clone();
        async move { app::audit::service::checkpoint(&db, &tenant, &keyring).await.map(|_| ()) }
    })
    .await
}

/// Deletes events past the replay window from every tenant's bus.
async fn forget_old_events(db: Database) {
    every_tenant(db, std::time::Duration::from_secs(300), "event pruning", |db, tenant| async move {
        app::events::bus::forget_old(&db, &tenant).await?;
        app::webhooks::service::forget_old(&db, &tenant).await?;
        app::deployments::service::forget_old(&db, &tenant).await.map(|_| ())
    })
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}
