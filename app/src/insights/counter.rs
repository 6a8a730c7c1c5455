//! Counts what nothing else records — entity pages viewed, searches that found nothing,
//! members active — off the request's path, the way the API access log does
//! (`access::usage`): a request only queues one increment; a background writer sums the queue in memory and adds the sums to
//! each tenant's `usage_counts` every few seconds, one upsert per tenant. A hard crash loses
//! the last few seconds of counts; a graceful shutdown writes them ([`UsageCounter::close`]);
//! a full queue drops increments rather than grow memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::model::Metric;
use super::repo;
use crate::db::writer::{Control, Controls};
use crate::db::Database;
use crate::error::AppError;
use crate::tenancy::model::{Tenant, TenantId};

/// Increments the queue holds before new ones are dropped.
const QUEUE: usize = 10_000;
/// How often sums are written.
const WRITE_EVERY: Duration = Duration::from_secs(5);
/// Distinct subjects one tenant may have waiting: a flood of unique search texts is cut here.
const MAX_SUBJECTS: usize = 10_000;
/// Longer subjects (search texts) are cut at a character boundary.
pub const MAX_SUBJECT: usize = 256;
/// Writes in a row that may fail before a tenant's sums are given up.
const ATTEMPTS: u32 = 10;

struct Increment {
    tenant: Tenant,
    metric: Metric,
    subject: String,
    day: NaiveDate,
}

/// The handle requests count with; cheap to clone.
#[derive(Clone)]
pub struct UsageCounter {
    increments: mpsc::Sender<Increment>,
    control: Controls,
    /// The members already counted active today by this server, so a busy member costs one
    /// increment a day rather than one per request.
    active_today: Arc<Mutex<SeenToday>>,
}

/// Who was counted active on `day`.
struct SeenToday {
    day: NaiveDate,
    members: HashSet<(TenantId, Uuid)>,
}

impl UsageCounter {
    /// Starts the writer on the current runtime.
    pub fn start(db: Database) -> Self {
        let (increments, queue) = mpsc::channel(QUEUE);
        let (control, commands) = Controls::channel();
        tokio::spawn(Writer { db, queue, commands, pending: HashMap::new() }.run());
        let active_today = Arc::new(Mutex::new(SeenToday { day: Utc::now().date_naive(), members: HashSet::new() }));
        Self { increments, control, active_today }
    }

    /// Counts `user` active today in `tenant`: the first of their requests each day does.
    pub fn active(&self, tenant: &Tenant, user: Uuid) {
        let today = Utc::now().date_naive();
        let first_today = {
            let mut seen = self.active_today.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if seen.day != today {
                *seen = SeenToday { day: today, members: HashSet::new() };
            }
            seen.members.insert((tenant.id, user))
        };
        if first_today {
            self.count(tenant, Metric::ActiveMember, &user.to_string());
        }
    }

    /// Counts one occurrence of `subject` today, without waiting.
    pub fn count(&self, tenant: &Tenant, metric: Metric, subject: &str) {
        let subject = crate::escape::cut(subject.trim(), MAX_SUBJECT).to_owned();
        if subject.is_empty() {
            return;
        }
        let increment = Increment { tenant: tenant.clone(), metric, subject, day: Utc::now().date_naive() };
        if self.increments.try_send(increment).is_err() {
            tracing::debug!("usage counter: queue full, an increment was dropped");
        }
    }

    /// Returns once everything counted before it is written.
    pub async fn flush(&self) {
        self.control.flush().await
    }

    /// Writes what is waiting and stops the writer: part of a graceful shutdown.
    pub async fn close(&self) {
        self.control.close().await
    }
}

/// A tenant's sums waiting to be written.
struct Pending {
    tenant: Tenant,
    sums: HashMap<(Metric, NaiveDate, String), i64>,
    failures: u32,
}

struct Writer {
    db: Database,
    queue: mpsc::Receiver<Increment>,
    commands: mpsc::Receiver<Control>,
    pending: HashMap<TenantId, Pending>,
}

impl Writer {
    async fn run(mut self) {
        let mut ticks = tokio::time::interval(WRITE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = self.queue.recv() => match received {
                    Some(increment) => self.add(increment),
                    None => {
                        self.write().await;
                        return;
                    }
                },
                _ = ticks.tick() => self.write().await,
                Some(command) = self.commands.recv() => {
                    while let Ok(increment) = self.queue.try_recv() {
                        self.add(increment);
                    }
                    self.write().await;
                    if command.answer() {
                        return;
                    }
                }
            }
        }
    }

    fn add(&mut self, Increment { tenant, metric, subject, day }: Increment) {
        let pending =
            self.pending.entry(tenant.id).or_insert_with(|| Pending { tenant, sums: HashMap::new(), failures: 0 });
        let key = (metric, day, subject);
        if pending.sums.len() >= MAX_SUBJECTS && !pending.sums.contains_key(&key) {
            return;
        }
        *pending.sums.entry(key).or_default() += 1;
    }

    /// Writes each tenant's sums in its own transaction: one tenant's failure leaves the
    /// others' written.
    async fn write(&mut self) {
        for (id, mut waiting) in std::mem::take(&mut self.pending) {
            let rows: Vec<repo::CountRow> = waiting
                .sums
                .iter()
                .map(|((metric, day, subject), count)| repo::CountRow {
                    day: *day,
                    metric: metric.as_str(),
                    subject: subject.clone(),
                    count: *count,
                })
                .collect();
            let written = self
                .db
                .with_tenant(&waiting.tenant, move |conn| {
                    Box::pin(async move { repo::add_counts(conn, rows).await.map_err(AppError::from) })
                })
                .await;
            match written {
                Ok(()) => {}
                Err(e) if waiting.failures + 1 >= ATTEMPTS => {
                    tracing::warn!(tenant = %waiting.tenant.slug, error = %e, "usage counter: counts given up");
                }
                Err(e) => {
                    tracing::warn!(tenant = %waiting.tenant.slug, error = %e, "usage counter: write failed, retrying");
                    waiting.failures += 1;
                    self.pending.insert(id, waiting);
                }
            }
        }
    }
}
