//! Embedded migrations: `migrations/control` for the shared schema, `migrations/tenant` for
//! every tenant schema. Each schema keeps its own `__diesel_schema_migrations` table because
//! the migrations run with that schema alone on the search path.

use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppError;
use crate::tenancy::model::SchemaName;

const CONTROL: EmbeddedMigrations = embed_migrations!("../migrations/control");
const TENANT: EmbeddedMigrations = embed_migrations!("../migrations/tenant");

/// Serialises migrations across processes (several instances starting, parallel tests).
const MIGRATION_LOCK: i64 = 0x6265_6163_6f6e; // "beacon"

pub async fn migrate_control(database_url: &str) -> Result<usize, AppError> {
    run(database_url, "control", CONTROL).await
}

pub async fn migrate_tenant(database_url: &str, schema: &SchemaName) -> Result<usize, AppError> {
    run(database_url, schema.as_str(), TENANT).await
}

async fn run(database_url: &str, schema: &str, migrations: EmbeddedMigrations) -> Result<usize, AppError> {
    // A dedicated connection: the session-level search_path below must not reach the pool.
    let mut conn = AsyncPgConnection::establish(database_url).await.map_err(AppError::internal)?;
    conn.batch_execute(&format!(
        "SELECT pg_advisory_lock({MIGRATION_LOCK}); \
         CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET search_path TO \"{schema}\""
    ))
    .await
    .map_err(AppError::internal)?;
    let schema_name = schema.to_owned();
    // The advisory lock is released when this dedicated connection closes with the harness.
    tokio::task::spawn_blocking(move || {
        AsyncMigrationHarness::new(conn)
            .run_pending_migrations(migrations)
            .map(|versions| versions.len())
            .map_err(|e| AppError::internal(format!("migrating {schema_name}: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}
