//! Diesel queries on the tenant's catalog tables.

use diesel::dsl::{count_star, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::index::ALWAYS_PRESENT;
use super::query::{
    prefix_tsquery, whole_words_tsquery, Condition, EntityQuery, Filter, KindScope, Predicate as QueryPredicate,
    SortField,
};
use crate::db::schema::{
    catalog_state, entities, entity_changes, entity_facet_counts, entity_relations, entity_values,
};
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
    /// The entity as served, relations aside (see `document`).
    pub document: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner_ref: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tags: Vec<String>,
    pub location_id: Option<Uuid>,
    pub parent_ref: Option<String>,
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
    pub document: &'a str,
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
    #[diesel(treat_none_as_null = true)]
    pub location_id: Option<Uuid>,
    #[diesel(treat_none_as_null = true)]
    pub parent_ref: Option<&'a str>,
    pub content_hash: Option<&'a [u8]>,
    pub filters: &'a [String],
    pub counted_values: &'a [String],
    pub facet_values: &'a [String],
}

pub struct RelationRow {
    pub originating_entity_id: Uuid,
    pub source_ref: String,
    pub relation: String,
    pub target_ref: String,
}

/// What an import compares an incoming entity with.
#[derive(Queryable, Selectable)]
#[diesel(table_name = entities, check_for_backend(Pg))]
pub struct ExistingEntity {
    pub id: Uuid,
    pub entity_ref: String,
    pub content_hash: Option<Vec<u8>>,
    pub location_id: Option<Uuid>,
    pub parent_ref: Option<String>,
}

pub async fn find_existing(conn: &mut Connection, refs: &[String]) -> QueryResult<Vec<ExistingEntity>> {
    entities::table.filter(entities::entity_ref.eq_any(refs)).select(ExistingEntity::as_select()).load(conn).await
}

/// The stored documents of `ids` with their etags (an import compares them when a row has no
/// content hash; a page reads those the server does not keep).
pub async fn documents(mut conn: &Connection, ids: &[Uuid]) -> QueryResult<Vec<(Uuid, String, String)>> {
    entities::table
        .filter(entities::id.eq_any(ids))
        .select((entities::id, entities::etag, entities::document))
        .load(&mut conn)
        .await
}

/// One statement for a batch (the service writes at most `BATCH` rows per transaction, far
/// below PostgreSQL's 65,535 bind parameters).
pub async fn insert(conn: &mut Connection, rows: &[EntityWrite<'_>]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(entities::table).values(rows).execute(conn).await?;
    Ok(())
}

/// Whether the entity was there to update.
pub async fn update(conn: &mut Connection, row: &EntityWrite<'_>) -> QueryResult<bool> {
    let updated = diesel::update(entities::table.find(row.id))
        .set((row, entities::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Writes the relation rows of a batch of entities, replacing those of `updated` (entities
/// that had rows before). They go before the entities: the entities' facet-count trigger
/// serialises the tenant's writers from there to commit, so everything before it runs
/// concurrently.
pub async fn replace_relations(conn: &mut Connection, updated: &[Uuid], relations: &[RelationRow]) -> QueryResult<()> {
    if !updated.is_empty() {
        diesel::delete(entity_relations::table.filter(entity_relations::originating_entity_id.eq_any(updated)))
            .execute(conn)
            .await?;
    }
    // One statement with array parameters: far fewer binds and round trips than a multi-row
    // VALUES list.
    diesel::sql_query(
        "INSERT INTO entity_relations (originating_entity_id, source_ref, relation, target_ref) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])",
    )
    .bind::<Array<SqlUuid>, _>(relations.iter().map(|r| r.originating_entity_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(relations.iter().map(|r| r.source_ref.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(relations.iter().map(|r| r.relation.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(relations.iter().map(|r| r.target_ref.as_str()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// What the semantic search knows of an entity: enough to embed its text and to show it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = entities, check_for_backend(Pg))]
pub struct EntityText {
    pub id: Uuid,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// Every entity's text, in reference order.
pub async fn entity_texts(conn: &mut Connection) -> QueryResult<Vec<EntityText>> {
    entities::table.order(entities::entity_ref).select(EntityText::as_select()).load(conn).await
}

/// What the in-memory facet index keeps of an entity (`facet_index`).
#[derive(Queryable, Selectable)]
#[diesel(table_name = entities, check_for_backend(Pg))]
pub struct FacetRow {
    pub id: Uuid,
    pub kind: String,
    pub namespace: String,
    pub owner_ref: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tags: Vec<String>,
}

/// The facet columns of every entity, or of the entities `ids` that still exist.
pub async fn facet_rows(mut conn: &Connection, ids: Option<Vec<Uuid>>) -> QueryResult<Vec<FacetRow>> {
    let mut query = entities::table.select(FacetRow::as_select()).into_boxed();
    if let Some(ids) = ids {
        query = query.filter(entities::id.eq_any(ids));
    }
    query.load(&mut conn).await
}

/// The number of the last catalog write in the change log (0 before the first).
pub async fn last_change(mut conn: &Connection) -> QueryResult<i64> {
    let last: Option<i64> =
        entity_changes::table.select(diesel::dsl::max(entity_changes::seq)).first(&mut conn).await?;
    Ok(last.unwrap_or(0))
}

/// The logged writes from number `seq` on, that one included, in commit order: a reader that
/// does not get `seq` back has missed writes whose entries are gone.
pub async fn changes_from(mut conn: &Connection, seq: i64) -> QueryResult<Vec<(i64, Vec<Uuid>)>> {
    entity_changes::table
        .filter(entity_changes::seq.ge(seq))
        .order(entity_changes::seq)
        .select((entity_changes::seq, entity_changes::ids))
        .load(&mut conn)
        .await
}

/// The catalog's version; `bump_version` runs in every writing transaction.
pub async fn version(mut conn: &Connection) -> QueryResult<i64> {
    catalog_state::table.select(catalog_state::version).first(&mut conn).await
}

/// Bumps the version and announces it on the `beacon_catalog` channel as `<schema>:<version>`;
/// PostgreSQL delivers the notification only if the transaction commits.
pub async fn bump_version(conn: &mut Connection) -> QueryResult<()> {
    diesel::sql_query(
        "WITH bumped AS (UPDATE catalog_state SET version = version + 1 RETURNING version) \
         SELECT pg_notify('beacon_catalog', current_schema() || ':' || version) FROM bumped",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Markers PostgreSQL puts around matches in headlines: control characters that cannot occur
/// in catalog text, so the text can be HTML-escaped before they become `<mark>`.
pub const MATCH_START: &str = "\u{1}";
pub const MATCH_END: &str = "\u{2}";

/// For each entity, the passage of its description (else name and title) that best matches.
pub async fn headlines(mut conn: &Connection, ids: &[Uuid], tsquery: &str) -> QueryResult<Vec<(Uuid, String)>> {
    #[derive(QueryableByName)]
    struct Headline {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Text)]
        headline: String,
    }
    let rows: Vec<Headline> = diesel::sql_query(
        "SELECT id, ts_headline('simple', coalesce(nullif(description, ''), name || ' ' || coalesce(title, '')), \
                to_tsquery('simple', $2), \
                'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=24, MinWords=8, MaxFragments=1') AS headline \
         FROM entities WHERE id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Text, _>(tsquery)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|h| (h.id, h.headline)).collect())
}

/// Refreshes the planner's statistics of the relations after a bulk load (see
/// `analyze_entities`).
pub async fn analyze_relations(conn: &mut Connection) -> QueryResult<()> {
    diesel::sql_query("ANALYZE entity_relations").execute(conn).await?;
    Ok(())
}

/// Refreshes the planner's statistics of the entities after a bulk load, so queries get good
/// plans at once instead of after autovacuum's next visit, and merges the entries the load left
/// in the GIN indexes' pending lists (filters, words, name trigrams), which every lookup in
/// those indexes would otherwise scan whole until autovacuum comes.
pub async fn analyze_entities(conn: &mut Connection) -> QueryResult<()> {
    diesel::sql_query("ANALYZE entities").execute(conn).await?;
    diesel::sql_query(
        "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = 'entities'::regclass AND a.amname = 'gin'",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Holds, until the transaction ends, the right to save the entity `entity_ref` of this tenant
/// one at a time (the editor, `POST` and `PUT /entities`): the second saver sees what the first
/// did. Imports do not take it (a batch would need hundreds of locks); an import racing a save
/// of the same new entity meets the unique index instead, which answers 409.
pub async fn lock_entity(conn: &mut Connection, entity_ref: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || $1, 0))")
        .bind::<Text, _>(entity_ref)
        .execute(conn)
        .await?;
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

pub async fn find_by_uid(mut conn: &Connection, uid: Uuid) -> QueryResult<Option<EntityRow>> {
    entities::table.find(uid).select(EntityRow::as_select()).first(&mut conn).await.optional()
}

/// A relation read for one of several sources: `source` is the source's place in the refs asked for.
#[derive(Queryable, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourcedRelation {
    pub source: i64,
    pub relation: String,
    pub target_ref: String,
}

/// Every relation whose source is one of `refs`, without duplicates, ordered by source (its
/// place in `refs`, from 0), type and target.
///
/// The source comes back as its place rather than its ref: a page of APIs has a thousand
/// relations, and reading, hashing and comparing the ref of each was a tenth of its time.
pub async fn relations_from(mut conn: &Connection, refs: &[String]) -> QueryResult<Vec<SourcedRelation>> {
    Ok(ordered(RelationsOf { refs }.load(&mut conn).await?))
}

/// The relations of `refs` with their source's place among them (`unnest … WITH ORDINALITY`,
/// which diesel's query builder cannot say). A query type of its own rather than `sql_query`,
/// which diesel plans again on every call: this one is prepared once per connection, as a
/// lookup by name cannot afford a plan each time.
struct RelationsOf<'a> {
    refs: &'a [String],
}

/// The same statement whatever the refs: diesel keeps it prepared under this type.
impl QueryId for RelationsOf<'_> {
    type QueryId = RelationsOf<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for RelationsOf<'_> {
    type SqlType = (BigInt, Text, Text);
}

impl QueryFragment<Pg> for RelationsOf<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT s.at - 1, r.relation, r.target_ref FROM unnest(");
        out.push_bind_param::<Array<Text>, [String]>(self.refs)?;
        out.push_sql(") WITH ORDINALITY AS s(source_ref, at) JOIN entity_relations r ON r.source_ref = s.source_ref");
        Ok(())
    }
}

/// The entities with `refs` (those `filter` admits) and their relations, asked together: the
/// relations are found by the same refs, so both queries go in one round trip (pipelined).
pub async fn find_by_refs_with_relations(
    shared: &Connection,
    refs: &[String],
    filter: &Filter,
) -> QueryResult<(Vec<EntityRow>, Vec<SourcedRelation>)> {
    let mut query = entities::table.filter(entities::entity_ref.eq_any(refs)).into_boxed();
    if let Some(predicate) = filter_predicate(filter) {
        query = query.filter(predicate);
    }
    let rows = query.select(EntityRow::as_select()).load(&mut &*shared);
    let relations = relations_from(shared, refs);
    futures_util::try_join!(rows, relations)
}

/// Ordered and made unique here, by bytes: sorting in PostgreSQL's collation cost more than
/// reading the rows (a relation two entities both declare is stored twice).
fn ordered(mut relations: Vec<SourcedRelation>) -> Vec<SourcedRelation> {
    relations.sort_unstable();
    relations.dedup();
    relations
}

/// The entities a registered location provides, by ref.
pub async fn provided_by(conn: &mut Connection, location: Uuid) -> QueryResult<Vec<EntityRow>> {
    entities::table
        .filter(entities::location_id.eq(location))
        .select(EntityRow::as_select())
        .order(entities::entity_ref)
        .load(conn)
        .await
}

pub async fn existing_refs(conn: &mut Connection, refs: &[String]) -> QueryResult<Vec<String>> {
    entities::table.filter(entities::entity_ref.eq_any(refs)).select(entities::entity_ref).load(conn).await
}

pub async fn delete(conn: &mut Connection, uid: Uuid) -> QueryResult<Option<String>> {
    diesel::delete(entities::table.find(uid)).returning(entities::entity_ref).get_result(conn).await.optional()
}

/// What a page of full entities reads before their documents, which the server may keep.
#[derive(Queryable, Selectable)]
#[diesel(table_name = entities, check_for_backend(Pg))]
pub struct EntityHead {
    pub id: Uuid,
    pub entity_ref: String,
    pub etag: String,
}

pub async fn query(mut conn: &Connection, q: &EntityQuery) -> QueryResult<Vec<EntityRow>> {
    paged(q).select(EntityRow::as_select()).load(&mut conn).await
}

pub async fn query_heads(mut conn: &Connection, q: &EntityQuery) -> QueryResult<Vec<EntityHead>> {
    paged(q).select(EntityHead::as_select()).load(&mut conn).await
}

/// The rows of a query's page, in its order.
fn paged(q: &EntityQuery) -> entities::BoxedQuery<'static, Pg> {
    let mut query = entities::table.into_boxed();
    if let Some(predicate) = query_predicate(q) {
        query = query.filter(predicate);
    }
    // A page of one kind in ref order is the range of refs after `kind:` (refs begin with
    // their kind, lower-cased). Said outright, it is an index range scan; otherwise the planner
    // may walk the unique index on refs from the start, past every entity of the kinds that
    // sort before it (325 ms for components at a million entities).
    if let (true, Some(KindScope::Kinds(kinds))) = (q.sort.is_empty(), q.kind_scope()) {
        if let [kind] = kinds.as_slice() {
            query = query
                .filter(entities::entity_ref.ge(format!("{kind}:")))
                .filter(entities::entity_ref.lt(format!("{kind};")));
        }
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
    query.then_order_by(entities::entity_ref.asc()).offset(q.offset).limit(q.limit)
}

pub async fn count(mut conn: &Connection, q: &EntityQuery) -> QueryResult<i64> {
    let mut query = entities::table.select(count_star()).into_boxed();
    if let Some(predicate) = query_predicate(q) {
        query = query.filter(predicate);
    }
    query.get_result(&mut conn).await
}

/// The number of entities a query matches, counted no further than `limit`: the scan stops
/// there (a plain `count(*)` would visit every match first).
///
/// A search matches its words as prefixes, and the GIN index finds a prefix's entities several
/// times more slowly than a whole word's (47 against 13 ms for `checkout`'s 56,000 at a million
/// entities). An entity with the whole words matches their prefixes too, so when the whole
/// words alone reach the limit, the search does: a common word is counted that way.
pub async fn count_up_to(conn: &Connection, q: &EntityQuery, limit: i64) -> QueryResult<i64> {
    if q.full_text.is_some() {
        let whole = rows_up_to(conn, predicate_of(q, whole_words_tsquery), limit).await?;
        if whole >= limit {
            return Ok(whole);
        }
    }
    rows_up_to(conn, query_predicate(q), limit).await
}

async fn rows_up_to(mut conn: &Connection, predicate: Option<Predicate>, limit: i64) -> QueryResult<i64> {
    let mut query = entities::table.select(sql::<diesel::sql_types::Integer>("1")).into_boxed();
    if let Some(predicate) = predicate {
        query = query.filter(predicate);
    }
    let found: Vec<i32> = query.limit(limit).load(&mut conn).await?;
    Ok(found.len() as i64)
}

/// Value counts of one dotted path over the entities a query (filter and predicate) selects,
/// read from the values of only those that have the path (the filters' GIN index finds them;
/// relations, kept among the values only for counting, and the paths every entity has are not
/// in the filters).
pub async fn facet(mut conn: &Connection, key: &str, q: &EntityQuery) -> QueryResult<Vec<(String, i64)>> {
    let key = key.to_lowercase();
    let mut matching = entities::table.select(entities::id).into_boxed();
    if !key.starts_with("relations.") && !ALWAYS_PRESENT.contains(&key.as_str()) {
        matching = matching.filter(entities::filters.overlaps_with(super::index::presence_entries(&key)));
    }
    if let Some(predicate) = query_predicate(q) {
        matching = matching.filter(predicate);
    }
    entity_values::table
        .filter(entity_values::key.eq(key))
        .filter(entity_values::entity_id.eq_any(matching))
        .group_by(entity_values::original_value)
        .select((entity_values::original_value, count_star()))
        .order((count_star().desc(), entity_values::original_value.asc()))
        .load(&mut conn)
        .await
}

/// Value counts of a relation (`dependsOn`) over the entities a query selects: how many of
/// them have each target.
pub async fn relation_facet(mut conn: &Connection, relation: &str, q: &EntityQuery) -> QueryResult<Vec<(String, i64)>> {
    let mut matching = entities::table.select(entities::entity_ref).into_boxed();
    if let Some(predicate) = query_predicate(q) {
        matching = matching.filter(predicate);
    }
    let entities = sql::<diesel::sql_types::BigInt>("count(DISTINCT source_ref)");
    entity_relations::table
        .filter(entity_relations::relation.eq(super::relations::canonical_relation(relation)))
        .filter(entity_relations::source_ref.eq_any(matching))
        .group_by(entity_relations::target_ref)
        .select((entity_relations::target_ref, entities.clone()))
        .order((entities.desc(), entity_relations::target_ref.asc()))
        .load(&mut conn)
        .await
}

/// The kept counts of `key`'s values over the entities of `scope`, most frequent first (at
/// most `limit` values): a few rows, however large the catalog and whatever changed last.
pub async fn counted_facet(
    mut conn: &Connection,
    key: &str,
    scope: &KindScope,
    limit: i64,
) -> QueryResult<Vec<(String, i64)>> {
    let total = sql::<diesel::sql_types::BigInt>("sum(entities)::int8");
    let mut query = entity_facet_counts::table
        .filter(entity_facet_counts::key.eq(key.to_lowercase()))
        .group_by(entity_facet_counts::value)
        .select((entity_facet_counts::value, total.clone()))
        .order((total.desc(), entity_facet_counts::value.asc()))
        .limit(limit)
        .into_boxed();
    if let KindScope::Kinds(kinds) = scope {
        query = query.filter(entity_facet_counts::kind.eq_any(kinds.clone()));
    }
    query.load(&mut conn).await
}

/// How many entities `scope` holds, from the kept counts of `kind`.
pub async fn counted_entities(mut conn: &Connection, scope: &KindScope) -> QueryResult<i64> {
    // A row per kind, summed here: the SQL `sum` is numeric, and a cast in SQL text would
    // keep diesel from preparing the statement once per connection.
    let mut query = entity_facet_counts::table
        .filter(entity_facet_counts::key.eq("kind"))
        .select(entity_facet_counts::entities)
        .into_boxed();
    if let KindScope::Kinds(kinds) = scope {
        query = query.filter(entity_facet_counts::kind.eq_any(kinds.clone()));
    }
    Ok(query.load::<i64>(&mut conn).await?.into_iter().sum())
}

/// Values the list page shows per facet, the most frequent first.
pub const FACET_VALUES: i64 = 50;

/// Facet counts of the list page, straight from the denormalised columns.
pub async fn column_facets(conn: &Connection, filter: &Filter) -> QueryResult<Vec<(&'static str, Vec<(String, i64)>)>> {
    // One pass over the matching entities for the four column facets (grouping sets), one for
    // the tags; both read only the `entities_facets` index. In a grouping set the other
    // columns are NULL, so COALESCE gives the set's own value and GROUPING says which set.
    const COLUMNS: [&str; 4] = ["relations.ownedBy", "spec.type", "spec.lifecycle", "metadata.namespace"];
    let groups = entities::table
        .filter(filter_or_all(filter))
        .group_by(sql::<Text>("GROUPING SETS ((owner_ref), (spec_type), (lifecycle), (namespace))"))
        .select(sql::<(diesel::sql_types::Integer, Nullable<Text>, diesel::sql_types::BigInt)>(
            "GROUPING(owner_ref, spec_type, lifecycle, namespace), \
             COALESCE(owner_ref, spec_type, lifecycle, namespace), count(*)",
        ))
        .load::<(i32, Option<String>, i64)>(&mut &*conn);
    let tags = entities::table
        .filter(filter_or_all(filter))
        .group_by(sql::<Text>("tag"))
        .select((sql::<Text>("unnest(tags) AS tag"), sql::<diesel::sql_types::BigInt>("count(*)")))
        .order(sql::<diesel::sql_types::BigInt>("count(*) DESC"))
        .limit(FACET_VALUES)
        .load::<(String, i64)>(&mut &*conn);
    // Both passes go to PostgreSQL at once.
    let (groups, tags) = futures_util::try_join!(groups, tags)?;
    let mut out: Vec<(&'static str, Vec<(String, i64)>)> = COLUMNS.iter().map(|key| (*key, Vec::new())).collect();
    for (grouping, value, count) in groups {
        // GROUPING has a bit per column, the first column highest, set for the columns the
        // row is not grouped by: exactly one bit is clear.
        let set = (0..COLUMNS.len()).find(|i| grouping & (1 << (COLUMNS.len() - 1 - i)) == 0);
        if let (Some(set), Some(value)) = (set, value) {
            out[set].1.push((value, count));
        }
    }
    for (_, values) in &mut out {
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        values.truncate(FACET_VALUES as usize);
    }
    out.push(("metadata.tags", tags));
    Ok(out)
}

/// Entity counts per kind under a filter (the list's kind tabs).
pub async fn kind_counts(mut conn: &Connection, filter: &Filter) -> QueryResult<Vec<(String, i64)>> {
    entities::table
        .filter(filter_or_all(filter))
        .group_by(entities::kind)
        .select((entities::kind, count_star()))
        .order(count_star().desc())
        .load(&mut conn)
        .await
}

type Predicate = Box<dyn BoxableExpression<entities::table, Pg, SqlType = Bool>>;

fn query_predicate(q: &EntityQuery) -> Option<Predicate> {
    predicate_of(q, prefix_tsquery)
}

/// The query's predicate, its search's words made a tsquery by `words`.
fn predicate_of(q: &EntityQuery, words: fn(&str) -> Option<String>) -> Option<Predicate> {
    // Words (as prefixes), or — for typos — a name that is trigram-similar to the whole term.
    let text = q.full_text.as_deref().and_then(|term| words(term).map(|tsquery| (term, tsquery))).map(
        |(term, tsquery)| -> Predicate {
            Box::new(
                sql::<Bool>("(search @@ to_tsquery('simple', ")
                    .bind::<Text, _>(tsquery)
                    .sql(") OR lower(name) OPERATOR(public.%) ")
                    .bind::<Text, _>(term.trim().to_lowercase())
                    .sql(")"),
            )
        },
    );
    [filter_predicate(&q.filter), q.predicate.as_ref().map(tree), text]
        .into_iter()
        .flatten()
        .reduce(|a, b| -> Predicate { Box::new(a.and(b)) })
}

/// A predicate tree as SQL, each leaf being a filter condition.
fn tree(p: &QueryPredicate) -> Predicate {
    let leaf = |key: &str, value: Option<&String>| {
        condition(&Condition { key: key.to_owned(), value: value.cloned() }, Generic::IdSet)
    };
    let fold = |items: Vec<Predicate>, all: bool| -> Predicate {
        items
            .into_iter()
            .reduce(|a, b| -> Predicate {
                if all {
                    Box::new(a.and(b))
                } else {
                    Box::new(a.or(b))
                }
            })
            .unwrap_or_else(|| Box::new(sql::<Bool>(if all { "TRUE" } else { "FALSE" })))
    };
    match p {
        QueryPredicate::All(items) => fold(items.iter().map(tree).collect(), true),
        QueryPredicate::Any(items) => fold(items.iter().map(tree).collect(), false),
        QueryPredicate::Not(inner) => Box::new(diesel::dsl::not(tree(inner))),
        QueryPredicate::Equals(key, value) => leaf(key, Some(value)),
        QueryPredicate::In(key, values) => fold(values.iter().map(|v| leaf(key, Some(v))).collect(), false),
        QueryPredicate::Exists(key, true) => leaf(key, None),
        QueryPredicate::Exists(key, false) => Box::new(diesel::dsl::not(leaf(key, None))),
    }
}

fn filter_or_all(filter: &Filter) -> Predicate {
    filter_predicate(filter).unwrap_or_else(|| Box::new(sql::<Bool>("TRUE")))
}

fn filter_predicate(filter: &Filter) -> Option<Predicate> {
    filter.0.iter().filter_map(|all| filter_set(all)).reduce(|a, b| -> Predicate { Box::new(a.or(b)) })
}

/// One filter set, as Backstage reads it: different keys must all hold, and the values of a key
/// repeated in the set are alternatives (`kind=group,kind=domain` is either kind, which is what
/// `@backstage/catalog-client` sends for `{ kind: ['Group', 'Domain'] }`). A key given both bare
/// and with values means the values.
fn filter_set(all: &[Condition]) -> Option<Predicate> {
    let mut keys: Vec<&str> = Vec::new();
    for c in all {
        // A set holds at most MAX_CONDITIONS conditions, so this scan stays small.
        if !keys.contains(&c.key.as_str()) {
            keys.push(&c.key);
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let same = all.iter().filter(|c| c.key == key);
            let valued: Vec<&Condition> = same.clone().filter(|c| c.value.is_some()).collect();
            match valued.is_empty() {
                true => same.map(|c| condition(c, Generic::PerRow)).next(),
                false => valued
                    .into_iter()
                    .map(|c| condition(c, Generic::PerRow))
                    .reduce(|a, b| -> Predicate { Box::new(a.or(b)) }),
            }
        })
        .reduce(|a, b| -> Predicate { Box::new(a.and(b)) })
}

diesel::define_sql_function! {
    /// PostgreSQL's `lower`, which the catalog's expression indexes are built on. Declared so
    /// that filters are diesel expressions: statements with SQL text in them are prepared
    /// again on every call, which cost a by-query a round trip.
    fn lower(text: Nullable<Text>) -> Nullable<Text>;
}

/// Columns that hold a well-known path, compared case-insensitively.
fn column_of(key: &str) -> Option<Box<dyn BoxableExpression<entities::table, Pg, SqlType = Nullable<Text>>>> {
    Some(match key {
        "kind" => Box::new(entities::kind.nullable()),
        "metadata.name" => Box::new(entities::name.nullable()),
        "metadata.namespace" => Box::new(entities::namespace.nullable()),
        "spec.type" => Box::new(entities::spec_type),
        "spec.lifecycle" => Box::new(entities::lifecycle),
        _ => return None,
    })
}

/// How a condition on a path without a column of its own is tested.
#[derive(Clone, Copy)]
enum Generic {
    /// On each row's array (`filters @> ...`): the planner can also combine it with the other
    /// conditions of a filter set in a bitmap scan of the GIN index, or stop at the first page
    /// of an index scan by name.
    PerRow,
    /// As the set of ids the GIN index finds, once per query: under the NOTs and ORs of a
    /// predicate tree, where it would otherwise be tested on every row's array once per
    /// condition (80 `$exists: false` took 8.6 s at 100,000 entities).
    IdSet,
}

fn condition(c: &Condition, generic: Generic) -> Predicate {
    if c.key == super::query::RECENTLY_FAILED_DEPLOYMENT {
        return Box::new(sql::<Bool>(super::query::RECENTLY_FAILED_DEPLOYMENT_SQL));
    }
    if c.value.is_none() && ALWAYS_PRESENT.contains(&c.key.as_str()) {
        return Box::new(true.into_sql::<Bool>());
    }
    // The most used conditions hit indexed columns (the filter entries leave their values
    // out); the rest go through the generic index.
    if let Some(value) = &c.value {
        if let Some(column) = column_of(&c.key) {
            return Box::new(lower(column).eq(value.clone()).assume_not_null());
        }
        if c.key == "metadata.uid" {
            return match Uuid::parse_str(value) {
                Ok(id) => Box::new(entities::id.eq(id)),
                Err(_) => Box::new(false.into_sql::<Bool>()),
            };
        }
        if c.key == "relations.ownedby" {
            // spec.owner is the only source of ownedBy, and owner_ref holds it normalised.
            return Box::new(entities::owner_ref.eq(value.clone()).assume_not_null());
        }
    }
    if let Some(relation) = c.key.strip_prefix("relations.") {
        let relation = super::relations::canonical_relation(relation);
        // Relations are read by their source alone (the one index of the table besides the
        // originating entity's): the entities with `relation` to a target are the target's
        // targets of the reverse relation. Only known relations are ever stored.
        return match (&c.value, super::relations::reverse_of(&relation)) {
            (_, None) => Box::new(false.into_sql::<Bool>()),
            (Some(target), Some(reverse)) => Box::new(
                entities::entity_ref.eq_any(
                    entity_relations::table
                        .filter(entity_relations::source_ref.eq(target.clone()))
                        .filter(entity_relations::relation.eq(reverse))
                        .select(entity_relations::target_ref),
                ),
            ),
            (None, Some(_)) => Box::new(diesel::dsl::exists(
                entity_relations::table
                    .filter(entity_relations::source_ref.eq(entities::entity_ref))
                    .filter(entity_relations::relation.eq(relation)),
            )),
        };
    }
    // Any other path: its entry (or, for `$exists`, the bare path) in the GIN-indexed filters.
    let wanted = match &c.value {
        Some(value) => super::index::value_entries(&c.key, value),
        None => super::index::presence_entries(&c.key),
    };
    match generic {
        Generic::PerRow => Box::new(entities::filters.overlaps_with(wanted)),
        Generic::IdSet => {
            let having = diesel::alias!(entities as having);
            Box::new(entities::id.eq_any(
                having.filter(having.field(entities::filters).overlaps_with(wanted)).select(having.field(entities::id)),
            ))
        }
    }
}
