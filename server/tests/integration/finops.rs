//! FinOps imports against real files: every public sample imports with the file's own totals
//! (summed apart from the importer, see the fixtures' PROVENANCE.md), a re-import replaces its
//! periods, a broken row refuses the whole file and changes nothing, and the REST API imports
//! and reports what the overview shows.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::support::{TestApp, TestTenant};
use app::audit::service::AuditSource;
use app::error::AppError;
use app::finops::import::{import_now, ImportFile, ImportRequest};
use app::finops::model::{CostImport, ImportStatus};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/finops").join(name)
}

async fn import(app: &TestApp, t: &TestTenant, source: &str, file: PathBuf) -> CostImport {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let request = ImportRequest::parse(source, &name, "USD").expect("request");
    import_now(&app.db, &t.tenant, AuditSource::command_line(), request, ImportFile { path: file, remove_after: false })
        .await
        .expect("the import ran")
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Sums {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    billed: String,
    #[diesel(sql_type = Text)]
    effective: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

/// Sums per currency of what `table` holds for `import` (`None`: every committed row).
async fn sums(app: &TestApp, t: &TestTenant, table: &'static str, import: Option<uuid::Uuid>) -> Vec<Sums> {
    let count = if table == "cost_rows" { "count(*)" } else { "sum(rows)::bigint" };
    let currency = if table == "cost_rows" { "billing_currency" } else { "currency" };
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                // Trailing zeros dropped (`trim_scale`): 1200 and 1200.00 are the same money.
                let rows: Vec<Sums> = diesel::sql_query(format!(
                    "SELECT {currency} AS currency, trim_scale(sum(billed_cost))::text AS billed,
                            trim_scale(sum(effective_cost))::text AS effective, {count} AS rows
                       FROM {table} WHERE $1::uuid IS NULL OR import_id = $1 GROUP BY 1 ORDER BY 1"
                ))
                .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(import)
                .load(conn)
                .await?;
                Ok::<_, AppError>(rows)
            })
        })
        .await
        .expect("sums")
}

fn expected(currency: &str, billed: &str, effective: &str, rows: i64) -> Vec<Sums> {
    vec![Sums { currency: currency.into(), billed: billed.into(), effective: effective.into(), rows }]
}

#[tokio::test]
async fn every_sample_file_imports_with_the_files_own_totals() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    // (file, currency, Σ BilledCost, Σ EffectiveCost, rows) — summed with Python's decimal.
    let files = [
        ("focus-sample/focus_sample.csv", "USD", "20.52022672899", "14.97651418586", 1000),
        ("focus-converters-provider-samples/aws-cur-sample-anonymous.csv", "USD", "1.6823086974", "1.6823086974", 1281),
        ("focus-converters-provider-samples/azure-ea-export-sample-anonymous.csv", "CAD", "1.26136926505726", "1.26136926505726", 27),
        ("focus-spec-examples/commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv", "USD", "2.75", "2.75", 3),
        ("focus-spec-examples/commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv", "USD", "2", "2", 3),
        ("focus-spec-examples/commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv", "USD", "1.5", "1.5", 2),
        ("focus-spec-examples/commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv", "USD", "3.5", "3.5", 3),
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv", "USD", "8760", "0", 1),
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv", "USD", "0", "1", 1),
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv", "USD", "0", "1", 1),
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv", "USD", "0", "1", 2),
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv", "USD", "0.5", "1.5", 2),
        ("focus-spec-examples/saas_examples/simple_agreements/simple_saas_agreements_a1.csv", "USD", "10000", "10000", 1),
        ("focus-spec-examples/saas_examples/simple_agreements/simple_saas_agreements_a2.csv", "USD", "50000", "50000", 1),
        ("focus-spec-examples/saas_examples/simple_agreements/simple_saas_agreements_a3.csv", "USD", "1000", "1000", 1),
        ("focus-spec-examples/saas_examples/simple_agreements/simple_saas_agreements_b.csv", "USD", "50000", "50000", 1),
        ("focus-spec-examples/saas_examples/simple_agreements/simple_saas_agreements_c.csv", "USD", "35800", "35800", 3),
        ("focus-spec-examples/saas_examples/spend_agreements/saas_spend_agreements_a1.csv", "USD", "1200", "1200", 4),
        ("focus-spec-examples/saas_examples/spend_agreements/saas_spend_agreements_a2.csv", "USD", "1200", "1200", 13),
        ("focus-spec-examples/saas_examples/spend_agreements/saas_spend_agreements_b1.csv", "USD", "1200", "1200", 5),
        ("focus-spec-examples/saas_examples/spend_agreements/saas_spend_agreements_b2.csv", "USD", "1200", "1200", 14),
        ("focus-spec-examples/saas_examples/virtual_currency_pricing_model_a1.csv", "USD", "200000", "0", 1),
        ("focus-spec-examples/saas_examples/virtual_currency_pricing_model_a2.csv", "USD", "0", "1230", 3),
        ("focus-spec-examples/saas_examples/virtual_currency_pricing_model_b1.csv", "USD", "100000", "0", 1),
        ("focus-spec-examples/saas_examples/virtual_currency_pricing_model_b2.csv", "USD", "0", "615", 3),
        ("focus-spec-examples/saas_examples/virtual_currency_pricing_model_b3.csv", "USD", "0", "495", 3),
        ("focus-spec-examples/saas_examples/virtual_currency_pricing_model_c.csv", "USD", "53000", "0", 2),
    ];
    for (i, (file, currency, billed, effective, rows)) in files.into_iter().enumerate() {
        // A source per file: files that share an account and period must not replace each other.
        let imported = import(&app, &t, &format!("sample-{i}"), fixture(file)).await;
        assert_eq!(imported.status, ImportStatus::Done, "{file}: {:?} {:?}", imported.error, imported.report);
        let report = imported.report.expect("a report");
        assert_eq!(report.rows_imported, rows, "{file}");
        let want = expected(currency, billed, effective, rows);
        assert_eq!(sums(&app, &t, "cost_rows", Some(imported.id)).await, want, "{file}: the rows");
        // The daily sums the pages read hold the same money, to the last decimal.
        assert_eq!(sums(&app, &t, "cost_daily", Some(imported.id)).await, want, "{file}: the daily sums");
        assert_eq!(sums(&app, &t, "cost_monthly", Some(imported.id)).await, want, "{file}: the monthly sums");
    }
    // Two examples of the FOCUS specification itself end a charge at hour 30 of a day: refused,
    // with the line, rather than rolled over into a time the file does not say.
    for (file, line) in [
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_purchase_scenario_2.csv", 3),
        ("focus-spec-examples/commitment_discount_scenarios/commitment_discount_purchase_scenario_3.csv", 4),
    ] {
        let refused = import(&app, &t, "sample-impossible-hour", fixture(file)).await;
        assert_eq!(refused.status, ImportStatus::Failed);
        let rejected = refused.report.unwrap().rejected;
        assert_eq!((rejected.len(), rejected[0].line), (1, line), "{file}");
        assert!(rejected[0].reason.contains("ChargePeriodEnd: `2023-02-01T30:00:00Z`"), "{}", rejected[0].reason);
    }
}

/// Amounts reach PostgreSQL in NUMERIC's binary form (COPY): every digit and the scale of
/// what the file says, exponents and 11-decimal values included, as if PostgreSQL had read the
/// text itself.
#[tokio::test]
async fn amounts_are_stored_exactly_as_the_file_writes_them() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let amounts = ["1.2E-5", "0.00000000001", "-12345.67890123456", "1e3", "0", "-0.50", "99999999.99999999999", ".5"];
    let mut csv = String::from(
        "BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,\
         ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceName,ServiceCategory,ProviderName\n",
    );
    for amount in amounts {
        csv.push_str(&format!(
            "{amount},{amount},acct,USD,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-05T00:00:00Z,\
             2026-01-06T00:00:00Z,Usage,Compute,Compute,Acme\n"
        ));
    }
    let path = std::env::temp_dir().join(format!("amounts-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&path, csv).unwrap();
    let imported = import(&app, &t, "amounts", path.clone()).await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(imported.status, ImportStatus::Done, "{:?}", imported.error);
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        stored: String,
        #[diesel(sql_type = Text)]
        expected: String,
    }
    let id = imported.id;
    let rows: Vec<Stored> = app
        .db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                diesel::sql_query(
                    "SELECT r.billed_cost::text AS stored, a.text::numeric::text AS expected
                       FROM cost_rows r JOIN unnest($2::text[]) WITH ORDINALITY AS a(text, n) ON a.n = r.line - 1
                      WHERE r.import_id = $1 ORDER BY r.line",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<diesel::sql_types::Array<Text>, _>(amounts.to_vec())
                .load(conn)
                .await
                .map_err(AppError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), amounts.len());
    for row in rows {
        assert_eq!(row.stored, row.expected);
    }
}

#[tokio::test]
async fn odd_files_are_read_as_their_providers_write_them() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    // A BOM, `$10,000.00 ` amounts and US two-digit-year dates.
    let saas = import(
        &app,
        &t,
        "saas",
        fixture("focus-spec-examples/saas_examples/simple_agreements/simple_saas_agreements_a1.csv"),
    )
    .await;
    let total = &saas.report.as_ref().unwrap().totals[0];
    assert_eq!(total.billing_period_start.to_string(), "2025-04-01");
    // No BillingCurrency column: the default is used and said so.
    let commitment = import(
        &app,
        &t,
        "commitments",
        fixture("focus-spec-examples/commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv"),
    )
    .await;
    let warnings = commitment.report.unwrap().warnings;
    assert!(warnings.iter().any(|w| w.contains("BillingCurrency") && w.contains("USD")), "{warnings:?}");
    // Azure: US dates, CAD, a billing period whose last day is inclusive, tags without braces.
    let azure =
        import(&app, &t, "azure", fixture("focus-converters-provider-samples/azure-ea-export-sample-anonymous.csv"))
            .await;
    assert_eq!(azure.report.unwrap().totals[0].billing_period_start.to_string(), "2023-09-01");
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    // Tag keys exported with a leading space (`" org"`) are kept trimmed.
    import(&app, &t, "focus", fixture("focus-sample/focus_sample.csv")).await;
    let id = azure.id;
    let facts: Vec<Row> = app
        .db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                let rows = diesel::sql_query(
                    "(SELECT tags->>'tagA' AS value FROM cost_rows WHERE import_id = $1 LIMIT 1)
                     UNION ALL (SELECT billing_period_end::date::text FROM cost_rows WHERE import_id = $1 LIMIT 1)
                     UNION ALL (SELECT count(*) FILTER (WHERE tags ? 'org')::text FROM cost_rows)
                     UNION ALL (SELECT count(*) FILTER (WHERE tags ? ' org')::text FROM cost_rows)",
                )
                .bind::<SqlUuid, _>(id)
                .load(conn)
                .await?;
                Ok::<_, AppError>(rows)
            })
        })
        .await
        .unwrap();
    let facts: Vec<&str> = facts.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(facts[0], "valueA");
    assert_eq!(facts[1], "2023-10-01", "FOCUS's BillingPeriodEnd is exclusive");
    // 42 rows tag `org`, 23 ` org` (21 of them both, with one value): 44 under the trimmed key.
    assert_eq!((facts[2], facts[3]), ("44", "0"));
}

#[tokio::test]
async fn a_reimport_replaces_its_periods_and_a_broken_row_changes_nothing() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let sample = fixture("focus-sample/focus_sample.csv");
    let first = import(&app, &t, "aws", sample.clone()).await;
    assert_eq!(first.report.unwrap().replaced_periods, 0);
    let again = import(&app, &t, "aws", sample.clone()).await;
    let report = again.report.unwrap();
    assert!(report.replaced_periods > 0, "the second import takes over the periods");
    let whole = expected("USD", "20.52022672899", "14.97651418586", 1000);
    assert_eq!(sums(&app, &t, "cost_rows", None).await, whole, "replaced, not added");
    assert_eq!(sums(&app, &t, "cost_daily", None).await, whole);
    assert_eq!(sums(&app, &t, "cost_monthly", None).await, whole);

    // Line 500 gets an amount that is not one; the rows before it were already staged.
    let text = std::fs::read_to_string(&sample).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let cells: Vec<&str> = lines[499].splitn(3, ',').collect();
    lines[499] = format!("{},twelve,{}", cells[0], cells[2]);
    let broken = std::env::temp_dir().join(format!("broken-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&broken, lines.join("\n")).unwrap();
    let refused = import(&app, &t, "aws", broken.clone()).await;
    std::fs::remove_file(&broken).unwrap();
    assert_eq!(refused.status, ImportStatus::Failed);
    let error = refused.error.unwrap();
    assert!(error.contains("line 500") && error.contains("BilledCost"), "{error}");
    let rejected = refused.report.unwrap().rejected;
    assert_eq!((rejected.len(), rejected[0].line), (1, 500));
    assert_eq!(sums(&app, &t, "cost_rows", None).await, whole, "nothing changed, nothing left staged");
    assert_eq!(sums(&app, &t, "cost_daily", None).await, whole);
    assert_eq!(sums(&app, &t, "cost_monthly", None).await, whole);

    // Another source's bill for the same account and period is kept beside it.
    import(&app, &t, "aws-copy", sample).await;
    assert_eq!(sums(&app, &t, "cost_rows", None).await[0].rows, 2000);
    let actions = app.audit_actions(&t.tenant).await;
    let imports: Vec<_> = actions.iter().filter(|(action, ..)| action == "finops.costs_imported").collect();
    assert_eq!(imports.len(), 4, "every import audited, the refused one too");
    assert!(imports.iter().any(|(.., outcome)| outcome == "failure"));
}

#[tokio::test]
async fn files_that_are_not_bills_are_refused_with_a_reason() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let cases: [(&str, &[u8], &str); 5] = [
        ("not-a-bill.csv", b"name,team\nx,y\n", "names no cost column"),
        ("parquet.parquet", b"PAR1\x00\x00", "not a readable Parquet file"),
        ("opencost.json", b"{\"code\":200}", "not an OpenCost allocation response"),
        ("array.json", b"[1, 2]", "JSON"),
        ("bad-gzip.csv.gz", b"\x1f\x8b\x08\x00broken", "cannot read"),
    ];
    for (name, bytes, reason) in cases {
        let path = std::env::temp_dir().join(format!("{}-{name}", uuid::Uuid::new_v4()));
        std::fs::write(&path, bytes).unwrap();
        let refused = import(&app, &t, "odd", path.clone()).await;
        std::fs::remove_file(&path).unwrap();
        assert_eq!(refused.status, ImportStatus::Failed, "{name}");
        let error = refused.error.unwrap_or_default();
        assert!(error.contains(reason), "{name}: {error}");
    }
    // A gzip-compressed FOCUS file is read like the plain one.
    let plain = std::fs::read(fixture("focus-sample/focus_sample.csv")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &plain).unwrap();
    let path = std::env::temp_dir().join(format!("{}.csv.gz", uuid::Uuid::new_v4()));
    std::fs::write(&path, encoder.finish().unwrap()).unwrap();
    let gz = import(&app, &t, "gz", path.clone()).await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(gz.status, ImportStatus::Done, "{:?}", gz.error);
    assert_eq!(
        sums(&app, &t, "cost_rows", Some(gz.id)).await,
        expected("USD", "20.52022672899", "14.97651418586", 1000)
    );
}

/// The FOCUS sample written as Parquet the way exports type it — money as doubles, the four
/// period bounds as UTC timestamps, everything else text, Snappy-compressed, in row groups of
/// 300 — imports with the same totals as its CSV.
fn focus_sample_as_parquet() -> PathBuf {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;

    let mut csv = csv::Reader::from_path(fixture("focus-sample/focus_sample.csv")).unwrap();
    let headers: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let money = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"];
    let times = ["BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"];
    let fields: Vec<String> = headers
        .iter()
        .map(|h| match (money.contains(&h.as_str()), times.contains(&h.as_str())) {
            (true, _) => format!("optional double {h};"),
            (_, true) => format!("optional int64 {h} (TIMESTAMP(MILLIS,true));"),
            _ => format!("optional binary {h} (UTF8);"),
        })
        .collect();
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(&format!("message focus {{ {} }}", fields.join(" "))).unwrap(),
    );
    let properties = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let path = std::env::temp_dir().join(format!("{}.parquet", uuid::Uuid::new_v4()));
    let mut writer = SerializedFileWriter::new(std::fs::File::create(&path).unwrap(), schema, properties).unwrap();
    let null = |cell: &str| cell.is_empty() || cell == "NULL";
    for group in rows.chunks(300) {
        let mut row_group = writer.next_row_group().unwrap();
        let mut index = 0;
        while let Some(mut column) = row_group.next_column().unwrap() {
            let cells: Vec<&str> = group.iter().map(|r| r.get(index).unwrap_or("")).collect();
            let levels: Vec<i16> = cells.iter().map(|c| i16::from(!null(c))).collect();
            let present = cells.iter().filter(|c| !null(c));
            let name = headers[index].as_str();
            if money.contains(&name) {
                let values: Vec<f64> = present.map(|c| c.parse().unwrap()).collect();
                column.typed::<DoubleType>().write_batch(&values, Some(&levels), None).unwrap();
            } else if times.contains(&name) {
                let values: Vec<i64> = present
                    .map(|c| {
                        chrono::NaiveDateTime::parse_from_str(c, "%Y-%m-%d %H:%M:%S")
                            .unwrap()
                            .and_utc()
                            .timestamp_millis()
                    })
                    .collect();
                column.typed::<Int64Type>().write_batch(&values, Some(&levels), None).unwrap();
            } else {
                let values: Vec<ByteArray> = present.map(|c| ByteArray::from(*c)).collect();
                column.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None).unwrap();
            }
            column.close().unwrap();
            index += 1;
        }
        row_group.close().unwrap();
    }
    writer.close().unwrap();
    path
}

#[tokio::test]
async fn a_parquet_bill_imports_with_the_totals_of_its_csv() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let path = focus_sample_as_parquet();
    let imported = import(&app, &t, "parquet", path.clone()).await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(imported.status, ImportStatus::Done, "{:?}", imported.error);
    assert_eq!(imported.report.as_ref().unwrap().layout, "FOCUS");
    assert_eq!(imported.bytes_read, imported.bytes_total, "the progress reached the end");
    assert_eq!(
        sums(&app, &t, "cost_rows", Some(imported.id)).await,
        expected("USD", "20.52022672899", "14.97651418586", 1000)
    );
    // Times came through as the CSV's: the sample's days, in UTC.
    let days = scalar(
        &app,
        &t,
        format!(
            "SELECT min(charge_period_start)::text || ' ' || max(charge_period_end)::text AS value FROM cost_rows
              WHERE import_id = '{}'",
            imported.id
        ),
    )
    .await;
    assert_eq!(days, "2024-09-01 00:00:00+00 2024-10-01 00:00:00+00");
    // A truncated Parquet file is refused with the reason.
    let broken = std::env::temp_dir().join(format!("{}.parquet", uuid::Uuid::new_v4()));
    std::fs::write(&broken, b"PAR1\x00\x00\x00\x00PAR1").unwrap();
    let refused = import(&app, &t, "parquet", broken).await;
    assert_eq!(refused.status, ImportStatus::Failed);
    assert!(refused.error.as_deref().unwrap_or_default().contains("Parquet"), "{refused:?}");
}

#[tokio::test]
async fn the_api_imports_a_bill_and_the_overview_shows_it() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (_, writer) = app.create_key(&t, &cookie, "ci", &["finops:write", "finops:read"]).await;
    let (_, reader) = app.create_key(&t, &cookie, "dashboards", &["finops:read"]).await;
    let body =
        std::fs::read(fixture("focus-converters-provider-samples/azure-ea-export-sample-anonymous.csv")).unwrap();
    let upload = |key: &str| {
        Request::post("/api/finops/imports?source=azure-ea&file=usage-2023-09.csv")
            .header(header::HOST, &t.host)
            .header("x-api-key", key)
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(body.clone()))
            .unwrap()
    };
    let refused = app.send(upload(&reader)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "finops:read cannot import");
    let accepted = app.send(upload(&writer)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let location = accepted.headers[header::LOCATION].to_str().unwrap().to_owned();
    let done = loop {
        let request = Request::get(&location)
            .header(header::HOST, &t.host)
            .header("x-api-key", &reader)
            .body(Body::empty())
            .unwrap();
        let import: CostImport = app.send(request).await.json();
        if import.status != ImportStatus::Running {
            break import;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(done.status, ImportStatus::Done, "{:?}", done.error);
    assert_eq!(done.file_name, "usage-2023-09.csv");

    let request = Request::get("/api/cost-analytics?view=invoice")
        .header(header::HOST, &t.host)
        .header("x-api-key", &reader)
        .body(Body::empty())
        .unwrap();
    let overview: Value = app.send(request).await.json();
    assert_eq!(overview["currency"], "CAD");
    assert_eq!(overview["month"], "2023-09-01");
    assert_eq!(overview["total"]["amount"], "1.26", "rounded to cents for display, summed exactly");
    let services = overview["breakdowns"].as_array().unwrap().iter().find(|b| b[0] == "Service").unwrap()[1].clone();
    assert!(!services.as_array().unwrap().is_empty());

    // The same view as CSV: a row per figure, with the overview's exact amounts.
    let request = Request::get("/api/cost-analytics/export.csv?view=invoice&currency=cad&month=2023-09")
        .header(header::HOST, &t.host)
        .header("x-api-key", &reader)
        .body(Body::empty())
        .unwrap();
    let csv = app.send(request).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "section,name,amount,previous,currency,view");
    assert_eq!(
        lines[1],
        format!(
            "total,2023-09,{},{},CAD,invoice",
            overview["total"]["amount"].as_str().unwrap(),
            overview["total"]["previous"].as_str().unwrap()
        )
    );
    let figures = overview["daily"].as_array().unwrap().len()
        + overview["monthly"].as_array().unwrap().len()
        + overview["breakdowns"].as_array().unwrap().iter().map(|b| b[1].as_array().unwrap().len()).sum::<usize>();
    assert_eq!(lines.len(), 2 + figures);
    let first_service = &services[0];
    let service_row = format!(
        "Service,{},{},{},CAD,invoice",
        app::escape::csv_cell(first_service["name"].as_str().unwrap()),
        first_service["amount"].as_str().unwrap(),
        first_service["previous"].as_str().unwrap()
    );
    assert!(lines.contains(&service_row.as_str()), "{service_row} in {lines:?}");

    // Another tenant's key sees none of it.
    let (other, other_cookie) = app.signed_in_tenant().await;
    let (_, foreign) = app.create_key(&other, &other_cookie, "x", &["finops:read"]).await;
    let request = Request::get(&location)
        .header(header::HOST, &t.host)
        .header("x-api-key", &foreign)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::UNAUTHORIZED);
}

/// Days and currencies where the allocated sums differ from the imported ones (none, ever).
async fn allocation_mismatches(app: &TestApp, t: &TestTenant) -> i64 {
    #[derive(QueryableByName)]
    struct Mismatches {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                let found: Mismatches = diesel::sql_query(
                    "SELECT count(*) AS n FROM
                       (SELECT day, currency, sum(billed_cost) AS b, sum(effective_cost) AS e FROM cost_daily GROUP BY 1, 2) d
                       FULL JOIN (SELECT day, currency, sum(billed_cost) AS b, sum(effective_cost) AS e FROM cost_allocated GROUP BY 1, 2) a
                       USING (day, currency)
                      WHERE d.b IS DISTINCT FROM a.b OR d.e IS DISTINCT FROM a.e",
                )
                .get_result(conn)
                .await?;
                Ok::<_, AppError>(found.n)
            })
        })
        .await
        .unwrap()
}

/// Effective cost per allocation target ('' is Unallocated), exact.
async fn by_target(app: &TestApp, t: &TestTenant) -> Vec<(String, String)> {
    #[derive(QueryableByName)]
    struct Target {
        #[diesel(sql_type = Text)]
        target: String,
        #[diesel(sql_type = Text)]
        amount: String,
    }
    let rows: Vec<Target> = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                let rows = diesel::sql_query(
                    "SELECT target, trim_scale(sum(effective_cost))::text AS amount FROM cost_allocated GROUP BY 1 ORDER BY 1",
                )
                .load(conn)
                .await?;
                Ok::<_, AppError>(rows)
            })
        })
        .await
        .unwrap();
    rows.into_iter().map(|r| (r.target, r.amount)).collect()
}

/// What the rows `condition` selects cost, summed straight from the rows.
async fn tagged_cost(app: &TestApp, t: &TestTenant, condition: &'static str) -> String {
    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = Text)]
        amount: String,
    }
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                let found: Sum = diesel::sql_query(format!(
                    "SELECT trim_scale(coalesce(sum(effective_cost), 0))::text AS amount FROM cost_rows WHERE {condition}"
                ))
                .get_result(conn)
                .await?;
                Ok::<_, AppError>(found.amount)
            })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn allocation_rules_move_money_and_nothing_else() {
    use app::finops::allocation::{add_rule, apply_pending, entity_cost, page, parse_rule, remove_rule, restore};

    let app = TestApp::new().await;
    let t = app.tenant().await;
    import(&app, &t, "focus", fixture("focus-sample/focus_sample.csv")).await;
    let total = "14.97651418586";
    assert_eq!(by_target(&app, &t).await, vec![(String::new(), total.to_owned())], "no rules: all unallocated");
    assert_eq!(allocation_mismatches(&app, &t).await, 0);

    let who = AuditSource::command_line();
    let checkout = parse_rule("tag", "application", "BrightLensMatrix", "checkout").unwrap();
    assert_eq!(checkout.target, "component:default/checkout", "a bare name is a component in default");
    // The preview says what adding it will move, before anything changes.
    let preview = page(&app.db, &t.tenant, Some((checkout.clone(), usize::MAX)), None).await.unwrap();
    let moves = preview.preview.expect("a preview");
    assert_eq!(moves.len(), 1);
    assert_eq!((moves[0].from.as_str(), moves[0].to.as_str()), ("", "component:default/checkout"));

    let first = add_rule(&app.db, &t.tenant, &who, None, checkout, None).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();
    let tagged = tagged_cost(&app, &t, "tags->>'application' = 'BrightLensMatrix'").await;
    let targets = by_target(&app, &t).await;
    assert_eq!(targets.iter().find(|(target, _)| target == "component:default/checkout").unwrap().1, tagged);
    assert_eq!(allocation_mismatches(&app, &t).await, 0, "allocated + unallocated = imported, per day and currency");

    // A broader rule added first takes precedence; a wildcard rule by sub-account catches the rest of an account.
    let everything_tagged = parse_rule("tag", "application", "*", "group:default/apps").unwrap();
    let second = add_rule(&app.db, &t.tenant, &who, Some(first), everything_tagged, Some(0)).await.unwrap();
    let stale = parse_rule("resource", "", "x", "component:default/y").unwrap();
    let refused = add_rule(&app.db, &t.tenant, &who, Some(first), stale, None).await;
    assert!(matches!(refused, Err(AppError::Conflict(_))), "a change made meanwhile is never overwritten");
    apply_pending(&app.db, &t.tenant).await.unwrap();
    let targets = by_target(&app, &t).await;
    assert!(targets.iter().all(|(target, _)| target != "component:default/checkout"), "{targets:?}");
    assert_eq!(
        targets.iter().find(|(target, _)| target == "group:default/apps").unwrap().1,
        tagged_cost(&app, &t, "tags ? 'application'").await
    );
    assert_eq!(allocation_mismatches(&app, &t).await, 0);

    // Removing the broad rule, then restoring the first revision, gives back the first allocation.
    remove_rule(&app.db, &t.tenant, &who, Some(second), 0).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();
    let after_remove = by_target(&app, &t).await;
    restore(&app.db, &t.tenant, &who, first).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();
    assert_eq!(by_target(&app, &t).await, after_remove);
    let revisions = page(&app.db, &t.tenant, None, None).await.unwrap().revisions;
    assert_eq!(revisions.len(), 4);
    assert!(revisions.iter().all(|r| r.applied));

    // A re-import is allocated with the rules in force as it commits.
    import(&app, &t, "focus", fixture("focus-sample/focus_sample.csv")).await;
    assert_eq!(by_target(&app, &t).await, after_remove);
    assert_eq!(allocation_mismatches(&app, &t).await, 0);

    // The entity's cost panel: the sample's last day is 2024-09-30, so its 90 days hold it all.
    let panel =
        entity_cost(&app.db, &t.tenant, &app::catalog::refs::EntityRef::new("component", "default", "checkout"))
            .await
            .unwrap()
            .expect("cost allocated to it");
    assert_eq!(panel.currency, "USD");
    assert_eq!(panel.daily.len(), 30);
    assert!(!panel.top_services.is_empty());
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(action, ..)| action == "finops.allocation_rules_changed").count(), 4);
}

/// Cost rolls up the catalog: a system and its domain count their components and
/// subcomponents (`partOf`), a group counts what it and the groups under it own (`childOf`),
/// and the overview breaks the month down by owner, system and domain.
#[tokio::test]
async fn cost_rolls_up_systems_domains_and_parent_groups() {
    use app::catalog::refs::EntityRef;
    use app::catalog::service as catalog;
    use app::finops::allocation::{add_rule, apply_pending, entity_cost, parse_rule};
    use app::finops::model::CostView;

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata: {name: commerce}\nspec: {owner: org}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: shop}\nspec: {owner: team-pay, domain: commerce}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: checkout}\n\
                spec: {type: service, lifecycle: production, owner: team-pay, system: shop}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: checkout-worker}\n\
                spec: {type: service, lifecycle: production, owner: team-ops, subcomponentOf: checkout}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: org}\nspec: {type: organization, children: []}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-pay}\nspec: {type: team, parent: org, children: []}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-ops}\nspec: {type: team, children: []}\n";
    let documents = catalog::parse_documents(yaml).into_iter().map(Into::into).collect();
    let report =
        catalog::import(&app.db, &t.tenant, &AuditSource::command_line(), &catalog::Origin::named("t.yaml"), documents)
            .await
            .unwrap();
    assert!(report.results.iter().all(|r| !matches!(r.outcome, app::catalog::model::DocumentOutcome::Rejected(_))));
    import(&app, &t, "focus", fixture("focus-sample/focus_sample.csv")).await;
    let who = AuditSource::command_line();
    let mut revision = None;
    for (application, target) in [
        ("BrightPathMatrix", "checkout"),
        ("ZoomMapMax", "checkout-worker"),
        ("PrimeManagerDrive", "group:default/org"),
    ] {
        let rule = parse_rule("tag", "application", application, target).unwrap();
        revision = Some(add_rule(&app.db, &t.tenant, &who, revision, rule, None).await.unwrap());
    }
    apply_pending(&app.db, &t.tenant).await.unwrap();

    // The sample's 90 days up to its last day hold all of it.
    let allocated_to = |targets: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            scalar(
                app,
                t,
                format!("SELECT round(sum(effective_cost), 2)::text AS value FROM cost_allocated WHERE target IN ({targets})"),
            )
            .await
        }
    };
    let panel = |kind: &'static str, name: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            entity_cost(&app.db, &t.tenant, &EntityRef::new(kind, "default", name))
                .await
                .unwrap()
                .expect("cost")
                .last_90_days
        }
    };
    let application = "'component:default/checkout', 'component:default/checkout-worker'";
    assert_eq!(panel("system", "shop").await, allocated_to(application).await);
    assert_eq!(panel("domain", "commerce").await, allocated_to(application).await);
    assert_eq!(panel("component", "checkout").await, allocated_to(application).await, "with its subcomponent");
    assert_eq!(panel("group", "team-pay").await, allocated_to("'component:default/checkout'").await);
    assert_eq!(
        panel("group", "org").await,
        allocated_to("'group:default/org', 'component:default/checkout'").await,
        "its own cost and what the team under it owns; team-ops is not under it"
    );

    let overview = app::finops::service::overview(&app.db, &t.tenant, CostView::Amortized, Some("USD".into()), None)
        .await
        .unwrap();
    let month = overview.month.unwrap();
    let breakdown = |title: &str| overview.breakdowns.iter().find(|(t, _)| t == title).unwrap().1.clone();
    let in_month = |targets: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            scalar(
                app,
                t,
                format!(
                    "SELECT round(coalesce(sum(effective_cost), 0), 2)::text AS value FROM cost_allocated
                      WHERE target IN ({targets}) AND date_trunc('month', day) = '{month}'"
                ),
            )
            .await
        }
    };
    let amount = |rows: &[app::finops::model::Movement], name: &str| {
        rows.iter()
            .find(|m| m.name == name)
            .map(|m| m.amount.clone())
            .unwrap_or_else(|| panic!("no {name} in {rows:?}"))
    };
    assert_eq!(amount(&breakdown("System"), "system:default/shop"), in_month(application).await);
    assert_eq!(amount(&breakdown("Domain"), "domain:default/commerce"), in_month(application).await);
    assert_eq!(
        amount(&breakdown("Owner"), "group:default/team-ops"),
        in_month("'component:default/checkout-worker'").await
    );
    assert_eq!(amount(&breakdown("Owner"), "group:default/team-pay"), in_month("'component:default/checkout'").await);
    assert!(breakdown("System").iter().any(|m| m.name == "(none)"), "cost outside any system is shown apart");
    // The share left in Unallocated, and the owners and services that moved most, largest first.
    let owners = breakdown("Owner");
    let unallocated: f64 = amount(&owners, "Unallocated").parse().unwrap();
    let allocated: f64 = owners.iter().map(|m| m.amount.parse::<f64>().unwrap()).sum();
    assert!(owners.len() < 10, "every owner is listed, so the sum is the month's");
    assert_eq!(overview.unallocated_share, Some(format!("{:.1}%", unallocated / allocated * 100.0)));
    let moved = |m: &app::finops::model::Movement| {
        (m.amount.parse::<f64>().unwrap() - m.previous.parse::<f64>().unwrap()).abs()
    };
    assert!(!overview.movers.is_empty() && overview.movers.len() <= 5);
    assert!(overview.movers.iter().all(|(dimension, _)| dimension == "Owner" || dimension == "Service"));
    assert!(overview.movers.windows(2).all(|pair| moved(&pair[0].1) >= moved(&pair[1].1)));
    let biggest_service = breakdown("Service").iter().map(moved).fold(0.0, f64::max);
    assert!(moved(&overview.movers[0].1) >= biggest_service);

    // Cost read as engineers, once a maintainer says what one costs a month, in that currency only.
    use app::finops::service::set_engineer_rate;
    assert_eq!(overview.engineers, None, "not set yet");
    for (amount, currency) in [("-5", "USD"), ("lots", "USD"), ("1000", "dollars")] {
        let refused = set_engineer_rate(&app.db, &t.tenant, who.clone(), amount, currency).await;
        assert!(matches!(refused, Err(AppError::Invalid(_))), "{amount} {currency}: {refused:?}");
    }
    set_engineer_rate(&app.db, &t.tenant, who.clone(), "$1,000.00", "usd").await.unwrap();
    let overview = app::finops::service::overview(&app.db, &t.tenant, CostView::Amortized, Some("USD".into()), None)
        .await
        .unwrap();
    let people = overview.total.amount.parse::<f64>().unwrap() / 1000.0;
    assert_eq!(overview.engineers, Some(format!("≈ {people:.1} engineers")));
    let rate = overview.engineer_rate.unwrap();
    assert_eq!((rate.monthly_cost.as_str(), rate.currency.as_str()), ("1000.00", "USD"));
    let panel = entity_cost(&app.db, &t.tenant, &EntityRef::new("system", "default", "shop")).await.unwrap().unwrap();
    let people = panel.last_30_days.parse::<f64>().unwrap() / 1000.0;
    assert_eq!(panel.engineers, Some(format!("≈ {people:.1} engineers")));
    set_engineer_rate(&app.db, &t.tenant, who.clone(), "1000", "EUR").await.unwrap();
    let panel = entity_cost(&app.db, &t.tenant, &EntityRef::new("system", "default", "shop")).await.unwrap().unwrap();
    assert_eq!(panel.engineers, None, "amounts are never converted");
    set_engineer_rate(&app.db, &t.tenant, who.clone(), "", "").await.unwrap();
    let overview = app::finops::service::overview(&app.db, &t.tenant, CostView::Amortized, Some("USD".into()), None)
        .await
        .unwrap();
    assert_eq!(overview.engineer_rate, None, "an empty amount clears it");
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(action, ..)| action == "finops.engineer_cost_changed").count(), 3);
}

/// The converted view: every currency with a rate multiplied into the reporting one, exactly
/// (rounded once, at the end), the rates and the currencies left out said; without rates, or
/// for one currency, amounts are never added across currencies.
#[tokio::test]
async fn the_converted_view_adds_currencies_at_the_tenants_rates() {
    use app::finops::model::{CostView, ALL_CURRENCIES};
    use app::finops::service::{overview, set_currency_rates};

    let app = TestApp::new().await;
    let t = app.tenant().await;
    import(&app, &t, "focus", fixture("focus-sample/focus_sample.csv")).await;
    import(&app, &t, "azure", fixture("focus-converters-provider-samples/azure-ea-export-sample-anonymous.csv")).await;
    let who = AuditSource::command_line();
    let all = || overview(&app.db, &t.tenant, CostView::Amortized, Some(ALL_CURRENCIES.into()), None);
    let plain = all().await.unwrap();
    assert_eq!(plain.converted, None, "no rates: no converted view");
    assert!(plain.currencies.contains(&"CAD".to_owned()) && plain.currencies.contains(&"USD".to_owned()));

    for (reporting, rates) in
        [("USD", "CAD -1"), ("USD", "CAD 1\nCAD 2"), ("USD", "USD 1"), ("dollars", "CAD 1"), ("USD", "CAD")]
    {
        let refused = set_currency_rates(&app.db, &t.tenant, who.clone(), reporting, rates).await;
        assert!(matches!(refused, Err(AppError::Invalid(_))), "{reporting} {rates:?}: {refused:?}");
    }
    set_currency_rates(&app.db, &t.tenant, who.clone(), "usd", "CAD 0.73\nJPY=0.0067\n").await.unwrap();
    let september_2023 = chrono::NaiveDate::from_ymd_opt(2023, 9, 1).unwrap();
    let converted =
        overview(&app.db, &t.tenant, CostView::Amortized, Some(ALL_CURRENCIES.into()), Some(september_2023))
            .await
            .unwrap();
    assert_eq!(converted.currency.as_deref(), Some("USD"));
    assert_eq!(converted.month, Some(september_2023));
    let conversion = converted.converted.clone().expect("converted");
    assert_eq!(conversion.used, vec![("CAD".to_owned(), "0.73".to_owned())], "only rates of imported currencies");
    let others: Vec<String> =
        plain.currencies.iter().filter(|c| !["USD", "CAD"].contains(&c.as_str())).cloned().collect();
    assert_eq!(conversion.left_out, others);
    let expected = scalar(
        &app,
        &t,
        "SELECT round(coalesce(sum(effective_cost * CASE currency WHEN 'CAD' THEN 0.73 ELSE 1 END), 0), 2)::text AS value
           FROM cost_monthly WHERE currency IN ('USD', 'CAD') AND month = '2023-09-01'"
            .into(),
    )
    .await;
    assert_eq!(converted.total.amount, expected);
    let days: f64 = converted.daily.iter().map(|(_, a)| a.parse::<f64>().unwrap()).sum();
    assert!((days - expected.parse::<f64>().unwrap()).abs() < 0.01 * converted.daily.len() as f64);
    assert_eq!(converted.forecast, None, "forecasts are per currency");
    // One currency stays itself, whatever the rates.
    let cad =
        overview(&app.db, &t.tenant, CostView::Amortized, Some("CAD".into()), Some(september_2023)).await.unwrap();
    assert_eq!(cad.converted, None);
    let cad_total = scalar(
        &app,
        &t,
        "SELECT round(sum(effective_cost), 2)::text AS value FROM cost_monthly WHERE currency = 'CAD' AND month = '2023-09-01'"
            .into(),
    )
    .await;
    assert_eq!(cad.total.amount, cad_total);
    set_currency_rates(&app.db, &t.tenant, who.clone(), "USD", "").await.unwrap();
    assert_eq!(all().await.unwrap().rates, None, "no rates remove the view");
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(action, ..)| action == "finops.currency_rates_changed").count(), 2);
}

/// One number from the tenant's tables, as text.
async fn scalar(app: &TestApp, t: &TestTenant, sql: String) -> String {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = Text)]
        value: String,
    }
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                let one: One = diesel::sql_query(sql).get_result(conn).await?;
                Ok::<_, AppError>(one.value)
            })
        })
        .await
        .unwrap()
}

/// What `target` was given from shared pools, exact.
async fn shared_to(app: &TestApp, t: &TestTenant, target: &str) -> String {
    let sql = format!(
        "SELECT trim_scale(coalesce(sum(effective_cost), 0))::text AS value FROM cost_allocated
          WHERE shared AND target = '{target}'"
    );
    scalar(app, t, sql).await
}

async fn pooled(app: &TestApp, t: &TestTenant, pool: &str) -> String {
    let sql = format!(
        "SELECT trim_scale(coalesce(sum(effective_cost), 0))::text AS value FROM cost_pooled WHERE pool = '{pool}'"
    );
    scalar(app, t, sql).await
}

fn money(raw: &str) -> f64 {
    raw.parse().unwrap()
}

/// Every rule kind, and a shared pool split each way, over six weeks of the seeded estate:
/// allocated + unallocated = imported per day and currency, each pool's parts add up to it
/// exactly, and removing a rule moves its money to Unallocated and nothing else.
#[tokio::test]
async fn shared_pools_split_every_cent_by_each_method() {
    use app::finops::allocation::{add_rule, apply_pending, parse_rule, parse_shared_rule, remove_rule};
    use server::cli::cost_estate::Estate;

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let estate = Estate { rows: 42 * 600, days: 42, end: chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap() };
    let path = std::env::temp_dir().join(format!("estate-{}.csv", uuid::Uuid::new_v4()));
    estate.write(&path).unwrap();
    assert_eq!(import(&app, &t, "focus", path.clone()).await.status, ImportStatus::Done);

    let rules = [
        parse_rule("tag", "application", "app-1*", "app-1x").unwrap(),
        parse_rule("sub_account", "", "account-3", "group:team-3").unwrap(),
        parse_rule("resource", "", "resource-7", "r7").unwrap(),
        parse_shared_rule(("tag", "team", "team-1"), "k8s", "even", "a, b, group:c").unwrap(),
        parse_shared_rule(("sub_account", "", "account-5"), "network", "proportional", "app-1x, group:team-3").unwrap(),
        parse_shared_rule(("resource", "", "resource-9*"), "support", "fixed", "d 62.5, e 37.5%").unwrap(),
    ];
    assert_eq!(rules[5].describe(), "resource id = resource-9* → pool:support, shared by fixed percents among component:default/d 62.5%, component:default/e 37.5%");
    let who = AuditSource::command_line();
    let mut revision = None;
    for rule in rules {
        revision = Some(add_rule(&app.db, &t.tenant, &who, revision, rule, None).await.unwrap());
    }
    apply_pending(&app.db, &t.tenant).await.unwrap();
    assert_eq!(allocation_mismatches(&app, &t).await, 0, "allocated + unallocated = imported, per day and currency");

    // Even: three equal parts (to the cent), adding up to the pool exactly.
    let k8s = pooled(&app, &t, "pool:k8s").await;
    let parts: Vec<String> = futures_util::future::join_all(
        ["component:default/a", "component:default/b", "group:default/c"].map(|r| shared_to(&app, &t, r)),
    )
    .await;
    assert!(money(&k8s) > 100.0, "{k8s}");
    assert!(parts.iter().all(|p| (money(p) - money(&k8s) / 3.0).abs() < 0.01), "{parts:?} of {k8s}");
    let sum = scalar(&app, &t, format!("SELECT trim_scale({})::text AS value", parts.join(" + "))).await;
    assert_eq!(sum, k8s, "the parts add up to the pool, exactly");

    // Fixed: 62.5% and 37.5%.
    let support = pooled(&app, &t, "pool:support").await;
    let (d, e) = (shared_to(&app, &t, "component:default/d").await, shared_to(&app, &t, "component:default/e").await);
    assert!((money(&d) - money(&support) * 0.625).abs() < 0.01, "{d} of {support}");
    assert_eq!(scalar(&app, &t, format!("SELECT trim_scale({d} + {e})::text AS value")).await, support);

    // Proportional: each day's network cost split by the recipients' own cost that day.
    let expected = scalar(
        &app,
        &t,
        "WITH direct AS (SELECT day, target, sum(effective_cost) AS c FROM cost_allocated
                          WHERE NOT shared AND target IN ('component:default/app-1x', 'group:default/team-3')
                          GROUP BY 1, 2),
              pool AS (SELECT day, sum(effective_cost) AS c FROM cost_pooled WHERE pool = 'pool:network' GROUP BY 1)
         SELECT round(sum(p.c * d.c / (SELECT sum(c) FROM direct x WHERE x.day = p.day)), 2)::text AS value
           FROM pool p JOIN direct d ON d.day = p.day AND d.target = 'component:default/app-1x'"
            .into(),
    )
    .await;
    let given = shared_to(&app, &t, "component:default/app-1x").await;
    assert!(money(&expected) > 10.0 && (money(&given) - money(&expected)).abs() < 0.01, "{given} vs {expected}");

    // A re-import is split at its commit as the recompute split it.
    let before = by_target(&app, &t).await;
    assert_eq!(import(&app, &t, "focus", path.clone()).await.status, ImportStatus::Done);
    assert_eq!(by_target(&app, &t).await, before);
    let _ = std::fs::remove_file(&path);

    // Removing the support rule gives its pool back to Unallocated, and moves nothing else.
    remove_rule(&app.db, &t.tenant, &who, revision, 5).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();
    let after = by_target(&app, &t).await;
    let unallocated = |rows: &[(String, String)]| money(&rows.iter().find(|(t, _)| t.is_empty()).unwrap().1);
    assert!((unallocated(&after) - unallocated(&before) - money(&support)).abs() < 1e-9);
    let others = |rows: &[(String, String)]| -> Vec<(String, String)> {
        rows.iter()
            .filter(|(t, _)| !["", "component:default/d", "component:default/e"].contains(&t.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(others(&after), others(&before));
    assert_eq!(allocation_mismatches(&app, &t).await, 0);

    // Splits that cannot be: percents not adding up to 100, one recipient, a pool as an entity,
    // and the same pool split two ways.
    for (method, recipients) in [("fixed", "d 60, e 30"), ("even", "a"), ("fixed", "d 60, e"), ("thirds", "a, b")] {
        assert!(parse_shared_rule(("tag", "team", "x"), "p", method, recipients).is_err(), "{method} {recipients}");
    }
    assert!(parse_rule("tag", "team", "x", "pool:k8s").is_err());
    let other = parse_shared_rule(("tag", "team", "team-2"), "k8s", "even", "a, b").unwrap();
    assert!(add_rule(&app.db, &t.tenant, &who, None, other, None).await.is_err());
}

/// OpenCost's allocation response weighs a cluster's billed cost among namespaces and adds
/// none of its own; a re-import of the same window replaces it; a broken one changes nothing.
#[tokio::test]
async fn opencost_allocations_split_a_clusters_bill_by_namespace() {
    use app::finops::allocation::{add_rule, apply_pending, parse_shared_rule};

    let app = TestApp::new().await;
    let t = app.tenant().await;
    // The cluster's nodes cost 100.00 on each day of OpenCost's window (2023-01-18 11:38:45
    // to 2023-01-20 11:38:45), and 30.00 on the day after, which it does not cover.
    let mut csv = String::from(
        "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ServiceName,ResourceId\n",
    );
    for (day, amount) in [("18", "100.00"), ("19", "100.00"), ("20", "100.00"), ("21", "30.00")] {
        let next = format!("{:02}", day.parse::<u32>().unwrap() + 1);
        csv.push_str(&format!(
            "{amount},{amount},USD,2023-01-{day}T00:00:00Z,2023-01-{next}T00:00:00Z,EKS,cluster-one-nodes\n"
        ));
    }
    let bill = std::env::temp_dir().join(format!("cluster-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&bill, csv).unwrap();
    assert_eq!(import(&app, &t, "aws", bill).await.status, ImportStatus::Done);
    let rule = parse_shared_rule(
        ("resource", "", "cluster-one-*"),
        "cluster-one",
        "opencost",
        "platform kube-system, observability opencost, metrics prometheus",
    )
    .unwrap();
    add_rule(&app.db, &t.tenant, &AuditSource::command_line(), None, rule, None).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();
    // No allocations yet: every day evenly.
    assert!((money(&shared_to(&app, &t, "component:default/metrics").await) - 110.0).abs() < 1e-9);

    let opencost = import(&app, &t, "opencost", fixture("opencost-sample/allocation-compute-example-0.json")).await;
    assert_eq!(opencost.status, ImportStatus::Done, "{opencost:?}");
    let report = opencost.report.unwrap();
    assert_eq!((report.layout.as_str(), report.rows_imported), ("OpenCost allocation", 3));
    assert!(report.totals.is_empty(), "weights, not cost");
    // kube-system 0.425469 and opencost 0.030644 of the window's 0.456113 (prometheus 0), on
    // each of the three days it covers; the 21st, uncovered, evenly.
    let per_day = |share: f64| 300.0 * share / 0.456113;
    let platform = money(&shared_to(&app, &t, "component:default/platform").await);
    assert!((platform - per_day(0.425469) - 10.0).abs() < 1e-6, "{platform}");
    let observability = money(&shared_to(&app, &t, "component:default/observability").await);
    assert!((observability - per_day(0.030644) - 10.0).abs() < 1e-6, "{observability}");
    assert!((money(&shared_to(&app, &t, "component:default/metrics").await) - 10.0).abs() < 1e-9);
    assert_eq!(allocation_mismatches(&app, &t).await, 0, "never added on top of the bill");

    // The same window again replaces it; a response with a broken allocation changes nothing.
    import(&app, &t, "opencost", fixture("opencost-sample/allocation-compute-example-0.json")).await;
    assert_eq!(scalar(&app, &t, "SELECT count(*)::text AS value FROM cost_opencost".into()).await, "3");
    let broken = std::env::temp_dir().join(format!("opencost-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &broken,
        r#"{"code": 200, "data": [{"a": {"properties": {"cluster": "cluster-one", "namespace": "a"},
            "window": {"start": "2023-01-18T00:00:00Z", "end": "2023-01-19T00:00:00Z"}, "totalCost": 5},
            "b": {"properties": {"namespace": "b"}, "window": {"start": "2023-01-18T00:00:00Z", "end": "2023-01-19T00:00:00Z"},
            "totalCost": 1}}]}"#,
    )
    .unwrap();
    let refused = import(&app, &t, "opencost", broken).await;
    assert_eq!(refused.status, ImportStatus::Failed);
    assert!(refused.error.as_deref().unwrap().contains("allocation 2, b: no properties.cluster"), "{refused:?}");
    assert_eq!(scalar(&app, &t, "SELECT count(*)::text AS value FROM cost_opencost".into()).await, "3");
    assert!(parse_shared_rule(("resource", "", "x"), "c", "opencost", "a, b").is_err(), "namespaces required");
}

/// Backstage's Cost Insights client API over the allocated cost: a group's cost is what it
/// and the entities it owns are allocated, per day over the plugin's intervals, in its types.
#[tokio::test]
async fn cost_insights_serves_the_plugins_client_from_the_allocation() {
    use app::catalog::service as catalog;
    use app::finops::allocation::{add_rule, apply_pending, parse_rule};

    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a, title: Team A}\nspec: {type: team, children: []}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: jdoe}\nspec: {memberOf: [team-a]}\n---\n\
                apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: checkout, title: Checkout}\n\
                spec: {type: service, lifecycle: production, owner: team-a}\n";
    let documents = catalog::parse_documents(yaml).into_iter().map(Into::into).collect();
    catalog::import(&app.db, &t.tenant, &AuditSource::command_line(), &catalog::Origin::named("t.yaml"), documents)
        .await
        .unwrap();
    let get = |path: String| {
        let (app, t, cookie) = (&app, &t, &cookie);
        async move { app.get_json(t, cookie, &path).await }
    };
    let (status, none, _) = get("/api/cost-insights/last-complete-billing-date".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no cost yet: {none}");

    import(&app, &t, "focus", fixture("focus-sample/focus_sample.csv")).await;
    let rule = parse_rule("tag", "application", "BrightPathMatrix", "checkout").unwrap();
    add_rule(&app.db, &t.tenant, &AuditSource::command_line(), None, rule, None).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();
    let tagged: f64 = tagged_cost(&app, &t, "tags->>'application' = 'BrightPathMatrix'").await.parse().unwrap();
    assert!(tagged > 0.0);

    let (status, date, _) = get("/api/cost-insights/last-complete-billing-date".into()).await;
    assert_eq!((status, date), (StatusCode::OK, Value::from("2024-09-30")));
    let (_, groups, _) = get("/api/cost-insights/user-groups?userId=jdoe".into()).await;
    assert_eq!(groups, serde_json::json!([{ "id": "group:default/team-a", "name": "Team A" }]));
    let (_, projects, _) = get("/api/cost-insights/group-projects?group=team-a".into()).await;
    assert_eq!(projects, serde_json::json!([{ "id": "component:default/checkout", "name": "Checkout" }]));

    // Two periods of 30 days ending with the bill's last day.
    let intervals = "intervals=R2/P30D/2024-10-01";
    let (status, group, _) = get(format!("/api/cost-insights/group-daily-cost?group=team-a&{intervals}")).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    let days = group["aggregation"].as_array().unwrap();
    assert_eq!(days.len(), 60);
    assert_eq!((days[0]["date"].as_str(), days[59]["date"].as_str()), (Some("2024-08-02"), Some("2024-09-30")));
    let amounts: Vec<f64> = days.iter().map(|d| d["amount"].as_f64().unwrap()).collect();
    assert!((amounts.iter().sum::<f64>() - tagged).abs() < 1e-9, "the window holds all of the tagged cost");
    let change = amounts[30..].iter().sum::<f64>() - amounts[..30].iter().sum::<f64>();
    assert!((group["change"]["amount"].as_f64().unwrap() - change).abs() < 1e-9, "{group}");
    assert!(group["change"].get("ratio").is_none(), "August had no cost: no ratio, as the plugin expects");
    assert!(group["trendline"]["slope"].as_f64().unwrap().is_finite());
    assert_eq!(group["currency"], "USD");
    let grouped = group["groupedCosts"]["project"].as_array().unwrap();
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0]["id"], "component:default/checkout");
    assert_eq!(grouped[0]["aggregation"], group["aggregation"]);

    for path in [
        format!("/api/cost-insights/project-daily-cost?project=checkout&{intervals}"),
        format!("/api/cost-insights/entity-daily-cost?entityRef=component:default/checkout&{intervals}"),
    ] {
        let (status, entity, _) = get(path).await;
        assert_eq!(status, StatusCode::OK, "{entity}");
        assert_eq!(
            (&entity["id"], &entity["aggregation"]),
            (&Value::from("component:default/checkout"), &group["aggregation"])
        );
        assert!(entity.get("groupedCosts").is_none());
    }
    // Two halves of September, both with cost: the ratio of the last to the one before.
    let halves = "/api/cost-insights/entity-daily-cost?entityRef=checkout&intervals=R2/P15D/2024-10-01";
    let (_, halves, _) = get(halves.into()).await;
    let amounts: Vec<f64> =
        halves["aggregation"].as_array().unwrap().iter().map(|d| d["amount"].as_f64().unwrap()).collect();
    let (previous, last): (f64, f64) = (amounts[..15].iter().sum(), amounts[15..].iter().sum());
    assert!(previous > 0.0 && last > 0.0, "{halves}");
    assert!((halves["change"]["ratio"].as_f64().unwrap() - (last - previous) / previous).abs() < 1e-9, "{halves}");
    let (_, nobody, _) = get(format!("/api/cost-insights/group-daily-cost?group=nobody&{intervals}")).await;
    assert!(
        nobody["currency"].is_null() && nobody["aggregation"].as_array().unwrap().iter().all(|d| d["amount"] == 0.0)
    );

    // Product insights: a cloud service's cost for the group in each half of September, by entity.
    let product = scalar(
        &app,
        &t,
        "SELECT service_name AS value FROM cost_rows WHERE tags->>'application' = 'BrightPathMatrix'
          GROUP BY 1 ORDER BY sum(effective_cost) DESC LIMIT 1"
            .into(),
    )
    .await;
    let product_cost: f64 = scalar(
        &app,
        &t,
        format!(
            "SELECT sum(effective_cost)::text AS value FROM cost_rows
              WHERE tags->>'application' = 'BrightPathMatrix' AND service_name = '{product}'"
        ),
    )
    .await
    .parse()
    .unwrap();
    let encoded = serde_urlencoded::to_string([("product", &product)]).unwrap();
    let (status, insight, _) =
        get(format!("/api/cost-insights/product-insights?{encoded}&group=team-a&intervals=R2/P15D/2024-10-01")).await;
    assert_eq!(status, StatusCode::OK, "{insight}");
    assert_eq!(insight["id"], Value::from(product.clone()));
    let periods: Vec<f64> = insight["aggregation"].as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect();
    assert!((periods[0] + periods[1] - product_cost).abs() < 1e-9, "{insight} vs {product_cost}");
    assert!((insight["change"]["amount"].as_f64().unwrap() - (periods[1] - periods[0])).abs() < 1e-9);
    let entities = insight["entities"]["entity"].as_array().unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!(
        (&entities[0]["id"], &entities[0]["aggregation"]),
        (&Value::from("component:default/checkout"), &insight["aggregation"])
    );

    // Alerts: the anomalies of what the group owns, acknowledged ones accepted.
    let (_, none, _) = get("/api/cost-insights/alerts?group=team-a".into()).await;
    assert_eq!(none, serde_json::json!([]));
    scalar(
        &app,
        &t,
        "WITH added AS (
            INSERT INTO cost_anomalies (target, service_name, currency, day, actual, expected, low, high, z, top_resources)
            VALUES ('component:default/checkout', 'Compute', 'USD', '2024-09-12', 50, 2, 1.5, 2.5, 323.8, '[]'),
                   ('component:default/other', 'Compute', 'USD', '2024-09-12', 50, 2, 1.5, 2.5, 323.8, '[]')
            RETURNING 1)
         SELECT count(*)::text AS value FROM added"
            .into(),
    )
    .await;
    let (_, alerts, _) = get("/api/cost-insights/alerts?group=team-a".into()).await;
    assert_eq!(
        alerts,
        serde_json::json!([{
            "title": "Compute of component:default/checkout cost 50 USD on 2024-09-12",
            "subtitle": "Expected about 2 USD (usual range 1.5 to 2.5) from the same weekday of the weeks before; z = 323.8.",
            "url": "/finops/anomalies",
        }])
    );

    for bad in [
        "/api/cost-insights/product-insights?group=team-a&intervals=R2/P30D/2024-10-01".to_owned(),
        "/api/cost-insights/alerts".to_owned(),
        "/api/cost-insights/group-daily-cost?group=team-a".to_owned(),
        "/api/cost-insights/group-daily-cost?group=team-a&intervals=R2/P30D/2024-13-01".to_owned(),
        "/api/cost-insights/group-daily-cost?group=team-a&intervals=R99/P3M/2024-10-01".to_owned(),
        format!("/api/cost-insights/group-daily-cost?group=team-a&{intervals}&currency=US"),
        format!("/api/cost-insights/entity-daily-cost?{intervals}"),
        "/api/cost-insights/user-groups".to_owned(),
    ] {
        let (status, body, _) = get(bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
