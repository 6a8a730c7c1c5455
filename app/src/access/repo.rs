//! Diesel queries on `api_keys`, `oauth_clients` and their request log `api_requests` (tenant
//! schema).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::{api_keys, api_requests, oauth_clients};
use crate::db::Connection;

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert_key(conn: &mut Connection, key: NewApiKey<'_>) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(key.id),
            api_keys::user_id.eq(key.user_id),
            api_keys::name.eq(key.name),
            api_keys::prefix.eq(key.prefix),
            api_keys::secret_hash.eq(key.secret_hash),
            api_keys::scopes.eq(key.scopes),
            api_keys::expires_at.eq(key.expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_key_by_prefix(conn: &mut Connection, prefix: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table.filter(api_keys::prefix.eq(prefix)).select(ApiKeyRow::as_select()).first(conn).await.optional()
}

pub async fn find_key(conn: &mut Connection, id: Uuid) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table.find(id).select(ApiKeyRow::as_select()).first(conn).await.optional()
}

/// Newest first; `owner` limits the list to one member's keys.
pub async fn list_keys(conn: &mut Connection, owner: Option<Uuid>) -> QueryResult<Vec<ApiKeyRow>> {
    let mut query = api_keys::table.select(ApiKeyRow::as_select()).order(api_keys::created_at.desc()).into_boxed();
    if let Some(owner) = owner {
        query = query.filter(api_keys::user_id.eq(owner));
    }
    query.load(conn).await
}

/// Scopes of the keys with these prefixes (without `bcn_`): what revoking them took away.
pub async fn key_scopes(conn: &mut Connection, prefixes: Vec<String>) -> QueryResult<Vec<(String, Vec<String>)>> {
    api_keys::table
        .filter(api_keys::prefix.eq_any(prefixes))
        .select((api_keys::prefix, api_keys::scopes))
        .load(conn)
        .await
}

pub async fn revoke_key(conn: &mut Connection, id: Uuid) -> QueryResult<bool> {
    let changed = diesel::update(api_keys::table.find(id).filter(api_keys::revoked_at.is_null()))
        .set(api_keys::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// Records a use. Written at most once a minute per key and address, so a busy CI job does not
/// turn every read into a write.
pub async fn touch_key(conn: &mut Connection, id: Uuid, ip: Option<&str>) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE api_keys SET last_used_at = now(), last_used_ip = $2 WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute' OR last_used_ip IS DISTINCT FROM $2)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(ip)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ClientRow {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub role: crate::auth::model::Role,
    pub created_at: DateTime<Utc>,
    pub last_token_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewClient<'a> {
    pub id: Uuid,
    pub client_id: &'a str,
    pub name: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: Vec<String>,
    pub role: &'a str,
    pub created_by: Uuid,
}

pub async fn insert_client(conn: &mut Connection, client: NewClient<'_>) -> QueryResult<()> {
    diesel::insert_into(oauth_clients::table)
        .values((
            oauth_clients::id.eq(client.id),
            oauth_clients::client_id.eq(client.client_id),
            oauth_clients::name.eq(client.name),
            oauth_clients::secret_hash.eq(client.secret_hash),
            oauth_clients::scopes.eq(client.scopes),
            oauth_clients::role.eq(client.role),
            oauth_clients::created_by.eq(client.created_by),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_client(conn: &mut Connection, client_id: &str) -> QueryResult<Option<ClientRow>> {
    oauth_clients::table
        .filter(oauth_clients::client_id.eq(client_id))
        .select(ClientRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list_clients(conn: &mut Connection) -> QueryResult<Vec<ClientRow>> {
    oauth_clients::table.select(ClientRow::as_select()).order(oauth_clients::created_at.desc()).load(conn).await
}

pub async fn find_clients(conn: &mut Connection, client_ids: Vec<String>) -> QueryResult<Vec<ClientRow>> {
    oauth_clients::table
        .filter(oauth_clients::client_id.eq_any(client_ids))
        .select(ClientRow::as_select())
        .load(conn)
        .await
}

pub async fn revoke_client(conn: &mut Connection, id: Uuid) -> QueryResult<Option<String>> {
    diesel::update(oauth_clients::table.find(id).filter(oauth_clients::revoked_at.is_null()))
        .set(oauth_clients::revoked_at.eq(diesel::dsl::now))
        .returning(oauth_clients::client_id)
        .get_result(conn)
        .await
        .optional()
}

pub async fn touch_client(conn: &mut Connection, id: Uuid) -> QueryResult<()> {
    diesel::update(oauth_clients::table.find(id))
        .set(oauth_clients::last_token_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

/// A logged request, as the access-log writer inserts it.
#[derive(Clone, Insertable)]
#[diesel(table_name = api_requests)]
pub struct NewApiRequest {
    pub at: DateTime<Utc>,
    pub api_key_id: Option<Uuid>,
    pub oauth_client_id: Option<String>,
    pub user_id: Option<Uuid>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: i16,
    pub latency_us: i32,
    pub ip: Option<String>,
}

/// One multi-row insert: a batch of at most a thousand rows stays far below PostgreSQL's
/// limit of 65,535 bind parameters.
pub async fn insert_requests(conn: &mut Connection, rows: &[NewApiRequest]) -> QueryResult<usize> {
    diesel::insert_into(api_requests::table).values(rows).execute(conn).await
}

pub async fn count_requests(conn: &mut Connection) -> QueryResult<i64> {
    api_requests::table.count().get_result(conn).await
}

/// Deletes what is older than `before`; returns how many rows went.
pub async fn prune_requests(conn: &mut Connection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(api_requests::table.filter(api_requests::at.lt(before))).execute(conn).await
}

/// A caller's requests on one day (UTC).
#[derive(QueryableByName)]
pub struct DailyRequests {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub api_key_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub oauth_client_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub day: chrono::NaiveDate,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub requests: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub failed: i64,
}

/// Requests per caller and day since `since`, with how many of them failed (status 400 and up).
pub async fn daily_requests(conn: &mut Connection, since: DateTime<Utc>) -> QueryResult<Vec<DailyRequests>> {
    diesel::sql_query(
        "SELECT api_key_id, oauth_client_id, (at AT TIME ZONE 'UTC')::date AS day, \
                count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS failed \
         FROM api_requests WHERE at >= $1 GROUP BY 1, 2, 3",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(since)
    .load(conn)
    .await
}
