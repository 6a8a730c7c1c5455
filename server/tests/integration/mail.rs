//! Notification mail through the real SMTP catcher `make test` starts (aiosmtpd, writing a
//! Maildir at BEACON_MAILDIR): what arrives, to whom, with which links; retries when the SMTP
//! server is down; the unsubscribe link.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;

use crate::support::{env, TestApp, TestTenant};
use app::auth::model::Role;
use app::notifications::mail::Mailer;
use app::notifications::model::NotificationsPage;

/// Every mail in the catcher's Maildir addressed to `to`, as raw text.
fn mails_to(to: &str) -> Vec<String> {
    let dir = std::path::Path::new(&env("BEACON_MAILDIR")).join("new");
    let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, std::fs::read_to_string(e.path()).ok()?)))
                .filter(|(_, mail)| mail.lines().any(|l| l.starts_with("To:") && l.contains(to)))
                .collect()
        })
        .unwrap_or_default();
    mails.sort();
    mails.into_iter().map(|(_, mail)| mail).collect()
}

/// The decoded `text/plain` part of a raw mail.
fn text_part(mail: &str) -> String {
    let mail = mail.replace("\r\n", "\n");
    let boundary = mail.split_once("boundary=\"").and_then(|(_, rest)| rest.split_once('"')).expect("multipart").0;
    let part = mail
        .split(&format!("--{boundary}"))
        .find(|part| part.trim_start().starts_with("Content-Type: text/plain"))
        .expect("a text part");
    let (headers, body) = part.trim_start().split_once("\n\n").expect("headers end");
    if headers.contains("Content-Transfer-Encoding: base64") {
        let joined: String = body.lines().collect();
        return String::from_utf8(base64::engine::general_purpose::STANDARD.decode(joined).unwrap()).unwrap();
    }
    if headers.contains("Content-Transfer-Encoding: quoted-printable") {
        let joined = body.replace("=\n", "");
        let mut bytes = Vec::new();
        let mut chars = joined.bytes().peekable();
        while let Some(b) = chars.next() {
            if b == b'=' {
                let hex: Vec<u8> = chars.by_ref().take(2).collect();
                bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).unwrap(), 16).unwrap());
            } else {
                bytes.push(b);
            }
        }
        return String::from_utf8(bytes).unwrap();
    }
    body.to_owned()
}

async fn choose(app: &TestApp, t: &TestTenant, cookie: &str, kind: &str, channel: &str) {
    let chosen =
        app.call(&t.host, "/api/notifications/preference", &[("kind", kind), ("channel", channel)], Some(cookie)).await;
    assert!(chosen.status.is_success(), "{} {}", chosen.status, chosen.body);
}

async fn outbox(app: &TestApp, t: &TestTenant) -> Vec<(i32, Option<String>, bool)> {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use app::db::schema::mail_outbox as o;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                o::table
                    .order(o::id)
                    .select((o::attempts, o::last_error, o::sent_at.is_not_null()))
                    .load(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_notification_chosen_by_email_arrives_with_its_links_and_the_link_unsubscribes() {
    let app = TestApp::new().await;
    assert!(app.state.mailer.available(), "make test starts an SMTP catcher");
    let (t, first) = app.signed_in_tenant().await;
    let (by_mail, in_app) =
        (format!("mail@{}.example.com", t.tenant.slug.as_str()), format!("app@{}.example.com", t.tenant.slug.as_str()));
    let (mail_id, mail_admin) = app.member(&t, &first, &by_mail, Role::Admin).await;
    let (_, app_admin) = app.member(&t, &first, &in_app, Role::Admin).await;
    choose(&app, &t, &mail_admin, "tenant_security", "email").await;

    let allowed =
        app.call(&t.host, "/api/ui/catalog/allow-host", &[("pattern", "git.example.com")], Some(&first)).await;
    assert!(allowed.status.is_success(), "{}", allowed.body);
    let app_page: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(&app_admin)).await.json();
    assert_eq!(app_page.unread, 1, "the in-app admin is told in the app");
    assert_eq!(outbox(&app, &t).await.len(), 1, "and only the admin who chose email gets a mail");

    let sent = app.state.mailer.send_due(&app.db, &t.tenant, &app.state.keyring).await.unwrap();
    assert_eq!(sent, 1);
    assert_eq!(outbox(&app, &t).await, vec![(1, None, true)]);
    let mails = mails_to(&by_mail);
    assert_eq!(mails.len(), 1, "one mail, to the right recipient");
    assert!(mails[0].contains("Subject: [Tenant "), "{}", mails[0]);
    assert!(mails[0].contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(mails[0].contains("Content-Type: text/html"), "an HTML part too");
    assert!(mails_to(&in_app).is_empty());
    let text = text_part(&mails[0]);
    assert!(text.starts_with("A host was added to the Locations fetch allowlist"), "{text}");
    let base = format!("http://{}:3000", t.host);
    assert!(text.contains(&format!("Open: {base}/audit/")), "{text}");
    let unsubscribe = text
        .lines()
        .find_map(|l| l.strip_prefix("Stop these emails: "))
        .expect("an unsubscribe link")
        .trim()
        .strip_prefix(&base)
        .expect("on the tenant's host")
        .to_owned();
    assert!(unsubscribe.contains(&format!("user={mail_id}")));

    // The link works signed out: it asks, then (POST) stops the mail of that kind only.
    let asked = app.get(&t.host, &unsubscribe, None).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Stop these emails"));
    let forged = unsubscribe.replace("kind=tenant_security", "kind=import_failed");
    assert_eq!(app.get(&t.host, &forged, None).await.status, StatusCode::BAD_REQUEST, "the token names its kind");
    let post = Request::post(&unsubscribe)
        .header(header::HOST, &t.host)
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let done = app.send(post).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let page: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(&mail_admin)).await.json();
    let security = page.preferences.iter().find(|p| p.kind.as_str() == "tenant_security").unwrap();
    assert_eq!(security.channel.as_str(), "app");
    assert!(app.audit_actions(&t.tenant).await.iter().any(|(a, _, _)| a == "notification.preference_changed"));
}

#[tokio::test]
async fn mail_is_retried_while_the_smtp_server_is_down_and_not_lost() {
    let app = TestApp::new().await;
    let (t, first) = app.signed_in_tenant().await;
    let email = format!("retry@{}.example.com", t.tenant.slug.as_str());
    let (_, second) = app.member(&t, &first, &email, Role::Admin).await;
    choose(&app, &t, &second, "tenant_security", "email").await;
    let allowed =
        app.call(&t.host, "/api/ui/catalog/allow-host", &[("pattern", "retry.example.com")], Some(&first)).await;
    assert!(allowed.status.is_success());

    // Nothing listens on port 1: the attempt fails and the mail waits for the next.
    let down =
        Mailer::new(Some("smtp://127.0.0.1:1"), "Beacon <beacon@tests.example.com>", "http://{tenant}.localhost")
            .unwrap();
    assert_eq!(down.send_due(&app.db, &t.tenant, &app.state.keyring).await.unwrap(), 1);
    let rows = outbox(&app, &t).await;
    assert_eq!((rows[0].0, rows[0].2), (1, false), "{rows:?}");
    assert!(rows[0].1.as_deref().is_some_and(|e| !e.is_empty()), "the error is kept: {rows:?}");
    assert_eq!(app.state.mailer.send_due(&app.db, &t.tenant, &app.state.keyring).await.unwrap(), 0, "not due yet");

    // Its time comes (30 s later); the SMTP server is back.
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("UPDATE mail_outbox SET next_attempt_at = now()")
                    .execute(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(app.state.mailer.send_due(&app.db, &t.tenant, &app.state.keyring).await.unwrap(), 1);
    assert_eq!(outbox(&app, &t).await, vec![(2, None, true)]);
    assert_eq!(mails_to(&email).len(), 1);
}

/// A daily digest: noisy kinds chosen as a digest are not mailed one by one; a day after the
/// choice one mail lists them (and only them), once.
#[tokio::test]
async fn a_daily_digest_lists_the_chosen_kinds_once_a_day() {
    use app::notifications::model::NotificationKind;
    use app::notifications::service::{notify, Notice};

    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("digest@{}.example.com", t.tenant.slug.as_str());
    let (user_id, member) = app.member(&t, &admin, &email, Role::Developer).await;
    let user_id: uuid::Uuid = user_id.parse().unwrap();
    choose(&app, &t, &member, "entity_changed", "digest").await;
    let refused = app
        .call(
            &t.host,
            "/api/notifications/preference",
            &[("kind", "account_security"), ("channel", "digest")],
            Some(&member),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "security is told at once: {}", refused.body);

    let notices = [
        (NotificationKind::EntityChanged, "component:default/a was changed"),
        (NotificationKind::EntityChanged, "component:default/b was changed"),
        (NotificationKind::OwnershipAssigned, "component:default/c is now owned by group:default/x"),
        (NotificationKind::EntityChanged, "component:default/d was deleted"),
    ];
    for (kind, title) in notices {
        let notice =
            Notice { kind, title: title.into(), body: "By someone else.".into(), link: Some("/catalog".into()) };
        app.db
            .with_tenant(&t.tenant, move |conn| Box::pin(async move { notify(conn, user_id, notice).await }))
            .await
            .unwrap();
    }
    assert!(outbox(&app, &t).await.is_empty(), "nothing is mailed one by one");
    let page: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(&member)).await.json();
    assert_eq!(page.unread, 4, "all are in the app at once");

    let mailer = &app.state.mailer;
    let now = chrono::Utc::now();
    assert_eq!(mailer.send_digests(&app.db, &t.tenant, &app.state.keyring, now).await.unwrap(), 0, "not a day yet");
    let tomorrow = now + chrono::Duration::hours(25);
    assert_eq!(mailer.send_digests(&app.db, &t.tenant, &app.state.keyring, tomorrow).await.unwrap(), 1);
    assert_eq!(mailer.send_digests(&app.db, &t.tenant, &app.state.keyring, tomorrow).await.unwrap(), 0, "once a day");
    let mails = mails_to(&email);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Your daily digest: 3 notifications"), "{}", mails[0]);
    let text = text_part(&mails[0]);
    for title in
        ["component:default/a was changed", "component:default/b was changed", "component:default/d was deleted"]
    {
        assert!(text.contains(title), "{title} in {text}");
    }
    assert!(!text.contains("is now owned"), "only the kinds chosen as a digest");
    assert!(text.contains("Stop these emails: "), "{text}");
}
