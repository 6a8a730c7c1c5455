//! Verification of a tenant's audit log: every chained event's hashes recomputed from its
//! stored fields, every link of the chain recomputed, every checkpoint's signature checked and
//! its position compared with the chain, and events outside the chain found. Stops at the first
//! problem and names it.

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
    let checkpoints = db
        .with_tenant(tenant, |conn| Box::pin(async move { repo::checkpoints(conn).await.map_err(AppError::from) }))
        .await?;
    let mut report = Verification {
        events_checked: 0,
        intact_through: None,
        checkpoints: 0,
        latest_checkpoint: checkpoints.last().map(|c| (c.seq, c.signed_at)),
        before_chain: 0,
        erased: 0,
        problem: None,
    };
    if let Some(problem) = checkpoints.iter().find_map(|c| bad_signature(keyring, tenant, c)) {
        report.problem = Some(problem);
        return Ok(report);
    }

    let mut walk = Walk { previous: GENESIS, expected: 1, checkpoints: checkpoints.iter().peekable() };
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

    let (before_chain, inserted) = db
        .with_tenant(tenant, |conn| Box::pin(async move { repo::unchained(conn).await.map_err(AppError::from) }))
        .await?;
    report.before_chain = before_chain;
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
            return Err(problem(
                TamperKind::Removed,
                Some(entry.event_id),
                format!("Event #{} was removed.", entry.event_id),
            ));
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
        self.previous = linked;
        self.expected += 1;
        report.events_checked += 1;
        report.intact_through = Some(event.id);
        while let Some(checkpoint) = self.checkpoints.next_if(|c| c.seq <= entry.seq) {
            if checkpoint.seq < entry.seq || checkpoint.chain_hash != linked {
                return Err(problem(
                    TamperKind::Checkpoint,
                    Some(event.id),
                    format!(
                        "The chain through event #{} does not match the checkpoint signed at {}: events up to it were rewritten.",
                        event.id,
                        checkpoint.signed_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                ));
            }
            report.checkpoints += 1;
        }
        Ok(())
    }
}

/// The content hash recomputed from the stored fields; the personal digest is recomputed too,
/// unless the person was erased (no salt left), when the stored digest stands in for it.
fn content_of(event: &StoredEvent, report: &mut Verification) -> Result<Hash, &'static str> {
    let stored_digest =
        event.personal_digest.as_deref().and_then(|d| Hash::try_from(d).ok()).ok_or("its hashes were removed")?;
    let digest = match &event.personal_salt {
        None => {
            report.erased += 1;
            stored_digest
        }
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
    Ok(chain::content_hash(&facts, &digest))
}
