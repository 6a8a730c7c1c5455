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
    /// The work did not fit its time budget, or the database had no connection to spare
    /// within it: nothing was changed, and the same request may succeed later (503).
    #[error("{0}")]
    Unavailable(String),
    /// Details go to the log under this reference, never to the client.
    #[error("Something went wrong on our side (reference {0}).")]
    Internal(String),
    #[error("{0}")]
    Transport(String),
}

pub type AppResult<T> = Result<T, AppError>;

/// What a person typed into a search, a name or a short field, trimmed: refused with a NUL
/// byte (PostgreSQL refuses it in text) or past `max_chars` (nothing sensible is that long).
pub fn typed<'a>(text: &'a str, what: &str, max_chars: usize) -> AppResult<&'a str> {
    let text = text.trim();
    if text.contains('\0') || text.chars().count() > max_chars {
        return Err(AppError::invalid(format!("{what} has at most {max_chars} characters and no NUL byte.")));
    }
    Ok(text)
}

/// Constructors in the crates.io style, so call sites read `AppError::invalid("…")`.
impl AppError {
    /// Input the caller can fix (422; REST endpoints answer 400).
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::NotFound(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict(message.into())
    }

    /// The same error with `context` before its message (e.g. which step of a batch it came
    /// from); errors whose message is fixed are returned as they are.
    pub fn prefixed(self, context: &str) -> Self {
        match self {
            AppError::NotFound(m) => AppError::NotFound(format!("{context} {m}")),
            AppError::Invalid(m) => AppError::Invalid(format!("{context} {m}")),
            AppError::Conflict(m) => AppError::Conflict(format!("{context} {m}")),
            other => other,
        }
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        AppError::TooLarge(message.into())
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        AppError::Unavailable(message.into())
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
        /// The HTTP status of this error: the one mapping that server functions, SSR pages,
        /// REST handlers and the edge all use.
        pub fn status(&self) -> http::StatusCode {
            use http::StatusCode;
            match self {
                AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
                AppError::Forbidden => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal(_) | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }

        /// Logs the cause with a fresh reference id that the user can quote to support.
        pub fn internal(cause: impl std::fmt::Display) -> Self {
            let reference = new_reference();
            tracing::error!(%reference, %cause, "internal error");
            AppError::Internal(reference)
        }
    }

    /// A short id that ties what a person is shown to the log line or audit row with the
    /// details: the one way references are made.
    pub fn new_reference() -> String {
        uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
    }

    impl From<diesel::result::Error> for AppError {
        fn from(e: diesel::result::Error) -> Self {
            use diesel::result::{DatabaseErrorKind, Error};
            match e {
                Error::NotFound => AppError::NotFound("Record not found.".into()),
                // Another request wrote the same thing first (a unique name, a key): the
                // caller's conflict to resolve, not our failure.
                Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                    tracing::info!(constraint = info.constraint_name(), "unique violation answered as a conflict");
                    AppError::Conflict(
                        "This was changed at the same time by someone else; reload and try again.".into(),
                    )
                }
                // Our statement_timeout (the request's budget) or an operator cancelled the
                // statement: the transaction rolled back whole, and a retry may fit.
                Error::DatabaseError(_, info) if info.message().starts_with("canceling statement due to") => {
                    AppError::unavailable("The request ran past its time budget and its unfinished work was rolled back. Try again, or narrow it.")
                }
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
    ///
    /// The edge (`server::middleware::tenant::with_error_status`) sets a status too, for the
    /// one case this cannot see: a server function whose arguments did not decode never runs
    /// its body, and Leptos answers 500. Pages need this function (the edge cannot tell a
    /// page's error from its HTML), so the two stay, each for its own case.
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
                options.set_status(e.status());
            }
        }
        result
    }
}

#[cfg(feature = "ssr")]
pub use ssr::{new_reference, respond};
