//! PostgreSQL access. Tenant data lives in one schema per tenant (`tenant_<id>`); the shared
//! control plane lives in the `control` schema. Every tenant query goes through
//! [`Database::with_tenant`], which scopes a transaction to the tenant's schema with
//! `SET LOCAL search_path`. Connections otherwise see only `pg_catalog`, so a query that
//! forgets the scope fails with "relation does not exist" instead of reading another tenant.

pub mod migrate;
pub mod schema;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use std::future::Future;
use std::pin::Pin;

use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection, TransactionManager,
};

use crate::error::AppError;
use crate::tenancy::cache::TenantCache;
use crate::tenancy::model::{SchemaName, Tenant};

/// The search path of a connection outside `with_tenant`: no schema holds tenant tables.
const NEUTRAL_SEARCH_PATH: &str = "SET search_path TO pg_catalog";

/// Budgets of every pooled connection, set once when it is opened: no statement runs longer,
/// and a transaction left open by a request that went away is ended by PostgreSQL instead of
/// holding its connection and locks. Far above any statement the portal makes (a catalog page
/// takes milliseconds, an import batch well under a second).
const BUDGETS: &str = "SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '30s'";

pub type Connection = AsyncPgConnection;

/// Reads a text column holding one of a closed set of names (roles, provider kinds) straight
/// into its enum: a row is parsed once, where it is read, and services compare enums, never
/// strings. The type also derives `FromSqlRow` and has `parse(&str) -> AppResult<Self>`.
macro_rules! text_enum_column {
    ($type:ty) => {
        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $type {
            fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let raw =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg>>::from_sql(value)?;
                <$type>::parse(&raw).map_err(|e| e.to_string().into())
            }
        }
    };
}
pub(crate) use text_enum_column;

text_enum_column!(crate::auth::model::Role);

/// The future a unit of work inside a transaction returns; it may borrow the connection.
pub type Work<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    url: String,
    /// The control plane's hottest rows, read by every request (see `tenancy::cache`).
    tenants: TenantCache,
}

impl Database {
    pub fn connect(url: &str, max_connections: usize) -> Result<Self, AppError> {
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        config.custom_setup = Box::new(|url| {
            Box::pin(async move {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.batch_execute(&format!("{NEUTRAL_SEARCH_PATH}; {BUDGETS}"))
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(conn)
            })
        });
        // Runs on every checkout: undoes any session-level search_path a caller might have set.
        config.recycling_method = RecyclingMethod::CustomQuery(NEUTRAL_SEARCH_PATH.into());
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder(manager).max_size(max_connections).build().map_err(AppError::internal)?;
        Ok(Self { pool, url: url.to_owned(), tenants: TenantCache::default() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn tenants(&self) -> &TenantCache {
        &self.tenants
    }

    /// Runs `work` in one transaction whose search path is the tenant's schema only.
    /// Control tables stay reachable because they are always schema-qualified.
    pub async fn with_tenant<T, E, F>(&self, tenant: &Tenant, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T, E> + Send,
        E: From<diesel::result::Error> + From<AppError>,
    {
        self.transaction(Some(tenant.schema.set_local_search_path()), work).await
    }

    /// A transaction on the control plane only (tenant registry, provisioning, CLI).
    pub async fn with_control<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T, E> + Send,
        E: From<diesel::result::Error> + From<AppError>,
    {
        self.transaction(None, work).await
    }

    /// Commits when `work` succeeds, rolls back when it fails. If the future is dropped
    /// half-way, the pool sees the open transaction and discards the connection.
    async fn transaction<T, E, F>(&self, scope: Option<String>, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T, E> + Send,
        E: From<diesel::result::Error> + From<AppError>,
    {
        let mut conn = self.checkout().await?;
        AnsiTransactionManager::begin_transaction(&mut *conn).await?;
        let result = match scope {
            Some(sql) => diesel::sql_query(sql).execute(&mut *conn).await.map(drop).map_err(E::from),
            None => Ok(()),
        };
        let result = match result {
            Ok(()) => work(&mut conn).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(value) => {
                AnsiTransactionManager::commit_transaction(&mut *conn).await?;
                Ok(value)
            }
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(&mut *conn).await?;
                Err(e)
            }
        }
    }

    async fn checkout(&self) -> Result<Object<AsyncPgConnection>, AppError> {
        self.pool.get().await.map_err(AppError::from)
    }

    /// Liveness of the database for the health endpoint.
    pub async fn ping(&self) -> Result<(), AppError> {
        let mut conn = self.checkout().await?;
        conn.batch_execute("SELECT 1").await.map_err(AppError::internal)
    }
}

impl SchemaName {
    fn set_local_search_path(&self) -> String {
        // SchemaName only holds `tenant_<digits>`, so quoting it is enough.
        format!("SET LOCAL search_path TO \"{}\"", self.as_str())
    }
}
