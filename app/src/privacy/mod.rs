//! Privacy (GDPR): a member downloads everything the portal holds about them in a tenant, and
//! an admin erases a member from a tenant, the audit log keeping its events and its proof.

pub mod api;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
