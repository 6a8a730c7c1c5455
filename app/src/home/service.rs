//! Puts the home page together from the catalog (the member's teams and what they own) and
//! the member's notifications, in one transaction.

use super::model::{HomeView, OWNED_SHOWN};
use crate::auth::model::Principal;
use crate::catalog::teams;
use crate::db::Database;
use crate::error::AppResult;
use crate::notifications::repo as notifications;
use crate::tenancy::model::Tenant;

/// Unread notifications the home page shows.
const NOTIFICATIONS_SHOWN: i64 = 5;

pub async fn home(db: &Database, tenant: &Tenant, me: &Principal) -> AppResult<HomeView> {
    let (user_id, email, display_name) = (me.user_id, me.email.clone(), me.display_name.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let catalog_user = teams::user_of_email(conn, &email).await?;
            let teams = match &catalog_user {
                Some(user) => teams::groups_of(conn, user).await?,
                None => Vec::new(),
            };
            let refs: Vec<String> = teams.iter().map(|t| t.entity_ref.clone()).collect();
            let (owned, owned_total) = teams::owned_by(conn, &refs, OWNED_SHOWN).await?;
            let unread = notifications::unread(conn, user_id).await?;
            let newest = notifications::page(conn, user_id, None, true, NOTIFICATIONS_SHOWN).await?;
            Ok(HomeView { display_name, catalog_user, teams, owned, owned_total, unread, notifications: newest })
        })
    })
    .await
}
