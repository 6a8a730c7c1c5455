//! The HTTP edge and composition root of Beacon: configuration, router, middleware, REST
//! handlers and the command line. Business rules live in the `app` crate's services.

pub mod cli;
pub mod config;
pub mod metrics;
pub mod middleware;
pub mod rest;
pub mod router;
pub mod startup;
