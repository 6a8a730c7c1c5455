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
    /// Let catalog Locations be read from loopback and private addresses. Development and
    /// tests only: with it, tenants can make the server fetch from inside its network.
    #[arg(long, env = "BEACON_FETCH_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub fetch_private_networks: bool,
    /// Runtime Leptos options (site root, address); LEPTOS_* variables override them.
    #[arg(long, env = "BEACON_LEPTOS_CONFIG", default_value = "Leptos.toml")]
    pub leptos_config: String,
}
