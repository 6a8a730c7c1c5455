//! Diesel queries on registered Locations and the tenant's fetch allowlist.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::{entities, fetch_allowlist, locations};
use crate::db::Connection;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = locations, check_for_backend(Pg))]
pub struct LocationRow {
    pub id: Uuid,
    pub location_type: String,
    pub target: String,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub refresh_error: Option<String>,
}

pub async fn insert(conn: &mut Connection, id: Uuid, target: &str, created_by: &str) -> QueryResult<()> {
    diesel::insert_into(locations::table)
        .values((
            locations::id.eq(id),
            locations::location_type.eq("url"),
            locations::target.eq(target),
            locations::created_by.eq(created_by),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut Connection, id: Uuid) -> QueryResult<Option<LocationRow>> {
    locations::table.find(id).select(LocationRow::as_select()).first(conn).await.optional()
}

pub async fn find_by_target(conn: &mut Connection, target: &str) -> QueryResult<Option<LocationRow>> {
    locations::table.filter(locations::target.eq(target)).select(LocationRow::as_select()).first(conn).await.optional()
}

/// Every location with how many entities it provides, by target.
pub async fn list(conn: &mut Connection) -> QueryResult<Vec<(LocationRow, i64)>> {
    locations::table
        .left_join(entities::table)
        .group_by(locations::id)
        .select((LocationRow::as_select(), diesel::dsl::count(entities::id.nullable())))
        .order(locations::target)
        .load(conn)
        .await
}

pub async fn set_target(conn: &mut Connection, id: Uuid, target: &str) -> QueryResult<()> {
    diesel::update(locations::table.find(id)).set(locations::target.eq(target)).execute(conn).await?;
    Ok(())
}

pub async fn set_refreshed(conn: &mut Connection, id: Uuid, error: Option<&str>) -> QueryResult<()> {
    let query = diesel::update(locations::table.find(id));
    match error {
        None => {
            query
                .set((locations::refreshed_at.eq(diesel::dsl::now), locations::refresh_error.eq(None::<String>)))
                .execute(conn)
                .await?
        }
        Some(error) => query.set(locations::refresh_error.eq(error)).execute(conn).await?,
    };
    Ok(())
}

/// Deletes the location and the entities it provides; returns their refs.
pub async fn delete(conn: &mut Connection, id: Uuid) -> QueryResult<Vec<String>> {
    let refs = diesel::delete(entities::table.filter(entities::location_id.eq(id)))
        .returning(entities::entity_ref)
        .get_results(conn)
        .await?;
    diesel::delete(locations::table.find(id)).execute(conn).await?;
    Ok(refs)
}

pub async fn allowlist(conn: &mut Connection) -> QueryResult<Vec<String>> {
    fetch_allowlist::table.select(fetch_allowlist::pattern).order(fetch_allowlist::pattern).load(conn).await
}

/// Adds a pattern; false if it was already there.
pub async fn allow(conn: &mut Connection, pattern: &str, created_by: &str) -> QueryResult<bool> {
    let added = diesel::insert_into(fetch_allowlist::table)
        .values((fetch_allowlist::pattern.eq(pattern), fetch_allowlist::created_by.eq(created_by)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(added == 1)
}

/// Removes a pattern; false if it was not there.
pub async fn disallow(conn: &mut Connection, pattern: &str) -> QueryResult<bool> {
    Ok(diesel::delete(fetch_allowlist::table.find(pattern)).execute(conn).await? == 1)
}
