//! Background imports: the upload returns at once with a job id; the import page follows the
//! job's progress, which advances inside each batch's transaction.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{ImportJob, ImportReport, JobStatus};
use super::service::{import, Incoming, Origin};
use crate::audit::service::AuditSource;
use crate::db::schema::import_jobs;
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::notifications::model::NotificationKind;
use crate::notifications::service::{notify, Notice};
use crate::tenancy::model::Tenant;

/// A running job that has not advanced for this long belonged to a server that stopped.
const STALE_AFTER_MINUTES: i64 = 5;

/// Records the job and runs the import on its own task; returns the job's id.
pub async fn start(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    label: String,
    documents: Vec<Incoming>,
) -> AppResult<Uuid> {
    let id = Uuid::new_v4();
    let total = i32::try_from(documents.len()).map_err(|_| AppError::invalid("too many documents"))?;
    let (created_by, job_source) = (source.actor.clone(), label.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            diesel::insert_into(import_jobs::table)
                .values((
                    import_jobs::id.eq(id),
                    import_jobs::created_by.eq(&created_by),
                    import_jobs::source.eq(&job_source),
                    import_jobs::status.eq("running"),
                    import_jobs::total.eq(total),
                ))
                .execute(conn)
                .await?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    let (db, tenant) = (db.clone(), tenant.clone());
    tokio::spawn(async move {
        let origin = Origin { label, location: None, job: Some(id) };
        let outcome = import(&db, &tenant, &source, &origin, documents).await;
        if let Err(e) = finish(&db, &tenant, id, source.actor_user_id, outcome).await {
            tracing::error!(job = %id, error = %e, "could not record the end of an import job");
        }
    });
    Ok(id)
}

/// Counts `n` more documents as processed; runs in the batch's transaction.
pub async fn advance(conn: &mut Connection, job: Uuid, n: usize) -> AppResult<()> {
    diesel::update(import_jobs::table.find(job))
        .set((
            import_jobs::processed.eq(import_jobs::processed + i32::try_from(n).unwrap_or(i32::MAX)),
            import_jobs::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records how the job ended; a failure is told to the member who started it.
async fn finish(
    db: &Database,
    tenant: &Tenant,
    job: Uuid,
    started_by: Option<Uuid>,
    outcome: AppResult<ImportReport>,
) -> AppResult<()> {
    let (status, report, error) = match outcome {
        Ok(report) => ("done", Some(serde_json::to_value(report).map_err(AppError::internal)?), None),
        Err(e) => {
            tracing::error!(job = %job, error = %e, "import job failed");
            ("failed", None, Some(e.to_string()))
        }
    };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            diesel::update(import_jobs::table.find(job))
                .set((
                    import_jobs::status.eq(status),
                    import_jobs::report.eq(report),
                    import_jobs::error.eq(&error),
                    import_jobs::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            if let (Some(member), Some(error)) = (started_by, error) {
                let notice = Notice {
                    kind: NotificationKind::ImportFailed,
                    title: "Your catalog import failed".into(),
                    body: error,
                    link: Some(format!("/catalog/import/{job}")),
                };
                notify(conn, member, notice).await?;
            }
            Ok(())
        })
    })
    .await
}

pub async fn load(db: &Database, tenant: &Tenant, job: Uuid) -> AppResult<Option<ImportJob>> {
    type Row = (Uuid, String, String, i32, i32, Option<serde_json::Value>, Option<String>, chrono::DateTime<Utc>);
    let row: Option<Row> = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                import_jobs::table
                    .find(job)
                    .select((
                        import_jobs::id,
                        import_jobs::source,
                        import_jobs::status,
                        import_jobs::total,
                        import_jobs::processed,
                        import_jobs::report,
                        import_jobs::error,
                        import_jobs::updated_at,
                    ))
                    .first(conn)
                    .await
                    .optional()
                    .map_err(AppError::from)
            })
        })
        .await?;
    Ok(row.map(|(id, source, status, total, processed, report, error, updated_at)| ImportJob {
        id: id.to_string(),
        source,
        status: match status.as_str() {
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            _ if updated_at < Utc::now() - Duration::minutes(STALE_AFTER_MINUTES) => JobStatus::Interrupted,
            _ => JobStatus::Running,
        },
        total,
        processed,
        report: report.and_then(|r| serde_json::from_value(r).ok()),
        error,
    }))
}
