//! Competitive briefs: a tenant's company data (sensitive fields sealed with the keyring),
//! explainable competitor discovery, a threat score with its terms, and briefs generated in
//! the background as a page and a PDF.

pub mod api;
pub mod chart;
pub mod company_pages;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod company_file;
#[cfg(feature = "ssr")]
pub mod content;
#[cfg(feature = "ssr")]
pub mod discovery;
#[cfg(feature = "ssr")]
pub mod generator;
#[cfg(feature = "ssr")]
pub mod pdf;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod scoring;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod text;
