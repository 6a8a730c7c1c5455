//! FinOps: cloud bills imported in FOCUS (or mapped to it from AWS and Azure exports) and
//! shown as two views of the same money: what the invoices say and what each day cost.

pub mod anomaly_pages;
pub mod api;
pub mod budget_pages;
pub mod model;
pub mod pages;
pub mod team_pages;

#[cfg(feature = "ssr")]
pub mod allocation;
#[cfg(feature = "ssr")]
pub mod allocation_repo;
#[cfg(feature = "ssr")]
pub mod anomalies;
#[cfg(feature = "ssr")]
pub mod budgets;
#[cfg(feature = "ssr")]
pub mod cost_insights;
#[cfg(feature = "ssr")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod opencost;
#[cfg(feature = "ssr")]
pub mod parse;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
