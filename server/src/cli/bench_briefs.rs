//! `server bench --briefs N`: N companies (the YC directory, enlarged past its 5,950 with
//! variants of its companies) imported into a scratch tenant; then, over HTTP against the
//! running server with an API key as a client would, the time from `POST /api/briefs` to the
//! PDF downloaded — cold (the first brief after the import, which builds the index) and warm —
//! and discovery alone in process. With the YC directory as it is, the quality of each
//! discovery method on the labelled set (`server/bench/briefs`): P@5, P@10, nDCG@10.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Datelike;
use reqwest::{header, Client};
use serde_json::{json, Value};

use super::bench::{print_row, row};
use crate::config::ServeConfig;
use app::access::service::{self as access, NewKey};
use app::audit::service::AuditSource;
use app::auth::service as auth;
use app::briefs::company_file;
use app::briefs::discovery::{CompanyIndex, Method};
use app::briefs::model::Company;
use app::briefs::service;
use app::db::Database;
use app::embedding::vectors::VectorSet;
use app::embedding::worker::EmbeddingWorker;
use app::embedding::Embedder;
use app::error::AppError;
use app::keyring::Keyring;
use app::tenancy::model::Tenant;

const YC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/yc-companies/yc-companies-all.jsonl.gz");
const JUDGEMENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/briefs/judgements.json");
/// Records in the YC file.
const YC_COMPANIES: usize = 5_950;
/// How often a client looks whether its brief is ready.
const POLL: Duration = Duration::from_millis(10);

/// `companies` records: the YC directory, then variants of its companies (another name and
/// website, the description's sentences in another order with one of a neighbour's added), so
/// a larger tenant keeps the directory's vocabulary and text lengths.
fn company_file(companies: usize) -> Result<Vec<u8>, AppError> {
    let yc = std::fs::read(YC).map_err(AppError::internal)?;
    let originals: Vec<Company> =
        company_file::read(&yc, &HashMap::new())?.records.into_iter().map(|r| r.company).collect();
    let mut out = Vec::new();
    for i in 0..companies {
        let mut company = originals[i % originals.len()].clone();
        let round = i / originals.len();
        if round > 0 {
            company.name = format!("{} {round}", company.name);
            company.website = Some(format!("https://v{round}-{i}.example.com"));
            let neighbour = &originals[(i * 7 + round) % originals.len()];
            let description = company.description.take().unwrap_or_default();
            let mut sentences: Vec<&str> = description.split_inclusive(". ").collect();
            let turn = round % sentences.len().max(1);
            sentences.rotate_left(turn);
            let extra = neighbour.description.as_deref().and_then(|d| d.split_inclusive(". ").next());
            company.description = Some(sentences.into_iter().chain(extra).collect());
        }
        company.domain = None;
        serde_json::to_writer(&mut out, &company).map_err(AppError::internal)?;
        out.push(b'\n');
    }
    Ok(out)
}

pub async fn run(
    db: &Database,
    tenant: &Tenant,
    admin_email: &str,
    companies: usize,
    base: Option<&str>,
    samples: usize,
    pool: Option<&std::path::Path>,
) -> Result<(), AppError> {
    let config = ServeConfig::from_env()?;
    let keyring = Keyring::parse(&config.secret_keys)?;
    let file = company_file(companies)?;
    let started = Instant::now();
    let summary =
        service::import_companies(db, &keyring, tenant, AuditSource::command_line(), file, HashMap::new(), "bench")
            .await?;
    let took = started.elapsed().as_secs_f64();
    let imported = summary.created + summary.updated;
    println!("imported {imported} companies in {took:.1} s ({:.0}/s)", imported as f64 / took);

    if let Some(dir) = &config.embedding_model {
        let embedder = Embedder::open(dir)?;
        let worker = EmbeddingWorker::new(db.clone(), embedder.clone());
        let started = Instant::now();
        let embedded = worker.catch_up(tenant, 2).await?;
        let took = started.elapsed().as_secs_f64();
        println!("embedded {embedded} texts in {took:.1} s ({:.1}/s on 2 threads)", embedded as f64 / took);
        semantic_queries(&embedder)?;
    }
    let started = Instant::now();
    let index = service::build_index(db, tenant).await?;
    println!(
        "discovery index of {} companies ({} embedded) built in {:.0} ms",
        index.len(),
        index.embedded(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let all = index.companies();
    let targets: Vec<String> = {
        let step = (all.len() / (samples + 1)).max(1);
        all.iter().step_by(step).filter(|c| c.one_liner.is_some()).take(samples + 1).map(|c| c.id.to_string()).collect()
    };
    println!("{:<48} {:>9} {:>9} {:>9} {:>9}", "briefs", "cold ms", "p50 ms", "p95 ms", "max ms");
    let year = chrono::Utc::now().year();
    let mut discovery = Vec::new();
    for id in &targets {
        let target = index.get(id.parse().map_err(AppError::internal)?).cloned().unwrap_or_default();
        let started = Instant::now();
        index.competitors(&target, Method::Combined, service::BRIEF_COMPETITORS, year);
        discovery.push(started.elapsed());
    }
    let cold = discovery.remove(0);
    discovery.sort();
    print_row("discovery in process (index built)", &(cold, discovery));

    if let Some(base) = base {
        let me = auth::find_principal(db, tenant, admin_email)
            .await?
            .ok_or_else(|| AppError::internal("admin not found"))?;
        let scopes = ["briefs:read".to_owned(), "briefs:write".to_owned()];
        let key = access::create_key(
            db,
            tenant,
            AuditSource::command_line(),
            &me,
            NewKey::parse("bench briefs", &scopes, "30")?,
        )
        .await?
        .secret;
        let client = Client::builder().build().map_err(AppError::internal)?;
        let host = format!("{}.{}", tenant.slug, config.base_domain);
        let base = base.trim_end_matches('/');
        let mut timings = Vec::new();
        for id in &targets {
            timings.push(brief_to_pdf(&client, base, &host, &key, id).await?);
        }
        let cold = timings.remove(0);
        timings.sort();
        println!("{}", row("POST /api/briefs → PDF downloaded (HTTP)", &(cold, timings)));
    }

    // The judgements are of the directory as it is: with variants added, they would miss.
    if let (Ok(judged), true) = (std::fs::read_to_string(JUDGEMENTS), companies <= YC_COMPANIES) {
        quality(&index, &judged, year, pool)?;
    }
    Ok(())
}

/// One brief as a client gets it: requested, followed until ready, its PDF downloaded.
async fn brief_to_pdf(client: &Client, base: &str, host: &str, key: &str, company: &str) -> Result<Duration, AppError> {
    let started = Instant::now();
    let send = |request: reqwest::RequestBuilder| request.header(header::HOST, host).header("x-api-key", key).send();
    let read = |response: reqwest::Response| async move {
        let bytes = response.bytes().await.map_err(AppError::internal)?;
        serde_json::from_slice::<Value>(&bytes).map_err(AppError::internal)
    };
    let request = client
        .post(format!("{base}/api/briefs"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(json!({ "company": company }).to_string());
    let created = send(request).await.map_err(AppError::internal)?;
    if created.status() != reqwest::StatusCode::ACCEPTED {
        return Err(AppError::internal(format!("POST /api/briefs: {}", created.status())));
    }
    let id = read(created).await?["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let brief =
            read(send(client.get(format!("{base}/api/briefs/{id}"))).await.map_err(AppError::internal)?).await?;
        match brief["summary"]["status"].as_str() {
            Some("ready") => break,
            Some("failed") => {
                return Err(AppError::internal(format!("brief {id} failed: {}", brief["summary"]["error"])))
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
    let pdf = send(client.get(format!("{base}/api/briefs/{id}/pdf"))).await.map_err(AppError::internal)?;
    let bytes = pdf.bytes().await.map_err(AppError::internal)?;
    if !bytes.starts_with(b"%PDF-") {
        return Err(AppError::internal("the PDF is not a PDF"));
    }
    Ok(started.elapsed())
}

/// A semantic search's own work at catalog scale: embedding the query, then the nearest 20 of
/// 100,000 stored vectors (what `GET /api/catalog/search/semantic` does after its index is
/// loaded; the vectors' values do not change the time).
fn semantic_queries(embedder: &Embedder) -> Result<(), AppError> {
    const VECTORS: usize = 100_000;
    let mut vectors = VectorSet::with_capacity(VECTORS);
    let mut state = 0x9e37_79b9_u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    };
    for _ in 0..VECTORS {
        let raw: Vec<f32> = (0..app::embedding::DIMENSIONS).map(|_| next()).collect();
        let length = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        vectors.push(Some(&raw.iter().map(|v| v / length).collect::<Vec<_>>()));
    }
    let queries =
        ["cloud cost visibility", "payments API for marketplaces", "internal developer portal", "music playback"];
    let (mut embed, mut scan) = (Vec::new(), Vec::new());
    for round in 0..40 {
        let started = Instant::now();
        let query = embedder.embed(queries[round % queries.len()])?;
        embed.push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(vectors.nearest(&query, 20, |_| true));
        scan.push(started.elapsed());
    }
    println!("{:<48} {:>9} {:>9} {:>9} {:>9}", "semantic search", "cold ms", "p50 ms", "p95 ms", "max ms");
    let (cold_embed, cold_scan) = (embed.remove(0), scan.remove(0));
    embed.sort();
    scan.sort();
    print_row("semantic query: embed the query (in process)", &(cold_embed, embed));
    print_row("semantic query: nearest 20 of 100,000 vectors", &(cold_scan, scan));
    Ok(())
}

/// P@5, P@10 (grade 2 is relevant) and nDCG@10 (gains 2, 1, 0 as judged) of each method over
/// the labelled targets, averaged, and how many of each method's top-10 pairs are judged (an
/// unjudged pair counts as not relevant: `--pool` writes them out for judging).
fn quality(index: &CompanyIndex, judged: &str, year: i32, pool: Option<&std::path::Path>) -> Result<(), AppError> {
    let judged: Value = serde_json::from_str(judged).map_err(AppError::internal)?;
    let targets = judged["targets"].as_array().cloned().unwrap_or_default();
    let by_name: HashMap<&str, &Company> = index.companies().iter().map(|c| (c.name.as_str(), c)).collect();
    // A target is named; one whose name two companies share cannot be told apart, and its
    // judgements could be of the other one: it is left out.
    let mut namesakes: HashMap<&str, usize> = HashMap::new();
    for company in index.companies() {
        *namesakes.entry(company.name.as_str()).or_default() += 1;
    }
    let (targets, ambiguous): (Vec<Value>, Vec<Value>) =
        targets.into_iter().partition(|t| t["target"].as_str().is_some_and(|name| namesakes.get(name) == Some(&1)));
    for entry in &ambiguous {
        println!("left out: target {} (two companies have that name)", entry["target"]);
    }
    println!(
        "{:<48} {:>9} {:>9} {:>9} {:>9}   ({} targets)",
        "quality",
        "P@5",
        "P@10",
        "nDCG@10",
        "judged",
        targets.len()
    );
    let mut unjudged: Vec<(&Company, std::collections::BTreeSet<&str>)> = Vec::new();
    for method in Method::ALL {
        let (mut p5, mut p10, mut ndcg, mut n, mut listed, mut known) = (0.0, 0.0, 0.0, 0.0, 0, 0);
        for entry in &targets {
            let Some(target) = entry["target"].as_str().and_then(|t| by_name.get(t)) else { continue };
            let grades: HashMap<&str, f64> = entry["grades"]
                .as_object()
                .map(|g| g.iter().map(|(k, v)| (k.as_str(), v.as_f64().unwrap_or(0.0))).collect())
                .unwrap_or_default();
            let ranked = index.competitors(target, method, 10, year);
            listed += ranked.len();
            known += ranked.iter().filter(|c| grades.contains_key(c.company.name.as_str())).count();
            // Names as the index holds them (the ranking is dropped at the end of the loop).
            let missing = ranked
                .iter()
                .filter(|c| !grades.contains_key(c.company.name.as_str()))
                .filter_map(|c| by_name.get_key_value(c.company.name.as_str()).map(|(name, _)| *name));
            match unjudged.iter_mut().find(|(t, _)| t.id == target.id) {
                Some((_, names)) => names.extend(missing),
                None => unjudged.push((target, missing.collect())),
            }
            let gain =
                |i: usize| ranked.get(i).and_then(|c| grades.get(c.company.name.as_str())).copied().unwrap_or(0.0);
            let relevant = |k: usize| (0..k).filter(|&i| gain(i) >= 2.0).count() as f64 / k as f64;
            let dcg: f64 = (0..10).map(|i| gain(i) / (i as f64 + 2.0).log2()).sum();
            let mut ideal: Vec<f64> = grades.values().copied().collect();
            ideal.sort_by(|a, b| b.total_cmp(a));
            let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| g / (i as f64 + 2.0).log2()).sum();
            p5 += relevant(5);
            p10 += relevant(10);
            ndcg += if idcg > 0.0 { dcg / idcg } else { 0.0 };
            n += 1.0;
        }
        let n = f64::max(n, 1.0);
        let coverage = format!("{known}/{listed}");
        println!("{:<48} {:>9.3} {:>9.3} {:>9.3} {:>9}", method.as_str(), p5 / n, p10 / n, ndcg / n, coverage);
    }
    if let Some(path) = pool {
        let facts = |c: &Company| {
            json!({ "name": c.name, "one_liner": c.one_liner, "long_description": c.description,
                    "subindustry": c.subindustry, "tags": c.tags })
        };
        let document = json!({ "targets": unjudged.iter().filter(|(_, names)| !names.is_empty()).map(|(target, names)| json!({
            "target": facts(target),
            "candidates": names.iter().filter_map(|n| by_name.get(n)).map(|c| facts(c)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>() });
        std::fs::write(path, serde_json::to_vec_pretty(&document).map_err(AppError::internal)?)
            .map_err(AppError::internal)?;
        println!("unjudged pairs written to {}", path.display());
    }
    Ok(())
}
