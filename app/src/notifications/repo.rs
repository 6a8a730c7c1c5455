//! The `notifications` and `notification_preferences` tables, and the members a notification
//! goes to (from the control plane's memberships of the tenant whose schema is in scope).

use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{Channel, NotificationKind, NotificationView};
use crate::auth::model::{MemberStatus, Role};
use crate::db::schema::{
    mail_outbox, memberships, notification_digests, notification_preferences, notifications, tenants, users,
};
use crate::db::Connection;
use crate::error::{AppError, AppResult};

pub struct NewNotification<'a> {
    pub user_id: Uuid,
    pub kind: NotificationKind,
    pub title: &'a str,
    pub body: &'a str,
    pub link: Option<&'a str>,
}

pub async fn insert(conn: &mut Connection, new: NewNotification<'_>) -> AppResult<i64> {
    Ok(diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(new.user_id),
            notifications::kind.eq(new.kind.as_str()),
            notifications::title.eq(new.title),
            notifications::body.eq(new.body),
            notifications::link.eq(new.link),
        ))
        .returning(notifications::id)
        .get_result(conn)
        .await?)
}

/// Queues the notification's mail; the mailer sends it after this transaction commits.
pub async fn enqueue_mail(conn: &mut Connection, notification_id: i64) -> AppResult<()> {
    diesel::insert_into(mail_outbox::table)
        .values(mail_outbox::notification_id.eq(notification_id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unread(conn: &mut Connection, user_id: Uuid) -> AppResult<i64> {
    Ok(notifications::table
        .filter(notifications::user_id.eq(user_id).and(notifications::read_at.is_null()))
        .count()
        .get_result(conn)
        .await?)
}

type Row =
    (i64, String, String, String, Option<String>, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>);

/// What a notification view is read from, in `Row`'s order.
const COLUMNS: (
    notifications::id,
    notifications::kind,
    notifications::title,
    notifications::body,
    notifications::link,
    notifications::created_at,
    notifications::read_at,
) = (
    notifications::id,
    notifications::kind,
    notifications::title,
    notifications::body,
    notifications::link,
    notifications::created_at,
    notifications::read_at,
);

/// Up to `limit` of the member's notifications (only unread ones if `unread_only`) older than
/// `before`, newest first.
pub async fn page(
    conn: &mut Connection,
    user_id: Uuid,
    before: Option<i64>,
    unread_only: bool,
    limit: i64,
) -> AppResult<Vec<NotificationView>> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id).and(notifications::id.lt(before.unwrap_or(i64::MAX))))
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    let rows: Vec<Row> = query.order(notifications::id.desc()).limit(limit).select(COLUMNS).load(conn).await?;
    views(rows)
}

fn views(rows: Vec<Row>) -> AppResult<Vec<NotificationView>> {
    rows.into_iter()
        .map(|(id, kind, title, body, link, created_at, read_at)| {
            Ok(NotificationView {
                id,
                kind: NotificationKind::parse(&kind)?,
                title,
                body,
                link,
                created_at,
                read: read_at.is_some(),
            })
        })
        .collect()
}

/// Marks one of the member's notifications read (`None`: all of them); returns how many changed.
pub async fn mark_read(conn: &mut Connection, user_id: Uuid, id: Option<i64>) -> AppResult<usize> {
    let mine = notifications::table.filter(notifications::user_id.eq(user_id).and(notifications::read_at.is_null()));
    let changed = match id {
        Some(id) => {
            diesel::update(mine.filter(notifications::id.eq(id)))
                .set(notifications::read_at.eq(now))
                .execute(conn)
                .await?
        }
        None => diesel::update(mine).set(notifications::read_at.eq(now)).execute(conn).await?,
    };
    Ok(changed)
}

/// The member's chosen channels; kinds without a row use their default.
pub async fn channels(conn: &mut Connection, user_id: Uuid) -> AppResult<Vec<(NotificationKind, Channel)>> {
    let rows: Vec<(String, String)> = notification_preferences::table
        .filter(notification_preferences::user_id.eq(user_id))
        .select((notification_preferences::kind, notification_preferences::channel))
        .load(conn)
        .await?;
    // A kind a newer or older server wrote is passed over rather than failing the page.
    Ok(rows
        .into_iter()
        .filter_map(|(kind, channel)| Some((NotificationKind::parse(&kind).ok()?, Channel::parse(&channel).ok()?)))
        .collect())
}

pub async fn set_channel(
    conn: &mut Connection,
    user_id: Uuid,
    kind: NotificationKind,
    channel: Channel,
) -> AppResult<()> {
    diesel::insert_into(notification_preferences::table)
        .values((
            notification_preferences::user_id.eq(user_id),
            notification_preferences::kind.eq(kind.as_str()),
            notification_preferences::channel.eq(channel.as_str()),
        ))
        .on_conflict((notification_preferences::user_id, notification_preferences::kind))
        .do_update()
        .set(notification_preferences::channel.eq(channel.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}

/// The id of the tenant whose schema `with_tenant` put first on the search path.
async fn tenant_in_scope(conn: &mut Connection) -> AppResult<i64> {
    Ok(tenants::table
        .filter(tenants::schema_name.eq(sql::<Text>("current_schema()")))
        .select(tenants::id)
        .first(conn)
        .await?)
}

/// The active members of the tenant in scope with any of `emails`.
pub async fn members_by_emails(conn: &mut Connection, emails: &[String]) -> AppResult<Vec<Uuid>> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let tenant = tenant_in_scope(conn).await?;
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::tenant_id.eq(tenant).and(memberships::status.eq(MemberStatus::Active.as_str())))
        .filter(users::email.eq_any(emails))
        .select(memberships::user_id)
        .load(conn)
        .await?)
}

/// The active members of the tenant in scope with `role`.
pub async fn members_with_role(conn: &mut Connection, role: Role) -> AppResult<Vec<Uuid>> {
    let tenant = tenant_in_scope(conn).await?;
    memberships::table
        .filter(memberships::tenant_id.eq(tenant).and(memberships::status.eq(MemberStatus::Active.as_str())))
        .filter(memberships::role.eq(role.as_str()))
        .select(memberships::user_id)
        .load(conn)
        .await
        .map_err(AppError::from)
}

/// The member starts getting a digest: the first one a day from now.
pub async fn start_digest(conn: &mut Connection, user_id: Uuid) -> AppResult<()> {
    diesel::insert_into(notification_digests::table)
        .values((notification_digests::user_id.eq(user_id), notification_digests::last_sent_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// A member whose digest is due, claimed: since when it covers, and where it goes.
#[derive(QueryableByName)]
pub struct DueDigest {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub since: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Text)]
    pub display_name: String,
}

/// Claims up to `limit` members who chose a digest for some kind and whose last one went out a
/// day before `now` or earlier, moving their last digest to `now` (other servers skip them).
pub async fn claim_digests(
    conn: &mut Connection,
    at: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> AppResult<Vec<DueDigest>> {
    Ok(diesel::sql_query(
        "WITH due AS (
            SELECT d.user_id, d.last_sent_at FROM notification_digests d
             WHERE d.last_sent_at <= $1 - interval '1 day'
               AND d.user_id IN (SELECT user_id FROM notification_preferences WHERE channel = 'digest')
             ORDER BY d.last_sent_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED)
         UPDATE notification_digests d SET last_sent_at = $1
           FROM due, control.users u
          WHERE d.user_id = due.user_id AND u.id = d.user_id
         RETURNING d.user_id, due.last_sent_at AS since, u.email, u.display_name",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(at)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// A digest that could not be sent covers its period again next time.
pub async fn unclaim_digest(
    conn: &mut Connection,
    user_id: Uuid,
    since: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    diesel::update(notification_digests::table.find(user_id))
        .set(notification_digests::last_sent_at.eq(since))
        .execute(conn)
        .await?;
    Ok(())
}

/// The member's notifications of `kinds` made after `since`, oldest first, at most `limit`;
/// and how many there are in all.
pub async fn since_of_kinds(
    conn: &mut Connection,
    user_id: Uuid,
    kinds: &[&str],
    since: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> AppResult<(Vec<NotificationView>, i64)> {
    let of = || {
        notifications::table.filter(
            notifications::user_id
                .eq(user_id)
                .and(notifications::kind.eq_any(kinds.to_vec()))
                .and(notifications::created_at.gt(since)),
        )
    };
    let total = of().count().get_result(conn).await?;
    let rows: Vec<Row> = of().order(notifications::id.asc()).limit(limit).select(COLUMNS).load(conn).await?;
    let items = views(rows)?;
    Ok((items, total))
}
