//! `server bench --cost-rows N`: a year of a mid-size cloud estate as one FOCUS file (seeded,
//! so every run writes the same bytes): three providers, 40 sub-accounts, 30 services, 5,000
//! resources whose tags have gaps (a third carry no `application`), monthly commitment
//! purchases with the usage they cover, corrections of the month before, and a few injected
//! spikes. Then the import's rate, a re-import of the same file (every period replaced), and
//! the cost overview in process and through the router with an API key, cold and warm, and
//! the Cost Insights routes for a team's applications.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use axum::http::header;
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use serde_json::json;

use super::bench::{print_row, sample};
use super::bench_edge::Client;
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
use app::finops::{allocation, cost_insights};
use app::tenancy::model::Tenant;

const SERVICES: [(&str, &str); 10] = [
    ("Amazon Elastic Compute Cloud", "Compute"),
    ("Amazon Simple Storage Service", "Storage"),
    ("Amazon Relational Database Service", "Databases"),
    ("AWS Lambda", "Compute"),
    ("Amazon CloudFront", "Networking"),
    ("Virtual Machines", "Compute"),
    ("Azure Cosmos DB", "Databases"),
    ("Storage", "Storage"),
    ("Compute Engine", "Compute"),
    ("BigQuery", "Analytics"),
];
const PROVIDERS: [&str; 3] = ["AWS", "Microsoft", "Google Cloud"];

/// splitmix64: a seeded sequence, so every run writes the same file.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Micro-units as a decimal with ten places, as bills write them (no float anywhere).
fn money(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!("{sign}{}.{:06}0000", micros / 1_000_000, micros % 1_000_000)
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1")
}

/// Writes the year as FOCUS CSV; returns the file and its row count.
fn generate(rows: u64) -> std::io::Result<(PathBuf, u64)> {
    let path = std::env::temp_dir().join(format!("beacon-bench-costs-{rows}.csv"));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    writeln!(
        out,
        "BilledCost,EffectiveCost,ListCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,\
         ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeClass,ProviderName,ServiceName,ServiceCategory,\
         SubAccountId,RegionId,ResourceId,CommitmentDiscountId,Tags"
    )?;
    let mut rng = Seeded(42);
    let today = Utc::now().date_naive();
    let first = today - Days::new(365);
    let per_day = (rows / 365).max(1);
    let mut written = 0;
    let mut day = first;
    while day < today && written < rows {
        let (period, next_period) = (month_start(day), month_start(day) + Months::new(1));
        let (start, end) = (format!("{day}T00:00:00Z"), format!("{}T00:00:00Z", day + Days::new(1)));
        for _ in 0..per_day {
            let resource = rng.below(5_000);
            let service = (resource % SERVICES.len() as u64) as usize;
            let provider = PROVIDERS[service * PROVIDERS.len() / SERVICES.len()];
            let (name, category) = SERVICES[service];
            let account = resource % 40;
            // A third of the resources carry no application tag, a tenth no team either.
            let tags = match resource % 30 {
                0..=2 => String::new(),
                3..=9 => format!(r#""{{""team"": ""team-{}""}}""#, resource % 12),
                _ => format!(
                    r#""{{""application"": ""app-{}"", ""team"": ""team-{}"", ""environment"": ""{}""}}""#,
                    resource % 150,
                    resource % 12,
                    if resource.is_multiple_of(3) { "prod" } else { "dev" }
                ),
            };
            // Injected spikes: three (service, day) pairs cost 8 times their usual.
            let spike = [(0usize, 100u64), (2, 200), (5, 300)]
                .iter()
                .any(|(s, d)| *s == service && day == first + Days::new(*d));
            let mut micros = (rng.below(2_000_000) + 10_000) as i64;
            if spike {
                micros *= 8;
            }
            let covered = resource.is_multiple_of(7);
            let effective = if covered { micros * 7 / 10 } else { micros };
            let commitment = if covered { format!("commitment-{}", account % 4) } else { String::new() };
            writeln!(
                out,
                "{},{},{},billing-{},USD,{period}T00:00:00Z,{next_period}T00:00:00Z,{start},{end},Usage,,{provider},{name},{category},account-{account},region-{},resource-{resource},{commitment},{tags}",
                money(if covered { 0 } else { micros }),
                money(effective),
                money(micros * 12 / 10),
                account % 3,
                resource % 8,
            )?;
            written += 1;
        }
        // The first of a month: each commitment's purchase (billed, no effective cost) and a
        // correction of the month before.
        if day.day() == 1 {
            for c in 0..4 {
                writeln!(
                    out,
                    "{},{},,billing-{},USD,{period}T00:00:00Z,{next_period}T00:00:00Z,{period}T00:00:00Z,{next_period}T00:00:00Z,Purchase,,AWS,Savings Plans,Compute,account-{c},,,commitment-{c},",
                    money(900_000_000),
                    money(0),
                    c % 3
                )?;
                written += 1;
            }
            let before = period - Months::new(1);
            writeln!(
                out,
                "{},{},,billing-0,USD,{period}T00:00:00Z,{next_period}T00:00:00Z,{before}T00:00:00Z,{period}T00:00:00Z,Usage,Correction,AWS,Amazon Elastic Compute Cloud,Compute,account-0,region-0,,,",
                money(-25_000_000),
                money(-25_000_000)
            )?;
            written += 1;
        }
        day = day + Days::new(1);
    }
    out.flush()?;
    Ok((path, written))
}

pub async fn run(db: &Database, tenant: &Tenant, admin: &str, rows: u64, samples: usize) -> Result<(), AppError> {
    let started = Instant::now();
    let (path, written) = tokio::task::spawn_blocking(move || generate(rows))
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
    for app in 0..150 {
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
