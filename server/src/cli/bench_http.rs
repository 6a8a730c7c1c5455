//! `make bench`'s rows over HTTP: a client on the same machine calling a running server
//! (`scripts/bench.sh` starts one on the bench database) over TCP with API keys, the requests
//! Backstage's catalog client sends. Each row: the first call after a catalog write (cold),
//! then `samples` sequential calls (p50, p95), then `clients` concurrent clients, each with
//! its own key, making `samples` calls each (requests per second).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryFutureExt;
use reqwest::{header, Client, Method};
use serde_json::{json, Value};

use super::bench::row;
use super::bench_plans::Plans;
use crate::config::ServeConfig;
use app::access::service::{self as access, NewKey};
use app::audit::service::AuditSource;
use app::auth::service as auth;
use app::db::Database;
use app::error::AppError;
use app::tenancy::model::Tenant;

/// One request of a row: method, path, JSON body.
type Call = (Method, String, Option<Value>);

struct Target {
    client: Client,
    base: String,
    host: String,
}

impl Target {
    /// The response's body, read to its last byte and not parsed: a row times what the
    /// server does, not the client's JSON parser (a page of 100 APIs is 1.76 MB).
    async fn send(&self, key: &str, (method, path, body): &Call) -> Result<axum::body::Bytes, AppError> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header(header::HOST, &self.host)
            .header("x-api-key", key);
        if let Some(body) = body {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let response = request.send().await.map_err(AppError::internal)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(AppError::internal)?;
        if !status.is_success() {
            return Err(AppError::internal(format!("{method} {path}: {status} {}", String::from_utf8_lossy(&bytes))));
        }
        Ok(bytes)
    }
}

pub async fn run(
    db: &Database,
    tenant: &Tenant,
    admin_email: &str,
    base: &str,
    samples: usize,
    clients: usize,
    mut plans: Option<&mut Plans>,
) -> Result<(), AppError> {
    let config = ServeConfig::from_env()?;
    let target = Target {
        client: Client::builder().pool_max_idle_per_host(clients).build().map_err(AppError::internal)?,
        base: base.trim_end_matches('/').to_owned(),
        host: format!("{}.{}", tenant.slug, config.base_domain),
    };
    let me =
        auth::find_principal(db, tenant, admin_email).await?.ok_or_else(|| AppError::internal("admin not found"))?;
    let mut keys = Vec::new();
    for i in 0..clients.max(1) {
        let scopes = ["catalog:read".to_owned(), "catalog:write".to_owned()];
        let new = NewKey::parse(&format!("bench client {i}"), &scopes, "30")?;
        keys.push(access::create_key(db, tenant, AuditSource::command_line(), &me, new).await?.secret);
    }

    let by_query = "/api/catalog/entities/by-query";
    let first_page = format!("{by_query}?filter=kind=component&orderField=metadata.name,asc&limit=20");
    let next: Value = serde_json::from_slice(&target.send(&keys[0], &(Method::GET, first_page.clone(), None)).await?)
        .map_err(AppError::internal)?;
    let cursor = next["pageInfo"]["nextCursor"].as_str().ok_or_else(|| AppError::internal("no nextCursor"))?;
    let refs: Vec<String> = (0..20).map(|i| format!("component:default/service-{}", i * 997)).collect();
    let rows: Vec<(&str, Call)> = vec![
        ("by-query kind=component by name, limit 20", (Method::GET, first_page, None)),
        (
            "by-query + spec.lifecycle + relations.ownedBy",
            (
                Method::GET,
                format!("{by_query}?filter=kind=component,spec.lifecycle=production,relations.ownedBy=group:default/team-7&limit=20"),
                None,
            ),
        ),
        ("by-query following nextCursor", (Method::GET, format!("{by_query}?cursor={cursor}&limit=20"), None)),
        (
            "entity-facets spec.type + tags, kind=component",
            (
                Method::GET,
                "/api/catalog/entity-facets?facet=spec.type&facet=metadata.tags&filter=kind=component".into(),
                None,
            ),
        ),
        (
            "by-refs, 20 refs",
            (Method::POST, "/api/catalog/entities/by-refs".into(), Some(json!({ "entityRefs": refs }))),
        ),
        ("by-name", (Method::GET, "/api/catalog/entities/by-name/component/default/service-4242".into(), None)),
        ("full text, limit 20", (Method::GET, format!("{by_query}?fullTextFilterTerm=payment&limit=20"), None)),
        ("legacy GET /entities kind=api limit 100", (Method::GET, "/api/catalog/entities?filter=kind=api&limit=100".into(), None)),
        // The floor under every row: the edge (tenant, allowlist, key, rate limit) and a handler
        // that reads nothing, over the same connection.
        ("edge only: GET permissions/roles", (Method::GET, "/api/permissions/roles".into(), None)),
    ];

    println!(
        "{:<48} {:>9} {:>9} {:>9} {:>9} {:>11}",
        format!("over HTTP ({base}), API key"),
        "cold ms",
        "p50 ms",
        "p95 ms",
        "max ms",
        format!("c{clients} req/s")
    );
    for (i, (label, call)) in rows.iter().enumerate() {
        // A write first, so the first call sees a catalog that just changed.
        let entity = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": { "name": format!("bench-write-{i}"), "tags": ["go"] },
            "spec": { "type": "service", "lifecycle": "production", "owner": "team-1" } });
        target.send(&keys[0], &(Method::POST, "/api/catalog/entities".into(), Some(entity))).await?;
        let started = Instant::now();
        target.send(&keys[0], call).await?;
        let cold = started.elapsed();
        let mut timings = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            target.send(&keys[0], call).await?;
            timings.push(started.elapsed());
        }
        timings.sort();
        let throughput = concurrently(&target, &keys, call, samples).await?;
        println!("{} {throughput:>11.0}", row(label, &(cold, timings)));
        if let Some(plans) = plans.as_deref_mut() {
            plans.capture(label, target.send(&keys[0], call).map_ok(drop)).await?;
        }
    }
    access_log_backlog(db, tenant, &target, &keys).await
}

/// How long the API access log is under load.
const BACKLOG_RUN: Duration = Duration::from_secs(5);
const BACKLOG_SAMPLE: Duration = Duration::from_millis(50);

/// What a hard crash would lose of the API access log (`app::access::usage`): all clients call
/// by-name as fast as they can while the answered calls are compared with the rows written,
/// every 50 ms. The difference at an instant is what a `kill -9` then would lose.
async fn access_log_backlog(db: &Database, tenant: &Tenant, target: &Target, keys: &[String]) -> Result<(), AppError> {
    let logged = || app::access::usage::logged(db, tenant);
    let call: Call = (Method::GET, "/api/catalog/entities/by-name/component/default/service-4242".into(), None);
    // Rows of the rows above still being written are not part of this run.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = logged().await?;
    let answered = AtomicI64::new(0);
    let started = Instant::now();
    let clients = keys.iter().map(|key| {
        let (call, answered) = (&call, &answered);
        async move {
            while started.elapsed() < BACKLOG_RUN {
                target.send(key, call).await?;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, AppError>(())
        }
    });
    let sampler = async {
        let mut backlog = Vec::new();
        while started.elapsed() < BACKLOG_RUN {
            tokio::time::sleep(BACKLOG_SAMPLE).await;
            let sent = answered.load(Ordering::Relaxed);
            backlog.push((sent - (logged().await? - before)).max(0));
        }
        Ok::<_, AppError>(backlog)
    };
    let (results, backlog) = tokio::join!(futures_util::future::join_all(clients), sampler);
    for result in results {
        result?;
    }
    let mut backlog = backlog?;
    backlog.sort_unstable();
    let rate = answered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let unwritten = answered.load(Ordering::Relaxed) - (logged().await? - before);
    let at = |q: f64| backlog.get(((backlog.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
    println!(
        "API access log at {rate:.0} req/s ({} clients): a crash would lose p50 {} / p95 {} / max {} calls \
         ({:.2} s of traffic at most); 1.5 s after the load, {unwritten} unwritten",
        keys.len(),
        at(0.5),
        at(0.95),
        at(1.0),
        at(1.0) as f64 / rate.max(1.0),
    );
    Ok(())
}

/// Requests per second of `keys.len()` clients each making `samples` calls at once.
async fn concurrently(target: &Target, keys: &[String], call: &Call, samples: usize) -> Result<f64, AppError> {
    let started = Instant::now();
    let clients = keys.iter().map(|key| async move {
        for _ in 0..samples {
            target.send(key, call).await?;
        }
        Ok::<_, AppError>(())
    });
    for result in futures_util::future::join_all(clients).await {
        result?;
    }
    Ok((keys.len() * samples) as f64 / started.elapsed().as_secs_f64())
}
