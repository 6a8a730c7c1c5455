//! Audit: an append-only, tamper-evident record of every security and data event, per tenant,
//! and its views (list, detail, export, verification, the permission-change report), and its
//! streaming to SIEMs.

pub mod api;
pub mod archive_api;
pub mod archive_model;
pub mod archive_pages;
pub mod model;
pub mod pages;
pub mod permissions;
pub mod stream_api;
pub mod stream_model;
pub mod stream_pages;
pub mod view;

#[cfg(feature = "ssr")]
pub mod archive;
#[cfg(feature = "ssr")]
pub mod archive_erasure;
#[cfg(feature = "ssr")]
pub mod archive_file;
#[cfg(feature = "ssr")]
pub mod archive_repo;
#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
pub mod erasure;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod stream;
#[cfg(feature = "ssr")]
pub mod stream_repo;
#[cfg(feature = "ssr")]
pub mod verify;
