//! Software catalog: Backstage-compatible entities, their relations, ingestion and queries.

pub mod api;
#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod files;
pub mod graph;
#[cfg(feature = "ssr")]
pub mod index;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod query;
pub mod refs;
#[cfg(feature = "ssr")]
pub mod relations;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod validate;
pub mod view;
