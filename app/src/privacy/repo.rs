//! The queries of a GDPR export and an erasure: every table of the tenant (and the account in
//! the control schema) that holds something about a person, read or cleaned here in one place.
//! The audit log's own part is `audit::erasure`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::{
    api_keys, api_requests, fetch_allowlist, import_jobs, locations, notification_preferences, notifications,
    oauth_clients, sso_identities, sso_providers, users,
};
use crate::db::Connection;

/// The account as stored; secrets (password hash, TOTP secret) are never exported, only
/// whether they are set.
#[derive(Queryable, Selectable, Serialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub must_change_password: bool,
    pub password_changed_at: Option<DateTime<Utc>>,
    #[serde(rename = "two_factor_enabled_at")]
    pub totp_enabled_at: Option<DateTime<Utc>>,
}

pub async fn profile(conn: &mut Connection, user: Uuid) -> QueryResult<Profile> {
    users::table.find(user).select(Profile::as_select()).first(conn).await
}

#[derive(Queryable, Serialize)]
pub struct SsoIdentity {
    pub provider: String,
    pub subject: String,
    pub email: String,
    pub linked_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

pub async fn sso_identities(conn: &mut Connection, user: Uuid) -> QueryResult<Vec<SsoIdentity>> {
    sso_identities::table
        .inner_join(sso_providers::table)
        .filter(sso_identities::user_id.eq(user))
        .order(sso_identities::linked_at.asc())
        .select((
            sso_providers::name,
            sso_identities::subject,
            sso_identities::email,
            sso_identities::linked_at,
            sso_identities::last_login_at,
        ))
        .load(conn)
        .await
}

#[derive(Queryable, Serialize)]
pub struct CreatedRecord {
    pub what: &'static str,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Locations, import jobs and fetch hosts the person created (they are credited by email).
pub async fn created_by(conn: &mut Connection, email: &str) -> QueryResult<Vec<CreatedRecord>> {
    let locations: Vec<(String, DateTime<Utc>)> = locations::table
        .filter(locations::created_by.eq(email))
        .select((locations::target, locations::created_at))
        .load(conn)
        .await?;
    let jobs: Vec<(String, DateTime<Utc>)> = import_jobs::table
        .filter(import_jobs::created_by.eq(email))
        .select((import_jobs::source, import_jobs::created_at))
        .load(conn)
        .await?;
    let hosts: Vec<(String, DateTime<Utc>)> = fetch_allowlist::table
        .filter(fetch_allowlist::created_by.eq(email))
        .select((fetch_allowlist::pattern, fetch_allowlist::created_at))
        .load(conn)
        .await?;
    let record = |what| move |(name, created_at)| CreatedRecord { what, name, created_at };
    Ok(locations
        .into_iter()
        .map(record("location"))
        .chain(jobs.into_iter().map(record("import job")))
        .chain(hosts.into_iter().map(record("fetch host")))
        .collect())
}

#[derive(Queryable, Serialize)]
pub struct ClientRecord {
    pub client_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn clients_created_by(conn: &mut Connection, user: Uuid) -> QueryResult<Vec<ClientRecord>> {
    oauth_clients::table
        .filter(oauth_clients::created_by.eq(user))
        .order(oauth_clients::created_at.asc())
        .select((oauth_clients::client_id, oauth_clients::name, oauth_clients::created_at, oauth_clients::revoked_at))
        .load(conn)
        .await
}

/// A request the person made with one of their keys, as exported.
#[derive(Queryable, Serialize)]
pub struct ApiRequest {
    #[serde(skip)]
    pub id: i64,
    pub at: DateTime<Utc>,
    pub api_key_id: Option<Uuid>,
    pub method: String,
    pub path: String,
    pub status: i16,
    pub latency_us: i32,
    pub ip: Option<String>,
}

/// Up to `limit` of a key's logged requests before `before` (time, id), newest first: one
/// range of the `api_requests_key` index per page.
pub async fn key_requests(
    conn: &mut Connection,
    key: Uuid,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<ApiRequest>> {
    use api_requests::dsl as r;
    let mut query = api_requests::table.filter(r::api_key_id.eq(key)).into_boxed();
    if let Some((at, id)) = before {
        query = query.filter(r::at.lt(at).or(r::at.eq(at).and(r::id.lt(id))));
    }
    query
        .order((r::at.desc(), r::id.desc()))
        .limit(limit)
        .select((r::id, r::at, r::api_key_id, r::method, r::path, r::status, r::latency_us, r::ip))
        .load(conn)
        .await
}

/// What an erasure removed or re-attributed outside the audit log.
pub struct Cleaned {
    pub api_keys: usize,
    pub api_requests: usize,
    pub sso_identities: usize,
    pub reattributed: usize,
}

/// Deletes the person's keys (with their request log), single sign-on links and counted
/// searches for them, and credits what they created to `pseudonym`. The deleted keys are announced to every server by the
/// `api_keys_announce_change` trigger.
pub async fn clean(
    conn: &mut Connection,
    user: Uuid,
    (email, display_name): (&str, &str),
    pseudonym: (&str, Uuid),
) -> QueryResult<Cleaned> {
    let keys: Vec<Uuid> = api_keys::table.filter(api_keys::user_id.eq(user)).select(api_keys::id).load(conn).await?;
    let api_requests =
        diesel::delete(api_requests::table.filter(api_requests::api_key_id.eq_any(&keys))).execute(conn).await?;
    let api_keys = diesel::delete(api_keys::table.filter(api_keys::id.eq_any(&keys))).execute(conn).await?;
    let sso_identities =
        diesel::delete(sso_identities::table.filter(sso_identities::user_id.eq(user))).execute(conn).await?;
    let (name, id) = pseudonym;
    let mut reattributed = diesel::update(locations::table.filter(locations::created_by.eq(email)))
        .set(locations::created_by.eq(name))
        .execute(conn)
        .await?;
    reattributed += diesel::update(import_jobs::table.filter(import_jobs::created_by.eq(email)))
        .set(import_jobs::created_by.eq(name))
        .execute(conn)
        .await?;
    reattributed += diesel::update(fetch_allowlist::table.filter(fetch_allowlist::created_by.eq(email)))
        .set(fetch_allowlist::created_by.eq(name))
        .execute(conn)
        .await?;
    let clients: Vec<String> = diesel::update(oauth_clients::table.filter(oauth_clients::created_by.eq(user)))
        .set(oauth_clients::created_by.eq(id))
        .returning(oauth_clients::client_id)
        .get_results(conn)
        .await?;
    reattributed += clients.len();
    // Plugin revisions they made and change requests they asked for or decided.
    for sql in [
        "UPDATE plugin_revisions SET author = $2 WHERE author_id = $1",
        "UPDATE plugin_change_requests SET requester = $2 WHERE requested_by = $1",
        "UPDATE plugin_change_requests SET decider = $2 WHERE decided_by = $1",
    ] {
        reattributed += diesel::sql_query(sql)
            .bind::<diesel::sql_types::Uuid, _>(user)
            .bind::<diesel::sql_types::Text, _>(name)
            .execute(conn)
            .await?;
    }
    // The clients' logged calls name their creator as the acting member.
    diesel::update(api_requests::table.filter(api_requests::oauth_client_id.eq_any(&clients)))
        .set(api_requests::user_id.eq(id))
        .execute(conn)
        .await?;
    // Their days of activity, and searches for their email or name.
    diesel::sql_query(
        "DELETE FROM usage_counts WHERE subject = $3 \
            OR strpos(lower(subject), lower($1)) > 0 OR strpos(lower(subject), lower($2)) > 0",
    )
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<diesel::sql_types::Text, _>(display_name)
    .bind::<diesel::sql_types::Text, _>(user.to_string())
    .execute(conn)
    .await?;
    // Their notifications and choices; events for them or naming them (kept an hour for
    // replays, nothing to keep); other members' notifications name the pseudonym instead.
    diesel::delete(notifications::table.filter(notifications::user_id.eq(user))).execute(conn).await?;
    diesel::delete(notification_preferences::table.filter(notification_preferences::user_id.eq(user)))
        .execute(conn)
        .await?;
    diesel::sql_query(
        "DELETE FROM events WHERE user_id = $3::uuid \
            OR strpos(lower(payload::text), lower($1)) > 0 OR strpos(lower(payload::text), lower($2)) > 0",
    )
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<diesel::sql_types::Text, _>(display_name)
    .bind::<diesel::sql_types::Text, _>(user.to_string())
    .execute(conn)
    .await?;
    for named in [email, display_name].into_iter().filter(|n| !n.is_empty()) {
        diesel::sql_query(
            "UPDATE notifications SET title = regexp_replace(title, $1, $2, 'gi'), \
                body = regexp_replace(body, $1, $2, 'gi') WHERE title ~* $1 OR body ~* $1",
        )
        .bind::<diesel::sql_types::Text, _>(regex_literal(named))
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(conn)
        .await?;
        // An approved request's revision says who asked ("… (asked by …)").
        diesel::sql_query(
            "UPDATE plugin_revisions SET reason = regexp_replace(reason, $1, $2, 'gi') WHERE reason ~* $1",
        )
        .bind::<diesel::sql_types::Text, _>(regex_literal(named))
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(conn)
        .await?;
    }
    Ok(Cleaned { api_keys, api_requests, sso_identities, reattributed })
}

/// `text` as a PostgreSQL regular expression matching it literally.
fn regex_literal(text: &str) -> String {
    text.chars().fold(String::with_capacity(text.len()), |mut out, c| {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// Removes the account itself (its recovery codes go with it) once no tenant has it.
pub async fn delete_account(conn: &mut Connection, user: Uuid) -> QueryResult<()> {
    diesel::delete(users::table.find(user)).execute(conn).await.map(drop)
}
