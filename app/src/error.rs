//! The one error type of the app layer: services return it, server functions carry it to the
//! browser, the HTTP edge turns it into a status code.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("Sign in to continue.")]
    Unauthenticated,
    #[error("You do not have permission to do this.")]
    Forbidden,
    #[error("Invalid email or password.")]
    InvalidCredentials,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// Too many requests or sign-in attempts; the message says when to try again.
    #[error("{0}")]
    RateLimited(String),
    /// Details go to the log under this reference, never to the client.
    #[error("Something went wrong on our side (reference {0}).")]
    Internal(String),
    #[error("{0}")]
    Transport(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Invalid(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::TooLarge(_) => 413,
            AppError::RateLimited(_) => 429,
            AppError::Internal(_) | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The request's fields did not fit the function: the caller's mistake (422 at the
            // edge), not ours.
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                AppError::Invalid(format!("Some fields of the request are missing or malformed: {detail}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;

    impl AppError {
        /// Logs the cause with a fresh reference id that the user can quote to support.
        pub fn internal(cause: impl std::fmt::Display) -> Self {
            let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
            tracing::error!(%reference, %cause, "internal error");
            AppError::Internal(reference)
        }
    }

    impl From<diesel::result::Error> for AppError {
        fn from(e: diesel::result::Error) -> Self {
            match e {
                diesel::result::Error::NotFound => AppError::NotFound("Record not found.".into()),
                other => AppError::internal(other),
            }
        }
    }

    impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
        fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
            AppError::internal(e)
        }
    }

    impl From<tower_sessions::session::Error> for AppError {
        fn from(e: tower_sessions::session::Error) -> Self {
            AppError::internal(e)
        }
    }

    /// Sets the HTTP status of the current server-function response (or SSR page) from the
    /// error, so fetch callers, REST clients and tests see the right code. A plain HTML form
    /// post is left alone: it must stay a redirect back to the form, which shows the error.
    pub fn respond<T>(result: super::AppResult<T>) -> super::AppResult<T> {
        use leptos::prelude::use_context;
        let is_form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts.method == http::Method::POST
                && parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
        });
        if let (Err(e), false) = (&result, is_form_post) {
            if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
                options.set_status(
                    http::StatusCode::from_u16(e.status_code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
        }
        result
    }
}

#[cfg(feature = "ssr")]
pub use ssr::respond;
