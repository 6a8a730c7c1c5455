//! Mail: the notifications members chose to receive by email. `notify` queues a row in the
//! tenant's `mail_outbox` inside the transaction that made the notification; the insert
//! announces the tenant on `beacon_mail` at commit, and every server's mailer wakes for it
//! (`events::listener`), claims due rows with `SKIP LOCKED` and a lease, and sends them with no
//! transaction open. A failure is retried after 30 s, 1, 2, 4 … minutes (at most an hour
//! apart) and given up a day after the notification; a sweep every minute picks up retries
//! and mail a stopped server had claimed.
//!
//! Members may choose a daily digest for noisy kinds instead: the sweep claims each member
//! whose last digest is a day old (one server wins the claim) and mails the notifications of
//! those kinds since, in one message; a digest that fails is claimed again at the next sweep.
//!
//! Every mail has a text and an HTML body, a link to act on it, and an unsubscribe link that
//! works without signing in (an HMAC of tenant, member and kind under the keyring), announced
//! with `List-Unsubscribe` and RFC 8058's one-click `List-Unsubscribe-Post`.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use hmac::{Hmac, KeyInit, Mac};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use uuid::Uuid;

use super::model::{Channel, NotificationKind, NotificationView, UNSUBSCRIBE_PATH};
use super::repo;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::escape;
use crate::events::due::{backoff, DueTenants, GIVE_UP_AFTER, MAX_ERROR};
use crate::keyring::{Keyring, Purpose};
use crate::tenancy::model::Tenant;

/// Mails one round sends per tenant before the next tenant's turn.
const BATCH: i64 = 20;
/// How long a claimed mail is this server's to send: far longer than one SMTP exchange.
const LEASE_SECONDS: i64 = 120;
/// How long one mail may take to hand to the SMTP server.
const SEND_BUDGET: Duration = Duration::from_secs(30);
/// How often every tenant is looked at, for retries and mail a stopped server had claimed.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Notifications a digest lists; the rest are counted, one link away.
const DIGEST_ITEMS: i64 = 50;
#[derive(Clone)]
pub struct Mailer(Arc<Inner>);

struct Inner {
    /// `None`: no SMTP server configured; nothing is offered or sent by mail.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    /// The portal's address for a tenant, `{tenant}` standing for its slug.
    public_url: String,
    due: DueTenants,
}

impl Mailer {
    /// `smtp_url`: `smtps://user:password@host:465` (TLS), `smtp://…:587?tls=required`
    /// (STARTTLS), or plain `smtp://127.0.0.1:1025` for a local catcher; none: mail is off.
    pub fn new(smtp_url: Option<&str>, from: &str, public_url: &str) -> AppResult<Self> {
        let transport = smtp_url
            .filter(|url| !url.trim().is_empty())
            .map(|url| {
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())
                    .map(|builder| builder.timeout(Some(SEND_BUDGET)).build())
                    .map_err(|e| AppError::invalid(format!("BEACON_SMTP_URL: {e}")))
            })
            .transpose()?;
        let from = from.parse().map_err(|e| AppError::invalid(format!("BEACON_MAIL_FROM `{from}`: {e}")))?;
        Ok(Self(Arc::new(Inner {
            transport,
            from,
            public_url: public_url.trim_end_matches('/').to_owned(),
            due: DueTenants::default(),
        })))
    }

    pub fn available(&self) -> bool {
        self.0.transport.is_some()
    }

    /// Rung with a tenant's schema when it has mail to send (heard on `beacon_mail`).
    pub fn due(&self) -> &DueTenants {
        &self.0.due
    }

    /// The portal's base URL for `tenant`.
    pub fn base_url(&self, tenant: &Tenant) -> String {
        self.0.public_url.replace("{tenant}", tenant.slug.as_str())
    }

    /// Sends mail as it is announced, and sweeps every tenant every minute; runs for ever.
    pub async fn run(self, db: Database, keyring: Keyring) {
        if !self.available() {
            return;
        }
        let due = self.0.due.clone();
        let round = |tenant: Tenant| {
            let (mailer, db, keyring) = (self.clone(), db.clone(), keyring.clone());
            async move {
                if mailer.send_due(&db, &tenant, &keyring).await? as i64 == BATCH {
                    return Ok(true);
                }
                mailer.send_digests(&db, &tenant, &keyring, Utc::now()).await?;
                Ok(false)
            }
        };
        due.serve(db.clone(), SWEEP_EVERY, "mailer", round).await
    }

    /// One round for one tenant: claims up to `BATCH` due mails and tries each once; returns
    /// how many it tried.
    pub async fn send_due(&self, db: &Database, tenant: &Tenant, keyring: &Keyring) -> AppResult<usize> {
        let Some(transport) = &self.0.transport else { return Ok(0) };
        let claimed: Vec<DueMail> = db
            .with_tenant(tenant, |conn| {
                Box::pin(async move {
                    diesel::sql_query(format!(
                        "WITH due AS (
                            SELECT id FROM mail_outbox
                             WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()
                             ORDER BY id LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
                         UPDATE mail_outbox o SET next_attempt_at = now() + interval '{LEASE_SECONDS} seconds'
                           FROM due, notifications n, control.users u
                          WHERE o.id = due.id AND n.id = o.notification_id AND u.id = n.user_id
                         RETURNING o.id, o.attempts, n.created_at, n.user_id, n.kind, n.title, n.body, n.link,
                                   u.email, u.display_name"
                    ))
                    .load(conn)
                    .await
                    .map_err(AppError::from)
                })
            })
            .await?;
        let tried = claimed.len();
        for mail in claimed {
            let outcome = match self.message(tenant, keyring, &mail) {
                Ok(message) => match tokio::time::timeout(SEND_BUDGET, transport.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer from the SMTP server within {} s", SEND_BUDGET.as_secs())),
                },
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = &outcome {
                tracing::warn!(tenant = %tenant.slug, mail = mail.id, error, "a notification mail was not sent");
            }
            record(db, tenant, &mail, outcome).await?;
        }
        Ok(tried)
    }

    fn message(&self, tenant: &Tenant, keyring: &Keyring, mail: &DueMail) -> AppResult<Message> {
        let kind = NotificationKind::parse(&mail.kind)?;
        let base = self.base_url(tenant);
        let open = mail.link.as_deref().map(|link| format!("{base}{link}"));
        let why = format!("You get this because you chose email for “{}” in {}.", kind.label(), tenant.name);
        let text = format!(
            "{title}\n\n{body}\n{open}",
            title = mail.title,
            body = mail.body,
            open = open.as_deref().map(|o| format!("\nOpen: {o}\n")).unwrap_or_default(),
        );
        let html = format!(
            r#"<h1 style="font-size:18px">{title}</h1><p>{body}</p>{open}"#,
            title = escape::html(&mail.title),
            body = escape::html(&mail.body),
            open = open
                .as_deref()
                .map(|o| format!(r#"<p><a href="{}">Open in Beacon</a></p>"#, escape::html(o)))
                .unwrap_or_default(),
        );
        let to = Recipient { user_id: mail.user_id, email: &mail.email, display_name: &mail.display_name };
        self.envelope(tenant, keyring, to, kind, format!("[{}] {}", tenant.name, mail.title), text, html, &why)
    }

    /// A mail to `to` with a text and an HTML body, the reason they get it, and the links to
    /// stop mail of `kind` (also as `List-Unsubscribe`, one click) and to choose how they are told.
    #[allow(clippy::too_many_arguments)]
    fn envelope(
        &self,
        tenant: &Tenant,
        keyring: &Keyring,
        to: Recipient<'_>,
        kind: NotificationKind,
        subject: String,
        text: String,
        html: String,
        why: &str,
    ) -> AppResult<Message> {
        let base = self.base_url(tenant);
        let unsubscribe = format!(
            "{base}{UNSUBSCRIBE_PATH}?user={}&kind={}&token={}",
            to.user_id,
            kind.as_str(),
            unsubscribe_token(keyring, tenant, to.user_id, kind)
        );
        let settings = format!("{base}/notifications");
        let text =
            format!("{text}\n--\n{why}\nStop these emails: {unsubscribe}\nChoose how you are told: {settings}\n");
        let html = format!(
            r#"<!DOCTYPE html><html><body style="font-family:system-ui,sans-serif;color:#0f172a">{html}
<hr style="border:none;border-top:1px solid #e2e8f0"><p style="font-size:12px;color:#64748b">{why}<br>
<a href="{unsubscribe}">Stop these emails</a> · <a href="{settings}">Choose how you are told</a></p></body></html>"#,
            why = escape::html(why),
            unsubscribe = escape::html(&unsubscribe),
            settings = escape::html(&settings),
        );
        let address = to.email.parse().map_err(|e| AppError::invalid(format!("the address `{}`: {e}", to.email)))?;
        let mut message = Message::builder()
            .from(self.0.from.clone())
            .to(Mailbox::new(Some(to.display_name.to_owned()), address))
            .subject(subject);
        let headers = [
            ("List-Unsubscribe", format!("<{unsubscribe}>")),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
        ];
        for (name, value) in headers {
            message = message.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(name), value));
        }
        message
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
            )
            .map_err(AppError::internal)
    }

    /// Sends the daily digests that are due at `now` for `tenant`: to each member who chose a
    /// digest for some kind and got none for a day, one mail listing the notifications of those
    /// kinds since the last (none when there were none). Returns how many mails went out.
    pub async fn send_digests(
        &self,
        db: &Database,
        tenant: &Tenant,
        keyring: &Keyring,
        now: DateTime<Utc>,
    ) -> AppResult<usize> {
        let Some(transport) = &self.0.transport else { return Ok(0) };
        let due = db
            .with_tenant(tenant, move |conn| Box::pin(async move { repo::claim_digests(conn, now, BATCH).await }))
            .await?;
        let mut sent = 0;
        for digest in due {
            let user_id = digest.user_id;
            let since = digest.since;
            let (items, total) = db
                .with_tenant(tenant, move |conn| {
                    Box::pin(async move {
                        let chosen: Vec<&str> = repo::channels(conn, user_id)
                            .await?
                            .into_iter()
                            .filter(|(kind, channel)| *channel == Channel::Digest && kind.may_be_digested())
                            .map(|(kind, _)| kind.as_str())
                            .collect();
                        repo::since_of_kinds(conn, user_id, &chosen, since, DIGEST_ITEMS).await
                    })
                })
                .await?;
            let Some(kind) = <[NotificationView]>::first(&items).map(|n| n.kind) else { continue };
            let outcome = match self.digest(tenant, keyring, &digest, &items, total, kind) {
                Ok(message) => match tokio::time::timeout(SEND_BUDGET, transport.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer from the SMTP server within {} s", SEND_BUDGET.as_secs())),
                },
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => sent += 1,
                Err(error) => {
                    tracing::warn!(tenant = %tenant.slug, %user_id, error, "a digest was not sent; it is tried again");
                    db.with_tenant(tenant, move |conn| {
                        Box::pin(async move { repo::unclaim_digest(conn, user_id, since).await })
                    })
                    .await?;
                }
            }
        }
        Ok(sent)
    }

    fn digest(
        &self,
        tenant: &Tenant,
        keyring: &Keyring,
        digest: &repo::DueDigest,
        items: &[NotificationView],
        total: i64,
        kind: NotificationKind,
    ) -> AppResult<Message> {
        let base = self.base_url(tenant);
        let more = total - items.len() as i64;
        let subject =
            format!("[{}] Your daily digest: {total} notification{}", tenant.name, if total == 1 { "" } else { "s" });
        let mut text = format!("{subject}\n");
        let mut html = format!(r#"<h1 style="font-size:18px">{}</h1><ul>"#, escape::html(&subject));
        for item in items {
            let link = item.link.as_deref().map(|l| format!("{base}{l}"));
            text.push_str(&format!(
                "\n- {}: {}{}\n",
                item.title,
                item.body,
                link.as_deref().map(|l| format!("\n  {l}")).unwrap_or_default()
            ));
            html.push_str(&format!(
                "<li><b>{}</b>: {}{}</li>",
                escape::html(&item.title),
                escape::html(&item.body),
                link.as_deref().map(|l| format!(r#" <a href="{}">Open</a>"#, escape::html(l))).unwrap_or_default()
            ));
        }
        html.push_str("</ul>");
        if more > 0 {
            text.push_str(&format!("\n… and {more} more: {base}/notifications\n"));
            html.push_str(&format!(
                r#"<p><a href="{}">{more} more on the notifications page</a></p>"#,
                escape::html(&format!("{base}/notifications"))
            ));
        }
        let why = format!("You get this daily because you chose a digest for some kinds in {}.", tenant.name);
        let to = Recipient { user_id: digest.user_id, email: &digest.email, display_name: &digest.display_name };
        self.envelope(tenant, keyring, to, kind, subject, text, html, &why)
    }
}

/// Who a mail goes to.
struct Recipient<'a> {
    user_id: Uuid,
    email: &'a str,
    display_name: &'a str,
}

/// A claimed mail, with what it says and to whom.
#[derive(diesel::QueryableByName)]
struct DueMail {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Nullable<Text>)]
    link: Option<String>,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    display_name: String,
}

/// Records an attempt: sent, or failed and due again later (given up a day after the
/// notification was made).
async fn record(db: &Database, tenant: &Tenant, mail: &DueMail, outcome: Result<(), String>) -> AppResult<()> {
    let (id, attempts, created_at) = (mail.id, mail.attempts + 1, mail.created_at);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            match outcome {
                Ok(()) => {
                    diesel::sql_query(
                        "UPDATE mail_outbox SET sent_at = now(), attempts = $2, last_error = NULL WHERE id = $1",
                    )
                    .bind::<BigInt, _>(id)
                    .bind::<Integer, _>(attempts)
                    .execute(conn)
                    .await?
                }
                Err(error) => {
                    let now = Utc::now();
                    let give_up = now - created_at > GIVE_UP_AFTER;
                    let error: String = error.chars().take(MAX_ERROR).collect();
                    diesel::sql_query(
                        "UPDATE mail_outbox SET attempts = $2, last_error = $3, next_attempt_at = $4, \
                         gave_up_at = CASE WHEN $5 THEN now() END WHERE id = $1",
                    )
                    .bind::<BigInt, _>(id)
                    .bind::<Integer, _>(attempts)
                    .bind::<Text, _>(error)
                    .bind::<Timestamptz, _>(now + backoff(attempts))
                    .bind::<diesel::sql_types::Bool, _>(give_up)
                    .execute(conn)
                    .await?
                }
            };
            Ok(())
        })
    })
    .await
}

fn unsubscribe_mac(key: &[u8; 32], tenant: &Tenant, user_id: Uuid, kind: NotificationKind) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("unsubscribe|{}|{user_id}|{}", tenant.id.0, kind.as_str()).as_bytes());
    mac
}

/// The token of an unsubscribe link: `<key id>.<base64url HMAC>`, valid for ever for this
/// tenant, member and kind (it can only move them from email to in-app).
pub fn unsubscribe_token(keyring: &Keyring, tenant: &Tenant, user_id: Uuid, kind: NotificationKind) -> String {
    let (key_id, key) = keyring.current(Purpose::Unsubscribe);
    let tag = unsubscribe_mac(&key, tenant, user_id, kind).finalize().into_bytes();
    format!("{key_id}.{}", URL_SAFE_NO_PAD.encode(tag))
}

pub fn verify_unsubscribe(
    keyring: &Keyring,
    tenant: &Tenant,
    user_id: Uuid,
    kind: NotificationKind,
    token: &str,
) -> bool {
    let Some((key_id, tag)) = token.split_once('.') else { return false };
    let (Some(key), Ok(tag)) = (keyring.get(key_id, Purpose::Unsubscribe), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    unsubscribe_mac(&key, tenant, user_id, kind).verify_slice(&tag).is_ok()
}
