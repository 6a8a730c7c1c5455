//! Allocation queries. The rules become one SQL `CASE` that gives each cost row the index of
//! its first matching rule, so a whole year is allocated in one pass over the rows.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{AllocationRule, RuleKind};
use super::repo::{Breakdown, Scope};
use crate::db::Connection;
use crate::error::{AppError, AppResult};

/// The rules as SQL over `cost_rows`: `rule` is the index of the first match (NULL for
/// none), and the texts to bind from `$first` on. A tag's value is read once per row into a
/// column of [`Matcher::keyed`] however many rules test that tag: PostgreSQL would otherwise
/// look it up in the JSONB once per rule, and with 150 rules on `application` that was most of
/// a year's recompute.
struct Matcher {
    rule: String,
    binds: Vec<String>,
    /// `, tags->>$4 AS rule_tag_0, …`: the tag values `rule` reads.
    columns: String,
}

impl Matcher {
    /// The FROM item `source` (a table or a parenthesised query) with the tag columns added;
    /// `OFFSET 0` keeps the planner from folding them back into every rule.
    fn keyed(&self, source: &str) -> String {
        match self.columns.is_empty() {
            true => source.to_owned(),
            false => format!("(SELECT *{} FROM {source} AS unkeyed OFFSET 0)", self.columns),
        }
    }
}

/// `checkout*` → `checkout%`, with LIKE's own wildcards in the value matched literally.
fn like_pattern(pattern: &str) -> String {
    pattern.split('*').map(crate::escape::like).collect::<Vec<_>>().join("%")
}

/// The rules' matcher; its tag columns are named `<prefix>_tag_<n>` (two matchers over one
/// row need two prefixes).
fn matcher(rules: &[AllocationRule], first: usize, prefix: &str) -> Matcher {
    let mut binds = Vec::new();
    let mut bind = |value: String| {
        binds.push(value);
        format!("${}", first + binds.len() - 1)
    };
    // (tag key, column, the key's placeholder)
    let mut tag_columns: Vec<(String, String, String)> = Vec::new();
    let mut arms = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let (op, value) = match rule.pattern.contains('*') {
            true => ("LIKE", like_pattern(&rule.pattern)),
            false => ("=", rule.pattern.clone()),
        };
        let condition = match rule.kind {
            RuleKind::Tag => {
                let key = rule.key.clone().unwrap_or_default();
                let column = match tag_columns.iter().find(|(k, ..)| *k == key) {
                    Some((_, column, _)) => column.clone(),
                    None => {
                        let column = format!("{prefix}_tag_{}", tag_columns.len());
                        let placeholder = bind(key.clone());
                        tag_columns.push((key, column.clone(), placeholder));
                        column
                    }
                };
                format!("{column} {op} {}", bind(value))
            }
            RuleKind::SubAccount => {
                let value = bind(value);
                format!("(sub_account_id {op} {value} OR sub_account_name {op} {value})")
            }
            RuleKind::Resource => format!("resource_id {op} {}", bind(value)),
        };
        arms.push(format!("WHEN {condition} THEN {i}"));
    }
    let rule = match arms.is_empty() {
        true => "NULL::integer".to_owned(),
        false => format!("CASE {} END", arms.join(" ")),
    };
    let columns = tag_columns.iter().map(|(_, column, key)| format!(", tags->>{key} AS {column}")).collect();
    Matcher { rule, binds, columns }
}

fn targets(rules: &[AllocationRule]) -> Vec<String> {
    rules.iter().map(|r| r.target.clone()).collect()
}

/// Serialises allocation changes of this tenant: an import's commit and a recompute never
/// interleave, so every row is allocated with the rules of one revision.
pub async fn lock(conn: &mut Connection) -> AppResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.cost_allocation', 0))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Serialises changes to this tenant's rule list (numbering revisions, the changed-meanwhile
/// check) without waiting for a recompute, which holds the allocation lock.
pub async fn lock_rules(conn: &mut Connection) -> AppResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.cost_rules', 0))")
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
pub struct RevisionRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub revision: i32,
    #[diesel(sql_type = Jsonb)]
    pub rules: serde_json::Value,
    #[diesel(sql_type = Text)]
    pub created_by: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub applied_at: Option<DateTime<Utc>>,
}

impl RevisionRow {
    pub fn rules(&self) -> AppResult<Vec<AllocationRule>> {
        serde_json::from_value(self.rules.clone()).map_err(AppError::internal)
    }
}

/// The newest revisions, newest first.
pub async fn revisions(conn: &mut Connection, limit: i64) -> AppResult<Vec<RevisionRow>> {
    Ok(diesel::sql_query(
        "SELECT revision, rules, created_by, created_at, reason, applied_at
           FROM cost_rule_revisions ORDER BY revision DESC LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

pub async fn revision(conn: &mut Connection, revision: i32) -> AppResult<Option<RevisionRow>> {
    Ok(diesel::sql_query(
        "SELECT revision, rules, created_by, created_at, reason, applied_at FROM cost_rule_revisions WHERE revision = $1",
    )
    .bind::<diesel::sql_types::Integer, _>(revision)
    .get_result(conn)
    .await
    .optional()?)
}

/// The rules in force: the newest revision's (none before the first).
pub async fn current_rules(conn: &mut Connection) -> AppResult<Vec<AllocationRule>> {
    match revisions(conn, 1).await?.into_iter().next() {
        Some(row) => row.rules(),
        None => Ok(Vec::new()),
    }
}

/// Stores the list as the next revision, not yet applied; returns its number.
pub async fn save_revision(
    conn: &mut Connection,
    rules: &[AllocationRule],
    actor: &str,
    reason: &str,
) -> AppResult<i32> {
    #[derive(QueryableByName)]
    struct Saved {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        revision: i32,
    }
    let rules = serde_json::to_value(rules).map_err(AppError::internal)?;
    Ok(diesel::sql_query(
        "INSERT INTO cost_rule_revisions (revision, rules, created_by, reason)
         SELECT coalesce(max(revision), 0) + 1, $1, $2, $3 FROM cost_rule_revisions
         RETURNING revision",
    )
    .bind::<Jsonb, _>(rules)
    .bind::<Text, _>(actor)
    .bind::<Text, _>(reason)
    .get_result::<Saved>(conn)
    .await?
    .revision)
}

pub async fn mark_applied(conn: &mut Connection, revision: i32) -> AppResult<()> {
    diesel::sql_query("UPDATE cost_rule_revisions SET applied_at = now() WHERE revision = $1")
        .bind::<diesel::sql_types::Integer, _>(revision)
        .execute(conn)
        .await?;
    Ok(())
}

/// `INSERT … SELECT` of the allocated daily sums of the rows `scope` selects (a condition on
/// `cost_rows` using `$1`); what a shared rule matches is summed into `cost_pooled` instead.
async fn insert_allocated(
    conn: &mut Connection,
    scope: &str,
    import: Option<Uuid>,
    rules: &[AllocationRule],
) -> AppResult<()> {
    let m = matcher(rules, 3, "rule");
    let rows = m.keyed(&format!("(SELECT * FROM cost_rows WHERE {scope})"));
    let sql = format!(
        "WITH summed AS (
            SELECT import_id, billing_account_id, billing_period_start, day, billing_currency AS currency,
                   coalesce(($2::text[])[rule + 1], '') AS target, service_name, sum(billed_cost) AS billed_cost,
                   sum(effective_cost) AS effective_cost, count(*) AS rows
              FROM (SELECT import_id, billing_account_id, billing_period_start, billing_currency, service_name,
                           billed_cost, effective_cost, (charge_period_start AT TIME ZONE 'UTC')::date AS day,
                           {rule} AS rule
                      FROM {rows} AS r) AS matched
             GROUP BY 1, 2, 3, 4, 5, 6, 7),
         pooled AS (
            INSERT INTO cost_pooled (import_id, billing_account_id, billing_period_start, day, currency, pool,
                 service_name, billed_cost, effective_cost, rows)
            SELECT * FROM summed WHERE target LIKE 'pool:%')
         INSERT INTO cost_allocated (import_id, billing_account_id, billing_period_start, day, currency, target,
             service_name, billed_cost, effective_cost, rows)
         SELECT * FROM summed WHERE target NOT LIKE 'pool:%'",
        rule = m.rule
    );
    let mut query =
        diesel::sql_query(sql).into_boxed().bind::<Nullable<SqlUuid>, _>(import).bind::<Array<Text>, _>(targets(rules));
    for value in m.binds {
        query = query.bind::<Text, _>(value);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Splits the pooled cost of the days of `import` (every day: `None`) among the recipients of
/// the rules' pools, replacing the shares split before. Each recipient k of n gets round(amount × W(k) / W, 12) − round(amount × W(k−1) / W, 12), W(k) the weights of
/// the first k: the parts add up to the amount exactly. A pool no rule names any more (a
/// revision waiting to be applied removed it) stays Unallocated until it is.
async fn split_pools(conn: &mut Connection, import: Option<Uuid>, rules: &[AllocationRule]) -> AppResult<()> {
    let mut pools: Vec<String> = Vec::new();
    let (mut methods, mut targets, mut weights, mut ordinals) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut namespaces = Vec::new();
    for rule in rules {
        let Some(split) = &rule.shared else { continue };
        if pools.contains(&rule.target) {
            continue;
        }
        for (k, share) in split.shares.iter().enumerate() {
            pools.push(rule.target.clone());
            methods.push(split.method.as_str().to_owned());
            targets.push(share.target.clone());
            weights.push(share.percent.clone().unwrap_or_else(|| "1".into()));
            namespaces.push(share.namespace.clone().unwrap_or_default());
            ordinals.push(k as i32);
        }
    }
    // An import's days: those its bill has cost on, or its OpenCost windows cover.
    let day_scope = |table: &str| match import {
        Some(_) => format!(
            "{table}.day IN (SELECT d.day FROM cost_daily d WHERE d.import_id = $1
                             UNION SELECT g::date FROM cost_opencost o,
                                   generate_series(date_trunc('day', o.window_start AT TIME ZONE 'UTC'),
                                                   o.window_end AT TIME ZONE 'UTC',
                                                   interval '1 day') AS g
                              WHERE o.import_id = $1)"
        ),
        None => "$1::uuid IS NULL".to_owned(),
    };
    diesel::sql_query(format!("DELETE FROM cost_allocated c WHERE shared AND {}", day_scope("c")))
        .bind::<Nullable<SqlUuid>, _>(import)
        .execute(conn)
        .await?;
    if !pools.is_empty() {
        let sql = format!(
            "WITH shares AS (
                SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::int[], $7::text[])
                           AS s (pool, method, target, weight, ordinal, namespace)),
             -- Each OpenCost allocation's cost spread over the days its window covers, in
             -- proportion to the overlap.
             namespaces AS (
                SELECT 'pool:' || o.cluster AS pool, o.namespace, (g AT TIME ZONE 'UTC')::date AS day,
                       sum(o.total_cost * extract(epoch FROM least(o.window_end, g + interval '1 day') - greatest(o.window_start, g))
                           / extract(epoch FROM o.window_end - o.window_start)) AS cost
                  FROM cost_opencost o,
                       generate_series(date_trunc('day', o.window_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                                       o.window_end - interval '1 microsecond', interval '1 day') AS g
                 WHERE 'pool:' || o.cluster IN (SELECT pool FROM shares WHERE method = 'opencost')
                 GROUP BY 1, 2, 3),
             direct AS (
                SELECT c.day, c.currency, c.target, greatest(sum(c.effective_cost), 0) AS cost FROM cost_allocated c
                 WHERE NOT c.shared AND {direct_scope}
                   AND c.target IN (SELECT target FROM shares WHERE method = 'proportional')
                 GROUP BY 1, 2, 3),
             weighted AS (
                SELECT p.*, s.target AS recipient, s.ordinal,
                       CASE s.method WHEN 'proportional' THEN coalesce(d.cost, 0)
                                     WHEN 'opencost' THEN coalesce(n.cost, 0) ELSE s.weight END AS weight
                  FROM cost_pooled p JOIN shares s ON s.pool = p.pool
                  LEFT JOIN direct d ON d.day = p.day AND d.currency = p.currency AND d.target = s.target
                  LEFT JOIN namespaces n ON n.pool = p.pool AND n.namespace = s.namespace AND n.day = p.day
                 WHERE {pooled_scope}),
             running AS (
                SELECT *, sum(weight) OVER whole AS total, count(*) OVER whole AS n,
                       sum(weight) OVER upto AS upto_weight, row_number() OVER upto AS upto_count
                  FROM weighted
                WINDOW whole AS (PARTITION BY id), upto AS (PARTITION BY id ORDER BY ordinal)),
             fractions AS (
                SELECT *, CASE WHEN total > 0 THEN upto_weight / total ELSE upto_count::numeric / n END AS upto,
                          CASE WHEN total > 0 THEN (upto_weight - weight) / total ELSE (upto_count - 1)::numeric / n END
                              AS before
                  FROM running)
             INSERT INTO cost_allocated (import_id, billing_account_id, billing_period_start, day, currency, target,
                 service_name, billed_cost, effective_cost, rows, shared)
             SELECT import_id, billing_account_id, billing_period_start, day, currency, recipient, service_name,
                    round(billed_cost * upto, 12) - round(billed_cost * before, 12),
                    round(effective_cost * upto, 12) - round(effective_cost * before, 12),
                    floor(rows * upto) - floor(rows * before), true
               FROM fractions",
            direct_scope = day_scope("c"),
            pooled_scope = day_scope("p"),
        );
        diesel::sql_query(sql)
            .bind::<Nullable<SqlUuid>, _>(import)
            .bind::<Array<Text>, _>(&pools)
            .bind::<Array<Text>, _>(&methods)
            .bind::<Array<Text>, _>(&targets)
            .bind::<Array<Text>, _>(&weights)
            .bind::<Array<diesel::sql_types::Integer>, _>(&ordinals)
            .bind::<Array<Text>, _>(&namespaces)
            .execute(conn)
            .await?;
    }
    diesel::sql_query(format!(
        "INSERT INTO cost_allocated (import_id, billing_account_id, billing_period_start, day, currency, target,
             service_name, billed_cost, effective_cost, rows, shared)
         SELECT import_id, billing_account_id, billing_period_start, day, currency, '', service_name, billed_cost,
                effective_cost, rows, true
           FROM cost_pooled p WHERE NOT (pool = ANY($2)) AND {}",
        day_scope("p")
    ))
    .bind::<Nullable<SqlUuid>, _>(import)
    .bind::<Array<Text>, _>(&pools)
    .execute(conn)
    .await?;
    Ok(())
}

/// Splits the pools of the days an import covers again (an OpenCost import's windows).
pub async fn split_pools_of(conn: &mut Connection, import: Uuid, rules: &[AllocationRule]) -> AppResult<()> {
    split_pools(conn, Some(import), rules).await
}

/// Allocates one import's rows (at its commit), then splits the pools of its days again: a
/// split by direct cost depends on every import's cost of the day.
pub async fn allocate_import(conn: &mut Connection, import: Uuid, rules: &[AllocationRule]) -> AppResult<()> {
    insert_allocated(conn, "import_id = $1", Some(import), rules).await?;
    split_pools(conn, Some(import), rules).await
}

/// Allocates every committed row again (after the rules changed).
pub async fn reallocate(conn: &mut Connection, rules: &[AllocationRule]) -> AppResult<()> {
    diesel::sql_query("DELETE FROM cost_allocated").execute(conn).await?;
    diesel::sql_query("DELETE FROM cost_pooled").execute(conn).await?;
    insert_allocated(conn, "import_id IN (SELECT import_id FROM cost_slices) AND $1::uuid IS NULL", None, rules)
        .await?;
    split_pools(conn, None, rules).await
}

#[derive(QueryableByName)]
struct Bounds {
    #[diesel(sql_type = Nullable<Date>)]
    last: Option<NaiveDate>,
}

/// The last 30 days of imported charges, if any.
pub async fn window(conn: &mut Connection) -> AppResult<Option<(NaiveDate, NaiveDate)>> {
    let bounds: Bounds = diesel::sql_query("SELECT max(day) AS last FROM cost_allocated").get_result(conn).await?;
    Ok(bounds.last.map(|last| (last - chrono::Days::new(29), last)))
}

#[derive(QueryableByName)]
pub struct Split {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub allocated: String,
    #[diesel(sql_type = Text)]
    pub unallocated: String,
}

/// Per currency, what the rules allocate and what they leave in Unallocated over the days.
pub async fn split(conn: &mut Connection, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<Split>> {
    Ok(diesel::sql_query(
        "SELECT currency, round(coalesce(sum(effective_cost) FILTER (WHERE target <> ''), 0), 2)::text AS allocated,
                round(coalesce(sum(effective_cost) FILTER (WHERE target = ''), 0), 2)::text AS unallocated
           FROM cost_allocated WHERE day BETWEEN $1 AND $2 GROUP BY currency ORDER BY currency",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?)
}

#[derive(QueryableByName)]
pub struct UnallocatedRow {
    #[diesel(sql_type = Text)]
    pub resource_id: String,
    #[diesel(sql_type = Text)]
    pub service_name: String,
    #[diesel(sql_type = Text)]
    pub sub_account_id: String,
    #[diesel(sql_type = Jsonb)]
    pub tags: serde_json::Value,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub amount: String,
}

/// Keeps `cost_recent_keys`: the committed charges of the last 30 days, summed per what the
/// rules look at (tags, sub-account, resource) with the service and currency, so the rules'
/// `CASE` runs once per resource rather than once per row and day, and views read a row per
/// resource. Called by each import's commit, after its allocation (which sets the window).
pub async fn keep_recent_keys(conn: &mut Connection) -> AppResult<()> {
    diesel::sql_query("DELETE FROM cost_recent_keys").execute(conn).await?;
    diesel::sql_query(
        "INSERT INTO cost_recent_keys
         SELECT tags, sub_account_id, sub_account_name, resource_id, service_name, billing_currency, sum(effective_cost)
           FROM cost_rows, (SELECT max(day) AS last FROM cost_allocated) AS w
          WHERE import_id IN (SELECT import_id FROM cost_slices)
            AND charge_period_start >= w.last - 29 AND charge_period_start < w.last + 1
          GROUP BY 1, 2, 3, 4, 5, 6",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The costliest resources no rule matches over the last 30 days.
pub async fn unallocated(
    conn: &mut Connection,
    rules: &[AllocationRule],
    limit: i64,
) -> AppResult<Vec<UnallocatedRow>> {
    let m = matcher(rules, 2, "rule");
    let sql = format!(
        "SELECT coalesce(resource_id, '') AS resource_id, service_name, coalesce(sub_account_id, '') AS sub_account_id,
                min(tags::text)::jsonb AS tags, currency, round(sum(cost), 2)::text AS amount
           FROM (SELECT *, {rule} AS rule FROM {grouped} AS grouped) AS matched
          WHERE rule IS NULL
          GROUP BY 1, 2, 3, 5
          ORDER BY sum(cost) DESC
          LIMIT $1",
        rule = m.rule,
        grouped = m.keyed("cost_recent_keys")
    );
    let mut query = diesel::sql_query(sql).into_boxed().bind::<BigInt, _>(limit);
    for value in m.binds {
        query = query.bind::<Text, _>(value);
    }
    Ok(query.load(conn).await?)
}

#[derive(QueryableByName)]
pub struct MoveRow {
    #[diesel(sql_type = Text)]
    pub from_target: String,
    #[diesel(sql_type = Text)]
    pub to_target: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub amount: String,
}

/// What replacing the rules `before` by `after` would move between targets over the last 30 days.
pub async fn moves(
    conn: &mut Connection,
    before: &[AllocationRule],
    after: &[AllocationRule],
) -> AppResult<Vec<MoveRow>> {
    let old = matcher(before, 3, "old");
    let new = matcher(after, 3 + old.binds.len(), "new");
    let grouped = new.keyed(&old.keyed("cost_recent_keys"));
    let sql = format!(
        "SELECT coalesce(($1::text[])[old_rule + 1], '') AS from_target, coalesce(($2::text[])[new_rule + 1], '') AS to_target,
                currency, round(sum(cost), 2)::text AS amount
           FROM (SELECT currency, cost, {old_rule} AS old_rule, {new_rule} AS new_rule FROM {grouped} AS grouped)
                AS matched
          WHERE coalesce(($1::text[])[old_rule + 1], '') <> coalesce(($2::text[])[new_rule + 1], '')
          GROUP BY 1, 2, 3
          ORDER BY sum(abs(cost)) DESC",
        old_rule = old.rule,
        new_rule = new.rule
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed()
        .bind::<Array<Text>, _>(targets(before))
        .bind::<Array<Text>, _>(targets(after));
    for value in old.binds.into_iter().chain(new.binds) {
        query = query.bind::<Text, _>(value);
    }
    Ok(query.load(conn).await?)
}

#[derive(QueryableByName)]
pub struct TargetTotals {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub last_30_days: String,
    #[diesel(sql_type = Text)]
    pub previous_30_days: String,
    #[diesel(sql_type = Text)]
    pub last_90_days: String,
}

/// What is allocated to `targets` in the 90 days up to `last`, in their largest currency.
pub async fn target_totals(
    conn: &mut Connection,
    targets: &[String],
    last: NaiveDate,
) -> AppResult<Option<TargetTotals>> {
    Ok(diesel::sql_query(
        "SELECT currency,
                round(coalesce(sum(effective_cost) FILTER (WHERE day > $2 - 30), 0), 2)::text AS last_30_days,
                round(coalesce(sum(effective_cost) FILTER (WHERE day > $2 - 60 AND day <= $2 - 30), 0), 2)::text
                    AS previous_30_days,
                round(sum(effective_cost), 2)::text AS last_90_days
           FROM cost_allocated WHERE target = ANY($1) AND day > $2 - 90 AND day <= $2
          GROUP BY currency ORDER BY sum(abs(effective_cost)) DESC, 1 LIMIT 1",
    )
    .bind::<Array<Text>, _>(targets)
    .bind::<Date, _>(last)
    .get_result(conn)
    .await
    .optional()?)
}

/// Per target, the last 30 days to `last` against the 30 before, in `currency`, rounded to
/// cents, the largest first.
pub async fn target_movements(
    conn: &mut Connection,
    targets: &[String],
    currency: &str,
    last: NaiveDate,
) -> AppResult<Vec<OwnerAmount>> {
    Ok(diesel::sql_query(
        "SELECT target AS owner,
                round(coalesce(sum(effective_cost) FILTER (WHERE day > $3 - 30), 0), 2)::text AS amount,
                round(coalesce(sum(effective_cost) FILTER (WHERE day <= $3 - 30), 0), 2)::text AS previous
           FROM cost_allocated WHERE target = ANY($1) AND currency = $2 AND day > $3 - 60 AND day <= $3
          GROUP BY 1 ORDER BY sum(effective_cost) FILTER (WHERE day > $3 - 30) DESC NULLS LAST, 1",
    )
    .bind::<Array<Text>, _>(targets)
    .bind::<Text, _>(currency)
    .bind::<Date, _>(last)
    .load(conn)
    .await?)
}

#[derive(QueryableByName)]
pub struct NamedAmount {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub amount: String,
}

/// Per day (`by = "day"`) or per service (`by = "service_name"`), the last 30 days allocated to
/// `targets` in `currency`, rounded to cents.
pub async fn target_last_30_days(
    conn: &mut Connection,
    targets: &[String],
    currency: &str,
    last: NaiveDate,
    by_service: bool,
) -> AppResult<Vec<NamedAmount>> {
    let (group, order) = match by_service {
        true => ("service_name", "sum(effective_cost) DESC, 1 LIMIT 5"),
        false => ("day::text", "1"),
    };
    Ok(diesel::sql_query(format!(
        "SELECT {group} AS name, round(sum(effective_cost), 2)::text AS amount
           FROM cost_allocated WHERE target = ANY($1) AND currency = $2 AND day > $3 - 30 AND day <= $3
          GROUP BY 1 ORDER BY {order}"
    ))
    .bind::<Array<Text>, _>(targets)
    .bind::<Text, _>(currency)
    .bind::<Date, _>(last)
    .load(conn)
    .await?)
}

#[derive(QueryableByName)]
pub struct OwnerAmount {
    #[diesel(sql_type = Text)]
    pub owner: String,
    #[diesel(sql_type = Text)]
    pub amount: String,
    #[diesel(sql_type = Text)]
    pub previous: String,
}

/// A month and the month before, rolled up the catalog three ways, each a partition of the
/// allocated cost: by owner (a target's `spec.owner`; a group target is its own owner; a target
/// the catalog does not know stays itself), by system and by domain (the nearest of each kind
/// up the target's `partOf` chain: a subcomponent's component's system, a system's domain).
/// The dimension is `owner`, `system` or `domain`; the name '' is Unallocated (owner) or cost
/// outside any system or domain.
pub async fn by_catalog(conn: &mut Connection, scope: &Scope, month: NaiveDate) -> AppResult<Vec<Breakdown>> {
    Ok(diesel::sql_query(
        "WITH RECURSIVE spent AS (
             SELECT target, sum(effective_cost * rate) FILTER (WHERE day >= $2) AS amount,
                    sum(effective_cost * rate) FILTER (WHERE day < $2) AS previous
               FROM cost_allocated JOIN unnest($1::text[], $3::numeric[]) AS fx(currency, rate) USING (currency)
              WHERE day >= ($2 - interval '1 month')::date AND day < ($2 + interval '1 month')::date
              GROUP BY target),
         up (target, ref, depth) AS (
             SELECT target, target, 0 FROM spent WHERE target <> ''
             UNION ALL
             SELECT up.target, r.target_ref, up.depth + 1
               FROM up JOIN entity_relations r ON r.source_ref = up.ref AND r.relation = 'partOf'
              WHERE up.depth < 8),
         placed AS (
             SELECT s.amount, s.previous,
                    coalesce(CASE WHEN s.target LIKE 'group:%' THEN s.target END, e.owner_ref, s.target) AS owner,
                    coalesce((SELECT ref FROM up WHERE up.target = s.target AND ref LIKE 'system:%'
                               ORDER BY depth LIMIT 1), '') AS system,
                    coalesce((SELECT ref FROM up WHERE up.target = s.target AND ref LIKE 'domain:%'
                               ORDER BY depth LIMIT 1), '') AS domain
               FROM spent s LEFT JOIN entities e ON e.entity_ref = s.target)
         SELECT CASE WHEN grouping(owner) = 0 THEN 'owner' WHEN grouping(system) = 0 THEN 'system' ELSE 'domain' END
                    AS dimension,
                coalesce(owner, system, domain) AS name,
                round(coalesce(sum(amount), 0), 2)::text AS amount,
                round(coalesce(sum(previous), 0), 2)::text AS previous
           FROM placed
          GROUP BY GROUPING SETS ((owner), (system), (domain))
          ORDER BY 1, sum(amount) DESC NULLS LAST, 2",
    )
    .bind::<Array<Text>, _>(&scope.currencies)
    .bind::<Date, _>(month)
    .bind::<Array<Text>, _>(&scope.rates)
    .load(conn)
    .await?)
}

/// The allocation targets whose cost counts for `entity` (a stored ref), itself included: for
/// a group, every group under it (`childOf`, at any depth) and everything any of them owns;
/// for any other entity, its parts at any depth (`partOf`: a domain's systems and their
/// components, APIs and resources; a component's subcomponents). Team pages, entity cost
/// panels, budgets, anomalies and Cost Insights all count a scope through this.
pub async fn covered_by(conn: &mut Connection, entity: &str) -> AppResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Ref {
        #[diesel(sql_type = Text)]
        entity_ref: String,
    }
    // The owned entities are looked up by an array of the teams, so the owner index serves
    // them: joined to the recursive part, the planner cannot tell how few teams there are and
    // reads every entity.
    let sql = match entity.starts_with("group:") {
        true => {
            "WITH RECURSIVE teams (ref) AS (
                 SELECT $1::text
                 UNION
                 SELECT r.target_ref FROM entity_relations r JOIN teams t ON r.source_ref = t.ref AND r.relation = 'parentOf')
             SELECT ref AS entity_ref FROM teams
             UNION SELECT entity_ref FROM entities WHERE owner_ref = ANY (ARRAY(SELECT ref FROM teams))
             ORDER BY 1"
        }
        false => {
            "WITH RECURSIVE parts (ref) AS (
                 SELECT $1::text
                 UNION
                 SELECT r.target_ref FROM entity_relations r JOIN parts p ON r.source_ref = p.ref AND r.relation = 'hasPart')
             SELECT ref AS entity_ref FROM parts ORDER BY 1"
        }
    };
    let rows: Vec<Ref> = diesel::sql_query(sql).bind::<Text, _>(entity).load(conn).await?;
    Ok(rows.into_iter().map(|r| r.entity_ref).collect())
}

/// (entity ref, display name) rows for the Cost Insights lists.
async fn named(conn: &mut Connection, sql: &'static str, key: &str) -> AppResult<Vec<(String, Option<String>)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query(sql).bind::<Text, _>(key).load(conn).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

/// The entities `group` owns that have allocated cost, with their names.
pub async fn costed_entities_of(conn: &mut Connection, group: &str) -> AppResult<Vec<(String, Option<String>)>> {
    named(
        conn,
        "SELECT e.entity_ref AS id, coalesce(e.title, e.name) AS name FROM entities e
          WHERE e.owner_ref = $1 AND EXISTS (SELECT 1 FROM cost_allocated a WHERE a.target = e.entity_ref)
          ORDER BY 1",
        group,
    )
    .await
}

#[derive(QueryableByName)]
pub struct DayAmount {
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub amount: f64,
}

/// Allocated amortized cost per target and day from `from` to before `to` (summed exactly as
/// NUMERIC, then shown as a number).
pub async fn daily_by_target(
    conn: &mut Connection,
    targets: &[String],
    (currency, service): (&str, Option<&str>),
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<DayAmount>> {
    Ok(diesel::sql_query(
        "SELECT target, day, sum(effective_cost)::float8 AS amount FROM cost_allocated
          WHERE target = ANY($1) AND currency = $2 AND day >= $3 AND day < $4
            AND ($5::text IS NULL OR service_name = $5)
          GROUP BY 1, 2",
    )
    .bind::<Array<Text>, _>(targets)
    .bind::<Text, _>(currency)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .bind::<Nullable<Text>, _>(service)
    .load(conn)
    .await?)
}

/// The currency with the most cost allocated to `targets` from `from` to before `to`.
pub async fn largest_currency(
    conn: &mut Connection,
    targets: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Currency {
        #[diesel(sql_type = Text)]
        currency: String,
    }
    let found: Option<Currency> = diesel::sql_query(
        "SELECT currency FROM cost_allocated WHERE target = ANY($1) AND day >= $2 AND day < $3
          GROUP BY 1 ORDER BY sum(abs(effective_cost)) DESC, 1 LIMIT 1",
    )
    .bind::<Array<Text>, _>(targets)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .get_result(conn)
    .await
    .optional()?;
    Ok(found.map(|c| c.currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RuleKind, key: Option<&str>, pattern: &str) -> AllocationRule {
        AllocationRule {
            kind,
            key: key.map(str::to_owned),
            pattern: pattern.into(),
            target: "component:default/x".into(),
            shared: None,
        }
    }

    #[test]
    fn rules_become_one_case_with_bound_values_in_order() {
        let m = matcher(
            &[
                rule(RuleKind::Tag, Some("application"), "checkout"),
                rule(RuleKind::SubAccount, None, "prod-*"),
                rule(RuleKind::Resource, None, "arn:aws:s3:::logs_%*"),
                rule(RuleKind::Tag, Some("application"), "cart"),
            ],
            3,
            "rule",
        );
        assert_eq!(
            m.rule,
            "CASE WHEN rule_tag_0 = $4 THEN 0 WHEN (sub_account_id LIKE $5 OR sub_account_name LIKE $5) THEN 1 \
             WHEN resource_id LIKE $6 THEN 2 WHEN rule_tag_0 = $7 THEN 3 END"
        );
        assert_eq!(m.binds, ["application", "checkout", "prod-%", "arn:aws:s3:::logs\\_\\%%", "cart"]);
        assert_eq!(m.columns, ", tags->>$3 AS rule_tag_0", "one lookup of the tag, however many rules read it");
        assert_eq!(m.keyed("cost_rows"), "(SELECT *, tags->>$3 AS rule_tag_0 FROM cost_rows AS unkeyed OFFSET 0)");
        assert_eq!(matcher(&[], 3, "rule").rule, "NULL::integer");
        assert_eq!(matcher(&[], 3, "rule").keyed("cost_rows"), "cost_rows");
    }
}

#[derive(QueryableByName)]
pub struct ResourceCost {
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Text)]
    pub service_name: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = Text)]
    pub resource: String,
    #[diesel(sql_type = Text)]
    pub cost: String,
}

/// One (target, service, currency, day) whose resources are wanted.
pub struct CostCell<'a> {
    pub target: &'a str,
    pub service: &'a str,
    pub currency: &'a str,
    pub day: NaiveDate,
}

/// For each cell, the `limit` resources with the most amortized cost allocated to its target
/// under `rules` (the rows matched again, as the allocation matched them), largest first. One
/// pass over the cells' days, however many cells: an import of a year may ask for hundreds.
pub async fn top_resources(
    conn: &mut Connection,
    rules: &[AllocationRule],
    cells: &[CostCell<'_>],
    limit: i64,
) -> AppResult<Vec<ResourceCost>> {
    let column = |f: fn(&CostCell) -> String| cells.iter().map(f).collect::<Vec<String>>();
    let m = matcher(rules, 7, "rule");
    let rows = m.keyed(
        "(SELECT * FROM cost_rows WHERE import_id IN (SELECT import_id FROM cost_slices)
                   AND (charge_period_start AT TIME ZONE 'UTC')::date = ANY($5) AND service_name = ANY($3))",
    );
    let sql = format!(
        "WITH cells AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::date[])
                          AS c (target, service_name, currency, day)),
              matched AS (
                SELECT coalesce(($1::text[])[rule + 1], '') AS target, service_name, currency, day, resource_id,
                       effective_cost
                  FROM (SELECT resource_id, effective_cost, service_name, billing_currency AS currency,
                               (charge_period_start AT TIME ZONE 'UTC')::date AS day, {rule} AS rule
                          FROM {rows} AS r) AS r),
              ranked AS (
                SELECT target, service_name, currency, day, coalesce(resource_id, '(no resource id)') AS resource,
                       sum(effective_cost) AS cost,
                       row_number() OVER (PARTITION BY target, service_name, currency, day
                                          ORDER BY sum(effective_cost) DESC, coalesce(resource_id, '(no resource id)')) AS rank
                  FROM matched JOIN cells USING (target, service_name, currency, day)
                 GROUP BY 1, 2, 3, 4, 5)
         SELECT target, service_name, currency, day, resource, round(cost, 2)::text AS cost
           FROM ranked WHERE rank <= $6 ORDER BY target, service_name, currency, day, rank",
        rule = m.rule
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed()
        .bind::<Array<Text>, _>(targets(rules))
        .bind::<Array<Text>, _>(column(|c| c.target.to_owned()))
        .bind::<Array<Text>, _>(column(|c| c.service.to_owned()))
        .bind::<Array<Text>, _>(column(|c| c.currency.to_owned()))
        .bind::<Array<Date>, _>(cells.iter().map(|c| c.day).collect::<Vec<_>>())
        .bind::<diesel::sql_types::BigInt, _>(limit);
    for value in m.binds {
        query = query.bind::<Text, _>(value);
    }
    Ok(query.load(conn).await?)
}
