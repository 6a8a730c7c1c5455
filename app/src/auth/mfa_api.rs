//! Server functions of two-factor authentication: the sign-in challenge and Account →
//! Two-factor. Thin: read the session, authorize, call `auth::mfa`.

use leptos::prelude::*;

use super::model::MfaOverview;
use crate::error::AppError;

/// The second sign-in step. Public: its caller holds only a pending sign-in, not a session.
#[server(endpoint = "auth/mfa/verify")]
pub async fn verify_mfa(code: String) -> Result<(), AppError> {
    use crate::auth::mfa;
    use crate::auth::session::{self, PendingSignIn, PENDING_SIGN_IN_KEY, PENDING_SIGN_IN_MINUTES};
    use crate::error::respond;
    use crate::state::{AppState, RequestContext};

    respond(
        async {
            let ctx = RequestContext::current().await?;
            let (current, _) = session::current().await?;
            let pending = current
                .get::<PendingSignIn>(PENDING_SIGN_IN_KEY)
                .await
                .ok()
                .flatten()
                .filter(|p| p.tenant_id == ctx.tenant.id)
                .filter(|p| chrono::Utc::now() - p.started_at < chrono::Duration::minutes(PENDING_SIGN_IN_MINUTES))
                .ok_or_else(|| AppError::invalid("Your sign-in has expired. Sign in with your password again."))?;
            let state = AppState::current()?;
            mfa::verify(&state, &ctx.tenant, ctx.audit_source(), (pending.user_id, &pending.email), &code).await?;
            current.remove::<PendingSignIn>(PENDING_SIGN_IN_KEY).await?;
            session::establish(&state, &current, &ctx, pending.user_id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

/// Account → Two-factor. Without a second factor yet, a secret is prepared (once per
/// session) so the page can show its QR code straight away.
#[server(endpoint = "auth/mfa")]
pub async fn load_mfa() -> Result<MfaOverview, AppError> {
    use crate::auth::permission::Action;
    use crate::auth::session::{self, ENROLMENT_KEY, RECOVERY_CODES_FLASH_KEY};
    use crate::auth::{mfa, totp};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            let mut overview = mfa::overview(&state.db, &ctx.tenant, &me).await?;
            let (current, _) = session::current().await?;
            if overview.enabled_since.is_none() {
                let secret = match current.get::<Vec<u8>>(ENROLMENT_KEY).await? {
                    Some(secret) => secret,
                    None => {
                        let secret = totp::new_secret().to_vec();
                        current.insert(ENROLMENT_KEY, &secret).await?;
                        secret
                    }
                };
                overview.enrolment = Some(mfa::enrolment(&ctx.tenant, &me, &secret)?);
            }
            overview.new_recovery_codes = current.remove::<Vec<String>>(RECOVERY_CODES_FLASH_KEY).await?;
            Ok(overview)
        }
        .await,
    )
}

#[server(endpoint = "auth/mfa/confirm")]
pub async fn confirm_mfa(code: String) -> Result<(), AppError> {
    use crate::auth::mfa;
    use crate::auth::permission::Action;
    use crate::auth::session::{self, ENROLMENT_KEY, RECOVERY_CODES_FLASH_KEY};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            let (current, _) = session::current().await?;
            let secret = current
                .get::<Vec<u8>>(ENROLMENT_KEY)
                .await?
                .ok_or_else(|| AppError::invalid("Open the two-factor page again to get a QR code."))?;
            let codes =
                mfa::confirm(&state.db, &state.keyring, &ctx.tenant, ctx.audit_source(), &me, secret, &code).await?;
            current.remove::<Vec<u8>>(ENROLMENT_KEY).await?;
            current.insert(RECOVERY_CODES_FLASH_KEY, codes).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "auth/mfa/recovery-codes")]
pub async fn replace_recovery_codes(code: String) -> Result<(), AppError> {
    use crate::auth::mfa::{self, Change};
    use crate::auth::permission::Action;
    use crate::auth::session::{self, RECOVERY_CODES_FLASH_KEY};
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            let codes =
                mfa::change(&state, &ctx.tenant, ctx.audit_source(), &me, Change::RegenerateRecoveryCodes, &code)
                    .await?;
            let (current, _) = session::current().await?;
            current.insert(RECOVERY_CODES_FLASH_KEY, codes).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "auth/mfa/disable")]
pub async fn disable_mfa(code: String) -> Result<(), AppError> {
    use crate::auth::mfa::{self, Change};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            mfa::change(&state, &ctx.tenant, ctx.audit_source(), &me, Change::Disable, &code).await?;
            Ok(())
        }
        .await,
    )
}
