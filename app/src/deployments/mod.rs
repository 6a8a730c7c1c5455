//! Builds and deployments from CI/CD: GitHub (`workflow_run`, `deployment`,
//! `deployment_status`), Jenkins (the Notification plugin) and Argo CD (its notifications
//! webhook) post to per-tenant endpoints with their own secrets; each event is matched to
//! catalog entities by their annotations and kept as a build or a deployment. Entity pages show
//! the history, live, with DORA metrics for the entity, a system's parts or a team's entities.

pub mod api;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod dora;
#[cfg(feature = "ssr")]
pub mod payload;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
