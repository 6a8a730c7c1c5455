//! Audit: an append-only, tamper-evident record of every security and data event, per tenant,
//! and its views (list, detail, export, verification).

pub mod api;
pub mod model;
pub mod pages;
pub mod view;

#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod verify;
