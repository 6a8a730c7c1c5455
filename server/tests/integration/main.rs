//! Integration tests against the real PostgreSQL and Redis that `make test` starts
//! (DATABASE_URL, REDIS_URL). One binary, as in crates.io, to keep link time down.

mod access;
mod archive;
mod audit;
mod auth;
mod briefs;
mod budgets;
mod catalog;
mod catalog_writes;
mod cost_alerts;
mod deployments;
mod events;
mod facet_counts;
mod finops;
mod fuzz;
mod home;
mod insights;
mod isolation;
mod limits;
mod locations;
mod mail;
mod matrix;
mod mfa;
mod network;
mod notifications;
mod ops;
mod plugins;
mod privacy;
mod saml;
mod sessions;
mod sso;
mod streams;
mod support;
mod tenancy;
mod users;
mod webhooks;
