//! Diesel queries on `control.users` and `control.memberships`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{Member, MemberStatus, Principal, Role};
use crate::db::schema::{memberships, recovery_codes, users};
use crate::db::Connection;
use crate::error::AppError;
use crate::keyring::Sealed;
use crate::tenancy::model::TenantId;

#[derive(Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct MemberRow {
    #[diesel(select_expression = users::id)]
    pub user_id: Uuid,
    #[diesel(select_expression = users::email)]
    pub email: String,
    #[diesel(select_expression = users::display_name)]
    pub display_name: String,
    #[diesel(select_expression = users::password_hash)]
    pub password_hash: Option<String>,
    #[diesel(select_expression = users::must_change_password)]
    pub must_change_password: bool,
    #[diesel(select_expression = users::totp_enabled_at)]
    pub totp_enabled_at: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(select_expression = memberships::role)]
    pub role: Role,
    #[diesel(select_expression = memberships::status)]
    pub status: String,
    #[diesel(select_expression = memberships::created_at)]
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

impl MemberRow {
    pub fn member(&self) -> Result<Member, AppError> {
        Ok(Member {
            user_id: self.user_id,
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            status: MemberStatus::parse(&self.status)?,
            joined_at: self.joined_at,
            mfa_enabled: self.totp_enabled_at.is_some(),
        })
    }

    pub fn principal(&self) -> Result<Principal, AppError> {
        Ok(Principal {
            user_id: self.user_id,
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            must_change_password: self.must_change_password,
            mfa_enabled: self.totp_enabled_at.is_some(),
        })
    }

    pub fn is_active(&self) -> bool {
        self.status == MemberStatus::Active.as_str()
    }
}

pub async fn find_by_email(conn: &mut Connection, tenant: TenantId, email: &str) -> QueryResult<Option<MemberRow>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::tenant_id.eq(tenant.0))
        .filter(users::email.eq(email))
        .select(MemberRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_id(conn: &mut Connection, tenant: TenantId, user: Uuid) -> QueryResult<Option<MemberRow>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::tenant_id.eq(tenant.0))
        .filter(users::id.eq(user))
        .select(MemberRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list(conn: &mut Connection, tenant: TenantId) -> QueryResult<Vec<MemberRow>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::tenant_id.eq(tenant.0))
        .order(users::email)
        .select(MemberRow::as_select())
        .load(conn)
        .await
}

pub async fn find_user_id(conn: &mut Connection, email: &str) -> QueryResult<Option<Uuid>> {
    users::table.filter(users::email.eq(email)).select(users::id).first(conn).await.optional()
}

pub async fn insert_user(
    conn: &mut Connection,
    id: Uuid,
    email: &str,
    display_name: &str,
    password_hash: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::email.eq(email),
            users::display_name.eq(display_name),
            users::password_hash.eq(password_hash),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Returns false when the user already belongs to the tenant.
pub async fn insert_membership(conn: &mut Connection, tenant: TenantId, user: Uuid, role: Role) -> QueryResult<bool> {
    let inserted = diesel::insert_into(memberships::table)
        .values((
            memberships::tenant_id.eq(tenant.0),
            memberships::user_id.eq(user),
            memberships::role.eq(role.as_str()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

pub async fn update_role(conn: &mut Connection, tenant: TenantId, user: Uuid, role: Role) -> QueryResult<()> {
    diesel::update(memberships::table.find((tenant.0, user)))
        .set((memberships::role.eq(role.as_str()), memberships::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn update_status(
    conn: &mut Connection,
    tenant: TenantId,
    user: Uuid,
    status: MemberStatus,
) -> QueryResult<()> {
    diesel::update(memberships::table.find((tenant.0, user)))
        .set((memberships::status.eq(status.as_str()), memberships::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks the tenant's admin memberships so two concurrent demotions cannot both pass the
/// "at least one admin" check.
pub async fn lock_active_admins(conn: &mut Connection, tenant: TenantId) -> QueryResult<Vec<Uuid>> {
    memberships::table
        .filter(memberships::tenant_id.eq(tenant.0))
        .filter(memberships::role.eq(Role::Admin.as_str()))
        .filter(memberships::status.eq(MemberStatus::Active.as_str()))
        .select(memberships::user_id)
        .for_update()
        .load(conn)
        .await
}

pub async fn set_password(conn: &mut Connection, user: Uuid, hash: &str, must_change: bool) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set((
            users::password_hash.eq(hash),
            users::must_change_password.eq(must_change),
            users::password_changed_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_membership(conn: &mut Connection, tenant: TenantId, user: Uuid) -> QueryResult<()> {
    diesel::delete(memberships::table.find((tenant.0, user))).execute(conn).await.map(drop)
}

/// In how many tenants the account is a member (its password is shared by all of them).
pub async fn membership_count(conn: &mut Connection, user: Uuid) -> QueryResult<i64> {
    memberships::table.filter(memberships::user_id.eq(user)).count().get_result(conn).await
}

/// The member's sealed TOTP secret and the last time step a code was accepted for.
pub async fn totp_secret(conn: &mut Connection, user: Uuid) -> QueryResult<Option<(Sealed, Option<i64>)>> {
    type Columns = (Option<Vec<u8>>, Option<String>, Option<i64>);
    let row: Option<Columns> = users::table
        .find(user)
        .select((users::totp_secret, users::totp_key_id, users::totp_last_step))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(bytes, key_id, last)| Some((Sealed { key_id: key_id?, bytes: bytes? }, last))))
}

/// Turns TOTP on; `step` is the step of the confirmation code, which is thereby used up.
pub async fn enable_totp(conn: &mut Connection, user: Uuid, sealed: &Sealed, step: i64) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set((
            users::totp_secret.eq(&sealed.bytes),
            users::totp_key_id.eq(&sealed.key_id),
            users::totp_enabled_at.eq(diesel::dsl::now),
            users::totp_last_step.eq(step),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records `step` as used unless it (or a later one) already was: one atomic update, so two
/// requests racing with the same code cannot both pass.
pub async fn consume_totp_step(conn: &mut Connection, user: Uuid, step: i64) -> QueryResult<bool> {
    let updated = diesel::update(
        users::table.find(user).filter(users::totp_last_step.is_null().or(users::totp_last_step.lt(step))),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

pub async fn disable_totp(conn: &mut Connection, user: Uuid) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set((
            users::totp_secret.eq(None::<Vec<u8>>),
            users::totp_key_id.eq(None::<String>),
            users::totp_enabled_at.eq(None::<chrono::DateTime<chrono::Utc>>),
            users::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)
        .await?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user))).execute(conn).await?;
    Ok(())
}

pub async fn replace_recovery_codes(conn: &mut Connection, user: Uuid, hashes: Vec<Vec<u8>>) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user))).execute(conn).await?;
    let rows: Vec<_> =
        hashes.into_iter().map(|h| (recovery_codes::user_id.eq(user), recovery_codes::code_hash.eq(h))).collect();
    diesel::insert_into(recovery_codes::table).values(rows).execute(conn).await?;
    Ok(())
}

/// Marks an unused recovery code used; false when there is no such unused code.
pub async fn use_recovery_code(conn: &mut Connection, user: Uuid, hash: &[u8]) -> QueryResult<bool> {
    let updated = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user))
            .filter(recovery_codes::code_hash.eq(hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

pub async fn unused_recovery_codes(conn: &mut Connection, user: Uuid) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
        .await
}
