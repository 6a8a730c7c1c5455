//! `server bench --cost-rows N`: a year of a mid-size cloud estate as one FOCUS file (see
//! `cost_estate`), its import's rate and a re-import of the same file (every period replaced),
//! 150 allocation rules and the year reallocated with them, the anomalies found scored against
//! the spikes injected, and the cost pages in process and through the router with an API key,
//! cold and warm, with the Cost Insights routes for a team's applications.

use std::time::Instant;

use axum::http::header;
use chrono::{Datelike, Days, NaiveDate, Utc};
use serde_json::json;

use super::bench::{print_row, sample};
use super::bench_edge::Client;
use super::cost_estate::{Estate, Score, APPLICATIONS};
use app::access::service::{self as access, NewKey};
use app::audit::service::AuditSource;
use app::auth::service as auth;
use app::catalog::refs::EntityRef;
use app::catalog::service as catalog;
use app::db::Database;
use app::error::AppError;
use app::finops::import::{import_now, ImportFile, ImportRequest};
use app::finops::model::{CostView, ImportStatus};
use app::finops::service;
use app::finops::{allocation, anomalies, cost_insights};
use app::tenancy::model::Tenant;

pub async fn run(db: &Database, tenant: &Tenant, admin: &str, rows: u64, samples: usize) -> Result<(), AppError> {
    let started = Instant::now();
    let estate = Estate { rows, days: 365, end: Utc::now().date_naive() };
    let path = std::env::temp_dir().join(format!("beacon-bench-costs-{rows}.csv"));
    let written = tokio::task::spawn_blocking({
        let path = path.clone();
        move || estate.write(&path)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    let size = std::fs::metadata(&path).map_err(AppError::internal)?.len();
    println!(
        "generated {written} FOCUS rows ({:.0} MiB) in {:.1} s",
        size as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64()
    );
    for label in ["import", "re-import (every period replaced)"] {
        let started = Instant::now();
        let request = ImportRequest::parse("bench", "bench.csv", "USD")?;
        let file = ImportFile { path: path.clone(), remove_after: false };
        let import = import_now(db, tenant, AuditSource::command_line(), request, file).await?;
        let took = started.elapsed().as_secs_f64();
        if import.status != ImportStatus::Done {
            return Err(AppError::internal(format!("the bench import failed: {:?}", import.error)));
        }
        let imported = import.report.map_or(0, |r| r.rows_imported);
        println!("{label}: {imported} rows in {took:.1} s ({:.0} rows/s)", imported as f64 / took);
    }
    let _ = std::fs::remove_file(&path);

    // 150 rules, one per application tag (two thirds of the rows carry one), then a year
    // reallocated with them in one pass.
    let who = AuditSource::command_line();
    let mut revision = None;
    let started = Instant::now();
    for app in 0..APPLICATIONS {
        let rule = allocation::parse_rule(
            "tag",
            "application",
            &format!("app-{app}"),
            &format!("component:default/app-{app}"),
        )?;
        revision = Some(allocation::add_rule(db, tenant, &who, revision, rule, None).await?);
    }
    let saved = started.elapsed().as_secs_f64();
    let started = Instant::now();
    allocation::apply_pending(db, tenant).await?;
    println!(
        "150 allocation rules saved in {saved:.1} s; the year reallocated with them in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let score = Score::read(db, tenant, &estate.spikes(), |app| format!("component:default/{app}")).await?;
    println!(
        "anomalies: {} spiked cells injected (6 spikes), {} found: precision {:.3}, recall {:.3}",
        score.injected.len(),
        score.found.len(),
        score.precision(),
        score.recall()
    );
    for (label, cells) in
        [("false alarm", score.false_alarms().collect::<Vec<_>>()), ("missed", score.missed().collect())]
    {
        for cell in cells.iter().take(5) {
            println!("  {label}: {} / {} on {}", cell.target, cell.service_name, cell.day);
        }
    }

    println!("{:<48} {:>9} {:>9} {:>9} {:>9}", "cost overview (in process)", "cold ms", "p50 ms", "p95 ms", "max ms");
    for view in [CostView::Amortized, CostView::Invoice] {
        let timings =
            sample(samples, || async { service::overview(db, tenant, view, Some("USD".into()), None).await.map(drop) })
                .await?;
        print_row(&format!("overview, newest month, {}", view.as_str()), &timings);
    }
    let component = EntityRef::new("component", "default", "app-7");
    let timings = sample(samples, || async { allocation::entity_cost(db, tenant, &component).await.map(drop) }).await?;
    print_row("entity cost panel (component:default/app-7)", &timings);
    let timings = sample(samples, || async { allocation::page(db, tenant, None, None).await.map(drop) }).await?;
    print_row("allocation page (rules, split, unallocated)", &timings);

    // The catalog the rules allocate to: 15 teams owning 10 applications each, for the Cost
    // Insights rows (a group's cost is what its applications are allocated).
    let mut documents = Vec::new();
    for team in 0..15 {
        documents.push(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": { "name": format!("team-{team}") }, "spec": { "type": "team", "children": [] } }));
    }
    for app in 0..150 {
        documents.push(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": { "name": format!("app-{app}") },
            "spec": { "type": "service", "lifecycle": "production", "owner": format!("team-{}", app % 15) } }));
    }
    let documents = documents.into_iter().map(|d| Ok(d).into()).collect();
    catalog::import(db, tenant, &who, &catalog::Origin::named("bench"), documents).await?;

    let team = EntityRef::new("group", "default", "team-7");
    let timings = sample(samples, || async {
        allocation::entity_cost(db, tenant, &team).await?;
        anomalies::of_group(db, tenant, &team).await.map(drop)
    })
    .await?;
    print_row("team page (group:default/team-7, 10 applications)", &timings);

    let me = auth::find_principal(db, tenant, admin).await?.ok_or_else(|| AppError::internal("admin not found"))?;
    let key = access::create_key(
        db,
        tenant,
        AuditSource::command_line(),
        &me,
        NewKey::parse("bench", &["finops:read".into()], "30")?,
    )
    .await?
    .secret;
    let client = Client::connect(db, tenant).await?;
    let api_key = (header::HeaderName::from_static("x-api-key"), key.as_str());
    println!("{:<48} {:>9} {:>9} {:>9} {:>9}", "through the router (API key)", "cold ms", "p50 ms", "p95 ms", "max ms");
    let month = (Utc::now().date_naive() - Days::new(100)).format("%Y-%m").to_string();
    let billing_date = cost_insights::last_complete_billing_date(db, tenant).await?;
    let end = billing_date + Days::new(1);
    let quarter = NaiveDate::from_ymd_opt(end.year(), (end.month0() / 3) * 3 + 1, 1).expect("a quarter's first day");
    for (label, path) in [
        ("GET /api/cost-analytics (newest month)", "/api/cost-analytics".to_owned()),
        ("GET /api/cost-analytics?view=invoice", "/api/cost-analytics?view=invoice".to_owned()),
        ("GET /api/cost-analytics?month=(100 days ago)", format!("/api/cost-analytics?month={month}")),
        (
            "Cost Insights group daily cost, R2/P30D",
            format!("/api/cost-insights/group-daily-cost?group=team-7&intervals=R2/P30D/{end}"),
        ),
        (
            "Cost Insights group daily cost, R2/P3M",
            format!("/api/cost-insights/group-daily-cost?group=team-7&intervals=R2/P3M/{quarter}"),
        ),
        (
            "Cost Insights entity daily cost, R2/P90D",
            format!("/api/cost-insights/entity-daily-cost?entityRef=app-7&intervals=R2/P90D/{end}"),
        ),
    ] {
        let timings = sample(samples, || client.get(&path, api_key.clone())).await?;
        print_row(label, &timings);
    }
    Ok(())
}
