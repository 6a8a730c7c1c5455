//! Request middleware: observation (tracing, metrics, request ids), tenancy and who is calling,
//! and the protections that run before any handler (CSRF, rate limits).

pub mod csrf;
pub mod observe;
pub mod rate_limit;
pub mod tenant;
