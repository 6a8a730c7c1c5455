//! Request middleware: observation (tracing, metrics, request ids) and tenancy.

pub mod observe;
pub mod tenant;
