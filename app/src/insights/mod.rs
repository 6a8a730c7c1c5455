//! Usage insights for admins: who is active, how people sign in, what the catalog's readers
//! look at and fail to find, and which keys call the API — charts drawn on the server from what
//! the portal already records (the audit log, the API access log) and two counters of its own.

pub mod api;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod counter;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
