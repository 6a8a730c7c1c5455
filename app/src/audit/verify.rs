//! Verification of a tenant's audit log: every chained event's hashes recomputed from its
//! stored fields, every link of the chain recomputed, every checkpoint's signature checked and
//! its position compared with the chain, and events outside the chain found. Stops at the first
//! problem and names it.

use super::archive_file::{month_bounds, Manifest};
use super::archive_repo;
use super::chain::{self, Facts, Hash, Personal, GENESIS};
use super::model::{TamperKind, Tampering, Verification};
use super::repo::{self, ChainedEvent, Checkpoint, StoredEvent};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::keyring::{Keyring, Purpose};
use crate::tenancy::model::Tenant;

/// Chain entries read per transaction: each read is short, so a long verification never holds
/// one connection or snapshot for its whole run.
const BATCH: i64 = 5_000;

pub async fn verify(db: &Database, tenant: &Tenant, keyring: &Keyring) -> AppResult<Verification> {
    let (checkpoints, archives) = db
        .with_tenant(tenant, |conn| {
            Box::pin(
                async move { Ok::<_, AppError>((repo::checkpoints(conn).await?, archive_repo::archives(conn).await?)) },
            )
        })
        .await?;
    let mut report = Verification {
        events_checked: 0,
        intact_through: None,
        checkpoints: 0,
        latest_checkpoint: checkpoints.last().map(|c| (c.seq, c.signed_at)),
        before_chain: 0,
        erased: 0,
        archived: 0,
        problem: None,
    };
    if let Some(problem) = checkpoints.iter().find_map(|c| bad_signature(keyring, tenant, c)) {
        report.problem = Some(problem);
        return Ok(report);
    }
    // Months archived: their positions have no events in the database, unless restored.
    let (mut archived, mut restored) = (Vec::new(), Vec::new());
    for row in archives.into_iter().filter(|a| a.state != "writing") {
        let checked = row
            .manifest()
            .ok_or_else(|| format!("The record of the archived month {} is malformed.", row.month.format("%Y-%m")))
            .and_then(|m| m.check_signature(keyring).map(|()| m));
        match checked {
            Ok(manifest) if manifest.tenant_id == tenant.id.0 => match row.state.as_str() {
                "restored" => restored.push(manifest),
                _ => archived.push(manifest),
            },
            Ok(manifest) => {
                report.problem = Some(Tampering {
                    kind: TamperKind::Checkpoint,
                    event_id: None,
                    message: format!("The archive record of {} belongs to another tenant.", manifest.month_label()),
                });
                return Ok(report);
            }
            Err(message) => {
                report.problem = Some(Tampering { kind: TamperKind::Checkpoint, event_id: None, message });
                return Ok(report);
            }
        }
    }

    let mut walk =
        Walk { previous: GENESIS, expected: 1, checkpoints: checkpoints.iter().peekable(), archived: &archived };
    loop {
        let after = walk.expected - 1;
        let batch = db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::chain_from(conn, after, i64::MAX, BATCH).await.map_err(AppError::from) })
            })
            .await?;
        let full = batch.len() as i64 == BATCH;
        for entry in batch {
            if let Err(problem) = walk.step(&entry, &mut report) {
                report.problem = Some(problem);
                return Ok(report);
            }
        }
        if !full {
            break;
        }
    }
    let chained = walk.expected - 1;
    if let Some(last) = checkpoints.last().filter(|c| c.seq > chained) {
        report.problem = Some(Tampering {
            kind: TamperKind::Truncated,
            event_id: report.intact_through,
            message: format!(
                "The chain ends after {chained} events, but a checkpoint signed at {} covers {}: the last {} events were removed.",
                last.signed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                last.seq,
                last.seq - chained
            ),
        });
        return Ok(report);
    }

    // A restored month's events outside the chain were counted against its signed manifest
    // when it was restored; any more of them were written around the portal since.
    let months: Vec<_> = restored.iter().map(|m| (m.month, m.unchained)).collect();
    let (before_chain, inserted, restored_unchained) = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let ranges: Vec<_> = months.iter().map(|(month, _)| month_bounds(*month)).collect();
                let (before, inserted) = repo::unchained(conn, &ranges).await?;
                let mut counted = Vec::new();
                for (month, expected) in months {
                    counted.push((month, expected, repo::unchained_between(conn, month_bounds(month)).await?));
                }
                Ok::<_, AppError>((before, inserted, counted))
            })
        })
        .await?;
    report.before_chain = before_chain;
    if let Some((month, expected, found)) =
        restored_unchained.into_iter().find(|(_, expected, found)| found != expected)
    {
        report.problem = Some(Tampering {
            kind: TamperKind::Inserted,
            event_id: None,
            message: format!(
                "The restored month {} holds {found} events outside the chain, its archive {expected}: events were written around the portal.",
                month.format("%Y-%m")
            ),
        });
        return Ok(report);
    }
    if let Some(&id) = inserted.first() {
        report.problem = Some(Tampering {
            kind: TamperKind::Inserted,
            event_id: Some(id),
            message: format!("Event #{id} is not in the chain: it was written to the database around the portal."),
        });
    }
    Ok(report)
}

fn bad_signature(keyring: &Keyring, tenant: &Tenant, checkpoint: &Checkpoint) -> Option<Tampering> {
    let problem = |message: String| Some(Tampering { kind: TamperKind::Checkpoint, event_id: None, message });
    let Some(key) = keyring.get(&checkpoint.key_id, Purpose::AuditCheckpoint) else {
        return problem(format!(
            "The checkpoint at position {} is signed with key `{}`, which is not in BEACON_SECRET_KEYS: it cannot be checked.",
            checkpoint.seq, checkpoint.key_id
        ));
    };
    let Ok(chain_hash) = Hash::try_from(checkpoint.chain_hash.as_slice()) else {
        return problem(format!("The checkpoint at position {} is malformed.", checkpoint.seq));
    };
    let expected = chain::checkpoint_signature(&key, tenant.id.0, checkpoint.seq, &chain_hash, checkpoint.signed_at);
    match chain::signature_matches(&expected, &checkpoint.signature) {
        true => None,
        false => problem(format!(
            "The checkpoint at position {} has a wrong signature: it was forged or altered.",
            checkpoint.seq
        )),
    }
}

struct Walk<'a> {
    previous: Hash,
    expected: i64,
    checkpoints: std::iter::Peekable<std::slice::Iter<'a, Checkpoint>>,
    archived: &'a [Manifest],
}

impl Walk<'_> {
    fn step(&mut self, entry: &ChainedEvent, report: &mut Verification) -> Result<(), Tampering> {
        let problem = |kind, event_id, message| Tampering { kind, event_id, message };
        if entry.seq != self.expected {
            let after = report.intact_through.map_or_else(|| "the start".to_owned(), |id| format!("event #{id}"));
            return Err(problem(
                TamperKind::Removed,
                Some(entry.event_id),
                format!("{} events were removed from the chain after {after}.", entry.seq - self.expected),
            ));
        }
        let Some(event) = &entry.event else {
            return self.archived_step(entry, report);
        };
        let changed = |what: &str| {
            problem(TamperKind::Changed, Some(event.id), format!("Event #{} was changed: {what}.", event.id))
        };
        let content = content_of(event, report).map_err(&changed)?;
        if event.content_hash.as_deref() != Some(content.as_slice()) {
            return Err(changed("its time, action, outcome, severity or request id no longer match its hash"));
        }
        let linked = chain::link(&self.previous, entry.seq, entry.event_id, &content);
        if entry.chain_hash != linked {
            return Err(changed("its entry in the chain was rewritten"));
        }
        report.events_checked += 1;
        self.advance(entry.seq, entry.event_id, linked, report)
    }

    /// A position whose event is not in the database: fine if a signed archive holds it (the
    /// archive proves the event; its chain hash carries the walk on), removed otherwise.
    fn archived_step(&mut self, entry: &ChainedEvent, report: &mut Verification) -> Result<(), Tampering> {
        let removed = || Tampering {
            kind: TamperKind::Removed,
            event_id: Some(entry.event_id),
            message: format!("Event #{} was removed.", entry.event_id),
        };
        let manifest = self.archived.iter().find(|m| m.holds(entry.seq)).ok_or_else(removed)?;
        let hash = Hash::try_from(entry.chain_hash.as_slice()).map_err(|_| removed())?;
        if manifest.last_seq == Some(entry.seq) && manifest.last_hash.as_deref() != Some(hash.as_slice()) {
            return Err(Tampering {
                kind: TamperKind::Changed,
                event_id: Some(entry.event_id),
                message: format!(
                    "The chain entry of event #{} does not match the archive of {}: it was rewritten.",
                    entry.event_id,
                    manifest.month_label()
                ),
            });
        }
        report.archived += 1;
        self.advance(entry.seq, entry.event_id, hash, report)
    }

    fn advance(&mut self, seq: i64, event_id: i64, linked: Hash, report: &mut Verification) -> Result<(), Tampering> {
        let problem = |kind, event_id, message| Tampering { kind, event_id, message };
        self.previous = linked;
        self.expected += 1;
        report.intact_through = Some(event_id);
        while let Some(checkpoint) = self.checkpoints.next_if(|c| c.seq <= seq) {
            if checkpoint.seq < seq || checkpoint.chain_hash != linked {
                return Err(problem(
                    TamperKind::Checkpoint,
                    Some(event_id),
                    format!(
                        "The chain through event #{event_id} does not match the checkpoint signed at {}: events up to it were rewritten.",
                        checkpoint.signed_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                ));
            }
            report.checkpoints += 1;
        }
        Ok(())
    }
}

fn content_of(event: &StoredEvent, report: &mut Verification) -> Result<Hash, &'static str> {
    let (content, erased) = recompute(event)?;
    report.erased += i64::from(erased);
    Ok(content)
}

/// The content hash recomputed from the stored fields, and whether the person it names was
/// erased: the personal digest is recomputed too, unless the person was erased (no salt
/// left), when the stored digest stands in for it.
pub(super) fn recompute(event: &StoredEvent) -> Result<(Hash, bool), &'static str> {
    let stored_digest =
        event.personal_digest.as_deref().and_then(|d| Hash::try_from(d).ok()).ok_or("its hashes were removed")?;
    let digest = match &event.personal_salt {
        None => stored_digest,
        Some(salt) => {
            let personal = Personal {
                actor_user_id: event.actor_user_id,
                actor: &event.actor,
                target: &event.target,
                ip: event.ip.as_deref(),
                user_agent: event.user_agent.as_deref(),
                details: &event.details,
            };
            let digest = chain::personal_digest(salt, &personal);
            if digest != stored_digest {
                return Err("its actor, target, address, user agent or details no longer match its hash");
            }
            digest
        }
    };
    let facts = Facts {
        occurred_at: event.occurred_at,
        action: &event.action,
        outcome: &event.outcome,
        severity: &event.severity,
        request_id: event.request_id.as_deref(),
    };
    Ok((chain::content_hash(&facts, &digest), event.personal_salt.is_none()))
}
