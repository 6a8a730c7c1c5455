//! Generating briefs: every server claims queued briefs (`SKIP LOCKED` and a lease), discovers
//! the target's competitors, scores the threat, writes the narrative and renders the PDF, then
//! writes it all in one transaction — only if its attempt still holds the brief, so a brief is
//! generated once even when a server that stopped mid-way comes back. A brief whose server
//! stopped is claimed again when its lease runs out; after three failed attempts it fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use serde_json::json;

use super::content;
use super::model::Competitor;
use super::repo::{self, Claimed, Finished};
use super::scoring;
use super::service::{self, Briefs};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::keyring::Keyring;
use crate::metrics::{self, Histogram};
use crate::state::RedisPool;
use crate::tenancy::model::Tenant;

/// How long a claimed brief is this server's: far longer than a generation takes.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Attempts before a brief fails for good.
const ATTEMPTS: i32 = 3;
/// The wait before a failed attempt is retried, doubled after each: whatever made it fail (the
/// database or Redis restarting, a deploy) gets time to pass instead of being met at once.
const RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(10);

/// How long after failed attempt `attempt` (1, 2, …) the brief may be claimed again.
fn retry_delay(attempt: i32) -> chrono::Duration {
    RETRY_AFTER * 2i32.pow(attempt.clamp(1, 8) as u32 - 1)
}

/// How often every tenant is looked at, for briefs a stopped server had claimed.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
const BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0];

/// `brief_generation_duration_seconds` and `brief_generation_errors_total` (seed 004's names).
#[derive(Clone)]
pub struct BriefMetrics(Arc<Mutex<Counts>>);

struct Counts {
    durations: Histogram,
    errors: u64,
}

impl Default for BriefMetrics {
    fn default() -> Self {
        BriefMetrics(Arc::new(Mutex::new(Counts { durations: Histogram::new(&BUCKETS), errors: 0 })))
    }
}

impl BriefMetrics {
    fn observe(&self, seconds: f64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).durations.observe(seconds);
    }

    fn error(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).errors += 1;
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let name = "brief_generation_duration_seconds";
        metrics::header(&mut out, name, "histogram", "Time from claiming a brief to its PDF being stored.");
        counts.durations.write(&mut out, name, "");
        let name = "brief_generation_errors_total";
        metrics::header(&mut out, name, "counter", "Brief generation attempts that failed.");
        out.push_str(&format!("{name} {}\n", counts.errors));
        out
    }
}

#[derive(Clone)]
pub struct BriefGenerator {
    pub db: Database,
    pub keyring: Keyring,
    pub redis: Option<RedisPool>,
    pub briefs: Briefs,
}

impl BriefGenerator {
    /// Generates briefs as they are queued and sweeps every tenant; runs for ever.
    pub async fn run(self) {
        let due = self.briefs.due.clone();
        let round = |tenant: Tenant| {
            let generator = self.clone();
            async move { generator.generate_next(&tenant).await }
        };
        due.serve(self.db.clone(), SWEEP_EVERY, "brief generator", round).await
    }

    /// Claims and generates one brief of `tenant`; false when none was waiting.
    pub async fn generate_next(&self, tenant: &Tenant) -> AppResult<bool> {
        let now = Utc::now();
        let claimed = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    let claimed = repo::claim(conn, now, now + LEASE, ATTEMPTS).await?;
                    if let Some(brief) = &claimed {
                        announce(conn, brief, "running", 5).await?;
                    }
                    Ok::<_, AppError>(claimed)
                })
            })
            .await?;
        let Some(brief) = claimed else { return Ok(false) };
        let started = Instant::now();
        match self.generate(tenant, &brief, started).await {
            Ok(()) => self.briefs.metrics.observe(started.elapsed().as_secs_f64()),
            Err(e) => {
                self.briefs.metrics.error();
                tracing::warn!(error = %e, brief = %brief.id, "brief generation failed");
                let (brief, message) = (brief.clone(), e.to_string());
                let final_attempt = brief.attempts >= ATTEMPTS;
                let retry_at = Utc::now() + retry_delay(brief.attempts);
                self.db
                    .with_tenant(tenant, move |conn| {
                        Box::pin(async move {
                            if !repo::fail(conn, &brief, &message, final_attempt, retry_at).await? {
                                return Ok(());
                            }
                            announce(conn, &brief, if final_attempt { "failed" } else { "queued" }, 0).await?;
                            if final_attempt {
                                let event =
                                    AuditEvent::failure(AuditAction::BriefGenerated, brief.company_id.to_string())
                                        .details(
                                            json!({ "brief": brief.id, "error": message, "attempts": brief.attempts }),
                                        );
                                record(conn, &AuditSource::system(), event).await?;
                            }
                            Ok::<_, AppError>(())
                        })
                    })
                    .await?;
            }
        }
        Ok(true)
    }

    async fn generate(&self, tenant: &Tenant, brief: &Claimed, started: Instant) -> AppResult<()> {
        let company_id = brief.company_id;
        let target = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::company(conn, company_id).await.map_err(AppError::from) })
            })
            .await?
            .ok_or_else(|| AppError::not_found("The company of this brief was removed."))?;
        let year = brief.requested_at.year();
        let (competitors, compared, version) =
            service::discover(&self.db, &self.briefs.indexes, self.redis.as_ref(), tenant, &target, year).await?;
        self.progress(tenant, brief, 50).await?;

        let threat = scoring::threat(&competitors);
        let built = content::build(target, threat, &competitors, compared as u64);
        self.progress(tenant, brief, 70).await?;

        let (for_pdf, listed) = (built.clone(), competitors.clone());
        let pdf = crate::cpu::run(move || super::pdf::render(&for_pdf, &listed)).await??;
        self.finish(tenant, brief, built, competitors, pdf, version, started).await
    }

    async fn progress(&self, tenant: &Tenant, brief: &Claimed, percent: i16) -> AppResult<()> {
        let brief = brief.clone();
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    repo::progress(conn, &brief, percent, Utc::now() + LEASE).await?;
                    announce(conn, &brief, "running", percent).await
                })
            })
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        tenant: &Tenant,
        brief: &Claimed,
        content: super::model::BriefContent,
        competitors: Vec<Competitor>,
        pdf: Vec<u8>,
        version: i64,
        started: Instant,
    ) -> AppResult<()> {
        let brief = brief.clone();
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
                    let threat_score = content.threat.score;
                    let target = content.target.name.clone();
                    let done = Finished {
                        data_version: version,
                        threat_score,
                        content: serde_json::to_value(&content).map_err(AppError::internal)?,
                        pdf: &pdf,
                        generated_at: Utc::now(),
                        duration_ms,
                        competitors: &competitors,
                    };
                    if !repo::finish(conn, &brief, done).await? {
                        return Ok(());
                    }
                    announce(conn, &brief, "ready", 100).await?;
                    let event = AuditEvent::success(AuditAction::BriefGenerated, target).details(json!({
                        "brief": brief.id,
                        "threat_score": (threat_score * 10.0).round() / 10.0,
                        "competitors": competitors.len(),
                        "duration_ms": duration_ms,
                        "data_version": version,
                    }));
                    record(conn, &AuditSource::system(), event).await
                })
            })
            .await
    }
}

/// Tells the requester's open pages where the brief stands.
async fn announce(
    conn: &mut crate::db::Connection,
    brief: &Claimed,
    status: &'static str,
    progress: i16,
) -> AppResult<()> {
    let Some(requested_by) = brief.requested_by else { return Ok(()) };
    bus::publish(conn, Event::BriefProgress { brief: brief.id, requested_by, status, progress }).await
}
