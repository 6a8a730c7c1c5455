//! The API access log: every request made with an API key or an OAuth client's access token,
//! recorded for the caller's usage chart and for anyone investigating what a key did.
//!
//! The edge hands each finished call to [`AccessLog::record`], which only queues it: a
//! background writer inserts the queue in batches (every second, or a thousand rows at a
//! time) in each tenant's own schema. So a logged request costs no database write on its own
//! path, and a slow or unavailable database never slows the API. What this costs: rows still
//! queued when the process dies hard (at most about a second of calls) are lost; a graceful
//! shutdown writes them ([`AccessLog::close`]). A full queue drops calls and counts them
//! ([`AccessLog::dropped`]) rather than growing the server's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::model::{DayUsage, Usage, USAGE_DAYS};
use super::repo::{self, NewApiRequest};
use crate::db::writer::{Control, Controls};
use crate::db::{Connection, Database};
use crate::error::AppError;
use crate::escape::cut_owned;
use crate::state::{Credential, RequestContext};
use crate::tenancy::model::{Tenant, TenantId};
use crate::tenancy::service as tenancy;

/// Calls the queue holds before new ones are dropped: a hundred thousand rows of a few hundred
/// bytes, several seconds of the API's peak rate.
const QUEUE: usize = 100_000;
/// Rows per insert and per read from the queue.
const BATCH: usize = 1_000;
/// How often the writer writes what has queued up: the most a hard crash loses.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// Times in a row a tenant's insert may fail (database down, schema being dropped) before its
/// queued rows are given up; each failure waits for the next tick.
const ATTEMPTS: u32 = 10;
/// How long rows are kept, and how often older ones are deleted.
const RETENTION_DAYS: i64 = 90;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Paths longer than this are cut (at a character boundary) before they are stored.
const MAX_PATH: usize = 512;

/// Which credential made a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    ApiKey(Uuid),
    OAuthClient(String),
}

/// A machine caller of one tenant, resolved by the edge before the request is handled.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub tenant: Tenant,
    pub caller: Caller,
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
}

impl ApiCaller {
    /// The caller of a request made with a key or an access token; `None` for browser sessions
    /// and anonymous callers, whose requests are not in this log.
    pub fn of(ctx: &RequestContext) -> Option<Self> {
        let caller = match &ctx.credential {
            Credential::Session => return None,
            Credential::ApiKey { id, .. } => Caller::ApiKey(*id),
            Credential::AccessToken { client_id, .. } => Caller::OAuthClient(client_id.clone()),
        };
        Some(Self {
            tenant: ctx.tenant.clone(),
            caller,
            user_id: ctx.principal.as_ref().map(|p| p.user_id),
            ip: ctx.ip.clone(),
        })
    }
}

/// One finished call, as the edge saw it.
#[derive(Debug)]
pub struct ApiCall {
    pub by: ApiCaller,
    pub at: DateTime<Utc>,
    pub method: String,
    /// The route template that matched, or `unmatched`.
    pub route: String,
    pub path: String,
    pub status: u16,
    pub latency: Duration,
}

impl ApiCall {
    fn into_row(self) -> (Tenant, NewApiRequest) {
        let (api_key_id, oauth_client_id) = match self.by.caller {
            Caller::ApiKey(id) => (Some(id), None),
            Caller::OAuthClient(client_id) => (None, Some(client_id)),
        };
        let row = NewApiRequest {
            at: self.at,
            api_key_id,
            oauth_client_id,
            user_id: self.by.user_id,
            method: cut_owned(self.method, 16),
            route: cut_owned(self.route, MAX_PATH),
            path: cut_owned(self.path, MAX_PATH),
            status: i16::try_from(self.status).unwrap_or(599),
            latency_us: i32::try_from(self.latency.as_micros()).unwrap_or(i32::MAX),
            ip: self.by.ip,
        };
        (self.by.tenant, row)
    }
}

/// The handle the edge records calls with; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    calls: mpsc::Sender<ApiCall>,
    control: Controls,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Starts the writer on the current runtime.
    pub fn start(db: Database) -> Self {
        let (calls, queue) = mpsc::channel(QUEUE);
        let (control, commands) = Controls::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(
            Writer { db, queue, commands, pending: HashMap::new(), dropped: dropped.clone(), reported: 0 }.run(),
        );
        Self { calls, control, dropped }
    }

    /// Queues a call without waiting: a full queue (the database far behind) drops it.
    pub fn record(&self, call: ApiCall) {
        if self.calls.try_send(call).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Calls lost to a full queue or to inserts that kept failing, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Returns once every call recorded before it is written (or given up).
    pub async fn flush(&self) {
        self.control.flush().await
    }

    /// Writes what is queued and stops the writer: the last step of a graceful shutdown.
    pub async fn close(&self) {
        self.control.close().await
    }
}

/// Rows of one tenant waiting to be written, and how often writing them has failed.
struct Pending {
    tenant: Tenant,
    rows: Vec<NewApiRequest>,
    failures: u32,
}

struct Writer {
    db: Database,
    queue: mpsc::Receiver<ApiCall>,
    commands: mpsc::Receiver<Control>,
    pending: HashMap<TenantId, Pending>,
    dropped: Arc<AtomicU64>,
    /// The drop count the log last reported, so each loss is logged once.
    reported: u64,
}

impl Writer {
    async fn run(mut self) {
        let mut ticks = tokio::time::interval(WRITE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first prune waits an interval: every process start (and every test) would
        // otherwise begin with a delete in each tenant.
        let mut prunes = tokio::time::interval_at(tokio::time::Instant::now() + PRUNE_EVERY, PRUNE_EVERY);
        prunes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = self.queue.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        // Every handle is gone: nothing more can arrive.
                        self.write().await;
                        return;
                    }
                    self.take(&mut batch);
                    if self.queued() >= BATCH {
                        self.write().await;
                    }
                }
                _ = ticks.tick() => self.write().await,
                _ = prunes.tick() => self.prune().await,
                Some(command) = self.commands.recv() => {
                    while let Ok(call) = self.queue.try_recv() {
                        batch.push(call);
                    }
                    self.take(&mut batch);
                    self.write().await;
                    if command.answer() {
                        return;
                    }
                }
            }
        }
    }

    fn take(&mut self, batch: &mut Vec<ApiCall>) {
        for call in batch.drain(..) {
            let (tenant, row) = call.into_row();
            self.pending
                .entry(tenant.id)
                .or_insert_with(|| Pending { tenant, rows: Vec::new(), failures: 0 })
                .rows
                .push(row);
        }
    }

    fn queued(&self) -> usize {
        self.pending.values().map(|p| p.rows.len()).sum()
    }

    /// Writes every tenant's rows, each tenant in its own transactions: one tenant's failure
    /// (its schema gone, say) leaves the others' rows written.
    async fn write(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            tracing::warn!(calls = dropped - self.reported, "API access log: calls dropped, the queue was full");
            self.reported = dropped;
        }
        let mut pending = std::mem::take(&mut self.pending);
        for (id, mut waiting) in pending.drain() {
            match insert(&self.db, &waiting.tenant, &waiting.rows).await {
                Ok(()) => {}
                Err(e) if waiting.failures + 1 >= ATTEMPTS => {
                    tracing::warn!(tenant = %waiting.tenant.slug, rows = waiting.rows.len(), error = %e, "API access log: rows given up");
                    self.dropped.fetch_add(waiting.rows.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(tenant = %waiting.tenant.slug, rows = waiting.rows.len(), error = %e, "API access log: write failed, retrying");
                    waiting.failures += 1;
                    self.pending.insert(id, waiting);
                }
            }
        }
    }

    async fn prune(&self) {
        let before = Utc::now() - chrono::Duration::days(RETENTION_DAYS);
        let tenants = match tenancy::list(&self.db).await {
            Ok(tenants) => tenants,
            Err(e) => {
                tracing::warn!(error = %e, "API access log: could not list tenants to prune");
                return;
            }
        };
        for tenant in tenants {
            let pruned = self
                .db
                .with_tenant(&tenant, move |conn| {
                    Box::pin(async move { repo::prune_requests(conn, before).await.map_err(AppError::from) })
                })
                .await;
            if let Err(e) = pruned {
                tracing::warn!(tenant = %tenant.slug, error = %e, "API access log: pruning failed");
            }
        }
    }
}

/// Inserts `rows` in batches; they stay with the caller, to retry if this fails.
async fn insert(db: &Database, tenant: &Tenant, rows: &[NewApiRequest]) -> Result<(), AppError> {
    for chunk in rows.chunks(BATCH) {
        let chunk = chunk.to_vec();
        db.with_tenant(tenant, move |conn| {
            Box::pin(async move { repo::insert_requests(conn, &chunk).await.map_err(AppError::from) })
        })
        .await?;
    }
    Ok(())
}

/// How many calls the tenant's log holds (what the bench compares with the calls it made).
pub async fn logged(db: &Database, tenant: &Tenant) -> Result<i64, AppError> {
    db.with_tenant(tenant, |conn| Box::pin(async move { repo::count_requests(conn).await.map_err(AppError::from) }))
        .await
}

/// Each key's and client's requests over the last [`USAGE_DAYS`] days, read in one query for a
/// whole Settings → API access page.
pub struct UsageByCaller {
    first_day: chrono::NaiveDate,
    counts: HashMap<Caller, HashMap<chrono::NaiveDate, (u64, u64)>>,
}

impl UsageByCaller {
    pub async fn read(conn: &mut Connection) -> Result<Self, AppError> {
        let first_day = Utc::now().date_naive() - chrono::Days::new(u64::from(USAGE_DAYS - 1));
        let since = first_day.and_time(chrono::NaiveTime::MIN).and_utc();
        let mut counts: HashMap<Caller, HashMap<_, _>> = HashMap::new();
        for row in repo::daily_requests(conn, since).await? {
            let caller = match (row.api_key_id, row.oauth_client_id) {
                (Some(id), _) => Caller::ApiKey(id),
                (None, Some(client_id)) => Caller::OAuthClient(client_id),
                (None, None) => continue,
            };
            let day_counts = (u64::try_from(row.requests).unwrap_or(0), u64::try_from(row.failed).unwrap_or(0));
            counts.entry(caller).or_default().insert(row.day, day_counts);
        }
        Ok(Self { first_day, counts })
    }

    /// The caller's usage, every day of the window present.
    pub fn of(&self, caller: &Caller) -> Usage {
        let counts = self.counts.get(caller);
        let days = (0..USAGE_DAYS)
            .map(|offset| {
                let day = self.first_day + chrono::Days::new(u64::from(offset));
                let (requests, failed) = counts.and_then(|c| c.get(&day)).copied().unwrap_or((0, 0));
                DayUsage { day, requests, failed }
            })
            .collect();
        Usage { days }
    }
}
