//! PostgreSQL access. Tenant data lives in one schema per tenant (`tenant_<id>`); the shared
//! control plane lives in the `control` schema. Every tenant query goes through
//! [`Database::with_tenant`], which scopes a transaction to the tenant's schema with
//! `SET LOCAL search_path`. Connections otherwise see only `pg_catalog`, so a query that
//! forgets the scope fails with "relation does not exist" instead of reading another tenant.

pub mod copy;
pub mod deadline;
pub mod durability;
pub mod migrate;
pub mod schema;
pub mod writer;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use futures_util::FutureExt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::time::Duration;

use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
};

use crate::access::verified::VerifiedKeys;
use crate::error::AppError;
use crate::tenancy::cache::TenantCache;
use crate::tenancy::model::{SchemaName, Tenant};

/// The search path of a connection outside `with_tenant`: no schema holds tenant tables.
const NEUTRAL_SEARCH_PATH: &str = "search_path TO pg_catalog";

/// Budgets of every pooled connection, set once when it is opened: no statement runs longer,
/// a transaction left open by a request that went away is ended by PostgreSQL instead of
/// holding its connection and locks, and a statement whose client has hung up stops within a
/// second. Far above any statement the portal makes (a catalog page takes milliseconds, an
/// import batch well under a second); requests narrow the statement timeout to their deadline.
const BUDGETS: &str = "SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '30s'; \
                       SET client_connection_check_interval = '1s'";
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// API keys verified in the last seconds (see `access::verified`).
    verified_keys: VerifiedKeys,
    /// Bulk loads running on connections of their own (see `copy`).
    bulk_slots: copy::BulkSlots,
}

impl Database {
    pub fn connect(url: &str, max_connections: usize) -> Result<Self, AppError> {
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        config.custom_setup = Box::new(|url| {
            Box::pin(async move {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.batch_execute(&format!("SET {NEUTRAL_SEARCH_PATH}; {BUDGETS}"))
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(conn)
            })
        });
        // No query at checkout: every transaction sets its own search path as it begins (see
        // `transaction`), so a checkout costs no round trip.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder(manager).max_size(max_connections).build().map_err(AppError::internal)?;
        Ok(Self {
            pool,
            url: url.to_owned(),
            tenants: TenantCache::default(),
            verified_keys: VerifiedKeys::default(),
            bulk_slots: copy::BulkSlots::default(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn tenants(&self) -> &TenantCache {
        &self.tenants
    }

    pub fn verified_keys(&self) -> &VerifiedKeys {
        &self.verified_keys
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

    /// Reads of the tenant's data in one round trip where they can be: the transaction's
    /// `BEGIN READ ONLY` and settings are sent ahead of `work`'s first statements without
    /// waiting for their answer (PostgreSQL runs a connection's requests in order), and the
    /// `COMMIT` is sent without waiting either. A lookup by name thus waits for PostgreSQL
    /// once instead of three times. `work` gets the connection shared, so it can pipeline its
    /// own independent statements but cannot nest a transaction or write.
    ///
    /// If the BEGIN failed, `work`'s statements meet the connection's neutral search path and
    /// fail too. Whenever anything fails, or the future is dropped half-way, the connection is
    /// closed rather than pooled.
    pub async fn read_tenant<T, E, F>(&self, tenant: &Tenant, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c Connection) -> Work<'c, T, E> + Send,
        E: From<diesel::result::Error> + From<AppError>,
    {
        let left = deadline::remaining();
        let begin = begin_sql("BEGIN READ ONLY", tenant.schema.set_local_search_path(), left);
        let mut conn = Leased { conn: Some(self.checkout(left).await?) };
        let shared: &Connection = &conn;
        let mut begin_on = shared;
        // `try_join` polls the BEGIN first, so it is queued before any of `work`'s statements.
        let begun = async { begin_on.batch_execute(&begin).await.map_err(E::from) };
        let (_, value) = futures_util::try_join!(begun, work(shared))?;
        // A read-only transaction has nothing to lose at COMMIT, so its answer is not awaited:
        // polling the request once queues it, and the connection's next user is queued after it.
        let mut end_on = shared;
        if end_on.batch_execute("COMMIT").now_or_never().is_some() {
            // Answered at once means the connection had already failed: do not pool it.
            return Ok(value);
        }
        conn.conn.take();
        Ok(value)
    }

    /// `VACUUM` of one of the tenant's tables, which PostgreSQL runs only outside a transaction:
    /// after a bulk load it marks the new pages all-visible (index-only scans then skip the
    /// table) and merges the GIN indexes' pending lists.
    pub async fn vacuum(&self, tenant: &Tenant, table: &'static str) -> Result<(), AppError> {
        let mut conn = Leased { conn: Some(self.checkout(deadline::remaining()).await?) };
        conn.batch_execute(&format!("VACUUM \"{}\".{table}", tenant.schema.as_str())).await?;
        conn.conn.take();
        Ok(())
    }

    /// A transaction on the control plane only (tenant registry, provisioning, CLI).
    pub async fn with_control<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T, E> + Send,
        E: From<diesel::result::Error> + From<AppError>,
    {
        self.transaction(None, work).await
    }

    /// Commits when `work` succeeds, rolls back when it fails. Under a request's deadline the
    /// wait for a connection and every statement end with it; if the future is dropped half-way
    /// (the edge gave up on the request), the connection is closed rather than pooled.
    async fn transaction<T, E, F>(&self, scope: Option<String>, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T, E> + Send,
        E: From<diesel::result::Error> + From<AppError>,
    {
        let left = deadline::remaining();
        let begin = begin_sql("BEGIN", scope.unwrap_or_else(|| format!("SET LOCAL {NEUTRAL_SEARCH_PATH}")), left);
        let mut conn = Leased::begin(self.checkout(left).await?, &begin).await?;
        let result = work(&mut conn).await;
        match result {
            Ok(value) => {
                conn.commit().await?;
                Ok(value)
            }
            Err(e) => {
                conn.rollback().await?;
                Err(e)
            }
        }
    }

    /// A pooled connection, waiting at most `left` for one to be free.
    async fn checkout(&self, left: Option<Duration>) -> Result<Object<AsyncPgConnection>, AppError> {
        match left {
            None => self.pool.get().await.map_err(AppError::from),
            Some(left) => match tokio::time::timeout(left, self.pool.get()).await {
                Ok(conn) => conn.map_err(AppError::from),
                Err(_) => Err(busy()),
            },
        }
    }

    /// Liveness of the database for the health endpoint.
    pub async fn ping(&self) -> Result<(), AppError> {
        let mut conn = self.checkout(deadline::remaining()).await?;
        conn.batch_execute("SELECT 1").await.map_err(AppError::internal)
    }
}

/// `begin` with the transaction's search path and, under a request's deadline, its statement
/// timeout, in one round trip.
fn begin_sql(begin: &str, search_path: String, left: Option<Duration>) -> String {
    let mut sql = vec![begin.to_owned(), search_path];
    if let Some(left) = left.filter(|left| *left < STATEMENT_TIMEOUT) {
        sql.push(format!("SET LOCAL statement_timeout = {}", left.as_millis().max(1)));
    }
    sql.join("; ")
}

fn busy() -> AppError {
    AppError::unavailable("The server is busy: no database connection came free in time. Try again.")
}

/// A pooled connection while a transaction (or a statement that cannot run in one) is under
/// way. Dropped before the work ended (the request's future was cancelled), it is closed
/// instead of going back to the pool: PostgreSQL then stops the statement
/// (`client_connection_check_interval`) and rolls back, and no later request is handed a
/// connection in the middle of someone else's work.
struct Leased {
    conn: Option<Object<AsyncPgConnection>>,
}

impl Leased {
    /// `sql` starts with BEGIN and may set what the transaction needs.
    /// If it fails, the connection is closed with the half-begun transaction.
    async fn begin(conn: Object<AsyncPgConnection>, sql: &str) -> diesel::QueryResult<Self> {
        let mut begun = Self { conn: Some(conn) };
        AnsiTransactionManager::begin_transaction_sql(&mut **begun, sql).await?;
        Ok(begun)
    }

    async fn commit(mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::commit_transaction(&mut **self).await?;
        drop(self.conn.take());
        Ok(())
    }

    async fn rollback(mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::rollback_transaction(&mut **self).await?;
        drop(self.conn.take());
        Ok(())
    }
}

impl Deref for Leased {
    type Target = Object<AsyncPgConnection>;

    fn deref(&self) -> &Self::Target {
        self.conn.as_ref().expect("a connection until the transaction ends")
    }
}

impl DerefMut for Leased {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_mut().expect("a connection until the transaction ends")
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(Object::take(conn));
        }
    }
}

impl SchemaName {
    fn set_local_search_path(&self) -> String {
        // SchemaName only holds `tenant_<digits>`, so quoting it is enough.
        format!("SET LOCAL search_path TO \"{}\"", self.as_str())
    }
}
