//! Who is in which team, and what teams own, as the catalog says: a portal member is the
//! catalog User whose `spec.profile.email` is theirs, a team is a Group they are `memberOf`, and
//! a team owns what names it in `spec.owner`.

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::index::value_entries;
use crate::db::schema::{entities, entity_relations, entity_values};
use crate::db::Connection;
use crate::error::AppResult;
use crate::home::model::{OwnedEntity, Team};

/// Refs (with kinds) of up to 20 entities whose `spec.profile.email` is `email`: Backstage's
/// Users, and Groups with a team address.
pub async fn naming_email(conn: &mut Connection, email: &str) -> QueryResult<Vec<(String, String)>> {
    entities::table
        .filter(entities::filters.overlaps_with(value_entries("spec.profile.email", &email.to_lowercase())))
        .order(entities::entity_ref.asc())
        .limit(20)
        .select((entities::entity_ref, entities::kind))
        .load(conn)
        .await
}

/// The ref of the User entity with `email` as its profile email, if any (the first by ref).
pub async fn user_of_email(conn: &mut Connection, email: &str) -> AppResult<Option<String>> {
    let named = naming_email(conn, email).await?;
    Ok(named.into_iter().find(|(_, kind)| kind == "User").map(|(entity_ref, _)| entity_ref))
}

/// The groups `user` (a stored ref) is a member of, with their titles or names.
pub async fn groups_of(conn: &mut Connection, user: &str) -> AppResult<Vec<Team>> {
    let rows: Vec<(String, Option<String>, Option<String>)> = entity_relations::table
        .left_join(entities::table.on(entities::entity_ref.eq(entity_relations::target_ref)))
        .filter(entity_relations::source_ref.eq(user).and(entity_relations::relation.eq("memberOf")))
        .select((entity_relations::target_ref, entities::title.nullable(), entities::name.nullable()))
        .distinct()
        .order(entity_relations::target_ref.asc())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(entity_ref, title, name)| Team { entity_ref, name: title.or(name) }).collect())
}

/// Up to `limit` of the entities `owners` own, those with a deployment that failed in the last
/// day first, then the most recently changed, and how many they own in all.
pub async fn owned_by(conn: &mut Connection, owners: &[String], limit: i64) -> AppResult<(Vec<OwnedEntity>, i64)> {
    if owners.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let owned = || entities::table.filter(entities::owner_ref.eq_any(owners));
    let total = owned().select(count_star()).get_result(conn).await?;
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
        bool,
    );
    let failed = || diesel::dsl::sql::<diesel::sql_types::Bool>(super::query::RECENTLY_FAILED_DEPLOYMENT_SQL);
    let rows: Vec<Row> = owned()
        .order((failed().desc(), entities::updated_at.desc(), entities::entity_ref.asc()))
        .limit(limit)
        .select((
            entities::entity_ref,
            entities::kind,
            entities::namespace,
            entities::name,
            entities::title,
            entities::spec_type,
            entities::lifecycle,
            entities::owner_ref,
            entities::updated_at,
            failed(),
        ))
        .load(conn)
        .await?;
    let owned = rows
        .into_iter()
        .map(
            |(entity_ref, kind, namespace, name, title, spec_type, lifecycle, owner_ref, updated_at, deploy_failed)| {
                OwnedEntity {
                    entity_ref,
                    kind,
                    namespace,
                    name,
                    title,
                    spec_type,
                    lifecycle,
                    owner_ref,
                    updated_at,
                    deploy_failed,
                }
            },
        )
        .collect();
    Ok((owned, total))
}

/// The profile emails of the Users who are `memberOf` `group` (a stored ref), lower-cased.
pub async fn emails_in(conn: &mut Connection, group: &str) -> AppResult<Vec<String>> {
    let members = entity_relations::table
        .filter(entity_relations::source_ref.eq(group).and(entity_relations::relation.eq("hasMember")))
        .select(entity_relations::target_ref);
    let users = entities::table.filter(entities::entity_ref.eq_any(members)).select(entities::id);
    let emails: Vec<String> = entity_values::table
        .filter(entity_values::key.eq("spec.profile.email").and(entity_values::entity_id.eq_any(users)))
        .select(entity_values::original_value)
        .load(conn)
        .await?;
    let mut emails: Vec<String> = emails.into_iter().map(|e| e.to_lowercase()).collect();
    emails.sort();
    emails.dedup();
    Ok(emails)
}
