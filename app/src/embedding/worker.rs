//! The background embedder: each server looks at every tenant every `SWEEP_EVERY`, and when
//! its company data or catalog changed, embeds the texts that have no stored vector yet —
//! companies first (briefs wait on them), then catalog entities — a few at a time, and forgets
//! vectors no text uses any more. It takes at most about half of one core: after each batch
//! it rests as long as the batch took. A tenant with a long backlog is taken a batch at a
//! time in turn with the others, so one large import does not hold up every other tenant.
//! Two servers may embed the same text at once; both store the same vector once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{company_text, entity_text, repo, text_hash, Embedder};
use crate::briefs::repo as briefs;
use crate::catalog::repo as catalog;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::events::due::DueTenants;
use crate::tenancy::model::Tenant;

/// How often every tenant is looked at for changed texts.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Texts embedded between two looks at the database (about half a second of one core).
const BATCH: usize = 8;
/// The rest after a failed batch.
const FAILED_REST: Duration = Duration::from_secs(30);

/// What a tenant's texts were planned at: its company data and catalog versions.
type Versions = (i64, i64);

/// A text waiting for its vector.
struct Waiting {
    hash: Vec<u8>,
    text: String,
    company: bool,
}

/// A tenant's texts without a vector, companies first, as of `versions`.
struct Plan {
    versions: Versions,
    waiting: Vec<Waiting>,
}

#[derive(Clone)]
pub struct EmbeddingWorker {
    db: Database,
    embedder: Embedder,
    /// Rung by the worker itself for a tenant with more to embed.
    due: DueTenants,
    plans: Arc<Mutex<HashMap<String, Plan>>>,
}

impl EmbeddingWorker {
    pub fn new(db: Database, embedder: Embedder) -> Self {
        Self { db, embedder, due: DueTenants::default(), plans: Arc::default() }
    }

    /// Embeds as texts change; runs for ever.
    pub async fn run(self) {
        let due = self.due.clone();
        let round = |tenant: Tenant| {
            let worker = self.clone();
            async move { worker.round(&tenant).await }
        };
        due.serve(self.db.clone(), SWEEP_EVERY, "embedder", round).await
    }

    /// Embeds one batch of `tenant`'s waiting texts, then rests as long as it took; with more
    /// to do it rings itself, so the next batch comes after the other tenants' turn.
    pub async fn round(&self, tenant: &Tenant) -> AppResult<bool> {
        let started = Instant::now();
        let result = self.step(tenant, BATCH, 1).await;
        // A failure (the database away) rests longer: the next try replans from scratch.
        let rest = if result.is_err() { FAILED_REST.max(started.elapsed()) } else { started.elapsed() };
        tokio::time::sleep(rest).await;
        let (_, more) = result?;
        if more {
            self.due.ring(tenant.schema.as_str());
        }
        Ok(false)
    }

    /// Embeds every waiting text of `tenant` at once on all `threads` (benchmarks, and tests
    /// that need the vectors now); returns how many were embedded.
    pub async fn catch_up(&self, tenant: &Tenant, threads: usize) -> AppResult<usize> {
        let mut embedded = 0;
        loop {
            let (done, more) = self.step(tenant, BATCH * 8 * threads, threads).await?;
            embedded += done;
            if !more {
                return Ok(embedded);
            }
        }
    }

    /// Embeds up to `batch` waiting texts of `tenant` on `threads` threads, planning them
    /// first when its data changed: how many were embedded, and whether more wait.
    async fn step(&self, tenant: &Tenant, batch: usize, threads: usize) -> AppResult<(usize, bool)> {
        let versions = self
            .db
            .with_tenant(tenant, |conn| {
                Box::pin(async move {
                    Ok::<_, AppError>((briefs::data_version(conn).await?, catalog::version(conn).await?))
                })
            })
            .await?;
        let schema = tenant.schema.as_str().to_owned();
        let kept = self.lock().remove(&schema);
        let mut plan = match kept {
            Some(plan) if plan.versions == versions => plan,
            _ => self.plan(tenant, versions).await?,
        };
        if plan.waiting.is_empty() {
            self.lock().insert(schema, plan);
            return Ok((0, false));
        }
        let mut texts: Vec<Waiting> = plan.waiting.drain(..batch.min(plan.waiting.len())).collect();
        let companies_done = texts.iter().any(|w| w.company) && !plan.waiting.iter().any(|w| w.company);
        // Another server with the same plan may have stored some of them meanwhile.
        let hashes: Vec<Vec<u8>> = texts.iter().map(|w| w.hash.clone()).collect();
        let stored: HashSet<Vec<u8>> = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::stored(conn, &hashes).await.map_err(AppError::from) })
            })
            .await?
            .into_iter()
            .collect();
        texts.retain(|w| !stored.contains(&w.hash));
        let (embedder, embedded) = (self.embedder.clone(), texts.len());
        let rows = crate::cpu::run(move || {
            let share = texts.len().div_ceil(threads.max(1));
            std::thread::scope(|scope| {
                let parts: Vec<_> = texts
                    .chunks(share)
                    .map(|part| {
                        let embedder = &embedder;
                        scope.spawn(move || {
                            part.iter()
                                .map(|w| Ok((w.hash.clone(), embedder.embed(&w.text)?)))
                                .collect::<AppResult<Vec<_>>>()
                        })
                    })
                    .collect();
                let mut rows = Vec::new();
                for part in parts {
                    rows.extend(part.join().map_err(|_| AppError::internal("an embedding thread panicked"))??);
                }
                Ok::<_, AppError>(rows)
            })
        })
        .await??;
        let company_version = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    if !rows.is_empty() {
                        repo::insert(conn, &rows).await?;
                    }
                    // The discovery index and cached discoveries are per data version: a new
                    // one makes briefs use the vectors now that every company has its own.
                    if companies_done {
                        return Ok::<_, AppError>(Some(briefs::bump_version(conn).await?));
                    }
                    Ok(None)
                })
            })
            .await?;
        // The plan stays current only if the bump was the one change since it was made; a
        // company import meanwhile leaves it stale, and the next step plans its texts.
        if company_version == Some(plan.versions.0 + 1) {
            plan.versions.0 += 1;
        }
        let more = !plan.waiting.is_empty();
        self.lock().insert(schema, plan);
        Ok((embedded, more))
    }

    /// Lists the texts of `tenant` that have no vector, and forgets vectors no text uses.
    async fn plan(&self, tenant: &Tenant, versions: Versions) -> AppResult<Plan> {
        let (companies, entities, stored) = self
            .db
            .with_tenant(tenant, |conn| {
                Box::pin(async move {
                    Ok::<_, AppError>((
                        briefs::company_texts(conn).await?,
                        catalog::entity_texts(conn).await?,
                        repo::hashes(conn).await?,
                    ))
                })
            })
            .await?;
        let (waiting, unused) = crate::cpu::run(move || {
            let texts = companies
                .iter()
                .filter_map(|(one_liner, description)| company_text(one_liner.as_deref(), description.as_deref()))
                .map(|text| (text, true))
                .chain(entities.iter().filter_map(|e| {
                    entity_text(&e.name, e.title.as_deref(), e.description.as_deref()).map(|text| (text, false))
                }));
            let stored: HashSet<Vec<u8>> = stored.into_iter().collect();
            let mut used = HashSet::new();
            let mut waiting = Vec::new();
            for (text, company) in texts {
                let hash = text_hash(&text);
                if used.insert(hash.clone()) && !stored.contains(&hash) {
                    waiting.push(Waiting { hash, text, company });
                }
            }
            let unused: Vec<Vec<u8>> = stored.into_iter().filter(|h| !used.contains(h)).collect();
            (waiting, unused)
        })
        .await?;
        if !unused.is_empty() {
            self.db
                .with_tenant(tenant, move |conn| {
                    Box::pin(async move { repo::forget(conn, &unused).await.map_err(AppError::from) })
                })
                .await?;
        }
        Ok(Plan { versions, waiting })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Plan>> {
        self.plans.lock().unwrap_or_else(|p| p.into_inner())
    }
}
