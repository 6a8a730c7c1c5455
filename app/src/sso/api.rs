//! Server functions of single sign-on: the sign-in page's buttons (public) and Settings →
//! Single sign-on (admins).

// Adding a SAML provider takes one argument per field of its plain HTML form (it must work
// without JavaScript; its checkboxes are booleans, which a flattened form struct cannot read);
// the `server` macro repeats them in the code it generates for the browser.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use uuid::Uuid;

use super::model::{LoginProvider, ProviderForm, SsoOverview};
use crate::error::AppError;

/// The "Sign in with …" options of this tenant. Public: shown before anyone signs in.
#[server(endpoint = "sso/providers")]
pub async fn login_providers() -> Result<Vec<LoginProvider>, AppError> {
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            super::providers::login_providers(&AppState::current()?.db, &ctx.tenant).await
        }
        .await,
    )
}

#[server(endpoint = "settings/sso")]
pub async fn load_sso() -> Result<SsoOverview, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let base = state.public_base(&leptos_axum::extract::<http::HeaderMap>().await.unwrap_or_default());
            Ok(SsoOverview {
                providers: super::providers::list_providers(&state.db, &ctx.tenant, &base).await?,
                redirect_uri: format!("{base}{}", super::paths::CALLBACK),
                required: ctx.tenant.sso_required,
            })
        }
        .await,
    )
}

/// Adds an OpenID Connect or GitHub provider; the form's fields are `ProviderForm`'s.
#[server(endpoint = "settings/sso/add")]
pub async fn add_sso_provider(#[server(flatten)] form: ProviderForm) -> Result<(), AppError> {
    use super::providers::{self, NewProvider};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let new = NewProvider::parse(form)?;
            providers::add_provider(&state, &ctx.tenant, ctx.audit_source(), new).await
        }
        .await,
    )
}

/// Adds a SAML IdP from its metadata XML (`metadata`) or from its entity id, SSO URL and signing
/// certificate. Attribute names left empty take the preset's.
#[server(endpoint = "settings/sso/add-saml")]
pub async fn add_saml_provider(
    name: String,
    #[server(default)] metadata: String,
    #[server(default)] entity_id: String,
    #[server(default)] sso_url: String,
    #[server(default)] certificate: String,
    preset: String,
    #[server(default)] email_attribute: String,
    #[server(default)] first_name_attribute: String,
    #[server(default)] last_name_attribute: String,
    #[server(default)] groups_attribute: String,
    #[server(default)] role_mapping: String,
    default_role: String,
    #[server(default)] allowed_domains: String,
    #[server(default)] allow_sha1: bool,
    #[server(default)] allow_idp_initiated: bool,
    #[server(default)] clock_skew_seconds: String,
) -> Result<(), AppError> {
    use super::saml_service::{self, SamlInput};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            let new = SamlInput {
                name,
                metadata,
                entity_id,
                sso_url,
                certificate,
                preset,
                email_attribute,
                first_name_attribute,
                last_name_attribute,
                groups_attribute,
                role_mapping,
                default_role,
                allowed_domains,
                allow_sha1,
                allow_idp_initiated,
                clock_skew_seconds,
            }
            .parse()?;
            let base = state.public_base(&leptos_axum::extract::<http::HeaderMap>().await.unwrap_or_default());
            saml_service::add_provider(&state, &ctx.tenant, ctx.audit_source(), new, &base).await.map(|_| ())
        }
        .await,
    )
}

#[server(endpoint = "settings/sso/remove")]
pub async fn remove_sso_provider(id: Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::providers::remove_provider(&state.db, &ctx.tenant, ctx.audit_source(), id).await
        }
        .await,
    )
}

/// `required` is a checkbox: absent means off.
#[server(endpoint = "settings/sso/required")]
pub async fn set_sso_required(#[server(default)] required: bool) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::ManageAccess).await?;
            super::providers::set_required(&state.db, &ctx.tenant, ctx.audit_source(), required).await
        }
        .await,
    )
}
