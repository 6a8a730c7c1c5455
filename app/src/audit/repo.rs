//! Diesel queries on the tenant's `audit_events`, its hash chain and its checkpoints.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;

use super::model::{AuditAction, AuditDetail, AuditRecord};
use super::view::{AuditFilter, Cursor, Direction, IpMatch};
use crate::db::schema::{audit_chain, audit_chain_head, audit_checkpoints, audit_events};
use crate::db::Connection;

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub severity: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub details: &'a serde_json::Value,
    pub personal_salt: &'a [u8],
    pub personal_digest: &'a [u8],
    pub content_hash: &'a [u8],
}

pub async fn insert(conn: &mut Connection, event: NewAuditEvent<'_>) -> QueryResult<i64> {
    diesel::insert_into(audit_events::table).values(event).returning(audit_events::id).get_result(conn).await
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(Pg))]
struct RecordRow {
    id: i64,
    occurred_at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

impl From<RecordRow> for AuditRecord {
    fn from(r: RecordRow) -> Self {
        AuditRecord {
            id: r.id,
            occurred_at: r.occurred_at,
            severity: AuditAction::parse(&r.action).map(AuditAction::severity),
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            ip: r.ip,
            user_agent: r.user_agent,
            request_id: r.request_id,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(Pg))]
struct DetailRow {
    #[diesel(embed)]
    record: RecordRow,
    actor_user_id: Option<uuid::Uuid>,
    details: serde_json::Value,
}

fn detail((row, chain_seq): (DetailRow, Option<i64>)) -> AuditDetail {
    AuditDetail { record: row.record.into(), actor_user_id: row.actor_user_id, details: row.details, chain_seq }
}

/// Whether the member signed in during the last 90 days other than in event `except`, and
/// whether with the browser `user_agent` (none counts as one): a sign-in with none before is not "from a new browser".
pub async fn earlier_sign_ins(
    conn: &mut Connection,
    user_id: uuid::Uuid,
    user_agent: Option<&str>,
    except: i64,
) -> QueryResult<(bool, bool)> {
    let names: Vec<&str> =
        [AuditAction::AuthLogin, AuditAction::SsoLogin].into_iter().flat_map(AuditAction::stored_names).collect();
    let earlier = || {
        audit_events::table
            .filter(audit_events::actor_user_id.eq(user_id))
            .filter(audit_events::action.eq_any(names.clone()))
            .filter(audit_events::outcome.eq("success"))
            .filter(audit_events::id.ne(except))
            .filter(audit_events::occurred_at.gt(Utc::now() - chrono::Duration::days(90)))
    };
    let same = audit_events::user_agent.is_not_distinct_from(user_agent);
    diesel::select((diesel::dsl::exists(earlier()), diesel::dsl::exists(earlier().filter(same)))).get_result(conn).await
}

pub async fn recent(conn: &mut Connection, limit: i64) -> QueryResult<Vec<AuditRecord>> {
    page(conn, &AuditFilter::default(), None, limit).await
}

/// Events whose target is `target`, or that list it among the entities they wrote.
pub async fn about(conn: &mut Connection, target: &str, limit: i64) -> QueryResult<Vec<AuditRecord>> {
    let listed = serde_json::json!({ "entities": [target] });
    audit_events::table
        .filter(audit_events::target.eq(target).or(audit_events::details.contains(listed)))
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(RecordRow::as_select())
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(AuditRecord::from).collect())
}

type Filtered<'a> = audit_events::BoxedQuery<'a, Pg>;

/// Who an actor filter means: a member of the tenant (found by email), or a name that is no
/// member's (`cli`, `anonymous`, someone since removed), matched as written.
#[derive(Clone)]
enum Actor {
    Member(uuid::Uuid),
    Named(String),
}

async fn resolve_actor(conn: &mut Connection, filter: &AuditFilter) -> QueryResult<Option<Actor>> {
    use crate::db::schema::users;
    let Some(actor) = &filter.actor else { return Ok(None) };
    let member: Option<uuid::Uuid> =
        users::table.filter(users::email.eq(actor.to_lowercase())).select(users::id).first(conn).await.optional()?;
    Ok(Some(member.map_or_else(|| Actor::Named(actor.clone()), Actor::Member)))
}

/// `LIKE` pattern text matching `raw` literally.
fn literal(raw: &str) -> String {
    raw.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The text free-text search reads: actor, target and request id.
const SEARCHED: &str = "actor || ' ' || target || ' ' || coalesce(request_id, '')";

/// Every word of `words` is a word of the searched text (the `audit_events_words` index, both
/// sides split by the same `audit_words`) and appears in it as written, punctuation and order
/// kept (`bob@`, `service-42`): the `LIKE`s only check the events the index found.
fn has_words(words: &[String]) -> Box<dyn BoxableExpression<audit_events::table, Pg, SqlType = Bool>> {
    let indexed: Box<dyn BoxableExpression<audit_events::table, Pg, SqlType = Bool>> = Box::new(
        sql::<Bool>(&format!("audit_words({SEARCHED}) @> audit_words(")).bind::<Text, _>(words.join(" ")).sql(")"),
    );
    words.iter().fold(indexed, |all, word| {
        let written = sql::<Bool>(&format!("lower({SEARCHED}) LIKE ")).bind::<Text, _>(format!("%{}%", literal(word)));
        Box::new(all.and(written))
    })
}

/// The events `filter` selects, positioned after `direction`'s cursor and ordered for it
/// (newest first; oldest first when paging towards newer events).
fn filtered(filter: &AuditFilter, actor: Option<Actor>, direction: Option<Direction>) -> Filtered<'static> {
    use audit_events::dsl as e;
    let mut query = audit_events::table.into_boxed();
    match actor {
        None => {}
        // A member's own events and those of their API keys, by id: one ordered index range.
        Some(Actor::Member(id)) => query = query.filter(e::actor_user_id.eq(id)),
        Some(Actor::Named(name)) => query = query.filter(e::actor.eq(name)),
    }
    if let Some(actions) = &filter.actions {
        query = query.filter(e::action.eq_any(actions.clone()));
    }
    if let Some(target) = &filter.target {
        query = query.filter(e::target.eq(target.clone()));
    }
    if let Some(outcome) = filter.outcome {
        query = query.filter(e::outcome.eq(outcome.as_str()));
    }
    match &filter.ip {
        None => {}
        Some(IpMatch::Address(ip)) => query = query.filter(e::ip.eq(ip.clone())),
        Some(IpMatch::Network(net)) => {
            query = query.filter(sql::<Bool>("audit_inet(ip) <<= ").bind::<Text, _>(net.clone()).sql("::inet"))
        }
    }
    if let Some(from) = filter.from {
        query = query.filter(e::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(e::occurred_at.lt(to));
    }
    if !filter.words.is_empty() {
        query = query.filter(has_words(&filter.words));
    }
    match direction {
        None => query.order((e::occurred_at.desc(), e::id.desc())),
        Some(Direction::Older(c)) => query.filter(position("<", c)).order((e::occurred_at.desc(), e::id.desc())),
        Some(Direction::Newer(c)) => query.filter(position(">", c)).order((e::occurred_at.asc(), e::id.asc())),
    }
}

/// Events on one side of a position, as one row comparison, which PostgreSQL turns into an
/// index bound: with `a < x OR (a = x AND b < y)` it would read every newer entry again on each
/// page, so deep pages (and exports) slowed down as they went.
fn position(operator: &str, c: Cursor) -> Box<dyn BoxableExpression<audit_events::table, Pg, SqlType = Bool>> {
    Box::new(
        sql::<Bool>(&format!("(occurred_at, id) {operator} ("))
            .bind::<diesel::sql_types::Timestamptz, _>(c.occurred_at)
            .sql(", ")
            .bind::<diesel::sql_types::BigInt, _>(c.id)
            .sql(")"),
    )
}

/// How far from where a free-text page starts each of its reads reaches, in days: the last
/// read takes the rest.
const SEARCH_REACH: [i64; 4] = [1, 7, 31, 366];

/// The time slices a page of `filter` reads one after another, nearest to where the page starts
/// first, until it is full. A free-text search finds its events through the word index, which
/// knows nothing of time: in one read, a word in a few thousand events a month had every one of
/// them fetched and sorted to show the newest 50. Read a day, then a week, a month and a year
/// further, most pages are full after the first slice, and a rare word costs a few cheap reads.
/// Other filters are read in one go: their indexes are in time order.
fn slices(filter: &AuditFilter, direction: Option<Direction>, now: DateTime<Utc>) -> Vec<AuditFilter> {
    if filter.words.is_empty() {
        return vec![filter.clone()];
    }
    let reach = |days: i64| chrono::Duration::days(days);
    let mut slices = Vec::with_capacity(SEARCH_REACH.len() + 1);
    match direction {
        Some(Direction::Newer(cursor)) => {
            let start = filter.from.map_or(cursor.occurred_at, |from| from.max(cursor.occurred_at));
            let mut from = filter.from;
            for days in SEARCH_REACH {
                let edge = start + reach(days);
                if filter.to.is_some_and(|to| to <= edge) {
                    break;
                }
                slices.push(AuditFilter { from, to: Some(edge), ..filter.clone() });
                from = Some(edge);
            }
            slices.push(AuditFilter { from, ..filter.clone() });
        }
        older => {
            let cursor = older.map(|(Direction::Older(c) | Direction::Newer(c))| c.occurred_at);
            // A `to` in the future starts from now: the slices ahead of now would all be empty.
            // The first slice still reaches `to`, so events stamped ahead of now are read.
            let start = [cursor, filter.to, Some(now)].into_iter().flatten().min().unwrap_or(now);
            let mut to = filter.to;
            for days in SEARCH_REACH {
                let edge = start - reach(days);
                if filter.from.is_some_and(|from| from >= edge) {
                    break;
                }
                slices.push(AuditFilter { from: Some(edge), to, ..filter.clone() });
                to = Some(edge);
            }
            slices.push(AuditFilter { to, ..filter.clone() });
        }
    }
    slices
}

/// How many of the newest events the other filters select a free-text page reads before it
/// turns to the word index.
const RECENT_SCAN: i64 = 2_000;

/// The edge of a free-text page's first read: the newest `RECENT_SCAN` events the other filters
/// select (oldest first when paging towards newer events). `Ok(None)` when they select fewer,
/// so the first read sees every candidate.
///
/// Why: PostgreSQL cannot tell a word in every event from a rare one well enough to choose
/// between reading newest-first until the page fills and the word index; chosen wrong, a word in
/// every event had a day's 100,000 events checked one by one and sorted (2 s at 10 million). In
/// a bounded range either choice is cheap: a common word fills its page there, and a rare one
/// costs a quick look before the time slices read the index.
async fn recent_edge(
    conn: &mut Connection,
    filter: &AuditFilter,
    actor: Option<Actor>,
    direction: Option<Direction>,
) -> QueryResult<Option<Cursor>> {
    use audit_events::dsl as e;
    let candidates = AuditFilter { words: Vec::new(), ..filter.clone() };
    let edge: Option<(DateTime<Utc>, i64)> = filtered(&candidates, actor, direction)
        .offset(RECENT_SCAN - 1)
        .select((e::occurred_at, e::id))
        .first(conn)
        .await
        .optional()?;
    Ok(edge.map(|(occurred_at, id)| Cursor { occurred_at, id }))
}

/// Up to `limit` rows of `$row` for a page: for free text, the newest events first (see
/// [`recent_edge`]), then, if the page is not settled there, the time slices from beyond that
/// read's edge; other filters in one read. (A macro: the page and the detail page select
/// different rows.)
macro_rules! read_page {
    ($conn:expr, $filter:expr, $direction:expr, $limit:expr, $row:ty) => {{
        let (conn, filter, limit) = ($conn, $filter, $limit);
        let mut direction = $direction;
        let actor = resolve_actor(conn, filter).await?;
        let mut rows: Vec<$row> = Vec::new();
        let mut settled = false;
        if !filter.words.is_empty() {
            let edge = recent_edge(conn, filter, actor.clone(), direction).await?;
            let towards_newer = matches!(direction, Some(Direction::Newer(_)));
            let mut first = filtered(filter, actor.clone(), direction);
            if let Some(edge) = edge {
                first = first.filter(position(if towards_newer { "<=" } else { ">=" }, edge));
            }
            rows = first.limit(limit).select(<$row>::as_select()).load(conn).await?;
            settled = rows.len() as i64 >= limit;
            match edge {
                // The first read saw every candidate.
                None => settled = true,
                // The slices go on past what the first read saw.
                Some(edge) if towards_newer => direction = Some(Direction::Newer(edge)),
                Some(edge) => direction = Some(Direction::Older(edge)),
            }
        }
        if !settled {
            for slice in slices(filter, direction, Utc::now()) {
                let wanted = limit - rows.len() as i64;
                rows.extend(
                    filtered(&slice, actor.clone(), direction)
                        .limit(wanted)
                        .select(<$row>::as_select())
                        .load(conn)
                        .await?,
                );
                if rows.len() as i64 >= limit {
                    break;
                }
            }
        }
        rows
    }};
}

/// Up to `limit` events of the list, newest first whichever way it was read.
pub async fn page(
    conn: &mut Connection,
    filter: &AuditFilter,
    direction: Option<Direction>,
    limit: i64,
) -> QueryResult<Vec<AuditRecord>> {
    let rows = read_page!(conn, filter, direction, limit, RecordRow);
    let mut records: Vec<AuditRecord> = rows.into_iter().map(AuditRecord::from).collect();
    if matches!(direction, Some(Direction::Newer(_))) {
        records.reverse();
    }
    Ok(records)
}

/// Like [`page`], with everything stored about each event (API and exports), newest first.
pub async fn detail_page(
    conn: &mut Connection,
    filter: &AuditFilter,
    direction: Option<Direction>,
    limit: i64,
) -> QueryResult<Vec<AuditDetail>> {
    let rows = read_page!(&mut *conn, filter, direction, limit, DetailRow);
    let mut details = with_positions(conn, rows).await?;
    if matches!(direction, Some(Direction::Newer(_))) {
        details.reverse();
    }
    Ok(details)
}

/// `rows` with their positions in the chain, in the same order.
async fn with_positions(conn: &mut Connection, rows: Vec<DetailRow>) -> QueryResult<Vec<AuditDetail>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.record.id).collect();
    let positions: Vec<(i64, i64)> = audit_chain::table
        .filter(audit_chain::event_id.eq_any(ids))
        .select((audit_chain::event_id, audit_chain::seq))
        .load(conn)
        .await?;
    let position = |id: i64| positions.iter().find(|(event, _)| *event == id).map(|(_, seq)| *seq);
    Ok(rows
        .into_iter()
        .map(|row| {
            let seq = position(row.record.id);
            detail((row, seq))
        })
        .collect())
}

/// The events that name a person (GDPR export and erasure): those made by their account or
/// its keys, and those whose actor or target contains their email (sign-in attempts, changes
/// an admin made to them). Details never name a person an event's actor and target do not.
fn naming(user_id: uuid::Uuid, email: &str) -> Filtered<'static> {
    let email = email.to_lowercase();
    audit_events::table
        .into_boxed()
        .filter(audit_events::actor_user_id.eq(user_id).or(has_words(std::slice::from_ref(&email))))
}

/// Up to `limit` events naming the person with ids above `after`, oldest first, with every
/// stored field.
pub async fn naming_batch(
    conn: &mut Connection,
    user_id: uuid::Uuid,
    email: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    naming(user_id, email)
        .filter(audit_events::id.gt(after))
        .order(audit_events::id.asc())
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)
        .await
}

/// Up to `limit` events naming the person, newest first, below the id `before`.
pub async fn naming_page(
    conn: &mut Connection,
    user_id: uuid::Uuid,
    email: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditDetail>> {
    let rows: Vec<DetailRow> = naming(user_id, email)
        .filter(audit_events::id.lt(before.unwrap_or(i64::MAX)))
        .order(audit_events::id.desc())
        .limit(limit)
        .select(DetailRow::as_select())
        .load(conn)
        .await?;
    with_positions(conn, rows).await
}

/// Lets this transaction rewrite personal fields of events (`audit_events_erasure_only()`).
pub async fn allow_erasure(conn: &mut Connection) -> QueryResult<()> {
    diesel::sql_query("SET LOCAL beacon.erasure = 'on'").execute(conn).await.map(drop)
}

/// Writes erased events' personal fields and drops their salts, in one statement.
pub async fn rewrite_personal(conn: &mut Connection, events: &[super::erasure::Rewritten]) -> QueryResult<usize> {
    use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Uuid};
    diesel::sql_query(
        "UPDATE audit_events AS e SET actor_user_id = v.actor_user_id, actor = v.actor, target = v.target, \
         ip = v.ip, user_agent = v.user_agent, details = v.details, personal_salt = NULL \
         FROM unnest($1, $2, $3, $4, $5, $6, $7) AS v(id, actor_user_id, actor, target, ip, user_agent, details) \
         WHERE e.id = v.id",
    )
    .bind::<Array<BigInt>, _>(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Uuid>>, _>(events.iter().map(|e| e.actor_user_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(events.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(events.iter().map(|e| e.target.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(events.iter().map(|e| e.ip.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(events.iter().map(|e| e.user_agent.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Jsonb>, _>(events.iter().map(|e| &e.details).collect::<Vec<_>>())
    .execute(conn)
    .await
}

pub async fn find(conn: &mut Connection, id: i64) -> QueryResult<Option<AuditDetail>> {
    audit_events::table
        .left_join(audit_chain::table)
        .filter(audit_events::id.eq(id))
        .select((DetailRow::as_select(), audit_chain::seq.nullable()))
        .first(conn)
        .await
        .optional()
        .map(|row| row.map(detail))
}

/// Up to `limit` chained events after position `after`, in chain (commit) order, each with
/// its position: what a stream destination is sent next. Removed events are skipped.
pub async fn chained_details(conn: &mut Connection, after: i64, limit: i64) -> QueryResult<Vec<AuditDetail>> {
    audit_chain::table
        .inner_join(audit_events::table)
        .filter(audit_chain::seq.gt(after))
        .order(audit_chain::seq.asc())
        .limit(limit)
        .select((DetailRow::as_select(), audit_chain::seq.nullable()))
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(detail).collect())
}

/// An event as the verifier reads it: its chain entry and, unless it was removed, its row.
#[derive(Queryable)]
pub struct ChainedEvent {
    pub seq: i64,
    pub event_id: i64,
    pub chain_hash: Vec<u8>,
    pub event: Option<StoredEvent>,
}

/// Every stored field the hashes cover: also an archive's line (see `archive_file`).
#[derive(Queryable, Selectable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = audit_events, check_for_backend(Pg))]
pub struct StoredEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub severity: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    #[serde(with = "super::chain::hex_bytes")]
    pub personal_salt: Option<Vec<u8>>,
    #[serde(with = "super::chain::hex_bytes")]
    pub personal_digest: Option<Vec<u8>>,
    #[serde(with = "super::chain::hex_bytes")]
    pub content_hash: Option<Vec<u8>>,
}

/// Events outside the chain in one time range.
pub async fn unchained_between(
    conn: &mut Connection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> QueryResult<i64> {
    audit_events::table
        .left_join(audit_chain::table)
        .filter(audit_chain::seq.is_null())
        .filter(audit_events::occurred_at.ge(start).and(audit_events::occurred_at.lt(end)))
        .count()
        .get_result(conn)
        .await
}

/// The chain from position `after + 1`, at most `limit` entries, in order.
pub async fn chain_from(conn: &mut Connection, after: i64, through: i64, limit: i64) -> QueryResult<Vec<ChainedEvent>> {
    audit_chain::table
        .left_join(audit_events::table)
        .filter(audit_chain::seq.gt(after).and(audit_chain::seq.le(through)))
        .order(audit_chain::seq.asc())
        .limit(limit)
        .select((audit_chain::seq, audit_chain::event_id, audit_chain::chain_hash, Option::<StoredEvent>::as_select()))
        .load(conn)
        .await
}

/// The chain's last position and hash, as committed.
pub async fn head(conn: &mut Connection) -> QueryResult<(i64, Vec<u8>)> {
    audit_chain_head::table.select((audit_chain_head::seq, audit_chain_head::hash)).first(conn).await
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints, check_for_backend(Pg))]
pub struct Checkpoint {
    pub seq: i64,
    pub chain_hash: Vec<u8>,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub signature: Vec<u8>,
}

pub async fn checkpoints(conn: &mut Connection) -> QueryResult<Vec<Checkpoint>> {
    audit_checkpoints::table.order(audit_checkpoints::seq.asc()).select(Checkpoint::as_select()).load(conn).await
}

pub async fn latest_checkpoint_seq(conn: &mut Connection) -> QueryResult<Option<i64>> {
    audit_checkpoints::table.select(diesel::dsl::max(audit_checkpoints::seq)).first(conn).await
}

pub async fn insert_checkpoint(conn: &mut Connection, checkpoint: &Checkpoint) -> QueryResult<()> {
    diesel::insert_into(audit_checkpoints::table).values(checkpoint).on_conflict_do_nothing().execute(conn).await?;
    Ok(())
}

/// Events with no place in the chain, split by whether they come before the first chained
/// event (written before the chain existed) or after it (inserted around the app): the count
/// of the first kind, and the first few ids of the second.
/// Events in the time ranges `except` (restored months, counted on their own) are left out.
pub async fn unchained(
    conn: &mut Connection,
    except: &[(DateTime<Utc>, DateTime<Utc>)],
) -> QueryResult<(i64, Vec<i64>)> {
    let first_chained: Option<i64> =
        audit_chain::table.order(audit_chain::seq.asc()).select(audit_chain::event_id).first(conn).await.optional()?;
    let outside = || {
        let mut query =
            audit_events::table.left_join(audit_chain::table).filter(audit_chain::seq.is_null()).into_boxed();
        for (start, end) in except {
            query = query.filter(audit_events::occurred_at.lt(*start).or(audit_events::occurred_at.ge(*end)));
        }
        query
    };
    let Some(first) = first_chained else {
        let legacy: i64 = outside().count().get_result(conn).await?;
        return Ok((legacy, Vec::new()));
    };
    let legacy: i64 = outside()
        .filter(audit_events::id.lt(first).and(audit_events::content_hash.is_null()))
        .count()
        .get_result(conn)
        .await?;
    let inserted: Vec<i64> = outside()
        .filter(audit_events::id.gt(first).or(audit_events::content_hash.is_not_null()))
        .order(audit_events::id.asc())
        .limit(10)
        .select(audit_events::id)
        .load(conn)
        .await?;
    Ok((legacy, inserted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, day, 12, 0, 0).unwrap()
    }

    type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

    fn bounds(slices: &[AuditFilter]) -> Vec<Bounds> {
        slices.iter().map(|s| (s.from, s.to)).collect()
    }

    #[test]
    fn only_free_text_is_read_in_slices() {
        let filter = AuditFilter { actions: Some(vec!["auth.login"]), ..AuditFilter::default() };
        assert_eq!(slices(&filter, None, at(30)), vec![filter]);
    }

    #[test]
    fn free_text_reads_back_from_now_a_day_a_week_a_month_a_year_then_the_rest() {
        let filter = AuditFilter { words: vec!["bob".into()], ..AuditFilter::default() };
        let now = at(30);
        let edges: Vec<_> = SEARCH_REACH.iter().map(|d| Some(now - chrono::Duration::days(*d))).collect();
        assert_eq!(
            bounds(&slices(&filter, None, now)),
            vec![(edges[0], None), (edges[1], edges[0]), (edges[2], edges[1]), (edges[3], edges[2]), (None, edges[3]),]
        );
    }

    #[test]
    fn slices_start_at_the_cursor_and_stay_inside_the_chosen_range() {
        let filter =
            AuditFilter { words: vec!["bob".into()], from: Some(at(1)), to: Some(at(28)), ..Default::default() };
        let cursor = Cursor { occurred_at: at(20), id: 7 };
        let back = slices(&filter, Some(Direction::Older(cursor)), at(30));
        assert_eq!(
            bounds(&back),
            vec![(Some(at(19)), Some(at(28))), (Some(at(13)), Some(at(19))), (Some(at(1)), Some(at(13)))]
        );
        let forward = slices(&filter, Some(Direction::Newer(cursor)), at(30));
        assert_eq!(
            bounds(&forward),
            vec![(Some(at(1)), Some(at(21))), (Some(at(21)), Some(at(27))), (Some(at(27)), Some(at(28)))]
        );
        // A range shorter than a day is one read.
        let day = AuditFilter { from: Some(at(27)), ..filter };
        assert_eq!(bounds(&slices(&day, None, at(30))), vec![(Some(at(27)), Some(at(28)))]);
    }
}
