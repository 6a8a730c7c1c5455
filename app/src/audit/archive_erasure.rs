//! GDPR erasure in archived months. An erasure rewrites the events in the database at once
//! (`erasure`); for each archived month it queues, in the same transaction, whom to erase,
//! sealed with the keyring. The archiver then writes the month's archive again: every line is
//! checked as it is read (a damaged archive is never re-signed), the person is replaced by the
//! same pseudonym as in the database, the hashes stay valid (an erased event keeps its
//! digest and loses its salt), and the manifest is signed anew. So an archive still verifies
//! on its own after an erasure, and restoring it brings nobody back.
//!
//! Crash safety: the new events object gets a name of its own (`events-<last erasure>.ndjson.gz`),
//! so the recorded manifest keeps pointing at a complete file until, in one transaction, the new
//! manifest is recorded and the erasures are marked done. The replaced file is named in the
//! record and deleted right after; anything else a crashed rewrite left in the month's
//! directory goes before the next rewrite of that month.

use std::collections::BTreeMap;

use chrono::{NaiveDate, SubsecRound, Utc};
use futures_util::StreamExt;
use object_store::{path::Path, ObjectStore, PutPayload, WriteMultipart};
use serde::{Deserialize, Serialize};

use super::archive::{storage, ArchiveStore, Archiver, Output, Sink, PART};
use super::archive_file::{ArchivedLine, Manifest};
use super::archive_repo::{self as repo, QueuedErasure};
use super::erasure::{self, Person, Pseudonym};
use super::model::AuditAction;
use super::service::{self, AuditEvent, AuditSource};
use crate::db::Connection;
use crate::error::{AppError, AppResult};
use crate::keyring::{Keyring, Purpose, Sealed};
use crate::tenancy::model::Tenant;

/// Whom an erasure replaces, and by what: what a queued erasure seals.
#[derive(Serialize, Deserialize)]
struct Subject {
    person: Person,
    pseudonym: Pseudonym,
}

/// The sealed subject opens only for its tenant and month.
fn context(tenant_id: i64, month: NaiveDate) -> Vec<u8> {
    format!("audit-erasure/{tenant_id}/{}", month.format("%Y-%m")).into_bytes()
}

/// Queues the erasure of `person` in every archived month (and every month being archived:
/// the archiver is held off until the caller's transaction ends, then writes those again
/// too). Runs inside the erasure's tenant transaction; returns how many months were queued.
pub async fn queue_erasure(
    conn: &mut Connection,
    keyring: &Keyring,
    tenant_id: i64,
    person: &Person,
    pseudonym: &Pseudonym,
) -> AppResult<usize> {
    repo::hold_archive_records(conn).await?;
    let months = repo::recorded_months(conn).await?;
    let subject = Subject { person: person.clone(), pseudonym: pseudonym.clone() };
    let plain = serde_json::to_vec(&subject).map_err(AppError::internal)?;
    for month in &months {
        let Sealed { key_id, bytes } = keyring.seal(Purpose::AuditErasure, &plain, &context(tenant_id, *month))?;
        repo::queue_erasure(conn, *month, &key_id, &bytes).await?;
    }
    Ok(months.len())
}

/// An archived month written again by erasures.
#[derive(Debug)]
pub struct ErasedMonth {
    pub month: NaiveDate,
    /// Events that named one of the people.
    pub events: usize,
    pub people: usize,
    pub object: String,
}

/// The lines of a month on their way into its new archive, with the people replaced.
pub struct Rewriting {
    out: Output,
    subjects: Vec<Subject>,
    changed: usize,
}

impl Rewriting {
    pub(super) async fn add(&mut self, lines: Vec<ArchivedLine>) -> AppResult<()> {
        for mut line in lines {
            let mut named = false;
            for subject in &self.subjects {
                named |= erasure::erase_in_place(&mut line.event, &subject.person, &subject.pseudonym);
            }
            self.changed += usize::from(named);
            self.out.line(&line)?;
        }
        self.out.ship().await
    }
}

impl Archiver {
    /// Carries out the queued erasures, month by month (the caller holds the tenant's lock).
    /// A month that fails keeps its erasures, with the error shown on the archive page, for
    /// the next pass; the others go on.
    pub(super) async fn erase_pending(&self, tenant: &Tenant) -> AppResult<Vec<ErasedMonth>> {
        self.delete_superseded(tenant).await;
        let queued = self
            .db
            .with_tenant(tenant, |conn| {
                Box::pin(async move { repo::queued_erasures(conn, None).await.map_err(AppError::from) })
            })
            .await?;
        let mut by_month: BTreeMap<NaiveDate, Vec<QueuedErasure>> = BTreeMap::new();
        for row in queued {
            by_month.entry(row.month).or_default().push(row);
        }
        let mut erased = Vec::new();
        for (month, rows) in by_month {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            match self.erase_month(tenant, month, rows).await {
                Ok(Some(done)) => erased.push(done),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(tenant = %tenant.slug, month = %month, "erasing in an archived audit month: {e}");
                    let error = e.to_string();
                    self.db
                        .with_tenant(tenant, move |conn| {
                            Box::pin(
                                async move { repo::erasures_failed(conn, &ids, &error).await.map_err(AppError::from) },
                            )
                        })
                        .await?;
                }
            }
        }
        self.delete_superseded(tenant).await;
        Ok(erased)
    }

    /// Carries out a month's queued erasures before it is restored (the caller holds the
    /// tenant's lock): what comes back into the database is the erased archive.
    pub(super) async fn erase_before_restore(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<()> {
        let rows = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::queued_erasures(conn, Some(month)).await.map_err(AppError::from) })
            })
            .await?;
        if !rows.is_empty() {
            self.erase_month(tenant, month, rows).await?;
            self.delete_superseded(tenant).await;
        }
        Ok(())
    }

    /// Writes one month again with the queued people erased; `None` if none of them was in it.
    async fn erase_month(
        &self,
        tenant: &Tenant,
        month: NaiveDate,
        rows: Vec<QueuedErasure>,
    ) -> AppResult<Option<ErasedMonth>> {
        let context = context(tenant.id.0, month);
        let mut subjects = Vec::with_capacity(rows.len());
        for row in &rows {
            let sealed = Sealed { key_id: row.key_id.clone(), bytes: row.sealed.clone() };
            let plain = self.keyring.open(Purpose::AuditErasure, &sealed, &context)?;
            subjects.push(serde_json::from_slice::<Subject>(&plain).map_err(AppError::internal)?);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let last = ids.iter().max().copied().unwrap_or_default();
        let manifest = self.manifest_on_record(tenant, month).await?;
        let path = Path::from(format!("{}/events-{last}.ndjson.gz", ArchiveStore::month_dir(tenant, month)));
        self.tidy_month(tenant, month, &[manifest.object.as_str(), path.as_ref()]).await?;

        let people = subjects.len();
        let Some((rewritten, events)) = self.rewrite(tenant, &manifest, subjects, &path).await? else {
            // Nobody to erase was in this month: nothing to write.
            self.db
                .with_tenant(tenant, move |conn| {
                    Box::pin(
                        async move { repo::finish_erasures(conn, month, &ids, None).await.map_err(AppError::from) },
                    )
                })
                .await?;
            return Ok(None);
        };
        let json = serde_json::to_vec_pretty(&rewritten).map_err(AppError::internal)?;
        self.store
            .store
            .put(&ArchiveStore::manifest_path(tenant, month), PutPayload::from(json))
            .await
            .map_err(storage)?;
        let value = serde_json::to_value(&rewritten).map_err(AppError::internal)?;
        let (label, superseded, object) = (rewritten.month_label(), manifest.object.clone(), rewritten.object.clone());
        let source = AuditSource::system();
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    repo::finish_erasures(conn, month, &ids, Some((&value, &superseded))).await?;
                    let event = AuditEvent::success(AuditAction::AuditArchiveErased, format!("audit:{label}"))
                        .details(serde_json::json!({ "events": events, "people": people, "object": value["object"] }));
                    service::record(conn, &source, event).await
                })
            })
            .await?;
        Ok(Some(ErasedMonth { month, events, people, object }))
    }

    /// The month's archive read (and checked) line by line into a new events object at
    /// `path` with the subjects erased, and its manifest, signed; `None` if nothing changed.
    async fn rewrite(
        &self,
        tenant: &Tenant,
        manifest: &Manifest,
        subjects: Vec<Subject>,
        path: &Path,
    ) -> AppResult<Option<(Manifest, usize)>> {
        let upload = self.store.store.put_multipart(path).await.map_err(storage)?;
        let out = Output::new(WriteMultipart::new_with_chunk_size(upload, PART));
        let mut rewriting = Rewriting { out, subjects, changed: 0 };
        let read = self.read(tenant, manifest, Sink::Rewrite(&mut rewriting)).await;
        let problem = match read {
            Ok(check) => check.problem,
            Err(e) => Some(e.to_string()),
        };
        if problem.is_some() || rewriting.changed == 0 {
            let _ = rewriting.out.writer.abort().await;
            return match problem {
                Some(problem) => Err(AppError::conflict(format!(
                    "The archive of {} does not verify, so it was not written again: {problem}",
                    manifest.month_label()
                ))),
                None => Ok(None),
            };
        }
        let changed = rewriting.changed;
        let (bytes, sha256) = rewriting.out.finish().await?;
        let mut rewritten = manifest.clone();
        rewritten.object = path.to_string();
        rewritten.object_bytes = bytes;
        rewritten.object_sha256 = Some(sha256.to_vec());
        rewritten.signed_at = Utc::now().trunc_subsecs(6);
        rewritten.sign(&self.keyring);
        // What is in storage, not what was meant to be, before it replaces anything.
        if let Some(problem) = self.read(tenant, &rewritten, Sink::Check).await?.problem {
            return Err(AppError::internal(format!("the archive just written again does not verify: {problem}")));
        }
        Ok(Some((rewritten, changed)))
    }

    /// The manifest recorded for an archived or restored month.
    async fn manifest_on_record(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<Manifest> {
        let row = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::archive(conn, month).await.map_err(AppError::from) })
            })
            .await?;
        row.and_then(|row| row.manifest())
            .ok_or_else(|| AppError::internal(format!("the archive record of {} is missing or malformed", month)))
    }

    /// Deletes the events objects that rewrites replaced, and clears their names. A file that
    /// cannot be deleted now stays named for the next pass: it holds up no erasure.
    async fn delete_superseded(&self, tenant: &Tenant) {
        if let Err(e) = self.try_delete_superseded(tenant).await {
            tracing::warn!(tenant = %tenant.slug, "deleting replaced audit archive files: {e}");
        }
    }

    async fn try_delete_superseded(&self, tenant: &Tenant) -> AppResult<()> {
        let months = self
            .db
            .with_tenant(tenant, |conn| {
                Box::pin(async move { repo::superseded_objects(conn).await.map_err(AppError::from) })
            })
            .await?;
        // One month's failure leaves the others to be tidied; the first failure is returned.
        let mut failed = None;
        for (month, _) in months {
            if let Err(e) = self.delete_superseded_of(tenant, month).await {
                tracing::warn!(tenant = %tenant.slug, %month, "deleting a replaced audit archive file: {e}");
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    async fn delete_superseded_of(&self, tenant: &Tenant, month: NaiveDate) -> AppResult<()> {
        let manifest = self.manifest_on_record(tenant, month).await?;
        self.tidy_month(tenant, month, &[manifest.object.as_str()]).await?;
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::superseded_deleted(conn, month).await.map_err(AppError::from) })
            })
            .await
    }

    /// Deletes every object in the month's directory but its manifest, the events file the
    /// stored manifest names and `keep`: replaced events files, and whatever an interrupted
    /// rewrite left.
    async fn tidy_month(&self, tenant: &Tenant, month: NaiveDate, keep: &[&str]) -> AppResult<()> {
        let manifest = ArchiveStore::manifest_path(tenant, month);
        // A rewrite that stopped after storing its manifest but before recording it left the
        // stored manifest naming its new file: storage never names a file that is gone.
        // Storage that cannot be read now keeps everything: tidying waits for the next pass.
        let stored = self.store.stored_manifest(tenant, month).await?.map(|m| m.object);
        let dir = Path::from(ArchiveStore::month_dir(tenant, month));
        let mut listing = self.store.store.list(Some(&dir));
        let mut doomed = Vec::new();
        while let Some(meta) = listing.next().await {
            let location = meta.map_err(storage)?.location;
            let kept = location == manifest
                || keep.contains(&location.as_ref())
                || stored.as_deref() == Some(location.as_ref());
            if !kept {
                doomed.push(location);
            }
        }
        for location in doomed {
            match self.store.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        if let Some(root) = &self.store.local_dir {
            let dir = root.join(ArchiveStore::month_dir(tenant, month));
            tokio::task::spawn_blocking(move || remove_staging_files(&dir)).await.map_err(AppError::internal)??;
        }
        Ok(())
    }
}

/// Removes what interrupted uploads left in a local month directory: the store writes an
/// upload to `<name>#<n>` and renames it into place once complete. The caller holds the
/// tenant's lock, so no upload is under way.
fn remove_staging_files(dir: &std::path::Path) -> AppResult<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AppError::internal(format!("reading {}: {e}", dir.display()))),
    };
    for entry in entries {
        let entry = entry.map_err(AppError::internal)?;
        if is_staging_name(&entry.file_name().to_string_lossy()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AppError::internal(format!("removing {}: {e}", entry.path().display()))),
            }
        }
    }
    Ok(())
}

fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unfinished_uploads_are_staging_files() {
        assert!(super::is_staging_name("events-12.ndjson.gz#3"));
        assert!(!super::is_staging_name("events-12.ndjson.gz"));
        assert!(!super::is_staging_name("manifest.json#"));
        assert!(!super::is_staging_name("notes#draft"));
    }
}
