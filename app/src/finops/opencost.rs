//! OpenCost allocations: the JSON of OpenCost's `/allocation` API (`{"data": [{"<name>":
//! {"properties": {"cluster", "namespace"}, "window": {"start", "end"}, "totalCost"}}]}`),
//! plain or gzipped. They are never cost of their own — the cluster's bill already holds it —
//! but the weights a shared pool split `opencost` divides the cluster's billed cost by: each
//! recipient namespace's share of the day. A re-import of a source's cluster and window
//! replaces it; the pools of the days it covers are split again in the same transaction.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::model::{ImportReport, ImportStatus, RejectedRow};
use super::{allocation_repo, repo};
use crate::audit::model::AuditAction;
use crate::audit::service::{self as audit, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

pub const LAYOUT: &str = "OpenCost allocation";
/// The largest response read (decompressed): it is parsed whole, so this bounds its memory. A
/// year of daily windows for a thousand namespaces is about half of it.
const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;
const ROWS_PER_STATEMENT: usize = 5_000;

#[derive(Deserialize)]
struct Response {
    data: Vec<Option<BTreeMap<String, Allocation>>>,
}

#[derive(Deserialize)]
struct Allocation {
    #[serde(default)]
    properties: Properties,
    window: Window,
    #[serde(rename = "totalCost")]
    total_cost: Option<f64>,
}

#[derive(Default, Deserialize)]
struct Properties {
    cluster: Option<String>,
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct Window {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

/// One allocation as kept.
#[derive(Debug, PartialEq)]
pub struct Weight {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub total_cost: String,
}

/// Whether the file is JSON (an OpenCost response) rather than a CSV bill.
pub fn is_json(path: &Path) -> std::io::Result<bool> {
    let mut input = BufReader::new(decompressed(std::fs::File::open(path)?)?);
    let head = input.fill_buf()?;
    Ok(matches!(head.trim_ascii_start().first(), Some(b'{')))
}

fn decompressed(file: std::fs::File) -> std::io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::new(file);
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(match gzip {
        true => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
        false => Box::new(buffered),
    })
}

/// Reads the allocations; every unusable one is refused with its position (1-based, in the
/// order of the file) and why.
pub fn read(path: &Path) -> Result<(Vec<Weight>, Vec<RejectedRow>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open the file: {e}"))?;
    let mut json = Vec::new();
    decompressed(file)
        .and_then(|input| input.take(MAX_JSON_BYTES + 1).read_to_end(&mut json))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(format!("larger than {} MiB of JSON: ask OpenCost for a shorter window", MAX_JSON_BYTES >> 20));
    }
    let response: Response = serde_json::from_slice(&json)
        .map_err(|e| format!("not an OpenCost allocation response ({{\"data\": [...]}}): {e}"))?;
    drop(json);
    let (mut weights, mut rejected) = (Vec::new(), Vec::new());
    for (index, (name, allocation)) in response.data.into_iter().flatten().flatten().enumerate() {
        let position = index as u64 + 1;
        let Allocation { properties, window, total_cost } = allocation;
        let refuse = |reason: &str| RejectedRow { line: position, reason: format!("{name}: {reason}") };
        let (Some(start), Some(end)) = (window.start, window.end) else {
            rejected.push(refuse("the window has no start or end"));
            continue;
        };
        let cluster = properties.cluster.filter(|c| !c.trim().is_empty());
        let namespace = properties.namespace.filter(|n| !n.trim().is_empty());
        match (cluster, total_cost) {
            (None, _) => rejected.push(refuse("no properties.cluster")),
            (_, None) => rejected.push(refuse("no totalCost")),
            (_, Some(cost)) if !cost.is_finite() || cost < 0.0 => {
                rejected.push(refuse("totalCost is not an amount ≥ 0"))
            }
            _ if end <= start => rejected.push(refuse("the window ends before it starts")),
            (Some(cluster), Some(cost)) => weights.push(Weight {
                cluster: cluster.trim().to_lowercase(),
                // Idle and unallocated cost (`__idle__`) has no namespace: its name stands for one.
                namespace: namespace.unwrap_or_else(|| name.clone()).trim().to_owned(),
                name,
                start,
                end,
                total_cost: cost.to_string(),
            }),
        }
    }
    Ok((weights, rejected))
}

/// Keeps a read file's allocations (replacing the same source's for the same clusters and
/// windows) and splits the pools of the days they cover again.
pub async fn commit(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    (id, source_name, file_name): (Uuid, &str, &str),
    weights: Vec<Weight>,
) -> AppResult<ImportReport> {
    let (source, source_name, file_name) = (source.clone(), source_name.to_owned(), file_name.to_owned());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            super::repo::sized_for_a_year(conn).await?;
            allocation_repo::lock(conn).await?;
            for chunk in weights.chunks(ROWS_PER_STATEMENT) {
                insert(conn, id, &source_name, chunk).await?;
            }
            diesel::sql_query(
                "DELETE FROM cost_opencost o USING (SELECT DISTINCT cluster, window_start, window_end FROM cost_opencost
                                                      WHERE import_id = $1) n
                  WHERE o.import_id <> $1 AND o.source = $2 AND o.cluster = n.cluster
                    AND o.window_start = n.window_start AND o.window_end = n.window_end",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Text, _>(&source_name)
            .execute(conn)
            .await?;
            let rules = allocation_repo::current_rules(conn).await?;
            allocation_repo::split_pools_of(conn, id, &rules).await?;
            let first_day = weights.iter().map(|w| w.start.date_naive()).min().unwrap_or(chrono::NaiveDate::MAX);
            super::service::costs_changed(conn, Some(first_day)).await?;
            let report = ImportReport {
                layout: LAYOUT.into(),
                rows_imported: weights.len() as i64,
                warnings: vec![
                    "OpenCost allocations add no cost: they weigh how shared pools split by OpenCost divide a cluster's billed cost."
                        .into(),
                ],
                ..ImportReport::default()
            };
            let value = serde_json::to_value(&report).map_err(AppError::internal)?;
            repo::finish(conn, id, ImportStatus::Done, Some(&value), None).await?;
            let clusters: std::collections::BTreeSet<&str> = weights.iter().map(|w| w.cluster.as_str()).collect();
            let event = AuditEvent::success(AuditAction::FinopsCostsImported, format!("cost-import:{id}")).details(
                json!({ "source": source_name, "file": file_name, "layout": LAYOUT, "allocations": weights.len(),
                        "clusters": clusters }),
            );
            audit::record(conn, &source, event).await?;
            Ok(report)
        })
    })
    .await
}

async fn insert(conn: &mut Connection, id: Uuid, source: &str, weights: &[Weight]) -> AppResult<()> {
    let column = |f: fn(&Weight) -> String| weights.iter().map(f).collect::<Vec<_>>();
    diesel::sql_query(
        "INSERT INTO cost_opencost (import_id, source, cluster, namespace, name, window_start, window_end, total_cost)
         SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                                      $8::numeric[])",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(source)
    .bind::<Array<Text>, _>(column(|w| w.cluster.clone()))
    .bind::<Array<Text>, _>(column(|w| w.namespace.clone()))
    .bind::<Array<Text>, _>(column(|w| w.name.clone()))
    .bind::<Array<Timestamptz>, _>(weights.iter().map(|w| w.start).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(weights.iter().map(|w| w.end).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(column(|w| w.total_cost.clone()))
    .execute(conn)
    .await?;
    Ok(())
}
