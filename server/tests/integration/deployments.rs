//! CI/CD webhooks: signed GitHub, Jenkins and Argo CD payloads (in the shapes their
//! documentation gives) become builds and deployments of the annotated entities; bad or missing
//! signatures are 401 and counted; a retried delivery changes nothing; events that match no
//! entity are kept with the annotation that would match them; a scripted history gives the
//! hand-computed DORA figures; the owning team hears of a failed deployment.

use axum::body::Body;
use axum::http::{header, Request};
use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::support::{TestApp, TestResponse, TestTenant};
use app::audit::service::AuditSource;
use app::auth::model::Role;
use app::catalog::service::{save_one, SaveTarget};
use app::deployments::model::{CicdOverview, EntityDeployments, Status};
use app::notifications::model::NotificationsPage;

const PETSTORE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  annotations:
    github.com/project-slug: octo-org/petstore
    jenkins.io/job-full-name: platform/petstore
    argocd/app-name: petstore-prod
spec:
  type: service
  lifecycle: production
  owner: team-pets
  system: pets
";

fn fixture(name: &str, values: &[(&str, String)]) -> String {
    let path = format!("{}/tests/fixtures/cicd/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).unwrap();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    assert!(!text.contains("{{"), "every placeholder of {name} filled");
    text
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn github_signature(secret: &str, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", hex(ring::hmac::sign(&key, body.as_bytes()).as_ref()))
}

async fn post(app: &TestApp, t: &TestTenant, path: &str, headers: &[(&str, String)], body: String) -> TestResponse {
    let mut request =
        Request::post(path).header(header::HOST, &t.host).header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    app.send(request.body(Body::from(body)).unwrap()).await
}

/// A GitHub delivery of `event`, signed with `secret`, with a fresh delivery id.
async fn github(app: &TestApp, t: &TestTenant, secret: &str, event: &str, body: String) -> TestResponse {
    let headers = [
        ("x-github-event", event.to_owned()),
        ("x-github-delivery", uuid::Uuid::new_v4().to_string()),
        ("x-hub-signature-256", github_signature(secret, &body)),
    ];
    post(app, t, "/api/webhooks/github", &headers, body).await
}

async fn secret(app: &TestApp, t: &TestTenant, admin: &str, provider: &str) -> String {
    let set = app.call(&t.host, "/api/ui/cicd/secret", &[("provider", provider)], Some(admin)).await;
    assert!(set.status.is_success(), "{} {}", set.status, set.body);
    overview(app, t, admin).await.revealed.expect("the secret is shown once").secret
}

async fn overview(app: &TestApp, t: &TestTenant, admin: &str) -> CicdOverview {
    let answer = app.call(&t.host, "/api/ui/cicd", &[], Some(admin)).await;
    assert!(answer.status.is_success(), "{} {}", answer.status, answer.body);
    answer.json()
}

async fn panel(app: &TestApp, t: &TestTenant, cookie: &str, kind: &str, name: &str) -> EntityDeployments {
    let form = [("namespace", "default"), ("kind", kind), ("name", name)];
    let answer = app.call(&t.host, "/api/ui/deployments/entity", &form, Some(cookie)).await;
    assert!(answer.status.is_success(), "{} {}", answer.status, answer.body);
    answer.json()
}

async fn catalog(app: &TestApp, t: &TestTenant) {
    let source = AuditSource::command_line();
    save_one(&app.db, &t.tenant, &source, SaveTarget::New, PETSTORE).await.unwrap();
    let system =
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: pets\nspec:\n  owner: team-pets\n";
    save_one(&app.db, &t.tenant, &source, SaveTarget::New, system).await.unwrap();
}

#[tokio::test]
async fn signed_events_from_each_provider_become_deployments_and_bad_ones_are_refused() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    catalog(&app, &t).await;
    let email = format!("pet@{}.example.com", t.tenant.slug);
    let user = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: pet\nspec:\n  profile:\n    email: {email}\n  memberOf: [team-pets]\n"
    );
    save_one(&app.db, &t.tenant, &AuditSource::command_line(), SaveTarget::New, &user).await.unwrap();
    let (_, member) = app.member(&t, &admin, &email, Role::Developer).await;

    // Not set up yet: 404, whatever is sent.
    let early = post(&app, &t, "/api/webhooks/github", &[], "{}".into()).await;
    assert_eq!(early.status.as_u16(), 404, "{}", early.body);

    let github_secret = secret(&app, &t, &admin, "github").await;
    let now = Utc::now();
    let run = fixture(
        "github-workflow_run.json",
        &[
            ("run_id", "30433642".into()),
            ("sha", "7638417db6d59f3c431d3e1f261cc637155684cd".into()),
            ("started", iso(now - Duration::minutes(10))),
            ("finished", iso(now - Duration::minutes(5))),
            ("commit_at", iso(now - Duration::minutes(30))),
        ],
    );
    // Unsigned, wrongly signed, signed with another secret: 401, counted, nothing stored.
    let unsigned =
        post(&app, &t, "/api/webhooks/github", &[("x-github-event", "workflow_run".into())], run.clone()).await;
    assert_eq!(unsigned.status.as_u16(), 401);
    let forged = [("x-github-event", "workflow_run".into()), ("x-hub-signature-256", github_signature("guess", &run))];
    assert_eq!(post(&app, &t, "/api/webhooks/github", &forged, run.clone()).await.status.as_u16(), 401);
    let tampered =
        [("x-github-event", "workflow_run".into()), ("x-hub-signature-256", github_signature(&github_secret, &run))];
    let altered = run.replace("success", "failure");
    assert_eq!(post(&app, &t, "/api/webhooks/github", &tampered, altered).await.status.as_u16(), 401);
    let github_view =
        |o: &CicdOverview| o.integrations.iter().find(|i| i.provider.as_str() == "github").unwrap().clone();
    assert_eq!(github_view(&overview(&app, &t, &admin).await).refused, 3);
    assert!(panel(&app, &t, &member, "component", "petstore").await.recent.is_empty());

    // Signed: a build of the annotated component.
    let delivery = uuid::Uuid::new_v4().to_string();
    let headers = [
        ("x-github-event", "workflow_run".to_owned()),
        ("x-github-delivery", delivery.clone()),
        ("x-hub-signature-256", github_signature(&github_secret, &run)),
    ];
    let accepted = post(&app, &t, "/api/webhooks/github", &headers, run.clone()).await;
    assert_eq!(accepted.status.as_u16(), 202, "{}", accepted.body);
    assert!(accepted.body.contains("component:default/petstore"), "{}", accepted.body);
    // The same delivery again (GitHub's redelivery): 200, nothing new.
    let again = post(&app, &t, "/api/webhooks/github", &headers, run.clone()).await;
    assert_eq!((again.status.as_u16(), again.body.contains("duplicate")), (200, true));
    let recorded =
        |actions: &[(String, String, String)]| actions.iter().filter(|(a, ..)| a == "deployment.recorded").count();
    assert_eq!(recorded(&app.audit_actions(&t.tenant).await), 1);

    // A deployment and its success, then a ping GitHub sends when a hook is created.
    let deployment = |state: &str, status_id: u32| {
        vec![
            ("deployment_id", "145988746".to_owned()),
            ("status_id", status_id.to_string()),
            ("sha", "7638417db6d59f3c431d3e1f261cc637155684cd".into()),
            ("state", state.to_owned()),
            ("started", iso(now - Duration::minutes(4))),
            ("finished", iso(now - Duration::minutes(1))),
        ]
    };
    let created =
        github(&app, &t, &github_secret, "deployment", fixture("github-deployment.json", &deployment("", 0))).await;
    assert_eq!(created.status.as_u16(), 202, "{}", created.body);
    let status = fixture("github-deployment_status.json", &deployment("success", 1));
    assert_eq!(github(&app, &t, &github_secret, "deployment_status", status).await.status.as_u16(), 202);
    let ping = github(&app, &t, &github_secret, "ping", r#"{"zen":"Keep it logically awesome."}"#.into()).await;
    assert_eq!(ping.status.as_u16(), 200, "{}", ping.body);

    // Jenkins, token in the query: a failed production deployment; the owning team is told.
    let jenkins_secret = secret(&app, &t, &admin, "jenkins").await;
    let build = fixture(
        "jenkins-notification.json",
        &[
            ("number", "18".into()),
            ("timestamp_ms", (now - Duration::minutes(3)).timestamp_millis().to_string()),
            ("status", "FAILURE".into()),
        ],
    );
    let refused = post(&app, &t, "/api/webhooks/jenkins?token=bci_nope", &[], build.clone()).await;
    assert_eq!(refused.status.as_u16(), 401);
    let failed = post(&app, &t, &format!("/api/webhooks/jenkins?token={jenkins_secret}"), &[], build).await;
    assert_eq!(failed.status.as_u16(), 202, "{}", failed.body);
    let told: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(&member)).await.json();
    assert!(
        told.items.iter().any(|n| n.title == "A deployment of component:default/petstore failed"),
        "{:?}",
        told.items
    );

    // The member's home page lists it first, marked.
    let home: app::home::model::HomeView = app.call(&t.host, "/api/home", &[], Some(&member)).await.json();
    let first = &home.owned[0];
    assert_eq!((first.name.as_str(), first.deploy_failed), ("petstore", true), "{:?}", home.owned);
    assert!(home.owned[1..].iter().all(|e| !e.deploy_failed));

    // Argo CD, token in a header: a sync of an application nobody annotated is kept unmatched.
    let argo_secret = secret(&app, &t, &admin, "argocd").await;
    let sync = |app_name: &str| {
        fixture(
            "argocd-sync.json",
            &[("app", app_name.into()), ("started", iso(now - Duration::minutes(2))), ("finished", iso(now))],
        )
    };
    let token = [("x-beacon-token", argo_secret.clone())];
    let synced = post(&app, &t, "/api/webhooks/argocd", &token, sync("petstore-prod")).await;
    assert_eq!(synced.status.as_u16(), 202, "{}", synced.body);
    let stray = post(&app, &t, "/api/webhooks/argocd", &token, sync("billing")).await;
    assert_eq!(stray.status.as_u16(), 202);
    assert!(stray.body.contains("argocd/app-name"), "{}", stray.body);
    let shown = overview(&app, &t, &admin).await;
    assert_eq!(shown.unmatched.len(), 1);
    assert_eq!(
        (shown.unmatched[0].project.as_str(), shown.unmatched[0].annotation.as_str()),
        ("billing", "argocd/app-name")
    );

    // Bad input: not JSON, a payload without what identifies the run, an unknown provider.
    let garbage = post(&app, &t, "/api/webhooks/argocd", &token, "not json".into()).await;
    assert_eq!(garbage.status.as_u16(), 422, "{}", garbage.body);
    let empty = post(&app, &t, "/api/webhooks/argocd", &token, "{}".into()).await;
    assert_eq!(empty.status.as_u16(), 422, "{}", empty.body);
    assert_eq!(post(&app, &t, "/api/webhooks/travis", &token, "{}".into()).await.status.as_u16(), 404);

    // The entity page: the build, the GitHub deployment, the Jenkins and Argo CD ones.
    let seen = panel(&app, &t, &member, "component", "petstore").await;
    assert_eq!(seen.recent.len(), 4, "{:?}", seen.recent);
    assert_eq!(seen.recent.iter().filter(|d| d.status == Status::Failure).count(), 1);
    assert_eq!(seen.dora.deployments, 2, "GitHub's and Argo CD's successes");
    assert!((seen.dora.change_failure_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    // The GitHub deployment's commit was made 30 minutes before it finished a minute ago.
    assert!((seen.dora.lead_time_hours.unwrap() - 29.0 / 60.0).abs() < 1e-9, "{:?}", seen.dora.lead_time_hours);
    // The system and the team see their parts' figures.
    assert_eq!(panel(&app, &t, &member, "system", "pets").await.recent.len(), 4);
    assert_eq!(panel(&app, &t, &member, "group", "team-pets").await.dora.deployments, 2);

    // The catalog list filters entities whose deployment failed in the last day.
    let view = app::catalog::view::CatalogView { failed_deploys: true, page: 1, ..Default::default() };
    let listed = app::catalog::service::list_page(&app.db, &app.state.catalog_cache, &t.tenant, &view).await.unwrap();
    let refs: Vec<String> = listed.items.iter().map(|e| format!("{}:{}", e.kind, e.name)).collect();
    assert_eq!(refs, vec!["Component:petstore".to_owned()]);
    assert_eq!(listed.total, 1);
    let events: i64 = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("SELECT count(*) AS n FROM events WHERE kind = 'deployment:status'")
                    .get_result::<Count>(conn)
                    .await
                    .map(|c| c.n)
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    assert!(events >= 4, "each status change is published: {events}");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A scripted fortnight through GitHub, computed by hand: commits at T, deployed at T+2 h
/// (success), T+1 day (failure), T+1 day+3 h (success, commit 1 h before).
/// Frequency 2 in 30 days = 0.47/week; lead times 2 h and 1 h, median 1.5 h; change failure
/// rate 1/3; time to restore 3 h.
#[tokio::test]
async fn a_scripted_history_gives_the_hand_computed_dora_figures() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    catalog(&app, &t).await;
    let secret = secret(&app, &t, &admin, "github").await;
    let base = Utc::now() - Duration::days(14);
    let commits = [
        ("1111111111111111111111111111111111111111", base),
        ("2222222222222222222222222222222222222222", base + Duration::hours(26)),
    ];
    for (i, (sha, at)) in commits.iter().enumerate() {
        let run = fixture(
            "github-workflow_run.json",
            &[
                ("run_id", (100 + i).to_string()),
                ("sha", sha.to_string()),
                ("started", iso(*at + Duration::minutes(1))),
                ("finished", iso(*at + Duration::minutes(9))),
                ("commit_at", iso(*at)),
            ],
        );
        assert_eq!(github(&app, &t, &secret, "workflow_run", run).await.status.as_u16(), 202);
    }
    let deployments = [
        (1, commits[0].0, "success", base + Duration::hours(2)),
        (2, commits[0].0, "failure", base + Duration::hours(24)),
        (3, commits[1].0, "success", base + Duration::hours(27)),
    ];
    for (id, sha, state, finished) in deployments {
        let values = vec![
            ("deployment_id", id.to_string()),
            ("status_id", id.to_string()),
            ("sha", sha.to_owned()),
            ("state", state.to_owned()),
            ("started", iso(finished - Duration::minutes(5))),
            ("finished", iso(finished)),
        ];
        let answer =
            github(&app, &t, &secret, "deployment_status", fixture("github-deployment_status.json", &values)).await;
        assert_eq!(answer.status.as_u16(), 202, "{}", answer.body);
    }
    let dora = panel(&app, &t, &admin, "component", "petstore").await.dora;
    assert_eq!(dora.deployments, 2);
    assert!((dora.per_week - 2.0 * 7.0 / 30.0).abs() < 1e-9, "{}", dora.per_week);
    assert_eq!(dora.lead_time_hours, Some(1.5));
    assert!((dora.change_failure_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(dora.time_to_restore_hours, Some(3.0));
}
