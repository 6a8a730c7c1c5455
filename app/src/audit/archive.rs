//! Retention and archive of the audit log. Events stay in the database for the tenant's
//! retention (90 days unless changed); a month whose every day is older is written to object
//! storage (a local directory, or S3-compatible storage) as compressed NDJSON with a signed
//! manifest (see `archive_file`), read back and checked, and only then, in one transaction, is
//! its partition detached and dropped and the manifest recorded for the verifier. A month can
//! be restored into a read-only partition for searching, and put back.
//!
//! Crash safety: nothing is dropped before the archive is in storage and verified; the objects
//! have one name per month, so a rerun after a crash overwrites what the crashed run left
//! (local files and S3 multipart uploads only appear once complete) and nothing is lost or
//! written twice. One archiver per tenant at a time, by an advisory lock on a connection of its
//! own: PostgreSQL lets go of it the moment an archiver dies.
//!
//! The archiver also carries out GDPR erasures in archived months (`archive_erasure`).

use std::io::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, SubsecRound, Utc};
use diesel_async::AsyncConnection;
use futures_util::StreamExt;
use object_store::{path::Path, ObjectStore, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use super::archive_erasure::{ErasedMonth, Rewriting};
use super::archive_file::{self, ArchiveCheck, ArchivedLine, Manifest, Reader};
use super::archive_model::{ArchiveOverview, ArchivedMonth, HOT_DAYS};
use super::archive_repo as repo;
use super::chain::GENESIS;
use super::model::AuditAction;
use super::service::{self, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::keyring::Keyring;
use crate::tenancy::model::Tenant;
use crate::tenancy::service as tenancy;

/// Events read or restored per transaction.
const BATCH: i64 = 5_000;
/// Compressed bytes gathered before they go to storage (S3 parts must be at least 5 MiB).
pub(super) const PART: usize = 8 << 20;
/// Restored events inserted per statement.
const RESTORE_BATCH: usize = 1_000;
/// How often a restore starts again because an erasure of the month arrived while it read.
const RESTORE_TRIES: usize = 3;

/// Where archives are kept: a local directory, or `s3://bucket/prefix` configured by the
/// standard `AWS_*` variables (endpoint, region, keys, `AWS_ALLOW_HTTP` for a local server).
#[derive(Clone)]
pub struct ArchiveStore {
    pub(super) store: Arc<dyn ObjectStore>,
    described: String,
    /// The directory of a local store: files an interrupted upload left there are invisible
    /// to the store's listing, so tidying reads the directory itself.
    pub(super) local_dir: Option<std::path::PathBuf>,
}

impl ArchiveStore {
    /// `extra` adds S3 settings on top of the environment's (tests point at a local server).
    pub fn open(spec: &str, extra: &[(&str, &str)]) -> AppResult<Self> {
        let bad = |e: object_store::Error| AppError::invalid(format!("audit archive `{spec}`: {e}"));
        if let Some(location) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
            let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (key, value) in extra {
                let key = key.parse().map_err(bad)?;
                builder = builder.with_config(key, *value);
            }
            let s3 = builder.build().map_err(bad)?;
            let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                "" => Arc::new(s3),
                prefix => Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)),
            };
            return Ok(Self { store, described: spec.to_owned(), local_dir: None });
        }
        let dir = spec.strip_prefix("file://").unwrap_or(spec);
        std::fs::create_dir_all(dir).map_err(|e| AppError::invalid(format!("audit archive directory `{dir}`: {e}")))?;
        let local = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(bad)?;
        Ok(Self { store: Arc::new(local), described: dir.to_owned(), local_dir: Some(dir.into()) })
    }

    pub fn describe(&self) -> &str {
        &self.described
    }

    pub(super) fn month_dir(tenant: &Tenant, month: NaiveDate) -> String {
        format!("tenant-{}/{}", tenant.id.0, month.format("%Y-%m"))
    }

    fn events_path(tenant: &Tenant, month: NaiveDate) -> Path {
        Path::from(format!("{}/events.ndjson.gz", Self::month_dir(tenant, month)))
    }

    pub(super) fn manifest_path(tenant: &Tenant, month: NaiveDate) -> Path {
        Path::from(format!("{}/manifest.json", Self::month_dir(tenant, month)))
    }

    /// Where a manifest's events are: an object directly in its month's directory (a
    /// manifest naming anything else is refused, whatever its signature).
    fn object_of(tenant: &Tenant, manifest: &Manifest) -> AppResult<Path> {
        let path = Path::from(manifest.object.as_str());
        let dir = Self::month_dir(tenant, manifest.month);
        match path.as_ref().strip_prefix(&dir).and_then(|name| name.strip_prefix('/')) {
            Some(name) if !name.is_empty() && !name.contains('/') => Ok(path),
            _ => Err(AppError::invalid(format!(
                "the manifest of {} names an object outside its month",
                manifest.month_label()
            ))),
        }
    }

    pub(super) async fn read_manifest(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<Manifest> {
        let path = Self::manifest_path(tenant, month);
        self.stored_manifest(tenant, month)
            .await?
            .ok_or_else(|| AppError::internal(format!("audit archive storage: no manifest at {path}")))
    }

    /// The manifest stored for `month`, `None` when none is; any other failure is an error.
    pub(super) async fn stored_manifest(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<Option<Manifest>> {
        let path = Self::manifest_path(tenant, month);
        let bytes = match self.store.get(&path).await {
            Ok(found) => found.bytes().await.map_err(storage)?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AppError::invalid(format!("the manifest at {path} is not valid: {e}")))
    }
}

pub(super) fn storage(e: object_store::Error) -> AppError {
    AppError::internal(format!("audit archive storage: {e}"))
}

/// What one pass did for a tenant.
#[derive(Debug, Default)]
pub struct Pass {
    pub archived: Vec<Manifest>,
    /// Archived months written again by GDPR erasures.
    pub erased: Vec<ErasedMonth>,
    /// Another archiver holds the tenant.
    pub skipped: bool,
}

#[derive(Clone)]
pub struct Archiver {
    pub db: Database,
    pub store: ArchiveStore,
    pub keyring: Keyring,
}

impl Archiver {
    /// Every `every`, each tenant: months created ahead, months past retention archived.
    pub async fn run(self, every: std::time::Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let tenants = match tenancy::list(&self.db).await {
                Ok(tenants) => tenants,
                Err(e) => {
                    tracing::warn!("audit archive: listing tenants: {e}");
                    continue;
                }
            };
            for tenant in tenants {
                self.logged_pass(&tenant).await;
            }
        }
    }

    async fn logged_pass(&self, tenant: &Tenant) {
        match self.pass(tenant, Utc::now(), &AuditSource::system()).await {
            Ok(pass) => {
                for manifest in pass.archived {
                    tracing::info!(tenant = %tenant.slug, month = %manifest.month_label(), events = manifest.events, "audit month archived");
                }
                for erased in pass.erased {
                    tracing::info!(tenant = %tenant.slug, month = %erased.month, events = erased.events, "archived audit month erased");
                }
            }
            Err(e) => tracing::warn!(tenant = %tenant.slug, "audit archive: {e}"),
        }
    }

    /// Runs a pass for the tenant now, in the background (after an erasure, so archived
    /// months do not wait for the next tick).
    pub fn pass_soon(&self, tenant: Tenant) {
        let archiver = self.clone();
        tokio::spawn(async move { archiver.logged_pass(&tenant).await });
    }

    /// One pass for one tenant as of `now`.
    pub async fn pass(&self, tenant: &Tenant, now: DateTime<Utc>, source: &AuditSource) -> AppResult<Pass> {
        // Most passes find nothing to do: they check on a pooled connection, and only take the
        // tenant's lock (a connection of its own) when a month is missing or due.
        let (hot_days, months, erasures) = self.months(tenant, None).await?;
        let ahead = (0..3).map(|n| month_of(now) + Months::new(n));
        if ahead.into_iter().all(|m| months.contains(&m)) && !months.iter().any(|m| due(*m, hot_days, now)) && !erasures
        {
            return Ok(Pass::default());
        }
        let Some(_lock) = self.lock(tenant).await? else {
            return Ok(Pass { skipped: true, ..Pass::default() });
        };
        let (hot_days, months, _) = self.months(tenant, Some(now)).await?;
        let mut pass = Pass::default();
        // A month that cannot be archived holds up neither the others nor the erasures: the
        // pass does all it can, then reports the first failure.
        let mut failed = None;
        for month in months.into_iter().filter(|m| due(*m, hot_days, now)) {
            match self.archive_month(tenant, month, source).await {
                Ok(Some(manifest)) => pass.archived.push(manifest),
                Ok(None) => {}
                Err(e) => {
                    // Only the first failure is returned: the others are told here.
                    tracing::warn!(tenant = %tenant.slug, %month, "archiving the month failed: {e}");
                    failed.get_or_insert(e);
                }
            }
        }
        match self.erase_pending(tenant).await {
            Ok(erased) => pass.erased = erased,
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(pass),
        }
    }

    /// The retention, the months with a partition and whether erasures wait, after creating
    /// the missing months from `ensure_from` through two months ahead.
    async fn months(
        &self,
        tenant: &Tenant,
        ensure_from: Option<DateTime<Utc>>,
    ) -> AppResult<(i32, Vec<NaiveDate>, bool)> {
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    if let Some(now) = ensure_from {
                        repo::ensure_months(conn, now, now + Duration::days(62)).await?;
                    }
                    Ok::<_, AppError>((
                        repo::hot_days(conn).await?,
                        repo::partitioned_months(conn).await?,
                        repo::erasure_work_waits(conn).await?,
                    ))
                })
            })
            .await
    }

    async fn lock(&self, tenant: &Tenant) -> AppResult<Option<Connection>> {
        let mut conn = Connection::establish(self.db.url()).await.map_err(AppError::internal)?;
        Ok(repo::try_lock(&mut conn, tenant.id.0).await?.then_some(conn))
    }

    /// Archives one month (the caller holds the tenant's lock); `None` if it already was.
    async fn archive_month(
        &self,
        tenant: &Tenant,
        month: NaiveDate,
        source: &AuditSource,
    ) -> AppResult<Option<Manifest>> {
        let go_on = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::start_writing(conn, month).await.map_err(AppError::from) })
            })
            .await?;
        if !go_on {
            return Ok(None);
        }
        let path = ArchiveStore::events_path(tenant, month);
        let upload = self.store.store.put_multipart(&path).await.map_err(storage)?;
        let mut out = Output::new(WriteMultipart::new_with_chunk_size(upload, PART));
        let written = self.write_events(tenant, month, &mut out).await;
        let mut manifest = match written {
            Ok(manifest) => manifest,
            Err(e) => {
                // Nothing of a half-written object remains visible; the month stays in the database.
                let _ = out.writer.abort().await;
                return Err(e);
            }
        };
        let (bytes, sha256) = out.finish().await?;
        manifest.object = path.to_string();
        manifest.object_bytes = bytes;
        manifest.object_sha256 = Some(sha256.to_vec());
        manifest.sign(&self.keyring);
        let json = serde_json::to_vec_pretty(&manifest).map_err(AppError::internal)?;
        self.store
            .store
            .put(&ArchiveStore::manifest_path(tenant, month), PutPayload::from(json))
            .await
            .map_err(storage)?;

        // What is in storage, not what was meant to be: read back and checked before anything is dropped.
        let check = self.check(tenant, month).await?;
        if let Some(problem) = check.problem {
            return Err(AppError::internal(format!("the archive just written does not verify: {problem}")));
        }
        let value = serde_json::to_value(&manifest).map_err(AppError::internal)?;
        let (expected, source, label) = (manifest.events, source.clone(), manifest.month_label());
        let (start, end) = archive_file::month_bounds(month);
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    let now_held = repo::count_between(conn, (start, end)).await?;
                    if now_held != expected {
                        return Err(AppError::conflict(format!(
                            "{label} gained events while it was archived ({now_held}, archived {expected}); the next run archives it again"
                        )));
                    }
                    repo::drop_archived(conn, month, &value).await?;
                    let event = AuditEvent::success(AuditAction::AuditMonthArchived, format!("audit:{label}"))
                        .details(serde_json::json!({ "events": expected, "object": value["object"], "bytes": value["object_bytes"] }));
                    service::record(conn, &source, event).await
                })
            })
            .await?;
        Ok(Some(manifest))
    }

    /// Streams the month's events into `out` and returns the manifest's chain facts.
    async fn write_events(&self, tenant: &Tenant, month: NaiveDate, out: &mut Output) -> AppResult<Manifest> {
        let bounds = archive_file::month_bounds(month);
        let mut manifest = Manifest {
            format: archive_file::FORMAT.to_owned(),
            tenant_id: tenant.id.0,
            month,
            events: 0,
            unchained: 0,
            first_seq: None,
            last_seq: None,
            other_seqs: Vec::new(),
            first_prev_hash: None,
            last_hash: None,
            object: String::new(),
            object_bytes: 0,
            object_sha256: None,
            signed_at: Utc::now().trunc_subsecs(6),
            key_id: String::new(),
            signature: None,
        };
        let first_seq = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    repo::analyze(conn, month).await?;
                    repo::first_seq(conn, bounds).await.map_err(AppError::from)
                })
            })
            .await?;
        // Events outside the chain first, by id.
        let mut after = 0;
        loop {
            let (batch, chained) = self
                .db
                .with_tenant(tenant, move |conn| {
                    Box::pin(
                        async move { repo::events_batch(conn, bounds, after, BATCH).await.map_err(AppError::from) },
                    )
                })
                .await?;
            let full = batch.len() as i64 == BATCH;
            let chained: std::collections::HashSet<i64> = chained.into_iter().collect();
            for event in batch {
                after = event.id;
                if chained.contains(&event.id) {
                    continue;
                }
                manifest.events += 1;
                manifest.unchained += 1;
                out.line(&ArchivedLine { event, seq: None, chain_hash: None, prev_hash: None })?;
            }
            out.ship().await?;
            if !full {
                break;
            }
        }
        // Then the chained ones, in chain order.
        let mut last: Option<i64> = None;
        while let Some(first) = first_seq {
            let after = last.unwrap_or(first - 1);
            let batch = self
                .db
                .with_tenant(tenant, move |conn| {
                    Box::pin(async move { chained_with_links(conn, bounds, after, last).await })
                })
                .await?;
            let full = batch.len() as i64 == BATCH;
            for line in batch {
                let seq = line.seq.expect("chained");
                match last {
                    None => {
                        manifest.first_seq = Some(seq);
                        manifest.first_prev_hash = line.prev_hash.clone();
                    }
                    Some(previous) => manifest.other_seqs.extend(previous + 1..seq),
                }
                last = Some(seq);
                manifest.last_seq = Some(seq);
                manifest.last_hash = line.chain_hash.clone();
                manifest.events += 1;
                out.line(&line)?;
            }
            out.ship().await?;
            if !full {
                break;
            }
        }
        Ok(manifest)
    }

    /// Reads a month's archive from storage and checks it on its own: the manifest's signature,
    /// the events object's size and digest, every event's hashes and every link.
    pub async fn check(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<ArchiveCheck> {
        let manifest = self.store.read_manifest(tenant, month).await?;
        self.read(tenant, &manifest, Sink::Check).await
    }

    /// Streams the events object of `manifest` through the checker, and the checked events
    /// into `sink` as they come, in batches.
    pub(super) async fn read(
        &self,
        tenant: &Tenant,
        manifest: &Manifest,
        mut sink: Sink<'_>,
    ) -> AppResult<ArchiveCheck> {
        let fail = |problem: String| Ok(ArchiveCheck { problem: Some(problem), ..ArchiveCheck::default() });
        if manifest.format != archive_file::FORMAT || manifest.tenant_id != tenant.id.0 {
            return fail(format!("The manifest of {} is not an archive of this tenant.", manifest.month_label()));
        }
        if let Err(problem) = manifest.check_signature(&self.keyring) {
            return fail(problem);
        }
        let path = ArchiveStore::object_of(tenant, manifest)?;
        let mut stream = self.store.store.get(&path).await.map_err(storage)?.into_stream();
        let mut reader = Reader::new(manifest, !matches!(sink, Sink::Check));
        let mut pending: Vec<ArchivedLine> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(storage)?;
            if let Err(problem) = reader.write(&chunk) {
                return fail(problem);
            }
            pending.extend(reader.take());
            while pending.len() >= RESTORE_BATCH {
                let rest = pending.split_off(RESTORE_BATCH);
                self.deliver(tenant, manifest.month, &mut sink, std::mem::replace(&mut pending, rest)).await?;
            }
        }
        match reader.finish() {
            Ok((check, rest)) => {
                pending.extend(rest);
                if !pending.is_empty() {
                    self.deliver(tenant, manifest.month, &mut sink, pending).await?;
                }
                Ok(check)
            }
            Err(problem) => fail(problem),
        }
    }

    async fn deliver(
        &self,
        tenant: &Tenant,
        month: NaiveDate,
        sink: &mut Sink<'_>,
        lines: Vec<ArchivedLine>,
    ) -> AppResult<()> {
        match sink {
            Sink::Check => Ok(()),
            Sink::Restore => self.insert_restored(tenant, month, lines).await,
            Sink::Rewrite(rewriting) => rewriting.add(lines).await,
        }
    }

    async fn insert_restored(&self, tenant: &Tenant, month: NaiveDate, lines: Vec<ArchivedLine>) -> AppResult<()> {
        let rows = serde_json::to_value(&lines).map_err(AppError::internal)?;
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(
                    async move { repo::insert_restored(conn, month, &rows).await.map(drop).map_err(AppError::from) },
                )
            })
            .await
    }

    /// Brings an archived month back as a read-only partition, after checking it in full
    /// (the events go into a table of their own, attached only once every line verified).
    pub async fn restore(&self, tenant: &Tenant, month: NaiveDate, source: &AuditSource) -> AppResult<ArchiveCheck> {
        let Some(_lock) = self.lock(tenant).await? else {
            return Err(AppError::conflict("The audit log is being archived right now; try again in a minute."));
        };
        // An erasure that commits while the month is read in missed these events: it queued
        // the month instead, so the restore starts again from the erased archive.
        for _ in 0..RESTORE_TRIES {
            if let Some(check) = self.restore_once(tenant, month, source).await? {
                return Ok(check);
            }
        }
        Err(AppError::conflict(format!(
            "Erasures kept arriving while {} was restored; try again in a minute.",
            month.format("%Y-%m")
        )))
    }

    /// One try of `restore` (the caller holds the tenant's lock); `None` if an erasure of the
    /// month arrived meanwhile and nothing was attached.
    async fn restore_once(
        &self,
        tenant: &Tenant,
        month: NaiveDate,
        source: &AuditSource,
    ) -> AppResult<Option<ArchiveCheck>> {
        self.erase_before_restore(tenant, month).await?;
        let manifest = self.recorded_manifest(tenant, month, "archived").await?;
        let stored = self.store.read_manifest(tenant, month).await?;
        if stored != manifest {
            return Err(AppError::conflict(format!(
                "The manifest in storage for {} is not the one recorded when it was archived.",
                manifest.month_label()
            )));
        }
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::create_restore_table(conn, month).await.map_err(AppError::from) })
            })
            .await?;
        let check = self.read(tenant, &manifest, Sink::Restore).await?;
        if let Some(problem) = check.problem {
            self.drop_restore_table(tenant, month).await?;
            return Err(AppError::conflict(format!("The archive does not verify, so it was not restored: {problem}")));
        }
        let (source, label, events) = (source.clone(), manifest.month_label(), check.events);
        let attached = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    // Erasures wait for this transaction from here on; one that came before
                    // it left its queue entry.
                    repo::hold_archive_records(conn).await?;
                    if !repo::queued_erasures(conn, Some(month)).await?.is_empty() {
                        return Ok(false);
                    }
                    repo::attach_restored(conn, month).await?;
                    let event = AuditEvent::success(AuditAction::AuditMonthRestored, format!("audit:{label}"))
                        .details(serde_json::json!({ "events": events }));
                    service::record(conn, &source, event).await?;
                    Ok::<_, AppError>(true)
                })
            })
            .await?;
        if !attached {
            self.drop_restore_table(tenant, month).await?;
            return Ok(None);
        }
        Ok(Some(check))
    }

    async fn drop_restore_table(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<()> {
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::drop_restore_table(conn, month).await.map_err(AppError::from) })
            })
            .await
    }

    /// Drops a restored month from the database again (its archive stays).
    pub async fn put_back(&self, tenant: &Tenant, month: NaiveDate, source: &AuditSource) -> AppResult<()> {
        let manifest = self.recorded_manifest(tenant, month, "restored").await?;
        let (source, label) = (source.clone(), manifest.month_label());
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    repo::drop_restored(conn, month).await?;
                    service::record(
                        conn,
                        &source,
                        AuditEvent::success(AuditAction::AuditMonthReturned, format!("audit:{label}")),
                    )
                    .await
                })
            })
            .await
    }

    /// Starts restoring a month in the background (a large month takes longer than a request
    /// may); the month shows as restored, and `audit.month_restored` is recorded, once it is done.
    pub async fn start_restore(&self, tenant: &Tenant, month: NaiveDate, source: AuditSource) -> AppResult<()> {
        self.recorded_manifest(tenant, month, "archived").await?;
        let (archiver, tenant) = (self.clone(), tenant.clone());
        tokio::spawn(async move {
            if let Err(e) = archiver.restore(&tenant, month, &source).await {
                tracing::warn!(tenant = %tenant.slug, month = %month, "restoring an audit month: {e}");
            }
        });
        Ok(())
    }

    async fn recorded_manifest(&self, tenant: &Tenant, month: NaiveDate, state: &'static str) -> AppResult<Manifest> {
        let row = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::archive(conn, month).await.map_err(AppError::from) })
            })
            .await?;
        let label = month.format("%Y-%m");
        match row {
            Some(row) if row.state == state => {
                row.manifest().ok_or_else(|| AppError::internal(format!("the archive record of {label} is malformed")))
            }
            Some(row) => Err(AppError::conflict(format!("{label} is {}, not {state}.", row.state))),
            None => Err(AppError::not_found(format!("{label} has not been archived."))),
        }
    }
}

impl Archiver {
    pub async fn overview(&self, tenant: &Tenant) -> AppResult<ArchiveOverview> {
        let (hot_days, months, rows, backlog) = self
            .db
            .with_tenant(tenant, |conn| {
                Box::pin(async move {
                    Ok::<_, AppError>((
                        repo::hot_days(conn).await?,
                        repo::partitioned_months(conn).await?,
                        repo::archives(conn).await?,
                        repo::erasure_backlog(conn).await?,
                    ))
                })
            })
            .await?;
        let archives = rows
            .into_iter()
            .map(|row| {
                let manifest = row.manifest();
                let (waiting, error) = backlog
                    .iter()
                    .find(|(month, _, _)| *month == row.month)
                    .map_or((0, None), |(_, waiting, error)| (*waiting as usize, error.clone()));
                ArchivedMonth {
                    erasures_waiting: waiting,
                    erasure_error: error,
                    month: row.month.format("%Y-%m").to_string(),
                    state: row.state,
                    events: manifest.as_ref().map_or(0, |m| m.events),
                    bytes: manifest.as_ref().map_or(0, |m| m.object_bytes),
                    object: manifest.map(|m| m.object).unwrap_or_default(),
                    archived_at: row.archived_at,
                    restored_at: row.restored_at,
                }
            })
            .collect();
        Ok(ArchiveOverview {
            hot_days,
            store: self.store.describe().to_owned(),
            hot_months: months.iter().map(|m| m.format("%Y-%m").to_string()).collect(),
            archives,
        })
    }
}

/// Changes how long events stay in the database before their month is archived.
pub async fn set_retention(db: &Database, tenant: &Tenant, source: AuditSource, days: i32) -> AppResult<()> {
    if !HOT_DAYS.contains(&days) {
        return Err(AppError::invalid(format!("Retention must be {} to {} days.", HOT_DAYS.start(), HOT_DAYS.end())));
    }
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let before = repo::hot_days(conn).await?;
            repo::set_hot_days(conn, days, &source.actor).await?;
            let event = AuditEvent::success(AuditAction::AuditRetentionChanged, "audit:retention")
                .details(serde_json::json!({ "before_days": before, "after_days": days }));
            service::record(conn, &source, event).await
        })
    })
    .await
}

/// Parses a `YYYY-MM` month.
pub fn parse_month(raw: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(format!("`{raw}` is not a month (YYYY-MM).")))
}

/// Whether every day of `month` is older than the retention, and the month ended over a day
/// ago (events of transactions still open at the turn of the month are in by then).
pub fn due(month: NaiveDate, hot_days: i32, now: DateTime<Utc>) -> bool {
    let (_, end) = archive_file::month_bounds(month);
    end + Duration::days(i64::from(hot_days).max(1)) <= now
}

/// The first day of the month holding `at`.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1).expect("the first of a month exists")
}

/// A batch of chained events as archive lines; a line after a gap in the positions (or the
/// first one) carries the hash it links from.
async fn chained_with_links(
    conn: &mut Connection,
    bounds: (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    mut last: Option<i64>,
) -> AppResult<Vec<ArchivedLine>> {
    let rows = repo::chained_batch(conn, bounds, after, BATCH).await?;
    let mut lines = Vec::with_capacity(rows.len());
    for (seq, chain_hash, event) in rows {
        let prev_hash = match last {
            Some(previous) if seq == previous + 1 => None,
            _ if seq == 1 => Some(GENESIS.to_vec()),
            _ => Some(
                repo::chain_hash_at(conn, seq - 1)
                    .await?
                    .ok_or_else(|| AppError::conflict(format!("chain position {} is missing", seq - 1)))?,
            ),
        };
        last = Some(seq);
        lines.push(ArchivedLine { event, seq: Some(seq), chain_hash: Some(chain_hash), prev_hash });
    }
    Ok(lines)
}

/// Where `Archiver::read` sends the events it checked.
pub(super) enum Sink<'a> {
    Check,
    /// Into the month's restore table.
    Restore,
    /// Into a new archive, with people erased.
    Rewrite(&'a mut Rewriting),
}

/// The compressed events on their way to storage, with their size and digest.
pub(super) struct Output {
    pub(super) writer: WriteMultipart,
    gzip: flate2::write::GzEncoder<Vec<u8>>,
    digest: Sha256,
    bytes: i64,
}

impl Output {
    pub(super) fn new(writer: WriteMultipart) -> Self {
        let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        Output { writer, gzip, digest: Sha256::new(), bytes: 0 }
    }

    pub(super) fn line(&mut self, line: &ArchivedLine) -> AppResult<()> {
        serde_json::to_writer(&mut self.gzip, line).map_err(AppError::internal)?;
        self.gzip.write_all(b"\n").map_err(AppError::internal)
    }

    /// Hands what is compressed so far to the upload, waiting while parts are in flight.
    pub(super) async fn ship(&mut self) -> AppResult<()> {
        let compressed = std::mem::take(self.gzip.get_mut());
        self.digest.update(&compressed);
        self.bytes += compressed.len() as i64;
        self.writer.write(&compressed);
        self.writer.wait_for_capacity(2).await.map_err(storage)
    }

    pub(super) async fn finish(mut self) -> AppResult<(i64, [u8; 32])> {
        let rest = self.gzip.finish().map_err(AppError::internal)?;
        self.digest.update(&rest);
        self.bytes += rest.len() as i64;
        self.writer.write(&rest);
        self.writer.finish().await.map_err(storage)?;
        Ok((self.bytes, self.digest.finalize().into()))
    }
}
