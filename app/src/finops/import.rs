//! Importing cost files. The file is read on a blocking thread in batches that are staged
//! under the import's id as they come (the progress bar follows the bytes read); nothing
//! counts until the whole file has been read without a refused row. Then one transaction
//! swaps the import in for what the same source held for the same billing account and period,
//! writes the daily sums and the audit event. A refused file changes nothing.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::allocation_repo as allocation;
use super::model::{CostImport, ImportReport, ImportStatus, RejectedRow};
use super::parse::{CostReader, CostRecord, Defaults, Rejected, PARQUET_MAGIC};
use super::repo;
use crate::audit::model::AuditAction;
use crate::audit::service::{self as audit, AuditEvent, AuditSource};
use crate::db::copy::{BulkLoad, CopyIn};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// Largest file accepted through the portal and the API: a month of a large estate as CSV.gz.
pub const MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Rows read per batch from the file.
const BATCH_ROWS: usize = 5_000;
/// Refused rows listed in a report (all of them are counted).
const REJECTED_LISTED: usize = 100;

/// What to import a file as.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// Who sends these bills: a re-import of a period replaces what this source held for it.
    pub source: String,
    pub file_name: String,
    /// For files without a BillingCurrency column.
    pub currency: String,
}

impl ImportRequest {
    pub fn parse(source: &str, file_name: &str, currency: &str) -> AppResult<Self> {
        let source = source.trim().to_ascii_lowercase();
        let valid_source = (1..=63).contains(&source.len())
            && source.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && source.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid_source {
            return Err(AppError::invalid(
                "Name the source with up to 63 letters, digits, '.', '_' or '-' (e.g. aws-payer), starting with a letter or digit.",
            ));
        }
        let currency = super::model::currency_code(currency)
            .ok_or_else(|| AppError::invalid("The default currency is a three-letter ISO 4217 code, such as USD."))?;
        let file_name: String = file_name.chars().filter(|c| !c.is_control()).take(255).collect();
        let file_name = if file_name.trim().is_empty() { "upload".to_owned() } else { file_name };
        Ok(Self { source, file_name, currency })
    }
}

/// The file an import reads; an uploaded copy is deleted when the import ends.
pub struct ImportFile {
    pub path: PathBuf,
    pub remove_after: bool,
}

/// Writes an uploaded file to a temporary file as it arrives, refusing it past
/// [`MAX_UPLOAD_BYTES`]; the import deletes the copy when it ends.
pub async fn spool<B, E>(body: impl futures_util::Stream<Item = Result<B, E>>) -> AppResult<PathBuf>
where
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    use std::io::Write;

    let path = std::env::temp_dir().join(format!("beacon-costs-{}", Uuid::new_v4()));
    let target = path.clone();
    let written = async move {
        let mut file = std::fs::File::create(&target).map_err(AppError::internal)?;
        let mut body = std::pin::pin!(body);
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| AppError::invalid(format!("the upload broke off: {e}")))?;
            size += chunk.as_ref().len() as u64;
            if size > MAX_UPLOAD_BYTES {
                return Err(AppError::too_large(format!(
                    "Cost files are limited to {} GiB; split the export by month.",
                    MAX_UPLOAD_BYTES / 1024 / 1024 / 1024
                )));
            }
            // Disk writes stay off the async workers.
            let bytes = chunk.as_ref().to_vec();
            file = tokio::task::spawn_blocking(move || file.write_all(&bytes).map(|()| file))
                .await
                .map_err(AppError::internal)?
                .map_err(AppError::internal)?;
        }
        if size == 0 {
            return Err(AppError::invalid("The file is empty."));
        }
        Ok(())
    }
    .await;
    match written {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Records the import and runs it on its own task; returns its id at once.
pub async fn start(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    request: ImportRequest,
    file: ImportFile,
) -> AppResult<Uuid> {
    let id = begin(db, tenant, &source, &request, &file).await?;
    let (db, tenant) = (db.clone(), tenant.clone());
    tokio::spawn(async move {
        if let Err(e) = run(&db, &tenant, &source, id, &request, file).await {
            tracing::error!(import = %id, error = %e, "could not record the end of a cost import");
        }
    });
    Ok(id)
}

/// Imports a file and waits for the end (the command line).
pub async fn import_now(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    request: ImportRequest,
    file: ImportFile,
) -> AppResult<CostImport> {
    let id = begin(db, tenant, &source, &request, &file).await?;
    run(db, tenant, &source, id, &request, file).await?;
    load(db, tenant, id).await?.ok_or_else(|| AppError::internal("the import vanished"))
}

async fn begin(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    request: &ImportRequest,
    file: &ImportFile,
) -> AppResult<Uuid> {
    let size =
        std::fs::metadata(&file.path).map_err(|e| AppError::invalid(format!("cannot read the file: {e}")))?.len();
    let id = Uuid::now_v7();
    let (actor, request) = (source.actor.clone(), request.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::insert_import(
                conn,
                &repo::NewImport {
                    id,
                    source: &request.source,
                    file_name: &request.file_name,
                    created_by: &actor,
                    bytes_total: i64::try_from(size).unwrap_or(i64::MAX),
                },
            )
            .await
        })
    })
    .await?;
    Ok(id)
}

/// A batch read from the file, and how far the reading got.
struct Batch {
    rows: Vec<CostRecord>,
    bytes_read: u64,
    rows_read: u64,
    layout: &'static str,
}

/// What reading the whole file found.
struct Reading {
    layout: &'static str,
    warnings: Vec<String>,
    rows_read: u64,
    rejected_count: u64,
    rejected: Vec<Rejected>,
}

/// Counts the bytes the parser has taken from the file, for the progress bar.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a file holds, told by its first bytes, never its name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// CSV, plain or gzip-compressed.
    Bill,
    ParquetBill,
    /// An OpenCost allocation response (JSON, plain or gzip-compressed).
    OpenCost,
}

fn file_kind(path: &std::path::Path) -> std::io::Result<FileKind> {
    let mut magic = [0u8; 4];
    if std::fs::File::open(path)?.read_exact(&mut magic).is_ok() && &magic == PARQUET_MAGIC {
        return Ok(FileKind::ParquetBill);
    }
    Ok(match super::opencost::is_json(path)? {
        true => FileKind::OpenCost,
        false => FileKind::Bill,
    })
}

/// Reads the file on a blocking thread, sending batches while no row has been refused; after
/// the first refused row it reads on only to count and list the others.
fn read_file(
    path: PathBuf,
    kind: FileKind,
    defaults: Defaults,
    batches: tokio::sync::mpsc::Sender<Batch>,
) -> Result<Reading, AppError> {
    let read = Arc::new(AtomicU64::new(0));
    let file = std::fs::File::open(&path).map_err(|e| AppError::invalid(format!("cannot open the file: {e}")))?;
    let reader = match kind {
        FileKind::ParquetBill => CostReader::open_parquet(file, read.clone(), defaults),
        _ => CostReader::open(Counted { inner: file, read: read.clone() }, defaults),
    }
    .map_err(|e| AppError::invalid(e.to_string()))?;
    let layout = reader.layout().as_str();
    let warnings = reader.warnings().to_vec();
    let mut reading = Reading { layout, warnings, rows_read: 0, rejected_count: 0, rejected: Vec::new() };
    let mut rows = Vec::with_capacity(BATCH_ROWS);
    for row in reader {
        reading.rows_read += 1;
        match row {
            Ok(record) if reading.rejected_count == 0 => rows.push(record),
            Ok(_) => {}
            Err(rejected) => {
                reading.rejected_count += 1;
                if reading.rejected.len() < REJECTED_LISTED {
                    reading.rejected.push(rejected);
                }
                rows.clear();
            }
        }
        if rows.len() == BATCH_ROWS {
            let batch = Batch {
                rows: std::mem::replace(&mut rows, Vec::with_capacity(BATCH_ROWS)),
                bytes_read: read.load(Ordering::Relaxed),
                rows_read: reading.rows_read,
                layout,
            };
            if batches.blocking_send(batch).is_err() {
                return Err(AppError::internal("the import stopped taking rows"));
            }
        }
    }
    if !rows.is_empty() {
        let batch = Batch { rows, bytes_read: read.load(Ordering::Relaxed), rows_read: reading.rows_read, layout };
        if batches.blocking_send(batch).is_err() {
            return Err(AppError::internal("the import stopped taking rows"));
        }
    }
    Ok(reading)
}

/// Rows staged per COPY statement: each one's commit is a step of the progress bar. Between
/// them rows stream to PostgreSQL as they are read, with no round trip per batch.
const ROWS_PER_COPY: usize = 100_000;

/// How far the reading is, as the import's record shows it.
#[derive(Clone, Copy)]
struct Progress {
    bytes_read: i64,
    rows_read: i64,
    layout: &'static str,
}

impl Progress {
    fn of(batch: &Batch) -> Self {
        Self {
            bytes_read: i64::try_from(batch.bytes_read).unwrap_or(i64::MAX),
            rows_read: i64::try_from(batch.rows_read).unwrap_or(i64::MAX),
            layout: batch.layout,
        }
    }
}

/// Stages an import's batches on its bulk-load connection, a COPY of up to `ROWS_PER_COPY`
/// rows at a time.
struct Stager {
    load: BulkLoad,
    copy: Option<CopyIn>,
    rows_in_copy: usize,
}

impl Stager {
    async fn stage(
        &mut self,
        db: &Database,
        tenant: &Tenant,
        id: Uuid,
        rows: &[CostRecord],
        progress: Progress,
    ) -> AppResult<()> {
        let copy = match &mut self.copy {
            Some(copy) => copy,
            None => self.copy.insert(repo::start_staging(&self.load).await?),
        };
        repo::stage_rows(copy, id, rows).await?;
        self.rows_in_copy += rows.len();
        if self.rows_in_copy >= ROWS_PER_COPY {
            self.commit(db, tenant, id, progress).await?;
        }
        Ok(())
    }

    /// Commits the open COPY, then records how far the reading is.
    async fn commit(&mut self, db: &Database, tenant: &Tenant, id: Uuid, progress: Progress) -> AppResult<()> {
        if let Some(copy) = self.copy.take() {
            copy.finish().await?;
        }
        self.rows_in_copy = 0;
        let Progress { bytes_read, rows_read, layout } = progress;
        db.with_tenant(tenant, move |conn| Box::pin(repo::advance(conn, id, bytes_read, rows_read, layout))).await
    }
}

/// Reads, stages and commits (or refuses) the file; always ends the import's record.
async fn run(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    id: Uuid,
    request: &ImportRequest,
    file: ImportFile,
) -> AppResult<()> {
    let path = file.path.clone();
    // An unreadable file is read as a bill, which says why it cannot be.
    let kind = tokio::task::spawn_blocking(move || file_kind(&path))
        .await
        .map_err(AppError::internal)?
        .unwrap_or(FileKind::Bill);
    if kind == FileKind::OpenCost {
        return run_opencost(db, tenant, source, id, request, file).await;
    }
    let started = std::time::Instant::now();
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Batch>(2);
    let defaults = Defaults { currency: request.currency.clone(), provider: request.source.clone() };
    let path = file.path.clone();
    let reader = tokio::task::spawn_blocking(move || read_file(path, kind, defaults, sender));
    let mut staging = db.bulk_load(tenant).await.map(|load| Stager { load, copy: None, rows_in_copy: 0 });
    let mut last = None;
    while let Some(batch) = batches.recv().await {
        let Ok(stager) = &mut staging else { continue };
        let progress = Progress::of(&batch);
        if let Err(e) = stager.stage(db, tenant, id, &batch.rows, progress).await {
            staging = Err(e);
        }
        last = Some(progress);
    }
    // What is still in the open COPY is committed; the staging connection then closes, before
    // the commit needs one from the pool.
    let staging = match (staging, last) {
        (Ok(mut stager), Some(progress)) => stager.commit(db, tenant, id, progress).await,
        (staging, _) => staging.map(drop),
    };
    let reading = reader.await.map_err(AppError::internal).and_then(|r| r);
    if file.remove_after {
        let path = file.path.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
    }
    let staged = started.elapsed();
    let rows_read = reading.as_ref().map_or(0, |r| r.rows_read);
    let outcome = match (reading, staging) {
        (Ok(reading), Ok(())) if reading.rejected_count == 0 => commit(db, tenant, source, id, request, reading).await,
        (Ok(reading), Ok(())) => {
            let rejected = reading.rejected_count;
            let report = ImportReport {
                layout: reading.layout.into(),
                rows_rejected: i64::try_from(rejected).unwrap_or(i64::MAX),
                rejected: reading
                    .rejected
                    .into_iter()
                    .map(|r| RejectedRow { line: r.line, reason: r.reason })
                    .collect(),
                warnings: reading.warnings,
                ..ImportReport::default()
            };
            let first =
                report.rejected.first().map(|r| format!(" (first: line {}, {})", r.line, r.reason)).unwrap_or_default();
            let message = format!("{rejected} row(s) could not be read{first}; nothing of the file was imported.");
            Err((message, Some(report)))
        }
        (Err(e), _) | (_, Err(e)) => Err((e.to_string(), None)),
    };
    tracing::info!(
        import = %id,
        rows = rows_read,
        staged_ms = staged.as_millis() as u64,
        committed_ms = (started.elapsed() - staged).as_millis() as u64,
        ok = outcome.is_ok(),
        "cost import read"
    );
    match outcome {
        Ok(()) => Ok(()),
        Err((message, report)) => refuse(db, tenant, source, id, request, &message, report).await,
    }
}

/// An OpenCost allocation file: read whole (allocations are few next to bill rows), refused
/// with every unusable allocation listed, or kept as weights.
async fn run_opencost(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    id: Uuid,
    request: &ImportRequest,
    file: ImportFile,
) -> AppResult<()> {
    let path = file.path.clone();
    let read = tokio::task::spawn_blocking(move || super::opencost::read(&path)).await.map_err(AppError::internal)?;
    if file.remove_after {
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(file.path)).await;
    }
    let refused = match read {
        Err(message) => (message, None),
        Ok((weights, rejected)) if rejected.is_empty() => {
            let names = (id, request.source.as_str(), request.file_name.as_str());
            return match super::opencost::commit(db, tenant, source, names, weights).await {
                Ok(_) => Ok(()),
                Err(e) => {
                    refuse(db, tenant, source, id, request, &format!("the import could not be saved: {e}"), None).await
                }
            };
        }
        Ok((_, rejected)) => {
            let first =
                rejected.first().map(|r| format!(" (first: allocation {}, {})", r.line, r.reason)).unwrap_or_default();
            let report = ImportReport {
                layout: super::opencost::LAYOUT.into(),
                rows_rejected: rejected.len() as i64,
                rejected: rejected.into_iter().take(REJECTED_LISTED).collect(),
                ..ImportReport::default()
            };
            (
                format!(
                    "{} allocation(s) could not be read{first}; nothing of the file was imported.",
                    report.rows_rejected
                ),
                Some(report),
            )
        }
    };
    refuse(db, tenant, source, id, request, &refused.0, refused.1).await
}

/// The file read cleanly: its rows replace the same source's rows for the same account and
/// period, all at once.
async fn commit(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    id: Uuid,
    request: &ImportRequest,
    reading: Reading,
) -> Result<(), (String, Option<ImportReport>)> {
    let (source, request) = (source.clone(), request.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            // A year of a large estate is millions of rows to move and sum at once.
            repo::sized_for_a_year(conn).await?;
            // The allocation lock first: a recompute of the rules never interleaves with this.
            allocation::lock(conn).await?;
            let rules = allocation::current_rules(conn).await?;
            let started = std::time::Instant::now();
            let replaced = repo::commit(conn, id, &request.source).await?;
            let summed = started.elapsed();
            allocation::allocate_import(conn, id, &rules).await?;
            allocation::keep_recent_keys(conn).await?;
            let allocated = started.elapsed();
            // An import without costs changed no day: only the newest week is looked at again.
            let changed_from = repo::first_day(conn, id).await?.unwrap_or(chrono::NaiveDate::MAX);
            super::service::costs_changed(conn, Some(changed_from)).await?;
            tracing::info!(
                import = %id,
                replaced_and_summed_ms = summed.as_millis() as u64,
                allocated_ms = (allocated - summed).as_millis() as u64,
                budgets_and_anomalies_ms = (started.elapsed() - allocated).as_millis() as u64,
                "cost import committed"
            );
            let totals = repo::totals(conn, id).await?;
            let report = ImportReport {
                layout: reading.layout.into(),
                rows_imported: totals.iter().map(|t| t.rows).sum(),
                rows_rejected: 0,
                rejected: Vec::new(),
                totals,
                replaced_periods: replaced,
                warnings: reading.warnings,
            };
            let value = serde_json::to_value(&report).map_err(AppError::internal)?;
            repo::finish(conn, id, ImportStatus::Done, Some(&value), None).await?;
            let event =
                AuditEvent::success(AuditAction::FinopsCostsImported, format!("cost-import:{id}")).details(json!({
                    "source": request.source,
                    "file": request.file_name,
                    "rows": report.rows_imported,
                    "replaced_periods": replaced,
                    "totals": report.totals,
                }));
            audit::record(conn, &source, event).await
        })
    })
    .await
    .map_err(|e: AppError| (format!("the import could not be saved: {e}"), None))
}

/// Ends a refused import: its staged rows dropped, the reason kept and audited.
async fn refuse(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    id: Uuid,
    request: &ImportRequest,
    message: &str,
    report: Option<ImportReport>,
) -> AppResult<()> {
    let (source, request, message) = (source.clone(), request.clone(), message.to_owned());
    let report = report.map(|r| serde_json::to_value(r).map_err(AppError::internal)).transpose()?;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::sized_for_a_year(conn).await?;
            repo::discard_rows(conn, id).await?;
            repo::finish(conn, id, ImportStatus::Failed, report.as_ref(), Some(&message)).await?;
            let event = AuditEvent::failure(AuditAction::FinopsCostsImported, format!("cost-import:{id}"))
                .details(json!({ "source": request.source, "file": request.file_name, "error": message }));
            audit::record(conn, &source, event).await
        })
    })
    .await
}

fn to_model(row: repo::ImportRow) -> CostImport {
    CostImport {
        id: row.id,
        source: row.source,
        file_name: row.file_name,
        status: ImportStatus::parse(&row.status),
        created_by: row.created_by,
        created_at: row.created_at,
        bytes_total: row.bytes_total,
        bytes_read: row.bytes_read,
        rows_read: row.rows_read,
        report: row.report.and_then(|r| serde_json::from_value(r).ok()),
        error: row.error,
    }
}

pub async fn load(db: &Database, tenant: &Tenant, id: Uuid) -> AppResult<Option<CostImport>> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::fail_abandoned(conn).await?;
            Ok::<_, AppError>(repo::load_import(conn, id).await?.map(to_model))
        })
    })
    .await
}

/// The newest imports, for the Sources page.
pub async fn recent(db: &Database, tenant: &Tenant) -> AppResult<Vec<CostImport>> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::fail_abandoned(conn).await?;
            Ok::<_, AppError>(repo::recent_imports(conn, 50).await?.into_iter().map(to_model).collect())
        })
    })
    .await
}
