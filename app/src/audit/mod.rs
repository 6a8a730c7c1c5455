//! Audit: an append-only, tamper-evident record of every security and data event, per tenant,
//! and its views (list, detail, export, verification, the permission-change report).

pub mod api;
pub mod model;
pub mod pages;
pub mod permissions;
pub mod view;

#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
pub mod erasure;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod verify;
