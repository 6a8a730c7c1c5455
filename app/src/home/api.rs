//! The home page's one read (any member; people only, like every page).

use leptos::prelude::*;

use super::model::HomeView;
use crate::error::AppError;

#[server(endpoint = "home")]
pub async fn load_home() -> Result<HomeView, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, me, state } = authorized(Action::ManageOwnAccount).await?;
            super::service::home(&state.db, &ctx.tenant, &me).await
        }
        .await,
    )
}
