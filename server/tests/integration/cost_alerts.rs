//! Cost alerts: a team's and the organisation's budgets evaluated when a bill is imported,
//! each threshold firing once per period (audited, the owners told) and again in the next
//! period; a runaway resource found as an anomaly with what was expected and what caused it.
//! Figures computed by hand from scripted bills.

use std::path::PathBuf;

use chrono::{Datelike, Duration, NaiveDate};

use crate::support::{TestApp, TestTenant};
use app::audit::service::AuditSource;
use app::auth::model::Role;
use app::catalog::service::{save_one, SaveTarget};
use app::finops::allocation::{add_rule, apply_pending, parse_rule};
use app::finops::import::{import_now, ImportFile, ImportRequest};
use app::finops::model::BudgetView;
use app::notifications::model::NotificationsPage;

/// A FOCUS bill: one charge a day from `first` for `days` days, each `amount` USD, tagged
/// `application=checkout`, in the billing period of `first`'s month.
fn bill(first: NaiveDate, days: i64, amount: &str) -> PathBuf {
    let rows: Vec<(NaiveDate, String, &str)> =
        (0..days).map(|offset| (first + Duration::days(offset), amount.to_owned(), "i-steady")).collect();
    bill_of(&rows)
}

/// A FOCUS bill of (day, amount in USD, resource id) charges tagged `application=checkout`,
/// each in the billing period of its month.
fn bill_of(rows: &[(NaiveDate, String, &str)]) -> PathBuf {
    let mut csv = String::from(
        "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,BillingCurrency,ServiceName,ResourceId,Tags\n",
    );
    for (day, amount, resource) in rows {
        let period_start = day.with_day0(0).unwrap();
        let period_end = period_start + chrono::Months::new(1);
        csv.push_str(&format!(
            "acct-1,{period_start}T00:00:00Z,{period_end}T00:00:00Z,{day}T00:00:00Z,{}T00:00:00Z,Usage,{amount},{amount},USD,Compute,{resource},\"{{\"\"application\"\": \"\"checkout\"\"}}\"\n",
            *day + Duration::days(1)
        ));
    }
    let path = std::env::temp_dir().join(format!("bill-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&path, csv).unwrap();
    path
}

async fn import(app: &TestApp, t: &TestTenant, file: PathBuf) {
    let request = ImportRequest::parse("focus", "bill.csv", "USD").unwrap();
    let file = ImportFile { path: file, remove_after: true };
    let done = import_now(&app.db, &t.tenant, AuditSource::command_line(), request, file).await.unwrap();
    assert!(done.report.as_ref().is_some_and(|r| r.rows_rejected == 0), "{done:?}");
}

async fn budgets(app: &TestApp, t: &TestTenant, cookie: &str) -> Vec<BudgetView> {
    let answer = app.call(&t.host, "/api/ui/finops/budgets", &[], Some(cookie)).await;
    assert!(answer.status.is_success(), "{} {}", answer.status, answer.body);
    answer.json()
}

async fn add(app: &TestApp, t: &TestTenant, cookie: &str, name: &str, scope: &str, amount: &str, thresholds: &str) {
    let form = [
        ("name", name),
        ("scope", scope),
        ("period", "month"),
        ("metric", "amortized"),
        ("amount", amount),
        ("currency", "usd"),
        ("thresholds", thresholds),
    ];
    let added = app.call(&t.host, "/api/ui/finops/budgets/add", &form, Some(cookie)).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
}

async fn titles(app: &TestApp, t: &TestTenant, cookie: &str) -> Vec<String> {
    let page: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(cookie)).await.json();
    page.items.into_iter().map(|n| n.title).collect()
}

/// A tenant whose `checkout` component (tag `application=checkout`) is owned by `team-a`, with
/// a developer in that team: (app, tenant, admin cookie, member cookie).
async fn checkout_of_team_a() -> (TestApp, TestTenant, String, String) {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("payer@{}.example.com", t.tenant.slug);
    let source = AuditSource::command_line();
    let yaml = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: payer\nspec:\n  profile:\n    email: {email}\n  memberOf: [team-a]\n"
    );
    save_one(&app.db, &t.tenant, &source, SaveTarget::New, &yaml).await.unwrap();
    let component = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
    save_one(&app.db, &t.tenant, &source, SaveTarget::New, component).await.unwrap();
    let (_, member) = app.member(&t, &admin, &email, Role::Developer).await;
    let rule = parse_rule("tag", "application", "checkout", "checkout").unwrap();
    add_rule(&app.db, &t.tenant, &source, None, rule, None).await.unwrap();
    apply_pending(&app.db, &t.tenant).await.unwrap();

    (app, t, admin, member)
}

#[tokio::test]
async fn thresholds_fire_once_per_period_and_tell_the_owners() {
    let (app, t, admin, member) = checkout_of_team_a().await;
    // 28 days of September at 2.00: 56.00 spent; 29 and 30 September forecast at their
    // weekdays' mean (2.00 each): 60.00.
    let september = NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
    import(&app, &t, bill(september, 28, "2.00")).await;
    add(&app, &t, &admin, "Team A", "group:team-a", "100", "50, 100 forecast").await;
    add(&app, &t, &admin, "Everything", "", "58", "100, 100 forecast").await;
    let shown = budgets(&app, &t, &member).await;
    let team = shown.iter().find(|b| b.name == "Team A").unwrap();
    assert_eq!((team.actual.as_str(), team.forecast.as_str()), ("56.00", "60.00"));
    assert_eq!((team.period_start, team.as_of), (september, NaiveDate::from_ymd_opt(2024, 9, 28).unwrap()));
    assert_eq!(team.scope.as_deref(), Some("group:default/team-a"));
    assert_eq!(team.fired, vec![0], "56% crossed 50%; the 60% forecast is under 100%");
    let everything = shown.iter().find(|b| b.name == "Everything").unwrap();
    assert_eq!(everything.fired, vec![1], "the forecast, 103%, crossed; the actual, 97%, not");
    assert!((everything.forecast_percent - 6000.0 / 58.0).abs() < 1e-6);

    // The overview forecasts the month the same way.
    let overview = app::finops::service::overview(
        &app.db,
        &t.tenant,
        app::finops::model::CostView::Amortized,
        Some("USD".into()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(overview.forecast, Some(("60.00".to_owned(), NaiveDate::from_ymd_opt(2024, 9, 28).unwrap())));

    // The team's member is told of their team's budget; admins of the organisation's.
    assert!(titles(&app, &t, &member).await.contains(&"Budget Team A crossed 50%".to_owned()));
    assert!(!titles(&app, &t, &member).await.iter().any(|title| title.contains("Everything")));
    assert!(titles(&app, &t, &admin).await.contains(&"Budget Everything crossed 100%".to_owned()));

    // Each crossing is published for live pages and outbound webhooks.
    let published: Vec<String> = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                app::db::schema::events::table
                    .filter(app::db::schema::events::kind.eq("finops:budget"))
                    .select(diesel::dsl::sql::<diesel::sql_types::Text>("payload->>'name'"))
                    .load(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(published.len(), 2, "{published:?}");

    // The same bill again: the same figures, nothing fires twice.
    import(&app, &t, bill(september, 28, "2.00")).await;
    let crossed = |actions: &[(String, String, String)]| {
        actions.iter().filter(|(a, ..)| a == "finops.budget_threshold_crossed").count()
    };
    assert_eq!(crossed(&app.audit_actions(&t.tenant).await), 2);

    // October: a new period re-arms every threshold. Five days at 20.00: 100.00 spent.
    import(&app, &t, bill(NaiveDate::from_ymd_opt(2024, 10, 1).unwrap(), 5, "20.00")).await;
    let shown = budgets(&app, &t, &member).await;
    let team = shown.iter().find(|b| b.name == "Team A").unwrap();
    assert_eq!((team.period_start, team.actual.as_str()), (NaiveDate::from_ymd_opt(2024, 10, 1).unwrap(), "100.00"));
    assert_eq!(team.fired, vec![0, 1], "100% of the amount spent, and more forecast");
    assert_eq!(crossed(&app.audit_actions(&t.tenant).await), 2 + 2 + 2);

    // Bad input is refused, nothing added; only FinOps writers add budgets.
    for (scope, amount, thresholds) in [("group:team-a", "-5", "80"), ("", "100", "eighty"), ("", "1e400", "80")] {
        let form = [
            ("name", "Bad"),
            ("scope", scope),
            ("period", "month"),
            ("metric", "amortized"),
            ("amount", amount),
            ("currency", "USD"),
            ("thresholds", thresholds),
        ];
        let refused = app.call(&t.host, "/api/ui/finops/budgets/add", &form, Some(&admin)).await;
        assert_eq!(refused.status.as_u16(), 422, "{form:?}: {}", refused.body);
    }
    let form = [
        ("name", "Mine"),
        ("scope", ""),
        ("period", "month"),
        ("metric", "billed"),
        ("amount", "1"),
        ("currency", "USD"),
        ("thresholds", "80"),
    ];
    let denied = app.call(&t.host, "/api/ui/finops/budgets/add", &form, Some(&member)).await;
    assert_eq!(denied.status.as_u16(), 403);
    assert_eq!(budgets(&app, &t, &member).await.len(), 2);
}

#[tokio::test]
async fn a_runaway_resource_is_an_anomaly_with_its_cause_told_once() {
    let (app, t, admin, member) = checkout_of_team_a().await;
    // Six weeks at 2.00 a day, a bump to 2.50 (under the floors), then a runaway resource adds
    // 48.00 on Thursday 12 September: expected 2.00 (every Thursday before), a flat baseline's
    // MAD is 5% of 2.00 = 0.10, so z = 0.6745 × 48 / 0.10 = 323.76.
    let first = NaiveDate::from_ymd_opt(2024, 8, 1).unwrap();
    let spike = NaiveDate::from_ymd_opt(2024, 9, 12).unwrap();
    let mut rows: Vec<(NaiveDate, String, &str)> = Vec::new();
    let mut day = first;
    while day <= spike {
        let amount = if day == NaiveDate::from_ymd_opt(2024, 9, 10).unwrap() { "2.50" } else { "2.00" };
        rows.push((day, amount.to_owned(), "i-steady"));
        day += Duration::days(1);
    }
    rows.push((spike, "48.00".to_owned(), "i-runaway"));
    import(&app, &t, bill_of(&rows)).await;

    let shown: app::finops::model::AnomaliesView =
        app.call(&t.host, "/api/ui/finops/anomalies", &[], Some(&member)).await.json();
    assert_eq!(shown.anomalies.len(), 1, "{:?}", shown.anomalies);
    let anomaly = &shown.anomalies[0];
    assert_eq!(
        (anomaly.target.as_str(), anomaly.service.as_str(), anomaly.day),
        ("component:default/checkout", "Compute", spike)
    );
    assert_eq!((anomaly.actual.as_str(), anomaly.expected.as_str()), ("50.00", "2.00"));
    assert!((anomaly.z - 0.6745 * 48.0 / 0.1).abs() < 1e-6, "{}", anomaly.z);
    assert_eq!(anomaly.top_resources[0], ("i-runaway".to_owned(), "48.00".to_owned()));
    assert_eq!(anomaly.top_resources[1], ("i-steady".to_owned(), "2.00".to_owned()));
    let told = titles(&app, &t, &member).await;
    assert!(
        told.contains(&"Compute of component:default/checkout cost 50.00 USD on 2024-09-12".to_owned()),
        "{told:?}"
    );

    // The same bill again: found again, not told again.
    import(&app, &t, bill_of(&rows)).await;
    let detected =
        |actions: &[(String, String, String)]| actions.iter().filter(|(a, ..)| a == "finops.anomaly_detected").count();
    assert_eq!(detected(&app.audit_actions(&t.tenant).await), 1);

    // Acknowledged by a FinOps writer, not by a developer.
    let key =
        [("target", "component:default/checkout"), ("service", "Compute"), ("currency", "USD"), ("day", "2024-09-12")];
    let denied = app.call(&t.host, "/api/ui/finops/anomalies/acknowledge", &key, Some(&member)).await;
    assert_eq!(denied.status.as_u16(), 403);
    let done = app.call(&t.host, "/api/ui/finops/anomalies/acknowledge", &key, Some(&admin)).await;
    assert!(done.status.is_success(), "{}", done.body);
    let shown: app::finops::model::AnomaliesView =
        app.call(&t.host, "/api/ui/finops/anomalies", &[], Some(&member)).await.json();
    assert!(shown.anomalies[0].acknowledged_by.is_some());
    let again = app.call(&t.host, "/api/ui/finops/anomalies/acknowledge", &key, Some(&admin)).await;
    assert_eq!(again.status.as_u16(), 404, "once");

    // Floors: refused out of range, kept when valid.
    let bad = app
        .call(
            &t.host,
            "/api/ui/finops/anomalies/floors",
            &[("absolute_floor", "-1"), ("percent_floor", "20")],
            Some(&admin),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 422);
    let raised = app
        .call(
            &t.host,
            "/api/ui/finops/anomalies/floors",
            &[("absolute_floor", "100"), ("percent_floor", "20")],
            Some(&admin),
        )
        .await;
    assert!(raised.status.is_success(), "{}", raised.body);
    let shown: app::finops::model::AnomaliesView =
        app.call(&t.host, "/api/ui/finops/anomalies", &[], Some(&member)).await.json();
    assert_eq!((shown.absolute_floor.as_str(), shown.percent_floor), ("100", 20.0));
}

/// The seeded estate's spikes — three of a whole service at 8×, three of one application at
/// 3× — are found among nine weeks of noisy daily costs, once rules allocate the applications;
/// old ones are kept and audited, and only the newest week's are told.
#[tokio::test]
async fn the_seeded_estates_injected_spikes_are_found() {
    use server::cli::cost_estate::{Estate, Score, APPLICATIONS};

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let estate = Estate { rows: 63 * 1_500, days: 63, end: NaiveDate::from_ymd_opt(2024, 10, 1).unwrap() };
    let path = std::env::temp_dir().join(format!("estate-{}.csv", uuid::Uuid::new_v4()));
    estate.write(&path).unwrap();
    import(&app, &t, path).await;
    let who = AuditSource::command_line();
    let mut revision = None;
    for n in 0..APPLICATIONS {
        let rule = parse_rule("tag", "application", &format!("app-{n}"), &format!("app-{n}")).unwrap();
        revision = Some(add_rule(&app.db, &t.tenant, &who, revision, rule, None).await.unwrap());
    }
    apply_pending(&app.db, &t.tenant).await.unwrap();

    let score = Score::read(&app.db, &t.tenant, &estate.spikes(), |a| format!("component:default/{a}")).await.unwrap();
    let (false_alarms, missed): (Vec<_>, Vec<_>) = (score.false_alarms().collect(), score.missed().collect());
    println!("precision {:.3}, recall {:.3}", score.precision(), score.recall());
    assert!(score.injected.len() > 6, "a whole service's spike touches every target it runs for");
    assert!(missed.is_empty(), "every spiked cell is found: missed {missed:?}");
    assert!(false_alarms.is_empty(), "nothing else is: {false_alarms:?}");
    // Every anomaly kept was audited; only the newest week's (the application spike on day 59
    // of 63) was news.
    let (audited, published): (i64, Vec<String>) = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let audited = app::db::schema::audit_events::table
                    .filter(app::db::schema::audit_events::action.eq("finops.anomaly_detected"))
                    .count()
                    .get_result(conn)
                    .await?;
                let published = app::db::schema::events::table
                    .filter(app::db::schema::events::kind.eq("finops:anomaly"))
                    .order(app::db::schema::events::id)
                    .select(diesel::dsl::sql::<diesel::sql_types::Text>("payload->>'target'"))
                    .load(conn)
                    .await?;
                Ok::<_, app::error::AppError>((audited, published))
            })
        })
        .await
        .unwrap();
    assert!(audited >= score.found.len() as i64, "{audited} audited");
    // Imported before any rule, the spike was Unallocated's; the rules then moved it to its
    // application, which is news again.
    assert_eq!(published, ["", "component:default/app-47"], "the newest week's anomaly alone is published");
}
