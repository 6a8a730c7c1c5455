//! Diesel queries on the tenant's catalog tables.

use diesel::dsl::{count_star, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;
use serde_json::Value;
use uuid::Uuid;

use super::query::{prefix_tsquery, Condition, EntityQuery, Filter, SortField};
use crate::db::schema::{entities, entity_relations, entity_search};
use crate::db::Connection;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = entities, check_for_backend(Pg))]
pub struct EntityRow {
    pub id: Uuid,
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub etag: String,
    pub body: Value,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner_ref: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = entities)]
pub struct EntityWrite<'a> {
    pub id: Uuid,
    pub entity_ref: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub etag: &'a str,
    pub body: &'a Value,
    #[diesel(treat_none_as_null = true)]
    pub title: Option<&'a str>,
    #[diesel(treat_none_as_null = true)]
    pub description: Option<&'a str>,
    #[diesel(treat_none_as_null = true)]
    pub owner_ref: Option<&'a str>,
    #[diesel(treat_none_as_null = true)]
    pub spec_type: Option<&'a str>,
    #[diesel(treat_none_as_null = true)]
    pub lifecycle: Option<&'a str>,
    pub tags: &'a [String],
    pub search_text: &'a str,
    pub source: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = entity_relations)]
pub struct RelationRow {
    pub originating_entity_id: Uuid,
    pub source_ref: String,
    pub relation: String,
    pub target_ref: String,
}

#[derive(Insertable)]
#[diesel(table_name = entity_search)]
pub struct SearchRow {
    pub entity_id: Uuid,
    pub key: String,
    pub value: Option<String>,
    pub original_value: Option<String>,
}

/// Rows per INSERT statement: keeps every statement well under PostgreSQL's 65,535 binds.
const INSERT_CHUNK: usize = 2_000;

pub async fn find_existing(conn: &mut Connection, refs: &[String]) -> QueryResult<Vec<(Uuid, String, Value)>> {
    entities::table
        .filter(entities::entity_ref.eq_any(refs))
        .select((entities::id, entities::entity_ref, entities::body))
        .load(conn)
        .await
}

pub async fn insert(conn: &mut Connection, rows: &[EntityWrite<'_>]) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        diesel::insert_into(entities::table).values(chunk).execute(conn).await?;
    }
    Ok(())
}

pub async fn update(conn: &mut Connection, row: &EntityWrite<'_>) -> QueryResult<()> {
    diesel::update(entities::table.find(row.id))
        .set((row, entities::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the relation and search rows that the given entities own.
pub async fn replace_index(
    conn: &mut Connection,
    ids: &[Uuid],
    relations: &[RelationRow],
    search: &[SearchRow],
) -> QueryResult<()> {
    diesel::delete(entity_relations::table.filter(entity_relations::originating_entity_id.eq_any(ids)))
        .execute(conn)
        .await?;
    diesel::delete(entity_search::table.filter(entity_search::entity_id.eq_any(ids))).execute(conn).await?;
    for chunk in relations.chunks(INSERT_CHUNK) {
        diesel::insert_into(entity_relations::table).values(chunk).execute(conn).await?;
    }
    for chunk in search.chunks(INSERT_CHUNK) {
        diesel::insert_into(entity_search::table).values(chunk).execute(conn).await?;
    }
    Ok(())
}

pub async fn find_by_ref(conn: &mut Connection, entity_ref: &str) -> QueryResult<Option<EntityRow>> {
    entities::table
        .filter(entities::entity_ref.eq(entity_ref))
        .select(EntityRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_uid(conn: &mut Connection, uid: Uuid) -> QueryResult<Option<EntityRow>> {
    entities::table.find(uid).select(EntityRow::as_select()).first(conn).await.optional()
}

pub async fn find_by_refs(conn: &mut Connection, refs: &[String], filter: &Filter) -> QueryResult<Vec<EntityRow>> {
    let mut query = entities::table.filter(entities::entity_ref.eq_any(refs)).into_boxed();
    if let Some(predicate) = filter_predicate(filter) {
        query = query.filter(predicate);
    }
    query.select(EntityRow::as_select()).load(conn).await
}

/// Every relation whose source is one of `refs`, without duplicates.
pub async fn relations_from(conn: &mut Connection, refs: &[String]) -> QueryResult<Vec<(String, String, String)>> {
    entity_relations::table
        .filter(entity_relations::source_ref.eq_any(refs))
        .select((entity_relations::source_ref, entity_relations::relation, entity_relations::target_ref))
        .distinct()
        .order((entity_relations::relation, entity_relations::target_ref))
        .load(conn)
        .await
}

pub async fn existing_refs(conn: &mut Connection, refs: &[String]) -> QueryResult<Vec<String>> {
    entities::table.filter(entities::entity_ref.eq_any(refs)).select(entities::entity_ref).load(conn).await
}

pub async fn delete(conn: &mut Connection, uid: Uuid) -> QueryResult<Option<String>> {
    diesel::delete(entities::table.find(uid)).returning(entities::entity_ref).get_result(conn).await.optional()
}

pub async fn query(conn: &mut Connection, q: &EntityQuery) -> QueryResult<Vec<EntityRow>> {
    let mut query = entities::table.select(EntityRow::as_select()).into_boxed();
    if let Some(predicate) = query_predicate(q) {
        query = query.filter(predicate);
    }
    for sort in &q.sort {
        query = match (sort.field, sort.descending) {
            (SortField::Name, false) => query.then_order_by(entities::name.asc()),
            (SortField::Name, true) => query.then_order_by(entities::name.desc()),
            (SortField::Kind, false) => query.then_order_by(entities::kind.asc()),
            (SortField::Kind, true) => query.then_order_by(entities::kind.desc()),
            (SortField::Namespace, false) => query.then_order_by(entities::namespace.asc()),
            (SortField::Namespace, true) => query.then_order_by(entities::namespace.desc()),
            (SortField::Title, false) => query.then_order_by(entities::title.asc()),
            (SortField::Title, true) => query.then_order_by(entities::title.desc()),
            (SortField::Type, false) => query.then_order_by(entities::spec_type.asc()),
            (SortField::Type, true) => query.then_order_by(entities::spec_type.desc()),
            (SortField::Lifecycle, false) => query.then_order_by(entities::lifecycle.asc()),
            (SortField::Lifecycle, true) => query.then_order_by(entities::lifecycle.desc()),
            (SortField::Owner, false) => query.then_order_by(entities::owner_ref.asc()),
            (SortField::Owner, true) => query.then_order_by(entities::owner_ref.desc()),
        };
    }
    query.then_order_by(entities::entity_ref.asc()).offset(q.offset).limit(q.limit).load(conn).await
}

pub async fn count(conn: &mut Connection, q: &EntityQuery) -> QueryResult<i64> {
    let mut query = entities::table.select(count_star()).into_boxed();
    if let Some(predicate) = query_predicate(q) {
        query = query.filter(predicate);
    }
    query.get_result(conn).await
}

/// Value counts of one facet (a dotted path) over the entities matching `filter`.
pub async fn facet(conn: &mut Connection, key: &str, filter: &Filter) -> QueryResult<Vec<(Option<String>, i64)>> {
    let mut matching = entities::table.select(entities::id).into_boxed();
    if let Some(predicate) = filter_predicate(filter) {
        matching = matching.filter(predicate);
    }
    entity_search::table
        .filter(entity_search::key.eq(key.to_lowercase()))
        .filter(entity_search::entity_id.eq_any(matching))
        .group_by(entity_search::original_value)
        .select((entity_search::original_value, count_star()))
        .order((count_star().desc(), entity_search::original_value.asc()))
        .load(conn)
        .await
}

type Predicate = Box<dyn BoxableExpression<entities::table, Pg, SqlType = Bool>>;

fn query_predicate(q: &EntityQuery) -> Option<Predicate> {
    let text = q.full_text.as_deref().and_then(prefix_tsquery).map(|tsquery| -> Predicate {
        Box::new(sql::<Bool>("search @@ to_tsquery('simple', ").bind::<Text, _>(tsquery).sql(")"))
    });
    match (filter_predicate(&q.filter), text) {
        (Some(f), Some(t)) => Some(Box::new(f.and(t))),
        (f, t) => f.or(t),
    }
}

fn filter_predicate(filter: &Filter) -> Option<Predicate> {
    filter
        .0
        .iter()
        .filter_map(|all| all.iter().map(condition).reduce(|a, b| -> Predicate { Box::new(a.and(b)) }))
        .reduce(|a, b| -> Predicate { Box::new(a.or(b)) })
}

fn condition(c: &Condition) -> Predicate {
    if let Some(relation) = c.key.strip_prefix("relations.") {
        let relation = super::relations::canonical_relation(relation);
        return match &c.value {
            Some(target) => Box::new(
                entities::entity_ref.eq_any(
                    entity_relations::table
                        .filter(entity_relations::relation.eq(relation))
                        .filter(entity_relations::target_ref.eq(target.clone()))
                        .select(entity_relations::source_ref),
                ),
            ),
            None => Box::new(
                entities::entity_ref.eq_any(
                    entity_relations::table
                        .filter(entity_relations::relation.eq(relation))
                        .select(entity_relations::source_ref),
                ),
            ),
        };
    }
    match &c.value {
        Some(value) => Box::new(
            entities::id.eq_any(
                entity_search::table
                    .filter(entity_search::key.eq(c.key.clone()))
                    .filter(entity_search::value.eq(value.clone()))
                    .select(entity_search::entity_id),
            ),
        ),
        None => Box::new(entities::id.eq_any(
            entity_search::table.filter(entity_search::key.eq(c.key.clone())).select(entity_search::entity_id),
        )),
    }
}
