//! Retention and archive of the audit log: months past retention go to object storage (a real
//! S3 API server, s3rver, and a directory), verify on their own, leave the live chain
//! verifying, come back read-only on demand, and survive an archiver killed half-way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use diesel_async::SimpleAsyncConnection;

use app::audit::archive::{month_of, ArchiveStore, Archiver};
use app::audit::archive_repo;
use app::audit::model::AuditAction;
use app::audit::service::{self, AuditEvent, AuditSource};
use app::audit::verify;
use app::auth::model::Role;
use app::db::Connection;
use app::error::AppError;
use app::keyring::Keyring;
use app::settings::api::UsersView;
use diesel_async::AsyncConnection;

use crate::privacy::{join, tables_naming};
use crate::support::{env, TestApp, TestTenant};

/// The first day of the month `back` months before now.
fn months_ago(back: u32) -> NaiveDate {
    month_of(Utc::now()) - Months::new(back)
}

fn at(month: NaiveDate, day: u32, second: i64) -> DateTime<Utc> {
    month.with_day(day).unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc() + chrono::Duration::seconds(second)
}

async fn sql(app: &TestApp, t: &TestTenant, statements: &str) {
    let statements = statements.to_owned();
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move { conn.batch_execute(&statements).await.map_err(AppError::from) })
        })
        .await
        .expect("SQL runs");
}

/// `count` chained events at one-second steps from `from`, in one transaction (as the app writes them).
async fn chained(app: &TestApp, t: &TestTenant, from: DateTime<Utc>, count: i64, actor: &str) {
    let source = AuditSource { actor: actor.to_owned(), ip: Some("10.9.8.7".into()), ..AuditSource::default() };
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                for i in 0..count {
                    let event =
                        AuditEvent::success(AuditAction::CatalogEntitiesImported, format!("component:default/s{i}"))
                            .details(serde_json::json!({ "n": i }));
                    service::record_at(conn, &source, event, from + chrono::Duration::seconds(i)).await?;
                }
                Ok::<_, AppError>(())
            })
        })
        .await
        .expect("events written");
}

/// Events loaded around the app (no hashes: outside the chain, like rows from before it).
async fn bulk(app: &TestApp, t: &TestTenant, from: DateTime<Utc>, count: i64) {
    sql(
        app,
        t,
        &format!(
            "INSERT INTO audit_events (occurred_at, actor, action, target, outcome, severity, ip, details)
             SELECT '{}'::timestamptz + g * interval '1 millisecond', 'bulk' || (g % 50) || '@example.com',
                    'catalog.entities_imported', 'component:default/b' || g, 'success', 'medium', '10.0.0.1',
                    jsonb_build_object('g', g)
               FROM generate_series(1, {count}) AS g",
            from.to_rfc3339()
        ),
    )
    .await;
}

async fn count_in(app: &TestApp, t: &TestTenant, month: NaiveDate) -> i64 {
    let bounds = app::audit::archive_file::month_bounds(month);
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move { archive_repo::count_between(conn, bounds).await.map_err(AppError::from) })
        })
        .await
        .unwrap()
}

async fn partitions(app: &TestApp, t: &TestTenant) -> Vec<NaiveDate> {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move { archive_repo::partitioned_months(conn).await.map_err(AppError::from) })
        })
        .await
        .unwrap()
}

/// History five and four months back (chained, with another month's events committed in
/// between, and bulk rows outside the chain), the partitions it needs, and a 30-day retention.
async fn history(app: &TestApp, t: &TestTenant) -> (NaiveDate, NaiveDate) {
    let (old, older) = (months_ago(4), months_ago(5));
    let (since, now) = (at(older, 1, 0), Utc::now());
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                archive_repo::ensure_months(conn, since, now).await?;
                archive_repo::set_hot_days(conn, 30, "test").await?;
                Ok::<_, AppError>(())
            })
        })
        .await
        .unwrap();
    chained(app, t, at(older, 3, 0), 300, "ada@example.com").await;
    // Committed between two stretches of the older month: positions it must skip.
    chained(app, t, Utc::now(), 5, "now@example.com").await;
    chained(app, t, at(older, 20, 0), 200, "bob@example.com").await;
    bulk(app, t, at(older, 10, 0), 1_000).await;
    chained(app, t, at(old, 2, 0), 50, "cy@example.com").await;
    (older, old)
}

fn keyring() -> Keyring {
    Keyring::parse(&env("BEACON_SECRET_KEYS")).unwrap()
}

/// A real S3 API server on loopback (s3rver, from the repository's npm packages), stopped on drop.
struct S3Server {
    _child: KillOnDrop,
    endpoint: String,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("beacon-{name}-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl S3Server {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempdir::Dir::new("s3rver");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let child = KillOnDrop(
            Command::new("node")
                .arg(root.join("node_modules/s3rver/bin/s3rver.js"))
                .args([
                    "--address",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--silent",
                    "--configure-bucket",
                    "beacon-audit",
                ])
                .arg("--directory")
                .arg(&dir.0)
                .stdout(Stdio::null())
                .spawn()
                .expect("s3rver is installed by scripts/setup.sh (npm ci)"),
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return S3Server { _child: child, endpoint: format!("http://127.0.0.1:{port}"), _dir: dir };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("s3rver did not listen within 10 s");
    }

    fn store(&self) -> ArchiveStore {
        let options = [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "S3RVER"),
            ("aws_secret_access_key", "S3RVER"),
            ("aws_region", "us-east-1"),
        ];
        ArchiveStore::open("s3://beacon-audit/archives", &options).unwrap()
    }
}

#[tokio::test]
async fn months_past_retention_go_to_s3_verify_on_their_own_and_come_back_read_only() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let (older, old) = history(&app, &t).await;
    service::checkpoint(&app.db, &t.tenant, &keyring()).await.unwrap();
    let s3 = S3Server::start();
    let archiver = Archiver { db: app.db.clone(), store: s3.store(), keyring: keyring() };
    let source = AuditSource::command_line();

    let pass = archiver.pass(&t.tenant, Utc::now(), &source).await.unwrap();
    let months: Vec<NaiveDate> = pass.archived.iter().map(|m| m.month).collect();
    assert!(months.contains(&older) && months.contains(&old), "{months:?}");
    assert!(!months.contains(&month_of(Utc::now())), "the current month stays");
    let manifest = pass.archived.iter().find(|m| m.month == older).unwrap();
    assert_eq!((manifest.events, manifest.unchained), (1_500, 1_000));
    assert_eq!(manifest.other_seqs.len(), 5, "the 5 events of this month committed in between");
    assert!(!partitions(&app, &t).await.contains(&older), "the partition is dropped");
    assert_eq!(count_in(&app, &t, older).await, 0);

    // Each archive verifies on its own (from storage), and the live chain still verifies.
    for month in [older, old] {
        let check = archiver.check(&t.tenant, month).await.unwrap();
        assert_eq!(check.problem, None);
    }
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    assert_eq!(report.problem, None, "{}", report.summary());
    assert_eq!(report.archived, 550);
    // A second pass finds nothing more to do.
    assert!(archiver.pass(&t.tenant, Utc::now(), &source).await.unwrap().archived.is_empty());

    // Restored: searchable again, read-only, and the chain checks its events one by one.
    let restored = archiver.restore(&t.tenant, older, &source).await.unwrap();
    assert_eq!(restored.events, 1_500);
    assert_eq!(count_in(&app, &t, older).await, 1_500);
    let view = app::audit::view::AuditView::from_query(|k| (k == "actor").then(|| "bob@example.com".to_owned()));
    let page = service::list(&app.db, &t.tenant, &view, 50).await.unwrap();
    assert_eq!(page.items.len(), 50, "the restored month is searched like any other");
    let written = {
        let when = at(older, 5, 0);
        app.db
            .with_tenant(&t.tenant, move |conn| {
                Box::pin(async move {
                    service::record_at(
                        conn,
                        &AuditSource::command_line(),
                        AuditEvent::success(AuditAction::AuditVerified, "x"),
                        when,
                    )
                    .await
                })
            })
            .await
    };
    assert!(written.is_err(), "a restored month takes no new events");
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    assert_eq!((report.problem.clone(), report.archived), (None, 50), "{}", report.summary());

    archiver.put_back(&t.tenant, older, &source).await.unwrap();
    assert_eq!(count_in(&app, &t, older).await, 0);
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    assert_eq!((report.problem, report.archived), (None, 550));
    let actions: Vec<String> = app.audit_actions(&t.tenant).await.into_iter().map(|(action, _, _)| action).collect();
    for action in ["audit.month_archived", "audit.month_restored", "audit.month_returned"] {
        assert!(actions.iter().any(|a| a == action), "{action} recorded");
    }
}

#[tokio::test]
async fn a_directory_archive_detects_a_changed_file_a_forged_manifest_and_a_lost_record() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let (older, _) = history(&app, &t).await;
    let dir = tempdir::Dir::new("archive");
    let store = ArchiveStore::open(dir.0.to_str().unwrap(), &[]).unwrap();
    let archiver = Archiver { db: app.db.clone(), store, keyring: keyring() };
    archiver.pass(&t.tenant, Utc::now(), &AuditSource::command_line()).await.unwrap();
    let month_dir = dir.0.join(format!("tenant-{}/{}", t.tenant.id.0, older.format("%Y-%m")));
    assert_eq!(archiver.check(&t.tenant, older).await.unwrap().problem, None);

    // One event rewritten in the file: named, by its hashes.
    let events = month_dir.join("events.ndjson.gz");
    let original = std::fs::read(&events).unwrap();
    let text = gunzip(&original).replace("ada@example.com", "eve@example.com");
    std::fs::write(&events, gzip(&text)).unwrap();
    let problem = archiver.check(&t.tenant, older).await.unwrap().problem.expect("found");
    assert!(problem.contains("event #") && problem.contains("was changed"), "{problem}");

    // The manifest edited to match: its signature fails.
    let manifest_path = month_dir.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let changed = gzip(&text);
    manifest["object_bytes"] = changed.len().into();
    manifest["object_sha256"] = app::audit::chain::hex(&sha256(&changed)).into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let problem = archiver.check(&t.tenant, older).await.unwrap().problem.expect("found");
    assert!(problem.contains("wrong signature"), "{problem}");
    std::fs::write(&events, &original).unwrap();

    // The archive record removed from the database: the positions it accounted for are missing.
    sql(&app, &t, &format!("DELETE FROM audit_archives WHERE month = '{older}'")).await;
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    let problem = report.problem.expect("the archived events count as removed");
    assert_eq!(problem.kind, app::audit::model::TamperKind::Removed);
}

#[tokio::test]
async fn an_archiver_killed_half_way_loses_and_duplicates_nothing() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let (older, _) = history(&app, &t).await;
    for part in 0..2 {
        bulk(&app, &t, at(older, 15 + part, 0), 50_000).await;
    }
    let dir = tempdir::Dir::new("archive-kill");
    let month_dir = dir.0.join(format!("tenant-{}/{}", t.tenant.id.0, older.format("%Y-%m")));
    let archive = |dir: &PathBuf| {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["audit", "archive", "--tenant", t.tenant.slug.as_str()])
            .env("BEACON_AUDIT_ARCHIVE", dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    let mut first = KillOnDrop(archive(&dir.0));
    // Killed while the month's events are being uploaded (its staging file exists).
    let started = std::time::Instant::now();
    loop {
        let uploading = std::fs::read_dir(&month_dir)
            .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().contains('#')))
            .unwrap_or(false);
        if uploading {
            break;
        }
        assert!(first.0.try_wait().unwrap().is_none(), "the archiver finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "the archiver never started uploading");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert_eq!(count_in(&app, &t, older).await, 101_500, "nothing is dropped before the archive is complete");
    assert!(partitions(&app, &t).await.contains(&older));

    let second = archive(&dir.0).wait_with_output().unwrap();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(count_in(&app, &t, older).await, 0);
    let store = ArchiveStore::open(dir.0.to_str().unwrap(), &[]).unwrap();
    let archiver = Archiver { db: app.db.clone(), store, keyring: keyring() };
    let check = archiver.check(&t.tenant, older).await.unwrap();
    assert_eq!((check.problem, check.events, check.unchained), (None, 101_500, 101_000));
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    assert_eq!(report.problem, None, "{}", report.summary());
    // Restored (under the primary key, so no event twice), every event is there.
    archiver.restore(&t.tenant, older, &AuditSource::command_line()).await.unwrap();
    assert_eq!(count_in(&app, &t, older).await, 101_500);
}

/// Whether erasures wait for the archiver (queued, or a replaced file still to delete).
async fn erasures_wait(app: &TestApp, t: &TestTenant) -> bool {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move { archive_repo::erasure_work_waits(conn).await.map_err(AppError::from) })
        })
        .await
        .unwrap()
}

/// Waits (a minute at most) for the archiver to carry out every queued erasure.
async fn erasures_done(app: &TestApp, t: &TestTenant) {
    for _ in 0..600 {
        if !erasures_wait(app, t).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the archiver did not carry out the erasures within a minute");
}

/// Restores a month once the server's own archiver, started by an erasure, has let go of the tenant.
async fn restore_when_free(archiver: &Archiver, t: &TestTenant, month: NaiveDate) {
    for _ in 0..100 {
        match archiver.restore(&t.tenant, month, &AuditSource::command_line()).await {
            Ok(_) => return,
            Err(e) if e.to_string().contains("being archived right now") => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("restoring {month}: {e}"),
        }
    }
    panic!("the tenant's archiver lock was not let go within ten seconds");
}

/// Erases a member through the API, as an admin does: the pseudonym and the archived months queued.
async fn erase(app: &TestApp, t: &TestTenant, admin: &str, user_id: &str, email: &str) -> (String, usize) {
    let erased =
        app.call(&t.host, "/api/settings/users/erase", &[("user_id", user_id), ("confirm", email)], Some(admin)).await;
    assert!(erased.status.is_success(), "{} {}", erased.status, erased.body);
    let view: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(admin)).await.json();
    let report = view.erasure.expect("the report is shown once");
    (report.pseudonym, report.archived_months_queued)
}

/// Every file under `root` (archives decompressed) as one text, and the files' paths.
fn files_text(root: &Path) -> (String, Vec<String>) {
    let (mut text, mut names, mut dirs) = (String::new(), Vec::new(), vec![root.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for path in std::fs::read_dir(dir).unwrap().flatten().map(|entry| entry.path()) {
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            match path.extension().is_some_and(|e| e == "gz") {
                true => text.push_str(&gunzip(&bytes)),
                false => text.push_str(&String::from_utf8_lossy(&bytes)),
            }
            names.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    (text, names)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_reaches_archived_months_which_still_verify_on_their_own() {
    let dir = tempdir::Dir::new("archive-erasure");
    let app = TestApp::init().audit_archive(dir.0.to_str().unwrap()).start().await;
    let (t, admin) = app.signed_in_tenant().await;
    let slug = t.tenant.slug.as_str().to_owned();
    let (erin, finn) = (format!("erin@{slug}.example.com"), format!("finn@{slug}.example.com"));
    let (erin_id, _) = join(&app, &t, &admin, &erin, "Erin Archived", Role::Developer).await;
    let (finn_id, _) = join(&app, &t, &admin, &finn, "Finn Archived", Role::Developer).await;
    let (older, old) = history(&app, &t).await;
    chained(&app, &t, at(older, 25, 0), 20, &erin).await;
    chained(&app, &t, at(old, 25, 0), 3, &erin).await;
    chained(&app, &t, at(old, 26, 0), 4, &finn).await;
    let store = ArchiveStore::open(dir.0.to_str().unwrap(), &[]).unwrap();
    let archiver = Archiver { db: app.db.clone(), store, keyring: keyring() };
    let archived = archiver.pass(&t.tenant, Utc::now(), &AuditSource::command_line()).await.unwrap().archived;
    assert!(archived.iter().any(|m| m.month == older) && archived.iter().any(|m| m.month == old));
    assert!(files_text(&dir.0).0.contains(&erin));

    // Erased: the request queues every archived month, the archiver writes them again at once.
    let (pseudonym, queued) = erase(&app, &t, &admin, &erin_id, &erin).await;
    assert_eq!(queued, archived.len(), "every archived month");
    erasures_done(&app, &t).await;
    let (text, names) = files_text(&dir.0);
    assert!(!text.contains(&erin) && !text.contains("Erin Archived"), "nothing in the archives names her");
    assert!(text.contains(&pseudonym) && text.contains(&finn));
    let month_files = |month: NaiveDate| {
        let prefix = format!("tenant-{}/{}/", t.tenant.id.0, month.format("%Y-%m"));
        names.iter().filter(|n| n.starts_with(&prefix)).count()
    };
    assert_eq!((month_files(older), month_files(old)), (2, 2), "one events file and its manifest: {names:?}");
    // Each archive still verifies on its own, and the live chain with them.
    for (month, erased) in [(older, 20), (old, 3)] {
        let check = archiver.check(&t.tenant, month).await.unwrap();
        assert_eq!((check.problem, check.erased), (None, erased));
    }
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    assert_eq!((report.problem.clone(), report.archived), (None, 577), "{}", report.summary());
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(action, _, _)| action == "audit.archive_erased").count(), 2);
    assert_eq!(tables_naming(&app, &t, &[&erin, "Erin Archived"]).await, vec![], "nor does the database");
    // Restored, the month shows her events under the pseudonym.
    restore_when_free(&archiver, &t, older).await;
    let view = app::audit::view::AuditView::from_query(|k| (k == "actor").then(|| pseudonym.clone()));
    let page = service::list(&app.db, &t.tenant, &view, 50).await.unwrap();
    let in_older = page.items.iter().filter(|e| month_of(e.occurred_at) == older).count();
    assert_eq!(in_older, 20);

    // Finn is erased while another archiver holds the tenant, and a rewrite that crashed left
    // a file with him in it: the next pass erases him and deletes what the crash left.
    let mut holder = Connection::establish(&env("DATABASE_URL")).await.unwrap();
    assert!(archive_repo::try_lock(&mut holder, t.tenant.id.0).await.unwrap());
    let (_, queued) = erase(&app, &t, &admin, &finn_id, &finn).await;
    assert_eq!(queued, archived.len());
    let month_dir = dir.0.join(format!("tenant-{}/{}", t.tenant.id.0, old.format("%Y-%m")));
    let stray = month_dir.join("events-1.ndjson.gz");
    std::fs::write(&stray, gzip(&format!("{finn}\n"))).unwrap();
    // An upload killed half-way leaves its staging file, which the store's listing never shows.
    let staging = month_dir.join("events-2.ndjson.gz#4");
    std::fs::write(&staging, gzip(&format!("{finn}\n"))).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(erasures_wait(&app, &t).await, "held off while the other archiver works");
    // Let go explicitly: a dropped connection's lock lasts until the server notices.
    let unlock = format!("SELECT pg_advisory_unlock(hashtext('beacon audit archive'), {})", t.tenant.id.0);
    holder.batch_execute(&unlock).await.unwrap();
    // The server's own pass, started by the erasure, may still be waiting for the lock: then it
    // does the work and this one is skipped. Either way the outcome below is what counts.
    archiver.pass(&t.tenant, Utc::now(), &AuditSource::command_line()).await.unwrap();
    erasures_done(&app, &t).await;
    assert!(!stray.exists() && !staging.exists());
    assert!(!files_text(&dir.0).0.contains(&finn));
    let check = archiver.check(&t.tenant, old).await.unwrap();
    assert_eq!((check.problem, check.erased), (None, 7));
    let report = verify::verify(&app.db, &t.tenant, &keyring()).await.unwrap();
    assert_eq!(report.problem, None, "{}", report.summary());
}

/// A child process that does not outlive a failing test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}
