//! The plugin marketplace: a directory of Backstage plugins shared by every tenant, each
//! version's compatibility with the Backstage release a tenant runs, a dependency solver, and
//! the tenant's plugin set as immutable revisions its runtime reads from Beacon.

pub mod api;
pub mod model;
pub mod pages;
pub mod settings_pages;

#[cfg(feature = "ssr")]
pub mod artifacts;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod directory;
#[cfg(feature = "ssr")]
pub mod docs;
#[cfg(feature = "ssr")]
pub mod health;
#[cfg(feature = "ssr")]
pub mod insights;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod npm;
#[cfg(feature = "ssr")]
pub mod policy;
#[cfg(feature = "ssr")]
pub mod private;
#[cfg(feature = "ssr")]
pub mod recommend;
#[cfg(feature = "ssr")]
pub mod registry;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod requests;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod solver;
