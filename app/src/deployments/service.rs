//! Receiving CI/CD events and reading them back: `receive` authenticates a provider's request
//! with the tenant's secret for it, refuses a retried delivery, matches the event to entities
//! by annotation and stores it, publishing `deployment:status` and telling the owning teams of
//! a failed deployment, all in one transaction. `entity_deployments` is the entity page's
//! panel; `overview` and `set_secret` are Settings → CI/CD.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::dora::{self, Fact};
use super::model::{
    DeploymentView, EntityDeployments, IntegrationView, NewCicdSecret, Provider, Status, UnmatchedView,
};
use super::payload::{self, Observed, Parsed};
use super::repo;
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::catalog::refs::EntityRef;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::keyring::{Keyring, Purpose, Sealed};
use crate::notifications::model::NotificationKind;
use crate::notifications::service::{tell_team, Notice};
use crate::tenancy::model::Tenant;

/// Deployments an entity page lists.
const RECENT: i64 = 20;
/// The DORA window.
const WINDOW_DAYS: i64 = 30;
/// Unmatched projects Settings → CI/CD lists.
const UNMATCHED: i64 = 50;
/// How long delivery ids are kept to refuse retries.
const DELIVERY_IDS_DAYS: i64 = 7;

fn secret_context(provider: Provider) -> Vec<u8> {
    format!("cicd:{}", provider.as_str()).into_bytes()
}

/// One request from a provider, as the HTTP edge read it.
pub struct Inbound<'a> {
    pub provider: Provider,
    /// `X-GitHub-Event`.
    pub event: Option<&'a str>,
    /// `X-GitHub-Delivery`; for the others, the body's SHA-256 stands for it.
    pub delivery: Option<&'a str>,
    /// `X-Hub-Signature-256` (GitHub).
    pub signature: Option<&'a str>,
    /// `X-Beacon-Token`, or the `token` query parameter (Jenkins, Argo CD).
    pub token: Option<&'a str>,
    pub body: &'a [u8],
}

/// What became of a request.
#[derive(Debug, PartialEq)]
pub enum Received {
    Recorded {
        status: Status,
        entities: Vec<String>,
        unmatched_hint: Option<String>,
    },
    /// The same delivery came before: nothing changed.
    Duplicate,
    Ignored(String),
}

/// Whether `inbound` carries proof of `secret`: GitHub's HMAC of the body, or the token.
fn authentic(inbound: &Inbound<'_>, secret: &[u8]) -> bool {
    match inbound.provider {
        Provider::GitHub => {
            let Some(hex) = inbound.signature.and_then(|s| s.strip_prefix("sha256=")) else { return false };
            let Some(tag) = crate::audit::chain::unhex(hex) else { return false };
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(inbound.body);
            mac.verify_slice(&tag).is_ok()
        }
        Provider::Jenkins | Provider::ArgoCd => {
            inbound.token.is_some_and(|token| bool::from(token.as_bytes().ct_eq(secret)))
        }
    }
}

/// Takes one event from a provider for `tenant`.
pub async fn receive(
    db: &Database,
    keyring: &Keyring,
    tenant: &Tenant,
    source: AuditSource,
    inbound: Inbound<'_>,
) -> AppResult<Received> {
    let provider = inbound.provider;
    let integration = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { repo::integration(conn, provider.as_str()).await.map_err(AppError::from) })
        })
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!("{} is not set up in this organisation (Settings → CI/CD).", provider.label()))
        })?;
    let sealed = Sealed { key_id: integration.secret_key_id, bytes: integration.secret };
    let secret = keyring.open(Purpose::CicdSecret, &sealed, &secret_context(provider))?;
    if !authentic(&inbound, &secret) {
        db.with_tenant(tenant, move |conn| {
            Box::pin(async move { repo::count_refused(conn, provider.as_str()).await.map_err(AppError::from) })
        })
        .await?;
        return Err(AppError::Unauthenticated);
    }
    let body: Value =
        serde_json::from_slice(inbound.body).map_err(|e| AppError::invalid(format!("The body is not JSON: {e}")))?;
    let now = Utc::now();
    let parsed = match provider {
        Provider::GitHub => payload::github(inbound.event.unwrap_or_default(), &body, now),
        Provider::Jenkins => payload::jenkins(&body, now),
        Provider::ArgoCd => payload::argocd(&body, now),
    }
    .map_err(|e| AppError::invalid(format!("Not a {} event Beacon can read: {e}", provider.label())))?;
    let delivery = match inbound.delivery.filter(|d| !d.trim().is_empty() && d.len() <= 200) {
        Some(id) => id.to_owned(),
        None => crate::audit::chain::hex(&Sha256::digest(inbound.body)),
    };
    let source = AuditSource { actor: format!("cicd:{}", provider.as_str()), ..source };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if !repo::take_delivery(conn, provider.as_str(), &delivery).await? {
                return Ok(Received::Duplicate);
            }
            repo::count_received(conn, provider.as_str()).await?;
            let observed = match parsed {
                Parsed::Ignored(why) => return Ok(Received::Ignored(why)),
                Parsed::Observed(observed) => *observed,
            };
            let matched = repo::annotated(conn, provider.annotation(), &observed.project).await?;
            let entities: Vec<String> = matched.iter().map(|(entity, _)| entity.clone()).collect();
            let before = repo::upsert(conn, provider.as_str(), &observed, &entities).await?;
            let changed = before.as_deref() != Some(observed.status.as_str());
            if changed && !entities.is_empty() {
                bus::publish(conn, status_event(provider, &observed, &entities)).await?;
            }
            let newly_failed = changed && observed.status == Status::Failure && observed.kind == "deployment";
            if newly_failed {
                let owners: BTreeSet<&str> = matched.iter().filter_map(|(_, owner)| owner.as_deref()).collect();
                for owner in owners {
                    tell_team(conn, owner, &source, failure_notice(provider, &observed, &matched)).await?;
                }
            }
            let unmatched_hint = entities.is_empty().then(|| {
                format!(
                    "No entity has the annotation {}: {}. Add it to the entity's metadata.annotations.",
                    provider.annotation(),
                    observed.project
                )
            });
            let event = AuditEvent::success(AuditAction::DeploymentRecorded, observed.project.clone()).details(json!({
                "provider": provider.as_str(),
                "delivery": delivery,
                "id": observed.external_id,
                "kind": observed.kind,
                "environment": observed.environment,
                "status": observed.status.as_str(),
                "entities": entities,
            }));
            record(conn, &source, event).await?;
            Ok(Received::Recorded { status: observed.status, entities, unmatched_hint })
        })
    })
    .await
}

fn status_event(provider: Provider, o: &Observed, entities: &[String]) -> Event {
    Event::DeploymentStatus {
        entities: entities.to_vec(),
        provider: provider.as_str(),
        kind: o.kind,
        name: o.name.clone(),
        environment: o.environment.clone(),
        version: o.version.clone(),
        status: o.status.as_str(),
        url: o.url.clone(),
    }
}

fn failure_notice(provider: Provider, o: &Observed, matched: &[(String, Option<String>)]) -> Notice {
    let entity = matched.first().map(|(entity, _)| entity.as_str()).unwrap_or(&o.project);
    let link = EntityRef::parse(entity, None, "default").ok().map(|r| format!("{}#deployments", r.page_path()));
    Notice {
        kind: NotificationKind::DeploymentFailed,
        title: format!("A deployment of {entity} failed"),
        body: format!(
            "{} reported {} of {}{} failed.",
            provider.label(),
            o.name.as_deref().unwrap_or("a deployment"),
            o.version.as_deref().unwrap_or(&o.project),
            o.environment.as_deref().map(|e| format!(" to {e}")).unwrap_or_default(),
        ),
        link,
    }
}

/// The deployments panel of an entity page: its own history (a Group's: its entities'; a
/// System's: its parts'), and the DORA figures of the last 30 days.
pub async fn entity_deployments(db: &Database, tenant: &Tenant, entity: &EntityRef) -> AppResult<EntityDeployments> {
    let (entity_ref, kind) = (entity.to_string(), entity.kind.clone());
    let now = Utc::now();
    let (refs, rows, facts) = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let refs = repo::scope_of(conn, &entity_ref, &kind).await?;
                let rows = repo::recent(conn, &refs, RECENT).await?;
                let facts = repo::facts(conn, &refs, now - Duration::days(WINDOW_DAYS)).await?;
                Ok::<_, AppError>((refs, rows, facts))
            })
        })
        .await?;
    let facts: Vec<Fact> = facts
        .into_iter()
        .filter_map(|f| {
            Some(Fact {
                entity: f.entity_refs.into_iter().find(|r| refs.contains(r))?,
                environment: f.environment,
                status: Status::parse(&f.status)?,
                finished_at: f.finished_at,
                commit_at: f.commit_at,
            })
        })
        .collect();
    let scope = match entity.kind.to_ascii_lowercase().as_str() {
        "group" => format!("the {} entities this team owns", refs.len()),
        "system" => format!("the {} parts of this system", refs.len()),
        _ => "this entity".to_owned(),
    };
    let annotations = match rows.is_empty() {
        true => Provider::ALL.into_iter().map(|p| p.annotation().to_owned()).collect(),
        false => Vec::new(),
    };
    Ok(EntityDeployments {
        scope,
        recent: rows.into_iter().filter_map(view).collect(),
        dora: dora::compute(&facts, now, WINDOW_DAYS),
        annotations,
    })
}

fn view(row: repo::DeploymentRow) -> Option<DeploymentView> {
    Some(DeploymentView {
        provider: Provider::parse(&row.provider).ok()?,
        status: Status::parse(&row.status)?,
        kind: row.kind,
        name: row.name,
        entity_refs: row.entity_refs,
        environment: row.environment,
        version: row.version,
        commit_sha: row.commit_sha,
        started_at: row.started_at,
        finished_at: row.finished_at,
        url: row.url,
        updated_at: row.updated_at,
    })
}

/// Settings → CI/CD: each provider, and what matched no entity.
pub async fn overview(
    db: &Database,
    tenant: &Tenant,
    base_url: &str,
) -> AppResult<(Vec<IntegrationView>, Vec<UnmatchedView>)> {
    let (rows, unmatched) = db
        .with_tenant(tenant, |conn| {
            Box::pin(async move {
                Ok::<_, AppError>((repo::integrations(conn).await?, repo::unmatched(conn, UNMATCHED).await?))
            })
        })
        .await?;
    let integrations = Provider::ALL
        .into_iter()
        .map(|provider| {
            let row = rows.iter().find(|r| r.provider == provider.as_str());
            IntegrationView {
                provider,
                endpoint: format!("{base_url}{}{}", super::model::INBOUND_PREFIX, provider.as_str()),
                configured: row.is_some(),
                created_by: row.map(|r| r.created_by.clone()),
                received: row.map_or(0, |r| r.received),
                refused: row.map_or(0, |r| r.refused),
                last_received_at: row.and_then(|r| r.last_received_at),
                last_refused_at: row.and_then(|r| r.last_refused_at),
            }
        })
        .collect();
    let unmatched = unmatched
        .into_iter()
        .filter_map(|u| {
            Some(UnmatchedView {
                provider: Provider::parse(&u.provider).ok()?,
                annotation: u.annotation,
                project: u.project,
                events: u.events,
                last_at: u.last_at,
            })
        })
        .collect();
    Ok((integrations, unmatched))
}

/// Creates or replaces a provider's secret; returned once.
pub async fn set_secret(
    db: &Database,
    keyring: &Keyring,
    tenant: &Tenant,
    source: AuditSource,
    provider: Provider,
) -> AppResult<NewCicdSecret> {
    let secret = crate::keyring::new_secret("bci_");
    let Sealed { key_id, bytes } = keyring.seal(Purpose::CicdSecret, secret.as_bytes(), &secret_context(provider))?;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::set_secret(conn, provider.as_str(), &bytes, &key_id, &source.actor).await?;
            let event = AuditEvent::success(AuditAction::CicdSecretSet, provider.label());
            record(conn, &source, event).await
        })
    })
    .await?;
    Ok(NewCicdSecret { provider, secret })
}

/// Forgets old delivery ids of `tenant`.
pub async fn forget_old(db: &Database, tenant: &Tenant) -> AppResult<usize> {
    let before = Utc::now() - Duration::days(DELIVERY_IDS_DAYS);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { repo::forget_deliveries(conn, before).await.map_err(AppError::from) })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound<'a>(
        provider: Provider,
        signature: Option<&'a str>,
        token: Option<&'a str>,
        body: &'a [u8],
    ) -> Inbound<'a> {
        Inbound { provider, event: None, delivery: None, signature, token, body }
    }

    /// GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    #[test]
    fn github_signatures_are_checked_as_github_documents_them() {
        let secret = b"It's a Secret to Everybody";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(authentic(&inbound(Provider::GitHub, Some(good), None, b"Hello, World!"), secret));
        assert!(!authentic(&inbound(Provider::GitHub, Some(good), None, b"Hello, World?"), secret));
        assert!(!authentic(&inbound(Provider::GitHub, None, None, b"Hello, World!"), secret));
        assert!(!authentic(&inbound(Provider::GitHub, Some("sha256=zz"), None, b"Hello, World!"), secret));
    }

    #[test]
    fn tokens_must_match_exactly() {
        assert!(authentic(&inbound(Provider::Jenkins, None, Some("bci_1"), b"{}"), b"bci_1"));
        assert!(!authentic(&inbound(Provider::Jenkins, None, Some("bci_"), b"{}"), b"bci_1"));
        assert!(!authentic(&inbound(Provider::ArgoCd, None, None, b"{}"), b"bci_1"));
    }
}
