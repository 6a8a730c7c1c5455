//! Cost budgets: a team's and the organisation's budgets evaluated when a bill is imported,
//! each threshold firing once per period (audited, the owners told) and again in the next
//! period; figures computed by hand from a scripted bill.

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
    let period_start = first.with_day0(0).unwrap();
    let period_end = period_start + chrono::Months::new(1);
    let mut csv = String::from(
        "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,BillingCurrency,ServiceName,Tags\n",
    );
    for offset in 0..days {
        let day = first + Duration::days(offset);
        csv.push_str(&format!(
            "acct-1,{period_start}T00:00:00Z,{period_end}T00:00:00Z,{day}T00:00:00Z,{}T00:00:00Z,Usage,{amount},{amount},USD,Compute,\"{{\"\"application\"\": \"\"checkout\"\"}}\"\n",
            day + Duration::days(1)
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

#[tokio::test]
async fn thresholds_fire_once_per_period_and_tell_the_owners() {
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
