//! Diesel queries on the tenant's `sso_providers` and `sso_identities`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{ProviderView, RoleMapping};
use crate::db::schema::{saml_providers, sso_identities, sso_providers};
use crate::db::Connection;
use crate::keyring::Sealed;

#[derive(Queryable, Selectable)]
#[diesel(table_name = sso_providers, check_for_backend(diesel::pg::Pg))]
pub struct ProviderRow {
    pub id: Uuid,
    pub kind: super::providers::Kind,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Vec<u8>,
    pub secret_key_id: String,
    pub default_role: crate::auth::model::Role,
    pub allowed_domains: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub role_claim: Option<String>,
    pub role_mapping: serde_json::Value,
    pub organization: Option<String>,
}

impl ProviderRow {
    pub fn role_mapping(&self) -> Vec<RoleMapping> {
        serde_json::from_value(self.role_mapping.clone()).unwrap_or_default()
    }

    pub fn view(&self) -> ProviderView {
        ProviderView {
            id: self.id,
            kind: self.kind.as_str().to_owned(),
            name: self.name.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            default_role: self.default_role.as_str().to_owned(),
            allowed_domains: self.allowed_domains.clone(),
            role_claim: self.role_claim.clone(),
            role_mapping: self.role_mapping(),
            organization: self.organization.clone(),
            saml: None,
            created_at: self.created_at,
        }
    }

    pub fn sealed_secret(&self) -> Sealed {
        Sealed { key_id: self.secret_key_id.clone(), bytes: self.client_secret.clone() }
    }
}

pub struct NewProviderRow<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub secret: &'a Sealed,
    pub default_role: &'a str,
    pub allowed_domains: &'a [String],
    pub role_claim: Option<&'a str>,
    pub role_mapping: &'a [RoleMapping],
    pub organization: Option<&'a str>,
}

pub async fn insert_provider(conn: &mut Connection, new: NewProviderRow<'_>) -> QueryResult<()> {
    diesel::insert_into(sso_providers::table)
        .values((
            sso_providers::id.eq(new.id),
            sso_providers::kind.eq(new.kind),
            sso_providers::name.eq(new.name),
            sso_providers::issuer.eq(new.issuer),
            sso_providers::client_id.eq(new.client_id),
            sso_providers::client_secret.eq(&new.secret.bytes),
            sso_providers::secret_key_id.eq(&new.secret.key_id),
            sso_providers::default_role.eq(new.default_role),
            sso_providers::allowed_domains.eq(new.allowed_domains),
            sso_providers::role_claim.eq(new.role_claim),
            sso_providers::role_mapping.eq(serde_json::to_value(new.role_mapping).unwrap_or_default()),
            sso_providers::organization.eq(new.organization),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A SAML provider's own settings (the common ones are its `ProviderRow`).
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = saml_providers, check_for_backend(diesel::pg::Pg))]
pub struct SamlRow {
    pub provider_id: Uuid,
    pub sso_url: String,
    pub signing_certificates: Vec<Vec<u8>>,
    pub sp_certificate: Vec<u8>,
    pub preset: String,
    pub email_attribute: Option<String>,
    pub first_name_attribute: Option<String>,
    pub last_name_attribute: Option<String>,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    pub clock_skew_seconds: i32,
}

pub async fn insert_saml(conn: &mut Connection, row: &SamlRow) -> QueryResult<()> {
    diesel::insert_into(saml_providers::table).values(row.clone()).execute(conn).await?;
    Ok(())
}

pub async fn find_saml(conn: &mut Connection, provider: Uuid) -> QueryResult<Option<SamlRow>> {
    saml_providers::table.find(provider).select(SamlRow::as_select()).first(conn).await.optional()
}

pub async fn list_saml(conn: &mut Connection) -> QueryResult<Vec<SamlRow>> {
    saml_providers::table.select(SamlRow::as_select()).load(conn).await
}

pub async fn list_providers(conn: &mut Connection) -> QueryResult<Vec<ProviderRow>> {
    sso_providers::table.order(sso_providers::name).select(ProviderRow::as_select()).load(conn).await
}

pub async fn find_provider(conn: &mut Connection, id: Uuid) -> QueryResult<Option<ProviderRow>> {
    sso_providers::table.find(id).select(ProviderRow::as_select()).first(conn).await.optional()
}

/// Returns the removed provider's name, if there was one.
pub async fn delete_provider(conn: &mut Connection, id: Uuid) -> QueryResult<Option<String>> {
    diesel::delete(sso_providers::table.find(id)).returning(sso_providers::name).get_result(conn).await.optional()
}

/// The member an external identity is linked to.
pub async fn linked_user(conn: &mut Connection, provider: Uuid, subject: &str) -> QueryResult<Option<Uuid>> {
    sso_identities::table.find((provider, subject)).select(sso_identities::user_id).first(conn).await.optional()
}

pub async fn link(conn: &mut Connection, provider: Uuid, subject: &str, user: Uuid, email: &str) -> QueryResult<()> {
    diesel::insert_into(sso_identities::table)
        .values((
            sso_identities::provider_id.eq(provider),
            sso_identities::subject.eq(subject),
            sso_identities::user_id.eq(user),
            sso_identities::email.eq(email),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn touch(conn: &mut Connection, provider: Uuid, subject: &str) -> QueryResult<()> {
    diesel::update(sso_identities::table.find((provider, subject)))
        .set(sso_identities::last_login_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}
