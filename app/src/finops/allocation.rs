//! Allocating cost to the catalog. The rules are an ordered list, saved whole as a new
//! revision at every change (restoring an old one is one more revision); a change is audited
//! with both lists, and the allocation is recomputed with the new list on its own task, in one
//! transaction under the tenant's allocation lock, so pages read either the old allocation or
//! the new one. Imports allocate their own rows with the newest list as they commit.

use chrono::Days;
use serde_json::json;

use super::allocation_repo as repo;
use super::model::{
    AllocationPage, AllocationRule, EntityCost, Move, Movement, RuleKind, RuleRevision, Share, SharedSplit,
    SplitMethod, UnallocatedResource,
};
use crate::audit::model::AuditAction;
use crate::audit::service::{self as audit, AuditEvent, AuditSource};
use crate::catalog::refs::EntityRef;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// Rules in one list; far more than any estate needs, few enough for one SQL `CASE`.
pub const MAX_RULES: usize = 500;
const PATTERN_CHARS: usize = 256;
const POOL_NAME_CHARS: usize = 64;
/// Recipients of one shared pool.
pub const MAX_RECIPIENTS: usize = 100;
/// Revisions listed on the page.
const REVISIONS_SHOWN: i64 = 20;
/// Unallocated resources listed on the page.
const UNALLOCATED_SHOWN: i64 = 20;
/// A revision not applied after this long lost its recompute (the server stopped): redone.
const STALE_RECOMPUTE_SECONDS: i64 = 120;

/// A rule from a form: kind, tag key (for tags), pattern and target entity.
pub fn parse_rule(kind: &str, key: &str, pattern: &str, target: &str) -> AppResult<AllocationRule> {
    let (kind, key, pattern) = parse_match(kind, key, pattern)?;
    Ok(AllocationRule { kind, key, pattern, target: entity(target, "The target")?, shared: None })
}

/// A shared rule from a form: what it matches, the pool's name, the split method and the
/// recipients (`component:checkout, team-a` — with a percent each for a fixed split,
/// `checkout 60, team-a 40`, and a namespace each for an OpenCost one, `checkout payments`).
pub fn parse_shared_rule(
    (kind, key, pattern): (&str, &str, &str),
    pool: &str,
    method: &str,
    recipients: &str,
) -> AppResult<AllocationRule> {
    let (kind, key, pattern) = parse_match(kind, key, pattern)?;
    let pool = pool.trim().trim_start_matches("pool:").to_lowercase();
    let valid_name = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if pool.is_empty() || pool.len() > POOL_NAME_CHARS || !pool.chars().all(valid_name) {
        return Err(AppError::invalid(format!(
            "Name the shared pool with letters, digits, '-', '_' or '.', at most {POOL_NAME_CHARS} (e.g. kubernetes)."
        )));
    }
    let method = SplitMethod::parse(method)
        .ok_or_else(|| AppError::invalid("Choose how the pool is split: even, proportional, fixed or opencost."))?;
    let mut shares = Vec::new();
    for item in recipients.split([',', '\n']).map(str::trim).filter(|i| !i.is_empty()) {
        let (target, detail) = match item.rsplit_once(char::is_whitespace) {
            Some((target, detail)) if matches!(method, SplitMethod::Fixed | SplitMethod::OpenCost) => {
                (target.trim(), Some(detail))
            }
            _ => (item, None),
        };
        let target = entity(target, "Each recipient")?;
        if shares.iter().any(|s: &Share| s.target == target) {
            return Err(AppError::invalid(format!("{target} is listed twice.")));
        }
        let (percent, namespace) = match (method, detail) {
            (SplitMethod::Fixed, Some(p)) => {
                let percent = hundredths(p).map(|_| p.trim().trim_end_matches('%').to_owned()).ok_or_else(|| {
                    AppError::invalid(format!(
                        "The percent of {target} is a number above 0 with at most two decimals, like 62.5."
                    ))
                })?;
                (Some(percent), None)
            }
            (SplitMethod::OpenCost, Some(namespace)) if namespace.len() <= 253 && !namespace.contains('\0') => {
                (None, Some(namespace.to_owned()))
            }
            (SplitMethod::Fixed, _) => {
                return Err(AppError::invalid(format!("Give {target} its percent, like {target} 40.")))
            }
            (SplitMethod::OpenCost, _) => {
                return Err(AppError::invalid(format!("Give {target} its namespace, like {target} payments.")))
            }
            _ => (None, None),
        };
        shares.push(Share { target, percent, namespace });
    }
    if !(2..=MAX_RECIPIENTS).contains(&shares.len()) {
        return Err(AppError::invalid(format!("A shared pool is split among 2 to {MAX_RECIPIENTS} catalog entities.")));
    }
    if method == SplitMethod::Fixed {
        let total: u64 = shares.iter().filter_map(|s| s.percent.as_deref().and_then(hundredths)).sum();
        if total != HUNDRED_PERCENT {
            return Err(AppError::invalid(format!(
                "The percents add up to {}.{:02}, not 100.",
                total / 100,
                total % 100
            )));
        }
    }
    Ok(AllocationRule {
        kind,
        key,
        pattern,
        target: format!("pool:{pool}"),
        shared: Some(SharedSplit { method, shares }),
    })
}

/// What a rule matches: its kind, the tag key for tags, and the pattern.
fn parse_match(kind: &str, key: &str, pattern: &str) -> AppResult<(RuleKind, Option<String>, String)> {
    let kind = RuleKind::parse(kind)
        .ok_or_else(|| AppError::invalid("Choose what the rule looks at: tag, sub-account or resource id."))?;
    let pattern = pattern.trim();
    if pattern.is_empty() || pattern.chars().count() > PATTERN_CHARS || pattern.contains('\0') {
        return Err(AppError::invalid(format!(
            "Give the value to match, at most {PATTERN_CHARS} characters ('*' matches anything)."
        )));
    }
    let key = match kind {
        RuleKind::Tag => {
            let key = key.trim();
            if key.is_empty() || key.chars().count() > PATTERN_CHARS || key.contains('\0') {
                return Err(AppError::invalid("Give the tag key the rule reads, e.g. application."));
            }
            Some(key.to_owned())
        }
        _ => None,
    };
    Ok((kind, key, pattern.to_owned()))
}

/// A catalog entity named in a rule, in its stored form; a bare name is a component.
fn entity(raw: &str, what: &str) -> AppResult<String> {
    let parsed = EntityRef::parse(raw, Some("component"), "default")
        .map_err(|e| AppError::invalid(format!("{what} must be a catalog entity: {e}")))?;
    if parsed.kind.eq_ignore_ascii_case("pool") {
        return Err(AppError::invalid("pool: names a shared pool: choose how it is split among its recipients."));
    }
    Ok(parsed.key())
}

/// 100% in hundredths of a percent.
const HUNDRED_PERCENT: u64 = 10_000;

/// A percent above 0 and at most 100 with up to two decimals, in hundredths.
fn hundredths(raw: &str) -> Option<u64> {
    let raw = raw.trim().trim_end_matches('%');
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || (fraction.len() <= 2 && fraction.bytes().all(|b| b.is_ascii_digit())))
    {
        return None;
    }
    let value = whole.parse::<u64>().ok()? * 100 + format!("{fraction:0<2}").parse::<u64>().ok()?;
    (1..=HUNDRED_PERCENT).contains(&value).then_some(value)
}

fn to_model(row: &repo::RevisionRow) -> AppResult<RuleRevision> {
    Ok(RuleRevision {
        revision: row.revision,
        rules: row.rules()?,
        created_by: row.created_by.clone(),
        created_at: row.created_at,
        reason: row.reason.clone(),
        applied: row.applied_at.is_some(),
    })
}

/// The settings page: rules, revisions, the allocated/unallocated split of the last 30 days,
/// the costliest unallocated resources and, when `preview` names a rule and a position, what
/// inserting it there would move.
pub async fn page(
    db: &Database,
    tenant: &Tenant,
    preview: Option<(AllocationRule, usize)>,
    preview_error: Option<String>,
) -> AppResult<AllocationPage> {
    let page = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let revisions = repo::revisions(conn, REVISIONS_SHOWN)
                    .await?
                    .iter()
                    .map(to_model)
                    .collect::<AppResult<Vec<_>>>()?;
                let current = revisions.first().cloned();
                let rules = current.as_ref().map(|c| c.rules.clone()).unwrap_or_default();
                let window = repo::window(conn).await?;
                let (mut split, mut unallocated, mut moves) = (Vec::new(), Vec::new(), None);
                if let Some((from, to)) = window {
                    split = repo::split(conn, from, to)
                        .await?
                        .into_iter()
                        .map(|s| (s.currency, s.allocated, s.unallocated))
                        .collect();
                    unallocated = repo::unallocated(conn, &rules, UNALLOCATED_SHOWN)
                        .await?
                        .into_iter()
                        .map(|r| UnallocatedResource {
                            resource_id: r.resource_id,
                            service_name: r.service_name,
                            sub_account_id: r.sub_account_id,
                            tags: r
                                .tags
                                .as_object()
                                .map(|tags| {
                                    tags.iter()
                                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                                        .collect()
                                })
                                .unwrap_or_default(),
                            currency: r.currency,
                            amount: r.amount,
                        })
                        .collect();
                    if let Some((rule, position)) = preview {
                        let mut after = rules.clone();
                        after.insert(position.min(after.len()), rule);
                        let found = repo::moves(conn, &rules, &after).await?;
                        moves = Some(
                            found
                                .into_iter()
                                .map(|m| Move {
                                    from: m.from_target,
                                    to: m.to_target,
                                    currency: m.currency,
                                    amount: m.amount,
                                })
                                .collect(),
                        );
                    }
                }
                Ok::<_, AppError>(AllocationPage {
                    current,
                    revisions,
                    window,
                    split,
                    unallocated,
                    preview: moves,
                    preview_error,
                })
            })
        })
        .await?;
    let stale = page
        .current
        .as_ref()
        .is_some_and(|c| !c.applied && (chrono::Utc::now() - c.created_at).num_seconds() > STALE_RECOMPUTE_SECONDS);
    if stale {
        spawn_recompute(db, tenant);
    }
    Ok(page)
}

/// Saves `change` applied to the current rules as a new revision, audits it and starts the
/// recompute. `expected` is the revision the person was looking at: a change made meanwhile
/// by someone else refuses this one rather than silently dropping theirs.
async fn change(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    expected: Option<i32>,
    reason: String,
    change: impl FnOnce(Vec<AllocationRule>) -> AppResult<Vec<AllocationRule>> + Send + 'static,
) -> AppResult<i32> {
    let source_for_audit = source.clone();
    let revision = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                repo::lock_rules(conn).await?;
                let newest = repo::revisions(conn, 1).await?.into_iter().next().map(|r| r.revision);
                if expected.is_some() && expected != newest {
                    return Err(AppError::conflict(
                        "The rules were changed by someone else meanwhile; reload the page and try again.",
                    ));
                }
                let before = repo::current_rules(conn).await?;
                let after = change(before.clone())?;
                if after.len() > MAX_RULES {
                    return Err(AppError::invalid(format!("At most {MAX_RULES} rules.")));
                }
                for (i, rule) in after.iter().enumerate() {
                    let differs = |other: &AllocationRule| other.target == rule.target && other.shared != rule.shared;
                    if rule.shared.is_some() && after[..i].iter().any(differs) {
                        return Err(AppError::invalid(format!(
                            "{} is already split differently by another rule: use the same recipients, or another pool name.",
                            rule.target
                        )));
                    }
                }
                let revision = repo::save_revision(conn, &after, &source_for_audit.actor, &reason).await?;
                let event =
                    AuditEvent::success(AuditAction::FinopsAllocationRulesChanged, format!("cost-rules:{revision}"))
                        .details(json!({ "reason": reason, "before": before, "after": after }));
                audit::record(conn, &source_for_audit, event).await?;
                Ok::<_, AppError>(revision)
            })
        })
        .await?;
    spawn_recompute(db, tenant);
    Ok(revision)
}

pub async fn add_rule(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    expected: Option<i32>,
    rule: AllocationRule,
    position: Option<usize>,
) -> AppResult<i32> {
    let reason = format!("added {}", rule.describe());
    change(db, tenant, source, expected, reason, move |mut rules| {
        let at = position.unwrap_or(rules.len()).min(rules.len());
        rules.insert(at, rule);
        Ok(rules)
    })
    .await
}

pub async fn remove_rule(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    expected: Option<i32>,
    index: usize,
) -> AppResult<i32> {
    change(db, tenant, source, expected, format!("removed rule {}", index + 1), move |mut rules| {
        if index >= rules.len() {
            return Err(AppError::not_found("No such rule."));
        }
        rules.remove(index);
        Ok(rules)
    })
    .await
}

/// Rolls back to `revision`'s list, as a new revision.
pub async fn restore(db: &Database, tenant: &Tenant, source: &AuditSource, revision: i32) -> AppResult<i32> {
    let old = db
        .with_tenant(tenant, move |conn| Box::pin(async move { repo::revision(conn, revision).await }))
        .await?
        .ok_or_else(|| AppError::not_found("No such revision."))?
        .rules()?;
    change(db, tenant, source, None, format!("restored revision {revision}"), move |_| Ok(old)).await
}

/// Tenants (by schema) with a recompute task running in this process.
static RECOMPUTING: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<String>>> =
    std::sync::LazyLock::new(Default::default);

/// Starts the tenant's recompute task unless one runs here already: rules saved in a quick
/// succession are applied by one or two passes over the year, not one pass each.
fn spawn_recompute(db: &Database, tenant: &Tenant) {
    let schema = tenant.schema.as_str().to_owned();
    if !RECOMPUTING.lock().expect("recompute registry").insert(schema.clone()) {
        return;
    }
    let (db, tenant) = (db.clone(), tenant.clone());
    tokio::spawn(async move {
        let mut outcome = async {
            while apply_pending(&db, &tenant).await? {}
            Ok::<_, AppError>(())
        }
        .await;
        RECOMPUTING.lock().expect("recompute registry").remove(&schema);
        // A revision saved between the last pass and leaving the registry found the task
        // still registered and started none: one more look.
        if outcome.is_ok() {
            outcome = apply_pending(&db, &tenant).await.map(drop);
        }
        if let Err(e) = outcome {
            tracing::error!(tenant = %tenant.slug, error = %e, "cost allocation recompute failed");
        }
    });
}

/// Recomputes the allocation with the newest rules if they are not applied yet; returns
/// whether it did. Safe to call any number of times: recomputes queue on the tenant's lock.
pub async fn apply_pending(db: &Database, tenant: &Tenant) -> AppResult<bool> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            // A year of a large estate is millions of rows to allocate in one pass.
            super::repo::sized_for_a_year(conn).await?;
            repo::lock(conn).await?;
            let Some(newest) = repo::revisions(conn, 1).await?.into_iter().next() else { return Ok(false) };
            if newest.applied_at.is_some() {
                return Ok(false);
            }
            repo::reallocate(conn, &newest.rules()?).await?;
            repo::mark_applied(conn, newest.revision).await?;
            super::service::costs_changed(conn, None).await?;
            Ok::<_, AppError>(true)
        })
    })
    .await
}

/// The cost panel of an entity page: what is allocated to what the entity covers (see
/// `covered_by`: a group's teams and what they own, a system's parts), also per entity when
/// that is more than itself, over the last 90 days of imported charges, in its largest currency.
pub async fn entity_cost(db: &Database, tenant: &Tenant, entity: &EntityRef) -> AppResult<Option<EntityCost>> {
    let key = entity.key();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let Some((_, last)) = repo::window(conn).await? else { return Ok(None) };
            let targets = repo::covered_by(conn, &key).await?;
            let Some(totals) = repo::target_totals(conn, &targets, last).await? else { return Ok(None) };
            let days = repo::target_last_30_days(conn, &targets, &totals.currency, last, false).await?;
            let services = repo::target_last_30_days(conn, &targets, &totals.currency, last, true).await?;
            let by_entity = match targets.len() > 1 {
                true => repo::target_movements(conn, &targets, &totals.currency, last)
                    .await?
                    .into_iter()
                    .map(|m| Movement { name: m.owner, amount: m.amount, previous: m.previous })
                    .collect(),
                false => Vec::new(),
            };
            // Every day of the 30 shown, the ones without cost as zero.
            let mut daily = Vec::with_capacity(30);
            for offset in (0..30).rev() {
                let day = last - Days::new(offset);
                let amount =
                    days.iter().find(|d| d.name == day.to_string()).map_or("0.00".to_owned(), |d| d.amount.clone());
                daily.push((day, amount));
            }
            let engineers = super::repo::engineer_rate(conn)
                .await?
                .and_then(|rate| rate.engineers(&totals.last_30_days, &totals.currency));
            Ok::<_, AppError>(Some(EntityCost {
                currency: totals.currency,
                last_30_days: totals.last_30_days,
                previous_30_days: totals.previous_30_days,
                last_90_days: totals.last_90_days,
                daily,
                top_services: services.into_iter().map(|s| (s.name, s.amount)).collect(),
                by_entity,
                engineers,
            }))
        })
    })
    .await
}
