//! Request middleware: observation (tracing, metrics, request ids), time budgets, tenancy and who is calling,
//! the protections that run before any handler (CSRF, rate limits, fair shares of expensive routes), and form errors shown only
//! when this server issued them.

pub mod bad_bytes;
pub mod budget;
pub mod csrf;
pub mod fairness;
pub mod form_errors;
pub mod observe;
pub mod rate_limit;
pub mod tenant;
